"""Turn plain data (from YAML or the command line) into validated layer records.

Records are validated by their tag: the ``type`` value picks one class, and only that class's
validator is built (pydantic models use defer_build).  Validation errors become `SpecError`s
that name the field, say what was wrong and what was expected, and suggest a close name for a
misspelt kind or field.
"""

from __future__ import annotations

import difflib
import enum
import re
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
    # YAML keys need not be text (a `null:` or `1:` key): only names can be suggested
    close = difflib.get_close_matches(word, [c for c in choices if isinstance(c, str)], n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def _no_location(_: tuple[Any, ...]) -> None:
    return None


TORCH_KINDS: dict[str, str] = {
    **{f"conv{d}d": "conv" for d in (1, 2, 3)},
    **{f"convtranspose{d}d": "deconv" for d in (1, 2, 3)},
    **{f"batchnorm{d}d": "batchnorm" for d in (1, 2, 3)},
    **{f"maxpool{d}d": "maxpool" for d in (1, 2, 3)},
    **{f"avgpool{d}d": "avgpool" for d in (1, 2, 3)},
    **{f"adaptiveavgpool{d}d": "adaptive_avgpool" for d in (1, 2, 3)},
    **{f"adaptivemaxpool{d}d": "adaptive_maxpool" for d in (1, 2, 3)},
    **{f"dropout{d}d": "dropout" for d in (1, 2, 3)},
    "linear": "linear", "dense": "linear", "relu": "relu", "relu6": "relu6",
    "leakyrelu": "leaky_relu", "prelu": "prelu", "elu": "elu", "gelu": "gelu", "silu": "silu",
    "swish": "silu", "sigmoid": "sigmoid", "tanh": "tanh", "hardswish": "hardswish",
    "hardsigmoid": "hardsigmoid", "softmax": "softmax", "dropout": "dropout", "flatten": "flatten",
    "upsample": "upsample", "upsamplingnearest2d": "upsample", "upsamplingbilinear2d": "upsample",
    "identity": "identity", "channelshuffle": "channel_shuffle", "cat": "concat",
    "adaptiveavgpool": "adaptive_avgpool", "globalavgpool": "global_avgpool",
    "sequential": "sequential",
}
"""PyTorch module names (lower-cased, without 'nn.' and '_') that people type out of habit ->
the calc kind.  Only used to suggest; a spec never accepts them."""

TORCH_FIELDS: dict[str, str] = {
    "kernel_size": "K", "kernel": "K", "in_channels": "Cin", "out_channels": "Cout",
    "in_features": "Cin", "out_features": "Cout", "num_features": "Cin", "num_channels": "Cin",
    "channels": "Cin", "output_size": "output_size", "upscale_factor": "scale_factor",
}
"""PyTorch constructor argument names -> the calc field (suggested when the layer has it)."""


def torch_kind(word: str) -> str | None:
    """The calc kind for a PyTorch module name ('Conv2d', 'nn.BatchNorm2d', 'ReLU'), or None."""
    key = re.sub(r"^(torch\.)?nn\.", "", word).lower().replace("_", "")
    return TORCH_KINDS.get(key)


def unknown_kind(tag: Any, kinds: list[str] | tuple[str, ...]) -> str:
    """'unknown layer kind X' and the calc name ('calc calls it conv') or a close name."""
    message = f"unknown layer kind {show(tag)}"
    if not isinstance(tag, str):
        return message
    calc_name = torch_kind(tag)
    if calc_name is not None and calc_name != tag:
        return message + f"; calc calls it '{calc_name}'"
    return message + suggest(tag, kinds)


def unknown_field(name: Any, cls: type[Layer], tag: Any) -> str:
    """'unknown field X for KIND' with the calc name of a PyTorch argument or a close name."""
    known = [f for f in cls.model_fields if f != "type"]
    message = f"unknown field {show(name)} for {show(tag)}"
    if not isinstance(name, str):
        return message
    calc_name = TORCH_FIELDS.get(name)
    if calc_name is not None and calc_name in known and calc_name != name:
        return message + f"; calc calls it '{calc_name}'"
    return message + suggest(name, known)


_TUPLE_TEXT = re.compile(r"\s*\(?\s*[-+]?[0-9]+(\s*,\s*[-+]?[0-9]+)*\s*,?\s*\)?\s*")


def tuple_hint(value: Any, field: str) -> str | None:
    """For a string that reads as a Python tuple or a comma list ('(2, 2)', '2, 2', or '(2' as
    YAML reads `stride: (2, 2)` inside braces): the list to write instead, else None."""
    if not isinstance(value, str) or not ("," in value or "(" in value) or not _TUPLE_TEXT.fullmatch(value):
        return None
    numbers = re.findall(r"[-+]?[0-9]+", value)
    closed = value.strip().endswith(")") or "(" not in value
    return f"{field}: [{', '.join(numbers)}]" if closed and len(numbers) > 1 else f"{field}: [2, 2]"


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
            unknown_kind(tag, sorted(REGISTRY)), location=locate(("type",)), field="type",
            expected="one of " + ", ".join(sorted(REGISTRY)),
        )
    return REGISTRY[tag]


def parse_layer(data: Any, locate: Locate = _no_location) -> Layer:
    """Validate one layer mapping into its record."""
    cls = layer_class(data, locate)
    # An unknown field first: `kernel_size: 3` is the cause of "missing required field 'K'".
    for key in data:
        if key not in cls.model_fields:
            return _raise_unknown(key, cls, data, locate)
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        raise spec_error(exc, cls, data, locate) from None
    except SpecError as exc:  # raised by a record's own cross-field validator
        raise exc.with_context(location=locate((exc.field,) if exc.field in data else ()))


def _raise_unknown(key: Any, cls: type[Layer], data: dict, locate: Locate) -> Layer:
    known = [f for f in cls.model_fields if f != "type"]
    raise SpecError(unknown_field(key, cls, data.get("type")), location=locate((key,)),
                    field=str(key), expected="one of " + ", ".join(known))


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
            unknown_field(name, cls, data.get("type")),
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
    hint = tuple_hint(got, str(loc[0])) if loc else None
    if hint is not None:
        return SpecError(f"{show(got)} is a string, not a list (YAML has no tuples)", location=locate(key_path),
                         field=field, expected=f"a list in brackets: {hint}")
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


def accepts_words(annotation: Any) -> bool:
    """Whether a field of this type takes some string ('same', 'relu'): a Literal of str, an
    Enum, or str itself."""
    import types
    import typing

    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(accepts_words(a) for a in args)
    if origin is typing.Annotated:
        return accepts_words(args[0])
    if origin is typing.Literal:
        return any(isinstance(a, str) for a in args)
    return annotation is str or (isinstance(annotation, type) and issubclass(annotation, enum.Enum))


def takes_numbers(annotation: Any) -> bool:
    """Whether a field of this type takes an int or a float (a bool is neither), alone or in a list."""
    import types
    import typing

    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, typing.Annotated, list):
        inner = typing.get_args(annotation)
        return any(takes_numbers(a) for a in (inner[:1] if origin is typing.Annotated else inner))
    return annotation in (int, float)


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
        inner = describe_type(args[0]).removeprefix("a ").removeprefix("an ")
        return "a list of " + (inner + "s" if inner.endswith("int") else inner.replace("int ", "ints ", 1))
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
