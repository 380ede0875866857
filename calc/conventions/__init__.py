"""The table of named counting conventions.  Add one by defining a `Convention` and listing it."""

from __future__ import annotations

import difflib

from calc.conventions.base import DOT_PRODUCT_OPS, OPS, ZERO, Convention, Rule, per_op, rule
from calc.conventions.llm import LLM_CONVENTIONS
from calc.conventions.profilers import PROFILER_CONVENTIONS
from calc.conventions.seeds import SEED_CONVENTIONS
from calc.errors import ConventionError, UsageError


class UnknownConventionError(ConventionError, UsageError):
    """A convention name that is not in the table (or not a name at all).  A `ConventionError`;
    also a `UsageError`, so that the command line answers it as bad usage (exit 2), as it did
    before this class existed."""


def _table(*conventions: Convention) -> dict[str, Convention]:
    table: dict[str, Convention] = {}
    for c in conventions:
        if c.name in table:
            raise RuntimeError(f"convention {c.name!r} defined twice")
        table[c.name] = c
    return table


CONVENTIONS: dict[str, Convention] = _table(*SEED_CONVENTIONS, *PROFILER_CONVENTIONS, *LLM_CONVENTIONS)
DEFAULT = "exact"


def get(name: str) -> Convention:
    """The convention of that name; `UnknownConventionError` (one line, a close name suggested,
    the names listed) for any other name or a value that is not a str.

        >>> get("2mac").title
        'FLOPs = 2 x MACs'
    """
    convention = CONVENTIONS.get(name) if isinstance(name, str) else None
    if convention is not None:
        return convention
    names = "one of " + ", ".join(CONVENTIONS)
    if not isinstance(name, str):
        raise UnknownConventionError(
            f"a convention is named by a str, got {type(name).__name__}", expected=names
        )
    close = difflib.get_close_matches(name, list(CONVENTIONS), n=1, cutoff=0.6)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    raise UnknownConventionError(f"unknown convention {name!r}{hint}", expected=names)


MASK_KINDS = ("attention",)
"""Kinds whose counts a mask changes: 'needed' differs from 'exact' only on them."""


LLM_KINDS = ("attention", "moe", "embedding", "position_embedding")
"""Kinds of a language model: the LLM conventions are meant for networks that have them."""


def distinct_for(kinds: "set[str] | None" = None) -> list[str]:
    """The conventions worth checking a claim about these layer kinds under: every one, but
    'needed' and 'torch-cuda' only when an attention is involved (elsewhere they price exactly
    as 'exact' and 'torch'), and
    the LLM conventions only for a language model's kinds (they price a conv at 0)."""
    names = list(CONVENTIONS)
    if kinds is not None and not set(kinds) & set(MASK_KINDS):
        names.remove("needed")
        names.remove("torch-cuda")  # 'torch' with SDPA counted: the same elsewhere
    if kinds is not None and not set(kinds) & set(LLM_KINDS):
        names = [n for n in names if n not in {c.name for c in LLM_CONVENTIONS}]
    return names


def resolve(convention: Convention | str | None) -> Convention:
    """A `Convention` as given, or the one a name stands for; None is the default ('exact')."""
    if isinstance(convention, Convention):
        return convention
    return get(DEFAULT if convention is None else convention)


__all__ = [
    "CONVENTIONS", "DEFAULT", "DOT_PRODUCT_OPS", "LLM_CONVENTIONS", "OPS", "ZERO", "Convention", "Rule",
    "UnknownConventionError", "get", "per_op", "resolve", "rule",
]
