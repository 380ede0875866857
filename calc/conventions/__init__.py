"""The table of named counting conventions.  Add one by defining a `Convention` and listing it."""

from __future__ import annotations

from calc.conventions.base import DOT_PRODUCT_OPS, OPS, ZERO, Convention, Rule, per_op, rule
from calc.conventions.profilers import PROFILER_CONVENTIONS
from calc.conventions.seeds import SEED_CONVENTIONS
from calc.errors import UsageError


def _table(*conventions: Convention) -> dict[str, Convention]:
    table: dict[str, Convention] = {}
    for c in conventions:
        if c.name in table:
            raise RuntimeError(f"convention {c.name!r} defined twice")
        table[c.name] = c
    return table


CONVENTIONS: dict[str, Convention] = _table(*SEED_CONVENTIONS, *PROFILER_CONVENTIONS)
DEFAULT = "exact"


def get(name: str) -> Convention:
    try:
        return CONVENTIONS[name]
    except KeyError:
        raise UsageError(
            f"unknown convention '{name}'", expected="one of " + ", ".join(CONVENTIONS)
        ) from None


__all__ = [
    "CONVENTIONS", "DEFAULT", "DOT_PRODUCT_OPS", "OPS", "ZERO", "Convention", "Rule", "get",
    "per_op", "rule",
]
