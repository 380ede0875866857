"""The library of real networks in specs/: each spec loads, has the published parameter count
exactly, the published MACs to the published precision, the exact MACs of an oracle where one is
known, and (where a torchvision oracle fixture exists) every module's output shape, parameters
and MACs as real torchvision computes them.

Published figures and their sources: tests/fixtures/published.json (the CNNs).  Oracle fixtures:
tests/fixtures/torchvision/<model>.json (a forward pass of the real model, tools/oracle).
The transformer specs (ViT-B/16, BERT, GPT-2, Llama 2, Mistral, Mixtral) are checked by
tests/test_transformer_specs.py against tests/fixtures/published_transformers.json: their rows
are not in published.json, and ViT-B/16's torchvision fixture's conv_linear_macs (module hooks on
Conv2d and Linear) misses the products nn.MultiheadAttention computes functionally, so the
oracle tests below, which compare against it, are for the CNN rows only.
"""

from __future__ import annotations

import json
import re
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path

import pytest
from test_transformer_specs import FIXTURE_OF_SPEC as TRANSFORMER_SPECS
from test_transformer_specs import TOKEN_SPECS

from calc.library import library_names, library_path
from calc.network import load_network

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
PUBLISHED = json.loads((Path(__file__).parent / "fixtures" / "published.json").read_text())
BY_SPEC = {row["spec"]: row for row in PUBLISHED}
SPEC_FILES = sorted(p.stem for p in SPECS.glob("*.yaml"))


@cache
def network(spec: str):
    return load_network(str(SPECS / f"{spec}.yaml"))


@cache
def report(spec: str):
    return network(spec).evaluate()


def oracle(row: dict) -> dict | None:
    path = ROOT / row["oracle"] if "oracle" in row else None
    if path is None or not path.exists():
        return None
    return json.loads(path.read_text())


def spec_path(row: dict, torch_name: str) -> str:
    """torchvision's module name -> the spec's path (the same unless published.json says how)."""
    for pattern, replacement in row.get("path_aliases", []):
        torch_name = re.sub(pattern, replacement, torch_name)
    return torch_name


def gigas(count: int, published: str, rounding: str = ROUND_HALF_UP) -> Decimal:
    """count / 1e9 rounded to as many decimals as the published figure shows."""
    decimals = len(published.split(".")[1]) if "." in published else 0
    return (Decimal(count) / Decimal(10**9)).quantize(Decimal(1).scaleb(-decimals), rounding=rounding)


# -- the library is complete and loads ---------------------------------------------------------

@pytest.mark.parametrize("spec", SPEC_FILES)
def test_every_spec_loads_and_evaluates(spec):
    net = network(spec)
    shapes = net.shapes()
    totals = report(spec).totals
    assert shapes and totals.params > 0 and totals.macs > 0
    # images (1, C, H, W); token ids (1, T) for the language models
    assert len(net.input_shape) == (2 if spec in TOKEN_SPECS else 4) and net.input_shape[0] == 1


LIBRARY = {
    "alexnet", "vgg16", "vgg16_bn", "resnet18", "resnet50", "resnet50_v1_paper", "mobilenet_v1",
    "mobilenet_v2", "mobilenet_v3_large", "squeezenet1_0", "shufflenet_v2_x1_0", "googlenet",
    "densenet121", "efficientnet_b0", "inception_v3", "separable_example", "convnext_tiny",
    "vit_b_16", "bert_base_uncased", "gpt2", "llama2_7b", "mistral_7b", "mixtral_8x7b",
}


def test_library_is_complete_and_every_entry_has_a_spec():
    assert LIBRARY <= set(SPEC_FILES), f"missing specs: {sorted(LIBRARY - set(SPEC_FILES))}"
    assert set(BY_SPEC) | set(TRANSFORMER_SPECS) == LIBRARY and not set(BY_SPEC) & set(TRANSFORMER_SPECS)


def test_the_library_calc_ships_is_this_folder():
    """What `calc list` shows and `calc report NAME` finds (calc.library) is exactly specs/*.yaml."""
    assert library_names() == SPEC_FILES and set(SPEC_FILES) == LIBRARY
    for spec in SPEC_FILES:
        assert Path(library_path(spec)).read_bytes() == (SPECS / f"{spec}.yaml").read_bytes(), spec


def test_published_rows_cite_a_source():
    for row in PUBLISHED:
        assert row["source"].strip(), row["spec"]
        if "macs" in row:
            assert row.get("exact_source", "").strip(), row["spec"]


