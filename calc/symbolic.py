"""The only module that imports sympy.  Helpers used by `calc.arith` on symbolic values."""

from __future__ import annotations

from typing import Any

try:
    import sympy
except ImportError as exc:  # pragma: no cover - sympy is a declared dependency
    raise ImportError("symbolic costs need sympy: pip install sympy") from exc


def divide(a: Any, b: Any) -> Any:
    return sympy.Mul(a, sympy.Pow(b, -1))


def maximum(a: Any, b: Any) -> Any:
    return sympy.Max(a, b)


def minimum(a: Any, b: Any) -> Any:
    return sympy.Min(a, b)


def gcd(a: Any, b: Any) -> Any:
    return sympy.gcd(a, b)


def select_ge(lhs: Any, rhs: Any, if_true: Any, if_false: Any) -> Any:
    return sympy.Piecewise((if_true, sympy.Ge(lhs, rhs)), (if_false, True))


def symbols(names: str | list[str], **assumptions: Any) -> Any:
    """Positive integer symbols by default, as layer sizes are."""
    assumptions = {"integer": True, "positive": True, **assumptions}
    return sympy.symbols(names, **assumptions)
