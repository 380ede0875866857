"""Counting conventions as data: for each operation, a row of integer coefficients over the
counters of a `Tally`.  FLOPs of an operation = sum(coefficient * counter).

Comparing two conventions is comparing their rows; adding one is adding a table entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from calc.arith import exact_div, is_int
from calc.errors import ConventionError
from calc.tally import Counter, Tally

OPS: tuple[str, ...] = (
    "conv", "deconv", "linear", "conv1d", "batchnorm",
    "layernorm", "layernorm2d", "rmsnorm", "groupnorm", "instancenorm",
    "relu", "relu6", "leaky_relu", "prelu", "elu", "sigmoid", "tanh", "hardswish",
    "hardsigmoid", "silu", "gelu", "softmax",
    "maxpool", "avgpool", "adaptive_avgpool", "adaptive_maxpool",
    "add", "mul", "concat", "split", "flatten", "dropout", "identity", "channel_shuffle",
    "upsample_nearest", "upsample_bilinear",
    "permute", "transpose", "reshape", "view", "chunk",
    "matmul", "matmul_operator", "bmm", "einsum", "einsum_n", "scale", "embedding",
    "baddbmm", "attn_scale", "attn_mask", "rotary", "mha",
    "sdpa_scores", "sdpa_scale", "sdpa_mask", "sdpa_softmax", "sdpa_context",
    "mha_in_proj", "mha_fast_in_proj", "mha_fast_out_proj", "mha_fast_bmm", "mha_fast_baddbmm",
    "class_token", "position_embedding", "position_lookup", "select",
    "moe_gating", "moe_dispatch", "moe_linear", "moe_combine", "moe_router", "moe_expert_linear",
)
"""Every operation a `Tally` can name; every convention prices each one (zero is explicit)."""

DOT_PRODUCT_OPS = ("conv", "deconv", "linear")
MATMUL_OPS = ("matmul", "matmul_operator", "bmm")
"""torch.matmul / x.matmul, the @ operator, torch.bmm: the same products, seen differently."""


def batch_of(tally: Any) -> Any:
    """N, the output's first axis; 1 for a stand-in without shapes (calc.derive's counters)."""
    output = tally.output
    return output[0] if output else 1


@dataclass(frozen=True)
class Rule:
    """FLOPs of one operation: sum of coefficient x counter, with a note saying why.

    A tool that averages part of its count over the batch (ptflops divides its module-hook
    counts by N, not its patched-functional counts) states that part as `per_batch`:
        FLOPs = sum(terms) + sum(per_batch) / N**batch_power
    N is the output's first axis.  A numeric quotient must be an integer: where the tool's figure
    is a fraction the rule refuses (a symbolic one stays a quotient, exact wherever it is whole)."""

    terms: tuple[tuple[Counter, int], ...] = ()
    note: str = ""
    refuse: str = ""
    """Non-empty: the tool's rule for this operation is not emulated; say why instead of guessing."""
    per_batch: tuple[tuple[Counter, int], ...] = ()
    batch_power: int = 1

    def flops(self, tally: Tally) -> Any:
        if self.refuse:
            raise ConventionError(self.refuse)
        total: Any = 0
        for name, coefficient in self._plain_terms:
            total = total + coefficient * getattr(tally, name)
        if self.per_batch:
            total = total + self._per_batch_share(tally)
        return total

    def _per_batch_share(self, tally: Tally) -> Any:
        part: Any = 0
        for counter, coefficient in self.per_batch:
            part = part + coefficient * getattr(tally, counter.value)
        batch = batch_of(tally)
        divisor = batch**self.batch_power
        if is_int(part) and is_int(divisor) and part % divisor:
            power = "" if self.batch_power == 1 else f"**{self.batch_power}"
            raise ConventionError(
                f"{self.note}: {part}/N{power} is not an integer at N = {batch} (the tool's figure "
                "is a fraction; calc counts in integers)",
                expected=f"a batch N for which N{power} divides {part}",
            )
        return exact_div(part, divisor)

    @property
    def _plain_terms(self) -> tuple[tuple[str, int], ...]:
        cached = self.__dict__.get("_terms_cache")
        if cached is None:
            cached = tuple((counter.value, c) for counter, c in self.terms)
            object.__setattr__(self, "_terms_cache", cached)
        return cached

    def formula(self) -> str:
        """Human-readable form, e.g. '2*macs - dot_outputs + bias_adds',
        '(macs + bias_adds)/N', 'out_elements/N + in_elements'."""
        if self.refuse:
            return "not emulated"
        if not self.terms and not self.per_batch:
            return "0"
        parts = []
        if self.per_batch:
            divided = _sum_text(self.per_batch)
            if len(self.per_batch) > 1:
                divided = f"({divided})"
            parts.append(divided + ("/N" if self.batch_power == 1 else f"/N**{self.batch_power}"))
        if self.terms:
            plain = _sum_text(self.terms)
            parts.append(plain if not parts else f"- {plain[1:]}" if plain.startswith("-") else f"+ {plain}")
        return " ".join(parts)


