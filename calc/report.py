"""A costed set of operations (one layer or a whole network) and its totals."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from calc import conventions
from calc.conventions import Convention
from calc.cost import SUMMED, Dtype, OpCost, Totals, dtype, op_cost
from calc.errors import CalcError, UsageError
from calc.layers import Layer
from calc.tally import Shape


class Rows(Sequence[OpCost]):
    """A report's rows, built on access from each operation's path, kind and figures (a network
    with repeated blocks shares one figures tuple between identical operations)."""

    __slots__ = ("_paths", "_kinds", "_figures")

    def __init__(self, paths: Sequence[str], kinds: Sequence[str], figures: Sequence[tuple]) -> None:
        self._paths, self._kinds, self._figures = paths, kinds, figures

    def __len__(self) -> int:
        return len(self._figures)

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return tuple(self)[index]
        return OpCost(self._paths[index], self._kinds[index], *self._figures[index])

    def __iter__(self):
        for path, kind, figures in zip(self._paths, self._kinds, self._figures):
            yield OpCost(path, kind, *figures)


@dataclass(frozen=True)
class Report:
    name: str
    convention: Convention
    dtype: Dtype
    input_shapes: tuple[Shape, ...]
    rows: Sequence[OpCost]
    totals: Totals = None  # type: ignore[assignment]
    """Totals of the whole network; computed from the rows unless given (a collapsed or
    top-N view keeps the totals of everything)."""

    output_shape: Shape = None  # type: ignore[assignment]
    """The network's output; by default the last row's."""

    def __post_init__(self) -> None:
        if self.totals is None:
            object.__setattr__(self, "totals", Totals.of(self.rows))
        if self.output_shape is None:
            last = self.rows[-1].output_shape if self.rows else self.input_shapes[0]
            object.__setattr__(self, "output_shape", last)


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
        rows.append(op_cost(path or layer.kind, op.kind, tally, convention, dt, op.call))
        current = (tally.output,)
    return rows


def evaluate_layer(
    layer: Layer, convention: Convention | str | None = None, dt: Dtype | str = Dtype.FP32
) -> Report:
    """Cost one standalone record (its input stated by Cin, H, W, ...); `convention` a
    `Convention` or its name (default 'exact'), `dt` a `Dtype` or its name.

        >>> from calc import parse_layer
        >>> evaluate_layer(parse_layer({"type": "linear", "Cin": 512, "Cout": 10}), "2mac").totals.flops
        10240
    """
    if not isinstance(layer, Layer):
        raise UsageError(
            f"evaluate_layer takes a layer record, got {type(layer).__name__}"
            + ("; parse_layer(data) makes one from a mapping" if isinstance(layer, dict) else ""),
            expected="a record from calc.parse_layer, e.g. parse_layer({'type': 'conv', ...})",
        )
    convention = conventions.resolve(convention)
    dt = dtype(dt)
    inputs = layer.stated_inputs()
    rows = chain(layer.name or "", layer, inputs, convention, dt)
    return Report(layer.name or layer.kind, convention, dt, inputs, tuple(rows))


def collapse(report: Report, depth: int) -> Report:
    """Merge rows that share their first `depth` path segments into one row (sums; the output
    shape and activations of the group's last operation; kind of the group's first row, or
    'group' when they differ)."""
    groups: dict[str, list[OpCost]] = {}
    for row in report.rows:
        key = ".".join(row.path.split(".")[:depth])
        groups.setdefault(key, []).append(row)
    rows = []
    for key, members in groups.items():
        if len(members) == 1:
            rows.append(replace(members[0], path=key))
            continue
        kinds = {m.kind for m in members}
        sums = {f: _sum(getattr(m, f) for m in members) for f in SUMMED}
        rows.append(replace(members[-1], path=key, kind=kinds.pop() if len(kinds) == 1 else "group", **sums))
    return replace(report, rows=tuple(rows))


def top(report: Report, n: int) -> Report:
    """The n rows with the most FLOPs (then MACs), costliest first."""
    ranked = sorted(report.rows, key=lambda r: (r.flops, r.macs), reverse=True)
    return replace(report, rows=tuple(ranked[:n]))


def _sum(values: Iterable[Any]) -> Any:
    total: Any = 0
    for v in values:
        total = total + v
    return total
