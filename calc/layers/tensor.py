"""Tensor operations attention is built from: matmul (batched, broadcast), einsum, and a learnt
per-channel scale (ConvNeXt/CaiT layer scale).  Inputs of any rank, batch on axis 0.

    matmul  a (..., n, k) @ b (..., k, m) -> (B..., n, m), B the broadcast batch axes:
            macs = prod(B) * n * k * m; each of prod(B) * n * m outputs sums k products
            (k - 1 adds): exact FLOPs = 2 * macs - outputs
    einsum  P = product of the sizes of every distinct index (the index space); naive loop nest:
            (operands - 1) * P products, P - outputs adds (the summed indices reduced)
    scale   x * gamma, gamma one value per entry of axis `dim`: params = that size,
            FLOPs = one multiply per element, MACs 0
"""

from typing import Any, Literal

from pydantic import Field, field_validator

from calc.arith import is_int, prod
from calc.errors import ShapeError, SpecError
from calc.layers.base import BoundedInt, Layer, PositiveInt, check_stated, format_shape
from calc.tally import Shape, Tally

_DESCRIBE_INPUT = "per-sample input shape (axes after N): needed alone; in a network inferred and checked"


class TensorInput(Layer):
    """Input (N, *input) of any rank, stated by `input` (the per-sample axes) and N."""

    input: list[PositiveInt] | None = Field(None, description=_DESCRIBE_INPUT)
    call: Literal["module"] = Field(
        "module", description="module only: each convention prices these by kind (and matmul's form)")

    def stated_inputs(self) -> tuple[Shape, ...]:
        if self.input is None:
            raise SpecError("input shape not given", field="input",
                            expected="the per-sample shape, e.g. [T, d] for an (N, T, d) input")
        return ((self.N or 1, *self.input),)

    def needs_check(self) -> bool:
        return self.N is not None or self.input is not None

    def check_inputs(self, inputs: tuple[Shape, ...]) -> None:
        shape = inputs[0]
        check_stated("N", self.N, shape[0])
        if self.input is None:
            return
        got = shape[1:]
        if len(got) != len(self.input) or any(
                is_int(g) and g != s for g, s in zip(got, self.input)):
            raise ShapeError(
                f"states input {self.input} but its input is {format_shape(shape)} (per sample "
                f"{list(got)})", field="input", expected=f"{list(got)} or the field left out",
            )


def axis(dim: Any, rank: int, field: str) -> int:
    """A PyTorch dim (negative counts from the end) as an index into a rank-`rank` shape."""
    if not -rank <= dim < rank:
        raise ShapeError(f"{dim} is out of range for a {rank}-d input", field=field,
                         expected=f"{-rank} to {rank - 1}")
    return dim % rank


# -- matmul --------------------------------------------------------------------------------------
def matmul_shapes(a: Shape, b: Shape) -> tuple[Shape, Any, Any, Any, Shape]:
    """torch.matmul's shapes: (batch, n, k, m, output) for a of rank >= 2 and b of rank >= 1
    (a vector b is (k,) -> a column, its axis dropped from the output)."""
    if len(b) == 1:
        n, k, m, b_batch = a[-2], a[-1], 1, ()
    else:
        n, k, m, b_batch = a[-2], a[-1], b[-1], b[:-2]
    kb = b[0] if len(b) == 1 else b[-2]
    if is_int(k) and is_int(kb) and k != kb:
        raise ShapeError(
            f"operands {format_shape(a)} and {format_shape(b)} do not multiply: the first's last "
            f"axis is {k}, the second's {'only' if len(b) == 1 else 'second-to-last'} axis {kb}",
            field="other", expected=f"a second operand (..., {k}, m)",
        )
    batch = broadcast_batch(a[:-2], b_batch, a, b)
    out = (*batch, n) if len(b) == 1 else (*batch, n, m)
    return batch, n, k, m, out


