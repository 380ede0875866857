#!/usr/bin/env python3
"""Profiler oracle fixtures for attention as single modules: nn.MultiheadAttention,
F.scaled_dot_product_attention, an eager (Hugging Face style) attention module,
nn.TransformerEncoderLayer and Hugging Face attention modules (GPT-2, BERT, Llama, Mistral)
built from tiny configs with random weights; each real tool on each, seeded.

Same environment and tool runners as tools/oracle/make_fixtures.py (read its docstring); from
the repository root:

    /tmp/h1-venv/bin/python tools/oracle/attention.py [--uthop-dir DIR] [--only id,id]

writes tests/fixtures/profilers/attention/<case id>.json: calc's attention record (`op`), the
PyTorch call, input and output shapes, params and buffers, mode, versions, every tool's figures
(with per-module / per-operator detail, recorded by the runners of make_fixtures.py), and:

* `fast_path`: per tool, how many times torch._native_multi_head_attention (the eval-mode
  nn.MultiheadAttention fast path) and torch._transformer_encoder_layer_fwd (the eval-mode
  nn.TransformerEncoderLayer fast path) were called while that tool ran the model (counted by
  wrapping the two torch attributes, which torch looks up at call time);
* `torch_flop_counter_variants`: FlopCounterMode with grad enabled and under
  torch.inference_mode() (the runner's own call uses torch.no_grad()), each with its fast-path
  counts, since the fast paths need grad disabled;
* `aten_ops`: every aten op the forward dispatches on CPU under torch.no_grad() and with grad
  enabled (a plain TorchDispatchMode that counts calls), so one can see which op a tool did or
  did not price (e.g. aten._scaled_dot_product_flash_attention_for_cpu).

The findings drawn from these fixtures are in docs/notes/attention-oracle.md.  `--check` verifies
that every tool's total in every fixture is the sum of the per-part formulas of decompose() (the
findings), `--check --markdown` prints the per-case tables of that note, and `--sizes` reruns the
cases at other sizes (into another --out) to check that the formulas are not coincidences.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import warnings
from collections import Counter, OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as mf  # noqa: E402

OUT = os.path.join(mf.REPO, "tests", "fixtures", "profilers", "attention")

# Sizes shared by every case: batch N, query length T, key length S (cross attention, KV cache),
# model width d, heads H (head_dim d/H = 4), grouped-query kv heads, memory width (kdim = vdim).
N, T, S, D, H, KV, MEM_DIM, WINDOW = 2, 5, 7, 16, 4, 2, 12, 3
HD = D // H

# --------------------------------------------------------------------------
# Modules (every constant tensor, masks and rotary tables, is a plain attribute made in
# __init__: neither a parameter nor a buffer, and made outside every tool's run)
# --------------------------------------------------------------------------


def bool_causal(t: int) -> torch.Tensor:
    """True where attending is NOT allowed (nn.MultiheadAttention's convention)."""
    return torch.triu(torch.ones(t, t, dtype=torch.bool), diagonal=1)


def float_causal(t: int, s: int | None = None) -> torch.Tensor:
    """0 where allowed, finfo.min above the diagonal (Hugging Face's eager mask), shape (1, 1, t, s)."""
    s = t if s is None else s
    m = torch.zeros(t, s)
    m.masked_fill_(torch.triu(torch.ones(t, s, dtype=torch.bool), diagonal=1 + s - t), torch.finfo(torch.float32).min)
    return m[None, None]


class MHASelf(nn.Module):
    """forward(x) = self.attn(x, x, x, need_weights=..., attn_mask=..., is_causal=...)[0]."""

    def __init__(self, need_weights: bool = True, bias: bool = True, causal: bool = False,
                 float_mask: bool = False) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(D, H, bias=bias, batch_first=True)
        self.need_weights, self.causal = need_weights, causal
        if causal:
            self.mask = nn.Transformer.generate_square_subsequent_mask(T) if float_mask else bool_causal(T)
        else:
            self.mask = None

    def forward(self, x):
        if self.causal:
            return self.attn(x, x, x, need_weights=self.need_weights, attn_mask=self.mask, is_causal=True)[0]
        return self.attn(x, x, x, need_weights=self.need_weights)[0]


class MHACross(nn.Module):
    """forward(x, mem) = self.attn(x, mem, mem, need_weights=...)[0], kdim = vdim = MEM_DIM."""

    def __init__(self, need_weights: bool = True) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(D, H, batch_first=True, kdim=MEM_DIM, vdim=MEM_DIM)
        self.need_weights = need_weights

    def forward(self, x, mem):
        return self.attn(x, mem, mem, need_weights=self.need_weights)[0]


class SDPA(nn.Module):
    """forward(q, k, v) = F.scaled_dot_product_attention(q, k, v, attn_mask=..., is_causal=..., enable_gqa=...)."""

    def __init__(self, mask: torch.Tensor | None = None, is_causal: bool = False, enable_gqa: bool = False,
                 math: bool = False) -> None:
        super().__init__()
        self.mask, self.is_causal, self.enable_gqa, self.math = mask, is_causal, enable_gqa, math

    def forward(self, q, k, v):
        if self.math:  # the reference (math) backend: SDPA decomposes into matmul, softmax, ... on CPU
            from torch.nn.attention import SDPBackend, sdpa_kernel

            with sdpa_kernel(SDPBackend.MATH):
                return F.scaled_dot_product_attention(q, k, v, attn_mask=self.mask, is_causal=self.is_causal)
        if self.enable_gqa:
            return F.scaled_dot_product_attention(q, k, v, attn_mask=self.mask, is_causal=self.is_causal, enable_gqa=True)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=self.mask, is_causal=self.is_causal)


def repeat_kv(x: torch.Tensor, n_rep: int) -> torch.Tensor:
    """Hugging Face Llama's repeat_kv: (N, kv, T, hd) -> (N, kv * n_rep, T, hd) by expand + reshape."""
    b, kv, t, hd = x.shape
    if n_rep == 1:
        return x
    return x[:, :, None, :, :].expand(b, kv, n_rep, t, hd).reshape(b, kv * n_rep, t, hd)


