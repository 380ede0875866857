"""Activations: element-wise, shape-preserving.  PReLU has parameters; softmax reduces rows.

Per-element costs differ by convention and live in `calc.conventions`, not here.
"""

from enum import StrEnum
from typing import Any, Literal

from pydantic import Field, model_validator

from calc.arith import exact_div, prod
from calc.errors import ShapeError, SpecError
from calc.layers.base import BoundedInt, PositiveInt, SpatialInput
from calc.tally import Shape, Tally


class ActivationKind(StrEnum):
    RELU = "relu"
    RELU6 = "relu6"
    LEAKY_RELU = "leaky_relu"
    PRELU = "prelu"
    ELU = "elu"
    SIGMOID = "sigmoid"
    TANH = "tanh"
    HARDSWISH = "hardswish"
    HARDSIGMOID = "hardsigmoid"
    SILU = "silu"
    GELU = "gelu"
    SOFTMAX = "softmax"


def prelu_params(num_parameters: Any) -> Any:
    """PReLU learns one slope per channel (num_parameters = C) or one shared (= 1)."""
    return num_parameters


def softmax_rows(elements: Any, axis_size: Any) -> Any:
    """Vectors normalised by softmax over an axis: elements / size of that axis."""
    return exact_div(elements, axis_size)


class Activation(SpatialInput):
    """relu, relu6, leaky_relu, prelu, elu, sigmoid, tanh, hardswish, hardsigmoid, silu, gelu,
    softmax.  The input may be a feature map (Cin with H, W, ...) or flat (Cin alone)."""

    TAGS = tuple(k.value for k in ActivationKind)
    SPATIAL_REQUIRED = False
    type: Literal[
        "relu", "relu6", "leaky_relu", "prelu", "elu", "sigmoid", "tanh",
        "hardswish", "hardsigmoid", "silu", "gelu", "softmax",
    ] = Field(description="the activation: " + ", ".join(k.value for k in ActivationKind))
    num_parameters: PositiveInt | Literal["channels"] | None = Field(
        None,
        description="prelu only: slopes, 1 (shared, the default), the channels or 'channels'",
    )
    dim: BoundedInt | None = Field(
        None, description="softmax only: the axis normalised over (default 1, channels; -1 the last)"
    )
    negative_slope: float | None = Field(
        None, description="leaky_relu only: slope below 0 (no effect on costs)"
    )
    alpha: float | None = Field(None, description="elu only: alpha (no effect on costs)")
    inplace: bool = Field(False, description="PyTorch's inplace flag (no effect on costs)")

    @model_validator(mode="after")
    def _fields_fit_kind(self) -> "Activation":
        only = {
            "num_parameters": "prelu",
            "dim": "softmax",
            "negative_slope": "leaky_relu",
            "alpha": "elu",
        }
        for field, kind in only.items():
            if getattr(self, field) is not None and self.type != kind:
                raise SpecError(
                    f"applies only to {kind}, not to {self.type}", field=field,
                    expected="the field left out",
                )
        return self

    def tally(self, inputs: tuple[Shape, ...]) -> Tally:
        (shape,) = inputs
        params: Any = 0
        rows: Any = 0
        if self.type == ActivationKind.PRELU:
            count = self.num_parameters or 1
            if count == "channels":
                count = shape[1]
            elif isinstance(count, int) and count not in (1, shape[1]):
                raise ShapeError(
                    f"has {count} slopes for {shape[1]} channels",
                    field="num_parameters",
                    expected=f"1 or {shape[1]}",
                )
            params = prelu_params(count)
        if self.type == ActivationKind.SOFTMAX:
            dim = 1 if self.dim is None else self.dim
            if not -len(shape) <= dim < len(shape):
                raise ShapeError(
                    f"dim {dim} is out of range for a {len(shape)}-d input", field="dim",
                    expected=f"{-len(shape)} to {len(shape) - 1} (negative counts from the last axis)",
                )
            rows = softmax_rows(prod(shape), shape[dim])
        return Tally(op=self.type, inputs=inputs, output=shape, params=params, rows=rows)

