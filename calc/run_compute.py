"""The compute of a whole run: a number of tokens, in steps of the evaluated input.

    steps      = tokens / tokens per step          (tokens per step = batch x T)
    run FLOPs  = steps x FLOPs of one step         (a training step under --mode training)
    per token  = FLOPs of one step / tokens per step   (exact: a fraction where it is not whole)

Published training budgets are quoted this way: GPT-3 175B on 300e9 tokens (Narayanan et al.
2021, arXiv:2104.04473, sec. 5.1: 8TP/(nX) = 34 days), Chinchilla's C ~ 6ND.  The tokens must
be a whole number of steps, so every figure stays an exact integer.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from calc.arith import is_int
from calc.errors import UsageError
from calc.limits import MAX_INT_DIGITS, too_big


@dataclass(frozen=True)
class RunCompute:
    tokens: int
    tokens_per_step: int
    steps: int
    flops: int
    """FLOPs of the whole run: steps x one step's."""
    per_token: Fraction


def tokens_per_step(axis_names: tuple[str, ...], shape: tuple[Any, ...]) -> Any:
    """Tokens one evaluation processes: the batch times the sequence axis T of a sequence input
    (`input: {T: 1024}`); a `UsageError` for an input without one."""
    if "T" not in axis_names:
        raise UsageError(f"--tokens counts tokens, and this input has no sequence axis T (its axes: "
                         f"{', '.join(axis_names)})", expected="a language model's spec, input {T: ...}")
    return shape[0] * shape[axis_names.index("T")]


def check_tokens(tokens: Any) -> int:
    """A token count: a positive int of at most MAX_INT_DIGITS digits."""
    if type(tokens) is not int or tokens <= 0:
        raise UsageError(f"tokens must be a positive int, got {tokens!r}", expected="e.g. 300000000000")
    if too_big(tokens):
        raise UsageError(f"tokens has more than {MAX_INT_DIGITS} digits", expected="a realistic token count")
    return tokens


def run_compute(step_flops: Any, step_tokens: Any, tokens: Any) -> RunCompute:
    """The run's figures (see the module docstring); `tokens` a whole number of steps."""
    tokens = check_tokens(tokens)
    if not (is_int(step_flops) and is_int(step_tokens)) or step_tokens <= 0:
        raise UsageError("a run's compute needs a numeric step (not a symbolic one)",
                         expected="numeric input sizes")
    steps, rest = divmod(tokens, step_tokens)
    if rest:
        lower, upper = steps * step_tokens, (steps + 1) * step_tokens
        raise UsageError(
            f"{tokens:,} tokens is not a whole number of steps of {step_tokens:,} tokens (batch x T)",
            expected=f"a multiple of {step_tokens:,}, e.g. {lower:,} or {upper:,}" if lower else
            f"a multiple of {step_tokens:,}")
    return RunCompute(tokens, step_tokens, steps, steps * step_flops, Fraction(step_flops, step_tokens))