class EagerAttention(nn.Module):
    """Hugging Face's eager path written out: q/k/v/o nn.Linear, view/transpose to heads,
    scores = matmul(q, k^T) * scale, + causal float mask, F.softmax(dim=-1), matmul(p, v),
    transpose/reshape, o_proj.  form 'matmul' uses torch.matmul, 'operator' the @ operator."""

    def __init__(self, form: str = "matmul", kv_heads: int | None = None, bias: bool = True, causal: bool = True,
                 head_dim: int | None = None) -> None:
        super().__init__()
        kv_heads = H if kv_heads is None else kv_heads
        hd = HD if head_dim is None else head_dim
        self.q_proj = nn.Linear(D, H * hd, bias=bias)
        self.k_proj = nn.Linear(D, kv_heads * hd, bias=bias)
        self.v_proj = nn.Linear(D, kv_heads * hd, bias=bias)
        self.o_proj = nn.Linear(H * hd, D, bias=bias)
        self.form, self.kv_heads, self.hd, self.scale = form, kv_heads, hd, hd ** -0.5
        self.mask = float_causal(T) if causal else None

    def forward(self, x):
        b, t, _ = x.shape
        hd = self.hd
        q = self.q_proj(x).view(b, t, H, hd).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.kv_heads, hd).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.kv_heads, hd).transpose(1, 2)
        k, v = repeat_kv(k, H // self.kv_heads), repeat_kv(v, H // self.kv_heads)
        if self.form == "operator":
            scores = (q @ k.transpose(-2, -1)) * self.scale
        else:
            scores = torch.matmul(q, k.transpose(-2, -1)) * self.scale
        if self.mask is not None:
            scores = scores + self.mask
        p = F.softmax(scores, dim=-1)
        o = p @ v if self.form == "operator" else torch.matmul(p, v)
        return self.o_proj(o.transpose(1, 2).reshape(b, t, H * hd))


class HFAttention(nn.Module):
    """A Hugging Face attention module called as its model calls it: the mask the model would
    build (transformers.masking_utils with no padding mask) and, for rotary models, the
    (cos, sin) of the model's rotary embedding, both made once in __init__."""

    def __init__(self, family: str, impl: str) -> None:
        super().__init__()
        from transformers import masking_utils as mu

        self.family = family
        x0 = torch.zeros(N, T, D)
        pos = torch.arange(T)[None].expand(N, -1)
        self.position_embeddings = None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if family == "gpt2":
                from transformers import GPT2Config
                from transformers.models.gpt2.modeling_gpt2 import GPT2Attention

                cfg = GPT2Config(n_embd=D, n_head=H, n_layer=1, n_positions=64, vocab_size=10)
                cfg._attn_implementation = impl
                self.attn = GPT2Attention(cfg, layer_idx=0)
                self.mask = mu.create_causal_mask(config=cfg, inputs_embeds=x0, attention_mask=None, cache=None,
                                                  position_ids=pos)
            elif family == "bert":
                from transformers import BertConfig
                from transformers.models.bert.modeling_bert import BertAttention

                cfg = BertConfig(hidden_size=D, num_attention_heads=H, intermediate_size=2 * D, num_hidden_layers=1,
                                 vocab_size=10, max_position_embeddings=64)
                cfg._attn_implementation = impl
                self.attn = BertAttention(cfg, layer_idx=0)
                self.mask = mu.create_bidirectional_mask(config=cfg, inputs_embeds=x0, attention_mask=None)
            elif family in ("llama", "mistral"):
                if family == "llama":
                    from transformers import LlamaConfig as Cfg
                    from transformers.models.llama.modeling_llama import LlamaAttention as Attn
                    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding as Rope
                    extra = {}
                else:
                    from transformers import MistralConfig as Cfg
                    from transformers.models.mistral.modeling_mistral import MistralAttention as Attn
                    from transformers.models.mistral.modeling_mistral import MistralRotaryEmbedding as Rope
                    extra = {"sliding_window": WINDOW}
                cfg = Cfg(hidden_size=D, num_attention_heads=H, num_key_value_heads=KV, intermediate_size=2 * D,
                          num_hidden_layers=1, vocab_size=10, max_position_embeddings=64, **extra)
                cfg._attn_implementation = impl
                self.attn = Attn(cfg, layer_idx=0)
                with torch.no_grad():
                    self.position_embeddings = tuple(t.detach() for t in Rope(cfg)(x0, pos))
                make = mu.create_sliding_window_causal_mask if family == "mistral" else mu.create_causal_mask
                self.mask = make(config=cfg, inputs_embeds=x0, attention_mask=None, cache=None, position_ids=pos)
            else:
                raise ValueError(family)
        self.impl = impl

    def forward(self, x):
        if self.position_embeddings is not None:
            return self.attn(x, position_embeddings=self.position_embeddings, attention_mask=self.mask)[0]
        return self.attn(x, attention_mask=self.mask)[0]

    def mask_description(self) -> str:
        m = self.mask
        if m is None:
            return "None"
        return f"{list(m.shape)} {str(m.dtype).replace('torch.', '')}"


def encoder_layer(norm_first: bool = False) -> nn.Module:
    return nn.TransformerEncoderLayer(D, H, dim_feedforward=2 * D, batch_first=True, norm_first=norm_first)


# --------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------


RECORD_FIELDS = ("type", "heads", "kv_heads", "head_dim", "qkv_bias", "out_bias", "qkv", "causal", "window",
                 "kv_len", "cross", "kv_dim", "rotary", "fused", "form")


def op(**kw) -> dict:
    """calc's attention record: defaults as the lead's record has them, then the case's fields."""
    base = OrderedDict(type="attention", heads=H, kv_heads=H, head_dim=HD, qkv_bias=True, out_bias=True,
                       qkv="separate", causal=False, window=None, kv_len=None, cross=False, kv_dim=None,
                       rotary=False, fused="mha")
    base.update(kw)
    return base


def cases() -> list[dict]:
    """id, op (calc's record fields), ctor, call text, input shapes, mode, notes."""
    out: list[dict] = []
    x = (N, T, D)

    def add(id_, op_, ctor, call, shapes, mode="eval", note=""):
        notes = OrderedDict((k, op_.pop(k)) for k in list(op_) if k not in RECORD_FIELDS)
        out.append(dict(id=id_, op=op_, op_notes=notes, ctor=ctor, call=call,
                        input_shapes=[list(s) for s in shapes], mode=mode, note=note))

    mha = "nn.MultiheadAttention(16, 4, batch_first=True)"
    for mode in ("eval", "train"):
        for nw in (True, False):
            add(f"mha_self_{mode}_{'weights' if nw else 'noweights'}",
                op(qkv="packed", fused="mha", need_weights=nw, mask=None),
                lambda nw=nw: MHASelf(need_weights=nw),
                f"attn = {mha}; attn(x, x, x, need_weights={nw})[0]", [x], mode)
    # ATen runs the in-projection of a batch-first input as addmm (bias included) only when its
    # transposed view (T, N, d) is contiguous: N = 1 or T = 1; otherwise mm + add.
    add("mha_self_eval_weights_batch1", op(qkv="packed", fused="mha", need_weights=True, mask=None),
        lambda: MHASelf(need_weights=True), f"attn = {mha}; attn(x, x, x, need_weights=True)[0], x (1, 5, 16)",
        [(1, T, D)])
    add("mha_self_eval_weights_one_token", op(qkv="packed", fused="mha", need_weights=True, mask=None),
        lambda: MHASelf(need_weights=True), f"attn = {mha}; attn(x, x, x, need_weights=True)[0], x (2, 1, 16)",
        [(N, 1, D)])
    add("mha_self_nobias_eval_weights", op(qkv="packed", fused="mha", qkv_bias=False, out_bias=False, need_weights=True,
                                           mask=None),
        lambda: MHASelf(bias=False), f"attn = nn.MultiheadAttention(16, 4, bias=False, batch_first=True); "
        "attn(x, x, x, need_weights=True)[0]", [x])
    add("mha_self_nobias_eval_noweights", op(qkv="packed", fused="mha", qkv_bias=False, out_bias=False,
                                             need_weights=False, mask=None),
        lambda: MHASelf(bias=False, need_weights=False),
        "attn = nn.MultiheadAttention(16, 4, bias=False, batch_first=True); attn(x, x, x, need_weights=False)[0]", [x])
    for nw in (True, False):
        add(f"mha_cross_eval_{'weights' if nw else 'noweights'}",
            op(qkv="separate", fused="mha", cross=True, kv_len=S, kv_dim=MEM_DIM, need_weights=nw, mask=None),
            lambda nw=nw: MHACross(need_weights=nw),
            f"attn = nn.MultiheadAttention(16, 4, batch_first=True, kdim=12, vdim=12); attn(x, mem, mem, need_weights={nw})[0]",
            [x, (N, S, MEM_DIM)])
    for nw in (True, False):
        add(f"mha_causal_eval_{'weights' if nw else 'noweights'}",
            op(qkv="packed", fused="mha", causal=True, need_weights=nw, mask="bool"),
            lambda nw=nw: MHASelf(need_weights=nw, causal=True),
            f"attn = {mha}; attn(x, x, x, need_weights={nw}, attn_mask=torch.triu(torch.ones(5, 5, dtype=torch.bool), 1), "
            "is_causal=True)[0]", [x])

    add("mha_causal_floatmask_eval_weights", op(qkv="packed", fused="mha", causal=True, need_weights=True, mask="float"),
        lambda: MHASelf(need_weights=True, causal=True, float_mask=True),
        f"attn = {mha}; attn(x, x, x, need_weights=True, attn_mask=nn.Transformer.generate_square_subsequent_mask(5), "
        "is_causal=True)[0]", [x], note="a float mask (0 / -inf) blocks the fast path (activation.py:1328-1333)")
    qs, ks, kvs = (N, H, T, HD), (N, H, S, HD), (N, KV, S, HD)
    sd = dict(qkv_bias=False, out_bias=False, fused="sdpa", projections=False)
    add("sdpa", op(kv_len=S, **sd), lambda: SDPA(), "F.scaled_dot_product_attention(q, k, v)", [qs, ks, ks],
        note="q (N,H,T,hd), k and v (N,H,S,hd); no projections: the op alone")
    add("sdpa_causal", op(causal=True, **sd), lambda: SDPA(is_causal=True),
        "F.scaled_dot_product_attention(q, k, v, is_causal=True)", [qs, qs, qs])
    add("sdpa_bool_mask", op(causal=True, kv_len=S, mask="bool", **sd),
        lambda: SDPA(mask=torch.tril(torch.ones(T, S, dtype=torch.bool), diagonal=S - T)),
        "F.scaled_dot_product_attention(q, k, v, attn_mask=torch.tril(torch.ones(5, 7, dtype=torch.bool), 2))",
        [qs, ks, ks], note="a causal (bottom-right aligned) boolean mask: True = attend")
    add("sdpa_float_mask", op(causal=True, kv_len=S, mask="float", **sd),
        lambda: SDPA(mask=float_causal(T, S)),
        "F.scaled_dot_product_attention(q, k, v, attn_mask=m) with m (1,1,5,7) float: 0 / finfo.min above the "
        "bottom-right-aligned diagonal", [qs, ks, ks])
    add("sdpa_gqa", op(kv_heads=KV, kv_len=S, **sd), lambda: SDPA(enable_gqa=True),
        "F.scaled_dot_product_attention(q, k, v, enable_gqa=True) with k, v (N, 2, S, hd)", [qs, kvs, kvs])
    add("sdpa_gqa_causal", op(kv_heads=KV, causal=True, **sd), lambda: SDPA(is_causal=True, enable_gqa=True),
        "F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True) with k, v (N, 2, T, hd)",
        [qs, (N, KV, T, HD), (N, KV, T, HD)])

    add("sdpa_math", op(kv_len=S, **sd), lambda: SDPA(math=True),
        "with torch.nn.attention.sdpa_kernel(SDPBackend.MATH): F.scaled_dot_product_attention(q, k, v)",
        [qs, ks, ks], note="the math backend, as when no fused kernel applies")
    add("sdpa_causal_math", op(causal=True, **sd), lambda: SDPA(is_causal=True, math=True),
        "with torch.nn.attention.sdpa_kernel(SDPBackend.MATH): F.scaled_dot_product_attention(q, k, v, is_causal=True)",
        [qs, qs, qs], note="the math backend with is_causal: the mask is built and the products stay dense")

    eager_text = ("q/k/v/o nn.Linear(16, 16); q = q_proj(x).view(N,T,4,4).transpose(1,2) (k, v alike); "
                  "s = {mm} * 4**-0.5; s = s + mask (1,1,T,T float, finfo.min above the diagonal); "
                  "p = F.softmax(s, dim=-1); o = {pv}; o_proj(o.transpose(1,2).reshape(N,T,16))")
    add("eager_matmul", op(causal=True, fused="eager", form="matmul"), lambda: EagerAttention("matmul"),
        eager_text.format(mm="torch.matmul(q, k.transpose(-2,-1))", pv="torch.matmul(p, v)"), [x])
    add("eager_operator", op(causal=True, fused="eager", form="operator"), lambda: EagerAttention("operator"),
        eager_text.format(mm="(q @ k.transpose(-2,-1))", pv="p @ v"), [x])
    add("eager_matmul_nomask", op(causal=False, fused="eager", form="matmul"),
        lambda: EagerAttention("matmul", causal=False),
        eager_text.format(mm="torch.matmul(q, k.transpose(-2,-1))", pv="torch.matmul(p, v)").replace(
            "s = s + mask (1,1,T,T float, finfo.min above the diagonal); ", ""), [x])
    add("eager_gqa_matmul", op(causal=True, fused="eager", form="matmul", kv_heads=KV, qkv_bias=False, out_bias=False),
        lambda: EagerAttention("matmul", kv_heads=KV, bias=False),
        "q_proj Linear(16,16), k_proj/v_proj Linear(16,8), o_proj Linear(16,16), bias=False; k, v = repeat_kv(k, 2), "
        "repeat_kv(v, 2) (HF Llama: x[:, :, None].expand(N,2,2,T,4).reshape(N,4,T,4)); then as eager_matmul", [x])

    add("eager_head_dim8", op(causal=True, fused="eager", form="matmul", head_dim=2 * HD),
        lambda: EagerAttention("matmul", head_dim=2 * HD),
        "q/k/v nn.Linear(16, 32), o_proj nn.Linear(32, 16): head_dim 8 with 4 heads (H*hd = 32 != d); then as "
        "eager_matmul", [x])

    tel = "nn.TransformerEncoderLayer(16, 4, dim_feedforward=32, batch_first=True{nf}); layer(x)"
    add("encoder_layer_eval", op(qkv="packed", fused="mha", block="TransformerEncoderLayer"), lambda: encoder_layer(),
        tel.format(nf=""), [x], note="a whole encoder layer: attention + 2 LayerNorm + FFN 16->32->16 (relu) + residual adds")
    add("encoder_layer_train", op(qkv="packed", fused="mha", block="TransformerEncoderLayer"), lambda: encoder_layer(),
        tel.format(nf=""), [x], "train", note="dropout p=0.1 active under tools that keep train mode")
    add("encoder_layer_norm_first_eval", op(qkv="packed", fused="mha", block="TransformerEncoderLayer", norm_first=True),
        lambda: encoder_layer(True), tel.format(nf=", norm_first=True"), [x])

    for impl in ("eager", "sdpa"):
        fz = "eager" if impl == "eager" else "sdpa"
        add(f"hf_gpt2_{impl}", op(qkv="packed", causal=True, fused=fz, form="matmul" if impl == "eager" else None,
                                  proj_module="transformers.pytorch_utils.Conv1D"),
            lambda impl=impl: HFAttention("gpt2", impl),
            f"GPT2Attention(GPT2Config(n_embd=16, n_head=4, n_layer=1), layer_idx=0) with _attn_implementation={impl!r}; "
            "attn(x, attention_mask=create_causal_mask(...))[0]", [x])
        add(f"hf_bert_{impl}", op(qkv="separate", causal=False, fused=fz, form="matmul" if impl == "eager" else None,
                                  block="BertAttention (BertSelfAttention + BertSelfOutput: dense, dropout, LayerNorm(h + x))"),
            lambda impl=impl: HFAttention("bert", impl),
            f"BertAttention(BertConfig(hidden_size=16, num_attention_heads=4, intermediate_size=32), layer_idx=0) with "
            f"_attn_implementation={impl!r}; attn(x, attention_mask=create_bidirectional_mask(...))[0]", [x])
        add(f"hf_llama_{impl}", op(qkv="separate", kv_heads=KV, qkv_bias=False, out_bias=False, causal=True, rotary=True,
                                   fused=fz, form="matmul" if impl == "eager" else None),
            lambda impl=impl: HFAttention("llama", impl),
            f"LlamaAttention(LlamaConfig(hidden_size=16, num_attention_heads=4, num_key_value_heads=2), layer_idx=0) "
            f"with _attn_implementation={impl!r}; attn(x, position_embeddings=LlamaRotaryEmbedding(cfg)(x, pos), "
            "attention_mask=create_causal_mask(...))[0]", [x])
        add(f"hf_mistral_{impl}", op(qkv="separate", kv_heads=KV, qkv_bias=False, out_bias=False, causal=True,
                                     window=WINDOW, rotary=True, fused=fz, form="matmul" if impl == "eager" else None),
            lambda impl=impl: HFAttention("mistral", impl),
            f"MistralAttention(MistralConfig(hidden_size=16, num_attention_heads=4, num_key_value_heads=2, "
            f"sliding_window=3), layer_idx=0) with _attn_implementation={impl!r}; attn(x, position_embeddings="
            "MistralRotaryEmbedding(cfg)(x, pos), attention_mask=create_sliding_window_causal_mask(...))[0]", [x])
    return out


# --------------------------------------------------------------------------
# Probes
# --------------------------------------------------------------------------

FAST = ("_native_multi_head_attention", "_transformer_encoder_layer_fwd")


@contextlib.contextmanager
def fast_path_probe():
    """Count calls of the two eval-mode fast paths while the block runs."""
    counts = Counter()
    saved = {n: getattr(torch, n) for n in FAST}

    def wrap(name, fn):
        def f(*a, **k):
            counts[name] += 1
            return fn(*a, **k)
        return f

    for n in FAST:
        setattr(torch, n, wrap(n, saved[n]))
    try:
        yield counts
    finally:
        for n, fn in saved.items():
            setattr(torch, n, fn)


def fast_counts(c: Counter) -> dict:
    return OrderedDict((n, c.get(n, 0)) for n in FAST)


class AtenRecorder(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.ops = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops[str(func._overloadpacket)] += 1
        return func(*args, **(kwargs or {}))


def aten_ops(case: dict, grad: bool) -> dict:
    m = mf.build(case["ctor"], case["mode"] == "train")
    ins = mf.make_inputs([tuple(s) for s in case["input_shapes"]])
    with fast_path_probe() as fp, AtenRecorder() as rec, torch.set_grad_enabled(grad):
        m(*ins)
    return OrderedDict(fast_path=fast_counts(fp), ops=OrderedDict(sorted(rec.ops.items())))


def flop_counter_variant(case: dict, how: str) -> dict:
    from torch.utils.flop_counter import FlopCounterMode

    m = mf.build(case["ctor"], case["mode"] == "train")
    ins = mf.make_inputs([tuple(s) for s in case["input_shapes"]])
    ctx = torch.inference_mode() if how == "inference_mode" else contextlib.nullcontext()
    with fast_path_probe() as fp, FlopCounterMode(display=False) as fc, ctx:
        m(*ins)
    raw = fc.get_flop_counts()
    return OrderedDict(
        call=("with FlopCounterMode(display=False) as fc" + (", torch.inference_mode()" if how == "inference_mode" else "")
              + ": model(x)  # grad " + ("disabled (inference mode)" if how == "inference_mode" else "enabled")),
        total_flops=int(fc.get_total_flops()),
        by_operator={str(o): int(v) for o, v in sorted(raw.get("Global", {}).items(), key=lambda kv: str(kv[0]))},
        fast_path=fast_counts(fp))


# --------------------------------------------------------------------------
# Decomposition: each tool's total as a sum of attention parts (the findings of
# docs/notes/attention-oracle.md, checked against the fixtures by --check)
# --------------------------------------------------------------------------

# Symbols: N batch, T query length, S key length (T for self attention), d width, H heads,
# G kv heads, hd head_dim, kd key/value input width (kv_dim, d unless cross), f FFN width.
# Each part: (name, formula, value).  Counts are each tool's own unit (MACs, or FLOPs for
# FlopCounterMode and calflops' `flops`).


def family(case_id: str) -> str:
    for fam in ("mha", "sdpa", "eager", "encoder_layer", "hf_gpt2", "hf_bert", "hf_llama", "hf_mistral"):
        if case_id.startswith(fam):
            return fam
    raise ValueError(case_id)


def decompose(e: dict) -> "OrderedDict[str, list[tuple[str, str, int]]]":
    z, o, notes = e["sizes"], e["op"], e["op_notes"]
    n, t, d, h, hd = z["N"], z["T"], z["d"], o["heads"], o["head_dim"]
    g = o["kv_heads"]
    s = o["kv_len"] or t
    kd = o["kv_dim"] or d
    f = 2 * d
    fam, cid = family(e["id"]), e["id"]
    eval_mode = e["mode"] == "eval"
    nw, mask = notes.get("need_weights"), notes.get("mask")
    qb, ob = o["qkv_bias"], o["out_bias"]
    eager_like = fam in ("eager",) or (fam.startswith("hf_") and o["fused"] == "eager")
    sdpa_like = fam == "sdpa" or (fam.startswith("hf_") and o["fused"] == "sdpa")
    rows: "OrderedDict[str, list]" = OrderedDict()
    SC = n * h * t * s * hd          # scores q k^T, dense, at H heads (GQA repeated)
    SM = n * h * t * s               # softmax / mask / scale-of-scores elements
    proj = OrderedDict(q=(n * t * d * h * hd, "N*T*d*H*hd"), k=(n * s * kd * g * hd, "N*S*kd*G*hd"),
                       v=(n * s * kd * g * hd, "N*S*kd*G*hd"), o=(n * t * h * hd * d, "N*T*H*hd*d"))
    pb = OrderedDict(q=(n * t * h * hd, "N*T*H*hd"), k=(n * s * g * hd, "N*S*G*hd"), v=(n * s * g * hd, "N*S*G*hd"),
                     o=(n * t * d, "N*T*d"))
    has_b = OrderedDict(q=qb, k=qb, v=qb, o=ob)
    ln = n * t * d                   # LayerNorm elements (TEL, BERT)
    ffn1, ffn2 = n * t * d * f, n * t * f * d

    def R(tool, name, formula, value):
        rows.setdefault(tool, []).append((name, formula, int(value)))

    # ---------------- thop 0.1.1 ----------------
    for tool in ("thop",):
        if fam in ("eager", "hf_bert", "hf_llama", "hf_mistral"):
            for p_, (v, fm) in proj.items():
                R(tool, f"{p_}_proj (nn.Linear)", fm, v)
        if fam == "hf_bert":
            R(tool, "BertSelfOutput LayerNorm (2*numel, x2 affine)", "4*N*T*d", 4 * ln)
        if fam == "encoder_layer":
            R(tool, "linear1 + linear2", "2*N*T*d*f", ffn1 + ffn2)
            R(tool, "norm1 + norm2 (2*numel, x2 affine)", "2*(4*N*T*d)", 8 * ln)
        R(tool, "everything else (MHA, Conv1D, matmuls, softmax, SDPA)", "0", 0)
    # ---------------- fvcore 0.1.5 ----------------
    tool = "fvcore"
    if fam in ("mha", "encoder_layer"):
        if o["qkv"] == "packed":
            R(tool, "in_proj (one aten::linear for q,k,v)", "N*T*d*3d", n * t * d * 3 * d)
        else:
            R(tool, "q/k/v (three aten::linear)", "N*T*d*d + 2*N*S*kd*d", n * t * d * d + 2 * n * s * kd * d)
        R(tool, "out_proj (aten::linear)", "N*T*d*d", n * t * d * d)
        if fam == "mha" and nw:
            if mask is None:
                R(tool, "scores (aten::bmm)", "N*H*T*S*hd", SC)
            R(tool, "weighted sum (aten::bmm)", "N*H*T*S*hd", SC)
        if fam == "encoder_layer":
            R(tool, "linear1 + linear2", "2*N*T*d*f", ffn1 + ffn2)
            R(tool, "norm1 + norm2 (aten::layer_norm)", "2*(5*N*T*d)", 10 * ln)
    elif fam == "hf_gpt2":
        R(tool, "c_attn + c_proj (Conv1D: aten::addmm)", "N*T*d*3d + N*T*d*d", n * t * d * 3 * d + n * t * d * d)
    elif fam != "sdpa":
        R(tool, "q/k/v/o (aten::linear)", "N*T*d*H*hd + 2*N*T*d*G*hd + N*T*H*hd*d", sum(v for v, _ in proj.values()))
        if fam == "hf_bert":
            R(tool, "LayerNorm (aten::layer_norm)", "5*N*T*d", 5 * ln)
    if eager_like:
        R(tool, "scores + weighted sum (aten::matmul)", "2*N*H*T*S*hd", 2 * SC)
    R(tool, "unsupported (0): scale mul, mask add, softmax, SDPA, baddbmm, rotary", "0", 0)
    # ---------------- ptflops 0.7.5, pytorch backend ----------------
    tool = "ptflops_pytorch"
    bc = e["tools"][tool].get("batch_counter", n)
    if fam in ("mha", "encoder_layer"):
        k_ = n // bc  # the hook multiplies by N (pytorch_ops.py:242); the total divides by the batch counter
        hook_parts = [
            ("q scaling", "T*d", t * d),
            ("q projection", "T*d^2", t * d * d),
            ("k, v projections (kdim^2, vdim^2: not kd*d)", "2*S*kd^2", 2 * s * kd * kd),
            ("in-projection bias", "(T+2S)*d", (t + 2 * s) * d if qb else 0),
            ("scores", "H*T*S*(d/H)", h * t * s * (d // h)),
            ("softmax", "H*T*S", h * t * s),
            ("weighted sum", "H*T*S*(kd/H)", h * t * s * (kd // h)),
            ("out projection (+1: bias always)", "T*kd*(kd+1)", t * kd * (kd + 1)),
        ]
        for nm, fm, v in hook_parts:
            R(tool, f"MHA hook: {nm}", f"{fm}" + ("" if k_ == 1 else f" * N (batch counter {bc})"), v * k_)
        if fam == "mha" and nw:
            R(tool, "F.softmax (patched functional, not divided)", "N*H*T*S", SM)
            R(tool, "torch.bmm scores (tensor op)", "N*H*T*hd*S", SC)
            if mask is not None:
                R(tool, "torch.baddbmm mask term (numel of the (1,T,S) mask)", "T*S", t * s)
            R(tool, "torch.bmm weighted sum (tensor op)", "N*H*T*S*hd", SC)
        if fam == "encoder_layer":
            R(tool, "linear1 + linear2 hooks / N", "T*(d*f + f) + T*(f*d + d)", (ffn1 + n * t * f + ffn2 + n * t * d) // bc)
            R(tool, "norm1 + norm2 hooks / N (LayerNorm has no .affine: numel)", "2*T*d", 2 * ln // bc)
    elif fam == "hf_gpt2":
        R(tool, "torch.addmm c_attn + c_proj (tensor op, bias numel once)", "N*T*d*3d + 3d + N*T*d*d + d",
          n * t * d * 3 * d + 3 * d + n * t * d * d + d)
    elif fam != "sdpa":
        lin = sum(v + (pb[p_][0] if has_b[p_] else 0) for p_, (v, _) in proj.items())
        R(tool, "q/k/v/o nn.Linear hooks / N", "T*(d*H*hd + 2*d*G*hd + H*hd*d) + bias*T*(H*hd + 2*G*hd + d)", lin // bc)
        if fam == "hf_bert":
            R(tool, "LayerNorm hook / N", "T*d", ln // bc)
    if eager_like:
        R(tool, "F.softmax (patched functional)", "N*H*T*S", SM)
        if o.get("form") == "operator":
            R(tool, "q @ k^T, p @ v (operator: not seen)", "0", 0)
        else:
            R(tool, "torch.matmul scores + weighted sum (tensor ops)", "2*N*H*T*S*hd", 2 * SC)
    R(tool, "not seen (0): F.linear (unpatched), * and + operators, SDPA, rotary", "0", 0)
    # ---------------- ptflops 0.7.5, aten backend ----------------
    tool = "ptflops_aten"
    if fam in ("mha", "encoder_layer"):
        if o["qkv"] == "packed":
            R(tool, "in_proj (aten.mm on the transposed query: bias add not priced)", "N*T*d*3d", n * t * d * 3 * d)
        else:
            R(tool, "q/k/v (3 aten.mm; bias adds not priced)", "N*T*d*d + 2*N*S*kd*d", n * t * d * d + 2 * n * s * kd * d)
        R(tool, "out_proj (aten.addmm with bias / aten.mm)", "N*T*d*d + out_bias*N*T*d", n * t * d * d + (ln if ob else 0))
        if fam == "mha" and nw:
            if mask is None:
                R(tool, "scores (aten.bmm)", "N*H*T*S*hd", SC)
            R(tool, "weighted sum (aten.bmm)", "N*H*T*S*hd", SC)
        if fam == "encoder_layer":
            R(tool, "linear1 + linear2 (aten.addmm, bias per row)", "2*N*T*d*f + N*T*f + N*T*d", ffn1 + ffn2 + n * t * f + ln)
    elif fam != "sdpa":
        lin = sum(v + (pb[p_][0] if has_b[p_] else 0) for p_, (v, _) in proj.items())
        if fam == "hf_gpt2":
            lin = n * t * d * 3 * d + n * t * 3 * d + n * t * d * d + ln
        R(tool, "projections (aten.addmm incl. bias per row / aten.mm)", "sum(N*T*in*out) + bias*N*T*out", lin)
    if eager_like:
        R(tool, "scores + weighted sum (aten.bmm, @ and torch.matmul alike)", "2*N*H*T*S*hd", 2 * SC)
    if cid.endswith("_math"):
        R(tool, "SDPA math backend: scores + weighted sum (aten.bmm, dense even when causal)", "2*N*H*T*S*hd", 2 * SC)
    R(tool, "not priced (0): baddbmm, SDPA fused ops, mul, add, softmax, layer_norm", "0", 0)
    # ---------------- torchinfo 1.8.0 ----------------
    tool = "torchinfo"
    if fam in ("eager", "hf_bert", "hf_llama", "hf_mistral"):
        params = (d * h * hd + h * hd * qb) + 2 * (kd * g * hd + g * hd * qb) + (h * hd * d + d * ob)
        R(tool, "q/k/v/o nn.Linear: output_size[0] * params (T does not enter)", "N*(params of q, k, v, o)", n * params)
        if fam == "hf_bert":
            R(tool, "LayerNorm: output_size[0] * params", "N*2d", n * 2 * d)
    elif fam == "hf_gpt2":
        R(tool, "Conv1D ('Conv' in the class name): params * N * out_features", "(3d^2+3d)*N*3d + (d^2+d)*N*d",
          (3 * d * d + 3 * d) * n * 3 * d + (d * d + d) * n * d)
    elif fam == "encoder_layer":
        R(tool, "linear1 + linear2: N * params", "N*(d*f + f) + N*(f*d + d)", n * (d * f + f) + n * (f * d + d))
        R(tool, "norm1 + norm2: N * params", "2*N*2d", 2 * n * 2 * d)
    R(tool, "nn.MultiheadAttention (not a leaf; out_proj never called) and everything functional", "0", 0)
    # ---------------- torch.utils.flop_counter.FlopCounterMode (runner: torch.no_grad()) ----------------
    tool = "torch_flop_counter"
    mha_fast = fam == "mha" and eval_mode and not o["cross"] and qb and mask != "float"
    if (mha_fast or (fam == "encoder_layer" and eval_mode)):
        R(tool, "fast path op (aten._native_multi_head_attention / aten._transformer_encoder_layer_fwd)", "0", 0)
    else:
        if fam in ("mha", "encoder_layer"):
            if o["qkv"] == "packed":
                R(tool, "in_proj (aten.mm)", "2*N*T*d*3d", 2 * n * t * d * 3 * d)
            else:
                R(tool, "q/k/v (aten.mm)", "2*(N*T*d*d + 2*N*S*kd*d)", 2 * (n * t * d * d + 2 * n * s * kd * d))
            R(tool, "out_proj (aten.addmm/mm, bias ignored)", "2*N*T*d*d", 2 * n * t * d * d)
            if (fam == "mha" and nw) or (fam == "encoder_layer" and not eval_mode):
                R(tool, "scores (aten.bmm or aten.baddbmm) + weighted sum (aten.bmm)", "2*2*N*H*T*S*hd", 4 * SC)
            if fam == "encoder_layer":
                R(tool, "linear1 + linear2 (aten.addmm)", "2*2*N*T*d*f", 2 * (ffn1 + ffn2))
        elif fam == "hf_gpt2":
            R(tool, "c_attn + c_proj (aten.addmm)", "2*(N*T*d*3d + N*T*d*d)", 2 * (n * t * d * 3 * d + n * t * d * d))
        elif fam != "sdpa":
            R(tool, "q/k/v/o (aten.addmm/mm, bias ignored)", "2*sum(N*T*in*out)", 2 * sum(v for v, _ in proj.values()))
        if eager_like:
            R(tool, "scores + weighted sum (aten.bmm)", "2*2*N*H*T*S*hd", 4 * SC)
        if cid.endswith("_math"):
            R(tool, "SDPA math backend: scores + weighted sum (aten.bmm, dense even when causal)", "2*2*N*H*T*S*hd",
              4 * SC)
    R(tool, "0: aten._scaled_dot_product_flash_attention_for_cpu (no formula), mul, add, softmax, layer_norm", "0", 0)
    # ---------------- calflops 0.3.2 (flops) ----------------
    tool = "calflops"
    if fam in ("mha", "encoder_layer"):
        if o["qkv"] == "packed":
            R(tool, "in_proj (patched F.linear, flops = 2*macs)", "2*N*T*d*3d", 2 * n * t * d * 3 * d)
        else:
            R(tool, "q/k/v (patched F.linear)", "2*(N*T*d*d + 2*N*S*kd*d)", 2 * (n * t * d * d + 2 * n * s * kd * d))
        R(tool, "out_proj (patched F.linear)", "2*N*T*d*d", 2 * n * t * d * d)
        if fam == "mha" and nw:
            if mask is not None:
                R(tool, "scores (torch.baddbmm: 2*macs + mask numel (1,T,S))", "2*N*H*T*S*hd + T*S", 2 * SC + t * s)
            R(tool, "F.softmax", "N*H*T*S", SM)
        if fam == "encoder_layer":
            R(tool, "linear1 + linear2 (F.linear)", "2*2*N*T*d*f", 2 * (ffn1 + ffn2))
            R(tool, "norm1 + norm2 (F.layer_norm, 5 per element)", "2*5*N*T*d", 10 * ln)
    elif fam == "hf_gpt2":
        R(tool, "c_attn + c_proj (torch.addmm: 2*macs + bias numel)", "2*(N*T*d*3d + N*T*d*d) + 3d + d",
          2 * (n * t * d * 3 * d + n * t * d * d) + 4 * d)
    elif fam != "sdpa":
        R(tool, "q/k/v/o (F.linear, bias ignored)", "2*sum(N*T*in*out)", 2 * sum(v for v, _ in proj.values()))
        if fam == "hf_bert":
            R(tool, "LayerNorm (F.layer_norm)", "5*N*T*d", 5 * ln)
    if eager_like:
        R(tool, "F.softmax", "N*H*T*S", SM)
        if o.get("form") != "operator":
            R(tool, "torch.matmul scores + weighted sum", "2*2*N*H*T*S*hd", 4 * SC)
    R(tool, "not seen (0): torch.bmm (unpatched), @, * and + operators, SDPA, rotary", "0", 0)
    return rows


TOTALS = OrderedDict([
    ("thop", lambda r: r["total_ops"]["value"]), ("fvcore", lambda r: r["total"]),
    ("ptflops_pytorch", lambda r: r["macs"]), ("ptflops_aten", lambda r: r["macs"]),
    ("torchinfo", lambda r: r["total_mult_adds"]), ("torch_flop_counter", lambda r: r["total_flops"]),
    ("calflops", lambda r: r["flops"]),
])


def check(folder: str, markdown: bool) -> int:
    """Every tool's total in every fixture equals the sum of its decomposed parts; with
    markdown, print one table per case (the tables of docs/notes/attention-oracle.md)."""
    bad = 0
    ids = [c["id"] for c in cases()]
    for cid in ids:
        path = os.path.join(folder, f"{cid}.json")
        if not os.path.exists(path):
            continue
        with open(path) as fh:
            e = json.load(fh)
        rows = decompose(e)
        if markdown:
            print(f"\n#### `{cid}` ({e['mode']}): {e['call']}\n")
            print("| tool | total | parts (non-zero) |\n|---|---:|---|")
        for tool, get in TOTALS.items():
            if tool not in e["tools"]:
                continue
            total = get(e["tools"][tool])
            parts = rows.get(tool, [])
            got = sum(v for _, _, v in parts)
            if got != total:
                bad += 1
                print(f"MISMATCH {cid} {tool}: tool {total} != parts {got}: {parts}")
            if markdown:
                txt = "; ".join(f"{nm} `{fm}` = {v}" for nm, fm, v in parts
                                if v or nm.startswith("fast path")) or "nothing counted"
                print(f"| {tool} | {total} | {txt} |")
    print(f"{len(ids)} cases, {bad} mismatches", file=sys.stderr)
    return 1 if bad else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=OUT)
    ap.add_argument("--uthop-dir", default=mf.DEFAULT_UTHOP_DIR)
    ap.add_argument("--only", default="", help="comma-separated case ids")
    ap.add_argument("--check", action="store_true", help="check the fixtures' totals against decompose(); write nothing")
    ap.add_argument("--markdown", action="store_true", help="with --check: print the decomposition tables")
    ap.add_argument("--sizes", default="", help="N,T,S,d,H,KV,MEM_DIM,WINDOW instead of 2,5,7,16,4,2,12,3 (a "
                    "robustness run of the decomposition into another --out; the recorded call texts keep the "
                    "default sizes)")
    a = ap.parse_args()
    if a.sizes:
        g = globals()
        for k_, v_ in zip(("N", "T", "S", "D", "H", "KV", "MEM_DIM", "WINDOW"), map(int, a.sizes.split(","))):
            g[k_] = v_
        g["HD"] = g["D"] // g["H"]
    if a.check:
        raise SystemExit(check(a.out, a.markdown))
    torch.set_num_threads(1)
    tools = mf.thops_available(a.uthop_dir)
    versions = mf.tool_versions()
    only = set(filter(None, a.only.split(",")))
    for case in cases():
        if only and case["id"] not in only:
            continue
        shapes = [tuple(s) for s in case["input_shapes"]]
        train = case["mode"] == "train"
        m = mf.build(case["ctor"], train)
        with torch.no_grad():
            y = m(*mf.make_inputs(list(shapes)))
        entry = OrderedDict(
            id=case["id"], op=case["op"], op_notes=case["op_notes"], call=case["call"], module=repr(m),
            module_class=type(m).__module__.replace("__main__", "tools.oracle.attention") + "." + type(m).__name__,
            input_shapes=case["input_shapes"], output_shape=list(y.shape), mode=case["mode"],
            params=sum(p.numel() for p in m.parameters()), buffers=sum(b.numel() for b in m.buffers()),
            sizes=OrderedDict(N=N, T=T, S=S, d=D, heads=H, head_dim=HD, kv_heads_gqa=KV, mem_dim=MEM_DIM, window=WINDOW),
        )
        if isinstance(m, HFAttention):
            entry["hf"] = OrderedDict(attention_class=type(m.attn).__module__ + "." + type(m.attn).__name__,
                                      attn_implementation=m.impl, attention_mask=m.mask_description(),
                                      rotary_position_embeddings=(
                                          [list(t.shape) for t in m.position_embeddings]
                                          if m.position_embeddings is not None else None),
                                      wrapper="tools/oracle/attention.py:HFAttention (mask and rotary (cos, sin) made "
                                              "in __init__, outside the tools' runs)")
        if case["note"]:
            entry["note"] = case["note"]
        entry["versions"] = versions
        entry["tools"] = OrderedDict()
        entry["fast_path"] = OrderedDict()
        for t in tools:
            with fast_path_probe() as fp:
                r = mf.safe(mf.TOOLS[t], case["ctor"], list(shapes), train=train, with_layers=True)
            r.pop("traceback", None)
            entry["tools"][t] = r
            entry["fast_path"][t] = fast_counts(fp)
        entry["torch_flop_counter_variants"] = OrderedDict(
            (how, flop_counter_variant(case, how)) for how in ("grad_enabled", "inference_mode"))
        entry["aten_ops"] = OrderedDict((k, aten_ops(case, g)) for k, g in (("no_grad", False), ("grad_enabled", True)))
        mf.write_json(os.path.join(a.out, f"{case['id']}.json"), entry)
        print(case["id"], json.dumps({t: mf._headline(t, r) for t, r in entry["tools"].items()}),
              json.dumps({t: sum(v.values()) for t, v in entry["fast_path"].items()}), flush=True)


if __name__ == "__main__":
    main()
