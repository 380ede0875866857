"""Exact formatting of counts: plain integers with thousands separators, or K/M/G/T units
rounded half-up in integer arithmetic (no float ever touches a count).

Ints of any size are written digit for digit without touching Python's process-wide limit on
int-to-text conversion (sys.set_int_max_str_digits, 4300 digits by default): `int_text` splits
a big int into parts that `str()` converts whatever that limit is set to.  No global state.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

SAFE_DIGITS = 600
"""Ints of at most this many digits convert with `str()` under any setting of Python's digit
limit (its lowest allowed value, sys.int_info.str_digits_check_threshold, is 640)."""
_SAFE = 10**SAFE_DIGITS

UNITS = ((10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "K"))


@lru_cache(maxsize=64)
def _power_of_ten(k: int) -> int:
    return 10**k


def int_text(n: int) -> str:
    """Decimal text of an int of any size, exactly `str(n)` with the digit limit lifted.

    An int of more than SAFE_DIGITS digits is split by divmod(n, 10**k), k about half its
    digits, and each part converted the same way (the low part zero-padded to k digits)."""
    if -_SAFE < n < _SAFE:
        return int.__repr__(n)  # int's own text, also for an int subclass
    if n < 0:
        return "-" + int_text(-n)
    half = n.bit_length() * 30103 // 200000  # about half the digits (log10(2) = 0.30103)
    high, low = divmod(n, _power_of_ten(half))
    return int_text(high) + int_text(low).zfill(half)


def grouped(n: int) -> str:
    """`f"{n:,}"` for an int of any size: digits in groups of three separated by commas."""
    if -_SAFE < n < _SAFE:
        return f"{n:,}"
    text = int_text(n)
    sign, digits = ("-", text[1:]) if text[0] == "-" else ("", text)
    head = len(digits) % 3 or 3
    return sign + ",".join([digits[:head], *(digits[i:i + 3] for i in range(head, len(digits), 3))])


def with_units(n: int, decimals: int = 2) -> str:
    """`n` in K/M/G/T with `decimals` decimals, rounded half up (away from zero for a negative
    `n`) in integer arithmetic.  Rounded first, then the unit picked: the smallest unit whose
    rounded value stays below 1000 (999,994 -> '999.99K', 999,995 -> '1.00M'); T for anything
    larger; below 1000, the int as is."""
    sign = "-" if n < 0 else ""
    n = abs(n)
    if n < UNITS[-1][0]:
        return f"{sign}{int_text(n)}"
    step = 10**decimals
    for scale, suffix in reversed(UNITS):  # K, M, G, T
        scaled = (n * step * 2 + scale) // (2 * scale)  # round half up
        if scaled < 1000 * step or suffix == UNITS[0][1]:
            break
    whole, frac = divmod(scaled, step)
    return f"{sign}{int_text(whole)}.{frac:0{decimals}d}{suffix}"


def count(n: Any, units: bool, separators: bool = True) -> str:
    if not isinstance(n, int):
        return str(n)  # a symbolic expression
    if units:
        return with_units(n)
    try:  # Python's own conversion, unless the int is longer than its digit limit allows
        return f"{n:,}" if separators else int.__repr__(n)
    except ValueError:
        return grouped(n) if separators else int_text(n)


def shape(s: tuple) -> str:
    try:
        return "x".join([str(x) for x in s])
    except ValueError:  # a size longer than Python's digit limit allows
        return "x".join(int_text(x) if isinstance(x, int) else str(x) for x in s)


def fraction_text(q: Any) -> str:
    """An exact rational, grouped: '854,438,400' when whole, '12.375' when its decimal
    expansion ends, else 'n/d' (both grouped)."""
    from fractions import Fraction

    q = Fraction(q)
    if q.denominator == 1:
        return grouped(q.numerator)
    d, twos, fives = q.denominator, 0, 0
    while d % 2 == 0:
        d, twos = d // 2, twos + 1
    while d % 5 == 0:
        d, fives = d // 5, fives + 1
    if d != 1:
        return f"{grouped(q.numerator)}/{grouped(q.denominator)}"
    places = max(twos, fives)
    scaled = q.numerator * 10**places // q.denominator
    sign = "-" if scaled < 0 else ""
    whole, frac = divmod(abs(scaled), 10**places)
    return f"{sign}{grouped(whole)}.{frac:0{places}d}"
