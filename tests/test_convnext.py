"""ConvNeXt-Tiny (specs/convnext_tiny.yaml) as torchvision 0.29.1 builds it: the published
parameter count and GFLOPS, their derivation term by term, the layer scale (a parameter of the
block, multiplied with `*`) against the real model, and each tool's total decomposed into what
it counts.  The generic checks (every leaf module's shape, params and MACs; every convention's
total; thop/torchinfo/fvcore per module) run in test_specs_library.py and
test_profiler_conventions.py from the same fixtures.

Sources: tests/fixtures/torchvision/convnext_tiny.json (a forward pass of
torchvision.models.convnext_tiny(weights=None), tools/oracle/make_fixtures.py; it records the
weights' meta) and tests/fixtures/profilers/<tool>/convnext_tiny.json (the real tools).
"""

import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tool_totals import TOOLS

from calc import conventions
from calc.network import load_network, network_from_text

FIXTURES = Path(__file__).parent / "fixtures"
SPEC = Path(__file__).parent.parent / "specs" / "convnext_tiny.yaml"
TRUTH = json.loads((FIXTURES / "torchvision" / "convnext_tiny.json").read_text())

# torchvision 0.29.1, torchvision/models/convnext.py:210-226, ConvNeXt_Tiny_Weights.IMAGENET1K_V1
PUBLISHED_PARAMS = 28_589_128  # meta "num_params"
PUBLISHED_GFLOPS = "4.456"  # meta "_ops": conv + linear multiply-accumulates / 1e9, 3 decimals

# convnext_tiny: CNBlockConfig(96, 192, 3), (192, 384, 3), (384, 768, 9), (768, None, 3)
STAGES = ((96, 3, 56), (192, 3, 28), (384, 9, 14), (768, 3, 7))  # channels, blocks, H = W


@pytest.fixture(scope="module")
def network():
    return load_network(str(SPEC))


@pytest.fixture(scope="module")
def rows(network):
    return {r.path: r for r in network.evaluate().rows}


def block_params(c):
    """One CNBlock: depthwise 7x7 with bias, LayerNorm, Linear c -> 4c, Linear 4c -> c, gamma."""
    return (49 * c + c) + 2 * c + (c * 4 * c + 4 * c) + (4 * c * c + c) + c  # = 8c^2 + 58c


def block_macs(c, hw):
    return hw * hw * (49 * c + c * 4 * c + 4 * c * c)


def test_params_published_and_derived(network):
    stem = 3 * 16 * 96 + 96 + 2 * 96  # conv 4x4/4 with bias, LayerNorm2d
    blocks = sum(n * block_params(c) for c, n, _ in STAGES)
    downsampling = sum(2 * c + 4 * c * (2 * c) + 2 * c for c in (96, 192, 384))  # LN2d, conv 2x2/2
    head = 2 * 768 + 768 * 1000 + 1000  # LayerNorm2d, Linear
    assert stem + blocks + downsampling + head == PUBLISHED_PARAMS
    assert network.evaluate().totals.params == PUBLISHED_PARAMS == TRUTH["total_params"]
    assert TRUTH["torchvision_model_card"]["IMAGENET1K_V1"]["num_params"] == PUBLISHED_PARAMS


