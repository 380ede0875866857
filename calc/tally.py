"""Convention-free counts of one primitive operation.

A layer's formulas produce a `Tally`: its output shape, its parameters, and a few counters that
every counting convention is built from (`calc.conventions` turns counters into FLOPs with a row
of coefficients).  Counters are exact ints, or sympy expressions on the symbolic path.

Counters
--------
macs         multiply-accumulates (products) of a dot-product layer, bias excluded
dot_outputs  number of dot products computed (each of n products needs n-1 adds to reduce)
bias_adds    additions of a bias, one per output of a biased dot-product layer
window       elements a pooling/interpolation window visits, summed over outputs
merge_ops    element-wise binary operations that combine inputs: (inputs - 1) x output elements
rows         independent reductions (softmax: one per vector normalised)
in_elements  elements of all inputs (derived from the shapes)
out_elements elements of the output (derived from the shape)
params       trainable parameters
buffers      non-trainable stored values (e.g. batch-norm running mean and variance)
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from calc.arith import prod

Shape = tuple[Any, ...]
"""(N, C, *spatial) for feature maps, (N, F) for flat vectors; entries are ints or symbols."""


class Counter(StrEnum):
    MACS = "macs"
    DOT_OUTPUTS = "dot_outputs"
    BIAS_ADDS = "bias_adds"
    WINDOW = "window"
    MERGE_OPS = "merge_ops"
    ROWS = "rows"
    IN_ELEMENTS = "in_elements"
    OUT_ELEMENTS = "out_elements"
    PARAMS = "params"
    BUFFERS = "buffers"


def elements(shape: Shape) -> Any:
    return prod(shape)


@dataclass(frozen=True, slots=True)
class Tally:
    op: str
    inputs: tuple[Shape, ...]
    output: Shape
    params: Any = 0
    buffers: Any = 0
    macs: Any = 0
    dot_outputs: Any = 0
    bias_adds: Any = 0
    window: Any = 0
    merge_ops: Any = 0
    rows: Any = 0

    @property
    def in_elements(self) -> Any:
        total: Any = 0
        for shape in self.inputs:
            total = total + elements(shape)
        return total

    @property
    def out_elements(self) -> Any:
        return elements(self.output)

    def counter(self, name: Counter) -> Any:
        return getattr(self, name.value)
