"""Counting conventions as data: for each operation, a row of integer coefficients over the
counters of a `Tally`.  FLOPs of an operation = sum(coefficient * counter).

Comparing two conventions is comparing their rows; adding one is adding a table entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from calc.errors import ConventionError
from calc.tally import Counter, Tally

OPS: tuple[str, ...] = (
    "conv", "deconv", "linear", "batchnorm",
    "relu", "relu6", "leaky_relu", "prelu", "elu", "sigmoid", "tanh", "hardswish",
    "hardsigmoid", "silu", "gelu", "softmax",
    "maxpool", "avgpool", "adaptive_avgpool", "adaptive_maxpool",
    "add", "mul", "concat", "split", "flatten", "dropout", "identity", "channel_shuffle",
    "upsample_nearest", "upsample_bilinear",
)
"""Every operation a `Tally` can name; every convention prices each one (zero is explicit)."""

DOT_PRODUCT_OPS = ("conv", "deconv", "linear")


@dataclass(frozen=True)
class Rule:
    """FLOPs of one operation: sum of coefficient x counter, with a note saying why."""

    terms: tuple[tuple[Counter, int], ...] = ()
    note: str = ""
    refuse: str = ""
    """Non-empty: the tool's rule for this operation is not emulated; say why instead of guessing."""

    def flops(self, tally: Tally) -> Any:
        if self.refuse:
            raise ConventionError(self.refuse)
        total: Any = 0
        for name, coefficient in self._plain_terms:
            total = total + coefficient * getattr(tally, name)
        return total

    @property
    def _plain_terms(self) -> tuple[tuple[str, int], ...]:
        cached = self.__dict__.get("_terms_cache")
        if cached is None:
            cached = tuple((counter.value, c) for counter, c in self.terms)
            object.__setattr__(self, "_terms_cache", cached)
        return cached

    def formula(self) -> str:
        """Human-readable form, e.g. '2*macs - dot_outputs + bias_adds'."""
        if self.refuse:
            return "not emulated"
        if not self.terms:
            return "0"
        parts = []
        for i, (counter, c) in enumerate(self.terms):
            sign = "-" if c < 0 else "+"
            mag = abs(c)
            text = counter.value if mag == 1 else f"{mag}*{counter.value}"
            parts.append(("-" + text) if i == 0 and c < 0 else text if i == 0 else f"{sign} {text}")
        return " ".join(parts)


def rule(note: str = "", **coefficients: int) -> Rule:
    """rule(macs=2, dot_outputs=-1, bias_adds=1) -> Rule over those counters."""
    return Rule(tuple((Counter(name), c) for name, c in coefficients.items() if c), note)


def refused(why: str) -> Rule:
    """An operation whose tool rule is deliberately not emulated."""
    return Rule((), why, refuse=why)


ZERO = Rule((), "not counted")


@dataclass(frozen=True)
class Convention:
    """A named way of turning tallies into FLOPs."""

    name: str
    title: str
    source: str
    rules: Mapping[str, Rule]
    notes: tuple[str, ...] = field(default=())
    functional: Mapping[str, Rule] = field(default_factory=dict)
    functional_default: Rule | None = None
    """Rules for operations a model computes by a functional call (F.relu); an op not listed
    gets functional_default, or the module's rule when that is None."""
    method: Mapping[str, Rule] = field(default_factory=dict)
    method_default: Rule | None = None
    """Likewise for tensor methods (x.mean)."""
    batch_one: bool = False
    """True when the tool's figures are only reproducible for batch 1 (ptflops divides module
    counts by the batch but not functional counts)."""

    def rule_for(self, op: str, call: str = "module") -> Rule:
        if call == "functional":
            special = self.functional.get(op, self.functional_default)
        elif call == "method":
            special = self.method.get(op, self.method_default)
        else:
            special = None
        if special is not None:
            return special
        try:
            return self.rules[op]
        except KeyError:
            raise ConventionError(
                f"convention '{self.name}' has no rule for '{op}'",
                expected="a rule for every operation (see calc.conventions.OPS)",
            ) from None

    def flops(self, tally: Tally, call: str = "module") -> Any:
        terms = self._module_terms.get(tally.op) if call == "module" else None
        if terms is None:
            return self._flops_checked(tally, call)
        total: Any = 0  # the common case, inlined: a module's rule, applied term by term
        for name, coefficient in terms:
            total = total + coefficient * getattr(tally, name)
        return total

    def _flops_checked(self, tally: Tally, call: str) -> Any:
        """Every other case: batch-1 conventions, functional and method calls, refusals and
        missing rules (whose errors name the convention)."""
        if self.batch_one and tally.output and tally.output[0] != 1:
            raise ConventionError(
                f"convention '{self.name}' reproduces its tool at batch 1 only",
                expected="batch: 1",
            )
        try:
            return self.rule_for(tally.op, call).flops(tally)
        except ConventionError as exc:
            if not exc.message.startswith("convention"):
                exc.message = f"convention '{self.name}': {exc.message}"
            raise

    @cached_property
    def _module_terms(self) -> dict[str, tuple[tuple[str, int], ...]]:
        """op -> (counter name, coefficient) pairs of the module rules the fast path may apply
        unchecked (none for a batch-1 convention, whose every call checks the batch)."""
        if self.batch_one:
            return {}
        return {op: r._plain_terms for op, r in self.rules.items() if not r.refuse}


def per_op(default: Rule | None = None, /, **rules: Rule) -> dict[str, Rule]:
    """A full table: listed ops get their rule, the rest `default` (required if any are left)."""
    table: dict[str, Rule] = {}
    unknown = set(rules) - set(OPS)
    if unknown:
        raise ValueError(f"unknown operations in a convention table: {sorted(unknown)}")
    for op in OPS:
        if op in rules:
            table[op] = rules[op]
        elif default is not None:
            table[op] = default
        else:
            raise ValueError(f"no rule for {op!r} and no default")
    return table
