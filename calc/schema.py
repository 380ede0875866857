"""JSON Schema of the spec format, for editors (`calc schema > spec.schema.json`).

Layer records contribute their pydantic schemas (with each field's description); composites are
described here.  Inside blocks an integer field may also be an expression string over block
parameters, so every integer in a layer schema also accepts a string.  Every integer has at most
calc.limits.MAX_INT_DIGITS digits.

An item is told apart by its `type` (a discriminated union): `Item` checks that `type` names a
layer kind or a composite, then an `if`/`then` per record applies only that record's schema, whose
`additionalProperties: false` makes a misspelt field an error naming it ("'strid' was unexpected")
rather than a list of the other kinds' tags.  The format itself is documented in
docs/spec-format.md.
"""

from __future__ import annotations

from typing import Any

from calc.expr import MAX_LENGTH
from calc.layers import KINDS, REGISTRY
from calc.limits import MAX_INT
from calc.network.builder import COMPOSITE_KEYS, INPUT_AXES
from calc.network.program import TIEABLE

EXPRESSION = {"type": "string", "maxLength": MAX_LENGTH,
              "description": "integer expression over block parameters: + - * // % ( )"}
SIZE = {"type": "integer", "minimum": 1, "maximum": MAX_INT}
CONDITION = {"anyOf": [{"type": "integer"}, {"type": "boolean"}, EXPRESSION]}
WHEN = {**CONDITION, "description": "left out when this is 0 or false (an int, a bool or an expression)"}
NAME = {"type": "string", "description": "its path segment in reports (no dots); unnamed composites add none"}
TIE = {"type": "string", "description": "the path of an earlier linear or embedding layer whose weight this "
                                        "one shares (GPT-2's lm_head: tie: wte): params counted once, at "
                                        "that layer; this row shows 0"}
SPEC_FORMAT_DOC = "docs/spec-format.md"


def _allow_expressions(node: Any) -> Any:
    """Every integer schema also accepts an expression string; a description moves up to the
    anyOf, where editors show it."""
    if isinstance(node, dict):
        node = {k: _allow_expressions(v) for k, v in node.items()}
        if node.get("type") == "integer":
            described = {k: node.pop(k) for k in ("description", "title", "default") if k in node}
            bounded = {**node, "maximum": min(node.get("maximum", MAX_INT), MAX_INT)}
            return {"anyOf": [bounded, EXPRESSION], **described}
        return node
    if isinstance(node, list):
        return [_allow_expressions(v) for v in node]
    return node


def _tag_schema(tags: tuple[str, ...], description: str | None) -> dict[str, Any]:
    tag: dict[str, Any] = {"const": tags[0]} if len(tags) == 1 else {"enum": list(tags)}
    return {**tag, "description": description or "the layer kind"}


def layer_schemas() -> dict[str, Any]:
    """One schema per record class, keyed by class name, each closed (additionalProperties
    false) and with a description on every field."""
    defs: dict[str, Any] = {}
    for cls in KINDS:
        schema = cls.model_json_schema()
        for name, sub in schema.pop("$defs", {}).items():
            defs[name] = sub
        schema["properties"]["when"] = WHEN
        if cls.TAGS[0] in TIEABLE:
            schema["properties"]["tie"] = TIE
        schema["properties"]["type"] = _tag_schema(cls.TAGS, cls.model_fields["type"].description)
        schema.setdefault("required", [])
        if "type" not in schema["required"]:
            schema["required"].append("type")
        defs[cls.__name__] = _allow_expressions(schema)
    return defs


def input_schema() -> dict[str, Any]:
    """`input`: the per-sample shape, [C], [C, L] or [C, H, W] (a 4-entry list is ambiguous and
    refused), or named axes {C}, {C, L}, {C, H, W}, {C, D, H, W}, {T}, {T, d} with an optional N
    (the batch)."""
    axis = {"N": "the batch (not with top-level batch)", "C": "channels", "L": "length",
            "D": "depth", "H": "height", "W": "width", "T": "sequence length (tokens)",
            "d": "features per token"}
    named = [{"type": "object", "additionalProperties": False, "required": list(axes),
              "properties": {a: {**SIZE, "description": axis[a]} for a in ("N", *axes)}}
             for axes in INPUT_AXES]
    return {"anyOf": [{"type": "array", "items": SIZE, "minItems": 1, "maxItems": 3}, *named],
            "description": "per-sample shape [C], [C, L], [C, H, W] or named axes "
                           "{C, D, H, W}, {T} (token ids), {T, d}; the batch is `batch` (or N "
                           "in the named form)"}


