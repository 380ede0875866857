"""The conventions of the seed documents and of an exact operation count.

Per-element costs of `exact` count the primitive operations of each defining expression, with
exp, erf and tanh one operation each:
    relu max(x,0) 1 · relu6 min(max(x,0),6) 2 · leaky_relu/prelu select(x>0, x, a*x) 2 ·
    elu select(x>0, x, a*(exp(x)-1)) 4 · sigmoid 1/(1+exp(-x)) 4 · tanh 1 ·
    hardsigmoid min(max(x+3,0),6)/6 4 · hardswish x*hardsigmoid(x) 5 · silu x*sigmoid(x) 5 ·
    gelu x/2*(1+erf(x/sqrt2)) 5 · softmax exp each, n-1 adds and n divides per row: 3n-1.
Normalisations with statistics from the input (calc.layers.norm, derived there), per row of n:
    layer/group/instance norm 5n+2 (mean n, x-mean n, variance 2n, +eps and sqrt 2, divide n)
    · RMS norm 3n+2 · then 1 multiply per element for a learnt scale, 1 add for a learnt shift;
    an instance norm using running statistics: 2 per element (subtract, divide) + scale, shift.
Tensor operations (calc.layers.tensor): a matmul's output sums k products with k-1 adds:
    2*macs - outputs · an einsum's naive loop nest over its index space of P points:
    (operands-1)*P products + P - outputs adds · a layer scale: 1 multiply per element.
"""

from __future__ import annotations

from calc.conventions.base import ZERO, Convention, Rule, per_op, rule

_EXACT_NORMS = dict(
    **{op: rule("5n+2 per row of n (mean, centre, variance, eps, sqrt, divide; 2 per element "
                "with running statistics) + a multiply per element for the scale, an add for the "
                "shift (calc.layers.norm.norm_exact_flops)",
                in_elements=2, stats_in=3, rows=2, affine_in=1, bias_adds=1)
       for op in ("layernorm", "layernorm2d", "groupnorm", "instancenorm")},
    rmsnorm=rule("3n+2 per row of n (squares, sum, mean, eps, sqrt, divide) + a multiply per "
                 "element for the weight (calc.layers.norm.rmsnorm_exact_flops)",
                 stats_in=3, rows=2, affine_in=1),
)

_EXACT_TENSOR = dict(
    **{op: rule("k products and k-1 adds per output (calc.layers.tensor.matmul_exact_flops)",
                macs=2, dot_outputs=-1)
       for op in ("matmul", "matmul_operator", "bmm")},
    **{op: rule("(operands-1)*P products and P - outputs adds over the index space of P points "
                "(calc.layers.tensor.einsum_exact_flops; no contraction path)",
                macs=1, index_space=1, out_elements=-1)
       for op in ("einsum", "einsum_n")},
    scale=rule("one multiply per element", affine_in=1),
    embedding=rule("a gather: each output element is copied from the table, no arithmetic"),
)

_EXACT_ATTENTION = dict(
    **{op: rule("k products and k-1 adds per output, the dense kernel: masked products included "
                "(calc.layers.attention)", macs=2, dot_outputs=-1)
       for op in ("sdpa_scores", "sdpa_context")},
    baddbmm=rule("k products and k-1 adds per score, + one add of the mask", macs=2, dot_outputs=-1,
                 bias_adds=1),
    **{op: rule("one multiply (scale) or add (mask) per entry", out_elements=1)
       for op in ("attn_scale", "attn_mask", "sdpa_scale", "sdpa_mask")},
    sdpa_softmax=rule("exp each, n-1 adds and n divides per row", out_elements=3, rows=-1),
    rotary=rule("x*cos + rotate_half(x)*sin: 2 multiplies, 1 add per element, and a negation for "
                "half of them", out_elements=3, rows=1),
    mha=rule("the module row: its parts are priced in their own rows"),
)

