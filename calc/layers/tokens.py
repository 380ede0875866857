"""Token bookkeeping of transformers: learned class/register tokens, learned position embeddings,
and picking one token out.  Input (N, T, d).

    class_token          prepend `tokens` learned vectors (ViT's class token; register tokens):
                         (N, T, d) -> (N, T + tokens, d), params tokens * d, no arithmetic
    position_embedding   add a learned table of `rows` x d, one row per position (ViT's
                         pos_embedding, GPT-2's wpe, BERT's position embeddings; a table looked up
                         by other ids, as BERT's token types, is an `embedding` whose output is added):
                         params rows * d, N * T * d adds; rows >= T when it is looked up by position
                         (default rows = T, a table added whole, as ViT's)
    select               x[:, index] (dim 1 by default): the axis dropped, a view (ViT's head
                         reads the class token)
"""

from typing import Any, Literal

from pydantic import Field

from calc.arith import is_int
from calc.errors import ShapeError
from calc.layers.base import BoundedInt, PositiveInt, format_shape
from calc.layers.tensor import TensorInput, axis
from calc.tally import Shape, Tally


def _sequence(x: Shape, kind: str) -> None:
    if len(x) != 3:
        raise ShapeError(f"'{kind}' takes (N, T, d) but its input is {format_shape(x)}", field="type",
                         expected="a sequence of token vectors (N, T, d)")


class ClassToken(TensorInput):
    """torch.cat([cls_token.expand(N, -1, -1), x], dim=1): learned tokens prepended."""

    TAGS = ("class_token",)
    type: Literal["class_token"] = Field("class_token", description="the kind: class_token")
    tokens: PositiveInt = Field(1, description="learned tokens prepended (class token 1; plus registers)")

    def tally(self, inputs: tuple[Shape, ...]) -> Tally:
        (x,) = inputs
        _sequence(x, self.type)
        N, T, d = x
        return Tally(op="class_token", inputs=inputs, output=(N, T + self.tokens, d), params=self.tokens * d)


def position_params(rows: Any, d: Any) -> Any:
    """The table: one d-long row per position."""
    return rows * d


class PositionEmbedding(TensorInput):
    """x + table[:T] (a learned (rows, d) table, added as a parameter or looked up by position
    ids through nn.Embedding: `lookup`)."""

    TAGS = ("position_embedding",)
    type: Literal["position_embedding"] = Field("position_embedding", description="the kind: position_embedding")
    USES_CONTEXT = True
    rows: PositiveInt | None = Field(None, description="rows of the table (default T; at least T when looked up)")
    context: BoundedInt = Field(0, ge=0, description="tokens before these (a KV cache): set per evaluation")
    lookup: bool = Field(False, description="looked up by position ids with nn.Embedding (GPT-2, BERT), "
                                            "not a parameter added whole (ViT)")

    def tally(self, inputs: tuple[Shape, ...]) -> Tally:
        (x,) = inputs
        _sequence(x, self.type)
        N, T, d = x
        rows = T if self.rows is None else self.rows
        last = T + self.context  # the new tokens sit at positions context .. context + T - 1
        if self.lookup and is_int(last) and rows < last:
            after = f" after {self.context} cached" if self.context else ""
            raise ShapeError(f"a table of {rows} positions cannot cover {T} tokens{after}", field="rows",
                             expected=f"at most {rows} tokens in all (the model's context length)")
        if not self.lookup and self.rows is not None and is_int(T) and rows != T:
            raise ShapeError(f"a table of {rows} rows added whole needs T={rows} tokens, got T={T}",
                             field="rows", expected=f"rows: {T}, or lookup: true")
        op = "position_lookup" if self.lookup else "position_embedding"
        return Tally(op=op, inputs=inputs, output=x, params=position_params(rows, d))


class Select(TensorInput):
    """x.select(dim, index), x[:, 0] for dim 1: one slice, its axis dropped."""

    TAGS = ("select",)
    type: Literal["select"] = Field("select", description="the kind: select")
    dim: BoundedInt = Field(1, description="the axis to pick from (not 0, the batch)")
    index: BoundedInt = Field(0, description="the position picked (negative counts from the end)")

    def keeps_rank(self) -> bool:
        return False

    def tally(self, inputs: tuple[Shape, ...]) -> Tally:
        (x,) = inputs
        dim = axis(self.dim, len(x), "dim")
        if dim == 0:
            raise ShapeError("selects along the batch axis", field="dim", expected="an axis after N")
        size = x[dim]
        if is_int(size) and not -size <= self.index < size:
            raise ShapeError(f"{self.index} is out of range for an axis of {size}", field="index",
                             expected=f"{-size} to {size - 1}")
        return Tally(op="select", inputs=inputs, output=(*x[:dim], *x[dim + 1:]))