def broadcast_batch(x: Shape, y: Shape, a: Shape, b: Shape) -> Shape:
    """Right-aligned broadcasting of two batch shapes (each axis equal, or 1)."""
    rank = max(len(x), len(y))
    x = (1,) * (rank - len(x)) + tuple(x)
    y = (1,) * (rank - len(y)) + tuple(y)
    out = []
    for p, q in zip(x, y):
        if is_int(p) and p == 1:
            out.append(q)
        elif is_int(q) and q == 1 or p == q:
            out.append(p)
        elif is_int(p) and is_int(q):
            raise ShapeError(
                f"batch axes of {format_shape(a)} and {format_shape(b)} do not broadcast",
                field="other", expected="equal batch sizes, or 1, axis by axis from the right",
            )
        else:
            out.append(p)
    return tuple(out)


def matmul_macs(batch: Shape, n: Any, k: Any, m: Any) -> Any:
    """prod(broadcast batch) * n * k * m products."""
    return prod(batch) * n * k * m


def matmul_exact_flops(batch: Shape, n: Any, k: Any, m: Any) -> Any:
    """k products and k - 1 adds per output: 2 * macs - prod(batch) * n * m."""
    return 2 * matmul_macs(batch, n, k, m) - prod(batch) * n * m


MATMUL_OPS = {"matmul": "matmul", "operator": "matmul_operator", "bmm": "bmm"}


class Matmul(TensorInput):
    """torch.matmul / x @ y / torch.bmm of the input by a second operand: another input of the
    same block, or a constant the module stores (a buffer, x @ self.w).  A product of the input
    by a learnt weight is `linear`."""

    TAGS = ("matmul",)
    type: Literal["matmul"] = Field("matmul", description="the kind: matmul")
    other: list[PositiveInt] | None = Field(
        None, description="the second operand's whole shape as torch.matmul sees it (may broadcast)")
    other_is: Literal["input", "buffer"] = Field(
        "input", description="input: a second input tensor; buffer: a constant the module stores (x @ self.w)")
    form: Literal["matmul", "operator", "bmm"] = Field(
        "matmul", description="how PyTorch calls it: matmul (torch.matmul), operator (x @ y), bmm (torch.bmm)")

    def stated_inputs(self) -> tuple[Shape, ...]:
        first = super().stated_inputs()
        if self.other is None:
            raise SpecError("second operand not given", field="other",
                            expected="its whole shape, e.g. [N, k, m]")
        return first if self.other_is == "buffer" else (*first, tuple(self.other))

    def needs_check(self) -> bool:
        return True  # the operand count is always checked

    def check_inputs(self, inputs: tuple[Shape, ...]) -> None:
        super().check_inputs(inputs)
        want = 1 if self.other_is == "buffer" else 2
        if len(inputs) != want:
            raise ShapeError(
                f"'matmul' with other_is: {self.other_is} takes {want} input"
                f"{'s' if want > 1 else ''}, got {len(inputs)}", field="other_is",
                expected="other_is: buffer (with `other`) for one input, input for two",
            )
        if want == 2 and self.other is not None and (
                len(inputs[1]) != len(self.other)
                or any(is_int(g) and g != s for g, s in zip(inputs[1], self.other))):
            raise ShapeError(f"states other {self.other} but its second input is "
                             f"{format_shape(inputs[1])}", field="other",
                             expected=f"{list(inputs[1])} or the field left out")

    def tally(self, inputs: tuple[Shape, ...]) -> Tally:
        a = inputs[0]
        if len(inputs) == 1:
            if self.other is None:
                raise ShapeError("a one-input matmul needs its constant operand's shape",
                                 field="other", expected="other: [k, m] with other_is: buffer")
            b = tuple(self.other)
        else:
            b = inputs[1]
        if len(a) < 2:
            raise ShapeError(f"its first operand {format_shape(a)} is not a matrix (batch only)",
                             field="input", expected="an input of rank 3 or more, (N, ..., n, k)")
        if self.form == "bmm" and not (len(a) == len(b) == 3 and (
                not (is_int(a[0]) and is_int(b[0])) or a[0] == b[0])):
            raise ShapeError(f"torch.bmm needs two 3-d operands with one batch, got "
                             f"{format_shape(a)} and {format_shape(b)}", field="form",
                             expected="form: matmul for other ranks or broadcasting")
        batch, n, k, m, out = matmul_shapes(a, b)
        macs = matmul_macs(batch, n, k, m)
        return Tally(
            op=MATMUL_OPS[self.form], inputs=inputs, output=out,
            buffers=prod(b) if len(inputs) == 1 else 0,
            macs=macs, dot_outputs=prod(batch) * n * m, lhs_macs=prod(a) * b[-1],
        )