_EXACT_TOKENS = dict(
    **{op: rule("one add per element", out_elements=1) for op in ("position_embedding", "position_lookup")},
    moe_gating=rule("per token: softmax over E (3E - 1), top-k (k(E - 1) comparisons), renormalise "
                    "(2k - 1) (calc.layers.moe.gating_flops)", window=1),
    moe_linear=rule("(2a - 1) per output of each routed (token, expert) pair, + bias", macs=2,
                    dot_outputs=-1, bias_adds=1),
    moe_expert_linear=rule("(2a - 1) per output of each routed (token, expert) pair, + bias (one "
                           "expert's F.linear, the eager loop)", macs=2, dot_outputs=-1, bias_adds=1),
    moe_router=rule("(2*d - 1)*E per token, +E with bias, as linear", macs=2, dot_outputs=-1, bias_adds=1),
    moe_combine=rule("k multiplies and k - 1 adds per feature of a token", in_elements=2, out_elements=-1),
)

_MHA_PROJECTIONS = ("mha_in_proj", "mha_fast_in_proj", "mha_fast_out_proj")
"""nn.MultiheadAttention's projections (calc.layers.attention): linear layers, named apart
because tools see them differently (the in-projection reads a transposed input; the fast path)."""

_EXACT_MHA = dict(
    **{op: rule("(2*Cin - 1)*Cout, +Cout with bias, as linear", macs=2, dot_outputs=-1, bias_adds=1)
       for op in _MHA_PROJECTIONS},
    mha_fast_bmm=rule("k products and k-1 adds per output, as bmm", macs=2, dot_outputs=-1),
    mha_fast_baddbmm=rule("k products and k-1 adds per score, + one add of the mask, as baddbmm",
                          macs=2, dot_outputs=-1, bias_adds=1),
)

_EXACT_ACTIVATIONS = dict(
    relu=rule("max(x, 0)", out_elements=1),
    relu6=rule("min(max(x, 0), 6)", out_elements=2),
    leaky_relu=rule("compare, multiply", out_elements=2),
    prelu=rule("compare, multiply", out_elements=2),
    elu=rule("compare, exp, subtract, multiply", out_elements=4),
    sigmoid=rule("negate, exp, add, divide", out_elements=4),
    tanh=rule("one transcendental", out_elements=1),
    hardsigmoid=rule("add, max, min, divide", out_elements=4),
    hardswish=rule("hardsigmoid then multiply", out_elements=5),
    silu=rule("sigmoid then multiply", out_elements=5),
    gelu=rule("divide, erf, add, multiply, multiply", out_elements=5),
    softmax=rule("exp each, n-1 adds and n divides per row", out_elements=3, rows=-1),
)

EXACT = Convention(
    name="exact",
    title="Every multiply and every add",
    source="docs/derivations.md, calc derive conv (seed 000's 2*Cin*K^2-1 without bias, 2*Cin*K^2 with)",
    rules=per_op(
        ZERO,
        conv=rule("n products, n-1 adds per output, +1 bias add", macs=2, dot_outputs=-1, bias_adds=1),
        deconv=rule("products reaching the output, adds to accumulate them, bias", macs=2, dot_outputs=-1, bias_adds=1),
        linear=rule("(2*Cin - 1)*Cout, +Cout with bias", macs=2, dot_outputs=-1, bias_adds=1),
        conv1d=rule("transformers' Conv1D, as linear: (2*Cin - 1)*Cout, +Cout with bias", macs=2,
                    dot_outputs=-1, bias_adds=1),
        batchnorm=rule("inference x*scale + shift, scale and shift per channel", out_elements=2),
        maxpool=rule("K^2 - 1 comparisons per output", window=1, out_elements=-1),
        avgpool=rule("K^2 - 1 adds and one divide per output", window=1),
        adaptive_avgpool=rule("window - 1 adds and one divide per output", window=1),
        adaptive_maxpool=rule("window - 1 comparisons per output", window=1, out_elements=-1),
        add=rule("one add per extra operand per element", merge_ops=1),
        mul=rule("one multiply per extra operand per element", merge_ops=1),
        upsample_bilinear=rule("4 weighted products and 3 adds per output", window=2, out_elements=-1),
        **_EXACT_ACTIVATIONS,
        **_EXACT_NORMS,
        **_EXACT_TENSOR,
        **_EXACT_ATTENTION,
        **_EXACT_MHA,
        **_EXACT_TOKENS,
    ),
    notes=(
        "Pooling windows are nominal: padded positions are counted as visited.",
        "Batch norm is priced unfolded; use fold_bn to fold it into the previous conv/linear.",
        "Data movement (concat, flatten, dropout, channel shuffle, nearest upsample) costs 0.",
    ),
)

