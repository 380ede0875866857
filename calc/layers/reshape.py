"""Operations that move data without arithmetic: flatten, dropout (identity at inference),
channel shuffle (ShuffleNet), identity.  They cost memory traffic, not FLOPs, in every
convention that prices them at zero."""

from typing import Literal

from pydantic import Field

from calc.arith import is_int, prod
from calc.errors import ShapeError
from calc.layers.base import BoundedInt, PositiveInt, SpatialInput
from calc.tally import Shape, Tally


class Flatten(SpatialInput):
    """nn.Flatten(start_dim=1): (N, C, H, W) -> (N, C*H*W)."""

    TAGS = ("flatten",)
    SPATIAL_REQUIRED = False
    type: Literal["flatten"] = Field("flatten", description="the kind: flatten")
    start_dim: PositiveInt = Field(
        1, description="first axis flattened (1: (N, C, H, W) -> (N, C*H*W))"
    )

    def keeps_rank(self) -> bool:
        return False

    def tally(self, inputs: tuple[Shape, ...]) -> Tally:
        (shape,) = inputs
        if self.start_dim >= len(shape):
            raise ShapeError(
                f"start_dim {self.start_dim} is out of range for a {len(shape)}-d input",
                field="start_dim", expected=f"1 to {len(shape) - 1}",
            )
        out = (*shape[: self.start_dim], prod(shape[self.start_dim :]))
        return Tally(op="flatten", inputs=inputs, output=out)


class Dropout(SpatialInput):
    """Dropout: the identity at inference."""

    TAGS = ("dropout",)
    SPATIAL_REQUIRED = False
    type: Literal["dropout"] = Field("dropout", description="the kind: dropout")
    p: float = Field(
        default=0.5, ge=0.0, le=1.0,
        description="drop probability (no effect on costs at inference)",
    )
    inplace: bool = Field(False, description="PyTorch's inplace flag (no effect on costs)")

    def tally(self, inputs: tuple[Shape, ...]) -> Tally:
        return Tally(op="dropout", inputs=inputs, output=inputs[0])


class Identity(SpatialInput):
    """Passes its input through (an identity shortcut, a placeholder)."""

    TAGS = ("identity",)
    SPATIAL_REQUIRED = False
    type: Literal["identity"] = Field("identity", description="the kind: identity")

    def tally(self, inputs: tuple[Shape, ...]) -> Tally:
        return Tally(op="identity", inputs=inputs, output=inputs[0])


class ChannelShuffle(SpatialInput):
    """ShuffleNet channel shuffle: view (N, g, C/g, ...), transpose, view back."""

    TAGS = ("channel_shuffle",)
    type: Literal["channel_shuffle"] = Field(
        "channel_shuffle", description="the kind: channel_shuffle"
    )
    groups: PositiveInt = Field(
        description="groups the channels are shuffled across (divides the channels)"
    )

    def tally(self, inputs: tuple[Shape, ...]) -> Tally:
        (shape,) = inputs
        c = shape[1]
        if is_int(c) and is_int(self.groups) and c % self.groups:
            raise ShapeError(
                f"groups={self.groups} does not divide the {c} channels", field="groups",
                expected=f"a divisor of {c}",
            )
        return Tally(op="channel_shuffle", inputs=inputs, output=shape)


class ChannelSlice(SpatialInput):
    """One part of a channel split (ShuffleNet V2): part `index` of `parts` equal chunks, or of
    explicit channel counts.  Not a spec kind of its own: `parallel` with `split` makes these."""

    TAGS = ()
    SPATIAL_REQUIRED = False
    type: Literal["split"] = Field("split", description="the kind: split")
    parts: PositiveInt | list[PositiveInt] = Field(
        description="equal parts (int) or the channels of each part (list)"
    )
    index: BoundedInt = Field(ge=0, description="which part this slice is (from 0)")

    def tally(self, inputs: tuple[Shape, ...]) -> Tally:
        (shape,) = inputs
        channels = shape[1]
        if isinstance(self.parts, int):
            if channels % self.parts:
                raise ShapeError(
                    f"cannot split {channels} channels into {self.parts} equal parts",
                    field="split", expected=f"a divisor of {channels}",
                )
            size = channels // self.parts
        else:
            if sum(self.parts) != channels:
                raise ShapeError(
                    f"split sizes {self.parts} add up to {sum(self.parts)}, the input has {channels}",
                    field="split", expected=f"sizes adding up to {channels}",
                )
            size = self.parts[self.index]
        return Tally(op="split", inputs=inputs, output=(shape[0], size, *shape[2:]))