# -- totals ------------------------------------------------------------------------------------

@pytest.mark.parametrize("spec", sorted(BY_SPEC))
def test_params_exact(spec):
    assert report(spec).totals.params == BY_SPEC[spec]["params"]


@pytest.mark.parametrize("spec", sorted(BY_SPEC))
def test_macs_match_published_precision(spec):
    row = BY_SPEC[spec]
    macs = report(spec).totals.macs
    rounding = ROUND_DOWN if row.get("macs_g_rounding") == "down" else ROUND_HALF_UP
    assert gigas(macs, row["macs_g"], rounding) == Decimal(row["macs_g"])
    if "macs_g_meta" in row:
        assert gigas(macs, row["macs_g_meta"]) == Decimal(row["macs_g_meta"])
    if "params_m" in row:
        millions = (Decimal(report(spec).totals.params) / 10**6).quantize(Decimal("0.1"), ROUND_HALF_UP)
        assert millions == Decimal(row["params_m"])


@pytest.mark.parametrize("spec", sorted(s for s, r in BY_SPEC.items() if "macs" in r))
def test_macs_exact(spec):
    assert report(spec).totals.macs == BY_SPEC[spec]["macs"]


def test_resnet50_v1_5_exact():
    """torchvision's resnet50 (stride on the 3x3): 4,089,184,256 MACs, 25,557,032 params."""
    totals = report("resnet50").totals
    assert (totals.params, totals.macs) == (25_557_032, 4_089_184_256)
    assert gigas(totals.macs, "4.09") == Decimal("4.09")


def test_resnet50_paper_layout_differs_only_in_the_strided_1x1s():
    """Moving the stride to conv1 makes that 1x1 compute a quarter of its outputs; the 3x3
    after it has the same output size either way, so only the three conv1s change."""
    v15, v1 = report("resnet50").totals.macs, report("resnet50_v1_paper").totals.macs
    assert v15 - v1 == 4_089_184_256 - 3_857_973_248 == 3 * 77_070_336
    rows15 = {r.path: r for r in report("resnet50").rows}
    rows1 = {r.path: r for r in report("resnet50_v1_paper").rows}
    changed = sorted(p for p in rows15 if rows15[p].macs != rows1[p].macs)
    assert changed == [f"layer{i}.0.conv1" for i in (2, 3, 4)]
    for p in changed:
        assert rows15[p].macs == 4 * rows1[p].macs == 4 * 25_690_112
    assert report("resnet50").totals.params == report("resnet50_v1_paper").totals.params


def test_separable_example_layers():
    row = BY_SPEC["separable_example"]
    rows = {r.path: r.macs for r in report("separable_example").rows}
    assert rows == row["layer_macs"]
    assert sum(rows.values()) == 109_985_792


# -- layer by layer against real torchvision ---------------------------------------------------

ORACLE_SPECS = sorted(s for s, r in BY_SPEC.items() if "oracle" in r)


@pytest.mark.parametrize("spec", ORACLE_SPECS)
def test_totals_match_oracle(spec):
    row = BY_SPEC[spec]
    fixture = oracle(row)
    if fixture is None:
        pytest.skip(f"{row['oracle']} not generated")
    totals = report(spec).totals
    assert totals.params == fixture["total_params"]
    assert totals.macs == fixture["conv_linear_macs"]
    assert tuple(network(spec).input_shape) == tuple(fixture["input_shape"])
    card = fixture.get("torchvision_model_card") or {}
    for weights in card.values():
        assert Decimal(str(weights["GFLOPS"])) == Decimal(row["macs_g_meta"]), weights


@pytest.mark.parametrize("spec", ORACLE_SPECS)
def test_every_module_matches_oracle(spec):
    """Every torchvision leaf module called once: the spec has it, with the same output shape,
    parameters and MACs.  Modules never called (empty branches, unused stochastic depth) and
    parameter-free modules called more than once (a shared ReLU) are skipped."""
    row = BY_SPEC[spec]
    fixture = oracle(row)
    if fixture is None:
        pytest.skip(f"{row['oracle']} not generated")
    shapes = network(spec).shapes()
    rows = {r.path: r for r in report(spec).rows}
    checked, problems = 0, []
    for name, leaf in fixture["leaves"].items():
        if leaf.get("calls", 1) != 1 or leaf.get("output_shape") is None:
            assert not leaf["params"] or leaf.get("calls", 1) == 0, f"{name} has weights and is reused"
            continue
        path = spec_path(row, name)
        if path not in rows:
            problems.append(f"{name} ({leaf['cls']}): no spec path {path}")
            continue
        checked += 1
        if tuple(shapes[path]) != tuple(leaf["output_shape"]):
            problems.append(f"{path}: shape {shapes[path]} != {leaf['output_shape']}")
        if rows[path].params != leaf["params"]:
            problems.append(f"{path}: params {rows[path].params} != {leaf['params']}")
        if "macs" in leaf and rows[path].macs != leaf["macs"]:
            problems.append(f"{path}: macs {rows[path].macs} != {leaf['macs']}")
    assert not problems, "\n".join(problems)
    assert checked > 0


