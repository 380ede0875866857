"""JSON Schema of the spec format, for editors (`calc schema > spec.schema.json`).

Layer records contribute their pydantic schemas; composites are described here.  Inside blocks an
integer field may also be an expression string over block parameters, so every integer in a
layer schema also accepts a string.  Every integer has at most calc.limits.MAX_INT_DIGITS digits.
"""

from __future__ import annotations

from typing import Any

from calc.expr import MAX_LENGTH
from calc.layers import KINDS
from calc.limits import MAX_INT
from calc.network.builder import COMPOSITE_KEYS, INPUT_AXES

EXPRESSION = {"type": "string", "maxLength": MAX_LENGTH,
              "description": "integer expression over block parameters: + - * // % ( )"}
SIZE = {"type": "integer", "minimum": 1, "maximum": MAX_INT}


def _allow_expressions(node: Any) -> Any:
    if isinstance(node, dict):
        node = {k: _allow_expressions(v) for k, v in node.items()}
        if node.get("type") == "integer":
            return {"anyOf": [{**node, "maximum": min(node.get("maximum", MAX_INT), MAX_INT)}, EXPRESSION]}
        return node
    if isinstance(node, list):
        return [_allow_expressions(v) for v in node]
    return node


def layer_schemas() -> dict[str, Any]:
    defs: dict[str, Any] = {}
    for cls in KINDS:
        schema = cls.model_json_schema()
        for name, sub in schema.pop("$defs", {}).items():
            defs[name] = sub
        schema["properties"]["when"] = {"anyOf": [{"type": "integer"}, {"type": "boolean"}, EXPRESSION]}
        schema["properties"]["type"] = {"enum": list(cls.TAGS)}
        schema.setdefault("required", [])
        if "type" not in schema["required"]:
            schema["required"].append("type")
        defs[cls.__name__] = _allow_expressions(schema)
    return defs


def input_schema() -> dict[str, Any]:
    """`input`: the per-sample shape, [C], [C, L] or [C, H, W] (a 4-entry list is ambiguous and
    refused), or named axes {C}, {C, L}, {C, H, W}, {C, D, H, W} with an optional N (the batch)."""
    named = [{"type": "object", "additionalProperties": False, "required": list(axes),
              "properties": {a: SIZE for a in ("N", *axes)}} for axes in INPUT_AXES]
    return {"anyOf": [{"type": "array", "items": SIZE, "minItems": 1, "maxItems": 3}, *named],
            "description": "per-sample shape; the batch is `batch` (or N in the named form)"}


def spec_schema() -> dict[str, Any]:
    defs = layer_schemas()
    items = {"$ref": "#/$defs/Item"}
    item_list = {"type": "array", "items": items}
    common = {"name": {"type": "string"}, "when": {"anyOf": [{"type": "integer"}, {"type": "boolean"}, EXPRESSION]}}
    composites = {
        "sequential": {"layers": item_list},
        "residual": {"body": item_list, "shortcut": item_list, "shortcut_name": {"type": "string"},
                     "active": {"anyOf": [{"type": "integer"}, {"type": "boolean"}, EXPRESSION]}},
        "parallel": {
            "branches": {"anyOf": [{"type": "array", "items": item_list},
                                   {"type": "object", "additionalProperties": {"anyOf": [item_list, items]}}]},
            "merge": {"enum": ["concat", "add"]},
            "split": {"anyOf": [{"type": "boolean"}, {"type": "array", "items": {"type": "integer"}}]},
        },
        "gate": {"body": item_list},
        "block": {"block": {"type": "string"}, "with": {"type": "object"},
                  "repeat": {"anyOf": [{"type": "integer", "minimum": 1}, EXPRESSION]},
                  "overrides": {"type": "object"}},
    }
    for kind, props in composites.items():
        assert set(props) | {"type"} | set(common) == COMPOSITE_KEYS[kind], kind
        defs[kind.capitalize()] = {
            "type": "object", "additionalProperties": False, "required": ["type"],
            "properties": {"type": {"const": kind}, **common, **props},
        }
    defs["Item"] = {"oneOf": [{"$ref": f"#/$defs/{cls.__name__}"} for cls in KINDS]
                    + [{"$ref": f"#/$defs/{k.capitalize()}"} for k in composites]}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "flopcalc network spec",
        "type": "object",
        "additionalProperties": False,
        "required": ["name", "input", "layers"],
        "properties": {
            "name": {"type": "string"},
            "description": {"type": "string"},
            "source": {"type": "string"},
            "input": input_schema(),
            "batch": {**SIZE, "description": "the batch size N (default 1)"},
            "defaults": {"type": "object"},
            "blocks": {"type": "object", "additionalProperties": {
                "type": "object", "additionalProperties": False, "required": ["layers"],
                "properties": {"params": {"type": "object"}, "layers": item_list,
                               "description": {"type": "string"}}}},
            "layers": item_list,
        },
        "$defs": defs,
    }