def _composites(items: dict, item_list: dict) -> dict[str, dict[str, Any]]:
    """The properties of each composite, described."""
    def listed(description: str) -> dict[str, Any]:
        return {**item_list, "description": description}

    return {
        "sequential": {"layers": listed("the items, applied in order")},
        "residual": {
            "body": listed("the main path"),
            "shortcut": listed("the shortcut path (absent or empty: identity)"),
            "shortcut_name": {"type": "string", "description": "path segment of the shortcut (default shortcut)"},
            "merge_name": {"type": "string", "description": "path segment of the sum (default add)"},
            "active": {**CONDITION, "description": "0 or false: the body alone, no shortcut and no sum"},
        },
        "parallel": {
            "branches": {"anyOf": [{"type": "array", "items": {"anyOf": [item_list, items, {"type": "null"}]}},
                                   {"type": "object", "additionalProperties": {"anyOf": [item_list, items,
                                                                                         {"type": "null"}]}}],
                         "description": "a list of layer lists, or a mapping name -> layer list or one "
                                        "layer; an empty branch is the identity"},
            "merge": {"enum": ["concat", "add", "mul", "matmul", "einsum"],
                      "description": "how branch outputs combine (default concat); matmul: exactly two "
                                     "branches, a @ b; einsum: one operand per branch, by `equation`"},
            "merge_form": {"enum": ["matmul", "operator", "bmm"],
                           "description": "merge: matmul only: how PyTorch calls it: torch.matmul "
                                          "(default), a @ b, torch.bmm"},
            "equation": {"type": "string",
                         "description": "merge: einsum only: e.g. 'bij,bkj->bik', the branches in order"},
            "split": {"anyOf": [{"type": "boolean"}, {"type": "array", "items": {"type": "integer", "minimum": 1}},
                                EXPRESSION],
                      "description": "true: each branch gets an equal channel chunk; a list: the channels of "
                                     "each branch; false (default): each branch gets the whole input"},
        },
        "gate": {"body": listed("computes the gate; the output is input * body(input)")},
        "block": {
            "block": {"type": ["string", "integer"], "description": "name of a block defined under `blocks`"},
            "with": {"type": "object", "description": "parameter values: {param: int or expression}"},
            "repeat": {"anyOf": [{"type": "integer", "minimum": 1}, EXPRESSION],
                       "description": "run the block this many times in sequence (paths .0, .1, ...)"},
            "overrides": {"type": "object", "description": "{iteration: {param: value}} for some repeats"},
        },
    }


def spec_schema() -> dict[str, Any]:
    defs = layer_schemas()
    items = {"$ref": "#/$defs/Item"}
    item_list = {"type": "array", "items": items}
    common = {"name": NAME, "when": WHEN}
    composites = _composites(items, item_list)
    what = {"sequential": "items in order", "residual": "body + shortcut (add)",
            "parallel": "branches merged by concat, add, mul, matmul or einsum", "gate": "input * body(input) (mul)",
            "block": "a named block, with parameters, repeated"}
    for kind, props in composites.items():
        assert set(props) | {"type"} | set(common) == COMPOSITE_KEYS[kind], kind
        defs[kind.capitalize()] = {
            "type": "object", "additionalProperties": False, "required": ["type"],
            "description": f"{kind}: {what[kind]}",
            "properties": {"type": {"const": kind, "description": f"the composite {kind}"}, **common, **props},
        }
    branches = [(cls.TAGS, cls.__name__) for cls in KINDS] + [((k,), k.capitalize()) for k in composites]
    defs["Item"] = {
        "type": "object",
        "required": ["type"],
        "description": "a layer ({type: conv, ...}) or a composite ({type: residual, ...})",
        "properties": {"type": {"enum": [*sorted(REGISTRY), *composites],
                                "description": "a layer kind or a composite"}},
        "allOf": [{"if": {"properties": {"type": _tag_schema(tags, None)}, "required": ["type"]},
                   "then": {"$ref": f"#/$defs/{ref}"}} for tags, ref in branches],
    }
    all_fields = sorted({f for cls in KINDS for f in cls.model_fields} - {"type", "name"})
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "flopcalc network spec",
        "description": f"a network for flopcalc; the format is described in {SPEC_FORMAT_DOC}",
        "type": "object",
        "additionalProperties": False,
        "required": ["name", "input", "layers"],
        "properties": {
            "name": {"type": "string", "description": "the network's name"},
            "description": {"type": "string", "description": "free text"},
            "source": {"type": "string", "description": "where the architecture comes from"},
            "input": input_schema(),
            "batch": {**SIZE, "description": "the batch size N (default 1)"},
            "defaults": {
                "type": "object",
                "description": "fields a layer does not state: {field: value} for every kind that "
                               "has the field, or {kind: {field: value}} for one kind",
                "propertyNames": {"enum": [*sorted(REGISTRY), *all_fields]},
            },
            "blocks": {"type": "object", "description": "named, parameterised groups of layers",
                       "additionalProperties": {
                           "type": "object", "additionalProperties": False, "required": ["layers"],
                           "properties": {
                               "params": {"type": "object",
                                          "description": "parameter -> default (null: required)"},
                               "layers": {**item_list, "description": "the block's items"},
                               "description": {"type": "string", "description": "free text"}}}},
            "layers": {**item_list, "minItems": 1, "description": "the network's items, in order"},
        },
        "$defs": defs,
    }
