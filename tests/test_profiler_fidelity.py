"""The fidelity gaps of issue 10, against figures the real tools produced
(tests/fixtures/profilers/fidelity/, written by tools/oracle/fidelity.py; each file records the
tool, its version and the call; docs/profilers.md gives the rules):

* ptflops 0.7.5 at batch > 1: module-hook counts divided by the batch, patched-functional
  counts added as they are (and nn.Upsample's hook counts one sample);
* fvcore 0.1.5 on convs with string padding: 0 (aten::_convolution_mode has no handle);
* calflops 0.3.2 on transposed convs: products divided by the groups twice, bias at the
  forward-conv output size; and on 'same' padding: d(K-1)//2 on each side.
Every case is checked under every profiler convention, not only the one with the gap."""

import json
from fractions import Fraction
from pathlib import Path

import pytest
from test_profiler_conventions import TOOLS, record
from test_specs_library import PUBLISHED, spec_path

from calc import conventions
from calc.errors import ConventionError
from calc.network import load_network, network_from_text
from calc.report import evaluate_layer

FIDELITY = Path(__file__).parent / "fixtures" / "profilers" / "fidelity"
LAYERS = json.loads((FIDELITY / "layers.json").read_text())
SPECS = Path(__file__).parent.parent / "specs"


def network(name):
    own = FIDELITY / "specs" / f"{name}.yaml"
    return load_network(str(own if own.exists() else SPECS / f"{name}.yaml"))


def fixture(name, batch):
    return json.loads((FIDELITY / "networks" / f"{name}_batch{batch}.json").read_text())


def price(case, convention):
    """The calc figure for a fixture's single-layer case: a standalone record, or a one-layer
    network for a linear over a 3-d input (which a record cannot state)."""
    shape = case["input_shapes"][0]
    if case["layer"]["kind"] == "linear" and len(shape) > 2:
        layer = case["layer"]
        text = (f"name: t\ninput: {shape[1:]}\nlayers:\n  - {{type: linear, Cout: {layer['out_features']}, "
                f"bias: {str(layer['bias']).lower()}}}\n")
        return network_from_text(text).evaluate(convention, input_shape=tuple(shape)).totals.flops
    return evaluate_layer(record(case), convention).totals.flops


def cases(gap):
    return [pytest.param(c, name, id=f"{c['id']}-{name}")
            for c in LAYERS["cases"] if c["gap"] == gap for name in TOOLS]


def test_every_fixture_cites_its_tool_and_version():
    assert LAYERS["generator"] == "tools/oracle/fidelity.py" and LAYERS["versions"]["ptflops"] == "0.7.5"
    assert LAYERS["versions"]["fvcore"] == "0.1.5.post20221221" and LAYERS["versions"]["calflops"] == "0.3.2"
    for path in sorted((FIDELITY / "networks").glob("*.json")):
        for tool, figures in json.loads(path.read_text())["tools"].items():
            assert figures["version"] and figures["call"] and "error" not in figures, (path.name, tool)
    for case in LAYERS["cases"]:
        assert case["gap"] in LAYERS["gaps"] and set(case["tools"]) == {folder for folder, _ in TOOLS.values()}
        assert not [t for t, figures in case["tools"].items() if "error" in figures], case["id"]


# -- ptflops at batch > 1 ----------------------------------------------------------------------


def split(figures):
    """ptflops' total before its int(): H / B + F, exactly (the tool truncates a float)."""
    return Fraction(figures["module_hook_flops"], figures["batch_counter"]) + figures["functional_flops"]


@pytest.mark.parametrize("case, convention", cases("batch"))
def test_single_layers_at_batch_2_to_4(case, convention):
    folder, total = TOOLS[convention]
    expected = total(case["tools"][folder])
    if convention == "ptflops":
        assert expected == int(split(case["tools"][folder]))
        if case["id"] == "upsample_nearest_x2_batch3":  # hook 3136 (one sample) / 3: a fraction
            assert split(case["tools"][folder]) == Fraction(3136, 3) + 3 * 3136 != expected
            with pytest.raises(ConventionError, match=r"9408/N\*\*2 is not an integer at N = 3"):
                price(case, conventions.get(convention))
            return
    assert price(case, conventions.get(convention)) == expected


