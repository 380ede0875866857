"""The stable JSON report: integers stay exact (Python's json writes big ints digit for digit).

{"name", "convention": {"name", "title", "source"}, "dtype", "input_shapes",
 "totals": {"params", "buffers", "macs", "flops", "mem_access", "mem_bytes", "largest_activation"},
 "layers": [{"path", "kind", "op", "output_shape", "params", "buffers", "macs", "flops",
             "mem_access", "mem_bytes", "activations"}]}
`macs` are always the multiply-accumulates of dot-product layers (bias excluded); `flops` are
the named convention's.  Units are never applied to JSON.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from calc.report import Report

SCHEMA_VERSION = 1


def _plain(value: Any) -> Any:
    if isinstance(value, (int, str)) or value is None:
        return value
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return str(value)  # a symbolic expression


def report_dict(report: Report) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "name": report.name,
        "convention": {
            "name": report.convention.name,
            "title": report.convention.title,
            "source": report.convention.source,
        },
        "dtype": report.dtype.value,
        "input_shapes": _plain(report.input_shapes),
        "output_shape": _plain(report.output_shape),
        "totals": {k: _plain(v) for k, v in report.totals.as_dict().items()},
        "layers": [{k: _plain(v) for k, v in asdict(row).items()} for row in report.rows],
    }


def render_json(report: Report, units: bool = False) -> str:
    return json.dumps(report_dict(report), indent=2) + "\n"
