"""Convolution (1-d, 2-d, 3-d by the input's rank), depthwise, pointwise and depthwise-separable.

Formulas (per layer; N batch, g groups, K^d kernel, out^d output positions):
    params      = Cout * (Cin/g) * prod(K) + bias * Cout
    macs        = N * Cout * prod(out) * (Cin/g) * prod(K)           (bias excluded)
    dot_outputs = N * Cout * prod(out)                               (one dot product each)
    bias_adds   = bias * dot_outputs
Each dot product of n = (Cin/g)*prod(K) terms costs n multiplies and n-1 adds, so the exact
count is 2*macs - dot_outputs + bias_adds, i.e. (2*Cin*K^2 - 1)*Hout*Wout*Cout without bias and
2*Cin*K^2*Hout*Wout*Cout with it (seed 000's derivation, checked by `calc derive conv`).
Output size: floor((H + 2p - d(K-1) - 1)/s) + 1 (PyTorch Conv2d docs).
"""

from typing import Any, Literal

from pydantic import Field, model_validator

from calc.arith import exact_div, prod
from calc.errors import ShapeError, SpecError
from calc.layers.base import (
    DESCRIBE_BIAS, DESCRIBE_GROUPS, IntOrAxes, Layer, NonNegativeInt, PositiveInt, SpatialInput,
    check_groups, feature_map, per_axis, require_positive,
)
from calc.layers.epilogue import WithEpilogue
from calc.shapes import conv_out, same_padding
from calc.tally import Shape, Tally

Padding = NonNegativeInt | list[NonNegativeInt] | Literal["same", "valid"]


def conv_params(cin: Any, cout: Any, kernel: tuple, groups: Any, bias: Any) -> Any:
    """Cout * (Cin/g) * prod(K) weights, plus Cout biases when bias = 1."""
    return cout * exact_div(cin, groups) * prod(kernel) + bias * cout


def conv_macs(n: Any, cin: Any, cout: Any, kernel: tuple, out: tuple, groups: Any) -> Any:
    """N * Cout * prod(out) * (Cin/g) * prod(K): one product per weight per output position."""
    return n * cout * prod(out) * exact_div(cin, groups) * prod(kernel)


def conv_dot_outputs(n: Any, cout: Any, out: tuple) -> Any:
    """N * Cout * prod(out): every output element is one dot product."""
    return n * cout * prod(out)


def resolve_padding(
    padding: Any, spatial: tuple, kernel: tuple, stride: tuple, dilation: tuple
) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """Low and high padding per axis, from an int, a list, 'valid' (0) or 'same'."""
    dims = len(spatial)
    if padding == "valid":
        return (0,) * dims, (0,) * dims
    if padding == "same":
        pairs = [same_padding(*a) for a in zip(spatial, kernel, stride, dilation)]
        return tuple(lo for lo, _ in pairs), tuple(hi for _, hi in pairs)
    both = per_axis(padding, dims, "padding")
    return both, both


def conv_tally(
    layer: Layer,
    inputs: tuple[Shape, ...],
    *,
    cout: Any,
    groups: Any,
    kernel: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    bias: Any,
) -> Tally:
    """Shape rule and counts shared by conv, depthwise and pointwise records.

    This runs once per distinct conv of every network re-evaluation, and CPython 3.11 charges
    more for a Python call than for anything else here: the usual single-int fields skip
    `per_axis` and `resolve_padding`, and a failing size's message is built only then."""
    (shape,) = inputs
    if len(shape) < 3:
        feature_map(shape, layer.kind)
    n = shape[0]
    cin = shape[1]
    spatial = shape[2:]
    dims = len(spatial)
    k = (kernel,) * dims if type(kernel) is int else per_axis(kernel, dims, "K")
    s = (stride,) * dims if type(stride) is int else per_axis(stride, dims, "stride")
    d = (dilation,) * dims if type(dilation) is int else per_axis(dilation, dims, "dilation")
    if type(padding) is int:
        lows = highs = (padding,) * dims
    else:
        lows, highs = resolve_padding(padding, spatial, k, s, d)
    if type(cin) is int and type(groups) is int and cin % groups:
        raise ShapeError(
            f"groups={groups} does not divide the {cin} input channels",
            field="groups",
            expected=f"a divisor of {cin}",
        )
    out = tuple(map(conv_out, spatial, k, s, lows, highs, d))
    for o in out:
        if type(o) is int and o < 1:
            _window_too_large(spatial, k, d, lows, highs, out)
    bias = 1 if bias is True else 0 if bias is False else bias  # flag(bias), inlined
    dot = conv_dot_outputs(n, cout, out)
    macs = conv_macs(n, cin, cout, k, out, groups)
    string_padded, calflops = 0, None
    if type(padding) is str:
        string_padded = macs
        if padding == "same":
            calflops = calflops_same_size(spatial, k, s, d)
    return Tally(
        op="conv",
        inputs=inputs,
        output=(n, cout, *out),
        params=conv_params(cin, cout, k, groups, bias),
        macs=macs,
        dot_outputs=dot,
        bias_adds=bias * dot,
        string_padded_macs=string_padded,
        calflops_macs=None if calflops is None else conv_macs(n, cin, cout, k, calflops, groups),
        calflops_bias_adds=None if calflops is None else bias * conv_dot_outputs(n, cout, calflops),
    )


