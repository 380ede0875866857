"""Transposed convolution (deconvolution), 1-, 2- or 3-d by the input's rank.

Output size: (H - 1)s - 2p + d(K-1) + output_padding + 1 (PyTorch ConvTranspose2d docs).
Every input element is multiplied by every weight of its group and scattered to position
i*s + k*d - p.  Products that land in the cropped border (padding) are not part of the
output, and output positions that no product reaches (stride gaps, output_padding) need no add.
Per axis, P = products that land inside the output and Z = output positions reached; then
    params      = Cin * (Cout/g) * prod(K) + bias * Cout
    macs        = N * Cout * (Cin/g) * prod(P)          (products that reach the output)
    dot_outputs = N * Cout * prod(Z)                   (accumulators with at least one product)
    bias_adds   = bias * N * Cout * prod(out)
NB: profilers count N * Cin * prod(H) * (Cout/g) * prod(K), which includes cropped products; see
docs/profilers.md for how each emulation prices it.
"""

from typing import Any, Literal

from pydantic import NonNegativeInt, PositiveInt, model_validator

from calc.arith import flag, exact_div, is_int, max_, prod
from calc.errors import ShapeError, SpecError
from calc.layers.base import (
    IntOrAxes, SpatialInput, check_groups, feature_map, per_axis, require_positive,
)
from calc.layers.epilogue import WithEpilogue
from calc.shapes import deconv_out
from calc.tally import Shape, Tally


def deconv_params(cin: Any, cout: Any, kernel: tuple, groups: Any, bias: Any) -> Any:
    """Cin * (Cout/g) * prod(K) weights, plus Cout biases when bias = 1."""
    return cin * exact_div(cout, groups) * prod(kernel) + bias * cout


def deconv_axis(size: Any, k: int, s: int, p: int, d: int, op: int) -> tuple[Any, Any]:
    """(products landing inside the output, output positions reached) along one axis.

    Tap j of input i lands at u - p with u = i*s + j*d.  Products: for each tap, the inputs i
    with 0 <= i*s + j*d - p < out form one range.  Positions: taps whose offsets j*d share a
    residue r modulo s hit u = r + s*(m_j + i), i.e. index intervals [m_j, m_j + H - 1]; their
    union, clipped to the output's index window, counts the reached positions.  O(K log K)."""
    out = deconv_out(size, k, s, p, d, op)
    if is_int(size):
        products = 0
        for j in range(k):
            lo = max(0, -((j * d - p) // s))  # ceil((p - j*d) / s)
            hi = min(size - 1, (out + p - j * d - 1) // s)
            products += max(0, hi - lo + 1)
        by_residue: dict[int, list[int]] = {}
        for j in range(k):
            by_residue.setdefault((j * d) % s, []).append((j * d) // s)
        reached = 0
        for r, starts in by_residue.items():
            first = -((r - p) // s)  # indices whose position r + s*index lies in [p, p + out)
            last = (p + out - 1 - r) // s
            end = None  # merge the intervals [m, m + size - 1], sorted by start
            for m in sorted(starts):
                lo, hi = max(m, first), min(m + size - 1, last)
                if end is not None:
                    lo = max(lo, end + 1)
                if hi >= lo:
                    reached += hi - lo + 1
                end = m + size - 1 if end is None else max(end, m + size - 1)
        return products, reached
    # Symbolic size: the crops at either end do not depend on it (for inputs longer than K).
    low = sum(max(0, -((-(p - j * d)) // s)) for j in range(k))
    high = sum(max(0, (p - op - 1 - d * (k - 1 - j)) // s + 1) for j in range(k))
    if d != 1 or s > k:
        raise SpecError(
            "a symbolic size needs a kernel that covers the stride (dilation 1, stride <= K)",
            field="stride",
        )
    return size * k - low - high, out - max_(0, op - p)


class Deconv(WithEpilogue, SpatialInput):
    """ConvTranspose1d/2d/3d."""

    TAGS = ("deconv",)
    type: Literal["deconv"] = "deconv"
    Cout: PositiveInt
    K: IntOrAxes
    stride: IntOrAxes = 1
    padding: NonNegativeInt | list[NonNegativeInt] = 0
    output_padding: NonNegativeInt | list[NonNegativeInt] = 0
    dilation: IntOrAxes = 1
    groups: PositiveInt = 1
    bias: bool = True

    @model_validator(mode="after")
    def _groups_divide(self) -> "Deconv":
        check_groups(self.groups, self.Cin, self.Cout)
        return self

    def tally(self, inputs: tuple[Shape, ...]) -> Tally:
        (shape,) = inputs
        feature_map(shape, self.kind)
        n, cin, *spatial = shape
        dims = len(spatial)
        k = per_axis(self.K, dims, "K")
        s = per_axis(self.stride, dims, "stride")
        p = per_axis(self.padding, dims, "padding")
        op = per_axis(self.output_padding, dims, "output_padding")
        d = per_axis(self.dilation, dims, "dilation")
        if is_int(cin) and is_int(self.groups) and cin % self.groups:
            raise ShapeError(
                f"groups={self.groups} does not divide the {cin} input channels",
                field="groups", expected=f"a divisor of {cin}",
            )
        for oo, ss, dd in zip(op, s, d):
            if all(is_int(v) for v in (oo, ss, dd)) and oo >= max(ss, dd):
                raise ShapeError(
                    f"output_padding {oo} must be smaller than stride or dilation",
                    field="output_padding", expected=f"< {max(ss, dd)}",
                )
        out = tuple(deconv_out(*a) for a in zip(spatial, k, s, p, d, op))
        for o in out:
            require_positive("padding", o, lambda: f"padding removes the whole output (size {o})")
        axes = [deconv_axis(*a) for a in zip(spatial, k, s, p, d, op)]
        kept = prod(a[0] for a in axes)
        reached = prod(a[1] for a in axes)
        bias = flag(self.bias)
        per_group_in = exact_div(cin, self.groups)
        return Tally(
            op="deconv",
            inputs=inputs,
            output=(n, self.Cout, *out),
            params=deconv_params(cin, self.Cout, k, self.groups, bias),
            macs=n * self.Cout * per_group_in * kept,
            macs_all=n * cin * prod(spatial) * exact_div(self.Cout, self.groups) * prod(k),
            macs_at_outputs=n * self.Cout * prod(out) * per_group_in * prod(k),
            dot_outputs=n * self.Cout * reached,
            bias_adds=bias * n * self.Cout * prod(out),
        )