def test_ptflops_halves_at_batch_4():
    by_id = {c["id"]: c["tools"]["ptflops_pytorch"] for c in LAYERS["cases"]}
    ptflops = conventions.get("ptflops")
    relu = by_id["relu_batch4"]  # nn.ReLU: hook (out) / 4 + patched F.relu (in), 4*16*14*14 elements
    assert relu["module_hook_flops"] == relu["functional_flops"] == 4 * 16 * 14 * 14
    assert relu["macs"] == 16 * 14 * 14 + 4 * 16 * 14 * 14
    up = by_id["upsample_nearest_x2_batch4"]  # the hook counts output[0]: one sample, then / 4
    assert up["module_hook_flops"] == 16 * 14 * 14 and up["macs"] == 16 * 14 * 14 // 4 + 4 * 16 * 14 * 14
    assert ptflops.rule_for("relu").formula() == "out_elements/N + in_elements"
    assert ptflops.rule_for("conv").formula() == "(macs + bias_adds)/N"
    assert ptflops.rule_for("upsample_nearest").formula() == "out_elements/N**2 + out_elements"
    assert ptflops.rule_for("relu", "functional").formula() == "in_elements"


PTFLOPS_NETWORKS = [("functional_mix", 1), ("functional_mix", 2), ("functional_mix", 4)] + [
    (m, b) for m in ("resnet18", "mobilenet_v2", "googlenet", "densenet121", "inception_v3") for b in (2, 4)]
MIN_COMPARED = {"functional_mix": 14, "resnet18": 44, "mobilenet_v2": 140, "googlenet": 129,
                "densenet121": 366, "inception_v3": 192}
"""Modules compared per network when this was written (every module with a figure and a row)."""


@pytest.mark.parametrize("name, batch", PTFLOPS_NETWORKS)
def test_ptflops_network_totals_at_batch(name, batch):
    figures = fixture(name, batch)["tools"]["ptflops_pytorch"]
    assert figures["batch_counter"] == batch and figures["macs"] == int(split(figures))
    assert figures["module_hook_flops"] > 0 and figures["functional_flops"] > 0  # both halves of the rule
    net = network(name)
    report = net.evaluate(conventions.get("ptflops"), input_shape=(batch, *net.input_shape[1:]))
    assert report.totals.flops == figures["macs"]


@pytest.mark.parametrize("name, batch", PTFLOPS_NETWORKS)
def test_ptflops_per_layer_at_batch(name, batch):
    """Each module's figure: its hook count / B plus the patched functionals it ran."""
    figures = fixture(name, batch)["tools"]["ptflops_pytorch"]
    hooks, functional = figures["per_module_flops"], figures["functional_by_module"]
    net = network(name)
    rows = {r.path: r.flops for r in net.evaluate(conventions.get("ptflops"),
                                                   input_shape=(batch, *net.input_shape[1:])).rows}
    if name == "functional_mix":
        paths = {p: p for p in rows}
    else:  # torchvision leaves called once (a shared module has one figure for several calls)
        row = next(r for r in PUBLISHED if r["spec"] == name)
        leaves = json.loads((Path(__file__).parent / "fixtures" / "torchvision" / f"{name}.json").read_text())["leaves"]
        paths = {spec_path(row, n): n for n, leaf in leaves.items() if leaf.get("calls") == 1}
    compared = 0
    for path, module in paths.items():
        if path not in rows or (module not in hooks and module not in functional):
            continue  # no figure from the tool (a module without hook or patched call), or merged
        expected = Fraction(hooks.get(module, 0), batch) + functional.get(module, 0)
        assert rows[path] == expected, (path, hooks.get(module), functional.get(module))
        compared += 1
    assert compared >= MIN_COMPARED[name]


def test_ptflops_refuses_a_fractional_network_figure_where_it_arises():
    figures = fixture("functional_mix", 3)["tools"]["ptflops_pytorch"]
    assert figures["per_module_flops"]["up"] == 32 * 16 * 16  # one sample; / 3 is not an integer
    assert figures["macs"] == int(split(figures)) and split(figures) != int(split(figures))
    net = network("functional_mix")
    with pytest.raises(ConventionError) as info:
        net.evaluate(conventions.get("ptflops"), input_shape=(3, 3, 32, 32))
    assert info.value.one_line().startswith(f"{FIDELITY / 'specs' / 'functional_mix.yaml'}:14:5: up: ")
    assert "24576/N**2 is not an integer at N = 3" in info.value.one_line()


# -- fvcore and calflops on string padding -----------------------------------------------------


@pytest.mark.parametrize("case, convention", cases("string_padding"))
def test_single_convs_with_string_padding(case, convention):
    folder, total = TOOLS[convention]
    if convention == "fvcore":  # aten::_convolution_mode: no handle, 0, reported as unsupported
        assert case["tools"]["fvcore"]["unsupported_ops"] == {"aten::_convolution_mode": 1}
    assert price(case, conventions.get(convention)) == total(case["tools"][folder])


