"""Conventions that reproduce what profilers report, one table entry per tool.

Every rule was read from the tool's source and checked against figures produced by the real
tool (tests/fixtures/profilers/, made by tools/oracle/make_fixtures.py); docs/profilers.md
gives the source file of each rule and the decomposition of whole-model totals.
Counters: see calc.tally.  Element-wise add/mul in a spec stand for the operators `x + y`,
`x * y` of a PyTorch forward (torchvision's residual sums and squeeze-excitation scales), which
none of these tools counts.
"""

from __future__ import annotations

from dataclasses import replace

from calc.conventions.base import ZERO, Convention, Rule, per_op, refused, rule

# Attention (calc.layers.attention): the primitives a model's attention runs, by how PyTorch
# computes them.  Every rule below was checked against tests/fixtures/profilers/attention/ (made
# by tools/oracle/attention.py; per-part formulas in docs/notes/attention-oracle.md).
_MHA_PROJECTIONS = ("mha_in_proj", "mha_fast_in_proj", "mha_fast_out_proj")
_SDPA = ("sdpa_scores", "sdpa_scale", "sdpa_mask", "sdpa_softmax", "sdpa_context")
_ELEMENTWISE = ("attn_scale", "attn_mask", "rotary")


def _each(ops: tuple[str, ...], r: Rule) -> dict[str, Rule]:
    return dict.fromkeys(ops, r)

# Hugging Face mixtures of experts (calc.layers.moe; tests/fixtures/profilers/hf/mixtral_*.json, made
# by tools/oracle/hf_models.py with transformers 5.24.0): moe_router is MixtralTopKRouter, a custom
# module holding a `weight` that it applies by F.linear to the (tokens, d) flattened input
# (modeling_mixtral.py:104-111); moe_expert_linear is one expert's F.linear on the tokens routed to
# it, as experts_implementation "eager" runs them (modeling_mixtral.py:81-91, a loop over the experts
# hit).  The experts' summed products are tokens * top_k * (3 d f): each token visits top_k
# distinct experts, so no figure below depends on the routing.  moe_linear is the default
# "grouped_mm" implementation (transformers/integrations/moe.py), which no tool prices.

THOP = Convention(
    name="thop",
    title="thop 0.1.1 profile() (PyPI 'thop', pytorch-OpCounter)",
    source="thop 0.1.1.post2209072238: thop/profile.py, thop/vision/basic_hooks.py, calc_func.py",
    rules=per_op(
        rule("not registered, or a functional call (never counted)"),
        conv=rule("out * (Cin/g) * prod(K); bias ignored", macs=1),
        deconv=rule("NB: priced like a forward conv on the output, out * (Cin/g) * prod(K)", macs_at_outputs=1),
        linear=rule("in_features * out; bias ignored", macs=1),
        conv1d=rule("NB: 0, transformers' Conv1D is not a key of register_hooks (profile.py:21-66, "
                    "looked up by exact type :188) and its torch.addmm is a function"),
        **_each(("moe_router", "moe_expert_linear"),
                rule("NB: 0, F.linear on the router's or the experts' own parameters: a functional "
                     "call inside a module that is no key of register_hooks (profile.py:21-66)")),
        batchnorm=rule("2*in, doubled when affine", in_elements=2, affine_in=2),
        layernorm=rule("count_normalization: 2*in, doubled when elementwise_affine (bias or not)",
                       in_elements=2, affine_in=2),
        instancenorm=rule("count_normalization: 2*in, doubled when affine", in_elements=2, affine_in=2),
        layernorm2d=rule("NB: 0, hooks are looked up by exact type and a LayerNorm subclass "
                         "(torchvision/timm LayerNorm2d) is not a key of register_hooks"),
        groupnorm=rule("NB: 0, nn.GroupNorm is not in register_hooks"),
        rmsnorm=rule("NB: 0, nn.RMSNorm is not in register_hooks"),
        **{op: rule("NB: 0, torch.matmul / @ / bmm / einsum and x * gamma are no modules: "
                    "thop counts module hooks only (profile.py register_hooks)")
           for op in ("matmul", "matmul_operator", "bmm", "einsum", "einsum_n", "scale")},
        embedding=rule("NB: 0, nn.Embedding is not in register_hooks (a gather; its params are not "
                       "counted either: total_params sums hooked modules only)"),
        prelu=rule("in (eval mode, which profile() sets)", in_elements=1),
        softmax=rule("(in/n)(3n-1): n exp, n-1 adds, n divides per row", in_elements=3, rows=-1),
        avgpool=rule("one op per output; kernel ignored", out_elements=1),
        adaptive_avgpool=rule("(prod(I/O) + 1) * out = in + out (float64, exact here)", in_elements=1, out_elements=1),
        upsample_nearest=rule("out", out_elements=1),
        upsample_bilinear=rule("11 * out", out_elements=11),
        mha=rule("NB: 0, nn.MultiheadAttention is not in register_hooks (profile.py:21-66, looked up "
                 "by exact type :188); its out_proj, a NonDynamicallyQuantizableLinear, is never "
                 "called as a module"),
        **_each(_MHA_PROJECTIONS, rule("F.linear inside F.multi_head_attention_forward: a functional "
                                       "call, never counted")),
        **_each(("baddbmm", "mha_fast_bmm", "mha_fast_baddbmm", *_SDPA, *_ELEMENTWISE),
                rule("NB: 0, torch.bmm/baddbmm, F.scaled_dot_product_attention, F.softmax and the "
                     "operators of scale, mask and rotary embedding are no modules")),
    ),
    notes=(
        "ReLU/ReLU6/LeakyReLU and max pools have zero-op hooks; ELU, Sigmoid, Tanh, Hardswish, "
        "Hardsigmoid, SiLU, GELU have no hook; residual adds and cat are functional: all 0.",
        "ultralytics-thop 2.2.3 differs: transposed conv = true macs (macs_all); avg pool and "
        "adaptive avg pool = clipped window sum + out; nearest upsample 0; it counts every "
        "module, containers included, with no pruning at hooked parents.",
        "thop returns a float; figures here are the exact integers it rounds.",
    ),
    functional_default=rule("functional calls and tensor methods are never counted"),
    method_default=rule("functional calls and tensor methods are never counted"),
)

