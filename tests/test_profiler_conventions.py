"""Each profiler convention reproduces the real tool exactly: on every single-layer case and on
every network spec, against figures the tools produced (tests/fixtures/profilers/, written by
tools/oracle/make_fixtures.py with the versions recorded in the files; see docs/profilers.md)."""

import json
from pathlib import Path

import pytest
from tool_totals import TOOLS

from calc import conventions
from calc.network import load_network
from calc.parse import parse_layer
from calc.report import evaluate_layer

FIXTURES = Path(__file__).parent / "fixtures"
LAYERS = json.loads((FIXTURES / "profilers" / "layers.json").read_text())["cases"]
SPECS = Path(__file__).parent.parent / "specs"

SPATIAL = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}
KIND = {
    "conv1d": "conv", "conv2d": "conv", "conv3d": "conv", "conv_transpose1d": "deconv",
    "conv_transpose2d": "deconv", "conv_transpose3d": "deconv",
    "batchnorm1d": "batchnorm", "batchnorm2d": "batchnorm", "maxpool2d": "maxpool",
    "avgpool2d": "avgpool", "adaptive_avgpool2d": "adaptive_avgpool",
    "adaptive_maxpool2d": "adaptive_maxpool", "cat": "concat",
}
RENAME = {"in_channels": "Cin", "out_channels": "Cout", "kernel_size": "K", "in_features": "Cin",
          "out_features": "Cout", "num_features": "Cin"}


def record(case):
    """The calc record for a fixture's PyTorch module, its input stated from the fixture."""
    layer = dict(case["layer"])
    kind = KIND.get(layer.pop("kind"), case["layer"]["kind"])
    form = layer.pop("form", "")
    data = {"type": kind, **{RENAME.get(k, k): v for k, v in layer.items()}}
    if form.startswith("F."):
        data["call"] = "functional"
    shapes = case["input_shapes"]
    first = shapes[0]
    data["N"] = first[0]
    if kind == "linear":
        if len(first) > 2:
            pytest.skip("a linear over a 3-d input is stated as a network, not a standalone layer")
        data["Cin"] = first[-1]
        return parse_layer(data)
    if kind == "concat":
        data["Cin"] = [s[1] for s in shapes]
    elif kind in ("add", "mul"):
        if len({tuple(s) for s in shapes}) > 1:
            pytest.skip("broadcast operands are checked in network specs")
        data["inputs"] = len(shapes)
        data["Cin"] = first[1]
    else:
        data["Cin"] = first[1]
    data.update(dict(zip(SPATIAL.get(len(first) - 2, ()), first[2:])))
    if kind == "maxpool" or kind == "avgpool":
        data.pop("dilation", None) if kind == "avgpool" else None
    return parse_layer(data)


def module_cases():
    for case in LAYERS:
        form = case["layer"].get("form", "")
        if case["mode"] != "eval" or form.startswith(("F.", "torch.")):
            continue  # a functional call or training mode: not what a spec layer stands for
        for name in TOOLS:
            yield pytest.param(case, name, id=f"{case['id']}-{name}")


@pytest.mark.parametrize("case, convention", list(module_cases()))
def test_single_layer_matches_tool(case, convention):
    folder, total = TOOLS[convention]
    expected = total(case["tools"][folder])
    layer = record(case)
    conv = conventions.get(convention)
    report = evaluate_layer(layer, conv)
    assert report.output_shape == tuple(case["output_shape"])
    assert report.totals.flops == expected


FIXTURE_OF_SPEC = {"resnet50_v1_paper": "resnet50_paper"}


def network_cases():
    for spec in sorted(SPECS.glob("*.yaml")):
        model = FIXTURE_OF_SPEC.get(spec.stem, spec.stem)
        if not (FIXTURES / "torchvision" / f"{model}.json").exists():
            continue
        for name in [*TOOLS, "torchvision"]:
            yield pytest.param(spec, model, name, id=f"{spec.stem}-{name}")


