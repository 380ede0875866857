"""A costed set of operations (one layer or a whole network) and its totals."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
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

    options: Mapping[str, Any] = field(default_factory=dict)
    """How the report was made, beyond convention, dtype and input: `fold_bn` (given by whoever
    folded, see `annotate`), `depth` (set by `collapse`), `top` (set by `top`).  Renderers write
    them out (CSV header block, JSON `options`)."""

    layer_shapes: Sequence[LayerShapes] | None = None
    """Per row, its input shapes and kernel size (see `annotate`); None when not known."""

    kv_cache: Mapping[str, Any] | None = None
    """Bytes of the KV cache per attention layer (its K and V together) at the options'
    `kv_dtype`, after the evaluated tokens; None when not asked for."""

    param_outputs: Any = None
    """Output elements of the operations that have parameters, summed (torchinfo's
    forward/backward pass size is twice their bytes); kept by `collapse` and `top`, computed
    from the rows when None (see `param_layer_outputs`)."""

    def __post_init__(self) -> None:
        if self.totals is None:
            object.__setattr__(self, "totals", Totals.of(self.rows))
        if self.output_shape is None:
            last = self.rows[-1].output_shape if self.rows else self.input_shapes[0]
            object.__setattr__(self, "output_shape", last)


@dataclass(frozen=True, slots=True)
class LayerShapes:
    """What a row's operation reads: its input shapes, and its kernel (or window) size, one
    entry per spatial axis, for the kinds that have one (conv, pool, ...), else None."""

    inputs: tuple[Shape, ...]
    kernel: tuple[Any, ...] | None


OPTION_NAMES = ("fold_bn", "depth", "top", "context", "mode", "recompute", "kv_dtype", "kv_cache_bytes",
                "tokens", "steps", "run_flops")


def annotate(report: Report, network: Any = None, *, fold_bn: bool | None = None) -> Report:
    """The report with what only its maker knows: each row's input shapes and kernel size from
    `network` (the `calc.network.Network` it was evaluated from, rows not yet collapsed or
    reordered), and whether batch norms were folded (`fold_bn`, see calc.network.fold)."""
    if not isinstance(report, Report):
        raise UsageError(f"annotate takes a Report, got {type(report).__name__}",
                         expected="the result of Network.evaluate")
    if network is not None and not isinstance(getattr(network, "ops", None), tuple):
        raise UsageError(f"annotate's network is a {type(network).__name__}, not a Network",
                         expected="the calc.network.Network the report was evaluated from")
    changes: dict[str, Any] = {}
    if fold_bn is not None:
        changes["options"] = {**report.options, "fold_bn": bool(fold_bn)}
    if network is not None:
        changes["layer_shapes"] = _layer_shapes(report, network)
    return replace(report, **changes) if changes else report


def param_layer_outputs(report: Report) -> Any:
    """Output elements of every operation with parameters, summed: what torchinfo's
    "Forward/backward pass size" counts (torchinfo/model_statistics.py: twice the output bytes
    of each leaf module whose parameter count is above 0)."""
    if report.param_outputs is not None:
        return report.param_outputs
    return _sum(r.activations for r in report.rows if not _is_zero(r.params))


def _is_zero(value: Any) -> bool:
    return value == 0 if isinstance(value, int) else bool(value.is_zero)


def _layer_shapes(report: Report, network: Any) -> tuple[LayerShapes, ...]:
    ops = network.ops
    rows = report.rows
    paths = rows._paths if isinstance(rows, Rows) else [r.path for r in rows]
    if len(ops) != len(paths) or any(op.path != p for op, p in zip(ops, paths)):
        raise UsageError(
            "annotate takes the network a report was evaluated from, before collapse or top",
            expected="annotate(network.evaluate(...), network)",
        )
    outputs = [f[1] for f in rows._figures] if isinstance(rows, Rows) else [r.output_shape for r in rows]
    values: list[Shape] = [report.input_shapes[0], *outputs]
    out = []
    append = out.append
    for op in ops:
        kernel = getattr(op.layer, "K", None)
        first = values[op.inputs[0]]
        if kernel is not None:
            kernel = tuple(kernel) if isinstance(kernel, (list, tuple)) else (kernel,) * max(len(first) - 2, 1)
        append(LayerShapes(tuple([values[i] for i in op.inputs]) if len(op.inputs) > 1 else (first,), kernel))
    return tuple(out)


def chain(
    prefix: str, layer: Layer, inputs: tuple[Shape, ...], convention: Convention, dt: Dtype
) -> list[OpCost]:
    """Cost a record's primitive operations in order, each fed by the values it reads (see
    `Layer.graph`: the previous one's output, unless the record says otherwise)."""
    rows: list[OpCost] = []
    outputs: list[Shape] = []
    for i, (suffix, op, refs) in enumerate(layer.graph()):
        path = ".".join(p for p in (prefix, suffix) if p)
        current = inputs if refs == (-1,) else tuple([inputs[0] if r < 0 else outputs[r] for r in refs])
        if i == 0:
            try:
                layer.check_inputs(current)
            except CalcError as exc:  # the record's own input: placed at the record, not a part
                raise exc.with_context(path=prefix or None)
        try:
            tally = op.tally(current)
        except CalcError as exc:
            raise exc.with_context(path=path or None)
        if refs[0] == -1:  # the layer's own input: no gradient to compute in training
            tally.reads_input = True
        rows.append(op_cost(path or layer.kind, op.kind, tally, convention, dt, op.call))
        outputs.append(tally.output)
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
    """Merge rows that share their first `depth` path segments into one row, named by that
    prefix: sums; the output shape and activations of the group's last operation; as kind, the
    group's kinds in order of first use joined by '+' (e.g. 'conv+batchnorm+relu+add'); input
    shapes those of its first operation, kernel size its own if it has one operation."""
    groups: dict[str, list[int]] = {}
    rows_in = list(report.rows)
    for i, row in enumerate(rows_in):
        key = ".".join(row.path.split(".")[:depth])
        groups.setdefault(key, []).append(i)
    rows = []
    shapes = report.layer_shapes
    new_shapes = [] if shapes is not None else None
    for key, members in groups.items():
        first = rows_in[members[0]]
        if len(members) == 1:
            rows.append(replace(first, path=key))
        else:
            group = [rows_in[i] for i in members]
            kinds = "+".join(dict.fromkeys(m.kind for m in group))
            sums = {f: _sum(getattr(m, f) for m in group) for f in SUMMED}
            rows.append(replace(group[-1], path=key, kind=kinds, **sums))
        if new_shapes is not None:
            own = shapes[members[0]]
            new_shapes.append(own if len(members) == 1 else LayerShapes(own.inputs, None))
    return replace(report, rows=tuple(rows), options={**report.options, "depth": depth},
                   param_outputs=param_layer_outputs(report),
                   layer_shapes=None if new_shapes is None else tuple(new_shapes))


def top(report: Report, n: int) -> Report:
    """The n rows with the most FLOPs (then MACs), costliest first."""
    rows = list(report.rows)
    order = sorted(range(len(rows)), key=lambda i: (rows[i].flops, rows[i].macs), reverse=True)[:n]
    shapes = report.layer_shapes
    return replace(report, rows=tuple(rows[i] for i in order), options={**report.options, "top": n},
                   param_outputs=param_layer_outputs(report),
                   layer_shapes=None if shapes is None else tuple(shapes[i] for i in order))


def _sum(values: Iterable[Any]) -> Any:
    total: Any = 0
    for v in values:
        total = total + v
    return total
