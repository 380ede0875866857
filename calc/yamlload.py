"""Safe, bounded YAML loading that remembers where every value stands.

- The document is read from the parser's events (LibYAML's parser when PyYAML has it, else
  PyYAML's own): no object is ever constructed from a tag.  The result holds only mappings,
  lists, str, int, float, bool and None; any other tag (`!!python/...`, `!!set`, ...) is refused.
- Plain scalars are read as YAML 1.2 reads them, so a reading never depends on the YAML version:
  `true`/`false` (3 spellings each) are bools, `null`/`~`/nothing is None, decimal ints and
  ordinary floats are numbers, and `yes`/`no`/`on`/`off`/`y`/`n` are strings.  A plain scalar
  that some YAML version reads as a number in another notation (`010`, `0x40`, `0b10`, `0o17`,
  `1:30`, `1_6`, `1_0.5`) is refused at its line and column, saying what each version reads and
  what to write instead; so is a float that is not finite (`.inf`, `.nan`, `1e400`) and an int of
  more than `calc.limits.MAX_INT_DIGITS` digits (counted on the text, before `int()`).
- Bounds, checked while reading whatever the parser's own limits are: MAX_BYTES of text,
  MAX_NODES written nodes, nesting deeper than MAX_DEPTH, and aliases that expand the document
  past MAX_ALIAS_GROWTH times its own size (a "billion laughs" is refused without expanding it).
  Duplicate keys, duplicate anchors and merge keys (<<) are errors.
- An alias gives the anchored value itself, not a copy: the loaded data are read-only.
- `Located.where(container, key)` and `Located.locate(path)` give the file, line and column of
  any value of the result.
"""

from __future__ import annotations

import math
import os
import re
import select
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

import yaml

from calc.errors import Location, YamlError
from calc.limits import MAX_INT_DIGITS

MIB = 1024 * 1024
MAX_BYTES = 4 * MIB
MAX_NODES = 600_000
"""Nodes (keys, values, lists, mappings) a document may write, and may expand to through aliases.
The cost of a document is its nodes: LibYAML's events and the building take 1-2 us a node
(600,000 nodes: 0.6-1.1 s of CPU; a 4 MiB scalar: 0.05 s).  The 100,000-layer listing that
bench/run.py reports on has 500,000 nodes in 2.8 MB.  PyYAML's pure-Python parser is ~10 times
slower."""
MAX_DEPTH = 64
MAX_ALIAS_GROWTH = 10
STREAM_WAIT_S = 2.0
"""How long a spec path that is a FIFO or a device may keep the reader waiting for its first byte."""

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_SCALAR_TAGS = {_STR, _INT, _FLOAT, _BOOL, _NULL}
_EXPECTED_PLAIN = "plain YAML: mappings, lists, strings, numbers, true/false, null"
_SMALLER = (f"a spec of at most {MAX_BYTES // MIB} MiB and {MAX_NODES:,} nodes: "
            "describe large networks with blocks and `repeat`")

_WORDS: dict[str, Any] = {
    "": None, "~": None, "null": None, "Null": None, "NULL": None,
    "true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False,
}
"""YAML 1.2 core schema: the only plain words that are not strings."""
_NUMBER_START = frozenset("0123456789+-.")

# Numbers both YAML 1.1 and YAML 1.2 read alike.
_DECIMAL = re.compile(r"[-+]?(?:0|[1-9][0-9]*)")
_PLAIN_FLOAT = re.compile(r"[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+|[0-9]+(?=[eE]))(?:[eE][-+]?[0-9]+)?")
# YAML 1.1 as PyYAML reads it (yaml/resolver.py), and the YAML 1.2 core schema.
_INT_11 = re.compile(r"""[-+]?0b[0-1_]+ | [-+]?0[0-7_]+ | [-+]?(?:0|[1-9][0-9_]*) | [-+]?0x[0-9a-fA-F_]+
                         | [-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+""", re.X)