def _skipping_masked(op: str) -> Rule:
    """EXACT's rule for `op`, less what a causal or sliding-window mask makes unnecessary: the
    masked products and their adds (masked_macs, masked_outputs), the masked score entries'
    scaling and softmax terms, and the mask itself.  Operations outside attention have no
    masked entries: their rules are EXACT's in effect."""
    base = EXACT.rules[op]
    if op.endswith("_mask"):
        return rule("no mask to apply: masked entries are never computed")
    extra: dict[str, int] = {}
    if any(c.value == "macs" for c, _ in base.terms):
        extra = dict(masked_macs=-2, masked_outputs=1)  # k products, k - 1 adds per kept output
        if op.endswith("baddbmm"):
            extra["bias_adds"] = -1  # and no mask to add
    elif op.endswith("_scale"):
        extra = dict(masked_outputs=-1)
    elif op.endswith("softmax"):
        extra = dict(masked_outputs=-3)
    if not extra:
        return base
    terms = {c.value: k for c, k in base.terms}
    for name, k in extra.items():
        terms[name] = terms.get(name, 0) + k
    return rule(base.note + "; masked entries skipped", **terms)


NEEDED = Convention(
    name="needed",
    title="Every multiply and add a masked attention needs",
    source="calc.layers.attention.visible_pairs: causal and sliding-window masks",
    rules={op: _skipping_masked(op) for op in EXACT.rules},
    notes=(
        "As 'exact', except that products, scales and softmax terms of attention entries a causal "
        "or sliding-window mask discards are not counted (a kernel that skips them, as "
        "FlashAttention's causal mode skips whole blocks; dense kernels compute them).",
        "The MACs column stays the dense count; compare the two conventions to see the saving.",
    ),
)

TWO_MAC = Convention(
    name="2mac",
    title="FLOPs = 2 x MACs",
    source="seed 001 (FLOPs = 2*H*W*Cin*K*K*Cout); common in papers",
    training=3,  # the usual "backward = 2 x forward": a gradient for the input and one for the weights
    rules=per_op(
        rule("only dot-product layers are counted"),
        conv=rule("2 per multiply-accumulate, bias ignored", macs=2),
        deconv=rule("2 per multiply-accumulate, bias ignored", macs=2),
        linear=rule("2 per multiply-accumulate, bias ignored", macs=2),
        conv1d=rule("2 per multiply-accumulate, bias ignored (transformers' Conv1D)", macs=2),
        **{op: rule("2 per product of a matmul, einsum or attention product", macs=2)
           for op in ("matmul", "matmul_operator", "bmm", "einsum", "einsum_n", "baddbmm",
                      "sdpa_scores", "sdpa_context", "moe_linear", "moe_expert_linear", "moe_router")},
        **{op: rule("2 per multiply-accumulate, bias ignored (nn.MultiheadAttention's projections)", macs=2)
           for op in _MHA_PROJECTIONS},
        mha_fast_bmm=rule("2 per product, as bmm", macs=2),
    ),
)

