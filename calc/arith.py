"""Arithmetic helpers that work on Python ints and, unchanged, on sympy expressions.

Formulas in `calc.layers` use only ``+ - * **``, ``//`` where a floor is meant, and the helpers
below.  On ints every helper stays in exact integer arithmetic; on anything else (a sympy
expression) it defers to `calc.symbolic`, which is the only module that imports sympy.
"""

from __future__ import annotations

import math
from typing import Any


def is_int(x: Any) -> bool:
    """True for a plain Python int (bool excluded)."""
    return type(x) is int


def flag(x: Any) -> Any:
    """A yes/no field as a 0/1 multiplier (`+ bias * Cout`, never `if bias:`); symbols pass."""
    return int(x) if isinstance(x, bool) else x


prod = math.prod
"""Product of the values; 1 for none.  (math.prod multiplies any objects, symbols too.)"""


def exact_div(a: Any, b: Any) -> Any:
    """a / b where b is known to divide a (e.g. Cin / groups): an int, never a float."""
    if type(a) is int and type(b) is int:  # is_int, inlined: formulas call this per operation
        q, r = divmod(a, b)
        if r:
            raise ArithmeticError(f"{a} is not divisible by {b}")
        return q
    from calc import symbolic

    return symbolic.divide(a, b)


def ceil_div(a: Any, b: Any) -> Any:
    """ceil(a / b) for positive b, written as a floor so it stays exact: -((-a) // b)."""
    return -((-a) // b)


def max_(a: Any, b: Any) -> Any:
    if is_int(a) and is_int(b):
        return max(a, b)
    from calc import symbolic

    return symbolic.maximum(a, b)


def min_(a: Any, b: Any) -> Any:
    if is_int(a) and is_int(b):
        return min(a, b)
    from calc import symbolic

    return symbolic.minimum(a, b)


def gcd_(a: Any, b: Any) -> Any:
    if is_int(a) and is_int(b):
        from math import gcd

        return gcd(a, b)
    from calc import symbolic

    return symbolic.gcd(a, b)


def select(condition_ge: tuple[Any, Any], if_true: Any, if_false: Any) -> Any:
    """``if_true if lhs >= rhs else if_false`` for ``condition_ge = (lhs, rhs)``."""
    lhs, rhs = condition_ge
    if is_int(lhs) and is_int(rhs):
        return if_true if lhs >= rhs else if_false
    from calc import symbolic

    return symbolic.select_ge(lhs, rhs, if_true, if_false)
