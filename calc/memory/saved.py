"""Activations a training step keeps for the backward pass: what PyTorch autograd saves, per
operation kind, in one table (`SAVED`).

Each rule names what the kind's autograd node saves (PyTorch tools/autograd/derivatives.yaml, the
formula that computes the kind's input or weight gradient, torch 2.x): inputs and/or the output
of the operation (tensors of the program: counted once per storage, however many operations save
them, as `saved_tensors_hooks` deduplicated by storage sees them), and tensors of its own (a
dropout mask, a batch norm's saved mean and inverse std, a max pool's indices).  Parameters saved
with an input (a conv's weight) are the weights, counted once elsewhere, not activations.

Element widths: "act" the activation dtype, "fp32" 4 bytes (norm statistics are kept in fp32
for 16-bit inputs too: native_batch_norm / native_layer_norm's save_mean and rstd), "bool" 1
byte (native_dropout's mask, result1), "int64" 8 bytes (max pool indices, embedding indices).

Views (calc.cost.VIEW_OPS) share the tensor they view: saving a view (q, k, v split from a packed
qkv) keeps the whole tensor it views.  In training a dropout with p > 0 is not a view: it writes
x * mask.

Attention: `fused: sdpa` (F.scaled_dot_product_attention) is priced as the fused
flash/efficient kernel PyTorch picks for training (the CPU flash kernel and CUDA's
flash/efficient ones save q, k, v, the output and the per-row logsumexp, never a score-shaped
tensor: aten/src/ATen/native/transformers/attention.cpp, derivatives.yaml
`_scaled_dot_product_flash_attention(_for_cpu)`); `fused: eager` (torch.matmul, * scale, + mask,
softmax, torch.matmul) saves the score-shaped softmax output.

The saved tensors of each autograd node can be read in an installed torch's
include/torch/csrc/autograd/generated/Functions.h (the SavedVariable members of e.g.
NativeBatchNormBackward0: input_, weight_, result1_, result2_; NativeDropoutBackward0: result1_;
ScaledDotProductFlashAttentionForCpuBackward0: query_, key_, value_, output_, logsumexp_).
tools/oracle/memory.py measures them (tests/fixtures/memory/saved_tensors.json).

Not modelled: cuDNN batch norm's reserve space (CudnnBatchNormBackward0's result3), the cos/sin tables of rotary embeddings (N x T x head_dim, computed once and shared
by every layer), the int64 ids the network reads when they are not an embedding's input, and the
gradient buffers the backward pass allocates as it runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from calc.arith import prod
from calc.cost import VIEW_OPS
from calc.errors import CalcError

WIDTHS = ("act", "fp32", "bool", "int64")
FIXED_WIDTH = {"fp32": 4, "bool": 1, "int64": 8}
"""Bytes per element of the widths that do not follow the activation dtype."""

ALL = -1
"""In a rule's `inputs`: every input the operation reads."""


class TrainingError(CalcError):
    """A network a training-memory estimate cannot price (exit 1): an operation kind without a
    saved-tensor rule, recomputation without checkpoint boundaries."""


@dataclass(frozen=True)
class Rule:
    """What one operation kind's autograd node saves for backward."""

    inputs: tuple[int, ...] = ()
    """Indices of the inputs saved (ALL: every one)."""
    output: bool = False
    input_width: str = "act"
    own: Callable[[Any, Any], tuple[tuple[str, Any, str], ...]] | None = None
    """(tally, op) -> tensors of its own: (name, elements, width)."""
    source: str = ""


def _norm_stats(per: str, count: int) -> Callable[[Any, Any], tuple[tuple[str, Any, str], ...]]:
    """A norm's saved statistics: `count` fp32 values per channel ('channel', batch norm:
    save_mean, save_invstd) or per normalised row ('row': layer norm mean and rstd; RMS norm
    rstd)."""
    def stats(tally: Any, op: Any) -> tuple[tuple[str, Any, str], ...]:
        n = tally.inputs[0][1] if per == "channel" else tally.rows
        return (("statistics", count * n, "fp32"),)
    return stats


