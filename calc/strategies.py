"""Hypothesis strategies for valid layers and small networks, built valid by construction.

Use them to check your own counter against the calculator:

    from hypothesis import given
    from calc.strategies import conv_layers
    from calc.report import evaluate_layer

    @given(conv_layers())
    def test_my_counter(layer):
        assert my_macs(layer) == evaluate_layer(layer).totals.macs

Every strategy yields a standalone record (its input stated by Cin and L/H/W/D), so
`evaluate_layer` costs it directly.  Sizes are bounded by the keyword arguments.
Requires hypothesis (`pip install flopcalc[test]`).
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from calc.layers import (
    Activation, ActivationKind, AdaptivePool, BatchNorm, ChannelShuffle, Concat, Conv, Deconv,
    Depthwise, Dropout, ElementwiseMerge, Flatten, GlobalPool, Identity, Layer, Linear, Pointwise,
    Pool, Separable, Upsample,
)

_AXES = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}


def _spatial(draw: Any, dims: int, low: list[int], max_size: int) -> dict[str, int]:
    return {name: draw(st.integers(lo, max(lo, max_size))) for name, lo in zip(_AXES[dims], low)}


@st.composite
def conv_layers(draw: Any, max_channels: int = 8, max_size: int = 12, max_kernel: int = 5,
                dims: tuple[int, ...] = (1, 2, 3)) -> Conv:
    """Grouped, strided, dilated, padded convolutions: g is drawn first, then Cin = g*m."""
    d = draw(st.sampled_from(dims))
    groups = draw(st.integers(1, max(1, max_channels // 2)))
    cin = groups * draw(st.integers(1, max(1, max_channels // groups)))
    cout = groups * draw(st.integers(1, max(1, max_channels // groups)))
    kernel = [draw(st.integers(1, max_kernel)) for _ in range(d)]
    dilation = [draw(st.integers(1, 2)) for _ in range(d)]
    padding = [draw(st.integers(0, k // 2 + 1)) for k in kernel]
    stride = [draw(st.integers(1, 3)) for _ in range(d)]
    low = [max(1, dd * (k - 1) + 1 - 2 * p) for k, dd, p in zip(kernel, dilation, padding)]
    return Conv(
        K=kernel, Cin=cin, Cout=cout, groups=groups, stride=stride, padding=padding,
        dilation=dilation, bias=draw(st.booleans()), **_spatial(draw, d, low, max_size),
    )


@st.composite
def depthwise_layers(draw: Any, max_channels: int = 8, max_size: int = 12) -> Depthwise:
    k = draw(st.integers(1, 5))
    p = draw(st.integers(0, k // 2))
    return Depthwise(K=k, padding=p, stride=draw(st.integers(1, 2)), Cin=draw(st.integers(1, max_channels)),
                     multiplier=draw(st.integers(1, 3)), bias=draw(st.booleans()),
                     **_spatial(draw, 2, [max(1, k - 2 * p)] * 2, max_size))


@st.composite
def pointwise_layers(draw: Any, max_channels: int = 8, max_size: int = 12) -> Pointwise:
    return Pointwise(Cin=draw(st.integers(1, max_channels)), Cout=draw(st.integers(1, max_channels)),
                     bias=draw(st.booleans()), **_spatial(draw, 2, [1, 1], max_size))


@st.composite
def separable_layers(draw: Any, max_channels: int = 8, max_size: int = 12) -> Separable:
    k = draw(st.integers(1, 5))
    p = draw(st.integers(0, k // 2))
    return Separable(K=k, padding=p, Cin=draw(st.integers(1, max_channels)),
                     Cout=draw(st.integers(1, max_channels)), bias=draw(st.booleans()),
                     bn=draw(st.booleans()), act=draw(st.sampled_from([None, "relu", "relu6"])),
                     **_spatial(draw, 2, [max(1, k - 2 * p)] * 2, max_size))


@st.composite
def deconv_layers(draw: Any, max_channels: int = 6, max_size: int = 8, dims: tuple[int, ...] = (1, 2)) -> Deconv:
    d = draw(st.sampled_from(dims))
    groups = draw(st.integers(1, 2))
    kernel = [draw(st.integers(1, 4)) for _ in range(d)]
    stride = [draw(st.integers(1, 3)) for _ in range(d)]
    dilation = [draw(st.integers(1, 2)) for _ in range(d)]
    out_pad = [draw(st.integers(0, max(s, dd) - 1)) for s, dd in zip(stride, dilation)]
    sizes = _spatial(draw, d, [1] * d, max_size)
    padding = []
    for h, k, s, dd, op in zip(sizes.values(), kernel, stride, dilation, out_pad):
        full = (h - 1) * s + dd * (k - 1) + 1
        padding.append(draw(st.integers(0, max(0, (full + op - 1) // 2))))
    return Deconv(
        K=kernel, stride=stride, dilation=dilation, output_padding=out_pad, padding=padding,
        groups=groups, Cin=groups * draw(st.integers(1, max(1, max_channels // groups))),
        Cout=groups * draw(st.integers(1, max(1, max_channels // groups))), bias=draw(st.booleans()), **sizes,
    )


@st.composite
def linear_layers(draw: Any, max_features: int = 64) -> Linear:
    return Linear(Cin=draw(st.integers(1, max_features)), Cout=draw(st.integers(1, max_features)),
                  bias=draw(st.booleans()), N=draw(st.integers(1, 4)))


@st.composite
def activation_layers(draw: Any, max_channels: int = 8, max_size: int = 12) -> Activation:
    kind = draw(st.sampled_from(list(ActivationKind)))
    extra: dict[str, Any] = {}
    if kind == ActivationKind.PRELU:
        extra["num_parameters"] = draw(st.sampled_from([1, "channels"]))
    return Activation(type=kind.value, Cin=draw(st.integers(1, max_channels)),
                      **_spatial(draw, 2, [1, 1], max_size), **extra)


@st.composite
def batchnorm_layers(draw: Any, max_channels: int = 16, max_size: int = 12) -> BatchNorm:
    return BatchNorm(Cin=draw(st.integers(1, max_channels)), affine=draw(st.booleans()),
                     **_spatial(draw, 2, [1, 1], max_size))


@st.composite
def pool_layers(draw: Any, max_channels: int = 8, max_size: int = 12) -> Layer:
    kind = draw(st.sampled_from(["maxpool", "avgpool", "adaptive_avgpool", "adaptive_maxpool",
                                 "global_avgpool", "global_maxpool"]))
    cin = draw(st.integers(1, max_channels))
    if kind.startswith("global"):
        return GlobalPool(type=kind, Cin=cin, **_spatial(draw, 2, [1, 1], max_size))
    if kind.startswith("adaptive"):
        return AdaptivePool(type=kind, Cin=cin, output_size=[draw(st.integers(1, max_size)) for _ in range(2)],
                            **_spatial(draw, 2, [1, 1], max_size))
    k = draw(st.integers(1, 4))
    p = draw(st.integers(0, k // 2))
    dil = draw(st.integers(1, 2)) if kind == "maxpool" else 1
    return Pool(type=kind, K=k, padding=p, dilation=dil, stride=draw(st.integers(1, 3)),
                ceil_mode=draw(st.booleans()), Cin=cin,
                **_spatial(draw, 2, [max(1, dil * (k - 1) + 1 - 2 * p)] * 2, max_size))


@st.composite
def data_layers(draw: Any, max_channels: int = 8, max_size: int = 12) -> Layer:
    """add, mul, concat, flatten, dropout, identity, channel_shuffle, upsample."""
    kind = draw(st.sampled_from(["add", "mul", "concat", "flatten", "dropout", "identity",
                                 "channel_shuffle", "upsample"]))
    sizes = _spatial(draw, 2, [1, 1], max_size)
    cin = draw(st.integers(1, max_channels))
    if kind in ("add", "mul"):
        return ElementwiseMerge(type=kind, Cin=cin, inputs=draw(st.integers(2, 4)), **sizes)
    if kind == "concat":
        return Concat(Cin=draw(st.lists(st.integers(1, max_channels), min_size=2, max_size=4)), **sizes)
    if kind == "channel_shuffle":
        g = draw(st.integers(1, 4))
        return ChannelShuffle(groups=g, Cin=g * draw(st.integers(1, 4)), **sizes)
    if kind == "upsample":
        return Upsample(Cin=cin, scale_factor=draw(st.integers(1, 3)),
                        mode=draw(st.sampled_from(["nearest", "bilinear"])), **sizes)
    cls = {"flatten": Flatten, "dropout": Dropout, "identity": Identity}[kind]
    return cls(Cin=cin, **sizes)


def layers(**bounds: Any) -> st.SearchStrategy[Layer]:
    """Any layer kind."""
    return st.one_of(
        conv_layers(), depthwise_layers(), pointwise_layers(), separable_layers(), deconv_layers(),
        linear_layers(), activation_layers(), batchnorm_layers(), pool_layers(), data_layers(),
    )


@st.composite
def network_specs(draw: Any, max_layers: int = 6) -> str:
    """Small valid network specs (YAML text): convs, norms, activations, pools, residuals."""
    channels = draw(st.integers(1, 8))
    size = draw(st.integers(8, 24))
    lines = ["name: random", f"input: [{channels}, {size}, {size}]", "layers:"]
    for i in range(draw(st.integers(1, max_layers))):
        choice = draw(st.sampled_from(["conv", "bn", "act", "pool", "residual"]))
        if choice == "conv":
            k = draw(st.sampled_from([1, 3]))
            channels = draw(st.integers(1, 8))
            bias = str(draw(st.booleans())).lower()
            lines.append(f"  - {{type: conv, name: c{i}, K: {k}, padding: {k // 2}, Cout: {channels}, bias: {bias}}}")
        elif choice == "bn":
            lines.append(f"  - {{type: batchnorm, name: bn{i}}}")
        elif choice == "act":
            kind = draw(st.sampled_from(["relu", "sigmoid", "hardswish"]))
            lines.append(f"  - {{type: {kind}, name: a{i}}}")
        elif choice == "pool" and size >= 2:
            size = -(-size // 2)
            lines.append(f"  - {{type: maxpool, name: p{i}, K: 2, ceil_mode: true}}")
        elif choice == "residual":
            lines.append(f"  - {{type: residual, name: r{i}, body: [{{type: conv, K: 3, padding: 1, Cout: {channels}}}]}}")
    return "\n".join(lines) + "\n"
