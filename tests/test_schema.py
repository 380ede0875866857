"""Issue 16, "the spec format is documented where people look": every field of every layer record
has a description (the CLI's --help and the JSON Schema show it), and the JSON Schema tells items
apart by `type`, so an editor names a misspelt field ('strid') instead of listing the other kinds.

The validation tests need the `jsonschema` package (in the `test` extra); without it they are
skipped with that reason."""

from __future__ import annotations

import glob
import os
import textwrap

import pytest
import yaml

from calc.layers import KINDS, REGISTRY
from calc.network import network_from_text
from calc.network.builder import COMPOSITE_KEYS
from calc.schema import spec_schema

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPECS = sorted(glob.glob(os.path.join(ROOT, "specs", "*.yaml")))

SAMPLES: dict[str, dict] = {
    "conv": {"K": 3, "Cout": 8, "padding": 1}, "depthwise": {"K": 3, "multiplier": 2},
    "pointwise": {"Cout": 8}, "separable": {"K": 3, "Cout": 8}, "deconv": {"K": 2, "Cout": 8, "stride": 2},
    "linear": {"Cout": 8}, "batchnorm": {}, "maxpool": {"K": 2}, "avgpool": {"K": 2},
    "adaptive_avgpool": {"output_size": 1}, "adaptive_maxpool": {"output_size": [2, 2]},
    "global_avgpool": {}, "global_maxpool": {"keepdims": False}, "flatten": {}, "dropout": {"p": 0.2},
    "identity": {}, "channel_shuffle": {"groups": 2}, "groupnorm": {"groups": 2}, "upsample": {"scale_factor": 2},
    "prelu": {"num_parameters": "channels"}, "softmax": {"dim": 1}, "leaky_relu": {"negative_slope": 0.1},
    "elu": {"alpha": 1.0},
    "permute": {"dims": [0, 2, 3, 1]}, "transpose": {"dim0": 1, "dim1": 2}, "reshape": {"shape": [-1]},
    "view": {"shape": [4, 64]}, "split": {"sizes": [3, 5], "index": 0}, "chunk": {"chunks": 2, "index": 1},
    "matmul": {"other": [8, 2], "other_is": "buffer"},
    "einsum": {"equation": "abcd,de", "others": [[8, 3]], "others_are": "buffer"}, "scale": {"dim": 1},
    "embedding": {"num_embeddings": 10, "embedding_dim": 8, "padding_idx": 0, "max_norm": 1.0},
    "attention": {"heads": 4, "kv_heads": 2, "causal": True, "window": 4, "rotary": True},
    "moe": {"experts": 4, "top_k": 2, "hidden": 8, "shared_experts": 1},
    "class_token": {"tokens": 2}, "position_embedding": {"rows": 16, "lookup": True}, "select": {"index": -1},
}
"""A valid layer of every kind (activations not listed take no field), for an [4, 8, 8] input
(attention: [8, 8], a sequence of 8 tokens of 8 features)."""
SEQUENCE_KINDS = ("attention", "moe", "class_token", "position_embedding", "select")
MERGES = ("add", "mul", "concat")
"""Kinds that need several inputs: the builder places them, a spec does not."""


def sample(tag: str) -> dict:
    return {"type": tag, **SAMPLES.get(tag, {})}


def validator():
    jsonschema = pytest.importorskip(
        "jsonschema", reason="jsonschema is not installed (pip install '.[test]' brings it)")
    schema = spec_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def messages(v, layers: list, **top) -> list[str]:
    spec = {"name": "t", "input": [4, 8, 8], "layers": layers, **top}
    return [e.message for e in v.iter_errors(spec)]


# -- descriptions --------------------------------------------------------------------------------

@pytest.mark.parametrize("tag", sorted(REGISTRY))
def test_every_field_of_every_kind_has_a_one_line_description(tag):
    cls = REGISTRY[tag]
    for name, info in cls.model_fields.items():
        assert info.description and info.description.strip(), f"{tag}.{name} has no description"
        assert "\n" not in info.description and len(info.description) <= 120, f"{tag}.{name}"


def test_descriptions_leave_validation_alone():
    """Field(description=...) keeps defaults, requiredness and strictness as they were."""
    from calc.layers import Conv, Dropout, ElementwiseMerge

    assert [n for n, f in Conv.model_fields.items() if f.is_required()] == ["K", "Cout"]
    assert Conv.model_fields["stride"].default == 1 and Conv.model_fields["bias"].default is True
    assert Dropout.model_fields["p"].default == 0.5 and ElementwiseMerge.model_fields["inputs"].default == 2
    for cls in KINDS:
        config = cls.model_config
        assert config["strict"] and config["frozen"] and config["extra"] == "forbid" and config["defer_build"]


def test_schema_describes_every_field_and_every_key():
    schema = spec_schema()
    for key, prop in schema["properties"].items():
        assert prop.get("description"), key
    for cls in KINDS:
        props = schema["$defs"][cls.__name__]["properties"]
        tie = {"tie"} if cls.TAGS[0] in ("embedding", "linear") else set()  # builder keys, not fields
        assert set(props) == set(cls.model_fields) | {"when"} | tie
        for name, prop in props.items():
            assert prop.get("description"), f"{cls.__name__}.{name}"
        assert props["K" if "K" in props else "type"]["description"] == (
            cls.model_fields["K" if "K" in props else "type"].description)
    for kind in COMPOSITE_KEYS:
        for name, prop in schema["$defs"][kind.capitalize()]["properties"].items():
            assert prop.get("description"), f"{kind}.{name}"


