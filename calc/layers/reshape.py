"""Operations that move data without arithmetic: flatten, dropout (identity at inference),
channel shuffle (ShuffleNet), identity, and on inputs of any rank permute, transpose,
reshape/view, split and chunk.  They cost memory traffic, not FLOPs, in every
convention that prices them at zero."""

from typing import Any, Literal

from pydantic import Field

from calc.arith import exact_div, is_int, prod
from calc.errors import ShapeError
from calc.layers.base import BoundedInt, PositiveInt, SpatialInput, format_shape
from calc.layers.tensor import TensorInput, axis
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


# -- shape-only tensor operations on inputs of any rank (0 FLOPs in every convention) ---------
# PyTorch semantics, dims counted over all axes, the batch included (negative from the end).
# Axis 0 is the batch and stays axis 0: calc reads the batch from it (reports' N, per-sample
# rules of ptflops and torchinfo), so an operation that moves it is refused.


class Permute(TensorInput):
    """x.permute(*dims): dims a permutation of all axes, dims[0] = 0 (the batch stays first)."""

    TAGS = ("permute",)
    type: Literal["permute"] = Field("permute", description="the kind: permute")
    dims: list[BoundedInt] = Field(
        description="a permutation of all axes, batch included, 0 first (e.g. [0, 2, 3, 1]: NCHW -> NHWC)")

    def keeps_rank(self) -> bool:
        return False  # same rank, but the axes no longer mean (N, C, *spatial)

    def tally(self, inputs: tuple[Shape, ...]) -> Tally:
        (shape,) = inputs
        rank = len(shape)
        if len(self.dims) != rank:
            raise ShapeError(f"has {len(self.dims)} entries for a {rank}-d input {format_shape(shape)}",
                             field="dims", expected=f"a permutation of the {rank} axes")
        order = [axis(d, rank, "dims") for d in self.dims]
        if sorted(order) != list(range(rank)):
            raise ShapeError(f"{self.dims} is not a permutation of 0..{rank - 1}", field="dims",
                             expected="each axis exactly once")
        if order[0] != 0:
            raise ShapeError(f"{self.dims} moves the batch axis 0", field="dims",
                             expected="0 first: calc reads the batch from axis 0")
        return Tally(op="permute", inputs=inputs, output=tuple(shape[i] for i in order))


class Transpose(TensorInput):
    """x.transpose(dim0, dim1): swaps two axes (not the batch)."""

    TAGS = ("transpose",)
    type: Literal["transpose"] = Field("transpose", description="the kind: transpose")
    dim0: BoundedInt = Field(description="first axis swapped (negative from the end; not 0, the batch)")
    dim1: BoundedInt = Field(description="second axis swapped (negative from the end; not 0, the batch)")

    def keeps_rank(self) -> bool:
        return False

    def tally(self, inputs: tuple[Shape, ...]) -> Tally:
        (shape,) = inputs
        a, b = axis(self.dim0, len(shape), "dim0"), axis(self.dim1, len(shape), "dim1")
        for field, d in (("dim0", a), ("dim1", b)):
            if d == 0:
                raise ShapeError("swaps the batch axis 0", field=field,
                                 expected="an axis after the batch: calc reads the batch from axis 0")
        out = list(shape)
        out[a], out[b] = out[b], out[a]
        return Tally(op="transpose", inputs=inputs, output=tuple(out))


class Reshape(TensorInput):
    """x.reshape(N, *shape) / x.view(N, *shape): the per-sample axes regrouped, the element
    count kept; one entry may be -1 (inferred)."""

    TAGS = ("reshape", "view")
    type: Literal["reshape", "view"] = Field(
        description="reshape (x.reshape) or view (x.view): the same shape rule, 0 FLOPs")
    shape: list[BoundedInt] = Field(
        description="the per-sample axes after it (the batch N is kept): positive sizes, at most "
                    "one -1 (inferred from the element count)")

    def keeps_rank(self) -> bool:
        return False

    def tally(self, inputs: tuple[Shape, ...]) -> Tally:
        (x,) = inputs
        sizes = list(self.shape)
        if not sizes:
            raise ShapeError("is empty", field="shape", expected="at least one per-sample axis")
        if any(s == 0 or s < -1 for s in sizes) or sizes.count(-1) > 1:
            raise ShapeError(f"{sizes} has a size that is neither positive nor a single -1",
                             field="shape", expected="positive sizes and at most one -1")
        elements = prod(x[1:])
        known = prod(tuple(s for s in sizes if s != -1))
        if -1 in sizes:
            if is_int(elements) and is_int(known) and elements % known:
                raise ShapeError(
                    f"{sizes} cannot hold the {elements} elements per sample of {format_shape(x)}: "
                    f"{known} does not divide them", field="shape",
                    expected=f"sizes whose product divides {elements}")
            inferred = exact_div(elements, known)
            sizes = [inferred if s == -1 else s for s in sizes]
        elif is_int(elements) and is_int(known) and known != elements:
            raise ShapeError(
                f"{sizes} holds {known} elements per sample, the input {format_shape(x)} has "
                f"{elements}", field="shape", expected=f"sizes whose product is {elements}")
        return Tally(op=self.type, inputs=inputs, output=(x[0], *sizes))


