"""The stable JSON report: integers stay exact, written digit for digit whatever their size.

{"schema_version", "name", "convention": {"name", "title", "source"}, "dtype", "input_shapes",
 "output_shape", "options": {"fold_bn", "depth", "top"},
 "totals": {"params", "buffers", "macs", "flops", "mem_access", "mem_bytes", "largest_activation",
            "active_params"},
 "layers": [{"path", "kind", "op", "output_shape", "params", "buffers", "macs", "flops",
             "mem_access", "mem_bytes", "activations"[, "inactive_params", "input_shapes",
             "kernel"]}]}
`macs` are always the multiply-accumulates of dot-product layers (bias excluded); `flops` are
the named convention's; `mem_access` in elements, `mem_bytes` in bytes.  An option is null when
not applied (`fold_bn` null: not stated by the report's maker).  A layer has `input_shapes` and
`kernel` when the report was annotated (`calc.report.annotate`).  Units are never applied to
JSON.  The published schema: docs/schemas/report.schema.json.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from calc.render.numbers import int_text
from calc.report import OPTION_NAMES, Report

SCHEMA_VERSION = 1


def dumps(value: Any) -> str:
    """`json.dumps(value, indent=2)`, ints of any size included.  json.dumps writes an int with
    `int.__repr__`, which refuses more than Python's int-to-text digit limit (4300 digits by
    default; a process-wide setting that a library must not change): a value holding such an
    int is written again by `_write`, the same layout."""
    import json  # here, not at the top: only the json format needs it

    try:
        return json.dumps(value, indent=2)
    except ValueError:  # an int longer than the digit limit allows (no other ValueError here)
        pass
    parts: list[str] = []
    _write(value, "\n", parts)
    return "".join(parts)


def _write(value: Any, newline: str, parts: list[str]) -> None:
    """Append `value` (its dicts keyed by str) as json.dumps(indent=2) writes it; `newline` is
    a line break and the current indentation."""
    import json

    if isinstance(value, int) and not isinstance(value, bool):
        parts.append(int_text(value))
    elif isinstance(value, dict) and value:
        inner = newline + "  "
        for i, (key, item) in enumerate(value.items()):
            parts.append(("{" if i == 0 else ",") + inner + json.dumps(key) + ": ")
            _write(item, inner, parts)
        parts.append(newline + "}")
    elif isinstance(value, (list, tuple)) and value:
        inner = newline + "  "
        for i, item in enumerate(value):
            parts.append(("[" if i == 0 else ",") + inner)
            _write(item, inner, parts)
        parts.append(newline + "]")
    else:  # str, None, bool, float, an empty list or dict: json's own text
        parts.append(json.dumps(value))


def _plain(value: Any) -> Any:
    if isinstance(value, (int, str)) or value is None:  # bool too
        return value
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return str(value)  # a symbolic expression


def convention_dict(convention: Any) -> dict[str, Any]:
    """A convention as report and compare write it: {"name", "title", "source"}."""
    return {"name": convention.name, "title": convention.title, "source": convention.source}


def _layers(report: Report) -> list[dict[str, Any]]:
    layers = [{k: _plain(v) for k, v in asdict(row).items() if k != "inactive_params" or v}
              for row in report.rows]
    if report.layer_shapes is not None:
        for layer, shapes in zip(layers, report.layer_shapes):
            layer["input_shapes"] = _plain(shapes.inputs)
            layer["kernel"] = _plain(shapes.kernel)
    return layers


def report_dict(report: Report) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "name": report.name,
        "convention": convention_dict(report.convention),
        "dtype": report.dtype.value,
        "input_shapes": _plain(report.input_shapes),
        "output_shape": _plain(report.output_shape),
        "options": {k: _plain(report.options.get(k)) for k in OPTION_NAMES},
        "totals": {k: _plain(v) for k, v in report.totals.as_dict().items()},
        "layers": _layers(report),
        "kv_cache": None if report.kv_cache is None else {k: _plain(v) for k, v in report.kv_cache.items()},
    }


def render_json(report: Report, units: bool = False) -> str:
    return dumps(report_dict(report)) + "\n"