FVCORE = Convention(
    name="fvcore",
    title="fvcore FlopCountAnalysis (one fused multiply-add = one flop)",
    source="fvcore 0.1.5.post20221221: fvcore/nn/flop_count.py, jit_handles.py",
    rules=per_op(
        rule("0; reported by unsupported_ops() unless in the ignore list (relu, dropout, cat, views)"),
        conv=rule("aten::_convolution: N * prod(w) * S_out; NB: 0 with string padding ('same', "
                  "'valid'), which PyTorch runs as aten::_convolution_mode: no handle, reported",
                  macs=1, string_padded_macs=-1),
        embedding=rule("NB: 0, aten::embedding has no handle: reported by unsupported_ops()"),
        deconv=rule("aten::_convolution transposed: N * prod(w) * S_in (cropped products included)", macs_all=1),
        linear=rule("aten::linear: in * out_features; bias ignored", macs=1),
        conv1d=rule("aten::addmm addmm_flop_jit (jit_handles.py:82-99, flop_count.py:27): "
                    "rows * Cin * Cout; bias ignored", macs=1),
        **_each(("moe_router", "moe_expert_linear"),
                rule("F.linear traces as aten::linear, linear_flop_jit (jit_handles.py:99-110, "
                     "flop_count.py:33): rows * in * out; bias ignored", macs=1)),
        batchnorm=rule("eval: in, doubled when affine (training mode would be 5*in)", in_elements=1, affine_in=1),
        **{op: rule(f"aten::{aten}: in * (5 if weight else 4) (norm_flop_counter, 'a rough estimate')",
                    in_elements=4, affine_in=1)
           for op, aten in (("layernorm", "layer_norm"), ("layernorm2d", "layer_norm (permutes free)"),
                            ("groupnorm", "group_norm"), ("instancenorm", "instance_norm"))},
        rmsnorm=rule("NB: 0, aten::rms_norm has no handle (reported as unsupported)"),
        **{op: rule(f"NB: {aten} matmul_flop_jit (jit_handles.py:217-227): prod(first operand) "
                    "* second's last axis, short when the first operand is broadcast", lhs_macs=1)
           for op, aten in (("matmul", "aten::matmul"), ("matmul_operator", "@ traces as aten::matmul"))},
        bmm=rule("aten::bmm bmm_flop_jit (jit_handles.py:113-124): n * c * t * d = macs", macs=1),
        einsum=rule("aten::einsum einsum_flop_jit (jit_handles.py:174-214): floor(numpy "
                    "einsum_path's optimized count / 2) = floor((2P + 1) / 2) = P for two operands "
                    "with a summed index (a float in its total)", macs=1),
        einsum_n=refused("fvcore prices a 1- or 3-operand einsum, or one with no summed index, by "
                         "numpy's optimal contraction path (jit_handles.py:207-213): not emulated"),
        scale=rule("NB: 0, x * gamma is aten::mul, which has no handle (reported as unsupported)"),
        adaptive_avgpool=rule("aten::adaptive_avg_pool2d: in", in_elements=1),
        upsample_nearest=rule("aten::upsample_nearest2d: out", out_elements=1),
        upsample_bilinear=rule("aten::upsample_bilinear2d: 4 * out", out_elements=4),
        **_each(_MHA_PROJECTIONS, rule("aten::linear (jit_handles.py:99-110): in * out_features, bias "
                                       "ignored; traced with grad enabled, so never the fast path",
                                       macs=1)),
        mha_fast_bmm=rule("aten::bmm bmm_flop_jit (jit_handles.py:113-124): macs; traced with grad "
                          "enabled, so never the fast path", macs=1),
        **_each(("baddbmm", "mha_fast_baddbmm"),
                rule("NB: 0, aten::baddbmm (nn.MultiheadAttention's masked scores) has no handle "
                     "(flop_count.py:26-44): reported by unsupported_ops()")),
        **_each(_SDPA, rule("NB: 0, aten::scaled_dot_product_attention has no handle: reported by "
                            "unsupported_ops()")),
        **_each(_ELEMENTWISE, rule("NB: 0, aten::mul, add, neg have no handle (reported); cat is "
                                   "ignored")),
        mha=rule("the module itself: its traced ops are priced in their own rows"),
    ),
    notes=(
        "A conv with padding 'same' or 'valid' is aten::_convolution_mode, which fvcore 0.1.5 has "
        "no handle for: 0, reported as unsupported (tests/fixtures/profilers/fidelity/).",
        "Unsupported and reported (counted 0): relu6 (hardtanh), leaky_relu, prelu, elu, sigmoid, "
        "tanh, hardswish, hardsigmoid, silu, gelu, softmax, max/avg pools, adaptive max pool, "
        "add and mul operators, in-place dropout.",
        "Ignored silently: relu, dropout, cat, flatten, views (channel shuffle).",
        "Counts in the model's current mode: figures here are eval mode.",
    ),
    method_default=rule("aten::mean and other tensor reductions are unsupported: 0"),
)

