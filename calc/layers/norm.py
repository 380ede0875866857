"""Batch normalisation: 2 trainable values per channel (gamma, beta) when affine, and 2 buffers
(running mean and variance).  PyTorch also keeps one int64 `num_batches_tracked` per layer,
which is not a per-channel statistic and is left out of `buffers` (NB: torchinfo and
`model.buffers()` differ on this; see docs/profilers.md).
"""

from typing import Any, Literal

from pydantic import Field

from calc.arith import flag, prod
from calc.layers.base import SpatialInput
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
