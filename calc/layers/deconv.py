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

from math import gcd
from typing import Any, Literal

from pydantic import Field, model_validator

from calc.arith import flag, exact_div, is_int, max_, prod
from calc.errors import ShapeError, SpecError
from calc.layers.base import (
    DESCRIBE_BIAS, DESCRIBE_GROUPS, IntOrAxes, NonNegativeInt, PositiveInt, SpatialInput,
    check_groups, feature_map, per_axis, require_positive,
)
from calc.layers.epilogue import WithEpilogue
from calc.shapes import conv_out, deconv_out
from calc.tally import Shape, Tally


def deconv_params(cin: Any, cout: Any, kernel: tuple, groups: Any, bias: Any) -> Any:
    """Cin * (Cout/g) * prod(K) weights, plus Cout biases when bias = 1."""
    return cin * exact_div(cout, groups) * prod(kernel) + bias * cout


def floor_sum(n: int, m: int, a: int, b: int) -> int:
    """sum of floor((a*i + b) / m) for i = 0 .. n-1  (n >= 0, m >= 1, a >= 0, b >= 0).

    Euclid-like reduction, O(log m) rounds (the floor_sum of the AtCoder Library): take out the
    whole parts of a/m and b/m, then count the same lattice points by columns instead of rows."""
    total = 0
    while True:
        if a >= m:
            total += n * (n - 1) // 2 * (a // m)
            a %= m
        if b >= m:
            total += n * (b // m)
            b %= m
        top = a * n + b
        if top < m:
            return total
        n, b, m, a = top // m, top % m, a, m


def capped_count(t: int, a: int, m: int, lo: int, hi: int, cap: int | None) -> int:
    """sum over x = lo .. hi of min(max(floor((t - a*x) / m) + 1, 0), cap)   (a, m >= 1;
    cap None: no cap), in closed form: the terms are `cap` up to x = (t - (cap-1)m) // a, then
    floor((t - a x)/m) + 1 down to x = t // a (a floor_sum), then 0."""
    total = 0
    if cap is not None:
        last_full = (t - (cap - 1) * m) // a
        total += cap * max(0, min(hi, last_full) - lo + 1)
        lo = max(lo, last_full + 1)
    top = min(hi, t // a)
    if top >= lo:
        n = top - lo + 1  # x = top - i for i = 0 .. n-1: floor((t - a*top + a*i) / m) + 1
        total += floor_sum(n, m, a, t - a * top) + n
    return total


def products_up_to(t: int, size: int, k: int, s: int, d: int) -> int:
    """Products (i, j), 0 <= i < H, 0 <= j < K, whose position i*s + j*d is at most t."""
    return capped_count(t, d, s, 0, k - 1, size) if t >= 0 else 0


def positions_up_to(t: int, size: int, k: int, s: int, d: int) -> int:
    """Distinct positions u = i*s + j*d <= t reached (0 <= i < H, 0 <= j < K).

    With g = gcd(s, d), s' = s/g, d' = d/g: u = g*v, v = i*s' + j*d'.  When H <= d' or K <= s'
    no two products share a position (s', d' coprime), so positions = products.  Otherwise group
    taps j by r = j mod s' (r < s' <= K): v = r*d' + s'*m, m covering [0, d'*T_r + H - 1]
    without gaps (H > d') with T_r = (K - 1 - r) // s'; distinct r give distinct v mod s'.  T_r
    is q = (K-1) // s' for r <= e = (K-1) % s' and q - 1 above, so each part is a capped count."""
    if t < 0:
        return 0
    g = gcd(s, d)
    s1, d1 = s // g, d // g
    if size <= d1 or k <= s1:
        return products_up_to(t, size, k, s, d)
    t1 = t // g
    q, e = divmod(k - 1, s1)
    return (capped_count(t1, d1, s1, 0, e, d1 * q + size)
            + capped_count(t1, d1, s1, e + 1, s1 - 1, d1 * (q - 1) + size))


def deconv_axis(size: Any, k: int, s: int, p: int, d: int, op: int) -> tuple[Any, Any]:
    """(products landing inside the output, output positions reached) along one axis.

    Tap j of input i lands at u - p with u = i*s + j*d in [0, U], U = (H-1)s + (K-1)d; the
    output keeps u in [p, U + op - p].  Mirroring (i, j) -> (H-1-i, K-1-j) maps u to U - u, so
    what falls above the output is what falls below p - op:
        products = H*K - products_up_to(p - 1) - products_up_to(p - op - 1)
        reached  = positions_up_to(U) - positions_up_to(p - 1) - positions_up_to(p - op - 1)
    Closed forms (floor sums), no loop over the kernel: K = 10**8 costs what K = 3 does."""
    out = deconv_out(size, k, s, p, d, op)
    if is_int(size):
        products = size * k - products_up_to(p - 1, size, k, s, d) - products_up_to(p - op - 1, size, k, s, d)
        full = (size - 1) * s + (k - 1) * d
        reached = (positions_up_to(full, size, k, s, d) - positions_up_to(p - 1, size, k, s, d)
                   - positions_up_to(p - op - 1, size, k, s, d))
        return products, reached
    # Symbolic size: the crops at either end do not depend on it (for inputs longer than K).
    if d != 1 or s > k:
        raise SpecError(
            "a symbolic size needs a kernel that covers the stride (dilation 1, stride <= K)",
            field="stride",
        )
    low = capped_count(p - 1, d, s, 0, k - 1, None) if p >= 1 else 0
    high = capped_count(p - op - 1, d, s, 0, k - 1, None) if p - op >= 1 else 0
    return size * k - low - high, out - max_(0, op - p)


class Deconv(WithEpilogue, SpatialInput):
    """ConvTranspose1d/2d/3d."""

    TAGS = ("deconv",)
    AXIS_FIELDS = ("K", "stride", "padding", "output_padding", "dilation")
    type: Literal["deconv"] = Field("deconv", description="the kind: deconv")
    Cout: PositiveInt = Field(description="output channels")
    K: IntOrAxes = Field(description="kernel size: one int for every spatial axis, or one per axis")
    stride: IntOrAxes = Field(1, description="stride (upsampling factor): one int or one per axis")
    padding: NonNegativeInt | list[NonNegativeInt] = Field(
        0, description="dilation*(K-1)-padding zeros added on each side: one int or one per axis"
    )
    output_padding: NonNegativeInt | list[NonNegativeInt] = Field(
        0,
        description="size added to one side of the output: one int or one per axis (< stride)",
    )
    dilation: IntOrAxes = Field(
        1, description="spacing of the kernel taps: one int or one per axis"
    )
    groups: PositiveInt = Field(1, description=DESCRIBE_GROUPS)
    bias: bool = Field(True, description=DESCRIBE_BIAS)

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
        per_group_out = exact_div(self.Cout, self.groups)
        # calflops 0.3.2 (pytorch_ops.py, _conv_trans_flops_compute): weight.shape[1] = Cout/g is
        # divided by g again, and the bias is priced at the forward-conv size of the input
        forward = tuple(conv_out(x, kk, ss, pp, pp, dd) for x, kk, ss, pp, dd in zip(spatial, k, s, p, d))
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
            calflops_macs=n * cin * prod(spatial) * prod(k) * (per_group_out // self.groups),
            calflops_bias_adds=bias * n * per_group_out * prod(forward),
        )