def _hook(note: str, *, power: int = 1, functional: dict[str, int] | None = None, **hook: int) -> Rule:
    """A ptflops module: its hook's count divided by the batch (by N**power), plus the count of
    the patched functional its forward calls (functional, not divided)."""
    return rule(note, per_batch=hook, batch_power=power, **(functional or {}))


PTFLOPS = Convention(
    name="ptflops",
    title="ptflops get_model_complexity_info, pytorch backend (defaults)",
    source="ptflops 0.7.5: ptflops/pytorch_engine.py, ptflops/pytorch_ops.py",
    rules=per_op(
        rule("no hook and no patched functional"),
        conv=_hook("hook: macs + bias * out, / N", macs=1, bias_adds=1),
        deconv=_hook("hook: N * S_in * prod(K) * Cin * Cout/g + bias * out, / N", macs_all=1, bias_adds=1),
        linear=_hook("hook: macs + bias * out, / N", macs=1, bias_adds=1),
        conv1d=rule("NB: transformers' Conv1D has no hook; its torch.addmm is patched "
                    "(pytorch_engine.py:445-447), _addmm_tensor_flops_hook (pytorch_ops.py:390-394): "
                    "rows * Cin * Cout + the bias tensor's Cout elements once, not divided by N",
                    macs=1, calflops_bias_adds=1),
        **_each(("moe_router", "moe_expert_linear"),
                rule("NB: 0, a custom module has no hook and F.linear is not patched "
                     "(pytorch_engine.py:349 commented out)")),
        embedding=rule("NB: 0, nn.Embedding is not in MODULES_MAPPING and F.embedding is not patched"),
        batchnorm=_hook("hook: in, doubled when affine, / N", in_elements=1, affine_in=1),
        groupnorm=_hook("bn_flops_counter_hook: in, doubled when affine, / N", in_elements=1, affine_in=1),
        instancenorm=_hook("bn_flops_counter_hook: in, doubled when affine, / N", in_elements=1, affine_in=1),
        layernorm=_hook("NB: bn_flops_counter_hook: in / N, never doubled (it tests "
                        "module.affine; nn.LayerNorm has elementwise_affine)", in_elements=1),
        layernorm2d=rule("NB: 0, hooks are looked up by exact type (a LayerNorm subclass has none) "
                         "and F.layer_norm is not patched"),
        rmsnorm=rule("NB: 0, nn.RMSNorm has no hook"),
        **{op: rule(f"{f} patched, _matmul_tensor_flops_hook (pytorch_ops.py:385-387, 454-459): "
                    "prod(first operand) * second's last axis, not divided by N", lhs_macs=1)
           for op, f in (("matmul", "torch.matmul / Tensor.matmul"), ("bmm", "torch.bmm"))},
        matmul_operator=rule("NB: 0, the @ operator (Tensor.__matmul__) is not patched"),
        einsum=rule("NB: 0, torch.einsum is not patched (pytorch_ops.py TENSOR_OPS_MAPPING)"),
        einsum_n=rule("NB: 0, torch.einsum is not patched (pytorch_ops.py TENSOR_OPS_MAPPING)"),
        scale=rule("NB: 0, torch.mul is patched (pytorch_ops.py:465) but the * operator is not"),
        relu=_hook("NB: counted twice, hook (out / N) + patched F.relu (in)", out_elements=1,
                   functional=dict(in_elements=1)),
        prelu=_hook("NB: counted twice, hook (out / N) + patched F.prelu (in)", out_elements=1,
                    functional=dict(in_elements=1)),
        elu=_hook("NB: counted twice, hook (out / N) + patched F.elu (in)", out_elements=1,
                  functional=dict(in_elements=1)),
        gelu=_hook("NB: counted twice, hook (out / N) + patched F.gelu (in)", out_elements=1,
                   functional=dict(in_elements=1)),
        relu6=_hook("hook only, out / N (nn.ReLU6 calls the unpatched F.hardtanh)", out_elements=1),
        leaky_relu=_hook("hook only, out / N (F.leaky_relu is not patched)", out_elements=1),
        silu=rule("patched F.silu only (no hook): in", in_elements=1),
        moe_gating=rule("patched F.softmax on the router's (tokens, E) logits (MixtralTopKRouter, "
                        "modeling_mixtral.py:107): tokens * E; topk and the renormalising sum and "
                        "divide are not patched", in_elements=1),
        softmax=rule("patched F.softmax only (no hook): in", in_elements=1),
        **{op: _hook(f"NB: counted twice, hook (in / N) + patched F.{name} (in)", in_elements=1,
                     functional=dict(in_elements=1))
           for op, name in (("maxpool", "max_pool"), ("avgpool", "avg_pool"),
                            ("adaptive_avgpool", "adaptive_avg_pool"),
                            ("adaptive_maxpool", "adaptive_max_pool"))},
        **{op: _hook("NB: counted twice, hook on output[0] (one sample, out / N) then / N, + patched "
                     "F.interpolate (out)", power=2, out_elements=1, functional=dict(out_elements=1))
           for op in ("upsample_nearest", "upsample_bilinear")},
        mha=_hook("nn.MultiheadAttention hook (pytorch_ops.py:180-243, MODULES_MAPPING :320), / N: "
                  "q scaling T*d + T*d^2 + S*kdim^2 + S*vdim^2 (kdim*kdim, not kdim*d) + in-projection "
                  "bias (T+2S)*d + H*T*S*(d//H + 1 + vdim//H) (scores, softmax, weighted sum; masks "
                  "ignored) + T*vdim*(vdim+1) (out projection, bias always), times N; whether or "
                  "not the fast path runs. The batch N is the tool's batch counter for one "
                  "positional input (pytorch_engine.py:267-277); inputs passed by keyword make it 1",
                  lhs_macs=1, in_elements=1, window=1, bias_adds=1),
        **_each(_MHA_PROJECTIONS, rule("NB: 0, F.linear is not patched (pytorch_engine.py:349 "
                                       "commented out): priced inside the nn.MultiheadAttention hook")),
        mha_fast_bmm=rule("torch.bmm patched (pytorch_engine.py:441-443), _matmul_tensor_flops_hook "
                          "(pytorch_ops.py:385-387): prod(first operand) * last axis, not divided "
                          "by N; NB: counted again by the module hook; grad enabled, no fast path",
                          lhs_macs=1),
        **_each(("baddbmm", "mha_fast_baddbmm"),
                rule("torch.baddbmm patched (pytorch_engine.py:448-449), _addmm_tensor_flops_hook "
                     "(pytorch_ops.py:390-394): prod(q) * S + elements of the mask as passed, "
                     "(1, T, S), not divided by N; NB: counted again by the module hook",
                     lhs_macs=1, calflops_bias_adds=1)),
        **_each(_SDPA, rule("NB: 0, F.scaled_dot_product_attention is not patched")),
        **_each(_ELEMENTWISE, rule("NB: 0, the operators *, +, neg and torch.cat are not patched "
                                   "(torch.mul/add method calls are)")),
    ),
    notes=(
        "Operators x + y, x * y do not reach the patched torch.add/mul: residual sums and gates cost 0.",
        "Sigmoid, Tanh, Hardswish, Hardsigmoid, Dropout, Flatten have no hook: 0.",
        "Batch N: the total is int(H / N + F), H the module hooks' counts, F the patched "
        "functionals' (pytorch_engine.py: compute_average_flops_cost, get_flops_pytorch); "
        "each hook's count carries a factor N, except nn.Upsample's, which counts output[0], one "
        "sample: at a batch that does not divide it the figure is a fraction, which is refused.",
    ),
    functional={
        op: rule(f"patched F.{op}: in", in_elements=1)
        for op in ("relu", "prelu", "elu", "relu6", "gelu", "silu", "softmax", "maxpool", "avgpool",
                   "adaptive_avgpool", "adaptive_maxpool")
    } | {
        op: rule("patched F.interpolate: out", out_elements=1)
        for op in ("upsample_nearest", "upsample_bilinear")
    },
    functional_default=rule("functional not patched by ptflops: 0"),
    method_default=rule("tensor methods (x.mean) are not patched: 0"),
)

