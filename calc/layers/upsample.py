"""Upsampling by nearest neighbour or (bi/tri)linear interpolation.

    window = output elements * 2^d for linear modes (the 2^d neighbours each output blends;
             4 for bilinear), output elements for nearest (one copy each)
"""

from typing import Any, Literal

from pydantic import Field, model_validator

from calc.arith import prod
from calc.errors import ShapeError, SpecError
from calc.layers.base import PositiveInt, SpatialInput, feature_map, per_axis
from calc.tally import Shape, Tally


def interpolation_window(out_elements: Any, neighbours: Any) -> Any:
    return out_elements * neighbours


class Upsample(SpatialInput):
    """nn.Upsample with scale_factor (int per axis) or size; mode nearest or bilinear
    (bilinear means linear on every spatial axis: 2 neighbours per axis)."""

    TAGS = ("upsample",)
    AXIS_FIELDS = ("scale_factor", "size")
    type: Literal["upsample"] = Field("upsample", description="the kind: upsample")
    mode: Literal["nearest", "bilinear"] = Field(
        "nearest",
        description="nearest (one copy per output) or bilinear (2-d: 4 neighbours blended)",
    )
    scale_factor: PositiveInt | list[PositiveInt] | None = Field(
        None, description="int scale: one int or one per axis (this or size)"
    )
    size: PositiveInt | list[PositiveInt] | None = Field(
        None, description="output size: one int or one per axis (this or scale_factor)"
    )
    align_corners: bool | None = Field(
        None, description="PyTorch's align_corners (no effect on costs)"
    )

    @model_validator(mode="after")
    def _one_of(self) -> "Upsample":
        if (self.scale_factor is None) == (self.size is None):
            raise SpecError(
                "give exactly one of scale_factor and size", field="scale_factor",
                expected="scale_factor: 2 or size: [H, W]",
            )
        return self

    def tally(self, inputs: tuple[Shape, ...]) -> Tally:
        (shape,) = inputs
        feature_map(shape, self.kind)
        n, c, *spatial = shape
        dims = len(spatial)
        if self.mode == "bilinear" and dims != 2:
            raise ShapeError(f"bilinear needs a 2-d input, got {dims}-d", field="mode")
        if self.size is not None:
            out = per_axis(self.size, dims, "size")
        else:
            out = tuple(x * f for x, f in zip(spatial, per_axis(self.scale_factor, dims, "scale_factor")))
        output = (n, c, *out)
        neighbours = 2**dims if self.mode == "bilinear" else 1
        by_scale = self.size is None
        return Tally(
            op=f"upsample_{self.mode}", inputs=inputs, output=output,
            window=interpolation_window(prod(output), neighbours),
            scaled_in=prod(shape) if by_scale else 0,
            target_positions=0 if by_scale else prod(out),
        )
