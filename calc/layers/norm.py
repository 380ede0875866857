"""Normalisations.

Batch normalisation: 2 trainable values per channel (gamma, beta) when affine, and 2 buffers
(running mean and variance).  PyTorch also keeps one int64 `num_batches_tracked` per layer,
which is not a per-channel statistic and is left out of `buffers` (NB: torchinfo and
`model.buffers()` differ on this; see docs/profilers.md).

Layer norm (and its channel-first form), RMS norm, group norm and instance norm compute their
statistics from the input: their formulas and the exact convention's count are below.
"""

from typing import Any, Literal

from pydantic import Field

from calc.arith import exact_div, flag, is_int, prod
from calc.errors import ShapeError
from calc.layers.base import PositiveInt, SpatialInput, feature_map, format_shape
from calc.tally import Shape, Tally


def batchnorm_params(channels: Any, affine: Any) -> Any:
    """gamma and beta: 2C when affine, else 0."""
    return 2 * channels * affine


def batchnorm_buffers(channels: Any) -> Any:
    """running_mean and running_var: 2C."""
    return 2 * channels


class BatchNorm(SpatialInput):
    """BatchNorm1d/2d/3d in inference mode; channels on axis 1."""

    TAGS = ("batchnorm",)
    SPATIAL_REQUIRED = False
    type: Literal["batchnorm"] = Field("batchnorm", description="the kind: batchnorm")
    affine: bool = Field(
        True, description="learned scale and shift per channel (2 params per channel)"
    )
    eps: float | None = Field(None, description="PyTorch's eps (no effect on costs)")
    momentum: float | None = Field(None, description="PyTorch's momentum (no effect on costs)")

    def tally(self, inputs: tuple[Shape, ...]) -> Tally:
        (shape,) = inputs
        channels = shape[1]
        affine = flag(self.affine)
        return Tally(
            op="batchnorm",
            inputs=inputs,
            output=shape,
            params=batchnorm_params(channels, affine),
            buffers=batchnorm_buffers(channels),
            affine_in=affine * prod(shape),
        )


# -- statistics-based normalisations -------------------------------------------------------------
# Layer, group, instance and RMS norm compute their statistics from the input itself (batch norm
# in inference uses stored ones).  Each normalises `groups` vectors ("rows") of n elements.
#
# The exact convention's count, per row of n elements, from first principles:
#     mean   = sum(x) / n                  n-1 adds, 1 divide           n
#     d      = x - mean                    n subtracts                  n
#     var    = sum(d * d) / n              n multiplies, n-1 adds, 1 div 2n
#     std    = sqrt(var + eps)             1 add, 1 square root         2
#     y      = d / std                     n divides                    n
# = 5n + 2 per row, i.e. 5 * elements + 2 * rows; then a learnt scale adds one multiply and a
# learnt shift one add per element.  RMS norm has no mean and no subtraction:
#     ms = sum(x * x) / n (2n), rms = sqrt(ms + eps) (2), y = x / rms (n)  = 3n + 2 per row.
# MACs are 0: no dot products.


def norm_rows(elements: Any, row_size: Any) -> Any:
    """Vectors normalised: elements / elements per vector."""
    return exact_div(elements, row_size)


def norm_exact_flops(elements: Any, rows: Any, scale: Any, shift: Any) -> Any:
    """Layer/group/instance norm with input statistics: 5*elements + 2*rows, plus one multiply
    per element for a learnt scale and one add for a learnt shift (scale, shift: 0/1)."""
    return 5 * elements + 2 * rows + scale * elements + shift * elements


def rmsnorm_exact_flops(elements: Any, rows: Any, scale: Any) -> Any:
    """RMS norm: 3*elements + 2*rows, plus one multiply per element for a learnt scale."""
    return 3 * elements + 2 * rows + scale * elements


def running_stats_exact_flops(elements: Any, scale: Any, shift: Any) -> Any:
    """Instance norm in eval mode with track_running_stats: (x - running_mean) / std_c with the
    per-channel std taken as stored (2 per element), then the learnt scale and shift."""
    return 2 * elements + scale * elements + shift * elements