PTFLOPS_ATEN = Convention(
    name="ptflops-aten",
    title="ptflops get_model_complexity_info, backend='aten'",
    source="ptflops 0.7.5: ptflops/aten_engine.py, ptflops/aten_ops.py",
    rules=per_op(
        rule("only mm/matmul/addmm/bmm/convolution are counted"),
        conv=rule("aten.convolution: macs + bias * out", macs=1, bias_adds=1),
        deconv=rule("aten.convolution (transposed): N * S_in * prod(K) * Cin * Cout/g + bias * out",
                    macs_all=1, bias_adds=1),
        linear=rule("aten.addmm / mm: macs + bias * out", macs=1, bias_adds=1),
        conv1d=rule("aten.addmm addmm_flop (aten_ops.py:36-54, mapped :112): macs + bias * out",
                    macs=1, bias_adds=1),
        **_each(("moe_router", "moe_expert_linear"),
                rule("F.linear on a 2-D (tokens, d) input: aten.mm (aten_ops.py:23-33, mapped :110), "
                     "or aten.addmm with a bias (:36-54): macs + bias * out", macs=1, bias_adds=1)),
        embedding=rule("NB: 0, aten.embedding is not in ATEN_OPS_MAPPING"),
        **{op: rule("aten.mm / bmm after torch.matmul's decomposition (aten_ops.py:23-33, 57-68, "
                    "110-113): prod(a) * b[-1] on the expanded operands = macs", macs=1)
           for op in ("matmul", "matmul_operator", "bmm")},
        einsum=rule("torch.einsum runs two operands as aten.bmm: macs", macs=1),
        einsum_n=refused("ptflops-aten on a 1- or 3-operand einsum, or one with no summed index: "
                         "which aten ops torch.einsum runs is not emulated"),
        **_each(("mha_in_proj", "mha_fast_in_proj"),
                rule("NB: nn.MultiheadAttention's in-projection reads the batch-first input "
                     "transposed, (T, N, d): contiguous only when N = 1 or T = 1, where ATen's "
                     "linear runs aten.addmm (aten_ops.py:36-54), macs + bias * out; otherwise "
                     "aten.mm (:23-33) + aten.add, which is not mapped (:109-116): the bias adds "
                     "(merge_ops) unpriced", macs=1, bias_adds=1, merge_ops=-1)),
        mha_fast_out_proj=rule("aten.addmm on the 2-D contiguous context (aten_ops.py:36-54): macs "
                               "+ bias * out; grad enabled, never the fast path", macs=1, bias_adds=1),
        mha_fast_bmm=rule("aten.bmm (aten_ops.py:57-68): macs; grad enabled, never the fast path", macs=1),
        **_each(("baddbmm", "mha_fast_baddbmm"),
                rule("NB: 0, aten.baddbmm (nn.MultiheadAttention's masked scores) is not in "
                     "ATEN_OPS_MAPPING (aten_ops.py:109-116)")),
        **_each(_SDPA, rule("NB: 0, on CPU SDPA runs aten._scaled_dot_product_flash_attention_for_cpu, "
                            "not mapped (the math backend's bmm, under sdpa_kernel(MATH), would be "
                            "counted: not emulated)")),
    ),
)

