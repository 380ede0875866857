"""Normalisation kinds (layernorm, layernorm2d, rmsnorm, groupnorm, instancenorm): every profiler
convention reproduces the real tools' figures (tests/fixtures/profilers/norms/, written by
tools/oracle/norms.py), the exact count equals a brute-force walk of the computation, the symbolic
path equals the numeric one, bad fields are located errors, and a spec using them all adds up."""

import json
from pathlib import Path

import bruteforce as bf
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st
from tool_totals import TOOLS

from calc import conventions
from calc.closed_form import layer_costs
from calc.errors import ShapeError
from calc.layers import GroupNorm, InstanceNorm, LayerNorm, LayerNorm2d, RMSNorm
from calc.layers.norm import (
    norm_exact_flops,
    rmsnorm_exact_flops,
    running_stats_exact_flops,
)
from calc.network import load_network
from calc.parse import parse_layer
from calc.report import evaluate_layer

FIXTURES = Path(__file__).parent / "fixtures"
CASES = [json.loads(p.read_text()) for p in sorted((FIXTURES / "profilers" / "norms").glob("*.json"))]
EXACT = conventions.get("exact")
SPATIAL = {0: (), 1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}



def stated(shape):
    """N, Cin and the spatial sizes of an input shape, as a standalone record states them."""
    return {"N": shape[0], "Cin": shape[1], **dict(zip(SPATIAL[len(shape) - 2], shape[2:]))}


def record(case):
    layer = dict(case["layer"])
    kind = layer.pop("kind")
    layer.pop("channels", None)  # the input's axis 1, stated as Cin
    return parse_layer({"type": kind, **layer, **stated(case["input_shapes"][0])})


def test_fixtures_cover_every_kind_and_tool():
    kinds = {c["layer"]["kind"] for c in CASES}
    assert kinds == {"layernorm", "layernorm2d", "rmsnorm", "groupnorm", "instancenorm"}
    for case in CASES:
        for convention, (tool, _) in TOOLS.items():
            assert "error" not in case["tools"][tool], (case["id"], tool)
            assert case["tools"][tool]["version"] == case["versions"][tool.split("_")[0]] or tool in (
                "ptflops_pytorch", "ptflops_aten", "torch_flop_counter")


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_params_buffers_and_shape_match_pytorch(case):
    report = evaluate_layer(record(case), EXACT)
    assert report.output_shape == tuple(case["output_shape"])
    assert report.totals.params == case["params"]
    # num_batches_tracked (one int64) is left out, as for batch norm
    assert report.totals.buffers == case["buffers_without_num_batches_tracked"]
    assert report.totals.macs == 0


@pytest.mark.parametrize("convention", sorted(TOOLS))
@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_every_profiler_convention_reproduces_the_tool(case, convention):
    tool, total = TOOLS[convention]
    assert evaluate_layer(record(case), conventions.get(convention)).totals.flops == total(case["tools"][tool])


def fixture(case_id):
    return next(c for c in CASES if c["id"] == case_id)


def test_known_tool_traps_are_reproduced():
    """Where the tools disagree with each other, and why (read from their sources)."""
    ln = fixture("layernorm_ntd_1ax")  # (2, 5, 8): 80 elements, N = 2
    assert ln["tools"]["thop"]["total_ops"]["value"] == 4 * 80  # 2*in doubled when affine
    assert ln["tools"]["fvcore"]["total"] == 5 * 80  # aten::layer_norm, weight given
    assert ln["tools"]["ptflops_pytorch"]["macs"] == 80 // 2  # in / N, LayerNorm never doubled
    assert ln["tools"]["torchinfo"]["total_mult_adds"] == 2 * 16  # N * params
    assert ln["tools"]["torch_flop_counter"]["total_flops"] == 0
    ln2d = fixture("layernorm2d_torchvision")  # subclass: no thop/ptflops hook, F.layer_norm seen
    assert ln2d["tools"]["thop"]["total_ops"]["value"] == ln2d["tools"]["ptflops_pytorch"]["macs"] == 0
    assert ln2d["tools"]["calflops"]["flops"] == 5 * 48
    rms = fixture("rmsnorm_ntd_1ax")
    assert rms["tools"]["fvcore"]["unsupported_ops"] == {"aten::rms_norm": 1}
    gn = fixture("groupnorm_g2")  # (2, 4, 3, 3): 72 elements
    assert gn["tools"]["thop"]["total_ops"]["value"] == 0  # nn.GroupNorm not in register_hooks
    assert gn["tools"]["ptflops_pytorch"]["macs"] == 2 * 72 // 2  # affine doubles, / N


# -- exact convention: closed form against a walk of the computation ---------------------------
def shapes(min_rank=2, max_rank=4):
    return st.lists(st.integers(1, 4), min_size=min_rank, max_size=max_rank).map(tuple)


def check(layer, ref):
    report = evaluate_layer(layer, EXACT)
    assert report.output_shape == ref.out_shape
    assert report.totals.params == ref.params
    assert report.totals.buffers == ref.buffers
    assert report.totals.flops == ref.total
    return report.totals.flops


