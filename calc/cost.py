"""Per-operation costs under a convention, and totals.

    params, buffers   from the tally
    macs              multiply-accumulates of dot-product layers (bias excluded), any convention
    flops             the convention's rule applied to the tally
    mem_access        elements read and written (ShuffleNet V2): inputs + params + buffers + output
                      (the params read: an embedding reads the rows it looks up, a mixture of
                      experts the experts its tokens reach; Tally.weights_read)
    mem_bytes         mem_access * bytes per element of the dtype
    activations       output elements
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from itertools import repeat
from enum import StrEnum
from typing import Any

from calc.conventions import Convention
from calc.errors import UsageError
from calc.tally import Shape, Tally


class Dtype(StrEnum):
    FP64 = "fp64"
    FP32 = "fp32"
    FP16 = "fp16"
    BF16 = "bf16"
    FP8 = "fp8"
    INT8 = "int8"


BYTES: dict[Dtype, int] = {Dtype.FP64: 8, Dtype.FP32: 4, Dtype.FP16: 2, Dtype.BF16: 2, Dtype.FP8: 1, Dtype.INT8: 1}


def dtype(name: Dtype | str) -> Dtype:
    """The `Dtype` of that name ('fp16' -> Dtype.FP16); a Dtype as given; `UsageError` (one
    line, the names listed) for anything else."""
    if isinstance(name, Dtype):
        return name
    choices = "one of " + ", ".join(d.value for d in Dtype)
    if not isinstance(name, str):
        raise UsageError(f"a dtype is named by a str, got {type(name).__name__}", expected=choices)
    try:
        return Dtype(name)
    except ValueError:
        raise UsageError(f"unknown dtype {name!r}", expected=choices) from None


def mem_access(in_elements: Any, params: Any, buffers: Any, out_elements: Any) -> Any:
    """Memory access cost (ShuffleNet V2, sec. 2): every input, weight and stored statistic read
    once, every output written once.  For a 1x1 conv without bias: h*w*(c1 + c2) + c1*c2."""
    return in_elements + params + buffers + out_elements


@dataclass(slots=True)
class OpCost:
    """One row of a report: a primitive operation at a dotted path.  Treat as immutable (not
    frozen only because frozen dataclasses are slow to build)."""

    path: str
    kind: str
    op: str
    output_shape: Shape
    params: Any
    buffers: Any
    macs: Any
    flops: Any
    mem_access: Any
    mem_bytes: Any
    activations: Any
    inactive_params: Any = 0
    """Parameters a token does not use: the experts a mixture-of-experts router leaves out."""


VIEW_OPS = frozenset({"flatten", "identity", "dropout", "split", "select", "mha"})
"""Operations that are views at inference (no element is read or written): mem_access 0; and
the row standing for nn.MultiheadAttention itself, whose parts have rows of their own."""


def op_figures(tally: Tally, convention: Convention, width: int, call: str = "module") -> tuple:
    """An operation's figures, in OpCost's field order after path and kind; `width` is the
    dtype's bytes per element (BYTES[dt], looked up once per evaluation)."""
    op, params, buffers, out = tally.op, tally.params, tally.buffers, tally.out_elements
    access: Any = 0 if op in VIEW_OPS else mem_access(tally.in_elements, tally.weights_read, buffers, out)
    return (
        op, tally.output, params, buffers, tally.macs,
        convention.flops(tally, call), access, access * width, out, tally.inactive_params,
    )


def op_cost(
    path: str, kind: str, tally: Tally, convention: Convention, dt: Dtype, call: str = "module"
) -> OpCost:
    return OpCost(path, kind, *op_figures(tally, convention, BYTES[dt], call))


SUMMED = ("params", "buffers", "macs", "flops", "mem_access", "mem_bytes")


@dataclass(frozen=True, slots=True)
class Totals:
    params: Any
    buffers: Any
    macs: Any
    flops: Any
    mem_access: Any
    mem_bytes: Any
    largest_activation: Any
    active_params: Any
    """Parameters one token uses: params less the experts a mixture-of-experts router leaves
    out (= params without one)."""

    @classmethod
    def of(cls, rows: Iterable[OpCost]) -> "Totals":
        return cls.of_figures(
            (r.op, r.output_shape, r.params, r.buffers, r.macs, r.flops, r.mem_access, r.mem_bytes,
             r.activations, r.inactive_params) for r in rows
        )

    @classmethod
    def of_figures(cls, figures: Iterable[tuple], counts: Iterable[int] | None = None) -> "Totals":
        """The same sums over `op_figures` tuples (no row objects needed), each counted
        `counts[i]` times (a repeated operation is summed once, times its uses)."""
        params = buffers = macs = flops = access = size = largest = inactive = 0
        for (_op, _out, p, b, m, f, a, nbytes, act, idle), n in zip(figures, counts or repeat(1)):
            params = params + n * p
            if idle:
                inactive = inactive + n * idle
            buffers = buffers + n * b
            macs = macs + n * m
            flops = flops + n * f
            access = access + n * a
            size = size + n * nbytes
            if type(act) is int and act > largest:
                largest = act
        return cls(params, buffers, macs, flops, access, size, largest, params - inactive)

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}