def _sum_text(terms: tuple[tuple[Counter, int], ...]) -> str:
    parts = []
    for i, (counter, c) in enumerate(terms):
        sign = "-" if c < 0 else "+"
        mag = abs(c)
        text = counter.value if mag == 1 else f"{mag}*{counter.value}"
        parts.append(("-" + text) if i == 0 and c < 0 else text if i == 0 else f"{sign} {text}")
    return " ".join(parts)


def _terms(coefficients: Mapping[str, int]) -> tuple[tuple[Counter, int], ...]:
    return tuple((Counter(name), c) for name, c in coefficients.items() if c)


def rule(
    note: str = "", *, per_batch: Mapping[str, int] | None = None, batch_power: int = 1,
    **coefficients: int,
) -> Rule:
    """rule(macs=2, dot_outputs=-1, bias_adds=1) -> Rule over those counters;
    rule(per_batch=dict(macs=1), in_elements=1) -> macs/N + in_elements (see Rule)."""
    return Rule(_terms(coefficients), note, per_batch=_terms(per_batch or {}), batch_power=batch_power)


def times(factor: int, rules: Mapping[str, Rule], note: str) -> dict[str, Rule]:
    """Every rule multiplied by `factor` (a training step as a multiple of the forward pass)."""
    return {op: Rule(tuple((c, factor * k) for c, k in r.terms), f"{factor} x ({r.note}); {note}",
                     refuse=r.refuse, per_batch=tuple((c, factor * k) for c, k in r.per_batch),
                     batch_power=r.batch_power) for op, r in rules.items()}


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
    training: Mapping[str, Rule] | int | None = None
    """FLOPs of a training step (forward, backward, and any recomputation the source counts):
    rules per operation, or an int k: k times the forward rules (calls included; the usual
    "backward = 2 x forward" is 3); None: no backward rule, training refused."""
    recompute: str = "none"
    """The activation recomputation its training figure includes by definition ('none',
    'selective' or 'full', see calc.recompute); megatron-2021's eq. 3 includes the full one."""
    recompute_choices: tuple[str, ...] | None = None
    """The recomputations its source defines (None: all of calc.recompute.POLICIES); any other
    is refused, `recompute_note` saying why."""
    recompute_note: str = ""
    recompute_head: bool = False
    """True when its full recomputation runs the output layer's forward again too."""
    batch_one: bool = False
    """True when the tool's figures are only reproducible for batch 1 (a tool whose batch rule
    is not known).  None of the tables sets it since ptflops' rule is emulated (Rule.per_batch)."""

    def for_training(self) -> "Convention":
        """The convention pricing a training step: its training rules as the module rules (a
        ConventionError naming it when it has none)."""
        if self.training is None:
            raise ConventionError(
                f"convention '{self.name}' has no backward rule: it prices forward passes only",
                expected="a convention with a training rule (see calc conventions)")
        cached = self.__dict__.get("_training_view")
        if cached is None:
            from dataclasses import replace

            title = self.title + ", training step"
            if isinstance(self.training, int):
                k, why = self.training, "backward = " + str(self.training - 1) + " x forward"
                scale = lambda rule: None if rule is None else times(k, {"": rule}, why)[""]  # noqa: E731
                cached = replace(
                    self, title=title, rules=times(k, self.rules, why), training=None,
                    functional={op: scale(r) for op, r in self.functional.items()},
                    method={op: scale(r) for op, r in self.method.items()},
                    functional_default=scale(self.functional_default),
                    method_default=scale(self.method_default))
            else:
                cached = replace(self, title=title, rules=self.training, training=None, functional={},
                                 method={}, functional_default=None, method_default=None)
            object.__setattr__(self, "_training_view", cached)
        return cached

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
            symbolic = not is_int(tally.output[0])
            raise ConventionError(
                f"convention '{self.name}' reproduces its tool at batch 1 only"
                + (f", so it cannot price a symbolic batch {tally.output[0]}" if symbolic else ""),
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
        unchecked (none for a batch-1 convention, whose every call checks the batch; no rule
        with a per-batch part, whose division is checked)."""
        if self.batch_one:
            return {}
        return {op: r._plain_terms for op, r in self.rules.items() if not r.refuse and not r.per_batch}


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
