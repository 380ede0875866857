"""Mixture of experts (Mixtral, DeepSeekMoE, Switch): a router sends each token to top_k of
`experts` feed-forward networks and sums their outputs weighted by its scores; shared experts
see every token.  Input (N, T, d) (any (N, ..., d)); tokens = prod of the leading axes.

    router    d -> E linear: tokens*d*E MACs, d*E params
    gating    softmax over E (3E - 1), top-k selection (k passes of E - 1 comparisons) and the
              k weights renormalised (k - 1 adds, k divides): 3E - 1 + k(E - 1) + 2k - 1 per token
    experts   each of E experts: gate and up d -> f (gated, SwiGLU) or up alone, activation,
              down f -> d; params E * (3 or 2) * d * f.  A token visits top_k of them:
              MACs tokens * top_k * (3 or 2) * d * f (routing: dense, every token every expert:
              tokens * E * ...; the dense-equivalent figure)
    combine   the k expert outputs weighted and summed: k multiplies and k - 1 adds per feature
    shared    a plain feed-forward network of width shared_experts * shared_hidden on every token,
              added to the routed sum
Active parameters per token: router + top_k experts + shared (inactive: E - top_k experts).
"""

from typing import Any, Literal

from pydantic import Field, model_validator

from calc.arith import min_, prod
from calc.errors import SpecError
from calc.layers.activation import Activation
from calc.layers.base import Layer, PositiveInt
from calc.layers.linear import linear_tally
from calc.layers.merge import ElementwiseMerge
from calc.layers.tensor import TensorInput
from calc.tally import Shape, Tally

def expert_params(d: Any, hidden: Any, gated: Any, bias: Any) -> Any:
    """One expert: (3 if gated else 2) matrices of d x f, biases f per input matrix and d."""
    matrices = 3 if gated else 2
    return matrices * d * hidden + bias * ((matrices - 1) * hidden + d)


def moe_macs(tokens: Any, visits: Any, d: Any, hidden: Any, gated: Any) -> Any:
    """Products of the experts: each of tokens * visits (token, expert) pairs multiplies by
    (3 if gated else 2) d x f matrices."""
    return tokens * visits * (3 if gated else 2) * d * hidden


def gating_flops(E: Any, k: Any) -> Any:
    """Per token: softmax over E (3E - 1), top-k by k passes of E - 1 comparisons, the k weights
    renormalised (k - 1 adds, k divides)."""
    return 3 * E - 1 + k * (E - 1) + 2 * k - 1


class _MoePart(Layer):
    """A primitive of the mixture (made by MoE.graph with model_construct)."""

    type: str = "moe"
    op: str = ""
    experts: Any = 1
    top_k: Any = 1
    visits: Any = 1
    Cout: Any = None
    bias: bool = False

    @property
    def kind(self) -> str:
        return self.op


class Dispatch(_MoePart):
    """(N, ..., d) -> (N, ..., visits, d): each token copied to the experts it visits, a gather."""

    def tally(self, inputs: tuple[Shape, ...]) -> Tally:
        (x,) = inputs
        return Tally(op="moe_dispatch", inputs=inputs, output=(*x[:-1], self.visits, x[-1]))


class Gating(_MoePart):
    """Router scores (N, ..., E) -> the top_k weights per token (softmax, top-k, renormalise)."""

    def tally(self, inputs: tuple[Shape, ...]) -> Tally:
        (x,) = inputs
        tokens = prod(x[:-1])
        E, k = self.experts, self.top_k
        # rows: tokens; window: the gating's per-token operations (see gating_flops)
        return Tally(op="moe_gating", inputs=inputs, output=(*x[:-1], k), rows=tokens,
                     window=tokens * gating_flops(E, k))


class ExpertLinear(_MoePart):
    """One matrix of every expert, applied to the (token, expert) pairs routed to it:
    (N, ..., visits, a) -> (N, ..., visits, Cout); params those of all `experts` experts, of which
    experts - top_k are inactive for a token.  Cout None: d, read from the block's input (the
    second value it reads)."""

    def tally(self, inputs: tuple[Shape, ...]) -> Tally:
        x = inputs[0]
        one = linear_tally(x, inputs[-1][-1] if self.Cout is None else self.Cout, self.bias)
        per_expert = one.params
        reached = min_(self.experts, prod(x[:-1]))  # at most one expert per (token, expert) pair
        return Tally(op=self.op, inputs=(x,), output=one.output, params=self.experts * per_expert,
                     macs=one.macs, dot_outputs=one.dot_outputs, bias_adds=one.bias_adds,
                     weights_read=reached * per_expert, tokens=prod(x[:-2]),
                     inactive_params=(self.experts - self.top_k) * per_expert)


