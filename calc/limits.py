"""Bounds on what a spec (or an API call) may say, in one place so that every reader of a spec
refuses the same things with the same words.

Exact ints have no size limit in Python, but a size no network has, written in a spec, only
costs time (a 10^6-digit literal takes seconds to read, and counts built from it take seconds
to print).  Sizes, counts and block parameters are therefore ints of at most
`MAX_INT_DIGITS` decimal digits: far beyond any real layer (10^100 channels), far below
Python's own 4,300-digit text limit, so every count built from them (a product of a handful of
sizes) still prints without lifting that limit.
"""

MAX_INT_DIGITS = 100
MAX_INT = 10**MAX_INT_DIGITS - 1
"""The largest magnitude a spec's int (literal, block parameter or expression value) may have."""


def int_too_big(value: int) -> bool:
    """True when `value` has more than MAX_INT_DIGITS digits (either sign)."""
    return value > MAX_INT or value < -MAX_INT


def digit_count(n: int) -> int:
    """Decimal digits of |n| (1 for 0), without converting n to text.  With b = n's bit length,
    10**(d-1) <= |n| < 2**b gives d <= floor(b*log10(2)) + 1, and one comparison decides."""
    n = abs(n)
    estimate = int(n.bit_length() * 0.30102999566398120)
    return estimate + (n >= 10**estimate) if estimate else 1


def too_big(value: object) -> str | None:
    """'has N digits, more than 100' for an int past the bound (bool excluded), else None: the
    words every reader of a spec uses to refuse it."""
    if type(value) is int and int_too_big(value):
        return f"has {digit_count(value):,} digits, more than {MAX_INT_DIGITS}"
    return None
