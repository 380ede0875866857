"""Fully connected layer (nn.Linear): features on the last axis.

    params      = Cin * Cout + bias * Cout
    macs        = rows * Cin * Cout          (rows = product of the leading axes, N for (N, Cin))
    dot_outputs = rows * Cout
Exact count: (2*Cin - 1)*Cout per row without bias, 2*Cin*Cout with it.
"""

from typing import Any, Literal

from pydantic import Field

from calc.arith import flag, prod
from calc.layers.base import FlatInput, PositiveInt
from calc.layers.epilogue import WithEpilogue
from calc.tally import Shape, Tally


def linear_params(cin: Any, cout: Any, bias: Any) -> Any:
    """Cin * Cout weights plus Cout biases when bias = 1."""
    return cin * cout + bias * cout


def linear_macs(rows: Any, cin: Any, cout: Any) -> Any:
    """One product per weight per input row."""
    return rows * cin * cout


class Linear(WithEpilogue, FlatInput):
    """Fully connected layer (nn.Linear) over the last axis: (N, ..., Cin) -> (N, ..., Cout)."""

    TAGS = ("linear",)
    type: Literal["linear"] = Field("linear", description="the kind: linear")
    Cout: PositiveInt = Field(description="output features")
    bias: bool = Field(True, description="whether it adds a learned bias per output feature")

    def tally(self, inputs: tuple[Shape, ...]) -> Tally:
        (shape,) = inputs
        return linear_tally(shape, self.Cout, self.bias)


def linear_tally(shape: Shape, cout: Any, bias: Any) -> Tally:
    """nn.Linear(shape[-1], cout, bias) on an input of that shape."""
    *lead, cin = shape
    rows = prod(lead)
    bias = flag(bias)
    dot = rows * cout
    return Tally(
        op="linear",
        inputs=(shape,),
        output=(*lead, cout),
        params=linear_params(cin, cout, bias),
        macs=linear_macs(rows, cin, cout),
        dot_outputs=dot,
        bias_adds=bias * dot,
    )