def layernorm_params(normalized: tuple, affine: Any, bias: Any) -> Any:
    """prod(normalized_shape) * (elementwise_affine + elementwise_affine * bias): weight and bias."""
    return prod(normalized) * (affine + affine * bias)


def rmsnorm_params(normalized: tuple, affine: Any) -> Any:
    """prod(normalized_shape) weights when elementwise_affine (RMS norm has no bias)."""
    return prod(normalized) * affine


def channel_affine_params(channels: Any, affine: Any) -> Any:
    """Group and instance norm: weight and bias per channel, 2C when affine."""
    return 2 * channels * affine


def running_stats_buffers(channels: Any, track: Any) -> Any:
    """running_mean and running_var, 2C when track_running_stats (num_batches_tracked left out,
    as for batch norm)."""
    return 2 * channels * track


def _norm_tally(
    op: str, inputs: tuple[Shape, ...], *, params: Any, rows: Any, scale: Any, shift: Any,
    stats: Any = 1, buffers: Any = 0,
) -> Tally:
    (shape,) = inputs
    elements = prod(shape)
    return Tally(
        op=op, inputs=inputs, output=shape, params=params, buffers=buffers, rows=rows * stats,
        affine_in=scale * elements, bias_adds=shift * elements, stats_in=stats * elements,
    )


NormalizedShape = PositiveInt | list[PositiveInt]


def trailing_axes(shape: Shape, normalized: Any, field: str = "normalized_shape") -> tuple:
    """The trailing sizes normalised over: the last axis when not given; an int k is [k] (as
    nn.LayerNorm(k)); a list must match the input's last len(list) sizes."""
    if normalized is None:
        return (shape[-1],)
    sizes = list(normalized) if isinstance(normalized, list) else [normalized]
    if len(sizes) > len(shape):
        raise ShapeError(
            f"has {len(sizes)} axes but its input {format_shape(shape)} has {len(shape)}",
            field=field, expected=f"at most {len(shape)} trailing sizes",
        )
    trailing = shape[len(shape) - len(sizes):]
    for want, got in zip(sizes, trailing):
        if is_int(got) and is_int(want) and want != got:
            raise ShapeError(
                f"{sizes} does not match the input's last {len(sizes)} sizes "
                f"{list(trailing)} (input {format_shape(shape)})",
                field=field, expected=f"{list(trailing)}, or the field left out (the last axis)",
            )
    return tuple(trailing)


_DESCRIBE_NS = "sizes of the last axes normalised over (k means [k]); must match the input; default: last axis"
_DESCRIBE_EPS = "PyTorch's eps (no effect on costs)"


class LayerNorm(SpatialInput):
    """nn.LayerNorm over the last axes of any input: (N, T, d), (N, C, H, W), (N, F)."""

    TAGS = ("layernorm",)
    SPATIAL_REQUIRED = False
    type: Literal["layernorm"] = Field("layernorm", description="the kind: layernorm")
    normalized_shape: NormalizedShape | None = Field(None, description=_DESCRIBE_NS)
    elementwise_affine: bool = Field(
        True, description="learned weight (and bias) per normalised element"
    )
    bias: bool = Field(True, description="learned bias too, when elementwise_affine (PyTorch >= 2.1)")
    eps: float | None = Field(None, description=_DESCRIBE_EPS)

    def tally(self, inputs: tuple[Shape, ...]) -> Tally:
        (shape,) = inputs
        normalized = trailing_axes(shape, self.normalized_shape)
        affine, bias = flag(self.elementwise_affine), flag(self.bias)
        return _norm_tally(
            "layernorm", inputs, params=layernorm_params(normalized, affine, bias),
            rows=norm_rows(prod(shape), prod(normalized)), scale=affine, shift=affine * bias,
        )


