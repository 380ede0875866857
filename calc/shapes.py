"""Output-size rules, one axis at a time.  Each works on ints and on sympy symbols.

Source: the PyTorch documentation of Conv*d, ConvTranspose*d, MaxPool*d/AvgPool*d and
AdaptiveAvgPool*d, whose formulas these restate.
"""

from __future__ import annotations

from typing import Any

from calc.arith import ceil_div, gcd_, select


def conv_out(size: Any, k: Any, stride: Any, pad_lo: Any, pad_hi: Any, dilation: Any) -> Any:
    """floor((H + p_lo + p_hi - d(K-1) - 1) / s) + 1  (with p_lo = p_hi = p: the usual 2p)."""
    return (size + pad_lo + pad_hi - dilation * (k - 1) - 1) // stride + 1


def deconv_out(size: Any, k: Any, stride: Any, pad: Any, dilation: Any, output_padding: Any) -> Any:
    """(H - 1)s - 2p + d(K-1) + output_padding + 1."""
    return (size - 1) * stride - 2 * pad + dilation * (k - 1) + output_padding + 1


def pool_out(size: Any, k: Any, stride: Any, pad: Any, dilation: Any, ceil_mode: bool) -> Any:
    """Pooling output size; with ceil_mode the last window must start inside the input or the
    left padding: out = ceil((H + 2p - d(K-1) - 1)/s) + 1, less one if (out-1)s >= H + p."""
    if not ceil_mode:
        return conv_out(size, k, stride, pad, pad, dilation)
    out = ceil_div(size + 2 * pad - dilation * (k - 1) - 1, stride) + 1
    return select(((out - 1) * stride, size + pad), out - 1, out)


def same_padding(size: Any, k: Any, stride: Any, dilation: Any) -> tuple[Any, Any]:
    """TensorFlow/PyTorch 'same': output ceil(H/s); total pad max((out-1)s + d(K-1) + 1 - H, 0),
    split with the extra element on the high side."""
    from calc.arith import max_

    out = ceil_div(size, stride)
    total = max_((out - 1) * stride + dilation * (k - 1) + 1 - size, 0)
    lo = total // 2
    return lo, total - lo


def adaptive_window_sum(size: Any, out: Any) -> Any:
    """Elements visited along one axis by adaptive pooling from `size` to `out`.

    Window i spans [floor(i*H/O), ceil((i+1)*H/O)).  Summed over i the floors telescope to H and
    each ceiling adds one where O does not divide (i+1)H, which happens O - gcd(H, O) times:
    sum = H + O - gcd(H, O)  (= H when O divides H)."""
    return size + out - gcd_(size, out)
