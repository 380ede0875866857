"""A network flattened to a straight-line program of primitive operations.

Value 0 is the network input; operation i reads the values it names and produces value i + 1.
Evaluating the program at an input shape gives one `OpCost` row per operation.  The program is
built once from a spec and re-evaluated cheaply at other input sizes, or symbolically.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from calc import conventions
from calc.conventions import Convention
from calc.cost import Dtype, OpCost, op_cost
from calc.errors import CalcError, Location
from calc.layers import Layer
from calc.report import Report
from calc.tally import Shape


@dataclass(frozen=True, slots=True)
class Op:
    path: str
    kind: str
    layer: Layer
    inputs: tuple[int, ...]
    checks: Layer | None = None
    """The spec record whose stated input fields (Cin, H, W, ...) are checked against the input."""
    locate: Callable[[str | None], Location | None] | None = None
    """Where the spec wrote this operation, or one of its fields."""


@dataclass(frozen=True)
class Network:
    name: str
    input_shape: Shape
    ops: tuple[Op, ...]
    file: str | None = None

    def evaluate(
        self,
        convention: Convention | None = None,
        dt: Dtype = Dtype.FP32,
        input_shape: Shape | None = None,
    ) -> Report:
        convention = convention or conventions.get(conventions.DEFAULT)
        shape = self.input_shape if input_shape is None else input_shape
        rows = run(self.ops, shape, lambda op, tally: op_cost(op.path, op.kind, tally, convention, dt, op.layer.call))
        return Report(self.name, convention, dt, (shape,), tuple(rows))

    def shapes(self, input_shape: Shape | None = None) -> dict[str, Shape]:
        """Output shape of every operation, by path."""
        shape = self.input_shape if input_shape is None else input_shape
        out = run(self.ops, shape, lambda op, tally: (op.path, tally.output))
        return dict(out)


def run(ops: tuple[Op, ...], input_shape: Shape, emit: Callable[[Op, Any], Any]) -> list[Any]:
    values: list[Shape] = [input_shape]
    results = []
    for op in ops:
        inputs = tuple(values[i] for i in op.inputs)
        try:
            if op.checks is not None:
                op.checks.check_inputs(inputs)
            tally = op.layer.tally(inputs)
        except CalcError as exc:
            location = op.locate(exc.field) if op.locate else None
            raise exc.with_context(location=location, path=op.path) from None
        values.append(tally.output)
        results.append(emit(op, tally))
    return results
