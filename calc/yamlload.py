"""Safe, bounded YAML loading that remembers where every value stands.

- Only the plain YAML types are built (mapping, sequence, str, int, float, bool, null): any tag
  that would construct an object is refused.  No `eval`, no Python objects.
- Aliases are expanded by this loader, within a budget (2,000,000 nodes, and at most 10 times
  the document's own nodes plus 100,000), so a "billion laughs" document is refused at once
  instead of exhausting memory.
- Nesting depth and document size are bounded; duplicate keys and merge keys (<<) are errors.
- `Located.locate(path)` gives the file, line and column of any key path in the result.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from calc.errors import Location, YamlError

MAX_BYTES = 16 * 1024 * 1024
MAX_NODES = 2_000_000
MAX_DEPTH = 64
MAX_ALIAS_GROWTH = 10

_PLAIN_TAGS = {
    "tag:yaml.org,2002:str", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null",
}
_MAP = "tag:yaml.org,2002:map"
_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_SEQ = "tag:yaml.org,2002:seq"


@dataclass
class Located:
    """Loaded data plus the position of every container and value, by object identity."""

    data: Any
    file: str
    positions: dict[int, dict[Any, Location]] = field(default_factory=dict)
    starts: dict[int, Location] = field(default_factory=dict)
    keep: list[Any] = field(default_factory=list)  # keeps ids stable while the index lives

    def where(self, container: Any, key: Any = None) -> Location | None:
        if key is not None:
            loc = self.positions.get(id(container), {}).get(key)
            if loc is not None:
                return loc
        return self.starts.get(id(container))

    def locate(self, path: tuple[Any, ...], root: Any = None) -> Location | None:
        """Location of the value at `path` below `root` (default: the document), or of the
        deepest existing container on the way."""
        node = self.data if root is None else root
        best = self.starts.get(id(node))
        for key in path:
            loc = self.positions.get(id(node), {}).get(key)
            if loc is None:
                break
            best = loc
            try:
                node = node[key]
            except (KeyError, IndexError, TypeError):
                break
        return best


def _mark(file: str, node: yaml.Node) -> Location:
    return Location(file, node.start_mark.line + 1, node.start_mark.column + 1)


class _Builder:
    def __init__(self, file: str, loader: yaml.SafeLoader) -> None:
        self.file = file
        self.loader = loader
        self.nodes = 0
        self.result = Located(None, file)

    def build(self, node: yaml.Node, depth: int = 0) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise YamlError(
                f"document expands to more than {MAX_NODES:,} nodes (alias expansion bomb?)",
                location=_mark(self.file, node), expected="a spec without runaway aliases",
            )
        if depth > MAX_DEPTH:
            raise YamlError(
                f"nesting deeper than {MAX_DEPTH} levels", location=_mark(self.file, node),
                expected="a flatter document",
            )
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, depth)
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _SEQ:
                raise self._bad_tag(node)
            items: list[Any] = []
            positions: dict[Any, Location] = {}
            for i, child in enumerate(node.value):
                items.append(self.build(child, depth + 1))
                positions[i] = _mark(self.file, child)
            self._remember(items, node, positions)
            return items
        if node.tag not in _PLAIN_TAGS:
            raise self._bad_tag(node)
        try:
            return self.loader.construct_scalar_value(node)
        except (ValueError, KeyError, TypeError, OverflowError, yaml.YAMLError):
            kind = node.tag.rsplit(":", 1)[-1]
            raise YamlError(
                f"{node.value[:40]!r} is not a valid {kind}", location=_mark(self.file, node),
                expected=f"{'an' if kind[0] in 'aeiou' else 'a'} {kind}"
                + (" of at most 4300 digits" if kind == "int" else ""),
            ) from None

    def _mapping(self, node: yaml.MappingNode, depth: int) -> dict[Any, Any]:
        if node.tag != _MAP:
            raise self._bad_tag(node)
        result: dict[Any, Any] = {}
        positions: dict[Any, Location] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise YamlError(
                    "merge keys (<<) are not supported", location=_mark(self.file, key_node),
                    expected="explicit keys, or a block with parameters",
                )
            key = self.build(key_node, depth + 1)
            if isinstance(key, (dict, list)):
                raise YamlError("a mapping key must be a plain value", location=_mark(self.file, key_node))
            if key in result:
                raise YamlError(
                    f"duplicate key {key!r}", location=_mark(self.file, key_node),
                    expected="each key once per mapping",
                )
            result[key] = self.build(value_node, depth + 1)
            positions[key] = _mark(self.file, key_node)
        self._remember(result, node, positions)
        return result

    def _remember(self, container: Any, node: yaml.Node, positions: dict[Any, Location]) -> None:
        self.result.positions[id(container)] = positions
        self.result.starts[id(container)] = _mark(self.file, node)
        self.result.keep.append(container)

    def _bad_tag(self, node: yaml.Node) -> YamlError:
        return YamlError(
            f"tag {node.tag!r} is not allowed", location=_mark(self.file, node),
            expected="plain YAML: mappings, lists, strings, numbers, true/false, null",
        )


_BASE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""LibYAML's parser when PyYAML was built with it (10x faster on large specs), else PyYAML's."""


