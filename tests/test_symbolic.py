"""The symbolic path runs the same formulas as the numeric one: evaluated at a point, a layer's
symbolic costs equal its numeric costs, for every kind and convention; network closed forms
equal the numeric report at every size that meets their assumptions."""

import subprocess
import sys

import pytest
import sympy
from hypothesis import given
from hypothesis import strategies as st

from calc import conventions
from calc.closed_form import closed_form, layer_costs
from calc.errors import ConventionError
from calc.network import load_network
from calc.parse import parse_layer
from calc.report import evaluate_layer
from calc.strategies import layers

QUANTITIES = ("params", "buffers", "macs", "flops", "mem_access")
STRUCTURAL = {"name", "inputs", "dim", "start_dim", "index"}
"""Fields that count or index things (operands, axes) rather than size them."""


def symbolise(layer, draw):
    """Replace a random subset of the layer's positive int fields (scalars or list entries)
    by symbols; return the symbolic fields and the substitution back to the numbers."""
    fields, subs = {}, {}
    for name, value in layer.model_dump(exclude={"type"}, exclude_none=True).items():
        if name in STRUCTURAL:
            fields[name] = value
            continue
        if isinstance(value, bool) or not isinstance(value, (int, list)):
            fields[name] = value
            continue
        if isinstance(value, int) and value > 0 and draw(st.booleans()):
            sym = sympy.Symbol(name, integer=True, positive=True)
            fields[name], subs[sym] = sym, value
        else:
            fields[name] = value
    return fields, subs


@given(layers(), st.sampled_from(sorted(conventions.CONVENTIONS)), st.data())
def test_symbolic_layer_equals_numeric_at_the_point(layer, convention_name, data):
    convention = conventions.get(convention_name)
    try:
        numeric = evaluate_layer(layer, convention).totals
    except ConventionError as exc:  # a rule that is not emulated, or a fraction (ptflops' upsample)
        with pytest.raises(ConventionError) as same:
            layer_costs(layer.kind, layer.model_dump(exclude={"type"}, exclude_none=True), convention)
        assert same.value.message == exc.message
        return
    if layer.kind == "deconv":  # its per-axis scatter count is numeric in K, stride, padding
        fields, subs = layer.model_dump(exclude={"type"}, exclude_none=True), {}
    else:
        fields, subs = symbolise(layer, data.draw)
    try:
        symbolic = layer_costs(layer.kind, fields, convention)
    except ConventionError as exc:  # only a batch-1 convention may refuse a symbolic batch: it says so
        assert convention.batch_one and "cannot price a symbolic batch" in exc.message, exc.message
        return
    for q in QUANTITIES:
        value = sympy.sympify(symbolic[q]).subs(subs)
        assert value == getattr(numeric, q), (q, symbolic[q], subs)


N, CIN, COUT, C, H, W = sympy.symbols("N Cin Cout C H W", integer=True, positive=True)


def test_ptflops_prices_a_symbolic_batch():
    # The case hypothesis 6.170 found: Linear, N=1, Cin=1, Cout=1, N symbolic ("batch 1 only").
    assert layer_costs("linear", dict(N=N, Cin=1, Cout=1), conventions.get("ptflops"))["flops"] == 1 + 1
    # ptflops divides a hook's count by the batch, not a patched functional's: per sample
    # (Cin*Cout + Cout) for a linear; out/N + in for nn.ReLU (hook + F.relu)
    linear = layer_costs("linear", dict(N=N, Cin=CIN, Cout=COUT), conventions.get("ptflops"))
    assert sympy.expand(linear["flops"] - (CIN * COUT + COUT)) == 0
    relu = layer_costs("relu", dict(N=N, Cin=C, H=H, W=W), conventions.get("ptflops"))
    assert sympy.expand(relu["flops"] - (C * H * W + N * C * H * W)) == 0
    relu = layer_costs("relu", dict(N=N, Cin=C, H=H, W=W, call="functional"), conventions.get("ptflops"))
    assert sympy.expand(relu["flops"] - N * C * H * W) == 0


def test_a_batch_one_convention_refuses_a_symbolic_batch_cleanly():
    from dataclasses import replace

    batch_one = replace(conventions.get("torch"), name="batch-one", batch_one=True)
    at_one = layer_costs("linear", dict(N=1, Cin=CIN, Cout=COUT), batch_one)
    assert sympy.expand(at_one["flops"] - 2 * CIN * COUT) == 0
    with pytest.raises(ConventionError, match="at batch 1 only, so it cannot price a symbolic batch N"):
        layer_costs("linear", dict(N=N, Cin=CIN, Cout=COUT), batch_one)
    with pytest.raises(ConventionError, match=r"at batch 1 only \(expected batch: 1\)"):
        evaluate_layer(parse_layer({"type": "linear", "N": 2, "Cin": 3, "Cout": 4}), batch_one)


def test_conv_symbolic_formula_reads_like_the_derivation():
    K, Cin, Cout, H, W, g = sympy.symbols("K Cin Cout H W g", integer=True, positive=True)
    # valid padding, stride 1: Hout = H - K + 1
    costs = layer_costs("conv", dict(K=K, Cin=Cin, Cout=Cout, H=H, W=W, groups=g, bias=False))
    hout, wout = H - K + 1, W - K + 1
    assert sympy.simplify(costs["macs"] - Cout * hout * wout * Cin / g * K**2) == 0
    assert sympy.simplify(costs["flops"] - (2 * Cin / g * K**2 - 1) * hout * wout * Cout) == 0


@pytest.mark.parametrize("spec", ["specs/resnet50.yaml"])
@pytest.mark.parametrize("convention", ["exact", "2mac", "macc"])
def test_resnet50_closed_form_in_h_w(spec, convention):
    net = load_network(spec)
    form = closed_form(net, conventions.get(convention))
    H, W = sympy.symbols("H W", integer=True, positive=True)
    assert form.divisor == 32 and form.assumptions() == ["H divisible by 32", "W divisible by 32"]
    assert len(form.verified_at) == 6
    assert sympy.expand(form.totals["macs"] - (81456 * H * W + 2048000)) == 0
    for size in (64, 224, 416, 512):  # independent re-check at sizes the assumption admits
        numeric = net.evaluate(conventions.get(convention), input_shape=(1, 3, size, size)).totals
        for q in QUANTITIES:
            assert form.totals[q].subs({H: size, W: size}) == getattr(numeric, q)


def test_symbolic_cli_states_assumptions():
    out = subprocess.run([sys.executable, "-m", "calc", "symbolic", "specs/resnet50.yaml"],
                         capture_output=True, text=True, check=True).stdout
    assert "assumes: H divisible by 32; W divisible by 32" in out
    assert "macs       = 81456*H*W + 2048000" in out


@pytest.mark.parametrize("spec", ["specs/googlenet.yaml", "specs/squeezenet1_0.yaml", "specs/mobilenet_v2.yaml"])
def test_closed_forms_with_ceil_mode_pools_and_other_divisors(spec):
    # ceil_mode pools (googlenet, squeezenet) once made sympy exhaust its precision
    net = load_network(spec)
    form = closed_form(net, conventions.get("exact"))
    assert form.verified_at and form.divisor > 1
    H, W = sympy.symbols("H W", integer=True, positive=True)
    size = net.input_shape[2] + 2 * form.divisor
    numeric = net.evaluate(conventions.get("exact"), input_shape=(1, 3, size, size)).totals
    assert form.totals["flops"].subs({H: size, W: size}) == numeric.flops