TORCHINFO = Convention(
    name="torchinfo",
    title="torchinfo summary() total_mult_adds",
    source="torchinfo 1.8.0: torchinfo/layer_info.py (LayerInfo.calculate_macs)",
    rules=per_op(
        rule("derived from parameters: a layer without parameters is 0"),
        conv=rule("weight.numel * N * S_out + bias * out", macs=1, bias_adds=1),
        deconv=rule("NB: weight.numel * N * S_out + bias * out (output positions, like a forward conv)",
                    macs_at_outputs=1, bias_adds=1),
        linear=rule("N * params: dims between batch and features are ignored", batch_params=1),
        conv1d=rule("NB: calculate_macs (layer_info.py:225-245) takes its convolution branch for "
                    "a class name containing 'Conv' (:237-240): params * output[0] * prod(output[2:]), "
                    "(N, T, Cout) read as N, T channels, Cout positions", macs_at_outputs=1),
        moe_router=rule("NB: MixtralTopKRouter holds a parameter named weight: calculate_macs "
                        "(layer_info.py:241-242) charges output[0] * params, its output (tokens, E) "
                        "flattened: tokens * (d*E + bias*E) = macs + bias adds", macs=1, bias_adds=1),
        moe_expert_linear=rule("NB: 0, the experts' parameters gate_up_proj and down_proj are named "
                               "neither weight nor bias, nor contain them (layer_info.py:235, 244)"),
        position_lookup=rule("NB: nn.Embedding on position ids of shape (1, T) (Hugging Face GPT-2's "
                             "wpe, BERT's position_embeddings): calculate_macs (layer_info.py:241-242) "
                             "charges output[0] * params, the table once", params=1),
        batchnorm=rule("N * params (2C when affine, else 0)", batch_params=1),
        **{op: rule("N * params (weight and bias when affine, else 0)", batch_params=1)
           for op in ("layernorm", "layernorm2d", "rmsnorm", "groupnorm", "instancenorm")},
        prelu=rule("N * num_parameters", batch_params=1),
        embedding=rule("NB: N * num_embeddings * embedding_dim: calculate_macs (layer_info.py:233-242) "
                       "charges every module's weight N times, a lookup's table included", batch_params=1),
        scale=rule("NB: 0, calculate_macs (layer_info.py:225-245) counts parameters named weight "
                   "or bias only; a layer scale's is gamma / layer_scale"),
        mha=rule("NB: 0, nn.MultiheadAttention is no leaf (its child out_proj never runs as a "
                 "module, so has no row): its parameters are in total_params, its MACs nowhere"),
        **_each(_MHA_PROJECTIONS, rule("F.linear on the module's weights: no leaf module, 0")),
    ),
    functional_default=rule("no module, no parameters: 0"),
    method_default=rule("no module, no parameters: 0"),
)