MACC = Convention(
    name="macc",
    title="MACs for dot products, per-element FLOPs elsewhere",
    source="seed 003 (CNN layer MACC/FLOPs table): relu 1, sigmoid 4, pooling per window, BN folded",
    rules=per_op(
        ZERO,
        conv=rule("multiply-accumulates", macs=1),
        deconv=rule("multiply-accumulates", macs=1),
        linear=rule("multiply-accumulates", macs=1),
        conv1d=rule("multiply-accumulates (transformers' Conv1D)", macs=1),
        batchnorm=rule("folded into the previous layer at inference"),
        **{op: rule("multiply-accumulates (products)", macs=1)
           for op in ("matmul", "matmul_operator", "bmm", "einsum", "einsum_n", "baddbmm",
                      "sdpa_scores", "sdpa_context", "moe_linear", "moe_expert_linear", "moe_router")},
        **{op: rule("multiply-accumulates (nn.MultiheadAttention's projections)", macs=1)
           for op in _MHA_PROJECTIONS},
        mha_fast_bmm=rule("multiply-accumulates, as bmm", macs=1),
        scale=rule("a layer scale folds into the previous layer at inference, like batch norm"),
        relu=rule("seed: H*W*C", out_elements=1),
        relu6=rule("as relu", out_elements=1),
        leaky_relu=rule("as relu", out_elements=1),
        prelu=rule("seed: H*W*C", out_elements=1),
        elu=rule("seed: H*W*C", out_elements=1),
        sigmoid=rule("seed: H*W*C*4", out_elements=4),
        tanh=_EXACT_ACTIVATIONS["tanh"],
        hardsigmoid=_EXACT_ACTIVATIONS["hardsigmoid"],
        hardswish=_EXACT_ACTIVATIONS["hardswish"],
        silu=_EXACT_ACTIVATIONS["silu"],
        gelu=_EXACT_ACTIVATIONS["gelu"],
        softmax=_EXACT_ACTIVATIONS["softmax"],
        **{op: _EXACT_ATTENTION[op] for op in ("sdpa_softmax", "attn_scale", "attn_mask", "sdpa_scale",
                                                "sdpa_mask", "rotary")},
        **_EXACT_NORMS,
        maxpool=rule("seed: Hout*Wout*Cout*K*K", window=1),
        avgpool=rule("seed: Hout*Wout*Cout*K*K", window=1),
        adaptive_avgpool=rule("seed: global pool Hin*Win*Cin", window=1),
        adaptive_maxpool=rule("seed: global pool Hin*Win*Cin", window=1),
    ),
    notes=(
        "Activations the seed does not list (tanh, hardswish, hardsigmoid, silu, gelu, softmax) "
        "are priced as in 'exact'.",
        "Layer, group, instance and RMS norms are not in the seed's table and are priced as in "
        "'exact' (their statistics are per sample: nothing to fold at inference).",
        "Element-wise add/mul and data movement are not in the seed's table and cost 0.",
    ),
)

PARAMS_X_PIXELS = Convention(
    name="params-x-pixels",
    title="FLOPs = parameters x output pixels",
    source="seed 004 (conv FLOPs = params * Hout * Wout; linear FLOPs = params)",
    rules=per_op(
        rule("the seed's rule covers conv and linear layers only"),
        conv=rule("(Cin/g*K^2*Cout + Cout) * Hout*Wout", macs=1, bias_adds=1),
        deconv=rule("products plus bias adds, by analogy", macs=1, bias_adds=1),
        linear=rule("Cin*Cout + Cout", macs=1, bias_adds=1),
        conv1d=rule("Cin*Cout + Cout (transformers' Conv1D, a linear layer)", macs=1, bias_adds=1),
        **{op: rule("Cin*Cout + Cout: nn.MultiheadAttention's projections are linear layers",
                    macs=1, bias_adds=1) for op in _MHA_PROJECTIONS},
        moe_linear=rule("Cin*Cout + Cout per routed (token, expert) pair: expert linear layers",
                        macs=1, bias_adds=1),
        **{op: rule("Cin*Cout + Cout per row: linear layers (the MoE router; one expert's F.linear)",
                    macs=1, bias_adds=1) for op in ("moe_router", "moe_expert_linear")},
    ),
)

SEED_CONVENTIONS = (EXACT, NEEDED, TWO_MAC, MACC, PARAMS_X_PIXELS)