# -- einsum --------------------------------------------------------------------------------------
def parse_equation(equation: str, operands: int | None = None) -> tuple[list[str], str]:
    """'bij,bjk->bik' -> (['bij', 'bjk'], 'bik').  Letters, ',' and '->' only (no ellipsis);
    an implicit output (no '->') is the indices used once, in alphabetical order (torch/numpy)."""
    text = equation.replace(" ", "")
    bad = sorted({c for c in text if not (c.isascii() and c.isalpha()) and c not in ",->"})
    if bad:
        raise SpecError(f"equation {equation!r} has {''.join(bad)!r}", field="equation",
                        expected="letters, ',' and '->' (no ellipsis)")
    if text.count("->") > 1 or text.replace("->", "").count("-") or text.replace("->", "").count(">"):
        raise SpecError(f"equation {equation!r} is malformed", field="equation",
                        expected="one optional '->' between the operands and the output")
    lhs, arrow, rhs = text.partition("->")
    terms = lhs.split(",")
    if any(not t for t in terms) or not 1 <= len(terms) <= 3:
        raise SpecError(f"equation {equation!r} has {'an empty operand' if any(not t for t in terms) else f'{len(terms)} operands'}",
                        field="equation", expected="1 to 3 comma-separated operands of letters")
    letters = "".join(terms)
    if not arrow:
        rhs = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    if len(set(rhs)) != len(rhs) or any(c not in letters for c in rhs):
        raise SpecError(f"equation {equation!r}: output {rhs!r} repeats an index or uses one no "
                        "operand has", field="equation", expected="output indices from the operands, once each")
    if any(len(set(t)) != len(t) for t in terms):
        raise SpecError(f"equation {equation!r} repeats an index within an operand (a diagonal)",
                        field="equation", expected="each index at most once per operand")
    if operands is not None and len(terms) != operands:
        raise ShapeError(f"equation {equation!r} has {len(terms)} operand(s), the operation {operands}",
                         field="equation", expected=f"{operands} comma-separated operands")
    return terms, rhs


def einsum_sizes(terms: list[str], shapes: tuple[Shape, ...], equation: str) -> dict[str, Any]:
    """Each index's size, every operand's rank and every shared index checked."""
    sizes: dict[str, Any] = {}
    for i, (term, shape) in enumerate(zip(terms, shapes)):
        if len(term) != len(shape):
            raise ShapeError(f"operand {i + 1} of {equation!r} has {len(term)} indices but shape "
                             f"{format_shape(shape)}", field="equation",
                             expected=f"{len(shape)} indices for operand {i + 1}")
        for c, s in zip(term, shape):
            if c in sizes and is_int(sizes[c]) and is_int(s) and sizes[c] != s:
                raise ShapeError(f"index {c!r} of {equation!r} is {sizes[c]} in one operand and "
                                 f"{s} in another", field="equation", expected="equal sizes")
            sizes.setdefault(c, s)
    return sizes


def einsum_index_space(sizes: dict[str, Any]) -> Any:
    """P: the product of every distinct index's size."""
    return prod(tuple(sizes.values()))


def einsum_exact_flops(operands: int, space: Any, outputs: Any) -> Any:
    """Naive loop nest: (operands - 1) products per point of the index space, and P - outputs
    adds reducing the summed indices."""
    return (operands - 1) * space + space - outputs


