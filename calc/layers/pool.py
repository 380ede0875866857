"""Pooling: max and average with a window; adaptive and global average and max.

The counter a convention prices is ``window``: the window positions visited, summed over outputs.
    max/avg pool      window = N * C * prod(out) * prod(K)   (nominal window, padding included)
    adaptive pool     window = N * C * prod_axis(H + O - gcd(H, O))   (see shapes.adaptive_window_sum)
    global pool       window = N * C * prod(H)                  (= input elements)
Exact count: max pool compares window - outputs times; average pool adds window - outputs times
and divides once per output, i.e. window operations.
Output size: floor((H + 2p - d(K-1) - 1)/s) + 1, or with ceil_mode the ceiling, dropping a last
window that would start in the right padding (PyTorch MaxPool2d docs).
"""

from typing import Any, Literal

from pydantic import Field, model_validator

from calc.arith import is_int, prod
from calc.errors import ShapeError, SpecError
from calc.layers.base import (
    IntOrAxes, NonNegativeInt, PositiveInt, SpatialInput, feature_map, per_axis, require_positive,
)
from calc.shapes import adaptive_window_sum, pool_out
from calc.tally import Shape, Tally


def pool_window(n: Any, c: Any, out: tuple, kernel: tuple) -> Any:
    """N * C * prod(out) * prod(K): each output visits its K^d window."""
    return n * c * prod(out) * prod(kernel)


def adaptive_window(n: Any, c: Any, spatial: tuple, out: tuple) -> Any:
    """N * C * prod over axes of (H + O - gcd(H, O))."""
    return n * c * prod(adaptive_window_sum(h, o) for h, o in zip(spatial, out))


class Pool(SpatialInput):
    """MaxPool / AvgPool 1-, 2- or 3-d.  stride defaults to K, as in PyTorch."""

    TAGS = ("maxpool", "avgpool")
    AXIS_FIELDS = ("K", "stride", "padding", "dilation")
    type: Literal["maxpool", "avgpool"] = Field(description="maxpool or avgpool")
    K: IntOrAxes = Field(description="window size: one int for every spatial axis, or one per axis")
    stride: IntOrAxes | None = Field(
        None, description="stride: one int or one per axis (default: K)"
    )
    padding: NonNegativeInt | list[NonNegativeInt] = Field(
        0, description="implicit padding on each side: one int or one per axis (at most K // 2)"
    )
    dilation: IntOrAxes = Field(
        1, description="spacing of the window taps: one int or one per axis (maxpool only)"
    )
    ceil_mode: bool = Field(False, description="round the output size up instead of down")
    count_include_pad: bool = Field(
        True, description="avgpool: padding counts in the divisor (no effect on costs)"
    )

    @model_validator(mode="after")
    def _kind_fields(self) -> "Pool":
        if self.type == "avgpool" and self.dilation not in (1, [1], [1, 1], [1, 1, 1]):
            raise SpecError("avgpool has no dilation", field="dilation", expected="1 or the field left out")
        return self

    def tally(self, inputs: tuple[Shape, ...]) -> Tally:
        (shape,) = inputs
        feature_map(shape, self.kind)
        n, c, *spatial = shape
        dims = len(spatial)
        k = per_axis(self.K, dims, "K")
        s = per_axis(self.K if self.stride is None else self.stride, dims, "stride")
        p = per_axis(self.padding, dims, "padding")
        d = per_axis(self.dilation, dims, "dilation")
        for kk, pp in zip(k, p):
            if is_int(pp) and is_int(kk) and pp * 2 > kk:
                raise ShapeError(
                    f"padding {pp} is more than half the kernel {kk}", field="padding",
                    expected=f"at most {kk // 2}",
                )
        out = tuple(pool_out(*a, self.ceil_mode) for a in zip(spatial, k, s, p, d))
        for x, kk, o in zip(spatial, k, out):
            require_positive("K", o, lambda: f"window {kk} is larger than the padded input {x}")
        return Tally(
            op=self.type, inputs=inputs, output=(n, c, *out), window=pool_window(n, c, out, k)
        )


class AdaptivePool(SpatialInput):
    """AdaptiveAvgPool / AdaptiveMaxPool to output_size (int or per axis)."""

    TAGS = ("adaptive_avgpool", "adaptive_maxpool")
    AXIS_FIELDS = ("output_size",)
    type: Literal["adaptive_avgpool", "adaptive_maxpool"] = Field(
        description="adaptive_avgpool or adaptive_maxpool"
    )
    output_size: PositiveInt | list[PositiveInt] = Field(
        description="output size: one int for every spatial axis, or one per axis"
    )

    def tally(self, inputs: tuple[Shape, ...]) -> Tally:
        (shape,) = inputs
        feature_map(shape, self.kind)
        n, c, *spatial = shape
        out = per_axis(self.output_size, len(spatial), "output_size")
        return Tally(
            op=self.type, inputs=inputs, output=(n, c, *out),
            window=adaptive_window(n, c, tuple(spatial), out),
        )


class GlobalPool(SpatialInput):
    """Global average / max pooling to 1 per channel; priced as adaptive pooling to size 1."""

    TAGS = ("global_avgpool", "global_maxpool")
    type: Literal["global_avgpool", "global_maxpool"] = Field(
        description="global_avgpool or global_maxpool"
    )
    keepdims: bool = Field(
        True, description="keep the spatial axes as size 1 (false: output (N, C))"
    )

    def keeps_rank(self) -> bool:
        return self.keepdims

    def tally(self, inputs: tuple[Shape, ...]) -> Tally:
        (shape,) = inputs
        feature_map(shape, self.kind)
        n, c, *spatial = shape
        out = (1,) * len(spatial) if self.keepdims else ()
        op = "adaptive_avgpool" if self.type == "global_avgpool" else "adaptive_maxpool"
        return Tally(
            op=op, inputs=inputs, output=(n, c, *out),
            window=adaptive_window(n, c, tuple(spatial), (1,) * len(spatial)),
        )



