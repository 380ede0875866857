"""The seeds' worked examples (seed document 003, not distributed here: depthwise-separable vs regular 3x3 conv on a
112x112x64 map; seed 001/002: conv parameter counts), recomputed from their definitions."""

from fractions import Fraction

from calc import conventions
from calc.layers import Conv, Depthwise, Pointwise, Separable
from calc.report import evaluate_layer

MAP = dict(Cin=64, H=112, W=112)


def macs(layer):
    return evaluate_layer(layer).totals.macs


def test_depthwise_3x3_on_112x112x64():
    assert macs(Depthwise(K=3, padding=1, bias=False, **MAP)) == 3 * 3 * 64 * 112 * 112 == 7_225_344


def test_pointwise_64_to_128():
    assert macs(Pointwise(Cout=128, bias=False, **MAP)) == 64 * 112 * 112 * 128 == 102_760_448


def test_separable_total_and_ratio():
    separable = macs(Separable(K=3, Cout=128, padding=1, bias=False, **MAP))
    regular = macs(Conv(K=3, Cout=128, padding=1, bias=False, **MAP))
    assert separable == 7_225_344 + 102_760_448 == 109_985_792
    assert regular == 3 * 3 * 64 * 112 * 112 * 128 == 924_844_032
    ratio = Fraction(regular, separable)
    # K^2*Cout / (K^2 + Cout) = 9*128/137
    assert ratio == Fraction(9 * 128, 9 + 128)
    assert round(float(ratio), 2) == 8.41


def test_3x3_conv_with_bias_has_10_params_per_channel_pair():
    layer = Conv(K=3, Cin=1, Cout=1, H=5, W=5, bias=True)
    assert evaluate_layer(layer).totals.params == 3 * 3 + 1 == 10
    layer = Conv(K=3, Cin=64, Cout=128, H=5, W=5, bias=True)
    assert evaluate_layer(layer).totals.params == 3 * 3 * 64 * 128 + 128


def test_exact_conv_flops_2cink2_minus_1_without_bias_and_2cink2_with():
    cin, k, cout, h = 3, 3, 4, 6  # valid conv: Hout = 4
    hout = h - k + 1
    no_bias = evaluate_layer(Conv(K=k, Cin=cin, Cout=cout, H=h, W=h, bias=False)).totals.flops
    with_bias = evaluate_layer(Conv(K=k, Cin=cin, Cout=cout, H=h, W=h, bias=True)).totals.flops
    assert no_bias == (2 * cin * k**2 - 1) * hout * hout * cout
    assert with_bias == 2 * cin * k**2 * hout * hout * cout


def test_linear_exact_flops():
    m, n = 9, 5
    from calc.layers import Linear

    assert evaluate_layer(Linear(Cin=m, Cout=n, bias=False)).totals.flops == (2 * m - 1) * n
    assert evaluate_layer(Linear(Cin=m, Cout=n, bias=True)).totals.flops == 2 * m * n


def test_pointwise_memory_access_cost_shufflenet_v2():
    h, w, c1, c2 = 56, 56, 64, 128
    report = evaluate_layer(Pointwise(Cout=c2, bias=False, Cin=c1, H=h, W=w))
    assert report.totals.mem_access == h * w * (c1 + c2) + c1 * c2


def test_conventions_on_one_conv():
    layer = Conv(K=3, Cin=64, Cout=128, H=112, W=112, padding=1, bias=True)
    macs_ = 924_844_032
    outputs = 128 * 112 * 112
    flops = {n: evaluate_layer(layer, conventions.get(n)).totals.flops
             for n in conventions.distinct_for({"conv"})}  # not the LLM conventions: they refuse a conv
    assert flops["exact"] == 2 * macs_
    assert flops["2mac"] == 2 * macs_
    assert flops["macc"] == macs_
    assert flops["params-x-pixels"] == (3 * 3 * 64 * 128 + 128) * 112 * 112 == macs_ + outputs