class _Loader(_BASE_LOADER):  # type: ignore[misc, valid-type]
    """A safe loader that only composes; values are built by `_Builder`."""

    def construct_scalar_value(self, node: yaml.ScalarNode) -> Any:
        # Fast paths for the two scalars specs are made of; anything else (0x.., 1_000, yes,
        # ~, ...) goes through PyYAML's YAML 1.1 rules.
        value = node.value
        if node.tag == _STR:
            return value
        if node.tag == _INT and value.isdigit() and (value[0] != "0" or value == "0") and len(value) < 4000:
            return int(value)
        return self.construct_object(node, deep=False)


def expanded_size(root: yaml.Node) -> tuple[int, int]:
    """Nodes the document has once every alias is expanded, computed without expanding:
    each distinct node's size is memoised, so a 'billion laughs' costs only its own length.
    Returns (expanded size, distinct nodes)."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        else:
            sizes[id(node)] = 1
            continue
        if children_done:
            sizes[id(node)] = min(1 + sum(sizes[id(c)] for c in children), 10**18)
            open_nodes.discard(id(node))
            continue
        if id(node) in open_nodes:
            raise RecursionError  # reported by the caller as a recursive alias
        open_nodes.add(id(node))
        stack.append((node, True))
        for c in children:
            if id(c) in open_nodes:
                raise YamlError(
                    "an alias refers to a node that contains it", location=_mark("", c),
                    expected="aliases to finished nodes only",
                )
            if id(c) not in sizes:
                stack.append((c, False))
    return sizes[id(root)], len(sizes)


def loads(text: str, file: str = "<string>") -> Located:
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise YamlError(
            f"document is larger than {MAX_BYTES // (1024 * 1024)} MiB", location=Location(file),
            expected="a smaller spec",
        )
    loader = None
    try:
        loader = _Loader(text)
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = Location(file, mark.line + 1, mark.column + 1) if mark else Location(file)
        raise YamlError(f"YAML syntax: {exc.problem or exc.context}", location=loc) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        col = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        raise YamlError(
            "character U+%04X is not allowed in YAML"
            % (exc.character if isinstance(exc.character, int) else ord(exc.character)), location=Location(file, line, col),
            expected="printable text",
        ) from None
    except yaml.YAMLError as exc:
        raise YamlError(f"YAML: {exc}", location=Location(file)) from None
    except UnicodeError as exc:  # LibYAML takes UTF-8: a lone surrogate cannot be encoded
        bad = getattr(exc, "start", 0)
        line = text.count("\n", 0, bad) + 1
        col = bad - (text.rfind("\n", 0, bad) + 1) + 1
        raise YamlError(
            f"character U+{ord(text[bad]):04X} is not allowed in YAML" if bad < len(text)
            else "text is not valid Unicode", location=Location(file, line, col),
            expected="printable text",
        ) from None
    except RecursionError:
        raise YamlError(
            f"nesting deeper than {MAX_DEPTH} levels", location=_too_deep(text, file),
            expected="a flatter document",
        ) from None
    finally:
        if loader is not None:
            loader.dispose()
    builder = _Builder(file, loader)
    if node is None:
        raise YamlError("empty document", location=Location(file, 1, 1), expected="a mapping")
    try:
        # Without an anchor there is no alias to expand: the size is the text's own.
        size, distinct = expanded_size(node) if "&" in text else (0, 0)
    except YamlError as exc:
        exc.location = Location(file, exc.location.line, exc.location.col) if exc.location else None
        raise
    # Aliases may repeat what is written, not multiply it without bound: the expansion is
    # limited absolutely and relative to the document's own size.
    allowed = min(MAX_NODES, MAX_ALIAS_GROWTH * distinct + 100_000)
    if size > allowed:
        raise YamlError(
            f"document expands to {size:,} nodes through its aliases, more than {allowed:,}",
            location=Location(file, 1, 1), expected="a spec without runaway aliases",
        )
    try:
        builder.result.data = builder.build(node)
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        loc = Location(file, mark.line + 1, mark.column + 1) if mark else Location(file)
        raise YamlError(f"YAML: {exc.problem}", location=loc) from None
    except RecursionError:
        raise YamlError("document nests too deeply", location=Location(file)) from None
    return builder.result


def _too_deep(text: str, file: str) -> Location:
    """Where the nesting first goes past MAX_DEPTH, found by walking the parser's events
    (iterative, unlike PyYAML's recursive composer)."""
    depth = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    mark = event.start_mark
                    return Location(file, mark.line + 1, mark.column + 1)
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
    except yaml.YAMLError:
        pass
    return Location(file, 1, 1)


def load_file(path: str) -> Located:
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise YamlError("no such file", location=Location(path), expected="a path to a YAML spec") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise YamlError(f"cannot read: {exc}", location=Location(path)) from None
    return loads(text, path)


def as_mapping(value: Any) -> Mapping[str, Any] | None:
    return value if isinstance(value, dict) else None