TORCH = Convention(
    name="torch",
    title="torch.utils.flop_counter.FlopCounterMode (2 FLOPs per multiply-accumulate)",
    source="torch 2.14.1: torch/utils/flop_counter.py",
    rules=per_op(
        rule("no registered formula"),
        conv=rule("2 * N * S_out * prod(w); bias ignored", macs=2),
        deconv=rule("2 * N * S_in * prod(w) (cropped products included)", macs_all=2),
        linear=rule("2 * macs (addmm/mm); bias ignored", macs=2),
        conv1d=rule("aten.addmm addmm_flop (flop_counter.py:171-174, mapped :824): 2 * macs; bias ignored", macs=2),
        **_each(("moe_router", "moe_expert_linear"),
                rule("F.linear: aten.mm / addmm (flop_counter.py:159-174): 2 * macs; bias ignored",
                     macs=2)),
        **{op: rule("aten.mm / aten.bmm after decomposition, 2 * m * n * k (flop_counter.py:159-190): "
                    "2 * macs (broadcast operands expanded)", macs=2)
           for op in ("matmul", "matmul_operator", "bmm")},
        einsum=rule("torch.einsum runs two operands as aten.bmm: 2 * macs", macs=2),
        embedding=rule("NB: 0, no formula is registered for aten.embedding"),
        einsum_n=refused("FlopCounterMode on a 1- or 3-operand einsum, or one with no summed index: "
                         "which aten ops torch.einsum runs is not emulated"),
        mha_in_proj=rule("aten.mm (+ aten.add, no formula): 2 * macs (flop_counter.py:159-169); bias "
                         "ignored", macs=2),
        baddbmm=rule("aten.baddbmm (flop_counter.py:191-196): 2 * macs, the added mask ignored; "
                     "dense, causal masks are not discounted", macs=2),
        **_each(("mha_fast_in_proj", "mha_fast_out_proj", "mha_fast_bmm", "mha_fast_baddbmm"),
                rule("NB: 0, under torch.no_grad() (how the fixtures' runner calls FlopCounterMode) an "
                     "eval-mode nn.MultiheadAttention runs as one aten._native_multi_head_attention "
                     "(activation.py:1434), which has no formula; with grad enabled it does not: "
                     "state fast_path: false")),
        **_each(_SDPA, rule("NB: 0 on CPU: SDPA runs aten._scaled_dot_product_flash_attention_for_cpu, "
                            "which has no formula (flop_counter.py:397-403 registers the GPU flash, "
                            "efficient and cudnn kernels only, dense); the CPU figure is emulated")),
    ),
    notes=("No formula is registered for aten layer_norm, group_norm, native_*_norm, rms_norm: "
           "normalisations count 0.",),
)

def _backward_of_torch(forward: dict) -> dict:
    """FlopCounterMode's training step per operation (docs/notes/training-oracle.md,
    tests/fixtures/profilers/training/): it has no backward factor but counts the aten ops
    autograd runs.  A product of 2 * macs (mm, addmm, bmm, convolution) is followed by one for
    the weight's (or the second operand's) gradient and one for the input's, which the network's
    input does not need: 2 * macs + 2 * macs + 2 * grad_macs; the bias gradient (a sum) and every
    operation without a formula count 0.  Anything else refuses rather than guess."""
    out = {}
    for op, r in forward.items():
        terms = {c.value: k for c, k in r.terms}
        if r.refuse:
            out[op] = r
        elif op.startswith("mha_fast"):
            out[op] = refused("training runs with gradients, so nn.MultiheadAttention takes no fast path "
                              "(activation.py:1434): state fast_path: false")
        elif not terms and not r.per_batch:
            out[op] = rule(f"0 forward and backward: {r.note}")
        elif terms == {"macs": 2}:
            out[op] = rule("forward 2 * macs; backward aten.mm (or convolution_backward, bmm) for the "
                           "weight's gradient, 2 * macs, and for the input's, 2 * grad_macs "
                           "(flop_counter.py:159-196, 264-367)", macs=4, grad_macs=2)
        else:
            out[op] = refused(f"FlopCounterMode's backward of {op} ({r.formula()}) is not emulated")
    return out


