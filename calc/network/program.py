"""A network flattened to a straight-line program of primitive operations.

Value 0 is the network input; operation i reads the values it names and produces value i + 1.
Evaluating the program at an input shape gives one `OpCost` row per operation.  The program is
built once from a spec and re-evaluated cheaply at other input sizes, or symbolically.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from calc import conventions
from calc.conventions import Convention
from calc.cost import BYTES, Dtype, Totals, op_figures
from calc.errors import CalcError, Location
from calc.layers import Layer
from calc.report import Report, Rows
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
        width = BYTES[dt]
        # figures[i][1] is value i's shape: value 0, the input, has a stand-in row.
        figures: list[tuple] = [(None, shape)]
        append = figures.append
        # Networks repeat blocks: the builder shares identical records, so an (operation,
        # input shapes) pair seen before in this evaluation reuses its figures.  Each entry is
        # [figures, uses]: totals sum every distinct operation once, times its uses.
        seen: dict[tuple[int, tuple[Shape, ...]], list] = {}
        for op, source, sources, layer_id, tally, checks, call in self._plan:
            if source >= 0:
                inputs = (figures[source][1],)
            else:
                inputs = tuple([figures[i][1] for i in sources])
            key = (layer_id, inputs)
            entry = seen.get(key)
            try:
                if checks is not None:  # stated inputs are checked on every use of a record
                    checks.check_inputs(inputs)
                if entry is None:
                    entry = seen[key] = [op_figures(tally(inputs), convention, width, call), 0]
            except CalcError as exc:
                raise _with_place(op, exc) from None
            entry[1] += 1
            append(entry[0])
        rows = Rows(self._paths, self._kinds, figures[1:])
        entries = seen.values()
        totals = Totals.of_figures([e[0] for e in entries], [e[1] for e in entries])
        return Report(self.name, convention, dt, (shape,), rows, totals)

    @cached_property
    def _plan(self) -> tuple[tuple, ...]:
        """Per operation, what the evaluation loop reads (flattened once: attribute lookups
        are a large share of a re-evaluation's time), the record's bound `tally` included."""
        return tuple(
            (op, op.inputs[0] if len(op.inputs) == 1 else -1, op.inputs, id(op.layer),
             op.layer.tally, op.checks, op.layer.call)
            for op in self.ops
        )

    @cached_property
    def _paths(self) -> tuple[str, ...]:
        return tuple(op.path for op in self.ops)

    @cached_property
    def _kinds(self) -> tuple[str, ...]:
        return tuple(op.kind for op in self.ops)

    def shapes(self, input_shape: Shape | None = None) -> dict[str, Shape]:
        """Output shape of every operation, by path."""
        shape = self.input_shape if input_shape is None else input_shape
        out = run(self.ops, shape, lambda op, tally: (op.path, tally.output))
        return dict(out)


def run(ops: tuple[Op, ...], input_shape: Shape, emit: Callable[[Op, Any], Any]) -> list[Any]:
    """Propagate shapes through the program; `emit(op, tally)` for each operation."""
    values: list[Shape] = [input_shape]
    results = []
    for op in ops:
        tally = _tally(op, tuple(values[i] for i in op.inputs))
        values.append(tally.output)
        results.append(emit(op, tally))
    return results


def _tally(op: Op, inputs: tuple[Shape, ...]) -> Any:
    """The operation's tally, its stated input checked first; errors get the op's location."""
    try:
        if op.checks is not None:
            op.checks.check_inputs(inputs)
        return op.layer.tally(inputs)
    except CalcError as exc:
        raise _with_place(op, exc) from None


def _with_place(op: Op, exc: CalcError) -> CalcError:
    """The error with the operation's path and where the spec wrote it (or the field named)."""
    location = op.locate(exc.field) if op.locate else None
    return exc.with_context(location=location, path=op.path)