def _dropout_mask(tally: Any, op: Any) -> tuple[tuple[str, Any, str], ...]:
    """native_dropout's mask (result1, bool), one byte per element; none when p = 0
    (F.dropout returns its input unchanged)."""
    return (("mask", prod(tally.output), "bool"),) if dropout_active(op) else ()


def _pool_indices(tally: Any, op: Any) -> tuple[tuple[str, Any, str], ...]:
    """max_pool*_with_indices' indices (result1, int64), one per output element."""
    return (("indices", prod(tally.output), "int64"),)


def _logsumexp(tally: Any, op: Any) -> tuple[tuple[str, Any, str], ...]:
    """The fused attention kernel's logsumexp, one fp32 value per query row and head: N x H x T."""
    N, T = tally.output[0], tally.output[-2]
    return (("logsumexp", N * op.layer.heads * T, "fp32"),)


def _positions(tally: Any, op: Any) -> tuple[tuple[str, Any, str], ...]:
    """A position lookup's indices: torch.arange(T), int64 (GPT-2's position_ids)."""
    return (("position ids", tally.output[-2], "int64"),)


def _gating(tally: Any, op: Any) -> tuple[tuple[str, Any, str], ...]:
    """The router's softmax output (tokens x E, what softmax saves) and top-k indices (int64)."""
    tokens = prod(tally.inputs[0][:-1])
    return (("router softmax", tokens * tally.inputs[0][-1], "act"),
            ("top-k indices", prod(tally.output), "int64"))


def _combine_weights(tally: Any, op: Any) -> tuple[tuple[str, Any, str], ...]:
    """The routing weights the combine multiplies by (tokens x top_k)."""
    return (("routing weights", prod(tally.inputs[0][:-1]), "act"),)


def _adaptive_avg(tally: Any) -> bool:
    return all(s == 1 for s in tally.output[2:])


DY = "PyTorch tools/autograd/derivatives.yaml"
_INPUT = Rule((0,), source=f"{DY}: convolution / addmm / mm: the input (mat1) for the weight's gradient")
_BOTH = Rule((ALL,), source=f"{DY}: bmm / mm (matmul): each operand for the other's gradient")
_NOTHING = Rule(source=f"{DY}: the gradient needs sizes only (add, cat, views, copies)")
_SELF = Rule((0,), source=f"{DY}: '<op>_backward(grad, self)': the input")
_RESULT = Rule(output=True, source=f"{DY}: '<op>_backward(grad, result)': the output")

