"""A network flattened to a straight-line program of primitive operations.

Value 0 is the network input; operation i reads the values it names and produces value i + 1.
Evaluating the program at an input shape gives one `OpCost` row per operation.  The program is
built once from a spec and re-evaluated cheaply at other input sizes, or symbolically.
"""

from __future__ import annotations

import operator
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from calc import conventions
from calc.conventions import Convention
from calc.cost import BYTES, Dtype, Totals, dtype, op_figures
from calc.errors import CalcError, Location, ShapeError, UsageError
from calc.layers import Layer
from calc.layers.base import SPATIAL_NAMES
from calc.arith import is_int
from calc.limits import MAX_INT, MAX_INT_DIGITS, int_too_big, too_big
from calc.recompute import check_policy, is_recomputed, top_up
from calc.run_compute import run_compute, tokens_per_step
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
    record_path: str | None = None
    """The path of the spec record this operation expands, where it differs from `path` (the
    first primitive of an attention, `blocks.0.attn.q`, checks the record `blocks.0.attn`):
    errors of the record's stated input are placed there."""
    tie: str | None = None
    """The path of an earlier operation whose weight this one shares (`tie:` in a spec): its
    params are that operation's, so its row shows 0 params (counted once, as PyTorch's
    `parameters()` does); its MACs and FLOPs are its own."""


MODES = ("inference", "training")
"""What `Network.evaluate` prices: a forward pass, or a training step (forward and backward)."""

TIEABLE = ("embedding", "linear")
"""Kinds whose weight a `tie` may share."""


def tied_weight(layer: Layer, inputs: tuple[Shape, ...]) -> Shape:
    """The shared weight's shape, as PyTorch stores it: Embedding (num_embeddings, embedding_dim),
    Linear (Cout, Cin) with Cin the input's last axis."""
    if layer.kind == "embedding":
        return (layer.num_embeddings, layer.embedding_dim)  # type: ignore[attr-defined]
    return (layer.Cout, inputs[0][-1])  # type: ignore[attr-defined]


def check_tie(op: Op, inputs: tuple[Shape, ...], owner: Op, owner_inputs: tuple[Shape, ...]) -> None:
    """A tied weight has the shape of the weight it shares."""
    mine, theirs = tied_weight(op.layer, inputs), tied_weight(owner.layer, owner_inputs)
    if any(is_int(a) and is_int(b) and a != b for a, b in zip(mine, theirs)):
        raise ShapeError(
            f"its {op.kind} weight is {_by(mine)} but the {owner.kind} weight of '{owner.path}' it "
            f"ties to is {_by(theirs)}", field="tie",
            expected=f"a {op.kind} whose weight is {_by(theirs)} (Linear: (Cout, Cin); Embedding: (num, dim))",
        )


def _by(shape: Shape) -> str:
    return " x ".join(str(d) for d in shape)


