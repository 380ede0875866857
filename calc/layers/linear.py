"""Fully connected layer (nn.Linear): features on the last axis.

    params      = Cin * Cout + bias * Cout
    macs        = rows * Cin * Cout          (rows = product of the leading axes, N for (N, Cin))
    dot_outputs = rows * Cout
Exact count: (2*Cin - 1)*Cout per row without bias, 2*Cin*Cout with it.

`form: conv1d` is the same layer as Hugging Face transformers' `Conv1D` (GPT-2's c_attn, c_proj,
c_fc; transformers/pytorch_utils.py): a (Cin, Cout) weight applied as
torch.addmm(bias, x.view(-1, Cin), weight), the same params and products, which profilers see
unlike nn.Linear (op `conv1d`, docs/profilers.md "Hugging Face Conv1D").  Its tally also states
the figures those tools recompute:
    calflops_bias_adds = bias * Cout          torch.addmm's bias tensor, its elements once
                                              (ptflops' and calflops' addmm hooks)
    macs_at_outputs    = params * N * prod(out[2:])
                                              torchinfo's convolution rule, which its class name
                                              ("Conv" in it) selects: every parameter times
                                              output[0] * prod(output[2:]), axis 1 read as channels
"""

from typing import Any, Literal

from pydantic import Field, model_validator

from calc.arith import flag, prod
from calc.errors import SpecError
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
    """Fully connected layer (nn.Linear) over the last axis: (N, ..., Cin) -> (N, ..., Cout).
    `form: conv1d`: the same layer as transformers' Conv1D (x @ W + b by torch.addmm)."""

    TAGS = ("linear",)
    type: Literal["linear"] = Field("linear", description="the kind: linear")
    Cout: PositiveInt = Field(description="output features")
    bias: bool = Field(True, description="whether it adds a learned bias per output feature")
    form: Literal["linear", "conv1d"] = Field(
        "linear", description="linear: nn.Linear; conv1d: transformers' Conv1D (GPT-2; torch.addmm, op conv1d, "
                              "always biased)")
    """How PyTorch runs it: nn.Linear (op linear), or transformers' Conv1D (op conv1d), which
    profilers see as a torch.addmm call in a module whose class name says Conv."""
    role: Literal["lm_head"] | None = Field(
        None, description="lm_head: a language model's output layer (some LLM conventions leave it out)")

    @model_validator(mode="after")
    def _conv1d_has_bias(self) -> "Linear":
        if self.form == "conv1d" and not self.bias:
            raise SpecError("transformers' Conv1D always has a bias (pytorch_utils.py: Conv1D.__init__)",
                            field="bias", expected="bias: true with form: conv1d, or form: linear")
        return self

    def tally(self, inputs: tuple[Shape, ...]) -> Tally:
        (shape,) = inputs
        op = "conv1d" if self.form == "conv1d" else "linear"
        return linear_tally(shape, self.Cout, self.bias, op=op, head=self.role == "lm_head")


def linear_tally(shape: Shape, cout: Any, bias: Any, op: str = "linear", *, head: bool = False,
                 merge_ops: Any = 0) -> Tally:
    """nn.Linear(shape[-1], cout, bias) on an input of that shape, priced as operation `op`.
    op conv1d (transformers' Conv1D, see the module docstring) also states the bias tensor's
    elements (calflops_bias_adds) and torchinfo's convolution figure (macs_at_outputs); `head`:
    a language model's output layer (head_macs); `merge_ops`: bias adds ATen runs apart."""
    *lead, cin = shape
    rows = prod(lead)
    bias = flag(bias)
    dot = rows * cout
    output = (*lead, cout)
    params = linear_params(cin, cout, bias)
    macs = linear_macs(rows, cin, cout)
    conv1d = op == "conv1d"
    return Tally(
        op=op,
        inputs=(shape,),
        output=output,
        params=params,
        macs=macs,
        dot_outputs=dot,
        bias_adds=bias * dot,
        calflops_bias_adds=bias * cout if conv1d else None,
        macs_at_outputs=params * output[0] * prod(output[2:]) if conv1d else None,
        head_macs=macs if head else 0,
        merge_ops=merge_ops,
    )