_FLOAT_11 = re.compile(r"""[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)? | \.[0-9][0-9_]*(?:[eE][-+][0-9]+)?
                           | [-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
                           | [-+]?\.(?:inf|Inf|INF) | \.(?:nan|NaN|NAN)""", re.X)
_INT_12 = re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+")
_FLOAT_12 = re.compile(r"""[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?
                           | [-+]?\.(?:inf|Inf|INF) | \.(?:nan|NaN|NAN)""", re.X)
_SOME_NUMBER = re.compile("|".join(f"(?:{p.pattern})" for p in (_INT_11, _FLOAT_11, _INT_12, _FLOAT_12)), re.X)
"""A plain scalar that some YAML version reads as a number."""


@dataclass
class Located:
    """Loaded data plus the position of every container and value, by object identity.

    `positions[id(mapping)]` maps each key to its mark, `positions[id(list)]` lists the marks of
    the items, `starts[id(container)]` is the container's own mark (a parser mark: 0-based line
    and column)."""

    data: Any
    file: str
    positions: dict[int, Any] = field(default_factory=dict)
    starts: dict[int, Any] = field(default_factory=dict)
    keep: list[Any] = field(default_factory=list)  # keeps ids stable while the index lives

    def _location(self, mark: Any) -> Location:
        return Location(self.file, mark.line + 1, mark.column + 1)

    def _mark(self, container: Any, key: Any) -> Any:
        marks = self.positions.get(id(container))
        if type(marks) is list:
            return marks[key] if type(key) is int and 0 <= key < len(marks) else None
        if marks is not None:
            try:
                return marks.get(key)
            except TypeError:  # an unhashable key
                return None
        return None

    def where(self, container: Any, key: Any = None) -> Location | None:
        """Where `container[key]` is written (its key, in a mapping), else where `container` is."""
        mark = self._mark(container, key) if key is not None else None
        if mark is None:
            mark = self.starts.get(id(container))
        return None if mark is None else self._location(mark)

    def locate(self, path: tuple[Any, ...], root: Any = None) -> Location | None:
        """Location of the value at `path` below `root` (default: the document), or of the
        deepest existing container on the way."""
        node = self.data if root is None else root
        best = self.starts.get(id(node))
        for key in path:
            mark = self._mark(node, key)
            if mark is None:
                break
            best = mark
            try:
                node = node[key]
            except (KeyError, IndexError, TypeError):
                break
        return None if best is None else self._location(best)


# -- reading scalars ---------------------------------------------------------------------------


def _shown(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:30] + "..." + value[-6:])


def _reading_11(value: str) -> Any:
    """What YAML 1.1 (PyYAML's SafeLoader) makes of a plain scalar: a number, or None for text."""
    constructor = yaml.constructor.SafeConstructor()
    for pattern, tag, construct in ((_INT_11, _INT, constructor.construct_yaml_int),
                                    (_FLOAT_11, _FLOAT, constructor.construct_yaml_float)):
        if pattern.fullmatch(value):
            try:
                return construct(yaml.ScalarNode(tag, value))
            except ValueError:  # '0x_': the pattern's shape without a digit
                return None
    return None


def _reading_12(value: str) -> Any:
    """What the YAML 1.2 core schema makes of a plain scalar: a number, or None for text."""
    if _INT_12.fullmatch(value):
        base = {"0o": 8, "0x": 16}.get(value[:2], 10)
        return int(value[2:] if base != 10 else value, base)
    if _FLOAT_12.fullmatch(value):
        return float(value.replace(".", "", 1) if value.lstrip("+-")[1:].lower() in ("inf", "nan") else value)
    return None


def _notation(value: str) -> str:
    body = value.lstrip("+-")
    if ":" in body:
        return "a base-60 (sexagesimal) number"
    if body[:2] in ("0x", "0b", "0o"):
        return {"0x": "a hexadecimal number", "0b": "a binary number", "0o": "an octal number"}[body[:2]]
    if "_" in body:
        return "a number with digit separators (_)"
    if body[:1] == "0" and body[1:2].isdigit():
        return "a number with a leading zero"
    return "a number in another notation"