SAVED: dict[str, Rule] = {
    # dot-product layers: the input (the weight is saved too: a parameter, counted as weights)
    "conv": _INPUT, "deconv": _INPUT, "linear": _INPUT, "conv1d": _INPUT,
    "mha_in_proj": _INPUT, "mha_fast_in_proj": _INPUT, "mha_fast_out_proj": _INPUT,
    "moe_router": _INPUT, "moe_linear": _INPUT, "moe_expert_linear": _INPUT,
    "scale": Rule((0,), source=f"{DY}: mul(self, other): self for other's (the scale's) gradient"),
    "matmul": _BOTH, "matmul_operator": _BOTH, "bmm": _BOTH, "baddbmm": _BOTH,
    "mha_fast_bmm": _BOTH, "mha_fast_baddbmm": _BOTH, "einsum": _BOTH, "einsum_n": _BOTH,
    "mul": Rule((ALL,), source=f"{DY}: mul(self, other): other for self's gradient, self for other's"),
    # activations
    "relu": Rule(output=True, source=f"{DY}: relu: threshold_backward(grad, result, 0)"),
    "sigmoid": Rule(output=True, source=f"{DY}: sigmoid: sigmoid_backward(grad, result)"),
    "tanh": Rule(output=True, source=f"{DY}: tanh: tanh_backward(grad, result)"),
    "softmax": Rule(output=True, source=f"{DY}: _softmax: _softmax_backward_data(grad, result, ...)"),
    "relu6": Rule((0,), source=f"{DY}: hardtanh: hardtanh_backward(grad, self, min_val, max_val)"),
    "leaky_relu": Rule((0,), source=f"{DY}: leaky_relu: leaky_relu_backward(grad, self, ...)"),
    "prelu": Rule((0,), source=f"{DY}: _prelu_kernel: self (and the weight)"),
    "elu": Rule((0,), source=f"{DY}: elu: elu_backward(grad, ..., is_result=false, self)"),
    "gelu": Rule((0,), source=f"{DY}: gelu: gelu_backward(grad, self, approximate)"),
    "silu": Rule((0,), source=f"{DY}: silu: silu_backward(grad, self)"),
    "hardswish": Rule((0,), source=f"{DY}: hardswish: hardswish_backward(grad, self)"),
    "hardsigmoid": Rule((0,), source=f"{DY}: hardsigmoid: hardsigmoid_backward(grad, self)"),
    # normalisation: the input and fp32 statistics
    "batchnorm": Rule((0,), own=_norm_stats("channel", 2),
                      source=f"{DY}: native_batch_norm: input, save_mean, save_invstd (result1, result2)"),
    "layernorm": Rule((0,), own=_norm_stats("row", 2),
                      source=f"{DY}: native_layer_norm: input, mean, rstd (result1, result2)"),
    "layernorm2d": Rule((0,), own=_norm_stats("row", 2),
                        source=f"{DY}: native_layer_norm (on the permuted map): input, mean, rstd"),
    "groupnorm": Rule((0,), own=_norm_stats("row", 2),
                      source=f"{DY}: native_group_norm: input, mean, rstd (result1, result2)"),
    "instancenorm": Rule((0,), own=_norm_stats("row", 2),
                         source=f"{DY}: native_batch_norm on the (1, N*C, ...) view: input, mean, invstd"),
    "rmsnorm": Rule((0,), own=_norm_stats("row", 1),
                    source=f"{DY}: _fused_rms_norm: input, rstd (result1), the fused kernel "
                           "(FusedRmsNormBackward0 in torch 2.14's generated Functions.h); torch 2.14 "
                           "on the CPU runs composite ops that also save the normalised input"),
    # pooling
    "maxpool": Rule((0,), own=_pool_indices,
                    source=f"{DY}: max_pool2d_with_indices: self, indices (result1)"),
    "adaptive_maxpool": Rule((0,), own=_pool_indices,
                             source=f"{DY}: adaptive_max_pool2d: self, indices (result1)"),
    "avgpool": Rule((0,), source=f"{DY}: avg_pool2d: avg_pool2d_backward(grad, self, ...)"),
    "adaptive_avgpool": Rule((0,), source=f"{DY}: _adaptive_avg_pool2d: self; to a 1x1 output "
                             "ATen computes mean(-1, -2), whose gradient needs sizes only"),
    "upsample_nearest": Rule(source=f"{DY}: upsample_nearest2d: grad and sizes only"),
    "upsample_bilinear": Rule(source=f"{DY}: upsample_bilinear2d: grad and sizes only"),
    # sequences
    "embedding": Rule((0,), input_width="int64",
                      source=f"{DY}: embedding: embedding_backward(grad, indices, ...): the int64 ids"),
    "position_lookup": Rule(own=_positions, source=f"{DY}: embedding: its indices, arange(T)"),
    "position_embedding": _NOTHING, "class_token": _NOTHING, "rotary": _NOTHING,
    "dropout": Rule(own=_dropout_mask,
                    source=f"{DY}: native_dropout: the mask (result1, bool), the CUDA path of F.dropout"),
    # attention: eager parts are the rules above (matmul, softmax); the fused kernel's here
    "attn_scale": Rule(source=f"{DY}: mul by a Python scalar: nothing"),
    "attn_mask": Rule(source=f"{DY}: add of a constant float mask: nothing"),
    "sdpa_scores": Rule((ALL,), source=f"{DY}: _scaled_dot_product_flash_attention: query, key"),
    "sdpa_scale": Rule(source="fused in the sdpa kernel: no tensor of its own"),
    "sdpa_mask": Rule(source="fused in the sdpa kernel: no tensor of its own"),
    "sdpa_softmax": Rule(source="fused in the sdpa kernel: recomputed in its backward, not stored"),
    "sdpa_context": Rule((1,), output=True, own=_logsumexp,
                         source=f"{DY}: _scaled_dot_product_flash_attention: value, output, logsumexp"),
    # mixture of experts (a reading of transformers' MixtralSparseMoeBlock)
    "moe_gating": Rule(own=_gating, source=f"{DY}: softmax (result), topk (indices)"),
    "moe_dispatch": Rule(source=f"{DY}: index_select: the index (counted at the gating)"),
    "moe_combine": Rule((0,), own=_combine_weights,
                        source=f"{DY}: mul(self, other): the expert outputs and the weights"),
    # no tensor saved
    "add": _NOTHING, "concat": _NOTHING, "split": _NOTHING, "chunk": _NOTHING, "select": _NOTHING,
    "flatten": _NOTHING, "identity": _NOTHING, "permute": _NOTHING, "transpose": _NOTHING,
    "reshape": _NOTHING, "channel_shuffle": _NOTHING, "mha": _NOTHING,
}
"""Operation kind -> what its autograd node saves for backward (see the module docstring)."""