def calflops_same_size(spatial: tuple, k: tuple, s: tuple, d: tuple) -> tuple:
    """The output size calflops 0.3.2 computes for padding='same': d(K-1)//2 on each side, so
    one position short of PyTorch's size on every axis where d(K-1) is odd."""
    halves = [dd * (kk - 1) // 2 for kk, dd in zip(k, d)]
    return tuple(map(conv_out, spatial, k, s, halves, halves, d))


def _window_too_large(
    spatial: tuple, k: tuple, d: tuple, lows: tuple, highs: tuple, out: tuple
) -> None:
    """Raise for the first axis whose output size is below 1: the kernel does not fit."""
    for x, kk, dd, lo, hi, o in zip(spatial, k, d, lows, highs, out):
        require_positive(
            "K", o,
            lambda: f"kernel {kk} (spanning {dd * (kk - 1) + 1} with dilation {dd}) is larger "
            f"than the padded input {x} + {lo + hi}",
        )


class _ConvFields(WithEpilogue, SpatialInput):
    AXIS_FIELDS = ("K", "stride", "padding", "dilation")
    K: IntOrAxes = Field(description="kernel size: one int for every spatial axis, or one per axis")
    stride: IntOrAxes = Field(1, description="stride: one int or one per axis")
    padding: Padding = Field(
        0, description="zero padding on each side: one int, one per axis, 'same' or 'valid'"
    )
    dilation: IntOrAxes = Field(
        1, description="spacing of the kernel taps: one int or one per axis"
    )
    bias: bool = Field(True, description=DESCRIBE_BIAS)

    @model_validator(mode="after")
    def _axes_agree(self) -> "_ConvFields":
        lengths = {
            f: len(v) for f in ("K", "stride", "padding", "dilation")
            if isinstance(v := getattr(self, f), list)
        }
        if len(set(lengths.values())) > 1:
            raise SpecError(
                f"per-axis lists differ in length: {lengths}", field=next(iter(lengths)),
                expected="one entry per spatial axis in every list",
            )
        for f, n in lengths.items():
            if not 1 <= n <= 3:
                raise SpecError(
                    f"has {n} entries", field=f, expected="1 to 3 (one per spatial axis)"
                )
        return self


class Conv(_ConvFields):
    """Standard (grouped, dilated, strided) convolution; 1-, 2- or 3-d by the input's rank."""

    TAGS = ("conv",)
    type: Literal["conv"] = Field("conv", description="the kind: conv")
    Cout: PositiveInt = Field(description="output channels")
    groups: PositiveInt = Field(1, description=DESCRIBE_GROUPS)

    @model_validator(mode="after")
    def _groups_divide(self) -> "Conv":
        check_groups(self.groups, self.Cin, self.Cout)
        return self

    def tally(self, inputs: tuple[Shape, ...]) -> Tally:
        return conv_tally(
            self, inputs, cout=self.Cout, groups=self.groups, kernel=self.K, stride=self.stride,
            padding=self.padding, dilation=self.dilation, bias=self.bias,
        )


class Depthwise(_ConvFields):
    """Depthwise convolution: groups = Cin, Cout = multiplier * Cin (channel multiplier)."""

    TAGS = ("depthwise",)
    type: Literal["depthwise"] = Field("depthwise", description="the kind: depthwise")
    multiplier: PositiveInt = Field(
        1, description="channel multiplier: Cout = multiplier * Cin (groups = Cin)"
    )

    def tally(self, inputs: tuple[Shape, ...]) -> Tally:
        cin = inputs[0][1]
        return conv_tally(
            self, inputs, cout=self.multiplier * cin, groups=cin, kernel=self.K,
            stride=self.stride, padding=self.padding, dilation=self.dilation, bias=self.bias,
        )


class Pointwise(WithEpilogue, SpatialInput):
    """1x1 convolution (K = 1, no padding); may stride and be grouped."""

    TAGS = ("pointwise",)
    AXIS_FIELDS = ("stride",)
    type: Literal["pointwise"] = Field("pointwise", description="the kind: pointwise")
    Cout: PositiveInt = Field(description="output channels")
    stride: IntOrAxes = Field(
        1, description="stride: one int or one per axis (kernel 1, no padding)"
    )
    groups: PositiveInt = Field(1, description=DESCRIBE_GROUPS)
    bias: bool = Field(True, description=DESCRIBE_BIAS)

    @model_validator(mode="after")
    def _groups_divide(self) -> "Pointwise":
        check_groups(self.groups, self.Cin, self.Cout)
        return self

    def tally(self, inputs: tuple[Shape, ...]) -> Tally:
        return conv_tally(
            self, inputs, cout=self.Cout, groups=self.groups, kernel=1, stride=self.stride,
            padding=0, dilation=1, bias=self.bias,
        )


class Separable(_ConvFields):
    """Depthwise-separable convolution: depthwise KxK (with its BN/act) then pointwise 1x1 to
    Cout (with its BN/act).  ``bn`` and ``act`` apply to both halves, as in MobileNet V1."""

    TAGS = ("separable",)
    type: Literal["separable"] = Field("separable", description="the kind: separable")
    Cout: PositiveInt = Field(description="output channels of the pointwise half")
    multiplier: PositiveInt = Field(1, description="channel multiplier of the depthwise half")

    def expand(self) -> list[tuple[str, Layer]]:
        # The fields were validated on this record; model_construct keeps symbolic values too.
        dw = Depthwise.model_construct(
            K=self.K, stride=self.stride, padding=self.padding, dilation=self.dilation,
            multiplier=self.multiplier, bias=self.bias, bn=self.bn, act=self.act,
            Cin=self.Cin, L=self.L, D=self.D, H=self.H, W=self.W, N=self.N,
        )
        pw = Pointwise.model_construct(Cout=self.Cout, bias=self.bias, bn=self.bn, act=self.act)
        return [
            *((f"dw.{p}" if p else "dw", op) for p, op in dw.expand()),
            *((f"pw.{p}" if p else "pw", op) for p, op in pw.expand()),
        ]