class Einsum(TensorInput):
    """torch.einsum on 1 to 3 operands: the input, then `others` (further inputs of a block, or
    constants the module stores)."""

    TAGS = ("einsum",)
    type: Literal["einsum"] = Field("einsum", description="the kind: einsum")
    equation: str = Field(description="e.g. 'bij,bjk->bik': letters, ',' and '->' (no ellipsis), "
                                      "1 to 3 operands, the input first")
    others: list[list[PositiveInt]] | None = Field(
        None, description="whole shapes of the operands after the input; required for buffers or alone")
    others_are: Literal["input", "buffer"] = Field(
        "input", description="input: further input tensors; buffer: constants the module stores (in buffers)")

    @field_validator("equation")
    @classmethod
    def _parses(cls, equation: str) -> str:
        try:
            parse_equation(equation)
        except SpecError as exc:
            raise ValueError(f"{exc.message} (expected {exc.expected})") from None
        return equation

    def stated_inputs(self) -> tuple[Shape, ...]:
        first = super().stated_inputs()
        others = tuple(tuple(s) for s in self.others or ())
        if len(parse_equation(self.equation)[0]) > 1 and self.others is None:
            raise SpecError("the other operands are not given", field="others",
                            expected="their whole shapes, e.g. [[N, k, m]]")
        return first if self.others_are == "buffer" else (*first, *others)

    def tally(self, inputs: tuple[Shape, ...]) -> Tally:
        terms, rhs = parse_equation(self.equation)
        operands = inputs
        if self.others_are == "buffer" and self.others:
            operands = (*inputs, *(tuple(s) for s in self.others))
        if self.others is not None and len(self.others) != len(terms) - 1:
            raise ShapeError(f"equation {self.equation!r} has {len(terms)} operands but others "
                             f"lists {len(self.others)} after the input", field="others",
                             expected=f"{len(terms) - 1} shapes")
        if len(operands) != len(terms):
            raise ShapeError(f"equation {self.equation!r} has {len(terms)} operand(s), it gets "
                             f"{len(operands)}", field="equation",
                             expected="as many operands as the equation names")
        sizes = einsum_sizes(terms, operands, self.equation)
        out = tuple(sizes[c] for c in rhs)
        if not out or not (rhs[0] == terms[0][0]):
            raise ShapeError(f"equation {self.equation!r} does not keep the input's first (batch) "
                             "index first in the output", field="equation",
                             expected=f"an output starting with {terms[0][0]!r}")
        space = einsum_index_space(sizes)
        two_summed = len(terms) == 2 and len(sizes) > len(rhs)
        return Tally(
            op="einsum" if two_summed else "einsum_n", inputs=inputs, output=out,
            buffers=sum(prod(s) for s in operands[len(inputs):]),
            macs=(len(terms) - 1) * space, index_space=space,
        )


# -- layer scale ---------------------------------------------------------------------------------
def scale_params(size: Any) -> Any:
    """gamma: one learnt value per entry of the scaled axis."""
    return size


class Scale(TensorInput):
    """Layer scale x * gamma (ConvNeXt's layer_scale of shape (C, 1, 1): dim 1; CaiT/timm
    LayerScale's gamma of shape (d,) on (N, T, d): dim -1)."""

    TAGS = ("scale",)
    type: Literal["scale"] = Field("scale", description="the kind: scale")
    dim: BoundedInt = Field(
        -1, description="gamma's axis: -1 channels last (CaiT, timm), 1 channels first (torchvision ConvNeXt)")

    def tally(self, inputs: tuple[Shape, ...]) -> Tally:
        (shape,) = inputs
        d = axis(self.dim, len(shape), "dim")
        if d == 0:
            raise ShapeError("dim 0 is the batch: a layer scale has one value per channel",
                             field="dim", expected=f"1 to {len(shape) - 1}, or -1")
        return Tally(op="scale", inputs=inputs, output=shape, params=scale_params(shape[d]),
                     affine_in=prod(shape))