@dataclass(frozen=True)
class Network:
    """A spec, flattened: evaluate it at its input shape or another one.

        >>> from calc.network import network_from_text
        >>> net = network_from_text("name: tiny\\ninput: [3, 32, 32]\\n"
        ...                         "layers: [{type: conv, K: 3, Cout: 8, bias: false}]\\n")
        >>> net.input_shape
        (1, 3, 32, 32)
        >>> net.evaluate().totals.macs == 8 * 30 * 30 * 3 * 3 * 3
        True
        >>> net.evaluate("2mac", "fp16", (1, 3, 64, 64), batch=4).totals.macs == 4 * 8 * 62 * 62 * 27
        True
    """

    name: str
    input_shape: Shape
    """The whole input, batch included: (N, C), (N, C, L), (N, C, H, W) or (N, C, D, H, W)."""
    ops: tuple[Op, ...]
    file: str | None = None
    axes: tuple[str, ...] = ()
    """The input's axis names, batch first, as the spec wrote them: ('N', 'T') for token ids
    given as `input: {T: 1024}`, ('N', 'T', 'd') for a sequence of vectors; empty: by rank,
    (N, C), (N, C, L), (N, C, H, W), (N, C, D, H, W)."""

    def evaluate(
        self,
        convention: Convention | str | None = None,
        dt: Dtype | str = Dtype.FP32,
        input_shape: Sequence[Any] | None = None,
        *,
        batch: int | None = None,
        context: Any = None,
        mode: str = "inference",
        recompute: str | None = None,
        tokens: int | None = None,
        kv_dtype: Dtype | str | None = None,
    ) -> Report:
        """Every operation's cost, and the totals.

        `convention`: a `Convention` or its name (default 'exact'); `dt`: a `Dtype` or its name
        ('fp32', 'fp16', ...), for mem_bytes; `input_shape`: the whole input, batch first,
        (N, C, *spatial) with as many entries as `self.input_shape` (default: that);
        `batch`: N instead of input_shape's; `context`: tokens already in the KV cache, which
        self attention's new tokens attend to as well (decode: T = 1 and the context).  Sizes
        are positive ints of at most calc.limits.MAX_INT_DIGITS digits (the context may be 0;
        sympy expressions for symbolic evaluation); anything else is a one-line `ShapeError`.
        `mode`: 'inference' (a forward pass) or 'training' (a training step, as the convention
        prices one: its backward rule; a convention without one is a `ConventionError`).
        `recompute`: activation recomputation in a training step, 'none', 'selective' or
        'full' (calc.recompute: the recomputed operations' forward FLOPs are added); None: the
        convention's own (none, except megatron-2021's full).  `tokens`: the tokens of a whole
        run, a multiple of batch x T: the report's options then give `tokens`, `steps` and
        `run_flops` (calc.run_compute).  `kv_dtype`: the KV cache's element type (which may
        differ from `dt`, e.g. 'fp8'): the report then gives the cache's bytes after this
        evaluation's tokens, per attention layer (`Report.kv_cache`) and in total (options
        `kv_dtype`, `kv_cache_bytes`)."""
        convention = conventions.resolve(convention)
        if mode not in MODES:
            raise UsageError(f"unknown mode {mode!r}", expected=" or ".join(MODES))
        recompute = check_policy(recompute, mode)
        forward = convention
        again = mode == "training" and top_up(convention, recompute)
        if mode == "training":
            convention = convention.for_training()
        dt = dtype(dt)
        shape = self._checked_shape(input_shape, batch)
        plan = self._plan if not context else self._with_context(self._checked_context(context))
        width = BYTES[dt]
        # figures[i][1] is value i's shape: value 0, the input, has a stand-in row.
        figures: list[tuple] = [(None, shape)]
        append = figures.append
        # Networks repeat blocks: the builder shares identical records, so an (operation,
        # input shapes) pair seen before in this evaluation reuses its figures.  Each entry is
        # [figures, uses]: totals sum every distinct operation once, times its uses.
        seen: dict[tuple[int, tuple[Shape, ...]], list] = {}
        for op, source, sources, layer_id, tally, checks, call, owner in plan:
            if source >= 0:
                inputs = (figures[source][1],)
            else:
                inputs = tuple([figures[i][1] for i in sources])
            key = (layer_id, inputs)
            entry = seen.get(key)
            if checks is not None:  # stated inputs are checked on every use of a record
                _check_record(op, checks, inputs)
            try:
                if entry is None:
                    t = tally(inputs)
                    if sources[0] == 0:  # reads the network's input: no gradient to compute in training
                        t.reads_input = True
                    if owner is not None:  # a tied weight: checked, its params counted at the owner
                        check_tie(op, inputs, self.ops[owner], _inputs_of(self.ops[owner], figures))
                        t.tied = True
                    figs = op_figures(t, convention, width, call)
                    if again and is_recomputed(recompute, op.layer, t.op, forward.recompute_head):
                        figs = (*figs[:5], figs[5] + forward.flops(t, call), *figs[6:])
                    if owner is not None:
                        figs = (*figs[:2], 0, *figs[3:])
                    entry = seen[key] = [figs, 0]
            except CalcError as exc:
                raise _with_place(op, exc) from None
            entry[1] += 1
            append(entry[0])
        rows = Rows(self._paths, self._kinds, figures[1:])
        entries = seen.values()
        totals = Totals.of_figures([e[0] for e in entries], [e[1] for e in entries])
        options = {"context": context} if context else {}
        if mode != "inference":
            options["mode"] = mode
        if recompute is not None and mode == "training":
            options["recompute"] = recompute
        kv_cache = None
        if kv_dtype is not None:
            kv = dtype(kv_dtype)
            entries = self.kv_cache(shape, context=context)
            if not entries:
                raise UsageError(f"a KV-cache dtype was given, and {self.name} has no attention layer "
                                 "with a KV cache", expected="no KV-cache dtype, or a language model's spec")
            kv_cache = {path: n * BYTES[kv] for path, n in entries.items()}
            options.update(kv_dtype=kv.value, kv_cache_bytes=sum(kv_cache.values()))
        if tokens is not None:
            run = run_compute(totals.flops, tokens_per_step(self.axis_names(), shape), tokens)
            options.update(tokens=run.tokens, steps=run.steps, run_flops=run.flops)
        return Report(self.name, convention, dt, (shape,), rows, totals, options=options, kv_cache=kv_cache)

    def kv_cache(self, input_shape: Sequence[Any] | None = None, *, batch: int | None = None,
                 context: Any = None) -> dict[str, Any]:
        """Entries of the KV cache after this evaluation's tokens, by attention layer path (its
        K and V caches together: 2 x N x keys kept x kv_heads x head_dim), for the same
        arguments as `evaluate`: the context's cached tokens plus the new ones, a sliding
        window's most recent only.  Bytes are entries x the cache's bytes per entry (which may
        differ from the weights', e.g. an fp8 cache)."""
        shape = self._checked_shape(input_shape, batch)
        plan = self._plan if not context else self._with_context(self._checked_context(context))
        values: list[Shape] = [shape]
        cache: dict[str, Any] = {}
        for op, _source, sources, _id, tally, checks, _call, _owner in plan:
            inputs = tuple([values[i] for i in sources])
            if checks is not None:
                _check_record(op, checks, inputs)
            try:
                t = tally(inputs)
            except CalcError as exc:
                raise _with_place(op, exc) from None
            values.append(t.output)
            if t.cache_entries:
                layer = op.record_path or op.path.rpartition(".")[0]
                cache[layer] = cache.get(layer, 0) + t.cache_entries
        return cache

    def with_context(self, context: Any) -> "Network":
        """The network with its self attention bound to a KV cache of `context` tokens (for the
        commands that walk the operations themselves: compare, closed forms)."""
        if not context:
            return self
        context = self._checked_context(context)
        from dataclasses import replace

        bound: dict[int, Layer] = {}
        ops = []
        for op in self.ops:
            if op.layer.USES_CONTEXT:
                layer = bound.get(id(op.layer))
                if layer is None:
                    layer = bound[id(op.layer)] = op.layer.model_copy(update={"context": context})
                op = replace(op, layer=layer)
            ops.append(op)
        return replace(self, ops=tuple(ops))

    def uses_context(self) -> bool:
        """Whether an operation's cost depends on a KV-cache length (self attention)."""
        return any(op.layer.USES_CONTEXT for op in self.ops)

    def _checked_context(self, context: Any) -> Any:
        """A KV-cache length: an int >= 0 of at most MAX_INT_DIGITS digits (or a sympy
        expression), for a network with self attention to feed."""
        if type(context) is int or isinstance(context, bool):
            if isinstance(context, bool) or context < 0 or context > MAX_INT:
                raise ShapeError(f"context must be a count of cached tokens, got {context!r}",
                                 field="context", expected="an int >= 0")
        elif not hasattr(context, "free_symbols"):
            raise ShapeError(f"context is a {type(context).__name__}, not a count of tokens",
                             field="context", expected="an int >= 0")
        if not self.uses_context():
            raise ShapeError(f"{self.name} has no attention for a KV cache to feed", field="context",
                             expected="no context, or a network with self attention")
        return context

    def _with_context(self, context: Any) -> tuple[tuple, ...]:
        """The plan with each attention part bound to the cache length `context`."""
        bound: dict[int, Any] = {}
        plan = []
        for entry in self._plan:
            layer = entry[0].layer
            if layer.USES_CONTEXT:
                tally = bound.get(id(layer))
                if tally is None:
                    tally = bound[id(layer)] = layer.model_copy(update={"context": context}).tally
                entry = (*entry[:4], tally, *entry[5:])
            plan.append(entry)
        return tuple(plan)

    @cached_property
    def _plan(self) -> tuple[tuple, ...]:
        """Per operation, what the evaluation loop reads (flattened once: attribute lookups
        are a large share of a re-evaluation's time), the record's bound `tally` included."""
        owners = {op.path: i for i, op in enumerate(self.ops) if op.kind in TIEABLE}
        plan = []
        for op in self.ops:
            owner = None if op.tie is None else owners[op.tie]
            # a tied operation's figures differ from its record's (params 0): its own cache key
            layer_id: Any = id(op.layer) if owner is None else ("tie", id(op.layer), owner)
            plan.append((op, op.inputs[0] if len(op.inputs) == 1 else -1, op.inputs, layer_id,
                         op.layer.tally, op.checks, op.layer.call, owner))
        return tuple(plan)

    @cached_property
    def _paths(self) -> tuple[str, ...]:
        return tuple(op.path for op in self.ops)

    @cached_property
    def _kinds(self) -> tuple[str, ...]:
        return tuple(op.kind for op in self.ops)

    def shapes(
        self, input_shape: Sequence[Any] | None = None, *, batch: int | None = None
    ) -> dict[str, Shape]:
        """Output shape of every operation, by path (input_shape and batch as for evaluate)."""
        shape = self._checked_shape(input_shape, batch)
        out = run(self.ops, shape, lambda op, tally: (op.path, tally.output))
        return dict(out)

    def _checked_shape(self, input_shape: Sequence[Any] | None, batch: Any) -> Shape:
        """The input shape to evaluate at, every entry checked (once per evaluation)."""
        if input_shape is None:
            shape = self.input_shape
        elif not isinstance(input_shape, (tuple, list)):
            raise ShapeError(
                f"input_shape is a {type(input_shape).__name__}, not a tuple of sizes",
                field="input_shape", expected=self._shape_form,
            )
        elif len(input_shape) != len(self.input_shape):
            raise ShapeError(
                f"{len(input_shape)} {'entry' if len(input_shape) == 1 else 'entries'}, but "
                f"{self.name}'s input has {len(self.input_shape)}", field="input_shape",
                expected=self._shape_form,
            )
        else:
            shape = tuple(input_shape)
            for v in shape:  # the common case, positive ints in bounds, checked inline
                if type(v) is not int or not 0 < v <= MAX_INT:
                    shape = tuple([_size(v, "input_shape", axis, self._shape_form)
                                   for v, axis in zip(shape, self._axis_names)])
                    break
        if batch is not None:
            shape = (_size(batch, "batch", "N", "a positive int, the batch size"), *shape[1:])
        return shape

    @cached_property
    def _axis_names(self) -> tuple[str, ...]:
        return self.axis_names()

    def axis_names(self) -> tuple[str, ...]:
        """The input's axis names, batch first: (N, T) for tokens, (N, C, H, W) for an image."""
        if self.axes:
            return self.axes
        spatial = len(self.input_shape) - 2
        return ("N", "C", *SPATIAL_NAMES.get(spatial, tuple(f"S{i}" for i in range(1, spatial + 1))))

    @cached_property
    def _shape_form(self) -> str:
        """'(N, C, H, W) of positive ints, batch first, like (1, 3, 224, 224)'."""
        like = ", ".join(str(v) for v in self.input_shape)
        return f"({', '.join(self._axis_names)}) of positive ints, batch first, like ({like})"