def dropout_active(op: Any) -> bool:
    """A dropout with p > 0 (p = 0: F.dropout returns its input)."""
    return float(getattr(op.layer, "p", 0.5)) > 0


def is_view(op: Any, kind: str, training: bool = True) -> bool:
    """Whether the operation's output shares its first input's tensor: VIEW_OPS, except, in a
    training step, a dropout with p > 0 (it writes x * mask)."""
    if kind not in VIEW_OPS or not op.inputs:
        return False
    return not (training and kind == "dropout" and dropout_active(op))


def rule_for(kind: str, path: str) -> Rule:
    """The rule of an operation kind; a `TrainingError` naming the kind for one without a rule
    (never a silent zero)."""
    rule = SAVED.get(kind)
    if rule is None:
        raise TrainingError(f"no rule for what a {kind!r} operation saves for backward", path=path,
                            expected="one of the kinds in calc.memory.saved.SAVED")
    return rule


@dataclass(frozen=True)
class Saved:
    """One tensor an operation saves: a value of the program (`value`: 0 the input, i + 1
    operation i's output; counted at the tensor holding it), or one of its own (`value` None)."""

    op: int
    what: str
    value: int | None
    elements: int
    width: str


def saved_items(ops: Any, tallies: list[Any]) -> tuple[list[Saved], list[int]]:
    """Every tensor each operation saves (before deduplication), and the storage root of each
    value (a view's: the tensor it views).  `tallies[i]` is operation i's tally."""
    sizes = [prod(tallies[0].inputs[0]) if tallies else 0]
    root = [0]
    items: list[Saved] = []
    for i, (op, t) in enumerate(zip(ops, tallies)):
        kind = t.op
        v = i + 1
        if is_view(op, kind):
            root.append(root[op.inputs[0]])
        else:
            root.append(v)
        sizes.append(prod(t.output))
        rule = rule_for(kind, op.path)
        if kind == "adaptive_avgpool" and _adaptive_avg(t):
            rule = _NOTHING
        wanted = range(len(op.inputs)) if ALL in rule.inputs else rule.inputs
        for k in wanted:
            if k < len(op.inputs):
                src = op.inputs[k]
                items.append(Saved(i, f"input {k}" if len(op.inputs) > 1 else "input", src,
                                   sizes[root[src]], rule.input_width))
        if rule.output:
            items.append(Saved(i, "output", v, sizes[root[v]], "act"))
        if rule.own is not None:
            for what, elements, width in rule.own(t, op):
                items.append(Saved(i, what, None, elements, width))
    return items, root


def width_bytes(width: str, act: int) -> int:
    """Bytes per element of a saved tensor's width ('act': the activation dtype's `act`)."""
    return act if width == "act" else FIXED_WIDTH[width]
