"""Closed forms against the brute-force loop-nest counters, on random small layers."""

from hypothesis import given
from hypothesis import strategies as st

import bruteforce as bf
from calc import conventions
from calc.layers import AdaptivePool, Conv, Deconv, Linear, Pool, Upsample
from calc.layers.deconv import deconv_axis
from calc.report import evaluate_layer

EXACT = conventions.get("exact")
SPATIAL = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}


def spatial_fields(sizes):
    return dict(zip(SPATIAL[len(sizes)], sizes))


@st.composite
def conv_cases(draw):
    dims = draw(st.sampled_from([1, 2, 2, 3]))
    groups = draw(st.integers(1, 3))
    cin = groups * draw(st.integers(1, 3))
    cout = groups * draw(st.integers(1, 3))
    kernel = [draw(st.integers(1, 3)) for _ in range(dims)]
    dilation = [draw(st.integers(1, 2)) for _ in range(dims)]
    stride = [draw(st.integers(1, 3)) for _ in range(dims)]
    padding = [draw(st.integers(0, 2)) for _ in range(dims)]
    max_size = {1: 12, 2: 7, 3: 5}[dims]
    spatial = [
        draw(st.integers(max(1, d * (k - 1) + 1 - 2 * p), max_size))
        for k, d, p in zip(kernel, dilation, padding)
    ]
    return dict(
        N=draw(st.integers(1, 2)), Cin=cin, Cout=cout, K=kernel, stride=stride, padding=padding,
        dilation=dilation, groups=groups, bias=draw(st.booleans()), **spatial_fields(spatial),
    ), spatial


@given(conv_cases())
def test_conv_matches_loop_nest(case):
    fields, spatial = case
    layer = Conv(**fields)
    row = evaluate_layer(layer, EXACT).rows[0]
    ref = bf.conv(
        fields["N"], fields["Cin"], spatial, fields["Cout"], fields["K"], fields["stride"],
        [(p, p) for p in fields["padding"]], fields["dilation"], fields["groups"], fields["bias"],
    )
    assert row.output_shape == ref.out_shape
    assert row.params == ref.params
    assert row.macs == ref.mults
    assert row.flops == ref.mults + ref.adds


@given(conv_cases())
def test_same_padding_keeps_size_at_stride_one(case):
    fields, spatial = case
    fields = {**fields, "stride": 1, "padding": "same"}
    layer = Conv(**fields)
    assert evaluate_layer(layer, EXACT).rows[0].output_shape[2:] == tuple(spatial)