@settings(max_examples=40, deadline=None)
@given(shapes(), st.data(), st.booleans(), st.booleans())
def test_layernorm_exact_equals_walk(shape, data, affine, bias):
    axes = data.draw(st.integers(1, len(shape)))
    ns = list(shape[len(shape) - axes:])
    field = data.draw(st.sampled_from(["list", "int", "default"] if axes == 1 else ["list"]))
    given_ns = {"list": {"normalized_shape": ns}, "int": {"normalized_shape": ns[0]}, "default": {}}[field]
    layer = LayerNorm(elementwise_affine=affine, bias=bias, **given_ns, **stated(shape))
    flops = check(layer, bf.layernorm(shape, axes, affine, bias))
    n = bf.prod(ns)
    assert flops == norm_exact_flops(bf.prod(shape), bf.prod(shape) // n, int(affine), int(affine and bias))


@settings(max_examples=30, deadline=None)
@given(shapes(3, 4), st.booleans(), st.booleans())
def test_layernorm2d_exact_equals_walk(shape, affine, bias):
    check(LayerNorm2d(elementwise_affine=affine, bias=bias, **stated(shape)),
          bf.layernorm2d(shape, affine, bias))


@settings(max_examples=30, deadline=None)
@given(shapes(), st.data(), st.booleans())
def test_rmsnorm_exact_equals_walk(shape, data, affine):
    axes = data.draw(st.integers(1, len(shape)))
    layer = RMSNorm(normalized_shape=list(shape[len(shape) - axes:]), elementwise_affine=affine, **stated(shape))
    flops = check(layer, bf.rmsnorm(shape, axes, affine))
    elements = bf.prod(shape)
    assert flops == rmsnorm_exact_flops(elements, elements // bf.prod(shape[len(shape) - axes:]), int(affine))


@settings(max_examples=30, deadline=None)
@given(shapes(), st.data(), st.booleans())
def test_groupnorm_exact_equals_walk(shape, data, affine):
    groups = data.draw(st.sampled_from([g for g in range(1, shape[1] + 1) if shape[1] % g == 0]))
    check(GroupNorm(groups=groups, affine=affine, **stated(shape)), bf.groupnorm(shape, groups, affine))


@settings(max_examples=30, deadline=None)
@given(shapes(3, 4), st.booleans(), st.booleans())
def test_instancenorm_exact_equals_walk(shape, affine, track):
    flops = check(InstanceNorm(affine=affine, track_running_stats=track, **stated(shape)),
                  bf.instancenorm(shape, affine, track))
    if track:
        assert flops == running_stats_exact_flops(bf.prod(shape), int(affine), int(affine))


def test_exact_count_of_one_layernorm_by_hand():
    # nn.LayerNorm(8) on (2, 5, 8): 10 rows of 8; per row mean 8, centre 8, variance 16, eps and
    # sqrt 2, divide 8 = 42; weight and bias 16 more; 10 * 58 = 580
    assert evaluate_layer(LayerNorm(N=2, Cin=5, L=8), EXACT).totals.flops == 10 * (8 + 8 + 16 + 2 + 8 + 16)


def test_seed_conventions():
    layer = GroupNorm(groups=2, N=2, Cin=4, H=3, W=3)  # 72 elements, 4 rows, affine
    assert evaluate_layer(layer, conventions.get("macc")).totals.flops == 7 * 72 + 2 * 4
    for name in ("2mac", "params-x-pixels", "torchvision"):
        assert evaluate_layer(layer, conventions.get(name)).totals.flops == 0  # dot products only


# -- symbolic path -------------------------------------------------------------------------------
N, C, H, W, G = sympy.symbols("N Cin H W groups", integer=True, positive=True)
SYMBOLIC = [
    ("layernorm", {"normalized_shape": [4, 6]}, {"Cin": 3, "H": 4, "W": 6}),
    ("layernorm", {"bias": False}, {"Cin": 3, "H": 4, "W": 6}),
    ("layernorm2d", {}, {"Cin": 3, "H": 4, "W": 6}),
    ("rmsnorm", {}, {"Cin": 3, "L": 7}),
    ("groupnorm", {"groups": 2}, {"Cin": 4, "H": 3, "W": 5}),
    ("instancenorm", {"affine": True}, {"Cin": 3, "H": 4, "W": 6}),
    ("instancenorm", {"track_running_stats": True}, {"Cin": 3, "H": 4, "W": 6}),
]


@pytest.mark.parametrize("convention", sorted(conventions.CONVENTIONS))
@pytest.mark.parametrize("kind, fields, point", SYMBOLIC)
def test_symbolic_equals_numeric(kind, fields, point, convention):
    conv = conventions.get(convention)
    if convention in conventions.distinct_for({"attention"}) and convention not in conventions.distinct_for({kind}):
        pytest.skip(f"'{convention}' prices language models: it refuses a {kind} of a CNN")
    numeric = evaluate_layer(parse_layer({"type": kind, **fields, "N": 2, **point}), conv).totals
    symbols = {"N": N, "Cin": C, "H": H, "W": W, "L": H}
    sym_fields = {**fields, "N": N}
    subs = {N: 2}
    for name, value in point.items():
        if not (kind == "layernorm" and name in ("H", "W") and "normalized_shape" in fields):
            sym_fields[name] = symbols[name]
            subs[symbols[name]] = value
        else:
            sym_fields[name] = value
    symbolic = layer_costs(kind, sym_fields, conv)
    for q in ("params", "buffers", "macs", "flops"):
        assert sympy.sympify(symbolic[q]).subs(subs) == getattr(numeric, q), (q, symbolic[q])


def test_symbolic_layernorm_reads_like_the_derivation():
    flops = layer_costs("layernorm", {"N": N, "Cin": C, "L": H}, EXACT)["flops"]
    # rows N*Cin of H elements: (5H + 2) per row + 2H for weight and bias
    assert sympy.expand(flops - N * C * (7 * H + 2)) == 0


# -- bad input -----------------------------------------------------------------------------------
@pytest.mark.parametrize("data, field, words", [
    ({"type": "layernorm", "normalized_shape": [5, 9], "N": 1, "Cin": 5, "L": 8}, "normalized_shape",
     "does not match the input's last 2 sizes [5, 8]"),
    ({"type": "layernorm", "normalized_shape": 7, "N": 1, "Cin": 5, "L": 8}, "normalized_shape",
     "[7] does not match"),
    ({"type": "rmsnorm", "normalized_shape": [1, 1, 5, 8], "N": 1, "Cin": 5, "L": 8}, "normalized_shape",
     "has 4 axes but its input 1x5x8 has 3"),
    ({"type": "groupnorm", "groups": 3, "N": 1, "Cin": 4, "H": 2, "W": 2}, "groups",
     "groups=3 does not divide the 4 input channels"),
])
def test_bad_fields_are_located_shape_errors(data, field, words):
    with pytest.raises(ShapeError) as err:
        evaluate_layer(parse_layer(data), EXACT)
    assert err.value.field == field
    assert words in err.value.message


def test_mismatch_in_a_spec_names_file_line_and_field(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text("name: bad\ninput: [5, 8]\nlayers:\n  - {type: layernorm, normalized_shape: 6}\n")
    with pytest.raises(ShapeError) as err:
        load_network(spec).evaluate()
    line = err.value.one_line()
    assert "bad.yaml:4:" in line and "normalized_shape" in line and "[6] does not match" in line


@pytest.mark.parametrize("kind", ["layernorm2d", "instancenorm"])
def test_channel_kinds_refuse_a_flat_input(tmp_path, kind):
    spec = tmp_path / "flat.yaml"
    spec.write_text(f"name: flat\ninput: [4]\nlayers:\n  - {{type: {kind}}}\n")
    with pytest.raises(ShapeError) as err:
        load_network(spec).evaluate()
    assert "flat.yaml:4:" in err.value.one_line() and "needs a feature map" in err.value.message


# -- a network spec using every kind --------------------------------------------------------------
def test_example_spec_totals_by_hand():
    """tests/fixtures/norms_net.yaml: batch 2, input 4x6x6, conv to 8 channels (E = 2*8*6*6 = 576
    elements after it).  Exact FLOPs per layer: 5E + 2*rows + E per learnt scale + E per shift."""
    report = load_network(FIXTURES / "norms_net.yaml").evaluate("exact")
    E = 2 * 8 * 6 * 6
    conv = 2 * (E * 4 * 9) - E  # 36 products and 35 adds per output
    gn = 5 * E + 2 * (2 * 2) + 2 * E  # rows: N * groups = 4
    ln2d = 5 * E + 2 * (2 * 6 * 6) + 2 * E  # rows: each sample's positions, 72
    inorm = 5 * E + 2 * (2 * 8) + 2 * E  # rows: N * C = 16
    inorm_tracked = 2 * E  # running statistics: subtract, divide
    ln = 5 * E + 2 * (E // 36) + E  # over [6, 6], weight only (bias: false)
    rms = 3 * E + 2 * (E // 6) + E  # over the last axis, weight
    flops = [row.flops for row in report.rows]
    assert flops == [conv, gn, ln2d, inorm, inorm_tracked, ln, rms]
    assert report.totals.params == 8 * 4 * 9 + 2 * 8 + 2 * 8 + 2 * 8 + 0 + 36 + 6
    assert report.totals.buffers == 2 * 8  # the tracked instance norm's running mean and variance
    assert report.totals.macs == E * 4 * 9  # the conv's only


def test_layernorm_derivation_proves_and_ends_on_the_library():
    """calc/derive/layernorm.py: every step is checked with sympy when built (a wrong step or a
    library value that disagrees raises); its table states each convention's charge."""
    from calc.derive import layernorm

    derivation = layernorm.build()
    assert len(derivation.steps) >= 10
    table = next(item for item in derivation.items if getattr(item, "rows", None))
    charges = {row[0]: row[2] for row in table.rows}
    assert charges["exact"] == "7*N*T*d + 2*N*T" and charges["thop"] == "4*N*T*d"
    assert charges["ptflops"] == "T*d" and charges["torchinfo"] == "2*N*d"