@pytest.mark.parametrize("spec, model, convention", list(network_cases()))
def test_network_total_matches_tool(spec, model, convention):
    net = load_network(str(spec))
    if convention == "torchvision":
        truth = json.loads((FIXTURES / "torchvision" / f"{model}.json").read_text())
        # The card's figure counts attention's functional products too; conv_linear_macs counts
        # nn.Conv/nn.Linear modules only (vit_b_16's card 17.564 G against 11.271 G of modules).
        expected = CARD_MACS.get(model, truth["conv_linear_macs"])
    else:
        folder, total = TOOLS[convention]
        expected = total(json.loads((FIXTURES / "profilers" / folder / f"{model}.json").read_text()))
    assert net.evaluate(conventions.get(convention)).totals.flops == expected


CARD_MACS = {"vit_b_16": 17_563_828_224}
"""Exact MACs behind torchvision's card for models whose attention runs functionally:
ViT_B_16_Weights.IMAGENET1K_V1.meta['_ops'] = 17.564 (tests/fixtures/published_transformers.json),
conv 115,605,504 + linear + 12 x (in/out projections + 2*H*T^2*h) (tests/test_transformer_specs.py)."""


RESNET50_QUOTES = {
    "torchvision": 4_089_184_256,
    "fvcore": 4_111_512_576,
    "thop": 4_133_742_592,
    "torch": 8_178_368_512,
    "calflops": 8_211_108_352,
}


@pytest.mark.parametrize("convention, figure", RESNET50_QUOTES.items())
def test_the_six_resnet50_figures(convention, figure):
    net = load_network(str(SPECS / "resnet50.yaml"))
    assert net.evaluate(conventions.get(convention)).totals.flops == figure


def test_paper_layout_macs():
    net = load_network(str(SPECS / "resnet50_v1_paper.yaml"))
    assert net.evaluate(conventions.get("torchvision")).totals.flops == 3_857_973_248


def test_every_convention_prices_every_operation():
    for convention in conventions.CONVENTIONS.values():
        for op in conventions.OPS:
            convention.rule_for(op)  # raises if missing


# -- per layer -----------------------------------------------------------------------------------
# The tools that report per-module figures: module path -> figure, for leaf modules called once.
PER_LAYER = {
    "thop": ("thop", lambda f: {p: v["ops"] for p, v in f["per_leaf_total_ops"].items()}),
    "torchinfo": ("torchinfo", lambda f: {p: v["macs"] for p, v in f["per_leaf_macs"].items() if v["calls"] == 1}),
    "fvcore": ("fvcore", lambda f: {p: sum(v.values()) for p, v in f["leaf_by_operator"].items()}),
}


def per_layer_cases():
    for spec, model, convention in (c.values for c in network_cases()):
        if convention in PER_LAYER:
            yield pytest.param(spec, model, convention, id=f"{spec.stem}-{convention}")


@pytest.mark.parametrize("spec, model, convention", list(per_layer_cases()))
def test_per_layer_figures_match_tool(spec, model, convention):
    from test_specs_library import PUBLISHED, spec_path  # torchvision name -> spec path

    folder, per_module = PER_LAYER[convention]
    figures = per_module(json.loads((FIXTURES / "profilers" / folder / f"{model}.json").read_text()))
    leaves = json.loads((FIXTURES / "torchvision" / f"{model}.json").read_text())["leaves"]
    from test_transformer_specs import PATH_ALIASES

    row = next((r for r in PUBLISHED if r["spec"] == spec.stem), None) or {
        "path_aliases": PATH_ALIASES.get(spec.stem, [])}
    rows = {r.path: r.flops for r in load_network(str(spec)).evaluate(conventions.get(convention)).rows}
    compared = 0
    for name, leaf in leaves.items():
        path = spec_path(row, name)
        if leaf.get("calls", 1) != 1 or name not in figures or path not in rows:
            continue  # shared modules (one figure for several calls) and modules a spec merges
        assert rows[path] == figures[name], f"{path} ({leaf['cls']})"
        compared += 1
    assert compared >= 5
