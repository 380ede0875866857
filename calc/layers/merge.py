"""Operations that combine several inputs: element-wise add and multiply, and concatenation.

    add, mul   merge_ops = (inputs - 1) * output elements  (one binary op per extra operand)
               output = the inputs' broadcast shape (a squeeze-excitation gate is (N, C, 1, 1))
    concat     output sums the inputs along `dim`; no arithmetic, only data movement
"""

from typing import Any, Literal

from pydantic import Field

from calc.arith import is_int, prod
from calc.errors import ShapeError, SpecError
from calc.layers.base import BoundedInt, PositiveInt, SpatialInput, check_stated, format_shape
from calc.tally import Shape, Tally


def merge_ops(operands: Any, out_elements: Any) -> Any:
    """(operands - 1) binary operations per output element."""
    return (operands - 1) * out_elements


def broadcast(shapes: tuple[Shape, ...]) -> Shape:
    """NumPy/PyTorch broadcasting of equal-rank shapes: each axis equal or 1."""
    first = shapes[0]
    if all(s == first for s in shapes):  # the residual case: nothing to broadcast
        return first
    ranks = {len(s) for s in shapes}
    if len(ranks) != 1:
        raise ShapeError(
            "inputs differ in rank: " + ", ".join(format_shape(s) for s in shapes),
            field="type", expected="inputs of the same rank",
        )
    out = []
    for axis in zip(*shapes):
        sizes = {a for a in axis if not (is_int(a) and a == 1)}
        if len(sizes) > 1 and all(is_int(a) for a in sizes):
            raise ShapeError(
                "inputs do not broadcast: " + ", ".join(format_shape(s) for s in shapes),
                field="type", expected="equal sizes, or 1, on every axis",
            )
        out.append(next(iter(sizes)) if sizes else 1)
    return tuple(out)


class ElementwiseMerge(SpatialInput):
    """Element-wise sum or product of `inputs` tensors (standalone: all of the stated shape)."""

    TAGS = ("add", "mul")
    SPATIAL_REQUIRED = False
    type: Literal["add", "mul"] = Field(
        description="add (element-wise sum) or mul (element-wise product)"
    )
    inputs: BoundedInt = Field(
        default=2, ge=2,
        description="operands when costed alone (at least 2); in a network, its inputs",
    )

    def stated_inputs(self) -> tuple[Shape, ...]:
        return super().stated_inputs() * self.inputs

    def needs_check(self) -> bool:
        return True  # the operand count is always checked

    def check_inputs(self, inputs: tuple[Shape, ...]) -> None:
        if len(inputs) < 2:
            raise ShapeError(
                f"'{self.type}' needs at least two inputs, got {len(inputs)}",
                field="type", expected="a residual, parallel or gate block around it",
            )
        for shape in inputs:
            super().check_inputs((shape,))

    def tally(self, inputs: tuple[Shape, ...]) -> Tally:
        out = broadcast(inputs)
        return Tally(
            op=self.type, inputs=inputs, output=out,
            merge_ops=merge_ops(len(inputs), prod(out)),
        )


class Concat(SpatialInput):
    """Concatenation along `dim` (channels by default).  Standalone: Cin lists each input's
    channels, e.g. Cin: [64, 32]."""

    TAGS = ("concat",)
    SPATIAL_REQUIRED = False
    type: Literal["concat"] = Field("concat", description="the kind: concat")
    Cin: list[PositiveInt] | None = Field(  # type: ignore[assignment]
        None,
        description="channels of each input, e.g. [64, 32]: needed alone; in a network checked",
    )
    dim: PositiveInt = Field(1, description="axis to concatenate along (1: channels)")

    def stated_inputs(self) -> tuple[Shape, ...]:
        if not self.Cin or len(self.Cin) < 2:
            raise SpecError(
                "concat needs the channels of each input", field="Cin",
                expected="a list of at least two ints, e.g. [64, 32]",
            )
        spatial = self.stated_spatial() if self._states_spatial() else ()
        return tuple((self.N or 1, c, *spatial) for c in self.Cin)

    def needs_check(self) -> bool:
        return True  # the operand count is always checked

    def check_inputs(self, inputs: tuple[Shape, ...]) -> None:
        if len(inputs) < 2:  # a lone concat would pass its input through: as for add, refuse it
            raise ShapeError(
                f"'concat' needs at least two inputs, got {len(inputs)}", field="type",
                expected="a parallel block around it (merge: concat); one branch needs no concat: "
                         "type: sequential",
            )
        if self.Cin is not None:
            if len(self.Cin) != len(inputs):
                raise ShapeError(
                    f"lists {len(self.Cin)} input channel counts for {len(inputs)} inputs",
                    field="Cin", expected=f"{len(inputs)} entries",
                )
            for stated, shape in zip(self.Cin, inputs):
                check_stated("Cin", stated, shape[1])

    def tally(self, inputs: tuple[Shape, ...]) -> Tally:
        ranks = {len(s) for s in inputs}
        if len(ranks) != 1 or self.dim >= min(ranks):
            raise ShapeError(
                "cannot concatenate " + ", ".join(format_shape(s) for s in inputs)
                + f" along dim {self.dim}", field="dim",
            )
        for axis, sizes in enumerate(zip(*inputs)):
            if axis != self.dim and len({x for x in sizes}) > 1 and all(is_int(x) for x in sizes):
                raise ShapeError(
                    "inputs differ off the concatenation axis: "
                    + ", ".join(format_shape(s) for s in inputs),
                    field="dim", expected=f"equal sizes except on dim {self.dim}",
                )
        total: Any = 0
        for shape in inputs:
            total = total + shape[self.dim]
        first = inputs[0]
        out = (*first[: self.dim], total, *first[self.dim + 1 :])
        return Tally(op="concat", inputs=inputs, output=out)