def _piece(shape: Shape, d: int, size: Any) -> Shape:
    return (*shape[:d], size, *shape[d + 1:])


def _split_axis(dim: int, shape: Shape) -> int:
    """The axis a split or chunk cuts: any but the batch axis 0."""
    d = axis(dim, len(shape), "dim")
    if d == 0:
        raise ShapeError("splits the batch axis 0", field="dim", expected="an axis after the batch")
    return d


def _check_index(index: int, count: int, makes: str) -> None:
    if index >= count:
        raise ShapeError(f"{index} is out of range: {makes}", field="index", expected=f"0 to {count - 1}")


def _nth_equal_piece(length: int, size: int, index: int, makes: str) -> int:
    """Piece `index` of `length` cut into pieces of `size` (the last one smaller); `makes`
    words the count ({count}) for the out-of-range error."""
    count = -(-length // size)
    _check_index(index, count, makes.format(count=count))
    return min(size, length - index * size)


class Split(TensorInput):
    """x.split(sizes, dim)[index] or x.split(size, dim)[index]: one piece (the program has one
    output per operation, as `parallel`'s channel split: one `split` per piece used)."""

    TAGS = ("split",)
    type: Literal["split"] = Field("split", description="the kind: split")
    sizes: PositiveInt | list[PositiveInt] = Field(
        description="a list: each piece's size (adding up to the axis); an int: pieces of that size (torch.split)")
    dim: BoundedInt = Field(-1, description="the axis split (negative from the end; not 0, the batch)")
    index: BoundedInt = Field(ge=0, description="which piece this operation outputs (from 0)")

    def tally(self, inputs: tuple[Shape, ...]) -> Tally:
        (shape,) = inputs
        d = _split_axis(self.dim, shape)
        length = shape[d]
        if isinstance(self.sizes, list):
            if is_int(length) and sum(self.sizes) != length:
                raise ShapeError(f"{self.sizes} adds up to {sum(self.sizes)}, the axis has {length}",
                                 field="sizes", expected=f"sizes adding up to {length}")
            _check_index(self.index, len(self.sizes), f"the split makes {len(self.sizes)} pieces")
            piece = self.sizes[self.index]
        elif not is_int(length):
            raise ShapeError("an int split size needs a numeric axis", field="sizes",
                             expected="a list of sizes for a symbolic axis")
        else:
            piece = _nth_equal_piece(length, self.sizes, self.index, "the split makes {count} pieces")
        return Tally(op="split", inputs=inputs, output=_piece(shape, d, piece))


class Chunk(TensorInput):
    """x.chunk(chunks, dim)[index]: torch.chunk's pieces of ceil(size/chunks) (the last smaller,
    and fewer than `chunks` pieces when they run out); one piece per operation, as `split`."""

    TAGS = ("chunk",)
    type: Literal["chunk"] = Field("chunk", description="the kind: chunk")
    chunks: PositiveInt = Field(description="pieces asked for (torch.chunk)")
    dim: BoundedInt = Field(-1, description="the axis split (negative from the end; not 0, the batch)")
    index: BoundedInt = Field(ge=0, description="which piece this operation outputs (from 0)")

    def tally(self, inputs: tuple[Shape, ...]) -> Tally:
        (shape,) = inputs
        d = _split_axis(self.dim, shape)
        length = shape[d]
        if not is_int(length):
            if self.index >= self.chunks:
                raise ShapeError(f"{self.index} is out of range for {self.chunks} chunks",
                                 field="index", expected=f"0 to {self.chunks - 1}")
            return Tally(op="chunk", inputs=inputs, output=_piece(shape, d, exact_div(length, self.chunks)))
        size = -(-length // self.chunks)
        piece = _nth_equal_piece(length, size, self.index, f"{length} in chunks of {size} makes {{count}}")
        return Tally(op="chunk", inputs=inputs, output=_piece(shape, d, piece))
