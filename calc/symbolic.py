"""The sympy backend, and the only module that imports sympy: the helpers `calc.arith` calls
on symbolic values (exact division, max/min, gcd, select), symbols, and the test for a
floor-free expression.  Everything else reaches sympy as `from calc.symbolic import sympy`.

It imports nothing from `calc`, so loading it never loads the layers, reports or networks
(the closed-form engine that does is `calc.closed_form`); tests/test_import_graph.py checks it.
"""

from __future__ import annotations

from typing import Any

try:
    import sympy
    from sympy.core.evalf import PrecisionExhausted
except ImportError as exc:  # pragma: no cover - sympy is a declared dependency
    raise ImportError("symbolic costs need sympy: pip install sympy") from exc


def divide(a: Any, b: Any) -> Any:
    return sympy.Mul(a, sympy.Pow(b, -1))


def maximum(a: Any, b: Any) -> Any:
    return sympy.Max(a, b)


def minimum(a: Any, b: Any) -> Any:
    return sympy.Min(a, b)


class Gcd(sympy.Function):
    """gcd of integers that may be symbolic: evaluates when it can be decided (both numbers,
    one of them 1, or one a known multiple of the other), otherwise stays unevaluated, so
    substituting numbers later gives the right value.  (sympy.gcd treats symbols as
    polynomials: gcd(H, 7) would be 1 even for H = 14.)"""

    @classmethod
    def eval(cls, a: Any, b: Any) -> Any:
        if a.is_Integer and b.is_Integer:
            return sympy.igcd(a, b)
        if a == 1 or b == 1:
            return sympy.Integer(1)
        if (a / b).is_integer:
            return b
        if (b / a).is_integer:
            return a
        return None


def gcd(a: Any, b: Any) -> Any:
    return Gcd(a, b)


class SelectGe(sympy.Function):
    """``if_true if lhs >= rhs else if_false`` for integers that may be symbolic: decided as soon
    as the sign of lhs - rhs is known (numbers, or the symbols' assumptions), otherwise left
    unevaluated so that substituting numbers later decides it.  (A Piecewise would make sympy
    evaluate relations between nested floors numerically, which can exhaust its precision.)"""

    nargs = 4

    @classmethod
    def eval(cls, lhs: Any, rhs: Any, if_true: Any, if_false: Any) -> Any:
        difference = sympy.expand(lhs - rhs)
        try:
            if difference.is_nonnegative:
                return if_true
            if difference.is_negative:
                return if_false
        except PrecisionExhausted:
            pass
        return None


def select_ge(lhs: Any, rhs: Any, if_true: Any, if_false: Any) -> Any:
    return SelectGe(lhs, rhs, if_true, if_false)


def symbols(names: str | list[str], **assumptions: Any) -> Any:
    """Positive integer symbols by default, as layer sizes are."""
    assumptions = {"integer": True, "positive": True, **assumptions}
    return sympy.symbols(names, **assumptions)


def is_closed_form(expr: Any) -> bool:
    """True when `expr` has none of the case splits a shape rule can leave (floor, ceiling,
    Piecewise, Max, Min, Mod, and this module's Gcd and SelectGe): a polynomial-like formula."""
    return not expr.has(sympy.floor, sympy.ceiling, sympy.Piecewise, sympy.Max, sympy.Min, sympy.Mod,
                        Gcd, SelectGe)
