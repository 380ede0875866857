"""Embedding table (nn.Embedding): a lookup of one row per token id, no arithmetic.

    input  (N, *rest) token ids (a spec's `input: [T]` is (N, T): the ids of T positions)
    output (N, *rest, embedding_dim)
    params = num_embeddings * embedding_dim
    macs = FLOPs = 0 (a gather: each output element is copied from the table)
    memory access: the ids, the rows looked up (one per id: the output's elements) and the output
`padding_idx` (that row gets no gradient) and `max_norm` (rows renormalised in place when looked
up) are kept for fidelity: neither changes a count here (max_norm's renormalisation is a
training-time side effect no profiler counts; see tests/fixtures/profilers/embedding/).
"""

from typing import Any, Literal

from pydantic import Field, model_validator

from calc.arith import prod
from calc.errors import SpecError
from calc.layers.base import BoundedInt, PositiveInt
from calc.layers.tensor import TensorInput
from calc.tally import Shape, Tally


def embedding_params(num_embeddings: Any, embedding_dim: Any) -> Any:
    """The table: one embedding_dim-long row per id."""
    return num_embeddings * embedding_dim


class Embedding(TensorInput):
    """nn.Embedding(num_embeddings, embedding_dim): ids (N, *rest) -> (N, *rest, embedding_dim)."""

    TAGS = ("embedding",)
    type: Literal["embedding"] = Field("embedding", description="the kind: embedding")
    num_embeddings: PositiveInt = Field(description="rows of the table (the vocabulary size)")
    embedding_dim: PositiveInt = Field(description="length of each row (the model width d)")
    padding_idx: BoundedInt | None = Field(
        None, description="PyTorch's padding_idx, -num_embeddings to num_embeddings - 1 (no effect on costs)")
    max_norm: float | None = Field(
        None, gt=0, description="PyTorch's max_norm (rows renormalised in place; no effect on costs)")

    @model_validator(mode="after")
    def _padding_in_table(self) -> "Embedding":
        n = self.num_embeddings
        if self.padding_idx is not None and not -n <= self.padding_idx < n:
            raise SpecError(f"{self.padding_idx} is not a row of a {n}-row table", field="padding_idx",
                            expected=f"{-n} to {n - 1}")
        return self

    def tally(self, inputs: tuple[Shape, ...]) -> Tally:
        (shape,) = inputs
        output = (*shape, self.embedding_dim)
        return Tally(op="embedding", inputs=inputs, output=output,
                     params=embedding_params(self.num_embeddings, self.embedding_dim),
                     weights_read=prod(output),  # one row per id looked up, not the table
                     lookup_macs=prod(shape) * self.num_embeddings * self.embedding_dim)
