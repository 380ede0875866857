"""A costed set of operations (one layer or a whole network) and its totals."""

from __future__ import annotations

from dataclasses import dataclass, field

from calc import conventions
from calc.conventions import Convention
from calc.cost import Dtype, OpCost, Totals, op_cost
from calc.errors import CalcError
from calc.layers import Layer
from calc.tally import Shape


@dataclass(frozen=True)
class Report:
    name: str
    convention: Convention
    dtype: Dtype
    input_shapes: tuple[Shape, ...]
    rows: tuple[OpCost, ...]
    totals: Totals = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "totals", Totals.of(self.rows))

    @property
    def output_shape(self) -> Shape:
        return self.rows[-1].output_shape if self.rows else self.input_shapes[0]


def chain(
    prefix: str, layer: Layer, inputs: tuple[Shape, ...], convention: Convention, dt: Dtype
) -> list[OpCost]:
    """Cost a record's primitive operations in order, each fed by the previous one's output."""
    rows: list[OpCost] = []
    current = inputs
    for i, (suffix, op) in enumerate(layer.expand()):
        path = ".".join(p for p in (prefix, suffix) if p)
        try:
            if i == 0:
                layer.check_inputs(current)
            tally = op.tally(current)
        except CalcError as exc:
            raise exc.with_context(path=path or None)
        rows.append(op_cost(path or layer.kind, op.kind, tally, convention, dt))
        current = (tally.output,)
    return rows


def evaluate_layer(
    layer: Layer, convention: Convention | None = None, dt: Dtype = Dtype.FP32
) -> Report:
    """Cost one standalone record (its input stated by Cin, H, W, ...)."""
    convention = convention or conventions.get(conventions.DEFAULT)
    inputs = layer.stated_inputs()
    rows = chain(layer.name or "", layer, inputs, convention, dt)
    return Report(layer.name or layer.kind, convention, dt, inputs, tuple(rows))