# -- well-known shapes, independent of the oracle fixtures --------------------------------------

RESNET50_SHAPES = {
    # He et al. 2015, Table 1 (output sizes per stage) and torchvision.models.resnet50.
    "conv1": (1, 64, 112, 112),
    "maxpool": (1, 64, 56, 56),
    "layer1.0.conv1": (1, 64, 56, 56),
    "layer1.2.relu": (1, 256, 56, 56),
    "layer2.0.conv1": (1, 128, 56, 56),     # v1.5: conv1 does not stride ...
    "layer2.0.conv2": (1, 128, 28, 28),     # ... the 3x3 does
    "layer2.0.downsample.0": (1, 512, 28, 28),
    "layer2.3.relu": (1, 512, 28, 28),
    "layer3.5.relu": (1, 1024, 14, 14),
    "layer4.2.relu": (1, 2048, 7, 7),
    "avgpool": (1, 2048, 1, 1),
    "flatten": (1, 2048),
    "fc": (1, 1000),
}

MOBILENET_V2_SHAPES = {
    # Sandler et al. 2018, Table 2 (input of each row = output of the previous) and
    # torchvision.models.mobilenet_v2 module names.
    "features.0.0": (1, 32, 112, 112),
    "features.1.conv.2": (1, 16, 112, 112),
    "features.2.conv.0.0": (1, 96, 112, 112),
    "features.2.conv.1.0": (1, 96, 56, 56),
    "features.3.add": (1, 24, 56, 56),
    "features.6.add": (1, 32, 28, 28),
    "features.10.add": (1, 64, 14, 14),
    "features.13.add": (1, 96, 14, 14),
    "features.16.add": (1, 160, 7, 7),
    "features.17.conv.3": (1, 320, 7, 7),
    "features.18.2": (1, 1280, 7, 7),
    "avgpool": (1, 1280, 1, 1),
    "classifier.1": (1, 1000),
}


@pytest.mark.parametrize("spec, expected", [("resnet50", RESNET50_SHAPES), ("mobilenet_v2", MOBILENET_V2_SHAPES)])
def test_well_known_shapes(spec, expected):
    shapes = network(spec).shapes()
    assert {p: tuple(shapes[p]) for p in expected} == expected


def test_resnet50_paper_layout_strides_conv1():
    shapes = network("resnet50_v1_paper").shapes()
    assert tuple(shapes["layer2.0.conv1"]) == (1, 128, 28, 28)
    assert tuple(shapes["layer2.0.conv2"]) == (1, 128, 28, 28)
    assert tuple(shapes["layer4.2.relu"]) == (1, 2048, 7, 7)


def test_ceil_mode_pools():
    """SqueezeNet and GoogLeNet max pools round up (ceil_mode=True): 109 -> 54, 112 -> 56."""
    squeeze = network("squeezenet1_0").shapes()
    assert tuple(squeeze["features.2"]) == (1, 96, 54, 54)
    assert tuple(squeeze["features.11"]) == (1, 512, 13, 13)
    google = network("googlenet").shapes()
    assert tuple(google["maxpool1"]) == (1, 64, 56, 56)
    assert tuple(google["maxpool4"]) == (1, 832, 7, 7)


def test_inception_v3_at_299():
    shapes = network("inception_v3").shapes()
    assert tuple(shapes["Conv2d_1a_3x3.conv"]) == (1, 32, 149, 149)
    assert tuple(shapes["Mixed_5b.concat"]) == (1, 256, 35, 35)
    assert tuple(shapes["Mixed_6a.concat"]) == (1, 768, 17, 17)
    assert tuple(shapes["Mixed_7c.concat"]) == (1, 2048, 8, 8)