def _number(value: str, where: Callable[[Any], Location], mark: Any) -> Any:
    """A plain scalar that starts like a number: an int, a float, the text itself, or a YamlError
    located at `where(mark)`."""
    if _DECIMAL.fullmatch(value):
        digits = len(value) - (value[0] in "+-")
        if digits > MAX_INT_DIGITS:
            raise YamlError(f"{_shown(value)} is not a valid int: it has {digits} digits, more than {MAX_INT_DIGITS}",
                            location=where(mark), expected=f"an int of at most {MAX_INT_DIGITS} digits")
        return int(value)
    if _PLAIN_FLOAT.fullmatch(value):
        number = float(value)
        if number - number == 0:  # finite
            return number
        raise YamlError(f"{_shown(value)} is not a finite number (it reads as {number})", location=where(mark),
                        expected="a finite number")
    if not _SOME_NUMBER.fullmatch(value):
        return value
    if len(value) > 60:  # too long to be worth reading in each notation
        _refuse(value, None, None, where(mark))
    old, new = _reading_11(value), _reading_12(value)
    if old is None and new is None:  # '0x_': a number's shape without its digits
        return value
    if isinstance(old, float) and isinstance(new, float) and not (math.isfinite(old) or math.isfinite(new)):
        raise YamlError(f"{_shown(value)} is not a finite number", location=where(mark), expected="a finite number")
    _refuse(value, old, new, where(mark))


def _refuse(value: str, old: Any, new: Any, where: Location) -> NoReturn:
    """Refuse a number whose reading depends on the YAML version or is written in a notation
    nobody expects in a spec."""
    text = "text"
    if old is not None and new is not None and old == new:
        readings = f" ({old})"
    elif old is None and new is None:
        readings = ", read as a number by some YAML versions"
    else:
        readings = (f", read as {text if old is None else old} by YAML 1.1 "
                    f"and as {text if new is None else new} by YAML 1.2")
    numbers = [str(r) for r in sorted({r for r in (old, new) if r is not None})]
    like = f", like {' or '.join(numbers)}" if numbers else ""
    quoted = f'"{value}" in quotes' if len(value) <= 40 else "quotes around it"
    raise YamlError(f"{_shown(value)} is {_notation(value)}{readings}", location=where,
                    expected=f"a plain decimal number{like}, or {quoted} for text")


def _tagged(value: str, tag: str, where: Callable[[Any], Location], mark: Any) -> Any:
    """A scalar with an explicit tag (`!!int 3`): read as the plain scalar, then checked."""
    if tag == _STR:
        return value
    result = _WORDS.get(value, value)
    if result is value and value[:1] in _NUMBER_START:
        result = _number(value, where, mark)
    ok = {_INT: type(result) is int, _FLOAT: type(result) in (int, float), _BOOL: type(result) is bool,
          _NULL: result is None}[tag]
    if not ok:
        kind = tag.rsplit(":", 1)[-1]
        expected = {"int": "an int", "float": "a float", "bool": "true or false", "null": "null or ~"}[kind]
        raise YamlError(f"{_shown(value)} is not a valid {kind}", location=where(mark), expected=expected)
    return float(result) if tag == _FLOAT else result


# -- reading events ----------------------------------------------------------------------------


class _PurePythonParser(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser):
    """PyYAML's own parser, for an install without LibYAML."""

    def __init__(self, stream: str) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)

    def dispose(self) -> None:
        self.states = []
        self.state = None


_PARSER: type = yaml.cyaml.CParser if getattr(yaml, "__with_libyaml__", False) else _PurePythonParser
"""LibYAML's parser when PyYAML was built with it (several times faster), else PyYAML's."""