def _inputs_of(op: Op, figures: list[tuple]) -> tuple[Shape, ...]:
    """An earlier operation's input shapes (figures[i][1] is value i's shape)."""
    return tuple(figures[i][1] for i in op.inputs)


def _size(value: Any, field: str, axis: str, expected: str) -> Any:
    """One entry of an input shape: a positive int of at most MAX_INT_DIGITS digits (an int-like
    such as numpy.int64 becomes an int), or a sympy expression not known to be otherwise."""
    if type(value) is not int:
        if isinstance(value, bool):
            raise ShapeError(f"{axis} is {value}, a bool", field=field, expected=expected)
        if _is_symbolic(value):
            if value.is_integer is False or value.is_positive is False:
                raise ShapeError(f"{axis} is {value}, not a positive integer", field=field, expected=expected)
            return value
        try:
            value = operator.index(value)
        except (TypeError, ValueError):
            text = repr(value) if isinstance(value, (float, str)) else ""
            shown = text if 0 < len(text) <= 40 else "a " + type(value).__name__
            raise ShapeError(f"{axis} is {shown}, not an int", field=field, expected=expected) from None
    if int_too_big(value):
        raise ShapeError(f"{axis} {too_big(value)}", field=field,
                         expected=f"an int of at most {MAX_INT_DIGITS} digits")
    if value < 1:
        raise ShapeError(f"{axis} is {value}, not positive", field=field, expected=expected)
    return value


