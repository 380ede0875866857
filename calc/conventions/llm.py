"""The named conventions of language-model training and inference FLOPs, one table entry each
(issue 12; the research behind every row: docs/notes/llm-conventions.md).

They price the same operations as the other conventions, from the same counters, and each says
what a training step costs (`training`: per operation, or k x its forward).  What they disagree
on, and where it shows in a row:
    N, the parameters of "6N": token_params of every operation (PaLM), less the position table
        (nanoGPT), less every nn.Embedding (Hugging Face), or the weight matrices only (Kaplan:
        the products of the linear layers, biases out, the LM head out: head_macs)
    the LM head: counted, except by Kaplan (and by HF when tied: a tied weight has no params)
    the input embedding: a one-hot matmul for Chinchilla's appendix (lookup_macs), free elsewhere
    attention's T^2 products: both (Chinchilla, PaLM, nanoGPT, Megatron's paper and its 2023
        formula, llm-analysis), one (Kaplan), halved for the causal mask (Megatron's current
        formula), none (HF)
    the backward pass: 2 x forward, and Megatron's paper recomputes every layer's forward (4 x)
        but not the logits (3 x)
Specs mark the output layer `role: lm_head` (specs/gpt2.yaml, specs/llama2_7b.yaml, ...).
"""

from __future__ import annotations

from calc.conventions.base import ZERO, Convention, per_op, refused, rule
from calc.conventions.profilers import CALFLOPS

PROJECTIONS = ("linear", "conv1d", "mha_in_proj", "mha_fast_in_proj", "mha_fast_out_proj",
               "moe_router", "moe_linear", "moe_expert_linear")
"""Operations that multiply by a weight matrix (a mixture's experts: the routed tokens only)."""
ATTENTION_PRODUCTS = ("sdpa_scores", "sdpa_context", "matmul", "matmul_operator", "bmm", "baddbmm",
                      "mha_fast_bmm", "mha_fast_baddbmm")
"""attention's scores q k^T and weighted sum p v, however PyTorch runs them (dense: T x S)."""
SOFTMAX = ("softmax", "sdpa_softmax")
EMBEDDING_TABLES = ("embedding", "position_lookup")
"""nn.Embedding weights (Hugging Face's num_parameters(exclude_embeddings=True) drops these)."""


def _each(ops: tuple[str, ...], r) -> dict:
    return {op: r for op in ops}


NOT_LM = ("conv", "deconv", "batchnorm", "layernorm2d", "groupnorm", "instancenorm", "maxpool", "avgpool",
          "adaptive_avgpool", "adaptive_maxpool", "upsample_nearest", "upsample_bilinear", "channel_shuffle")
"""Operations of convolutional networks, which these formulas of language models do not define."""


def _lm_only(rules: dict, name: str) -> dict:
    """The table with a refusal for the operations no LLM convention defines (a convolution would
    otherwise be priced by its parameters x positions: a number its source never meant)."""
    why = (f"'{name}' is a convention of transformer language models; it has no rule for a "
           "convolutional network's '{op}'")
    return {op: refused(why.format(op=op)) if op in NOT_LM else r for op, r in rules.items()}


KAPLAN = Convention(
    name="kaplan",
    title="Kaplan et al. 2020: C_forward = 2N + 2 n_layer n_ctx d_attn per token, training 6N",
    source="Scaling Laws for Neural Language Models (arXiv:2001.08361), sec. 2.1, Table 1, eq. 2.1-2.2",
    rules=per_op(
        ZERO,
        **_each(PROJECTIONS, rule("2 per weight of N (weight matrices only: biases, norms, embeddings and "
                                  "the LM head's De-embed row left out)", macs=2, head_macs=-2)),
        **_each(ATTENTION_PRODUCTS, rule("2 n_ctx d_attn per token and layer: one T^2 product's worth, "
                                         "half of q k^T and p v together", macs=1)),
    ),
    training=per_op(
        ZERO,
        **_each(PROJECTIONS, rule("6N per training token", macs=6, head_macs=-6)),
        **_each(ATTENTION_PRODUCTS, rule("'we do not include context-dependent terms in our training "
                                         "compute estimate' (sec. 2.1)")),
    ),
    notes=("N here is the weight matrices of the layers: 12 n_layer d^2 for a GPT (84,934,656 for "
           "GPT-2 small, not its 124M parameters).",),
)