def test_macs_are_torchvisions_published_gflops(network):
    stem = 56 * 56 * 96 * 3 * 16
    blocks = sum(n * block_macs(c, hw) for c, n, hw in STAGES)
    downsampling = sum(hw * hw // 4 * (2 * c) * c * 4 for c, _, hw in STAGES[:3])
    head = 768 * 1000
    macs = network.evaluate().totals.macs
    assert macs == stem + blocks + downsampling + head == 4_455_531_264 == TRUTH["conv_linear_macs"]
    gflops = (Decimal(macs) / 10**9).quantize(Decimal("0.001"))
    assert gflops == Decimal(PUBLISHED_GFLOPS)
    assert Decimal(str(TRUTH["torchvision_model_card"]["IMAGENET1K_V1"]["GFLOPS"])) == gflops


def test_layer_scale_params(rows):
    """gamma is an nn.Parameter of CNBlock itself, shape (C, 1, 1): one per channel per block.
    No leaf module owns it, so the real model's total exceeds its leaves' sum by exactly these."""
    scales = {p: r for p, r in rows.items() if r.kind == "scale"}
    assert sum(r.params for r in scales.values()) == 96 * 3 + 192 * 3 + 384 * 9 + 768 * 3 == 6_624
    leaves = sum(leaf["params"] for leaf in TRUTH["leaves"].values())
    assert TRUTH["total_params"] - leaves == 6_624
    for c, n, hw in STAGES:
        stage = [r for p, r in scales.items() if r.output_shape == (1, c, hw, hw)]
        assert len(stage) == n and all(r.params == c and r.flops == c * hw * hw for r in stage)


def test_block_level_operators_line_up_with_the_real_forward(rows):
    """What CNBlock.forward computes outside its leaf modules (convnext.py:63-67): torch sees
    `self.layer_scale * result` as Tensor.mul with gamma (C, 1, 1) first, and `result += input`
    as Tensor.add_; the spec has them as <block>.layer_scale and <block>.add, and nothing else."""
    calls = TRUTH["functional_calls"]
    expected = {}
    for call in calls:
        op = {"torch.Tensor.mul": "layer_scale", "torch.Tensor.add_": "add"}[call["op"]]
        expected[f"{call['module']}.{op}"] = call
    spec_ops = {p for p, r in rows.items() if r.kind in ("scale", "add")}
    assert spec_ops == set(expected) and len(calls) == 2 * 18
    for path, call in expected.items():
        assert list(rows[path].output_shape) == call["output_shape"], path
        if path.endswith("layer_scale"):
            c = call["input_shapes"][0]
            assert c == [rows[path].params, 1, 1], path


def by_class(cls, key):
    return TRUTH["by_class"][cls][key]


def test_each_tools_total_decomposed():
    """Each tool's total from the real model's per-class figures and the rule calc emulates
    (docs/profilers.md): none counts the permutes, the layer scale `*` or the residual `+=`;
    thop and ptflops skip LayerNorm2d (a LayerNorm subclass: hooks are looked up by exact type);
    fvcore and calflops charge 5 per element of both norms; ptflops counts GELU twice."""
    conv, conv_out = by_class("Conv2d", "macs"), by_class("Conv2d", "output_elements")
    lin, lin_out = by_class("Linear", "macs"), by_class("Linear", "output_elements")
    ln, ln2d = by_class("LayerNorm", "input_elements"), by_class("LayerNorm2d", "input_elements")
    gelu = by_class("GELU", "input_elements")
    pool_in = by_class("AdaptiveAvgPool2d", "input_elements")
    pool_out = by_class("AdaptiveAvgPool2d", "output_elements")
    params = sum(by_class(cls, "params") for cls in ("Linear", "LayerNorm", "LayerNorm2d"))
    derived = {
        "torchvision": conv + lin,
        "thop": conv + lin + 4 * ln + pool_in + pool_out,
        "fvcore": conv + lin + 5 * ln + 5 * ln2d + pool_in,
        "ptflops": conv + lin + conv_out + lin_out + ln + 2 * gelu + 2 * pool_in,
        "ptflops-aten": conv + lin + conv_out + lin_out,
        "torchinfo": conv + conv_out + params,
        "torch": 2 * (conv + lin),
        "calflops": 2 * (conv + lin) + conv_out + 5 * ln + 5 * ln2d + gelu + pool_in,
    }
    net = load_network(str(SPEC))
    for name, figure in derived.items():
        if name == "torchvision":
            tool = TRUTH["conv_linear_macs"]
        else:
            folder, total = TOOLS[name]
            fixture = FIXTURES / "profilers" / folder / "convnext_tiny.json"
            tool = total(json.loads(fixture.read_text()))
        assert net.evaluate(conventions.get(name)).totals.flops == figure == tool, name


def test_thop_params_leave_out_the_layer_scale_and_layernorm2d(rows):
    """thop's own params figure sums hooked modules only (thop/profile.py): CNBlock's gamma and
    the LayerNorm2d weights are not in it; every other tool reports the model's parameters."""
    thop = json.loads((FIXTURES / "profilers" / "thop" / "convnext_tiny.json").read_text())
    unhooked = sum(r.params for r in rows.values() if r.kind in ("scale", "layernorm2d"))
    assert unhooked == 6_624 + 2 * (96 + 96 + 192 + 384 + 768)
    assert thop["total_params"]["value"] == PUBLISHED_PARAMS - unhooked == 28_579_432


@settings(max_examples=25, deadline=None)
@given(c=st.integers(1, 64), h=st.integers(1, 12), w=st.integers(1, 12))
def test_one_block_at_any_size(c, h, w):
    """One CNBlock on a (c, h, w) map: params 8c^2 + 58c, MACs h*w*(49c + 8c^2), the layer scale
    one multiply per element, and the permutes keep the map's shape."""
    text = "\n".join([
        "name: cnblock", f"input: [{c}, {h}, {w}]",
        "layers:",
        "  - type: residual",
        "    body:",
        "      - {type: depthwise, K: 7, padding: 3}",
        "      - {type: permute, dims: [0, 2, 3, 1]}",
        "      - {type: layernorm}",
        f"      - {{type: linear, Cout: {4 * c}}}",
        "      - {type: gelu}",
        f"      - {{type: linear, Cout: {c}}}",
        "      - {type: permute, dims: [0, 3, 1, 2]}",
        "      - {type: scale, name: layer_scale, dim: 1}",
    ])
    report = network_from_text(text).evaluate()
    assert report.totals.params == 8 * c * c + 58 * c
    assert report.totals.macs == h * w * (49 * c + 8 * c * c)
    scale = next(r for r in report.rows if r.kind == "scale")
    assert (scale.params, scale.flops, scale.output_shape) == (c, c * h * w, (1, c, h, w))
