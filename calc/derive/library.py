"""The calculator's own values that derivations end on: symbolic layer costs through
`calc.closed_form.layer_costs` (the same formula functions as the numeric path), numeric costs
through `calc.report.evaluate_layer`, and a convention's rule applied to stated counters."""

from __future__ import annotations

from typing import Any

from calc import conventions
from calc.closed_form import layer_costs
from calc.symbolic import symbols
from calc.tally import Counter


def costs(kind: str, convention: str = "exact", **fields: Any) -> dict[str, Any]:
    """Symbolic totals (params, buffers, macs, flops, mem_access) of one layer kind."""
    return layer_costs(kind, fields, conventions.get(convention))


def numeric(layer: Any, convention: str = "exact") -> Any:
    """Numeric totals of a validated layer record."""
    from calc.report import evaluate_layer

    return evaluate_layer(layer, conventions.get(convention)).totals


def valid_input(out: Any, k: Any) -> Any:
    """Input size that a stride-1, unpadded K-window turns into `out`: out + K - 1."""
    return out + k - 1


class _Counters:
    """Stands in for a Tally: the counters a rule reads, given as expressions (0 if not given)."""

    def __init__(self, values: dict[str, Any]) -> None:
        self._values = values

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return self._values.get(name, 0)

    def counter(self, name: Counter) -> Any:
        return self._values.get(name.value, 0)


def refuses(convention: str, op: str) -> bool:
    """True when the convention deliberately does not emulate `op` (its rule refuses)."""
    return bool(getattr(conventions.get(convention).rule_for(op), "refuse", ""))


def rule_flops(convention: str, op: str, **counters: Any) -> Any:
    """FLOPs of `op` by the convention's row of coefficients, read off the conventions table."""
    return conventions.get(convention).rule_for(op).flops(_Counters(counters))


def rule_formula(convention: str, op: str) -> str:
    return conventions.get(convention).rule_for(op).formula()


def convention_names(*kinds: str) -> list[str]:
    """The conventions a derivation about these kinds tabulates (calc.conventions.distinct_for:
    the LLM conventions only for a language model's kinds; none given: the CNN kinds)."""
    return conventions.distinct_for(set(kinds) or {"conv"})


__all__ = ["costs", "numeric", "refuses", "rule_flops", "rule_formula", "symbols", "valid_input", "convention_names"]
