"""Build a `Network` program from a spec mapping: blocks, parameters, defaults, composition.

Spec items are mappings with a `type`: a layer kind (see `calc.layers`) or one of the
composites below.  Any item may carry `name` (its path segment; unnamed layers are numbered by
their position, as in nn.Sequential) and `when: EXPR` (left out when EXPR is 0 or false).

    sequential  layers: [...]
    residual    body: [...], shortcut: [...] (absent or empty: identity), shortcut_name,
                active: EXPR (0: just the body, no sum)            -> body + shortcut  (add)
    parallel    branches: [[...], ...] or {name: [...]} (a branch may be one layer mapping,
                which then takes the branch's name as its path), merge: concat | add,
                split: true (equal channel chunks) or [c1, c2, ...] -> merged branches
    gate        body: [...]                                       -> input * body(input) (mul)
    block       block: NAME, with: {param: value}, repeat: N, overrides: {i: {param: value}}

Composites without a name add no path segment; a residual's shortcut lives under
`shortcut_name` (default "shortcut"), merges under "add" / "concat" / "mul".
Field values may be integer expressions over the enclosing block's parameters (`calc.expr`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from calc.errors import Location, SpecError
from calc.expr import ExprError, evaluate, is_expression
from calc.layers import REGISTRY, Layer
from calc.layers.merge import Concat, ElementwiseMerge
from calc.layers.reshape import ChannelSlice
from calc.network.program import Network, Op
from calc.parse import layer_class, parse_layer, suggest
from calc.yamlload import Located

COMPOSITE_KEYS: dict[str, frozenset[str]] = {
    "sequential": frozenset({"type", "name", "when", "layers"}),
    "residual": frozenset({"type", "name", "when", "body", "shortcut", "shortcut_name", "active"}),
    "parallel": frozenset({"type", "name", "when", "branches", "merge", "split"}),
    "gate": frozenset({"type", "name", "when", "body"}),
    "block": frozenset({"type", "name", "when", "block", "with", "repeat", "overrides"}),
}
TOP_KEYS = frozenset({"name", "description", "source", "input", "batch", "defaults", "blocks", "layers"})
BLOCK_KEYS = frozenset({"params", "layers", "description"})
MAX_OPS = 1_000_000
"""Operations a spec may expand to: ten times the 100,000-layer size the benchmarks hold to
10 s and 500 MB (repeat counts are checked against it up front)."""
MAX_BLOCK_DEPTH = 64


def join(*parts: str) -> str:
    return ".".join(p for p in parts if p)


class Builder:
    def __init__(self, located: Located) -> None:
        self.src = located
        self.ops: list[Op] = []
        self.seen: dict[str, Any] = {}
        self.blocks: dict[str, Mapping[str, Any]] = {}
        self.defaults: dict[str, Any] = {}
        self.kind_defaults: dict[str, dict[str, Any]] = {}
        self.stack: list[str] = []
        self.shared: dict[tuple[type, str], Layer] = {}
        self.parsed: dict[tuple[int, str], tuple[Layer | None, list[tuple[str, Layer]]]] = {}
        """(spec item, its resolved fields) -> the record whose stated inputs are checked (None
        when it states none: only shared records are kept) and its shared primitives.  A
        repeated block validates each of its layers once per distinct set of values."""

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
        if not self.ops:
            raise self.error("the network has no operations (every item is left out by `when`)",
                             spec, "layers", field="layers", expected="at least one layer")
        return Network(name, shape, tuple(self.ops), self.src.file)

    def _input_shape(self, spec: dict) -> tuple[int, ...]:
        dims = spec["input"]
        batch = spec.get("batch", 1)
        ok = isinstance(dims, list) and 1 <= len(dims) <= 4 and all(
            type(d) is int and d > 0 for d in dims
        )
        if not ok:
            raise self.error(f"input must list positive ints, got {dims!r}", spec, "input",
                             field="input", expected="[C], [C, L], [C, H, W] or [C, D, H, W]")
        if type(batch) is not int or batch < 1:
            raise self.error(f"batch must be a positive int, got {batch!r}", spec, "batch", field="batch")
        return (batch, *dims)

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
            self.blocks[str(name)] = block

    def _only_keys(self, item: dict, allowed: frozenset[str], what: str, path: str = "") -> None:
        for key in item:
            if key not in allowed:
                raise self.error(f"unknown key '{key}' for {what}" + suggest(str(key), sorted(allowed)),
                                 item, key, path=path, field=str(key),
                                 expected="one of " + ", ".join(sorted(allowed)))

    # -- values ----------------------------------------------------------------------------------
    def resolve(self, value: Any, scope: Mapping[str, Any], container: Any, key: Any, path: str) -> Any:
        if isinstance(value, list):
            return [self.resolve(v, scope, value, i, path) for i, v in enumerate(value)]
        if not isinstance(value, str):
            return value
        if value in scope:
            return scope[value]
        if not is_expression(value):
            return value
        numbers = {k: v for k, v in scope.items() if type(v) in (int, bool)}
        try:
            return evaluate(value, numbers)
        except ExprError as exc:
            raise self.error(f"bad arithmetic in {value!r}: {exc}", container, key, path=path,
                             field=str(key), expected="+ - * // % ( ) over ints and block parameters") from None

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
            raise self.error(f"a layer must be a mapping with a 'type', got {item!r}", container, key,
                             path=join(prefix, index), expected="{type: conv, ...}")
        if "when" in item:
            if not self.resolve_int(item["when"], scope, item, "when", join(prefix, index), minimum=0):
                return cur
        kind = item.get("type")
        name = item.get("name")
        if name is not None and (not isinstance(name, str) or not name or "." in name):
            raise self.error(f"name must be a non-empty string without dots, got {name!r}", item, "name",
                             path=prefix, field="name")
        if isinstance(kind, str) and kind in COMPOSITE_KEYS:
            self._only_keys(item, COMPOSITE_KEYS[kind], kind, path=join(prefix, name or ""))
            base = join(prefix, name or "")
            return getattr(self, f"_{kind}")(item, cur, base, scope)
        return self.layer(item, cur, join(prefix, name or index), scope)

    def resolve_int(self, value: Any, scope: Mapping[str, Any], item: Any, key: str, path: str,
                    minimum: int) -> int:
        result = self.resolve(value, scope, item, key, path)
        if type(result) not in (int, bool) or result < minimum:
            raise self.error(f"{key} must be an int >= {minimum}, got {result!r}", item, key, path=path,
                             field=key)
        return int(result)

    def layer(self, item: dict, cur: int, path: str, scope: Mapping[str, Any]) -> int:
        locate_item = lambda p: self.src.locate(p, root=item)  # noqa: E731
        try:
            cls = layer_class(item, locate_item)
        except SpecError as exc:
            if exc.field == "type" and isinstance(item.get("type"), str):
                exc.message += "" if "did you mean" in exc.message else suggest(
                    item["type"], sorted(COMPOSITE_KEYS))
                exc.expected = "a layer kind or one of " + ", ".join(sorted(COMPOSITE_KEYS))
            raise exc.with_context(path=path)
        tag = item["type"]
        data: dict[str, Any] = {k: v for k, v in self.defaults.items() if k in cls.model_fields}
        data.update(self.kind_defaults.get(tag, {}))
        for k, v in item.items():
            if k not in ("when", "type", "name"):
                data[k] = self.resolve(v, scope, item, k, path)
            elif k != "when":
                data[k] = v
        # repr tells apart every value YAML and block arithmetic give (1, 1.0, True, '1').
        memo_key = (id(item), repr(data))
        known = self.parsed.get(memo_key)
        if known is None:
            try:
                layer = parse_layer(data, locate_item)
            except SpecError as exc:
                raise exc.with_context(path=path)
            primitives = [(s, self.share(p)) for s, p in layer.expand()]
            known = self.parsed[memo_key] = (layer if layer.needs_check() else None, primitives)
        stated, primitives = known
        locate: Callable[[str | None], Location | None] = (
            lambda field: self.src.where(item, field)
        )
        for i, (suffix, prim) in enumerate(primitives):
            checks = stated if i == 0 else None
            cur = self.emit(join(path, suffix), prim.kind, prim, (cur,), checks, locate, item)
        return cur

    def share(self, layer: Layer) -> Layer:
        """One record object per distinct record (name aside), so that evaluation can reuse the
        costs of a repeated block."""
        key = (type(layer), layer.model_dump_json(exclude={"name"}))
        return self.shared.setdefault(key, layer)

    def emit(self, path: str, kind: str, layer: Layer, inputs: tuple[int, ...], checks: Layer | None,
             locate: Callable[[str | None], Location | None], item: Any) -> int:
        if path in self.seen:
            first = self.src.where(self.seen[path])
            raise self.error(
                f"duplicate layer path '{path}'" + (f" (first at {first})" if first else ""),
                item, "name" if "name" in item else None, path=path, field="name",
                expected="unique names; name the composite or the layer",
            )
        if len(self.ops) >= MAX_OPS:
            raise self.error(f"network has more than {MAX_OPS:,} operations", item, path=path)
        self.seen[path] = item
        self.ops.append(Op(path, kind, layer, inputs, checks, locate))
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
            short = self.items(item["shortcut"], cur, join(base, shortcut_name), scope, item, "shortcut")
        return self.merge(join(base, "add"), ElementwiseMerge(type="add"), (body, short), item)

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
            raise self.error("parallel needs at least two branches", item, "branches", path=base,
                             field="branches")
        split = self.resolve(item.get("split", False), scope, item, "split", base)
        parts: Any = None
        if split is True:
            parts = len(named)
        elif isinstance(split, list):
            if len(split) != len(named) or not all(type(s) is int and s > 0 for s in split):
                raise self.error(f"split must list one positive channel count per branch, got {split!r}",
                                 item, "split", path=base, field="split")
            parts = split
        elif split not in (False, None):
            raise self.error(f"split must be true or a list of channel counts, got {split!r}", item,
                             "split", path=base, field="split")
        outputs = []
        container = branches
        for i, (bname, body, key) in enumerate(named):
            src = cur
            bbase = join(base, bname)
            if parts is not None:
                src = self.merge(join(bbase, "split"), ChannelSlice(parts=parts, index=i), (cur,), item)
            if isinstance(body, dict):  # a branch of one layer takes the branch's name as its path
                outputs.append(self.item(body, src, base, bname, scope, container, key))
            else:
                outputs.append(self.items(body if body is not None else [], src, bbase, scope, container, key))
        merge = item.get("merge", "concat")
        if merge == "concat":
            return self.merge(join(base, "concat"), Concat(), tuple(outputs), item)
        if merge == "add":
            return self.merge(join(base, "add"), ElementwiseMerge(type="add"), tuple(outputs), item)
        raise self.error(f"unknown merge {merge!r}", item, "merge", path=base, field="merge",
                         expected="concat or add")

    def _block(self, item: dict, cur: int, base: str, scope: Mapping[str, Any]) -> int:
        name = item.get("block")
        if type(name) is int:  # `blocks: {1: ...}` is keyed by "1"; YAML reads `block: 1` as an int
            name = str(name)
        if not isinstance(name, str) or name not in self.blocks:
            raise self.error(f"unknown block {name!r}" + suggest(str(name), sorted(self.blocks)), item,
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
            for i in range(count):
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
                before = len(self.ops)
                cur = self.items(block["layers"], cur, path, local, block, "layers")
                if i == 0 and (len(self.ops) - before) * count > MAX_OPS - before:
                    raise self.error(
                        f"{count} repeats of block '{name}' ({len(self.ops) - before} operations "
                        f"each) would exceed {MAX_OPS:,} operations", item, "repeat", path=base,
                        field="repeat", expected="a smaller network",
                    )
        finally:
            self.stack.pop()
        return cur

    def _args(self, given: dict, params: dict, scope: Mapping[str, Any], base: str, block: str) -> dict:
        args = {}
        for key, value in given.items():
            if key not in params:
                raise self.error(f"block '{block}' has no parameter '{key}'" + suggest(str(key), list(params)),
                                 given, key, path=base, field=f"with.{key}",
                                 expected="one of " + (", ".join(params) or "no parameters"))
            args[key] = self.resolve(value, scope, given, key, base)
        return args


def build(located: Located) -> Network:
    return Builder(located).network()
