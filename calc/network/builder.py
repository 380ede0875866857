"""Build a `Network` program from a spec mapping: blocks, parameters, defaults, composition.

Spec items are mappings with a `type`: a layer kind (see `calc.layers`) or one of the
composites below.  Any item may carry `name` (its path segment; unnamed layers are numbered by
their position, as in nn.Sequential) and `when: EXPR` (left out when EXPR is 0 or false).

    sequential  layers: [...]
    residual    body: [...], shortcut: [...] (absent or empty: identity), shortcut_name,
                merge_name (the sum's path segment, default add),
                active: EXPR (0: just the body, no sum)            -> body + shortcut  (add)
    parallel    branches: [[...], ...] or {name: [...]} (a branch may be one layer mapping,
                which then takes the branch's name as its path), merge: concat | add |
                mul | matmul | einsum, split: true (equal channel chunks) or [c1, c2, ...]
                                                                  -> merged branches
                merge: matmul     exactly two branches, a @ b (torch.matmul); merge_form:
                                  matmul | operator | bmm says how PyTorch calls it (default
                                  matmul), e.g. attention scores q @ k^T (`matmul` kind)
                merge: einsum     equation: 'bij,bkj->bik', one operand per branch, in order
    gate        body: [...]                                       -> input * body(input) (mul)
    block       block: NAME, with: {param: value}, repeat: N, overrides: {i: {param: value}}

`defaults` sets fields that a layer does not state itself, two ways:
    defaults: {bias: false}            a field: every kind that has the field takes it (conv,
                                       pointwise, depthwise, separable, deconv, linear all lose bias)
    defaults: {conv: {bias: false}}    a kind: that kind only, as its `type` is written (pointwise,
                                       depthwise, separable and deconv keep their bias)
A kind's defaults win over field defaults; what a layer states wins over both.

Tied weights: a linear or embedding layer may say `tie: PATH`, the path of an earlier linear or
embedding whose weight it shares (GPT-2's lm_head: `tie: wte`).  The weights' shapes must match
(Linear (Cout, Cin), Embedding (num, dim)); the shared weight's params are counted once, at PATH,
as PyTorch's parameters() does: the tied layer's row shows 0 params, and its MACs and FLOPs
(each convention's, from the layer's own record) as usual.  Ties are not resolved inside `tie`
values: no block parameters or expressions.

Composites without a name add no path segment; a residual's shortcut lives under
`shortcut_name` (default "shortcut"), merges under "add" / "concat" / "mul".
Field values may be integer expressions over the enclosing block's parameters (`calc.expr`).

The input is the per-sample shape, the batch is `batch: N` (default 1):
    input: [C] | [C, L] | [C, H, W]         (a 4-entry list is refused: [N, C, H, W] or [C, D, H, W]?)
    input: {C: 3, D: 16, H: 112, W: 112}    (axes {C}, {C, L}, {C, H, W} or {C, D, H, W}; N allowed)
    input: {T: 1024} | {T: 197, d: 768}     (a sequence: token ids (N, T), vectors (N, T, d))
The input's spatial rank must fit the first layer that fixes one (a per-axis list, a stated H, W).

Work is bounded: at most MAX_OPS operations, MAX_STEPS expansion steps (items visited, those
left out by `when` included, block repeats, long lists), MAX_PATH characters per layer path, and
every int a spec gives or computes has at most calc.limits.MAX_INT_DIGITS digits.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import lru_cache
from typing import Any

from calc.errors import Location, SpecError
from calc.expr import ExprError, ExprTooBig, evaluate, is_expression
from calc.layers import REGISTRY, Layer
from calc.layers.merge import Concat, ElementwiseMerge
from calc.layers.reshape import ChannelSlice
from calc.layers.tensor import Einsum, Matmul, parse_equation
from calc.network.program import TIEABLE, Network, Op
from calc.limits import MAX_INT, MAX_INT_DIGITS, too_big
from calc.parse import accepts_words, layer_class, parse_layer, show, suggest, takes_numbers, tuple_hint
from calc.yamlload import Located

COMPOSITE_KEYS: dict[str, frozenset[str]] = {
    "sequential": frozenset({"type", "name", "when", "layers"}),
    "residual": frozenset({"type", "name", "when", "body", "shortcut", "shortcut_name", "merge_name", "active"}),
    "parallel": frozenset({"type", "name", "when", "branches", "merge", "split", "merge_form", "equation"}),
    "gate": frozenset({"type", "name", "when", "body"}),
    "block": frozenset({"type", "name", "when", "block", "with", "repeat", "overrides"}),
}
TOP_KEYS = frozenset({"name", "description", "source", "input", "batch", "defaults", "blocks", "layers"})
BLOCK_KEYS = frozenset({"params", "layers", "description"})
MAX_OPS = 100_000
"""Operations a spec may expand to.  Real networks have fewer than 10,000 (an LLM of 100 layers
a few thousand); 100,000 build and evaluate in about 1 s (2-3 s when every operation has a
shape of its own), the size bench/run.py holds `calc report` to.  Repeats are checked against
it before they run (tests/test_builder_trust.py)."""
MAX_STEPS = 4 * MAX_OPS
"""Expansion steps a spec may take: items visited (those left out by `when` included), block
repeats, and the entries past the AXES-th of lists that block parameters or expressions give.
Bounds the work of specs that add few operations (an empty block repeated 10**9 times), while a
spec of MAX_OPS operations with per-axis lists everywhere stays well under it.  400,000 steps
take about 0.5 s."""
AXES = 3
"""Entries of a per-axis list (one per spatial axis): lists this short count as no step."""
MAX_PATH = 1000
"""Characters in a layer path (every operation keeps its own)."""
MAX_BLOCK_DEPTH = 64
INPUT_AXES: tuple[tuple[str, ...], ...] = (("C",), ("C", "L"), ("C", "H", "W"), ("C", "D", "H", "W"),
                                           ("T",), ("T", "d"))
"""The named forms of `input`: by spatial rank, and sequences: token ids {T} (N, T) and
vectors {T, d} (N, T, d), whose T `calc symbolic` may keep as a variable."""
INPUT_FORMS = ("[C], [C, L] or [C, H, W], or named axes such as {C: 3, D: 16, H: 112, W: 112} "
               "or {T: 1024} (token ids)")
RANK_FORMS = {0: "[C]", 1: "[C, L]", 2: "[C, H, W]", 3: "{C, D, H, W}"}


def plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def join(*parts: str) -> str:
    return ".".join(p for p in parts if p)


class Builder:
    def __init__(self, located: Located) -> None:
        self.src = located
        self.ops: list[Op] = []
        self.steps = 0
        """Expansion steps taken so far (see MAX_STEPS)."""
        self.plain_lists: dict[int, bool] = {}
        """id of a spec list -> whether it holds only ints (returned as it is, at no cost)."""
        self.seen: dict[str, Any] = {}
        self.blocks: dict[str, Mapping[str, Any]] = {}
        self.defaults: dict[str, Any] = {}
        self.kind_defaults: dict[str, dict[str, Any]] = {}
        self.stack: list[str] = []
        self.shared: dict[tuple[type, str], Layer] = {}
        self.ties: list[tuple[dict, str, str]] = []
        """(item, target, path) of each `tie` naming no earlier layer (checked at the end)."""
        self.axes: tuple[str, ...] = ()
        """The input's axis names when the spec names a sequence ({T} or {T, d}); else by rank."""
        self.parsed: dict[tuple[int, tuple], tuple[Layer | None, list[tuple[str, Layer]]]] = {}
        """(spec item, the values its parameters and expressions took) -> the record whose
        stated inputs are checked (None when it states none: only shared records are kept) and
        its shared primitives.  A repeated block validates each of its layers once per distinct
        set of values."""

    # -- errors --------------------------------------------------------------------------------
    def error(self, message: str, container: Any, key: Any = None, *, path: str | None = None,
              field: str | None = None, expected: str | None = None) -> SpecError:
        return SpecError(message, location=self.src.where(container, key), path=path or None,
                         field=field, expected=expected)

    # -- top level -------------------------------------------------------------------------------
    def network(self) -> Network:
        spec = self.src.data
        if not isinstance(spec, dict):
            raise SpecError("a network spec must be a mapping", location=Location(self.src.file, 1, 1),
                            expected="keys " + ", ".join(sorted(TOP_KEYS)))
        self._only_keys(spec, TOP_KEYS, "network")
        for key in ("name", "input", "layers"):
            if key not in spec:
                raise self.error(f"missing required key '{key}'", spec, field=key,
                                 expected="name, input: [C, H, W] and layers: [...]")
        name = spec["name"]
        if not isinstance(name, str):
            raise self.error("name must be a string", spec, "name", field="name")
        shape = self._input_shape(spec)
        self._read_defaults(spec.get("defaults"), spec)
        self._read_blocks(spec.get("blocks"), spec)
        layers = spec["layers"]
        if not isinstance(layers, list) or not layers:
            raise self.error("layers must be a non-empty list", spec, "layers", field="layers")
        self.items(layers, 0, "", {})
        self._check_ties()
        if not self.ops:
            raise self.error("the network has no operations (every item is left out by `when`)",
                             spec, "layers", field="layers", expected="at least one layer")
        self._check_rank(len(shape) - 2, spec)
        return Network(name, shape, tuple(self.ops), self.src.file, self.axes)

    # -- input and batch -------------------------------------------------------------------------
    def _input_shape(self, spec: dict) -> tuple[int, ...]:
        """(N, C, *spatial) from `input` (the per-sample shape) and `batch` (or input's N)."""
        dims = spec["input"]
        if isinstance(dims, dict):
            sizes, batch = self._input_axes(dims, spec)
        elif isinstance(dims, list):
            sizes, batch = self._input_list(dims, spec), None
        else:
            raise self.error(f"input must be a list or a mapping of axis sizes, got {show(dims)}", spec,
                             "input", field="input", expected=INPUT_FORMS)
        if "batch" in spec:
            if batch is not None:
                raise self.error("the batch is given twice: input's N and batch", spec, "batch",
                                 field="batch", expected="one of them")
            batch = self._size(spec["batch"], spec, "batch", "batch")
        return (1 if batch is None else batch, *sizes)

    def _input_list(self, dims: list, spec: dict) -> tuple[int, ...]:
        sizes = tuple(self._size(d, dims, i, "input") for i, d in enumerate(dims))
        if len(sizes) == 4:
            n, c, h, w = sizes
            raise self.error(
                f"{list(sizes)} is ambiguous: [N, C, H, W] (the batch written, as torchinfo "
                "takes it) or [C, D, H, W] (a 3-d input)", spec, "input", field="input",
                expected=f"input: [{c}, {h}, {w}] with batch: {n}, or the named form "
                         f"input: {{C: {n}, D: {c}, H: {h}, W: {w}}}",
            )
        if not 1 <= len(sizes) <= 3:
            raise self.error(f"input lists {len(sizes)} sizes", spec, "input", field="input",
                             expected=INPUT_FORMS + "; the batch goes in batch: N")
        return sizes

    def _input_axes(self, dims: dict, spec: dict) -> tuple[tuple[int, ...], int | None]:
        for key in dims:
            if key not in ("N", "C", "L", "D", "H", "W", "T", "d"):
                raise self.error(f"unknown axis {show(key)} in input", dims, key, field=f"input.{key}",
                                 expected="C, then L; H and W; or D, H and W; T (and d) for a "
                                          "sequence; N for the batch")
        axes = next((a for a in INPUT_AXES if set(a) == set(dims) - {"N"}), None)
        if axes is None:
            raise self.error(f"input axes {', '.join(map(str, dims))} do not name a shape", spec, "input",
                             field="input", expected="{C}, {C, L}, {C, H, W}, {C, D, H, W}, {T} or "
                                                     "{T, d}, plus N")
        if "T" in axes:
            self.axes = ("N", *axes)
        sizes = tuple(self._size(dims[a], dims, a, f"input.{a}") for a in axes)
        batch = self._size(dims["N"], dims, "N", "input.N") if "N" in dims else None
        return sizes, batch

    def _size(self, value: Any, container: Any, key: Any, field: str) -> int:
        """A positive int of at most MAX_INT_DIGITS digits, or a located error."""
        if type(value) is int and too_big(value):
            raise self.error(f"{field} {too_big(value)}", container, key, field=field,
                             expected=f"an int of at most {MAX_INT_DIGITS} digits")
        if type(value) is not int or value < 1:
            raise self.error(f"{field} must be a positive int, got {show(value)}", container, key,
                             field=field, expected="sizes that are positive ints")
        return value

    def _check_rank(self, rank: int, spec: dict) -> None:
        """The input's spatial rank must be the one the first layer that fixes a rank takes
        (a per-axis list such as K: [3, 3, 3], or stated H and W), among the operations that
        still see the input's rank (before any flatten)."""
        same = {0}
        known: dict[int, tuple[int, str] | None] = {}  # shared record -> its rank (or None)
        for value, op in enumerate(self.ops, start=1):
            inputs = op.inputs
            if not (inputs[0] in same if len(inputs) == 1 else all(i in same for i in inputs)):
                continue
            found = op.checks.spatial_rank() if op.checks is not None else None
            if found is None:
                layer_id = id(op.layer)
                if layer_id not in known:
                    known[layer_id] = op.layer.spatial_rank()
                found = known[layer_id]
            if found is not None:
                wanted, field = found
                if wanted != rank:
                    where = op.locate(field) if op.locate else None
                    raise self.error(
                        f"input has {rank} spatial axes ({RANK_FORMS.get(rank, '?')}) but layer "
                        f"'{op.path}' takes {wanted} ({field}" + (f" at {where}" if where else "") + ")",
                        spec, "input", field="input",
                        expected=f"input {RANK_FORMS.get(wanted, '?')} for that layer, or its "
                                 f"per-axis fields for {rank}-d",
                    )
                return
            if op.layer.keeps_rank():
                same.add(value)

    def _read_defaults(self, defaults: Any, spec: dict) -> None:
        if defaults is None:
            return
        if not isinstance(defaults, dict):
            raise self.error("defaults must be a mapping", spec, "defaults", field="defaults")
        all_fields = {f for cls in REGISTRY.values() for f in cls.model_fields}
        for key, value in defaults.items():
            if key in REGISTRY:
                if not isinstance(value, dict):
                    raise self.error(f"defaults for '{key}' must be a mapping", defaults, key,
                                     field=f"defaults.{key}")
                fields = REGISTRY[key].model_fields
                for f in value:
                    if f not in fields or f in ("type", "name"):
                        raise self.error(f"'{key}' has no field '{f}'" + suggest(str(f), list(fields)),
                                         value, f, field=f"defaults.{key}.{f}")
                self.kind_defaults[key] = value
            elif key in all_fields and key not in ("type", "name"):
                self.defaults[key] = value
            else:
                raise self.error(
                    f"'{key}' is neither a layer kind nor a layer field"
                    + suggest(str(key), sorted(all_fields | set(REGISTRY))),
                    defaults, key, field=f"defaults.{key}",
                )

    def _read_blocks(self, blocks: Any, spec: dict) -> None:
        if blocks is None:
            return
        if not isinstance(blocks, dict):
            raise self.error("blocks must be a mapping of name to block", spec, "blocks", field="blocks")
        for name, block in blocks.items():
            if not isinstance(block, dict):
                raise self.error(f"block '{name}' must be a mapping", blocks, name, field=f"blocks.{name}")
            self._only_keys(block, BLOCK_KEYS, f"block '{name}'", path=f"blocks.{name}")
            if not isinstance(block.get("layers"), list):
                raise self.error(f"block '{name}' needs layers: [...]", blocks, name,
                                 field=f"blocks.{name}.layers")
            params = block.get("params", {})
            if not isinstance(params, dict):
                raise self.error("params must map names to defaults (null: required)", block, "params",
                                 field=f"blocks.{name}.params")
            if name in REGISTRY or name in COMPOSITE_KEYS:
                raise self.error(f"block name '{name}' is already a layer kind", blocks, name,
                                 field=f"blocks.{name}")
            for param, value in params.items():
                if not isinstance(param, str) or not param.isidentifier():
                    raise self.error(f"parameter name {show(param)} is not a name", params, param,
                                     field=f"blocks.{name}.params",
                                     expected="a name such as ch or stride (letters, digits, _)")
                self._bounded(value, params, param, f"blocks.{name}", f"params.{param}")
            self.blocks[str(name)] = block

    def _only_keys(self, item: dict, allowed: frozenset[str], what: str, path: str = "") -> None:
        for key in item:
            if key not in allowed:
                raise self.error(f"unknown key '{key}' for {what}" + suggest(str(key), sorted(allowed)),
                                 item, key, path=path, field=str(key),
                                 expected="one of " + ", ".join(sorted(allowed)))

    # -- values ----------------------------------------------------------------------------------
    def resolve(self, value: Any, scope: Mapping[str, Any], container: Any, key: Any, path: str) -> Any:
        """A spec value with block parameters and expressions replaced by their values."""
        if type(value) is int:
            if -MAX_INT <= value <= MAX_INT:  # (calc.limits.int_too_big, inlined: the usual case)
                return value
            return self._bounded(value, container, key, path, str(key))
        if isinstance(value, list):
            plain = self.plain_lists.get(id(value))
            if plain is None:  # looked at once: at most the document's size in all
                plain = self.plain_lists[id(value)] = all(
                    type(v) is int and not too_big(v) for v in value)
            if plain:
                return value
            self.step(len(value) - AXES, container, key, path)
            return [self.resolve(v, scope, value, i, path) for i, v in enumerate(value)]
        if not isinstance(value, str):
            return value
        if value in scope:
            return scope[value]
        if not is_expression(value):
            return value
        try:
            return evaluate(value, scope)
        except ExprTooBig as exc:
            raise self.error(f"{show(value)}: {exc}", container, key, path=path, field=str(key),
                             expected=f"ints of at most {MAX_INT_DIGITS} digits") from None
        except ExprError as exc:
            hint = tuple_hint(value, str(key))
            if hint is not None:
                raise self.error(f"{show(value)} is a string, not a list (YAML has no tuples)", container, key,
                                 path=path, field=str(key), expected=f"a list in brackets: {hint}") from None
            raise self.error(f"bad arithmetic in {show(value, 80)}: {exc}", container, key, path=path,
                             field=str(key), expected="+ - * // % ( ) over ints and block parameters") from None

    def _bounded(self, value: Any, container: Any, key: Any, path: str, field: str) -> Any:
        """`value`, or a located error if it is an int of more than MAX_INT_DIGITS digits."""
        if type(value) is int and too_big(value):
            raise self.error(f"{field} {too_big(value)}", container, key, path=path, field=field,
                             expected=f"an int of at most {MAX_INT_DIGITS} digits")
        return value

    def step(self, steps: int, container: Any, key: Any, path: str) -> None:
        """Count expansion work; refuse a spec that takes more than MAX_STEPS."""
        self.steps += max(steps, 0)
        if self.steps > MAX_STEPS:
            raise self.error(
                f"the spec expands to more than {MAX_STEPS:,} steps (items visited, those left out "
                "by `when` included, block repeats, entries of long lists)", container, key, path=path,
                expected=f"a smaller network (at most {MAX_OPS:,} operations)",
            )

    def path(self, prefix: str, name: str, container: Any, key: Any) -> str:
        """prefix.name, refused past MAX_PATH characters."""
        path = join(prefix, name)
        if len(path) > MAX_PATH:
            raise self.error(f"layer path of {len(path):,} characters, more than {MAX_PATH:,}",
                             container, key, path=path[:60] + "...", expected="shorter names")
        return path

    # -- items ----------------------------------------------------------------------------------
    def items(self, items: Any, cur: int, prefix: str, scope: Mapping[str, Any], container: Any = None,
              key: Any = None) -> int:
        if not isinstance(items, list):
            raise self.error(f"expected a list of layers, got {type(items).__name__}", container, key,
                             path=prefix, expected="a YAML list")
        for index, item in enumerate(items):
            cur = self.item(item, cur, prefix, str(index), scope, items, index)
        return cur

    def item(self, item: Any, cur: int, prefix: str, index: str, scope: Mapping[str, Any],
             container: Any, key: Any) -> int:
        if not isinstance(item, dict):
            raise self.error(f"a layer must be a mapping with a 'type', got {show(item)}", container, key,
                             path=join(prefix, index), expected="{type: conv, ...}")
        self.steps += 1
        if self.steps > MAX_STEPS:
            self.step(0, container, key, prefix)
        if "when" in item:
            if not self.resolve_int(item["when"], scope, item, "when", join(prefix, index), minimum=0):
                return cur
        kind = item.get("type")
        name = item.get("name")
        if name is not None and (not isinstance(name, str) or not name or "." in name):
            raise self.error(f"name must be a non-empty string without dots, got {show(name)}", item,
                             "name", path=prefix, field="name")
        if isinstance(kind, str) and kind in COMPOSITE_KEYS:
            base = self.path(prefix, name or "", item, "name")
            self._only_keys(item, COMPOSITE_KEYS[kind], kind, path=base)
            return getattr(self, f"_{kind}")(item, cur, base, scope)
        return self.layer(item, cur, self.path(prefix, name or index, item, "name"), scope)

    def resolve_int(self, value: Any, scope: Mapping[str, Any], item: Any, key: str, path: str,
                    minimum: int) -> int:
        result = self.resolve(value, scope, item, key, path)
        if type(result) not in (int, bool) or result < minimum:
            raise self.error(f"{key} must be an int >= {minimum}, got {show(result)}", item, key, path=path,
                             field=key)
        return int(result)

    def layer(self, item: dict, cur: int, path: str, scope: Mapping[str, Any]) -> int:
        locate_item = lambda p: self.src.locate(p, root=item)  # noqa: E731
        try:
            cls = layer_class(item, locate_item)
        except SpecError as exc:
            if exc.field == "type" and isinstance(item.get("type"), str):
                exc.message += "" if "; " in exc.message else suggest(item["type"], sorted(COMPOSITE_KEYS))
                exc.expected = (f"a layer kind ({', '.join(sorted(REGISTRY))}) or a composite "
                                f"({', '.join(sorted(COMPOSITE_KEYS))})")
            raise exc.with_context(path=path)
        tag = item["type"]
        data: dict[str, Any] = {k: v for k, v in self.defaults.items() if k in cls.model_fields}
        data.update(self.kind_defaults.get(tag, {}))
        # The item and the defaults are fixed: only the values its names and expressions take
        # vary from one use to the next, and they make the memo key.
        varying: list[Any] = []
        words = _word_fields(cls)
        for k, v in item.items():
            if k == "tie":
                continue
            if k not in ("when", "type", "name"):
                if k in words and isinstance(v, str):  # text, never arithmetic: 'bij,bjk->bik'
                    data[k] = resolved = scope.get(v, v)
                else:
                    data[k] = resolved = self.resolve(v, scope, item, k, path)
                if resolved is not v:
                    varying.append((k, self.freeze(resolved, item, k, path)))
            elif k != "when":
                data[k] = v
        memo_key = (id(item), tuple(varying))
        known = self.parsed.get(memo_key)
        if known is None:
            try:
                layer = parse_layer(data, locate_item)
            except SpecError as exc:
                raise (self._undefined_name(exc, cls, data, scope) or exc).with_context(path=path)
            primitives = [(s, self.share(p), refs) for s, p, refs in layer.graph()]
            known = self.parsed[memo_key] = (layer if layer.needs_check() else None, primitives)
        stated, primitives = known
        locate: Callable[[str | None], Location | None] = (
            lambda field: self.src.where(item, field)
        )
        first = len(self.ops)
        values: list[int] = []
        for i, (suffix, prim, refs) in enumerate(primitives):
            checks = stated if i == 0 else None
            inputs = tuple([cur if r < 0 else values[r] for r in refs])
            values.append(self.emit(join(path, suffix), prim.kind, prim, inputs, checks, locate, item,
                                    record_path=path if checks is not None and suffix else None))
        if "tie" in item:
            self._tie(item, first, path)
        return values[-1]

    def _tie(self, item: dict, index: int, path: str) -> None:
        """`tie: PATH`: the operation's weight is that of the earlier operation at PATH (GPT-2's
        lm_head and wte); its row then shows 0 params (see calc.network.program.tied_weight)."""
        target = item["tie"]
        op = self.ops[index]
        if not isinstance(target, str) or not target:
            raise self.error(f"tie must be the path of an earlier layer, got {show(target)}", item, "tie",
                             path=path, field="tie", expected="a path such as wte or blocks.0.attn.proj")
        if op.kind not in TIEABLE:
            raise self.error(f"a '{op.kind}' cannot share a weight", item, "tie", path=path, field="tie",
                             expected="tie on an embedding or linear layer")
        if target == op.path:
            raise self.error(f"'{target}' ties to itself", item, "tie", path=path, field="tie",
                             expected="the path of an earlier layer")
        if not any(o.path == target for o in self.ops[:index]):
            self.ties.append((item, target, path))  # unknown, or a later layer: told apart at the end
            return
        kind = next(o.kind for o in self.ops if o.path == target)
        if kind not in TIEABLE:
            raise self.error(f"tie names '{target}', a '{kind}', which has no weight to share", item, "tie",
                             path=path, field="tie", expected="the path of an embedding or linear layer")
        self.ops[index] = replace(op, tie=target)

    def _check_ties(self) -> None:
        """A tie left unresolved names a layer that comes later, or none."""
        for item, target, path in self.ties:
            if target in self.seen:
                raise self.error(f"tie names '{target}', which comes later", item, "tie", path=path,
                                 field="tie", expected="the path of an earlier layer (the weight's owner)")
            raise self.error(f"tie names '{target}', which is no layer{suggest(target, list(self.seen))}",
                             item, "tie", path=path, field="tie", expected="the path of an earlier layer")

    def _undefined_name(self, exc: SpecError, cls: type[Layer], data: dict,
                        scope: Mapping[str, Any]) -> SpecError | None:
        """For a field that takes numbers and no word, and failed on a bare word ('ch'): the
        error that says the word is no block parameter in scope (None when that is not the cause)."""
        field = (exc.field or "").split(".")[0]
        value = data.get(field)
        info = cls.model_fields.get(field)
        if info is None or not isinstance(value, str) or not value.isidentifier() or value in scope:
            return None
        if accepts_words(info.annotation) or not takes_numbers(info.annotation):
            return None
        if self.stack:
            known = ", ".join(str(p) for p in scope) or "none"
            exc.message = f"{show(value)} is not a parameter of block '{self.stack[-1]}' (parameters: {known})"
            exc.expected = "a number, a parameter of the block, or arithmetic over them"
        else:
            exc.message = f"{show(value)} is not a number, and there are no block parameters here"
            exc.expected = "a number; block parameters exist only inside a block's layers"
        return exc

    def freeze(self, value: Any, container: Any, key: Any, path: str) -> Any:
        """A hashable stand-in for a resolved value that tells apart everything YAML and block
        arithmetic give (1, 1.0, True, '1'); a list's entries count as expansion steps."""
        if isinstance(value, list):
            self.step(len(value) - AXES, container, key, path)
            return (list, tuple(self.freeze(v, container, key, path) for v in value))
        if isinstance(value, dict):
            self.step(len(value) - AXES, container, key, path)
            return (dict, tuple((k, self.freeze(v, container, key, path)) for k, v in value.items()))
        return (type(value), value)

    def share(self, layer: Layer) -> Layer:
        """One record object per distinct record (name aside), so that evaluation can reuse the
        costs of a repeated block."""
        key = (type(layer), layer.model_dump_json(exclude={"name"}))
        return self.shared.setdefault(key, layer)

    def emit(self, path: str, kind: str, layer: Layer, inputs: tuple[int, ...], checks: Layer | None,
             locate: Callable[[str | None], Location | None], item: Any,
             record_path: str | None = None) -> int:
        if path in self.seen:
            first = self.src.where(self.seen[path])
            raise self.error(
                f"duplicate layer path '{path}'" + (f" (first at {first})" if first else ""),
                item, "name" if "name" in item else None, path=path, field="name",
                expected="unique names; name the composite or the layer",
            )
        if len(self.ops) >= MAX_OPS:
            raise self.error(f"network has more than {MAX_OPS:,} operations", item, path=path,
                             expected="a smaller network (real networks have fewer than 10,000)")
        self.seen[path] = item
        self.ops.append(Op(path, kind, layer, inputs, checks, locate, record_path))
        return len(self.ops)

    def merge(self, path: str, layer: Layer, inputs: tuple[int, ...], item: dict) -> int:
        locate = lambda field: self.src.where(item, field)  # noqa: E731
        # Merges made here state no input and get as many inputs as they need: nothing to check.
        return self.emit(path, layer.kind, self.share(layer), inputs, None, locate, item)

    # -- composites ----------------------------------------------------------------------------
    def _sequential(self, item: dict, cur: int, base: str, scope: Mapping[str, Any]) -> int:
        return self.items(item.get("layers"), cur, base, scope, item, "layers")

    def _residual(self, item: dict, cur: int, base: str, scope: Mapping[str, Any]) -> int:
        if "body" not in item:
            raise self.error("residual needs body: [...]", item, path=base, field="body")
        body = self.items(item["body"], cur, base, scope, item, "body")
        if "active" in item and not self.resolve_int(item["active"], scope, item, "active", base, 0):
            return body
        shortcut_name = item.get("shortcut_name", "shortcut")
        if not isinstance(shortcut_name, str) or "." in shortcut_name:
            raise self.error("shortcut_name must be a plain name", item, "shortcut_name", path=base,
                             field="shortcut_name")
        short = cur
        if item.get("shortcut"):
            short = self.items(item["shortcut"], cur, self.path(base, shortcut_name, item, "shortcut_name"),
                               scope, item, "shortcut")
        merge_name = item.get("merge_name", "add")
        if not isinstance(merge_name, str) or not merge_name or "." in merge_name:
            raise self.error("merge_name must be a plain name", item, "merge_name", path=base,
                             field="merge_name", expected="a name without dots, e.g. add or attn_add")
        return self.merge(join(base, merge_name), ElementwiseMerge(type="add"), (body, short), item)

    def _gate(self, item: dict, cur: int, base: str, scope: Mapping[str, Any]) -> int:
        if "body" not in item:
            raise self.error("gate needs body: [...]", item, path=base, field="body")
        gate = self.items(item["body"], cur, base, scope, item, "body")
        return self.merge(join(base, "mul"), ElementwiseMerge(type="mul"), (cur, gate), item)

    def _parallel(self, item: dict, cur: int, base: str, scope: Mapping[str, Any]) -> int:
        branches = item.get("branches")
        if isinstance(branches, dict):
            named = [(str(k), v, k) for k, v in branches.items()]
        elif isinstance(branches, list):
            named = [(str(i), v, i) for i, v in enumerate(branches)]
        else:
            raise self.error("parallel needs branches: a list of layer lists, or a mapping", item,
                             "branches", path=base, field="branches")
        if len(named) < 2:
            raise self.error(f"parallel needs at least two branches, got {len(named)}", item, "branches",
                             path=base, field="branches",
                             expected="two or more; for one branch use type: sequential")
        merged = self._product_merge(item, base, len(named))
        split = self.resolve(item.get("split", False), scope, item, "split", base)
        parts: Any = None
        if split is True:
            parts = len(named)
        elif isinstance(split, list):
            if len(split) != len(named) or not all(type(s) is int and s > 0 for s in split):
                raise self.error(f"split must list one positive channel count per branch, got {show(split)}",
                                 item, "split", path=base, field="split")
            parts = split
        elif split not in (False, None):
            raise self.error(f"split must be true or a list of channel counts, got {show(split)}", item,
                             "split", path=base, field="split")
        outputs = []
        container = branches
        for i, (bname, body, key) in enumerate(named):
            src = cur
            bbase = self.path(base, bname, container, key)
            if parts is not None:
                src = self.merge(join(bbase, "split"), ChannelSlice(parts=parts, index=i), (cur,), item)
            if isinstance(body, dict):  # a branch of one layer takes the branch's name as its path
                outputs.append(self.item(body, src, base, bname, scope, container, key))
            else:
                outputs.append(self.items(body if body is not None else [], src, bbase, scope, container, key))
        merge = item.get("merge", "concat")
        if merged is not None:
            return self.merge(join(base, merge), merged, tuple(outputs), item)
        if merge == "concat":
            return self.merge(join(base, "concat"), Concat(), tuple(outputs), item)
        if merge in ("add", "mul"):
            return self.merge(join(base, merge), ElementwiseMerge(type=merge), tuple(outputs), item)
        raise self.error(f"unknown merge {show(merge)}", item, "merge", path=base, field="merge",
                         expected="concat, add, mul, matmul or einsum")

    def _product_merge(self, item: dict, base: str, count: int) -> Layer | None:
        """The Matmul (merge: matmul) or Einsum (merge: einsum) whose operands are the branch
        outputs, in order; None for the other merges.  Checked before the branches are built."""
        merge = item.get("merge", "concat")
        for key, owner in (("merge_form", "matmul"), ("equation", "einsum")):
            if key in item and merge != owner:
                raise self.error(f"{key} applies to merge: {owner}, not merge: {show(merge)}", item, key,
                                 path=base, field=key, expected=f"merge: {owner}, or no {key}")
        if merge == "matmul":
            if count != 2:
                raise self.error(f"merge: matmul multiplies exactly two branches, got {count}", item,
                                 "branches", path=base, field="branches",
                                 expected="two branches: the left operand, then the right")
            form = item.get("merge_form", "matmul")
            if form not in ("matmul", "operator", "bmm"):
                raise self.error(f"unknown merge_form {show(form)}", item, "merge_form", path=base,
                                 field="merge_form", expected="matmul, operator or bmm")
            return Matmul(other_is="input", form=form)
        if merge == "einsum":
            equation = item.get("equation")
            if not isinstance(equation, str):
                raise self.error("merge: einsum needs equation: a string such as 'bij,bkj->bik'", item,
                                 "equation" if "equation" in item else None, path=base, field="equation",
                                 expected="one comma-separated operand per branch")
            try:
                parse_equation(equation, count)
            except SpecError as exc:
                raise self.error(exc.message, item, "equation", path=base, field="equation",
                                 expected=exc.expected) from None
            return Einsum(equation=equation)
        return None

    def _block(self, item: dict, cur: int, base: str, scope: Mapping[str, Any]) -> int:
        name = item.get("block")
        if type(name) is int:  # `blocks: {1: ...}` is keyed by "1"; YAML reads `block: 1` as an int
            name = str(name)
        if not isinstance(name, str) or name not in self.blocks:
            raise self.error(f"unknown block {show(name)}" + suggest(str(name), sorted(self.blocks)), item,
                             "block", path=base, field="block",
                             expected="one of " + (", ".join(sorted(self.blocks)) or "(no blocks defined)"))
        if name in self.stack or len(self.stack) >= MAX_BLOCK_DEPTH:
            chain = " -> ".join([*self.stack, name])
            raise self.error(f"blocks use each other recursively: {chain}", item, "block", path=base,
                             field="block", expected="blocks that do not include themselves")
        block = self.blocks[name]
        params: dict[str, Any] = dict(block.get("params") or {})
        given = item.get("with") or {}
        if not isinstance(given, dict):
            raise self.error("with must map parameter names to values", item, "with", path=base, field="with")
        args = self._args(given, params, scope, base, name)
        repeat = item.get("repeat")
        count = 1 if repeat is None else self.resolve_int(repeat, scope, item, "repeat", base, 1)
        overrides = item.get("overrides") or {}
        if not isinstance(overrides, dict) or not all(type(k) is int and 0 <= k < count for k in overrides):
            raise self.error(f"overrides must map iteration numbers 0..{count - 1} to parameters", item,
                             "overrides", path=base, field="overrides")
        self.stack.append(name)
        try:
            # Iterations without an override all expand alike: once one has run, the rest are
            # checked against the bounds before they run (overridden ones as they run).
            checked = False
            for i in range(count):
                ops, steps = len(self.ops), self.steps
                self.step(1, item, "block", base)
                local = {**params, **args}
                if i in overrides:
                    if not isinstance(overrides[i], dict):
                        raise self.error("an override must be a mapping", overrides, i, path=base,
                                         field=f"overrides.{i}")
                    local.update(self._args(overrides[i], params, scope, base, name))
                missing = [p for p, v in local.items() if v is None]
                if missing:
                    raise self.error(f"block '{name}' needs parameter '{missing[0]}'", item, "with",
                                     path=base, field=f"with.{missing[0]}")
                path = join(base, str(i)) if repeat is not None else base
                cur = self.items(block["layers"], cur, path, local, block, "layers")
                if i not in overrides and not checked:
                    checked = True
                    left = count - i - 1 - sum(1 for k in overrides if k > i)
                    self._check_repeats(item, base, name, count, left, len(self.ops) - ops,
                                        self.steps - steps)
        finally:
            self.stack.pop()
        return cur

    def _check_repeats(self, item: dict, base: str, name: str, count: int, left: int, ops: int,
                       steps: int) -> None:
        """Refuse a repeat whose `left` remaining plain iterations, of `ops` operations and
        `steps` steps each, would take the network past MAX_OPS or MAX_STEPS."""
        if ops and len(self.ops) + left * ops > MAX_OPS:
            raise self.error(
                f"{count:,} repeats of block '{name}' ({plural(ops, 'operation')} each) would exceed "
                f"{MAX_OPS:,} operations", item, "repeat", path=base, field="repeat",
                expected="a smaller network",
            )
        if self.steps + left * steps > MAX_STEPS:
            raise self.error(
                f"{count:,} repeats of block '{name}' ({plural(ops, 'operation')} and "
                f"{plural(steps, 'expansion step')} each) would exceed {MAX_STEPS:,} steps", item,
                "repeat", path=base,
                field="repeat", expected="a smaller repeat; a block that adds nothing need not repeat",
            )

    def _args(self, given: dict, params: dict, scope: Mapping[str, Any], base: str, block: str) -> dict:
        args = {}
        for key, value in given.items():
            if key not in params:
                raise self.error(f"block '{block}' has no parameter '{key}'" + suggest(str(key), list(params)),
                                 given, key, path=base, field=f"with.{key}",
                                 expected="one of " + (", ".join(params) or "no parameters"))
            if isinstance(value, str) and not _ARITHMETIC_TEXT.fullmatch(value):
                args[key] = value  # text for a text field ('bij,bjk->bik'); the field that uses it checks it
            else:
                args[key] = self.resolve(value, scope, given, key, base)
        return args


_ARITHMETIC_TEXT = re.compile(r"[\sA-Za-z0-9_+\-*/%()]*")
"""The characters block arithmetic is written in: a block argument with any other character
(',', '>', '.') is text, passed on as written."""


@lru_cache(maxsize=None)
def _word_fields(cls: type[Layer]) -> frozenset[str]:
    """The fields of a record that take text but no number (an einsum equation): their values
    are never read as arithmetic, though '-' and '>' appear in them."""
    return frozenset(name for name, info in cls.model_fields.items()
                     if accepts_words(info.annotation) and not takes_numbers(info.annotation))


def build(located: Located) -> Network:
    return Builder(located).network()