_ScalarEvent, _AliasEvent = yaml.ScalarEvent, yaml.AliasEvent
_MappingStartEvent, _SequenceStartEvent = yaml.MappingStartEvent, yaml.SequenceStartEvent
_MappingEndEvent, _SequenceEndEvent = yaml.MappingEndEvent, yaml.SequenceEndEvent
_DocumentStartEvent, _StreamEndEvent = yaml.DocumentStartEvent, yaml.StreamEndEvent
_NO_KEY = object()


class _Anchor:
    __slots__ = ("value", "size", "mark", "open")

    def __init__(self, mark: Any) -> None:
        self.value: Any = None
        self.size = 1
        self.mark = mark
        self.open = True


def _height(value: Any, memo: dict[int, int]) -> int:
    """Levels of nesting below `value` (0 for a scalar).  Containers that aliases share are
    measured once (`memo`), so that a 'billion laughs' costs only its written size."""
    if not isinstance(value, (dict, list)):
        return 0
    known = memo.get(id(value))
    if known is None:
        children = value.values() if isinstance(value, dict) else value
        known = memo[id(value)] = 1 + max((_height(v, memo) for v in children), default=-1)
    return known


def _walk(text: str, file: str) -> Located:
    """Build the data of `text` from its parser events, checking every bound on the way.

    One loop over local variables, because it runs once per node (up to MAX_NODES): about as
    long again as LibYAML takes to make the events, where composing PyYAML nodes and building
    from them took three times as long."""
    located = Located(None, file)
    positions, starts, keep = located.positions, located.starts, located.keep
    where = located._location
    parser = _PARSER(text)
    get_event = parser.get_event
    may_anchor = "&" in text
    anchors: dict[str, _Anchor] = {}
    heights: dict[int, int] = {}
    # The open collection: cur (the container), marks (of its keys or items), in_list, key (a
    # key waiting for its value) and its mark, anchor, count (nodes before it), mark (its own).
    # The document itself goes into `holder`, as if into a list.
    holder: list[Any] = []
    cur: Any = holder
    marks: Any = []
    in_list = True
    key: Any = _NO_KEY
    key_mark = anchor = mark = None
    count = 0
    stack: list[tuple[Any, ...]] = []
    nodes = 0  # written nodes
    expanded = 0  # nodes added by aliases
    documents = 0
    deep_alias = None
    try:
        while True:
            event = get_event()
            kind = type(event)
            if kind is _ScalarEvent:
                value = event.value
                nodes += 1
                if event.implicit[0] and event.tag is None:  # plain: YAML 1.2 core schema
                    if value and value[0] in _NUMBER_START:
                        if value.isascii() and value.isdigit() and (value[0] != "0" or len(value) == 1) \
                                and len(value) <= MAX_INT_DIGITS:
                            value = int(value)
                        else:
                            value = _number(value, where, event.start_mark)
                    else:
                        value = _WORDS.get(value, value)
                elif event.tag is not None and event.tag != "!":
                    if event.tag not in _SCALAR_TAGS:
                        raise _bad_tag(event, where)
                    value = _tagged(value, event.tag, where, event.start_mark)
                if nodes > MAX_NODES:
                    raise _too_many(where(event.start_mark))
                if len(stack) > MAX_DEPTH:
                    raise _too_deep(where(event.start_mark))
                if may_anchor and event.anchor is not None:
                    done = _new_anchor(anchors, event, where)
                    done.value, done.open = value, False
            elif kind is _MappingStartEvent or kind is _SequenceStartEvent:
                nodes += 1
                is_map = kind is _MappingStartEvent
                if event.tag is not None and event.tag not in ("!", _MAP if is_map else _SEQ):
                    raise _bad_tag(event, where)
                if len(stack) > MAX_DEPTH:
                    raise _too_deep(where(event.start_mark))
                if nodes > MAX_NODES:
                    raise _too_many(where(event.start_mark))
                stack.append((cur, marks, in_list, key, key_mark, anchor, count, mark))
                cur, marks, in_list = ({}, {}, False) if is_map else ([], [], True)
                key, mark, count = _NO_KEY, event.start_mark, nodes + expanded
                anchor = _new_anchor(anchors, event, where) if may_anchor and event.anchor is not None else None
                positions[id(cur)] = marks
                starts[id(cur)] = mark
                keep.append(cur)
                continue
            elif kind is _MappingEndEvent or kind is _SequenceEndEvent:
                value = cur
                if anchor is not None:
                    anchor.value, anchor.open, anchor.size = value, False, nodes + expanded - count + 1
                event_mark = mark
                cur, marks, in_list, key, key_mark, anchor, count, mark = stack.pop()
                if in_list:
                    cur.append(value)
                    marks.append(event_mark)
                    continue
                if key is _NO_KEY:
                    raise YamlError("a mapping key must be a plain value", location=where(event_mark))
                cur[key] = value
                marks[key] = key_mark
                key = _NO_KEY
                continue
            elif kind is _AliasEvent:
                done = anchors.get(event.anchor)
                if done is None:
                    raise YamlError(f"alias *{event.anchor} names no anchor before it",
                                    location=where(event.start_mark),
                                    expected=f"an anchor &{event.anchor} earlier in the file")
                if done.open:
                    raise YamlError("an alias refers to a node that contains it", location=where(event.start_mark),
                                    expected="aliases to finished nodes only")
                value = done.value
                if deep_alias is None and len(stack) + _height(value, heights) > MAX_DEPTH:
                    deep_alias = event.start_mark  # reported after the expansion, which says more
                if not in_list and key is _NO_KEY and isinstance(value, (dict, list)):
                    raise YamlError("a mapping key must be a plain value", location=where(event.start_mark))
                expanded += done.size
            elif kind is _DocumentStartEvent:
                documents += 1
                if documents > 1:
                    raise YamlError("YAML syntax: a second document in the stream", location=where(event.start_mark),
                                    expected="one document per spec")
                continue
            elif kind is _StreamEndEvent:
                break
            else:  # stream start, document end
                continue
            # A scalar or an alias's value goes into the open collection.
            if in_list:
                cur.append(value)
                marks.append(event.start_mark)
            elif key is _NO_KEY:
                if value in cur:
                    raise YamlError(f"duplicate key {value!r}", location=where(event.start_mark),
                                    expected="each key once per mapping")
                if value == "<<" and kind is _ScalarEvent and event.implicit[0]:
                    raise YamlError("merge keys (<<) are not supported", location=where(event.start_mark),
                                    expected="explicit keys, or a block with parameters")
                key, key_mark = value, event.start_mark
            else:
                cur[key] = value
                marks[key] = key_mark
                key = _NO_KEY
    finally:
        parser.dispose()
    if documents == 0:
        raise YamlError("empty document", location=Location(file, 1, 1), expected="a mapping")
    if expanded:
        _check_expansion(nodes, nodes + expanded, file)
    if deep_alias is not None:
        raise _too_deep(where(deep_alias))
    located.data = holder[0]
    return located


