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
