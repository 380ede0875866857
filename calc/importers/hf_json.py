"""Reading a Hugging Face config.json: strict JSON, with the line and column of every key.

`read_config(path)` returns a `Config`: the top-level object and where each key stands, so that
an importer's error names `file:line:col: key: what is wrong (expected ...)` as calc.yamlload's
errors do.  The json module parses; a small scanner over the (already valid) text then finds
each key's position, which json does not keep.  Refused, each as a one-line `SpecError`: a file
that cannot be read, is not UTF-8, is not JSON (json's own line and column), holds NaN or
Infinity (not JSON; Python's json module accepts them), a duplicate key (json keeps the last one
silently), or a top level that is not an object.
"""

from __future__ import annotations

import bisect
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from calc.errors import Location, SpecError, YamlError

EXPECTED_FILE = "a Hugging Face config.json"


@dataclass(frozen=True)
class Config:
    """A config.json read: `data` the top-level object, `file` its name for errors, `where`
    the (line, col) of each key by its path (('rope_scaling', 'rope_type') for a nested one)."""

    file: str
    data: dict[str, Any]
    where: dict[tuple[Any, ...], tuple[int, int]] = field(default_factory=dict)

    def location(self, *path: Any) -> Location:
        """Where the key at `path` stands (the file alone for a key that is absent)."""
        at = self.where.get(path)
        return Location(self.file, *at) if at else Location(self.file)

    def error(self, key: str | tuple[Any, ...], message: str, expected: str | None = None) -> SpecError:
        """A one-line error at the key `key` (a name, or a path for a nested key)."""
        path = key if isinstance(key, tuple) else (key,)
        return SpecError(message, location=self.location(*path), field=".".join(str(p) for p in path),
                         expected=expected)


def _constant(name: str) -> Any:
    raise ValueError(name)


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise KeyError(key)
        out[key] = value
    return out


def _line_starts(text: str) -> list[int]:
    return [0, *(m.end() for m in re.finditer("\n", text))]


def _line_col(starts: list[int], offset: int) -> tuple[int, int]:
    line = bisect.bisect_right(starts, offset)
    return line, offset - starts[line - 1] + 1


def _string_end(text: str, i: int) -> int:
    """The index after the string literal that opens at text[i] (a '"')."""
    i += 1
    while True:
        c = text[i]
        if c == "\\":
            i += 2
        elif c == '"':
            return i + 1
        else:
            i += 1


def _keys(text: str) -> Iterator[tuple[tuple[Any, ...], int]]:
    """(path, offset) of every object key of valid JSON `text`, the path from the top level:
    keys of objects, indices of arrays."""
    stack: list[list[Any]] = []  # per open container: [path, is_object, last key or index]
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            end = _string_end(text, i)
            j = end
            while j < n and text[j] in " \t\r\n":
                j += 1
            if stack and stack[-1][1] and j < n and text[j] == ":":
                key = json.loads(text[i:end])
                stack[-1][2] = key
                yield (*stack[-1][0], key), i
            i = end
            continue
        if c in "{[":
            path = () if not stack else (*stack[-1][0], stack[-1][2])
            stack.append([path, c == "{", None if c == "{" else 0])
        elif c in "}]":
            stack.pop()
        elif c == "," and stack and not stack[-1][1]:
            stack[-1][2] += 1
        i += 1


def parse(text: str, file: str) -> Config:
    """The config in JSON `text` (named `file` in errors)."""
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        data = json.loads(text, object_pairs_hook=_pairs, parse_constant=_constant)
    except json.JSONDecodeError as exc:
        raise SpecError(f"not JSON: {exc.msg}", location=Location(file, exc.lineno, exc.colno),
                        expected=EXPECTED_FILE) from None
    except ValueError as exc:  # NaN, Infinity
        raise SpecError(f"not JSON: {exc} is not a JSON number", location=Location(file),
                        expected="a finite number, or null") from None
    except KeyError as exc:
        starts = _line_starts(text)
        seen: set[tuple[Any, ...]] = set()
        for path, offset in _keys(text):
            if path in seen and path[-1] == exc.args[0]:
                raise SpecError(f"duplicate key {exc.args[0]!r}", location=Location(file, *_line_col(starts, offset)),
                                field=".".join(map(str, path)), expected="each key once") from None
            seen.add(path)
        raise SpecError(f"duplicate key {exc.args[0]!r}", location=Location(file), expected="each key once") from None
    except RecursionError:
        raise SpecError("not JSON: nested too deeply", location=Location(file), expected=EXPECTED_FILE) from None
    if not isinstance(data, dict):
        raise SpecError(f"the top level is a JSON {_json_type(data)}, not an object", location=Location(file, 1, 1),
                        expected="a JSON object {\"model_type\": ..., ...}")
    starts = _line_starts(text)
    where = {path: _line_col(starts, offset) for path, offset in _keys(text)}
    return Config(file, data, where)


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "null" if value is None else "object"


def read_config(path: str | os.PathLike[str]) -> Config:
    """Read and parse the config.json at `path`."""
    from calc.yamlload import MAX_BYTES, _read_bytes

    if isinstance(path, os.PathLike):
        path = os.fsdecode(os.fspath(path))
    if not isinstance(path, str):
        raise SpecError(f"a config path must be a str or os.PathLike, not {type(path).__name__}",
                        expected="a path to " + EXPECTED_FILE)
    if not path:
        raise SpecError("empty path", location=Location("''"), expected="a path to " + EXPECTED_FILE)
    try:
        data = _read_bytes(path)
    except YamlError as exc:  # no such file, a directory, permission, too large: as for a spec
        raise SpecError(exc.message, location=exc.location, expected="a path to " + EXPECTED_FILE) from None
    if len(data) > MAX_BYTES:
        raise SpecError(f"larger than {MAX_BYTES:,} bytes", location=Location(path), expected=EXPECTED_FILE)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(f"not UTF-8 text (byte {exc.start})", location=Location(path),
                        expected="a config.json in UTF-8") from None
    return parse(text, path)


def json_type(value: Any) -> str:
    """The JSON name of a value's type, for messages."""
    return _json_type(value)