class Router(_MoePart):
    """The router, d -> E: Mixtral's MixtralTopKRouter, a module holding a `weight` it applies
    by F.linear to the flattened tokens (op moe_router: profilers see it unlike nn.Linear)."""

    def tally(self, inputs: tuple[Shape, ...]) -> Tally:
        return linear_tally(inputs[0], self.Cout, self.bias, op="moe_router")


class SharedLinear(_MoePart):
    """A linear of the shared experts (every token): an nn.Linear; Cout None: d, read from the
    block's input (the second value it reads)."""

    def tally(self, inputs: tuple[Shape, ...]) -> Tally:
        return linear_tally(inputs[0], inputs[-1][-1] if self.Cout is None else self.Cout, self.bias)


class Combine(_MoePart):
    """(N, ..., visits, d) -> (N, ..., d): the expert outputs times their weights, summed."""

    def tally(self, inputs: tuple[Shape, ...]) -> Tally:
        (x,) = inputs
        return Tally(op="moe_combine", inputs=inputs, output=(*x[:-2], x[-1]))


class MoE(TensorInput):
    """A mixture-of-experts feed-forward block (Mixtral's MixtralSparseMoeBlock, DeepSeekMoE):
    router, top_k of `experts` experts per token, weighted sum, optional shared experts."""

    TAGS = ("moe",)
    type: Literal["moe"] = Field("moe", description="the kind: moe")
    experts: PositiveInt = Field(description="routed experts E")
    top_k: PositiveInt = Field(description="experts each token visits (at most experts)")
    hidden: PositiveInt = Field(description="width f of each expert's hidden layer")
    gated: bool = Field(True, description="gate and up projections (SwiGLU, Mixtral), else up alone")
    act: Literal["silu", "gelu", "relu"] = Field("silu", description="the experts' activation")
    bias: bool = Field(False, description="whether the experts' linears have biases")
    router_bias: bool = Field(False, description="whether the router has a bias")
    shared_experts: int = Field(0, ge=0, description="shared experts every token visits (DeepSeekMoE)")
    shared_hidden: PositiveInt | None = Field(None, description="width of each shared expert (default hidden)")
    experts_implementation: Literal["grouped_mm", "eager"] = Field(
        "grouped_mm", description="transformers' grouped_mm (its default, op moe_linear) or eager "
                                  "(F.linear per expert, op moe_expert_linear)")
    routing: Literal["active", "dense"] = Field(
        "active", description="active: top_k experts per token; dense: every expert (dense-equivalent)")

    @model_validator(mode="after")
    def _top_k_fits(self) -> "MoE":
        if self.top_k > self.experts:
            raise SpecError(f"top_k={self.top_k} is more than the {self.experts} experts", field="top_k",
                            expected=f"1 to {self.experts}")
        return self

    def graph(self) -> list[tuple[str, Layer, tuple[int, ...]]]:
        E, k = self.experts, self.top_k
        visits = k if self.routing == "active" else E
        part = dict(experts=E, top_k=visits, visits=visits)
        out: list[tuple[str, Layer, tuple[int, ...]]] = []

        def add(suffix: str, layer: Layer, *refs: int) -> int:
            out.append((suffix, layer, refs))
            return len(out) - 1

        def ffn(prefix: str, source: int, linear: Any) -> int:
            """up (and gate), activation, (gate * up), down: the last reads the block's input
            for its width d."""
            up = add(prefix + "up", linear(self.hidden_of(prefix)), source)
            if self.gated:
                gate = add(prefix + "gate", linear(self.hidden_of(prefix)), source)
                act = add(prefix + "act", Activation.model_construct(type=self.act), gate)
                hidden = add(prefix + "mul", ElementwiseMerge.model_construct(type="mul", inputs=2), act, up)
            else:
                hidden = add(prefix + "act", Activation.model_construct(type=self.act), up)
            return add(prefix + "down", linear(None), hidden, -1)

        router = add("router", Router.model_construct(op="moe_router", Cout=E, bias=self.router_bias), -1)
        add("gating", Gating.model_construct(op="moe_gating", **part), router)
        routed = add("dispatch", Dispatch.model_construct(op="moe_dispatch", **part), -1)
        expert_op = "moe_linear" if self.experts_implementation == "grouped_mm" else "moe_expert_linear"
        down = ffn("", routed, lambda cout: ExpertLinear.model_construct(
            op=expert_op, Cout=cout, bias=self.bias, **part))
        result = add("combine", Combine.model_construct(op="moe_combine", **part), down)
        if self.shared_experts:
            shared = ffn("shared.", -1, lambda cout: SharedLinear.model_construct(
                op="linear", Cout=cout, bias=self.bias))
            result = add("add", ElementwiseMerge.model_construct(type="add", inputs=2), result, shared)
        return out

    def hidden_of(self, prefix: str) -> int:
        """Width of the routed experts' hidden layer, or of the shared experts' together."""
        if prefix:
            return self.shared_experts * (self.shared_hidden or self.hidden)
        return self.hidden