def test_schema_descriptions_are_not_hidden_inside_the_expression_union():
    """An int field also takes an expression string: the description sits on the union, where
    editors show it, not on one of its branches."""
    cout = spec_schema()["$defs"]["Conv"]["properties"]["Cout"]
    assert cout["description"] == "output channels"
    assert [set(b) & {"description"} for b in cout["anyOf"]] == [set(), {"description"}]


# -- the discriminated union ---------------------------------------------------------------------

def test_items_are_told_apart_by_type():
    item = spec_schema()["$defs"]["Item"]
    assert set(item["properties"]["type"]["enum"]) == set(REGISTRY) | set(COMPOSITE_KEYS)
    tags = []
    for branch in item["allOf"]:
        condition = branch["if"]["properties"]["type"]
        tags += [condition["const"]] if "const" in condition else condition["enum"]
        assert branch["if"]["required"] == ["type"]
    assert sorted(tags) == sorted([*REGISTRY, *COMPOSITE_KEYS])


def test_a_misspelt_field_is_named():
    """Before: `{type: conv, strid: 2}` failed the oneOf of every kind (the editor showed
    "'conv' is not one of ['depthwise']"); now only conv's schema applies and names 'strid'."""
    v = validator()
    assert messages(v, [{"type": "conv", "K": 3, "Cout": 8, "strid": 2}]) == [
        "Additional properties are not allowed ('strid' was unexpected)"]


@pytest.mark.parametrize("tag", sorted(REGISTRY))
def test_every_kind_validates_and_names_a_stray_field(tag):
    v = validator()
    assert messages(v, [sample(tag)]) == []
    assert messages(v, [{**sample(tag), "strid": 2}]) == [
        "Additional properties are not allowed ('strid' was unexpected)"]


@pytest.mark.parametrize("tag", sorted(set(REGISTRY) - set(MERGES)))
def test_the_samples_are_specs_the_builder_takes(tag):
    """The schema and the builder agree on each sample (so the samples above are no strawmen)."""
    shape = [8, 8] if tag in SEQUENCE_KINDS else [4, 8, 8]
    net = network_from_text(yaml.safe_dump({"name": "t", "input": shape, "layers": [sample(tag)]}))
    assert net.evaluate().totals.params >= 0


def test_required_fields_and_unknown_kinds():
    v = validator()
    assert messages(v, [{"type": "conv", "K": 3}]) == ["'Cout' is a required property"]
    (unknown,) = messages(v, [{"type": "Conv2d", "K": 3}])
    assert unknown.startswith("'Conv2d' is not one of") and "'conv'" in unknown and "'residual'" in unknown
    assert messages(v, [{"K": 3}]) == ["'type' is a required property"]


@pytest.mark.parametrize("path", SPECS, ids=os.path.basename)
def test_every_library_spec_validates(path):
    v = validator()
    with open(path, encoding="utf-8") as fh:
        errors = list(v.iter_errors(yaml.safe_load(fh)))
    assert not errors, f"{os.path.basename(path)}: {errors[0].message} at {list(errors[0].absolute_path)}"


COMPOSED = textwrap.dedent("""\
    name: composed
    input: [8, 16, 16]
    defaults: {bias: false, conv: {bn: true}}
    blocks:
      unit:
        params: {ch: null, s: 1}
        layers:
          - {type: conv, K: 3, Cout: ch, stride: s, padding: 1, act: relu}
    layers:
      - {type: block, name: stage, block: unit, with: {ch: 16}, repeat: 2, overrides: {1: {s: 2}}}
      - type: residual
        name: res
        body: [{type: conv, K: 3, Cout: 16, padding: 1}]
        shortcut: []
        active: 1
      - type: parallel
        name: split
        split: true
        branches: {a: [{type: pointwise, Cout: 8}], b: []}
      - type: parallel
        name: sum
        merge: add
        branches: [[{type: identity}], {type: relu}]
      - type: gate
        name: se
        body: [{type: global_avgpool}, {type: pointwise, Cout: 16}, {type: sigmoid}]
      - {type: sequential, name: head, when: "2 - 1", layers: [{type: flatten}, {type: linear, Cout: 10}]}
    """)


def test_composites_and_blocks_validate():
    v = validator()
    spec = yaml.safe_load(COMPOSED)
    network_from_text(COMPOSED).evaluate()  # the builder takes it too
    assert [e.message for e in v.iter_errors(spec)] == []
    spec["layers"][1]["shortcut_nme"] = "proj"
    spec["blocks"]["unit"]["parms"] = {}
    spec["defaults"]["conv"] = {"bn": True}
    spec["defaults"]["bais"] = False
    got = sorted(e.message for e in v.iter_errors(spec))
    assert got == ["'bais' is not one of " + repr(v.schema["properties"]["defaults"]["propertyNames"]["enum"]),
                   "Additional properties are not allowed ('parms' was unexpected)",
                   "Additional properties are not allowed ('shortcut_nme' was unexpected)"]