class LayerNorm2d(SpatialInput):
    """Channel-first layer norm (torchvision ConvNeXt's LayerNorm2d, timm's LayerNorm2d):
    normalises axis 1 of an (N, C, *spatial) map at each position (permute, layer_norm over C,
    permute back).  Its own op: profilers hook it as a different module type."""

    TAGS = ("layernorm2d",)
    type: Literal["layernorm2d"] = Field("layernorm2d", description="the kind: layernorm2d")
    elementwise_affine: bool = Field(True, description="learned weight (and bias) per channel")
    bias: bool = Field(True, description="learned bias too, when elementwise_affine")
    eps: float | None = Field(None, description=_DESCRIBE_EPS)

    def tally(self, inputs: tuple[Shape, ...]) -> Tally:
        (shape,) = inputs
        if len(shape) < 3:
            feature_map(shape, self.kind)
        affine, bias = flag(self.elementwise_affine), flag(self.bias)
        return _norm_tally(
            "layernorm2d", inputs, params=layernorm_params((shape[1],), affine, bias),
            rows=norm_rows(prod(shape), shape[1]), scale=affine, shift=affine * bias,
        )


class RMSNorm(SpatialInput):
    """nn.RMSNorm (torch >= 2.4) over the last axes: x / sqrt(mean(x^2) + eps) * weight."""

    TAGS = ("rmsnorm",)
    SPATIAL_REQUIRED = False
    type: Literal["rmsnorm"] = Field("rmsnorm", description="the kind: rmsnorm")
    normalized_shape: NormalizedShape | None = Field(None, description=_DESCRIBE_NS)
    elementwise_affine: bool = Field(True, description="learned weight per normalised element")
    eps: float | None = Field(None, description=_DESCRIBE_EPS)

    def tally(self, inputs: tuple[Shape, ...]) -> Tally:
        (shape,) = inputs
        normalized = trailing_axes(shape, self.normalized_shape)
        affine = flag(self.elementwise_affine)
        return _norm_tally(
            "rmsnorm", inputs, params=rmsnorm_params(normalized, affine),
            rows=norm_rows(prod(shape), prod(normalized)), scale=affine, shift=0,
        )


class GroupNorm(SpatialInput):
    """nn.GroupNorm: channels (axis 1) split into `groups`; each sample's group normalised."""

    TAGS = ("groupnorm",)
    SPATIAL_REQUIRED = False
    type: Literal["groupnorm"] = Field("groupnorm", description="the kind: groupnorm")
    groups: PositiveInt = Field(description="PyTorch's num_groups: must divide the channels")
    affine: bool = Field(True, description="learned weight and bias per channel (2C params)")
    eps: float | None = Field(None, description=_DESCRIBE_EPS)

    def tally(self, inputs: tuple[Shape, ...]) -> Tally:
        (shape,) = inputs
        channels = shape[1]
        if is_int(channels) and is_int(self.groups) and channels % self.groups:
            raise ShapeError(
                f"groups={self.groups} does not divide the {channels} input channels",
                field="groups", expected=f"a divisor of {channels}",
            )
        affine = flag(self.affine)
        return _norm_tally(
            "groupnorm", inputs, params=channel_affine_params(channels, affine),
            rows=shape[0] * self.groups, scale=affine, shift=affine,
        )


class InstanceNorm(SpatialInput):
    """nn.InstanceNorm1d/2d/3d (by the input's rank), in eval mode: each sample's channel is
    normalised with its own statistics, or with the running ones when track_running_stats."""

    TAGS = ("instancenorm",)
    type: Literal["instancenorm"] = Field("instancenorm", description="the kind: instancenorm")
    affine: bool = Field(False, description="learned weight and bias per channel (2C params)")
    track_running_stats: bool = Field(
        False,
        description="keep running mean and variance (2C buffers), which eval mode then uses",
    )
    eps: float | None = Field(None, description=_DESCRIBE_EPS)
    momentum: float | None = Field(None, description="PyTorch's momentum (no effect on costs)")

    def tally(self, inputs: tuple[Shape, ...]) -> Tally:
        (shape,) = inputs
        if len(shape) < 3:
            feature_map(shape, self.kind)
        affine, track = flag(self.affine), flag(self.track_running_stats)
        return _norm_tally(
            "instancenorm", inputs, params=channel_affine_params(shape[1], affine),
            rows=shape[0] * shape[1], scale=affine, shift=affine, stats=1 - track,
            buffers=running_stats_buffers(shape[1], track),
        )