def test_fvcore_prices_string_padding_at_zero_and_says_why():
    rule = conventions.get("fvcore").rule_for("conv")
    assert rule.formula() == "macs - string_padded_macs" and "_convolution_mode" in rule.note
    same = next(c for c in LAYERS["cases"] if c["id"] == "conv2d_k3_same_bias")
    numeric = dict(same, id="numeric", layer=dict(same["layer"], padding=1))  # the same conv, padding 1
    assert price(same, conventions.get("fvcore")) == 0
    assert price(numeric, conventions.get("fvcore")) == 14 * 14 * 16 * 8 * 3 * 3


def test_calflops_same_padding_with_an_even_kernel_is_one_position_short():
    case = next(c for c in LAYERS["cases"] if c["id"] == "conv2d_k4_same_bias")
    short = 13 * 13  # d(K-1) = 3 is odd: 1 on each side, 14 + 2 - 4 + 1 = 13 positions per axis
    macs = 16 * short * 8 * 4 * 4
    assert case["tools"]["calflops"]["flops"] == 2 * macs + 16 * short
    assert price(case, conventions.get("calflops")) == 2 * macs + 16 * short


# -- calflops on transposed convs --------------------------------------------------------------


@pytest.mark.parametrize("case, convention", cases("transposed_conv"))
def test_single_transposed_convs(case, convention):
    folder, total = TOOLS[convention]
    assert price(case, conventions.get(convention)) == total(case["tools"][folder])


def test_calflops_transposed_conv_quirks_by_hand():
    by_id = {c["id"]: c for c in LAYERS["cases"]}
    calflops = conventions.get("calflops")
    # g = 4, Cout = 8: Cout/g = 2, and 2 // 4 = 0 products; the bias at the forward-conv size
    # (7 + 2 - 4) // 2 + 1 = 3 per axis: 2 channels x 9 positions
    case = by_id["convt2d_k4_s2_p1_g4_bias"]
    assert case["tools"]["calflops"]["flops"] == 2 * 0 + 2 * 3 * 3 == price(case, calflops)
    # K = 5 on a 3 x 3 input: forward size 3 - 5 + 1 = -1 per axis, (-1)(-1) = 1 position
    case = by_id["convt2d_k5_s1_p0_bias_small"]
    products = 16 * 3 * 3 * 5 * 5 * (8 // 1)
    assert case["tools"]["calflops"]["flops"] == 2 * products + 8 * 1 == price(case, calflops)
    # g = 2: Cin * (Cout/g // g) = 16 * (4 // 2) per input position and tap; forward size 4 x 4
    case = by_id["convt2d_k3_s2_p1_op1_g2_bias"]
    assert case["tools"]["calflops"]["flops"] == 2 * (7 * 7 * 3 * 3 * 16 * 2) + 4 * 4 * 4 == price(case, calflops)


# -- networks: string padding and transposed convs, every tool --------------------------------

NETWORK_TOOLS = [pytest.param(n, b, t, id=f"{n}-batch{b}-{t}")
                 for n in ("same_padding", "decoder") for b in (1, 2) for t in TOOLS]


@pytest.mark.parametrize("name, batch, convention", NETWORK_TOOLS)
def test_network_totals(name, batch, convention):
    folder, total = TOOLS[convention]
    net = network(name)
    report = net.evaluate(conventions.get(convention), input_shape=(batch, *net.input_shape[1:]))
    assert report.totals.flops == total(fixture(name, batch)["tools"][folder])


@pytest.mark.parametrize("name", ["same_padding", "decoder"])
def test_calflops_and_fvcore_per_layer(name):
    """calflops: each module's own figure (per_module_own); fvcore: leaf figures (a conv with
    string padding has none: its op is unsupported, listed in leaf_unsupported_ops)."""
    tools = fixture(name, 1)["tools"]
    net = network(name)
    calflops = {r.path: r.flops for r in net.evaluate(conventions.get("calflops")).rows}
    fvcore = {r.path: r.flops for r in net.evaluate(conventions.get("fvcore")).rows}
    own = tools["calflops"]["per_module_own"]
    for path in ("conv1", "conv2", "conv4", "conv5") if name == "same_padding" else ("up1", "up2", "up3", "up4"):
        assert calflops[path] == own.get(path, {}).get("flops", 0), path
        assert fvcore[path] == sum(tools["fvcore"]["leaf_by_operator"].get(path, {}).values()), path
    if name == "same_padding":
        assert fvcore["conv1"] == fvcore["conv2"] == 0 and fvcore["conv3"] > 0
        assert tools["fvcore"]["leaf_unsupported_ops"]["conv1"] == {"aten::_convolution_mode": 1}
