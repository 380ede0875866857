#!/usr/bin/env python3
"""Oracle fixtures for transformers: exact parameter counts of full-size published models, and
every real profiler on small Hugging Face models built from configs with seeded random weights.

Same environment and tool runners as tools/oracle/make_fixtures.py (read its docstring); nothing
is downloaded (no model hub): the published configs are typed in below, each with its source.
From the repository root:

    timeout 1200 /tmp/h1-venv/bin/python tools/oracle/hf_models.py                      # both parts
    timeout 1200 /tmp/h1-venv/bin/python tools/oracle/hf_models.py --only published
    timeout 1200 /tmp/h1-venv/bin/python tools/oracle/hf_models.py --only profilers

writes

* tests/fixtures/published_transformers.json -- GPT-2, BERT-base, Llama-2-7B, Mistral-7B,
  Mixtral-8x7B (transformers, built on the meta device: no memory, no weights) and torchvision
  vit_b_16, convnext_tiny, swin_t (weights=None): the config, total parameters as
  sum(p.numel() for p in model.parameters()) (a tied weight once, as parameters() yields it),
  buffers, and a part-by-part breakdown (embeddings, one block split into attention / MLP / norms,
  final norm, head) whose parts add up to the total (checked here before writing);
* tests/fixtures/profilers/hf/<model>_<attn>.json -- tiny GPT2LMHeadModel, BertModel,
  LlamaForCausalLM, MistralForCausalLM, MixtralForCausalLM with attn_implementation "eager" and
  "sdpa", eval mode, use_cache=False, fed seeded token ids of shape (2, 8): the leaf modules
  (own params, tied weights, calls and shapes), the torch functions called outside leaf modules
  (attention matmuls, softmax, rotary, masks), the scaled_dot_product_attention calls with their
  mask/is_causal arguments, the MoE routing, and every tool's totals and per-module figures.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import sys
import warnings
from collections import OrderedDict, defaultdict
from collections.abc import Callable
from typing import Any

import torch
import torchvision
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as mf
import transformers
from transformers import (
    BertConfig,
    BertModel,
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
    MistralConfig,
    MistralForCausalLM,
    MixtralConfig,
    MixtralForCausalLM,
)

PUBLISHED_OUT = os.path.join(mf.REPO, "tests", "fixtures", "published_transformers.json")
HF_OUT = os.path.join(mf.REPO, "tests", "fixtures", "profilers", "hf")
SCRIPT = "tools/oracle/hf_models.py"

# --------------------------------------------------------------------------
# (A) Published models
# --------------------------------------------------------------------------

CONFIG_NOTE = ("typed in from the model's config.json on the Hugging Face hub (file named in `source`); "
               "this environment cannot reach the hub, so the values are transcribed, not downloaded; "
               "every parameter-bearing field is corroborated by the total matching the expected count")

# Each: (id, config class, model class, published config.json, source, expected total, extras)
PUBLISHED_HF: list[dict] = [
    {
        "id": "gpt2", "config_cls": GPT2Config, "model_cls": GPT2LMHeadModel,
        "source": "huggingface.co/openai-community/gpt2 (formerly huggingface.co/gpt2) config.json",
        "expected_total": 124_439_808,
        "config": OrderedDict(
            activation_function="gelu_new", architectures=["GPT2LMHeadModel"], attn_pdrop=0.1,
            bos_token_id=50256, embd_pdrop=0.1, eos_token_id=50256, initializer_range=0.02,
            layer_norm_epsilon=1e-05, model_type="gpt2", n_ctx=1024, n_embd=768, n_head=12, n_layer=12,
            n_positions=1024, resid_pdrop=0.1, summary_activation=None, summary_first_dropout=0.1,
            summary_proj_to_labels=True, summary_type="cls_index", summary_use_proj=True,
            task_specific_params={"text-generation": {"do_sample": True, "max_length": 50}},
            vocab_size=50257),
        "context_length": OrderedDict(value=1024, field="n_positions"),
        "nominal": OrderedDict(figure="117M", source="Radford et al. 2019, 'Language Models are Unsupervised "
                            "Multitask Learners', Table 2 (the smallest model); the released checkpoint has "
                            "124,439,808 (the paper's figure is known to be an undercount)"),
        "published_compute": None,
        "layers": r"transformer\.h",
        "parts": OrderedDict(
            embeddings=r"transformer\.(wte|wpe)\.", final_norm=r"transformer\.ln_f\.", head=r"lm_head\."),
        "block_parts": OrderedDict(attention=r"attn\.", mlp=r"mlp\.", norms=r"ln_\d\."),
    },
    {
        "id": "bert_base_uncased", "config_cls": BertConfig, "model_cls": BertModel,
        "model_kwargs": {"add_pooling_layer": True},
        "source": "huggingface.co/google-bert/bert-base-uncased (formerly huggingface.co/bert-base-uncased) config.json",
        "expected_total": 109_482_240,
        "config": OrderedDict(
            architectures=["BertForMaskedLM"], attention_probs_dropout_prob=0.1, gradient_checkpointing=False,
            hidden_act="gelu", hidden_dropout_prob=0.1, hidden_size=768, initializer_range=0.02,
            intermediate_size=3072, layer_norm_eps=1e-12, max_position_embeddings=512, model_type="bert",
            num_attention_heads=12, num_hidden_layers=12, pad_token_id=0, position_embedding_type="absolute",
            transformers_version="4.6.0.dev0", type_vocab_size=2, use_cache=True, vocab_size=30522),
        "context_length": OrderedDict(value=512, field="max_position_embeddings"),
        "nominal": OrderedDict(figure="110M", source="Devlin et al. 2019, 'BERT', section 3 (BERT_BASE: L=12, "
                            "H=768, A=12, Total Parameters=110M)"),
        "published_compute": None,
        "layers": r"encoder\.layer",
        "parts": OrderedDict(embeddings=r"embeddings\.(word|position|token_type)_embeddings\.",
                          embedding_norm=r"embeddings\.LayerNorm\.", pooler=r"pooler\."),
        "block_parts": OrderedDict(attention=r"attention\.(self|output\.dense)\.",
                                mlp=r"(intermediate|output)\.dense\.", norms=r"(attention\.)?output\.LayerNorm\."),
    },
    {
        "id": "llama2_7b", "config_cls": LlamaConfig, "model_cls": LlamaForCausalLM,
        "source": "huggingface.co/meta-llama/Llama-2-7b-hf config.json",
        "expected_total": 6_738_415_616,
        "config": OrderedDict(
            architectures=["LlamaForCausalLM"], bos_token_id=1, eos_token_id=2, hidden_act="silu",
            hidden_size=4096, initializer_range=0.02, intermediate_size=11008, max_position_embeddings=4096,
            model_type="llama", num_attention_heads=32, num_hidden_layers=32, num_key_value_heads=32,
            pretraining_tp=1, rms_norm_eps=1e-05, rope_scaling=None, tie_word_embeddings=False,
            torch_dtype="float16", transformers_version="4.31.0.dev0", use_cache=True, vocab_size=32000),
        "context_length": OrderedDict(value=4096, field="max_position_embeddings"),
        "nominal": OrderedDict(figure="7B", source="Touvron et al. 2023, 'Llama 2', Table 1"),
        "published_compute": None,
        "layers": r"model\.layers",
        "parts": OrderedDict(embeddings=r"model\.embed_tokens\.", final_norm=r"model\.norm\.", head=r"lm_head\."),
        "block_parts": OrderedDict(attention=r"self_attn\.", mlp=r"mlp\.", norms=r"(input|post_attention)_layernorm\."),
    },
    {
        "id": "mistral_7b_v0_1", "config_cls": MistralConfig, "model_cls": MistralForCausalLM,
        "source": "huggingface.co/mistralai/Mistral-7B-v0.1 config.json",
        "expected_total": 7_241_732_096,
        "config": OrderedDict(
            architectures=["MistralForCausalLM"], bos_token_id=1, eos_token_id=2, hidden_act="silu",
            hidden_size=4096, initializer_range=0.02, intermediate_size=14336, max_position_embeddings=32768,
            model_type="mistral", num_attention_heads=32, num_hidden_layers=32, num_key_value_heads=8,
            rms_norm_eps=1e-05, rope_theta=10000.0, sliding_window=4096, tie_word_embeddings=False,
            torch_dtype="bfloat16", transformers_version="4.34.0.dev0", use_cache=True, vocab_size=32000),
        "context_length": OrderedDict(value=32768, field="max_position_embeddings",
                                   note="sliding_window=4096: each token attends to at most 4096 positions "
                                        "(Jiang et al. 2023, 'Mistral 7B', section 2)"),
        "nominal": OrderedDict(figure="7.3B", source="mistral.ai/news/announcing-mistral-7b ('a 7.3B parameter model')"),
        "published_compute": None,
        "layers": r"model\.layers",
        "parts": OrderedDict(embeddings=r"model\.embed_tokens\.", final_norm=r"model\.norm\.", head=r"lm_head\."),
        "block_parts": OrderedDict(attention=r"self_attn\.", mlp=r"mlp\.", norms=r"(input|post_attention)_layernorm\."),
    },
    {
        "id": "mixtral_8x7b_v0_1", "config_cls": MixtralConfig, "model_cls": MixtralForCausalLM,
        "source": "huggingface.co/mistralai/Mixtral-8x7B-v0.1 config.json",
        "expected_total": 46_702_792_704,
        "config": OrderedDict(
            architectures=["MixtralForCausalLM"], attention_dropout=0.0, bos_token_id=1, eos_token_id=2,
            hidden_act="silu", hidden_size=4096, initializer_range=0.02, intermediate_size=14336,
            max_position_embeddings=32768, model_type="mixtral", num_attention_heads=32, num_experts_per_tok=2,
            num_hidden_layers=32, num_key_value_heads=8, num_local_experts=8, output_router_logits=False,
            rms_norm_eps=1e-05, rope_theta=1000000.0, router_aux_loss_coef=0.02, sliding_window=None,
            tie_word_embeddings=False, torch_dtype="bfloat16", transformers_version="4.36.0.dev0",
            use_cache=True, vocab_size=32000),
        "context_length": OrderedDict(value=32768, field="max_position_embeddings"),
        "nominal": OrderedDict(figure="46.7B total, 12.9B active per token",
                            source="mistral.ai/news/mixtral-of-experts ('Mixtral has 46.7B total parameters "
                                   "but only uses 12.9B parameters per token'); Jiang et al. 2024, "
                                   "'Mixtral of Experts', section 2 (47B / 13B active)"),
        "published_compute": None,
        "layers": r"model\.layers",
        "parts": OrderedDict(embeddings=r"model\.embed_tokens\.", final_norm=r"model\.norm\.", head=r"lm_head\."),
        "block_parts": OrderedDict(attention=r"self_attn\.", router=r"mlp\.gate\.", experts=r"mlp\.experts\.",
                                norms=r"(input|post_attention)_layernorm\."),
    },
]

PUBLISHED_TV: list[dict] = [
    {"id": "vit_b_16", "ctor": "torchvision.models.vit_b_16(weights=None)", "expected_total": 86_567_656,
         "image_size": 224,
         "stages": [r"encoder\.layers"],
         "parts": OrderedDict(patch_embedding=r"conv_proj\.", class_token=r"class_token$",
                           position_embedding=r"encoder\.pos_embedding$", final_norm=r"encoder\.ln\.",
                           head=r"heads\.head\."),
         "block_parts": OrderedDict(attention=r"self_attention\.", mlp=r"mlp\.", norms=r"ln_\d\.")},
    {"id": "convnext_tiny", "ctor": "torchvision.models.convnext_tiny(weights=None)", "expected_total": 28_589_128,
         "image_size": 224,
         "stages": [r"features\.1", r"features\.3", r"features\.5", r"features\.7"],
         "parts": OrderedDict(stem=r"features\.0\.", downsample=r"features\.[246]\.",
                           head=r"classifier\."),
         "block_parts": OrderedDict(dwconv=r"block\.0\.", norm=r"block\.2\.", mlp=r"block\.[35]\.",
                                 layer_scale=r"layer_scale$")},
    {"id": "swin_t", "ctor": "torchvision.models.swin_t(weights=None)", "expected_total": None,
         "image_size": 224,
         "stages": [r"features\.1", r"features\.3", r"features\.5", r"features\.7"],
         "parts": OrderedDict(patch_embedding=r"features\.0\.", patch_merging=r"features\.[246]\.",
                           final_norm=r"norm\.", head=r"head\."),
         "block_parts": OrderedDict(attention=r"attn\.", mlp=r"mlp\.", norms=r"norm\d\.")},
]


def _shape_entry(p: torch.Tensor) -> OrderedDict:
    return OrderedDict(shape=list(p.shape), numel=p.numel())


def _buffers(model: nn.Module) -> OrderedDict:
    """Every buffer with its size and whether it is saved in the state dict (persistent)."""
    out: OrderedDict = OrderedDict()
    for mod_name, mod in model.named_modules():
        for b_name, b in mod.named_buffers(recurse=False):
            full = f"{mod_name}.{b_name}" if mod_name else b_name
            out[full] = OrderedDict(shape=list(b.shape), numel=b.numel(), dtype=str(b.dtype).replace("torch.", ""),
                                    persistent=b_name not in mod._non_persistent_buffers_set)
    return out


def _tied(model: nn.Module) -> OrderedDict:
    """name -> name of the parameter it shares storage with (the first name parameters() gives)."""
    first: dict[int, str] = {}
    out: OrderedDict = OrderedDict()
    for n, p in model.named_parameters(remove_duplicate=False):
        if id(p) in first:
            out[n] = first[id(p)]
        else:
            first[id(p)] = n
    return out


def breakdown(model: nn.Module, stages: list[str], parts: OrderedDict[str, str],
              block_parts: OrderedDict[str, str]) -> OrderedDict:
    """Parameters split into named parts (regexes over parameter names) and repeated blocks.

    `stages`: regexes of containers whose children are repeated blocks (a transformer's layer list,
    a CNN stage).  Each stage reports its block count, each block's total, and its first block split
    by `block_parts` (regexes over the name inside the block), every parameter with its shape.  The
    parts plus the stages must account for every parameter exactly once, else this raises."""
    named = list(model.named_parameters())  # tied weights once, as parameters() does
    tied = _tied(model)
    assigned: dict[str, str] = {}
    out: OrderedDict = OrderedDict()
    for label, rx in parts.items():
        sel = [(n, p) for n, p in named if re.match(rx, n)]
        for n, _ in sel:
            if n in assigned:
                raise SystemExit(f"{n}: in part {label} and {assigned[n]}")
            assigned[n] = label
        out[label] = OrderedDict(total=sum(p.numel() for _, p in sel),
                                 params=OrderedDict((n, _shape_entry(p)) for n, p in sel))
        tied_here = OrderedDict((n, OrderedDict(shape=list(p.shape), tied_to=tied[n], counted=0))
                                for n, p in model.named_parameters(remove_duplicate=False)
                                if n in tied and re.match(rx, n))
        if tied_here:
            out[label]["tied"] = tied_here
    st_out = []
    for srx in stages:
        blocks: OrderedDict[str, list] = OrderedDict()
        prefix = None
        for n, p in named:
            m = re.match(rf"({srx})\.([^.]+)\.(.*)$", n)
            if m:
                prefix = m.group(1)
                blocks.setdefault(m.group(2), []).append((m.group(3), p))
                if n in assigned:
                    raise SystemExit(f"{n}: in stage {srx} and {assigned[n]}")
                assigned[n] = srx
        ids = list(blocks)
        first = blocks[ids[0]]
        split: OrderedDict = OrderedDict()
        used: set[str] = set()
        for label, rx in block_parts.items():
            sel = [(n, p) for n, p in first if re.match(rx, n) and n not in used]
            used.update(n for n, _ in sel)
            split[label] = OrderedDict(total=sum(p.numel() for _, p in sel),
                                       params=OrderedDict((n, _shape_entry(p)) for n, p in sel))
        left = [n for n, _ in first if n not in used]
        if left:
            raise SystemExit(f"{prefix}.{ids[0]}: unclassified {left}")
        totals = [sum(p.numel() for _, p in blocks[i]) for i in ids]
        shapes_equal = all([(n, tuple(p.shape)) for n, p in blocks[i]] == [(n, tuple(p.shape)) for n, p in first]
                           for i in ids)
        st_out.append(OrderedDict(
            container=prefix, blocks=len(ids), block_names=ids, params_per_block=totals[0],
            all_blocks_identical=shapes_equal, total=sum(totals),
            **({} if shapes_equal else {"block_totals": totals}),
            first_block=split))
    left = [n for n, _ in named if n not in assigned]
    if left:
        raise SystemExit(f"unclassified parameters {left}")
    out["stages"] = st_out
    grand = sum(v["total"] for k, v in out.items() if k != "stages") + sum(s["total"] for s in st_out)
    out["sum_of_parts"] = grand
    return out


def _config_for(spec: dict):
    cfg = spec["config_cls"](**dict(spec["config"]))
    return cfg


def published_hf(spec: dict) -> OrderedDict:
    cfg = _config_for(spec)
    kwargs = spec.get("model_kwargs", {})
    with torch.device("meta"), warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        model = spec["model_cls"](cfg, **kwargs)
    total = sum(p.numel() for p in model.parameters())
    bd = breakdown(model, [spec["layers"]], spec["parts"], spec["block_parts"])
    if bd["sum_of_parts"] != total:
        raise SystemExit(f"{spec['id']}: parts {bd['sum_of_parts']} != total {total}")
    tied = _tied(model)
    no_dedup = sum(p.numel() for _, p in model.named_parameters(remove_duplicate=False))
    bufs = _buffers(model)
    entry = OrderedDict(
        id=spec["id"],
        model_class=f"transformers.{type(model).__name__}",
        constructor=(f"cfg = transformers.{spec['config_cls'].__name__}(**config); "
                     f"with torch.device('meta'): model = transformers.{spec['model_cls'].__name__}(cfg"
                     + "".join(f", {k}={v!r}" for k, v in kwargs.items()) + ")"),
        count="sum(p.numel() for p in model.parameters())  # a tied weight once",
        config_source=spec["source"], config_note=CONFIG_NOTE, config=spec["config"],
        effective_config=OrderedDict((k, getattr(cfg, k)) for k in _effective_keys(cfg)),
        context_length=spec["context_length"],
        total_params=total,
        expected_total=spec["expected_total"],
        matches_expected=total == spec["expected_total"],
        params_counting_tied_twice=no_dedup,
        tied_weights=tied,
        buffers=bufs,
        buffers_total=sum(b["numel"] for b in bufs.values()),
        buffers_note=_buffers_note(bufs),
        nominal=spec["nominal"],
        published_compute=spec["published_compute"],
        breakdown=bd,
    )
    if spec["id"].startswith("mixtral"):
        entry["moe"] = _moe_active(cfg, model, total)
    return entry


def _effective_keys(cfg) -> list[str]:
    keys = ["vocab_size", "hidden_size", "n_embd", "num_hidden_layers", "n_layer", "num_attention_heads",
            "n_head", "num_key_value_heads", "head_dim", "intermediate_size", "n_inner", "max_position_embeddings",
            "n_positions", "type_vocab_size", "sliding_window", "num_local_experts", "num_experts_per_tok",
            "tie_word_embeddings", "rope_theta", "rope_parameters", "_attn_implementation",
            "_experts_implementation"]
    out = []
    for k in keys:
        try:
            v = getattr(cfg, k)
        except AttributeError:
            continue
        if isinstance(v, (int, float, str, bool, dict)) or v is None:
            out.append(k)
    return out


def _buffers_note(bufs: dict) -> str:
    if not bufs:
        return "no buffers (transformers 5.24.0 builds GPT-2's causal mask on the fly: no attn.bias buffer)"
    names = sorted({n.rsplit(".", 1)[-1] for n in bufs})
    pers = sorted({n.rsplit(".", 1)[-1] for n, b in bufs.items() if b["persistent"]})
    return (f"buffers {names}, not parameters (parameters() never yields them); persistent (in the state dict): "
            f"{pers or 'none'}")


def _moe_active(cfg, model: nn.Module, total: int) -> OrderedDict:
    """Active parameters per token: everything but the experts a token is not routed to."""
    L, E, k = cfg.num_hidden_layers, cfg.num_local_experts, cfg.num_experts_per_tok
    h, ffn, V = cfg.hidden_size, cfg.intermediate_size, cfg.vocab_size
    heads, kvh = cfg.num_attention_heads, cfg.num_key_value_heads
    hd = h // heads
    experts = model.model.layers[0].mlp.experts
    per_expert = (experts.gate_up_proj.numel() + experts.down_proj.numel()) // E
    assert per_expert == 3 * h * ffn
    attn = h * heads * hd + 2 * h * kvh * hd + heads * hd * h
    router = E * h
    active_formula = V * h + L * (attn + router + k * 3 * h * ffn + 2 * h) + h + V * h
    active = total - L * (E - k) * per_expert
    assert active == active_formula, (active, active_formula)
    dense_equiv = total
    return OrderedDict(
        experts=E, top_k=k, params_per_expert=per_expert, params_per_expert_formula="3*hidden*intermediate "
        "(gate, up: hidden->intermediate; down: intermediate->hidden; no biases)",
        expert_params_total=L * E * per_expert, router_params_per_layer=router,
        active_params_per_token=active,
        active_formula=("V*h + L*(attn + E*h + k*3*h*ffn + 2*h) + h + V*h, attn = h*H*hd + 2*h*KV*hd + H*hd*h; "
                        f"V={V}, h={h}, L={L}, E={E}, k={k}, ffn={ffn}, H={heads}, KV={kvh}, hd={hd}: "
                        f"= total - L*(E-k)*3*h*ffn = {total} - {L}*{E - k}*{per_expert}"),
        active_convention=("the whole embedding table and the whole lm_head count as active (one row of the "
                           "table is read per token); router and both norms of every layer count; the "
                           "same convention gives Mistral's published 12.9B"),
        dense_equivalent_params=dense_equiv,
    )


def _tv_card(name: str) -> list:
    W = torchvision.models.get_model_weights(name)
    out = []
    for w in W:
        t = getattr(w.transforms, "keywords", {}) or {}
        out.append(OrderedDict(
            weights=f"{W.__name__}.{w.name}", GFLOPS=w.meta.get("_ops"), num_params=w.meta.get("num_params"),
            min_size=list(w.meta["min_size"]) if "min_size" in w.meta else None,
            crop_size=t.get("crop_size"), resize_size=t.get("resize_size"),
            file_size_MB=w.meta.get("_file_size")))
    return out


def published_tv(spec: dict) -> OrderedDict:
    torch.manual_seed(mf.SEED)
    with torch.device("meta"):
        model = getattr(torchvision.models, spec["id"])(weights=None)
    total = sum(p.numel() for p in model.parameters())
    bd = breakdown(model, spec["stages"], spec["parts"], spec["block_parts"])
    if bd["sum_of_parts"] != total:
        raise SystemExit(f"{spec['id']}: parts {bd['sum_of_parts']} != total {total}")
    card = _tv_card(spec["id"])
    default = next(c for c in card if c["weights"].endswith(".IMAGENET1K_V1"))
    bufs = _buffers(model)
    return OrderedDict(
        id=spec["id"], model_class=f"{type(model).__module__}.{type(model).__name__}",
        constructor=f"with torch.device('meta'): model = {spec['ctor']}",
        count="sum(p.numel() for p in model.parameters())",
        total_params=total,
        expected_total=spec["expected_total"] if spec["expected_total"] is not None else default["num_params"],
        expected_source=("the issue / torchvision weights meta num_params" if spec["expected_total"]
                         else "torchvision weights meta num_params (IMAGENET1K_V1)"),
        matches_expected=total == (spec["expected_total"] or default["num_params"]),
        buffers=bufs, buffers_total=sum(b["numel"] for b in bufs.values()),
        image_size=OrderedDict(value=spec["image_size"], source=f"{default['weights']} transforms crop_size"),
        published_compute=OrderedDict(
            GFLOPS=default["GFLOPS"], weights=default["weights"],
            source=(f"torchvision {torchvision.__version__} {default['weights']}.meta['_ops'] (read from the enum, "
                    "nothing downloaded); torchvision's docs call these GFLOPS, and they are multiply-accumulates "
                    "(ResNet-50: 4.089)")),
        torchvision_weights=card,
        breakdown=bd,
    )


def make_published(path: str) -> None:
    models = []
    for spec in PUBLISHED_HF:
        e = published_hf(spec)
        models.append(e)
        print(f"{e['id']}: {e['total_params']} expected {e['expected_total']} match={e['matches_expected']}",
              flush=True)
    for spec in PUBLISHED_TV:
        e = published_tv(spec)
        models.append(e)
        print(f"{e['id']}: {e['total_params']} expected {e['expected_total']} match={e['matches_expected']}",
              flush=True)
    doc = OrderedDict(
        source=OrderedDict(generator=SCRIPT, versions=OrderedDict(
            python=sys.version.split()[0], torch=torch.__version__, torchvision=torchvision.__version__,
            transformers=transformers.__version__)),
        schema=("models[]: config (published config.json, typed in, source named) or constructor; total_params = "
                "sum(p.numel() for p in model.parameters()) on the meta device (a tied weight once); "
                "params_counting_tied_twice = the same over named_parameters(remove_duplicate=False); buffers "
                "(never parameters); breakdown: named parts + stages of repeated blocks (first block split into "
                "attention / mlp / norms ...), sum_of_parts == total_params (checked by the generator)"),
        models=models,
    )
    mf.write_json(path, doc)


# --------------------------------------------------------------------------
# (B) Tiny Hugging Face models under every profiler
# --------------------------------------------------------------------------

BATCH, SEQ, VOCAB = 2, 8, 1000
ATTNS = ("eager", "sdpa")

TINY: OrderedDict[str, tuple] = OrderedDict([
    ("gpt2", (GPT2Config, GPT2LMHeadModel, OrderedDict(
        n_layer=2, n_embd=64, n_head=4, n_positions=64, vocab_size=VOCAB), {})),
    ("bert", (BertConfig, BertModel, OrderedDict(
        num_hidden_layers=2, hidden_size=64, num_attention_heads=4, intermediate_size=128, vocab_size=VOCAB,
        max_position_embeddings=64), {"add_pooling_layer": True})),
    ("llama", (LlamaConfig, LlamaForCausalLM, OrderedDict(
        num_hidden_layers=2, hidden_size=64, num_attention_heads=4, num_key_value_heads=2,
        intermediate_size=160, vocab_size=VOCAB), {})),
    ("mistral", (MistralConfig, MistralForCausalLM, OrderedDict(
        num_hidden_layers=2, hidden_size=64, num_attention_heads=4, num_key_value_heads=2,
        intermediate_size=160, vocab_size=VOCAB, sliding_window=4), {})),
    ("mixtral", (MixtralConfig, MixtralForCausalLM, OrderedDict(
        num_hidden_layers=2, hidden_size=64, num_attention_heads=4, num_key_value_heads=2,
        num_local_experts=4, num_experts_per_tok=2, intermediate_size=96, vocab_size=VOCAB), {})),
])
# Mixtral's experts: transformers 5.24.0 defaults to experts_implementation="grouped_mm" where
# torch._grouped_mm can dispatch (modeling_utils.py get_correct_experts_implementation), else
# "eager"; we ask for "eager" (a python loop of F.linear per hit expert, modeling_mixtral.py
# MixtralExperts.forward) so that every tool sees ordinary ops; the default's resolution on this
# machine is recorded in the fixture.
# One more fixture, mixtral_sdpa_grouped_mm, asks for "grouped_mm" (the default here) to show what
# the tools make of torch.nn.functional.grouped_mm.
EXPERTS_IMPL = "eager"

# (fixture id, tiny model, attn_implementation, experts_implementation or None)
VARIANTS: list[tuple[str, str, str, str | None]] = [
    (f"{n}_{a}", n, a, EXPERTS_IMPL if n == "mixtral" else None) for n in TINY for a in ATTNS
] + [("mixtral_sdpa_grouped_mm", "mixtral", "sdpa", "grouped_mm")]


def config_extra(attn: str, experts: str | None) -> OrderedDict:
    extra = OrderedDict(attn_implementation=attn, use_cache=False)
    if experts is not None:
        extra["experts_implementation"] = experts
    return extra


def tiny_factory(name: str, attn: str, experts: str | None = None) -> Callable[[], nn.Module]:
    cfg_cls, model_cls, cfg, kw = TINY[name]

    def factory() -> nn.Module:
        c = cfg_cls(**cfg, **config_extra(attn, experts))
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            m = model_cls(c, **kw)
        return m
    return factory


def token_ids(shapes: list[tuple[int, ...]]) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(mf.SEED)
    return [torch.randint(0, VOCAB, s, generator=g) for s in shapes]


def calflops_with_ids() -> None:
    """calflops 0.3.2 builds a float tensor from `input_shape` (an embedding refuses it) unless it
    is given a tokenizer: hand it the token ids through `args` instead.  The recorded call is
    rewritten to say so."""
    import calflops

    if getattr(calflops.calculate_flops, "_hf_ids", False):
        return
    orig = calflops.calculate_flops

    def calculate_flops(*, input_shape=None, **kw):
        if input_shape is not None:
            kw["args"] = token_ids([tuple(input_shape)])
        return orig(**kw)

    calculate_flops._hf_ids = True
    calflops.calculate_flops = calculate_flops


class _CallRecorder(TorchFunctionMode):
    """Torch functions called outside leaf modules (by the innermost running module), counted by
    (module, op, input shapes); scaled_dot_product_attention calls listed with their mask and
    is_causal arguments."""

    def __init__(self, stack: list[str], leaves: set[str]) -> None:
        super().__init__()
        self.stack, self.leaves = stack, leaves
        self.counts: OrderedDict[tuple, int] = OrderedDict()
        self.sdpa: list = []
        self.paused = False

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        res = func(*args, **kwargs)
        if self.paused:  # our own hooks' arithmetic (routing tables), not the model's
            return res
        cur = self.stack[-1] if self.stack else ""
        name = mf._func_name(func)
        if cur not in self.leaves and mf._is_tensor_result(res) and not name.endswith("__get__"):
            shapes = [mf.shape_of(a) for a in args if isinstance(a, torch.Tensor)
                      or (isinstance(a, (list, tuple)) and a and isinstance(a[0], torch.Tensor))]
            key = (cur, name, json.dumps(shapes), json.dumps(mf.shape_of(res)))
            self.counts[key] = self.counts.get(key, 0) + 1
        if name == "torch.nn.functional.scaled_dot_product_attention" or name.endswith("scaled_dot_product_attention"):
            mask = kwargs.get("attn_mask", args[3] if len(args) > 3 else None)
            self.sdpa.append(OrderedDict(
                module=cur, q=mf.shape_of(args[0]), k=mf.shape_of(args[1]), v=mf.shape_of(args[2]),
                attn_mask=None if mask is None else OrderedDict(
                    shape=list(mask.shape), dtype=str(mask.dtype).replace("torch.", ""),
                    allowed_over_whole_mask=int(mask.sum()) if mask.dtype == torch.bool else int((mask == 0).sum())),
                is_causal=kwargs.get("is_causal", False), scale=kwargs.get("scale"),
                enable_gqa=kwargs.get("enable_gqa", False), dropout_p=kwargs.get("dropout_p", 0.0)))
        return res


class _AtenOps(TorchDispatchMode):
    """Counts the aten operators a forward dispatches."""

    def __init__(self) -> None:
        super().__init__()
        self.counts: dict[str, int] = defaultdict(int)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.counts[str(func)] += 1
        return func(*args, **(kwargs or {}))


def ground_truth(factory: Callable[[], nn.Module]) -> OrderedDict:
    """Leaf modules (own params, tied weights, calls with shapes, Linear MACs), the torch calls made
    outside leaf modules, the sdpa calls, and the MoE routing, from one eval-mode forward."""
    model = mf.build(factory)
    (x,) = token_ids([(BATCH, SEQ)])
    names = {m: n for n, m in model.named_modules()}
    leaves = {n for n, m in model.named_modules() if mf.is_leaf(m)}
    calls: dict[str, list] = defaultdict(list)
    stack: list[str] = []
    routing: OrderedDict[str, Any] = OrderedDict()

    def pre(mod, args):
        stack.append(names[mod])

    def post(mod, args, kwargs, out):
        stack.pop()
        n = names[mod]
        if type(mod).__name__ == "MixtralTopKRouter":
            rec.paused = True
            _logits, scores, idx = out
            E = mod.num_experts
            routing[n] = OrderedDict(
                experts_per_token=idx.tolist(),
                tokens_per_expert=[int((idx == e).any(dim=-1).sum()) for e in range(E)],
                top_k_weights_sum_to_one=bool(torch.allclose(scores.sum(-1), torch.ones(scores.shape[0]))))
            rec.paused = False
        if n in leaves:
            call = OrderedDict(input_shapes=[mf.shape_of(a) for a in args], output_shape=mf.shape_of(out))
            if kwargs:
                call["kwargs"] = sorted(kwargs)
            if isinstance(mod, nn.Linear) and isinstance(out, torch.Tensor):
                call["macs"] = out.numel() * mod.in_features
            elif type(mod).__name__ == "Conv1D" and isinstance(out, torch.Tensor):  # GPT-2's transposed Linear
                call["macs"] = out.numel() * mod.weight.shape[0]
            calls[n].append(call)

    rec = _CallRecorder(stack, leaves)
    handles = []
    for m in model.modules():
        handles.append(m.register_forward_pre_hook(pre))
        handles.append(m.register_forward_hook(post, with_kwargs=True))
    with torch.no_grad(), rec:
        y = model(x)
    for h in handles:
        h.remove()
    aten = _AtenOps()
    with torch.no_grad(), aten:
        model(x)
    tied = _tied(model)
    per_leaf: OrderedDict = OrderedDict()
    for n, m in model.named_modules():
        if n not in leaves:
            continue
        own = list(m.named_parameters(recurse=False))
        e = OrderedDict(cls=type(m).__name__, params=sum(p.numel() for _, p in own))
        tw = {pn: tied[f"{n}.{pn}"] for pn, _ in m.named_parameters(recurse=False, remove_duplicate=False)
              if f"{n}.{pn}" in tied}
        if tw:
            e["tied"] = tw
            e["params_not_tied"] = sum(p.numel() for pn, p in own if pn not in tw)
        if isinstance(m, nn.Linear):
            e["linear"] = OrderedDict(in_features=m.in_features, out_features=m.out_features, bias=m.bias is not None)
        elif isinstance(m, nn.Embedding):
            e["embedding"] = OrderedDict(num_embeddings=m.num_embeddings, embedding_dim=m.embedding_dim,
                                         padding_idx=m.padding_idx)
        elif type(m).__name__ == "Conv1D":
            e["conv1d_as_linear"] = OrderedDict(in_features=m.weight.shape[0], out_features=m.nf, bias=True)
        cl = calls.get(n, [])
        e["calls"] = len(cl)
        if len(cl) == 1:
            e.update(cl[0])
        elif cl:
            e["call_list"] = cl
        per_leaf[n] = e
    # modules with parameters of their own that are not leaves (e.g. MixtralExperts' 3-D tensors)
    non_leaf_params = OrderedDict(
        (n, OrderedDict((pn, list(p.shape)) for pn, p in m.named_parameters(recurse=False)))
        for n, m in model.named_modules() if n not in leaves and any(True for _ in m.parameters(recurse=False)))
    functional = [OrderedDict(module=k[0], op=k[1], input_shapes=json.loads(k[2]), output_shape=json.loads(k[3]),
                              calls=v) for k, v in rec.counts.items()]
    out_shape = mf.shape_of(y[0] if isinstance(y, tuple) else next(iter(y.values())))
    res = OrderedDict(
        output_type=type(y).__name__, first_output_shape=out_shape,
        total_params=sum(p.numel() for p in model.parameters()),
        params_counting_tied_twice=sum(p.numel() for _, p in model.named_parameters(remove_duplicate=False)),
        tied_weights=tied, buffers=_buffers(model),
        leaves=per_leaf, non_leaf_modules_with_params=non_leaf_params,
        linear_macs_note="MACs of nn.Linear and GPT-2's Conv1D leaves (out elements x in_features), bias excluded",
        linear_macs=sum(c.get("macs", 0) for cl in calls.values() for c in cl),
        functional_calls_note=("torch functions called while a non-leaf module runs (module = innermost running "
                               "module path, '' = the root), counted per (module, op, input shapes, output shape); "
                               "operators x @ y, x * y arrive as torch.Tensor.matmul / __mul__ ... as "
                               "TorchFunctionMode reports them; only calls returning tensors"),
        functional_calls=functional,
        sdpa_calls=rec.sdpa,
        aten_ops_note=("aten operators dispatched by one more forward (TorchDispatchMode), calls per op: what "
                       "FlopCounterMode and ptflops' aten backend see; on CPU torch 2.14.1 routes "
                       "F.scaled_dot_product_attention to aten._scaled_dot_product_flash_attention_for_cpu"),
        aten_ops=OrderedDict(sorted(aten.counts.items())),
    )
    if routing:
        res["moe_routing"] = routing
        res["moe_routing_note"] = ("per MixtralTopKRouter (mlp.gate): experts_per_token[t] = the top-k experts of "
                                   "flattened token t = b*SEQ + s (batch-major), tokens_per_expert[e] = tokens routed "
                                   "to e (each token picks k distinct experts); data-dependent: same seeded weights "
                                   "(torch.manual_seed(0) before the build) and ids for every tool")
    return res


def _attn_kind_note(name: str, attn: str) -> str:
    return {"eager": "attention computed by transformers' eager_attention_forward: torch.matmul(q, k^T) * scale "
                     "(+ additive mask), softmax, dropout, torch.matmul(p, v)",
            "sdpa": "attention computed by torch.nn.functional.scaled_dot_product_attention (transformers "
                    "integrations/sdpa_attention.py)"}[attn]


def experts_default() -> str:
    cfg_cls, model_cls, cfg, _kw = TINY["mixtral"]
    c = cfg_cls(**cfg, use_cache=False)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        m = model_cls(c)
    return m.config._experts_implementation


def make_profilers(out_dir: str, only: list[str] | None = None) -> None:
    mf.make_inputs = token_ids  # every runner makes its inputs through this name
    tools = mf.thops_available(None)
    calflops_with_ids()
    versions = mf.tool_versions()
    default_experts = experts_default()
    for fid, name, attn, experts in VARIANTS:
        if only and name not in only and fid not in only:
            continue
        cfg_cls, model_cls, cfg, kw = TINY[name]
        factory = tiny_factory(name, attn, experts)
        gt = ground_truth(factory)
        m = mf.build(factory)
        extra = config_extra(attn, experts)
        entry = OrderedDict(
            id=fid, model_class=f"transformers.{model_cls.__name__}",
            constructor=(f"torch.manual_seed(0); transformers.{model_cls.__name__}(transformers.{cfg_cls.__name__}"
                         f"(**config, **config_extra)" + "".join(f", {k}={v!r}" for k, v in kw.items())
                         + ").eval()"),
            config=cfg, config_extra=extra,
            effective_config=OrderedDict((k, getattr(m.config, k)) for k in _effective_keys(m.config)),
            attention=_attn_kind_note(name, attn),
            input=OrderedDict(shape=[BATCH, SEQ], dtype="int64",
                              how=f"torch.randint(0, {VOCAB}, (2, 8), generator=torch.Generator().manual_seed(0))",
                              ids=token_ids([(BATCH, SEQ)])[0].tolist(),
                              call="model(input_ids)  # no attention_mask, no token_type_ids"),
            mode="eval",
            versions=versions, generator=SCRIPT,
            input_adapters=OrderedDict(
                all=("make_fixtures.make_inputs is replaced by token_ids (int64 ids) so every runner builds "
                     "its inputs through it"),
                ptflops=("input_res=(8,), input_constructor=lambda r: ids (batch 2): the runner's own "
                         "constructor path, fed the ids"),
                calflops=("calflops.calculate_flops(input_shape=...) builds a float tensor: wrapped to pass "
                          "args=[ids] instead (tools/oracle/hf_models.py:calflops_with_ids)")),
            model=repr(m),
        )
        if name == "mixtral":
            entry["experts_implementation_default_here"] = default_experts
            entry["experts_implementation_used"] = m.config._experts_implementation
        entry.update(gt)
        entry["tools"] = OrderedDict()
        for t in tools:
            r = mf.safe(mf.TOOLS[t], factory, [(BATCH, SEQ)], with_layers=True)
            if t == "calflops" and "call" in r:
                r["call"] = r["call"].replace(f"input_shape={(BATCH, SEQ)}", "args=[ids]")
            if "traceback" in r:
                r["traceback"] = _scrub(r["traceback"])
            entry["tools"][t] = r
        mf.write_json(os.path.join(out_dir, f"{fid}.json"), entry)
        print(f"{fid}: params={gt['total_params']} linear_macs={gt['linear_macs']} "
              + json.dumps({t: mf._headline(t, r) for t, r in entry["tools"].items()}), flush=True)


def _scrub(tb: str) -> str:
    """Tracebacks name files by absolute path; keep them relative to site-packages / the repo."""
    tb = tb.replace(mf.REPO + "/", "")
    return re.sub(r'File "[^"]*/site-packages/', 'File "site-packages/', tb)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", choices=["published", "profilers"], default=None)
    ap.add_argument("--models", nargs="*", default=None, help=f"tiny models to profile: {list(TINY)}")
    a = ap.parse_args()
    torch.set_num_threads(1)
    transformers.logging.set_verbosity_error()
    if a.only in (None, "published"):
        make_published(PUBLISHED_OUT)
    if a.only in (None, "profilers"):
        make_profilers(HF_OUT, a.models)


if __name__ == "__main__":
    main()