CHINCHILLA = Convention(
    name="chinchilla",
    title="Hoffmann et al. 2022 (Chinchilla), appendix F, as written",
    source="Training Compute-Optimal Large Language Models (arXiv:2203.15556), appendix F",
    rules=per_op(
        ZERO,
        embedding=rule("Embeddings 2 x seq_len x vocab_size x d_model: the lookup as a one-hot matmul",
                       lookup_macs=2),
        **_each(PROJECTIONS, rule("2 per multiply-accumulate: QKV, Final Linear, Dense Block, Final "
                                  "Logits (the LM head counted)", macs=2)),
        **_each(ATTENTION_PRODUCTS, rule("Key @ Query logits and Softmax @ query reductions: 2 x seq_len "
                                         "x seq_len x (key_size x num_heads), dense", macs=2)),
        **_each(SOFTMAX, rule("Softmax 3 x num_heads x seq_len x seq_len", out_elements=3)),
    ),
    training=3,
    notes=("Table A4's ratios to 6ND are reproduced only without the embeddings and the logits "
           "(tests/fixtures/llm_published.json, after nanoGPT's scaling_laws.ipynb): the text is "
           "what this row prices.", "Norms, biases, activations and positions are not counted."),
)


def _six_n(note: str, **also) -> Convention:
    """PaLM's 6N + 12 L H Q T per token: 2N + 4 L H Q T forward, N the params of every operation
    but those `also` zeroes, attention's two products dense."""
    return per_op(
        rule(f"2 x its parameters per token ({note})", token_params=2),
        **_each(ATTENTION_PRODUCTS, rule("4 L H Q T per token: q k^T and p v, dense, 2 per product", macs=2)),
        **also,
    )


PALM = Convention(
    name="palm",
    title="PaLM model FLOPs: 6N + 12 L H Q T per token (N every parameter)",
    source="PaLM: Scaling Language Modeling with Pathways (arXiv:2204.02311), appendix B",
    rules=_six_n("N: the model's parameter count, embeddings in; a tied head once"),
    training=3,
    notes=("Rematerialization is excluded, as for PaLM's MFU (its HFU adds it).",),
)

NANOGPT = Convention(
    name="nanogpt",
    title="nanoGPT estimate_mfu: 6N + 12 L H Q T per token, N without the position table",
    source="karpathy/nanoGPT model.py:289-303 (estimate_mfu) and :150-160 (get_num_params), 3adf61e",
    rules=_six_n("N = get_num_params(): the position embedding subtracted",
                 position_lookup=rule("get_num_params() leaves wpe out"),
                 position_embedding=rule("get_num_params() leaves the position table out")),
    training=3,
    notes=("nanoGPT's T is block_size, the model's context; here the input's T.",),
)

HUGGINGFACE = Convention(
    name="hf",
    title="Hugging Face Trainer.floating_point_ops: 6 x tokens x parameters without embeddings",
    source="transformers 5.24.0 trainer.py:4224-4241, modeling_utils.py:914-956 (num_parameters)",
    rules=per_op(
        rule("2 x its parameters per token (training: 6)", token_params=2),
        **_each(EMBEDDING_TABLES, rule("exclude_embeddings=True drops every nn.Embedding weight (a tied "
                                       "LM head with it)")),
    ),
    training=3,
    notes=("No attention term: 'neglects the quadratic dependency on the number of tokens'.",
           "Only training is defined by transformers; the forward here is a third of it."),
)


def _megatron(note: str, attention: int) -> dict:
    return per_op(
        ZERO,
        **_each(PROJECTIONS, rule(f"2 per multiply-accumulate of every GEMM, the logits included ({note})",
                                  macs=2)),
        **_each(ATTENTION_PRODUCTS, rule(note, macs=attention)),
    )