def _new_anchor(anchors: dict[str, _Anchor], event: Any, where: Any) -> _Anchor:
    first = anchors.get(event.anchor)
    if first is not None:
        raise YamlError(f"duplicate anchor &{event.anchor} (first at line {first.mark.line + 1})",
                        location=where(event.start_mark), expected="each anchor name once")
    anchor = anchors[event.anchor] = _Anchor(event.start_mark)
    return anchor


def _check_expansion(written: int, total: int, file: str) -> None:
    # Aliases may repeat what is written, not multiply it without bound: the expansion is
    # limited absolutely and relative to the document's own size.
    allowed = min(MAX_NODES, MAX_ALIAS_GROWTH * written + 100_000)
    if total > allowed:
        raise YamlError(f"document expands to {total:,} nodes through its aliases, more than {allowed:,}",
                        location=Location(file, 1, 1), expected="a spec without runaway aliases")


def _bad_tag(event: Any, where: Any) -> YamlError:
    return YamlError(f"tag {event.tag!r} is not allowed", location=where(event.start_mark), expected=_EXPECTED_PLAIN)


def _too_deep(location: Location) -> YamlError:
    return YamlError(f"nesting deeper than {MAX_DEPTH} levels", location=location, expected="a flatter document")


def _too_many(location: Location) -> YamlError:
    return YamlError(f"document has more than {MAX_NODES:,} nodes (keys, values, lists and mappings)",
                     location=location, expected=_SMALLER)