@st.composite
def deconv_cases(draw):
    dims = draw(st.sampled_from([1, 2, 2]))
    groups = draw(st.integers(1, 2))
    cin = groups * draw(st.integers(1, 2))
    cout = groups * draw(st.integers(1, 3))
    kernel = [draw(st.integers(1, 4)) for _ in range(dims)]
    stride = [draw(st.integers(1, 3)) for _ in range(dims)]
    dilation = [draw(st.integers(1, 2)) for _ in range(dims)]
    out_pad = [draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation)]
    spatial = [draw(st.integers(1, 5)) for _ in range(dims)]
    padding = []
    for h, k, s, d, op in zip(spatial, kernel, stride, dilation, out_pad):
        full = (h - 1) * s + d * (k - 1) + 1
        padding.append(draw(st.integers(0, max(0, (full + op - 1) // 2))))
    return dict(
        N=1, Cin=cin, Cout=cout, K=kernel, stride=stride, padding=padding,
        output_padding=out_pad, dilation=dilation, groups=groups, bias=draw(st.booleans()),
        **spatial_fields(spatial),
    ), spatial


@given(deconv_cases())
def test_deconv_matches_scatter_loop(case):
    fields, spatial = case
    row = evaluate_layer(Deconv(**fields), EXACT).rows[0]
    ref = bf.deconv(
        1, fields["Cin"], spatial, fields["Cout"], fields["K"], fields["stride"],
        fields["padding"], fields["output_padding"], fields["dilation"], fields["groups"],
        fields["bias"],
    )
    assert row.output_shape == ref.out_shape
    assert row.params == ref.params
    assert row.macs == ref.mults
    assert row.flops == ref.mults + ref.adds


@given(st.integers(1, 3), st.integers(1, 9), st.integers(1, 9), st.booleans())
def test_linear_matches_loop_nest(rows, cin, cout, bias):
    layer = Linear(N=rows, Cin=cin, Cout=cout, bias=bias)
    row = evaluate_layer(layer, EXACT).rows[0]
    ref = bf.linear(rows, cin, cout, bias)
    assert (row.params, row.macs, row.flops) == (ref.params, ref.mults, ref.mults + ref.adds)
    assert row.output_shape == ref.out_shape


@st.composite
def pool_cases(draw):
    dims = draw(st.sampled_from([1, 2, 2, 3]))
    kind = draw(st.sampled_from(["maxpool", "avgpool"]))
    kernel = [draw(st.integers(1, 4)) for _ in range(dims)]
    stride = [draw(st.integers(1, 3)) for _ in range(dims)]
    padding = [draw(st.integers(0, k // 2)) for k in kernel]
    dilation = [draw(st.integers(1, 2)) if kind == "maxpool" else 1 for _ in range(dims)]
    spatial = [
        draw(st.integers(max(1, d * (k - 1) + 1 - 2 * p), 9))
        for k, d, p in zip(kernel, dilation, padding)
    ]
    return dict(
        type=kind, N=1, Cin=draw(st.integers(1, 3)), K=kernel, stride=stride, padding=padding,
        dilation=dilation, ceil_mode=draw(st.booleans()), **spatial_fields(spatial),
    ), spatial


@given(pool_cases())
def test_pool_matches_window_walk(case):
    fields, spatial = case
    row = evaluate_layer(Pool(**fields), EXACT).rows[0]
    ref = bf.pool(1, fields["Cin"], spatial, fields["K"], fields["stride"], fields["padding"],
                  fields["dilation"], fields["ceil_mode"])
    assert row.output_shape == ref.out_shape
    outputs = bf.prod(ref.out_shape)
    expected = ref.window - outputs if fields["type"] == "maxpool" else ref.window
    assert row.flops == expected


@given(
    st.lists(st.integers(1, 12), min_size=1, max_size=3).flatmap(
        lambda sp: st.tuples(st.just(sp), st.lists(st.integers(1, 12), min_size=len(sp), max_size=len(sp)))
    ),
    st.sampled_from(["adaptive_avgpool", "adaptive_maxpool"]),
)
def test_adaptive_pool_window_matches_walk(sizes, kind):
    spatial, out = sizes
    layer = AdaptivePool(type=kind, Cin=2, output_size=out, **spatial_fields(spatial))
    row = evaluate_layer(layer, EXACT).rows[0]
    ref = bf.adaptive_pool(1, 2, spatial, out)
    assert row.output_shape == ref.out_shape
    outputs = bf.prod(ref.out_shape)
    assert row.flops == (ref.window if kind == "adaptive_avgpool" else ref.window - outputs)


@given(st.integers(1, 6), st.integers(1, 6), st.integers(1, 3), st.sampled_from(["nearest", "bilinear"]))
def test_upsample_counts_neighbours(h, w, scale, mode):
    row = evaluate_layer(Upsample(Cin=3, H=h, W=w, scale_factor=scale, mode=mode), EXACT).rows[0]
    outputs = 3 * h * scale * w * scale
    assert row.output_shape == (1, 3, h * scale, w * scale)
    # bilinear: 4 products and 3 adds per output; nearest: a copy
    assert row.flops == (7 * outputs if mode == "bilinear" else 0)


@given(st.integers(1, 12), st.integers(1, 12), st.integers(1, 6), st.integers(1, 5), st.data())
def test_deconv_axis_closed_form_matches_scatter(size, k, s, d, data):
    """One axis, wider than deconv_cases (strides and dilations sharing factors, kernels longer
    than the input): products kept and positions reached, against the scatter loop."""
    op = data.draw(st.integers(0, max(s, d) - 1))
    full = (size - 1) * s + d * (k - 1) + 1
    p = data.draw(st.integers(0, (full + op - 1) // 2))  # leaves an output of at least 1
    ref = bf.deconv(1, 1, [size], 1, [k], [s], [p], [op], [d], 1, False)
    products, reached = deconv_axis(size, k, s, p, d, op)
    assert products == ref.mults
    assert reached == ref.mults - ref.adds  # each reached position: its products less one add