def _is_symbolic(value: Any) -> bool:
    """A sympy expression (calc.closed_form evaluates networks at symbolic sizes).  Looked up in
    sys.modules: such a value exists only once sympy is loaded, and a plain evaluation must not
    load it."""
    sympy = sys.modules.get("sympy")
    return sympy is not None and isinstance(value, sympy.Expr)


def run(ops: tuple[Op, ...], input_shape: Shape, emit: Callable[[Op, Any], Any]) -> list[Any]:
    """Propagate shapes through the program; `emit(op, tally)` for each operation."""
    values: list[Shape] = [input_shape]
    results = []
    for op in ops:
        tally = _tally(op, tuple(values[i] for i in op.inputs))
        tally.tied = op.tie is not None  # its weight counted at its owner
        tally.reads_input = op.inputs[0] == 0  # the data: no gradient in training (a second
        # reference to it, e.g. for a width, is no product with it)
        values.append(tally.output)
        results.append(emit(op, tally))
    return results


def _tally(op: Op, inputs: tuple[Shape, ...]) -> Any:
    """The operation's tally, its stated input checked first; errors get the op's location."""
    if op.checks is not None:
        _check_record(op, op.checks, inputs)
    try:
        return op.layer.tally(inputs)
    except CalcError as exc:
        raise _with_place(op, exc) from None


def _with_place(op: Op, exc: CalcError, path: str | None = None) -> CalcError:
    """The error with the operation's path (or `path`) and where the spec wrote it (or the
    field named)."""
    location = op.locate(exc.field) if op.locate else None
    return exc.with_context(location=location, path=path or op.path)


def _check_record(op: Op, checks: Layer, inputs: tuple[Shape, ...]) -> None:
    """The spec record's stated input against the inferred one; errors placed at the record."""
    try:
        checks.check_inputs(inputs)
    except CalcError as exc:
        raise _with_place(op, exc, op.record_path) from None