# -- text ----------------------------------------------------------------------------------------


def _line_col(text: str, index: int) -> tuple[int, int]:
    return text.count("\n", 0, index) + 1, index - (text.rfind("\n", 0, index) + 1) + 1


def _too_large(size: int | None, file: str) -> YamlError:
    """`size` is None for a stream, of which only MAX_BYTES + 1 bytes were read."""
    said = f"is {size:,} bytes, more than" if size is not None else "is larger than"
    return YamlError(f"document {said} the limit of {MAX_BYTES // MIB} MiB ({MAX_BYTES:,} bytes)",
                     location=Location(file, 1, 1), expected=_SMALLER)


def _decode(data: bytes, file: str) -> str:
    """UTF-8 text of `data` (a leading byte-order mark dropped); bad bytes are located."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise YamlError("the file is UTF-16 or UTF-32 text (it starts with a byte-order mark)",
                        location=Location(file, 1, 1), expected="UTF-8 text: save the file as UTF-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        line = data.count(b"\n", 0, exc.start) + 1
        col = len(data[line_start:exc.start].decode("utf-8")) + 1
        raise YamlError(f"byte 0x{data[exc.start]:02x} is not UTF-8 text", location=Location(file, line, col),
                        expected="a UTF-8 text file") from None


def _file_name(file: Any) -> str:
    if isinstance(file, str):
        return file
    if isinstance(file, os.PathLike):
        return os.fsdecode(os.fspath(file))
    raise YamlError(f"the file name must be a str, not {type(file).__name__}", location=Location("<string>"),
                    expected="a name for error messages, like 'spec.yaml'")


def loads(text: str | bytes, file: str | os.PathLike[str] = "<string>") -> Located:
    """Read YAML text (str, or UTF-8 bytes); `file` names it in error messages."""
    file = _file_name(file)
    if isinstance(text, (bytes, bytearray, memoryview)):
        data = bytes(text)
        if len(data) > MAX_BYTES:
            raise _too_large(len(data), file)
        text = _decode(data, file)
    elif not isinstance(text, str):
        raise YamlError(f"YAML text must be a str (or UTF-8 bytes), not {type(text).__name__}",
                        location=Location(file), expected="the text of a spec; load_network() takes a path")
    if len(text) * 4 > MAX_BYTES:  # else it cannot be too large
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > MAX_BYTES:
            raise _too_large(size, file)
    if text.startswith("\ufeff"):
        text = text[1:]
    stray = text.find("\ufeff")
    if stray >= 0:
        raise YamlError("a byte-order mark (U+FEFF) inside the text", location=Location(file, *_line_col(text, stray)),
                        expected="no U+FEFF except as the file's first character")
    try:
        return _walk(text, file)
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, text, file) from None
    except yaml.reader.ReaderError as exc:
        index = exc.position
        if not issubclass(_PARSER, _PurePythonParser):  # LibYAML counts bytes of the UTF-8 text
            index = len(text.encode("utf-8", "surrogatepass")[:index].decode("utf-8", "replace"))
        char = exc.character if isinstance(exc.character, int) else ord(exc.character)
        raise YamlError(f"character U+{char:04X} is not allowed in YAML",
                        location=Location(file, *_line_col(text, index)), expected="printable text") from None
    except yaml.YAMLError as exc:
        raise YamlError(f"YAML: {exc}", location=Location(file, 1, 1)) from None
    except UnicodeError as exc:  # LibYAML takes UTF-8: a lone surrogate cannot be encoded
        bad = getattr(exc, "start", 0)
        raise YamlError(f"character U+{ord(text[bad]):04X} is not allowed in YAML" if bad < len(text)
                        else "text is not valid Unicode", location=Location(file, *_line_col(text, bad)),
                        expected="printable text") from None


def _syntax_error(exc: yaml.MarkedYAMLError, text: str, file: str) -> YamlError:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or exc.context or "not valid YAML"
    loc = Location(file, mark.line + 1, mark.column + 1) if mark else Location(file, 1, 1)
    if "nesting depth" in problem and mark is not None and mark.index > 0:
        # LibYAML (0.2.6 on) has its own limit (1000 levels), which can fire while its scanner
        # looks ahead, before the events that pass ours: read the text up to that point.
        try:
            _walk(text[:mark.index], file)
        except YamlError as inner:
            if inner.message.startswith("nesting deeper"):
                return inner
        except yaml.YAMLError:
            pass
        return _too_deep(loc)
    return YamlError(f"YAML syntax: {problem}", location=loc)


def _ready(fd: int, seconds: float) -> bool:
    """Whether a FIFO or device has something to read (or its writer has gone) within `seconds`."""
    if not hasattr(select, "poll"):  # pragma: no cover - not POSIX
        return True
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLHUP)
    return bool(poller.poll(int(seconds * 1000)))


def _read_bytes(name: str) -> bytes:
    """At most MAX_BYTES + 1 bytes of the file `name`; never waits for a FIFO's writer to open."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
    where = Location(name)
    try:
        fd = os.open(name, flags)
    except FileNotFoundError:
        raise YamlError("no such file", location=where, expected="a path to a YAML spec") from None
    except PermissionError:
        raise YamlError("cannot read: permission denied", location=where) from None
    except OSError as exc:
        raise YamlError(f"cannot read: {(exc.strerror or str(exc)).lower()}", location=where) from None
    except ValueError:  # a NUL character in the path
        raise YamlError("the path contains a NUL character", location=Location(repr(name)),
                        expected="a path to a YAML spec") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise YamlError("is a directory", location=where, expected="a path to a YAML spec")
        if stat.S_ISREG(info.st_mode) and info.st_size > MAX_BYTES:
            raise _too_large(info.st_size, name)
        if not stat.S_ISREG(info.st_mode) and not _ready(fd, STREAM_WAIT_S):
            raise YamlError(f"nothing to read after {STREAM_WAIT_S:g} s (a FIFO with no writer?)", location=where,
                            expected="a YAML file, or a FIFO that a program writes to")
        os.set_blocking(fd, True)
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_BYTES:
            chunk = os.read(fd, min(1 << 20, MAX_BYTES + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise YamlError(f"cannot read: {(exc.strerror or str(exc)).lower()}", location=where) from None
    finally:
        os.close(fd)
    if size > MAX_BYTES:
        raise _too_large(None, name)
    return b"".join(chunks)


def load_file(path: str | os.PathLike[str]) -> Located:
    """Read the YAML spec at `path` (a str or os.PathLike)."""
    if not isinstance(path, (str, os.PathLike)):
        raise YamlError(f"a spec path must be a str or os.PathLike, not {type(path).__name__}",
                        expected="a path to a YAML spec; YAML text goes to loads() or network_from_text()")
    name = _file_name(path)
    if not name:
        raise YamlError("empty path", location=Location("''"), expected="a path to a YAML spec")
    return loads(_read_bytes(name), name)


def as_mapping(value: Any) -> Mapping[str, Any] | None:
    return value if isinstance(value, dict) else None