MEGATRON_PAPER = Convention(
    name="megatron-2021",
    title="Narayanan et al. 2021 eq. 3: 96 B s l h^2 (1 + s/6h + V/16lh), with recomputation",
    source="Efficient Large-Scale Language Model Training on GPU Clusters (SC21, arXiv:2104.04473), "
           "appendix and eq. 3",
    rules=_megatron("24Bsh^2 + 4Bs^2h per layer: the attention matrix and the attention over values, dense", 2),
    training=per_op(
        ZERO,
        **_each(PROJECTIONS, rule("layers 4 x forward (backward 2 x, recomputation 1 x); the logits 3 x "
                                  "(not recomputed): 8 per product, 6 for the head", macs=8, head_macs=-2)),
        **_each(ATTENTION_PRODUCTS, rule("4 x forward (recomputed)", macs=8)),
    ),
    recompute="full",
    notes=("V is the spec's vocabulary; the paper pads it (51,200 for GPT-2's 50,257).",),
)

MEGATRON_2023 = Convention(
    name="megatron-2023",
    title="Megatron-LM num_floating_point_operations before 2025-03: 3 x every GEMM, attention dense",
    source="NVIDIA/Megatron-LM megatron/training/training.py, commits 2748e7c (2023-11-26) to fbf600b",
    rules=_megatron("QK^T and (QK^T)V over the whole s x s matrix", 2),
    training=3,
    notes=("Megatron pads the vocabulary (to a multiple of 128 x TP): here the spec's V.",),
)

MEGATRON = Convention(
    name="megatron",
    title="Megatron-LM num_floating_point_operations: 3 x every GEMM, the causal attention halved",
    source="NVIDIA/Megatron-LM megatron/training/training.py:1161-1170 at d98e8a6 (since 8873b55, "
           "2025-03-06: 'only half of the attention matrix is non-zero')",
    rules=_megatron("s^2/2: half the mask is zero (halved whether or not the model is causal)", 1),
    training=3,
    notes=("GQA, SwiGLU and MoE (top-k and shared experts) enter through the products themselves.",
           "Megatron pads the vocabulary: here the spec's V."),
)

LLM_ANALYSIS = Convention(
    name="llm-analysis",
    title="llm-analysis: the forward matmuls, backward 2 x, no recomputation",
    source="cli99/llm-analysis llm_analysis/analysis.py:921-1026 at d841e40",
    rules=_megatron("4 B s^2 d per layer: both products, dense", 2),
    training=3,
    recompute_head=True,
    notes=("Its recomputations FULL (num_flops_fwd_total again, the logits included) and "
           "ATTN_COMPUTE (4 B s^2 h per layer) are calc's full and selective "
           "(analysis.py:2232-2246, :1028-1042).",),
)

DEEPSPEED = Convention(
    name="deepspeed",
    title="DeepSpeed flops profiler: one measured forward (calflops' rules, SDPA counted), x 3",
    source="microsoft/DeepSpeed deepspeed/profiling/flops_profiler/profiler.py:373, :518-963 (0.16.5)",
    rules={**CALFLOPS.rules, **_each(("sdpa_scores", "sdpa_context"), rule(
        "F.scaled_dot_product_attention patched: 2 x (q k^T + p v) products, dense (:857-863)", macs=2))},
    functional=CALFLOPS.functional,
    functional_default=CALFLOPS.functional_default,
    method_default=CALFLOPS.method_default,
    training=3,
    recompute_choices=("none", "full"),
    recompute_head=True,
    recompute_note=("its recompute_fwd_factor multiplies the whole measured forward, the output "
                    "layer included (profiler.py:373): a full recomputation is factor 1, a "
                    "selective one is no multiple of it"),
    notes=("calflops is a fork with the same rules, except that it leaves SDPA unpatched.",
           "Training: bwd = (2 + recompute_fwd_factor) x fwd, recompute 0 (:373)."),
)

def _guarded(c: Convention) -> Convention:
    from dataclasses import replace

    training = c.training if not isinstance(c.training, dict) else _lm_only(c.training, c.name)
    return replace(c, rules=_lm_only(dict(c.rules), c.name), training=training)


LLM_CONVENTIONS = tuple(_guarded(c) for c in (
    KAPLAN, CHINCHILLA, PALM, NANOGPT, HUGGINGFACE, MEGATRON_PAPER, MEGATRON_2023, MEGATRON, LLM_ANALYSIS,
    DEEPSPEED))
