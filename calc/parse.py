"""Turn plain data (from YAML or the command line) into validated layer records.

Records are validated by their tag: the ``type`` value picks one class, and only that class's
validator is built (pydantic models use defer_build).  Validation errors become `SpecError`s
that name the field, say what was wrong and what was expected, and suggest a close name for a
misspelt kind or field.
"""

from __future__ import annotations

import difflib
import enum
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from calc.errors import Location, SpecError
from calc.layers import REGISTRY, Layer
from calc.limits import MAX_INT_DIGITS, too_big

Locate = Callable[[tuple[Any, ...]], Location | None]
"""Maps a key path inside the data to where it stands in the source file."""


def show(value: Any, limit: int = 40) -> str:
    """A short repr for messages: values quoted from a spec or an API call may be huge (an int
    past Python's 4,300-digit text limit cannot even be repr'd)."""
    if type(value) is int and too_big(value):
        return f"an int that {too_big(value)}"
    if isinstance(value, (list, tuple, dict)) and len(value) > 8:
        return f"a {type(value).__name__} of {len(value):,} entries"
    try:
        text = repr(value)
    except ValueError:  # an int nested in a container, past the text limit
        return f"a {type(value).__name__}"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def suggest(word: str, choices: list[str] | tuple[str, ...]) -> str:
    """'; did you mean X?' for a close choice ('' for none, or for a word too long to be a typo)."""
    if len(word) > 64:
        return ""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def _no_location(_: tuple[Any, ...]) -> None:
    return None


def layer_class(data: Any, locate: Locate = _no_location) -> type[Layer]:
    if not isinstance(data, dict):
        raise SpecError(
            f"a layer must be a mapping, got {type(data).__name__}",
            location=locate(()), expected="a mapping with a 'type' key",
        )
    if "type" not in data:
        raise SpecError(
            "layer has no 'type'", location=locate(()), field="type",
            expected="one of " + ", ".join(sorted(REGISTRY)),
        )
    tag = data["type"]
    if not isinstance(tag, str) or tag not in REGISTRY:
        raise SpecError(
            f"unknown layer kind {show(tag)}" + (suggest(tag, sorted(REGISTRY)) if isinstance(tag, str) else ""),
            location=locate(("type",)), field="type",
            expected="one of " + ", ".join(sorted(REGISTRY)),
        )
    return REGISTRY[tag]


def parse_layer(data: Any, locate: Locate = _no_location) -> Layer:
    """Validate one layer mapping into its record."""
    cls = layer_class(data, locate)
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        raise spec_error(exc, cls, data, locate) from None
    except SpecError as exc:  # raised by a record's own cross-field validator
        raise exc.with_context(location=locate((exc.field,) if exc.field in data else ()))


def spec_error(exc: ValidationError, cls: type[Layer], data: dict, locate: Locate) -> SpecError:
    """The first validation error, as a located `SpecError`."""
    errors = exc.errors(include_url=False)
    # An int past the bound fails every member of a union (int or list): say that, not "invalid".
    err = next((e for e in errors if e["type"] == "int_too_big"), errors[0])
    loc = tuple(err["loc"])
    # pydantic reports which member of a union failed (e.g. ('K', 'list[...]', 0)); keep the
    # part that is a real key path into the data.
    key_path = _data_path(loc, data)
    field = ".".join(str(p) for p in key_path) or None
    kind = err["type"]
    if kind == "extra_forbidden":
        name = str(loc[0])
        known = [f for f in cls.model_fields if f != "type"]
        return SpecError(
            f"unknown field {show(name)} for '{data.get('type')}'" + suggest(name, known),
            location=locate(key_path), field=field, expected="one of " + ", ".join(known),
        )
    if kind == "missing":
        return SpecError(
            f"missing required field '{field}'", location=locate(key_path[:-1]), field=field,
            expected=_describe(cls, str(loc[0])),
        )
    if kind == "int_too_big":
        return SpecError(err["msg"], location=locate(key_path), field=field,
                         expected=f"an int of at most {MAX_INT_DIGITS} digits")
    got = err.get("input")
    message = err["msg"]
    union_errors = [e for e in errors if e["loc"][:1] == loc[:1]]
    if len(union_errors) > 1 and loc:
        message = "invalid value"
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
        return SpecError(message, location=locate(key_path or ()), field=field)
    return SpecError(
        f"{message}, got {show(got)}", location=locate(key_path), field=field,
        expected=_describe(cls, str(loc[0])) if loc else None,
    )


def _data_path(loc: tuple[Any, ...], data: Any) -> tuple[Any, ...]:
    path: list[Any] = []
    node = data
    for part in loc:
        if isinstance(node, dict) and part in node:
            path.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            path.append(part)
            node = node[part]
        elif isinstance(part, str) and not path and isinstance(node, dict):
            path.append(part)
            break
    return tuple(path)


def _describe(cls: type[Layer], field: str) -> str | None:
    info = cls.model_fields.get(field)
    return None if info is None else describe_type(info.annotation, info.metadata)


def describe_type(annotation: Any, metadata: list[Any] | None = None) -> str:
    """Plain words for a field's type: 'a positive int or a list of positive ints'."""
    import types
    import typing

    from annotated_types import Ge, Gt

    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(describe_type(a) for a in args if a is not type(None))
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin is typing.Annotated:
        return describe_type(args[0], list(args[1:]))
    if origin is list:
        inner = describe_type(args[0])
        return "a list of " + inner.removeprefix("a ").removeprefix("an ") + "s"
    meta = metadata or []
    if annotation is int:
        if any(isinstance(m, Gt) and m.gt == 0 for m in meta):
            return "a positive int"
        if any(isinstance(m, Ge) and m.ge == 0 for m in meta):
            return "an int >= 0"
        return "an int"
    if annotation is bool:
        return "true or false"
    if annotation is float:
        return "a number"
    if annotation is str:
        return "a string"
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return "one of " + ", ".join(m.value for m in annotation)
    return str(annotation)