TORCH = replace(TORCH, training=_backward_of_torch(TORCH.rules), recompute_choices=("none",), recompute_note=(
    "torch.utils.checkpoint (non-reentrant) stops recomputing once every tensor the backward "
    "needs exists (early_stop=True), so what it recomputes depends on which outputs autograd "
    "saved (docs/notes/training-oracle.md sec. 2)"))

_SDPA_CUDA = ("sdpa_scores", "sdpa_context")
TORCH_CUDA = replace(
    TORCH,
    name="torch-cuda",
    title="FlopCounterMode with SDPA on a GPU (flash, efficient, cudnn kernels): SDPA counted",
    source="torch 2.14.1: torch/utils/flop_counter.py sdpa_flop_count :369-394, "
           "sdpa_backward_flop_count :593-627 (registered :397-403 and :630+ for the GPU kernels)",
    rules={**TORCH.rules, **_each(_SDPA_CUDA, rule(
        "sdpa_flop_count: q k^T and p v, 2 x B x H x S_q x S_k x d each (query heads; causal not "
        "discounted, flop_counter.py:402)", macs=2))},
    training={**TORCH.training, **_each(_SDPA_CUDA, rule(
        "forward 2 x macs, backward sdpa_backward_flop_count: 5 products of the same shape (the "
        "scores again, grad of the scores, of V, of Q, of K) for the 2 of the forward: 2.5 x "
        "forward, 7 x macs per product", macs=7))},
    notes=("On a CPU the default SDPA kernel has no formula (the 'torch' row): this row is the "
           "same model on a GPU; tests/fixtures/profilers/training/attention.json "
           "'with_cuda_sdpa_formulas' maps the GPU formulas onto the CPU kernels to check it.",
           *TORCH.notes),
)

