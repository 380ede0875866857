"""Exact formatting of counts: plain integers with thousands separators, or K/M/G/T units
rounded half-up in integer arithmetic (no float ever touches a count)."""

from __future__ import annotations

from typing import Any


UNITS = ((10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "K"))


def with_units(n: int, decimals: int = 2) -> str:
    sign = "-" if n < 0 else ""
    n = abs(n)
    for scale, suffix in UNITS:
        if n >= scale:
            break
    else:
        return f"{sign}{n}"
    scaled = (n * 10**decimals * 2 + scale) // (2 * scale)  # round half up
    whole, frac = divmod(scaled, 10**decimals)
    return f"{sign}{whole}.{frac:0{decimals}d}{suffix}"


def count(n: Any, units: bool, separators: bool = True) -> str:
    if not isinstance(n, int):
        return str(n)
    if units:
        return with_units(n)
    return f"{n:,}" if separators else str(n)


def shape(s: tuple) -> str:
    return "x".join(str(x) for x in s)