CALFLOPS = Convention(
    name="calflops",
    title="calflops calculate_flops(), its FLOPs figure",
    source="calflops 0.3.2: calflops/pytorch_ops.py, flops_counter.py",
    rules=per_op(
        rule("not patched, or an operator (x + y, x * y)"),
        conv=rule("2 * macs + bias * out, at the size it recomputes (NB: padding 'same' is "
                  "d(K-1)//2 each side: one short where d(K-1) is odd)", calflops_macs=2, calflops_bias_adds=1),
        deconv=rule("NB: 2 * N*S_in*prod(K)*Cin*((Cout/g)//g) + bias * N*(Cout/g)*S', groups divided "
                    "out twice, S' the forward-conv size of the input", calflops_macs=2, calflops_bias_adds=1),
        linear=rule("2 * macs; bias ignored", macs=2),
        conv1d=rule("torch.addmm patched (pytorch_ops.py:514), _addmm_flops_compute (:282-287): "
                    "2 * macs + the bias tensor's Cout elements once", macs=2, calflops_bias_adds=1),
        **_each(("moe_router", "moe_expert_linear"),
                rule("F.linear patched (pytorch_ops.py:454), _linear_flops_compute (:37-40): "
                     "2 * input elements * out_features = 2 * macs; bias ignored", macs=2)),
        batchnorm=rule("F.batch_norm in eval: in, doubled when affine", in_elements=1, affine_in=1),
        **{op: rule(f"F.{f}: in * (5 if weight else 4)", in_elements=4, affine_in=1)
           for op, f in (("layernorm", "layer_norm"), ("layernorm2d", "layer_norm"),
                         ("groupnorm", "group_norm"), ("instancenorm", "instance_norm"))},
        rmsnorm=rule("NB: 0, F.rms_norm is not patched"),
        embedding=rule("F.embedding patched, _embedding_flops_compute returns 0 (pytorch_ops.py:258-267)"),
        matmul=rule("torch.matmul / Tensor.matmul patched, _matmul_flops_compute "
                    "(pytorch_ops.py:274-280, 507-508): 2 * prod(first operand) * second's last axis",
                    lhs_macs=2),
        matmul_operator=rule("NB: 0, the @ operator is not patched"),
        bmm=rule("NB: 0, the torch.bmm patch is commented out (pytorch_ops.py:511-512)"),
        einsum=rule("torch.einsum patched, _einsum_flops_compute (pytorch_ops.py:290-309): numpy "
                    "einsum_path's optimized count, 2P + 1 for two operands with a summed index "
                    "(numpy/_core/einsumfunc.py:900 adds 1)", macs=2, calls=1),
        einsum_n=refused("calflops prices a 1- or 3-operand einsum, or one with no summed index, by "
                         "numpy's optimal contraction path: not emulated"),
        scale=rule("NB: 0, torch.mul / Tensor.mul are patched (pytorch_ops.py:517-518) but the * "
                   "operator is not"),
        relu=rule("F.relu: in", in_elements=1),
        prelu=rule("F.prelu: in", in_elements=1),
        elu=rule("F.elu: in", in_elements=1),
        leaky_relu=rule("F.leaky_relu: in", in_elements=1),
        silu=rule("F.silu: in", in_elements=1),
        gelu=rule("F.gelu: in", in_elements=1),
        softmax=rule("F.softmax: in", in_elements=1),
        moe_gating=rule("F.softmax patched (_softmax_flops_compute, pytorch_ops.py:254) on the router's "
                        "(tokens, E) logits (modeling_mixtral.py:107): tokens * E; torch.topk and the "
                        "renormalising operators are not patched", in_elements=1),
        maxpool=rule("F.max_pool: in", in_elements=1),
        avgpool=rule("F.avg_pool: in", in_elements=1),
        adaptive_avgpool=rule("F.adaptive_avg_pool: in", in_elements=1),
        adaptive_maxpool=rule("F.adaptive_max_pool: in", in_elements=1),
        upsample_nearest=rule("F.interpolate: in with scale_factor; prod(size) with size (no N*C)",
                              scaled_in=1, target_positions=1),
        upsample_bilinear=rule("F.interpolate: in with scale_factor; prod(size) with size (no N*C)",
                               scaled_in=1, target_positions=1),
        **_each(_MHA_PROJECTIONS, rule("F.linear patched (pytorch_ops.py:454; rule :37-40), the call "
                                       "inside F.multi_head_attention_forward included: 2 * macs, "
                                       "bias ignored; grad enabled, never the fast path", macs=2)),
        mha_fast_bmm=rule("NB: 0, the torch.bmm patch is commented out (pytorch_ops.py:511-512)"),
        **_each(("baddbmm", "mha_fast_baddbmm"),
                rule("torch.baddbmm patched (pytorch_ops.py:525), _tensor_addmm_flops_compute "
                     "(:312-318): 2 * prod(q) * S + elements of the mask as passed, (1, T, S)",
                     lhs_macs=2, calflops_bias_adds=1)),
        **_each(_SDPA, rule("NB: 0, F.scaled_dot_product_attention is not patched")),
        **_each(_ELEMENTWISE, rule("NB: 0, operators (*, +, neg) and torch.cat are not patched")),
    ),
    notes=(
        "ReLU6 (F.hardtanh), sigmoid, tanh, hardswish, hardsigmoid, dropout, cat are not patched: 0.",
        "calflops also reports MACs: the macs column (conv and linear multiply-accumulates); its own "
        "MACs figure for a 'same' conv with odd d(K-1) or a transposed conv is calflops_macs.",
    ),
    method_default=rule("tensor methods (x.mean) are not patched: 0"),
    training=3,  # include_backPropagation: flops * (1 + compute_bp_factor=2), flops_counter.py:180-182
)

TORCHVISION = Convention(
    name="torchvision",
    title="torchvision model card 'GFLOPS' (conv + linear multiply-accumulates)",
    source="torchvision 0.29.1 weights.meta['_ops'] = round(conv_linear_macs / 1e9, 3)",
    rules=per_op(
        ZERO,
        conv=rule("multiply-accumulates, bias excluded", macs=1),
        deconv=rule("multiply-accumulates, bias excluded", macs_all=1),
        linear=rule("multiply-accumulates, bias excluded", macs=1),
        conv1d=rule("multiply-accumulates, bias excluded (transformers' Conv1D, a linear layer)", macs=1),
        **_each(("moe_router", "moe_expert_linear"),
                rule("multiply-accumulates, bias excluded (linear layers)", macs=1)),
        **{op: rule("multiply-accumulates (assumed: vit_b_16's 17.56 needs the attention matmuls; "
                    "not yet checked against a torchvision model)", macs=1)
           for op in ("matmul", "matmul_operator", "bmm", "einsum")},
        **_each((*_MHA_PROJECTIONS, "baddbmm", "mha_fast_bmm", "mha_fast_baddbmm", "sdpa_scores",
                 "sdpa_context"),
                rule("multiply-accumulates, dense (vit_b_16: 17,563,828,224 with the attention "
                     "products at T = 197, the card's 17.564)", macs=1)),
    ),
    notes=("Despite the column name these are GMACs.",),
)

PROFILER_CONVENTIONS = (THOP, FVCORE, PTFLOPS, PTFLOPS_ATEN, TORCHINFO, TORCH, TORCH_CUDA, CALFLOPS,
                        TORCHVISION)
