#!/usr/bin/env python3
"""Oracle for `calc import hf`: the exact parameter count of every config in tests/fixtures/hf/.

Each config.json there is typed in from the model's public config.json (see
tests/fixtures/hf/README.md; nothing can be downloaded here).  This script builds the model that
calc.importers.hf says it costs (FAMILY below: the same transformers class) from the config on
the meta device (no memory, no weights) and counts sum(p.numel() for p in model.parameters()):
a tied weight once, as parameters() yields it.  For Mixtral it also counts the parameters one
token uses: the total less, in every layer, the experts it does not visit ((E - k) of E experts).
The published, rounded figure of each model (model card, paper) is typed in below with its URL.
Deterministic; from the repository root:

    timeout 600 /tmp/h1-venv/bin/python tools/oracle/hf_import_counts.py

writes tests/fixtures/hf/counts.json (`models`: the shipped configs; `variants`: small configs
typed in below, for the defaults and options the shipped ones leave out), which tests/test_import_hf.py reads (tests never import
torch).
"""

from __future__ import annotations

import json
import os
import platform
import sys

import torch
import transformers

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HF = os.path.join(REPO, "tests", "fixtures", "hf")
OUT = os.path.join(HF, "counts.json")
SCRIPT = "tools/oracle/hf_import_counts.py"

FAMILY = {
    "llama": ("LlamaConfig", "LlamaForCausalLM"),
    "mistral": ("MistralConfig", "MistralForCausalLM"),
    "mixtral": ("MixtralConfig", "MixtralForCausalLM"),
    "qwen2": ("Qwen2Config", "Qwen2ForCausalLM"),
    "gemma": ("GemmaConfig", "GemmaForCausalLM"),
    "phi3": ("Phi3Config", "Phi3ForCausalLM"),
    "gpt2": ("GPT2Config", "GPT2LMHeadModel"),
    "bert": ("BertConfig", "BertModel"),
    "vit": ("ViTConfig", "ViTForImageClassification"),
}
"""model_type -> (config class, model class): the classes calc.importers.hf.FAMILIES names."""

# file -> (hub id, published figure, where it is published).  Typed in from the model cards and
# papers (this environment cannot reach them: re-check a figure against its URL when in doubt).
PUBLISHED = {
    "Llama-2-7b-hf.json": ("meta-llama/Llama-2-7b-hf", "7B",
                           "Touvron et al. 2023, Llama 2, arXiv:2307.09288, Table 1; "
                           "https://huggingface.co/meta-llama/Llama-2-7b-hf"),
    "Meta-Llama-3-8B.json": ("meta-llama/Meta-Llama-3-8B", "8B",
                             "https://huggingface.co/meta-llama/Meta-Llama-3-8B (model card, 'Params' column)"),
    "Llama-3.2-1B.json": ("meta-llama/Llama-3.2-1B", "1.23B",
                          "https://huggingface.co/meta-llama/Llama-3.2-1B (model card, 'Params' column: 1.23B)"),
    "Mistral-7B-v0.1.json": ("mistralai/Mistral-7B-v0.1", "7.3B",
                             "https://mistral.ai/news/announcing-mistral-7b ('a 7.3B parameter model'); "
                             "Jiang et al. 2023, arXiv:2310.06825"),
    "Mixtral-8x7B-v0.1.json": ("mistralai/Mixtral-8x7B-v0.1", "46.7B total, 12.9B active per token",
                               "https://mistral.ai/news/mixtral-of-experts ('46.7B total parameters but only "
                               "uses 12.9B parameters per token')"),
    "Qwen2.5-0.5B.json": ("Qwen/Qwen2.5-0.5B", "0.49B (non-embedding 0.36B)",
                          "https://huggingface.co/Qwen/Qwen2.5-0.5B (model card, 'Number of Parameters: 0.49B')"),
    "Qwen2.5-7B.json": ("Qwen/Qwen2.5-7B", "7.61B (non-embedding 6.53B)",
                        "https://huggingface.co/Qwen/Qwen2.5-7B (model card, 'Number of Parameters: 7.61B')"),
    "gemma-2b.json": ("google/gemma-2b", "non-embedding 1,981,884,416",
                      "Gemma Team 2024, arXiv:2403.08295, Table 2 (2B: non-embedding parameters "
                      "1,981,884,416; its embedding count 524,550,144 is of a 256,128-row table, the "
                      "released vocab_size is 256,000); https://huggingface.co/google/gemma-2b"),
    "Phi-3-mini-4k-instruct.json": ("microsoft/Phi-3-mini-4k-instruct", "3.8B",
                                    "https://huggingface.co/microsoft/Phi-3-mini-4k-instruct ('a 3.8B parameters "
                                    "... model'); Abdin et al. 2024, arXiv:2404.14219"),
    "gpt2.json": ("openai-community/gpt2", "124M",
                  "https://huggingface.co/openai-community/gpt2 (model card: 'the smallest version of GPT-2, "
                  "with 124M parameters')"),
    "bert-base-uncased.json": ("google-bert/bert-base-uncased", "110M",
                               "Devlin et al. 2019, BERT, arXiv:1810.04805, section 3 (BERT_BASE ... Total "
                               "Parameters=110M); https://huggingface.co/google-bert/bert-base-uncased"),
    "vit-base-patch16-224.json": ("google/vit-base-patch16-224", "86M",
                                  "Dosovitskiy et al. 2021, arXiv:2010.11929, Table 1 (ViT-Base: 86M); "
                                  "https://huggingface.co/google/vit-base-patch16-224"),
}


# Small configs that exercise what the shipped ones do not: transformers' defaults for absent
# keys (Mistral's 8 key/value heads, Gemma's head_dim 256), biases, a head_dim other than
# hidden_size / heads, packed projections with grouped-query attention, tied and untied heads,
# experts with a window, a non-square ViT.  Each is costed by the same class as above.
VARIANTS = {
    "llama_biases_head_dim": {"model_type": "llama", "hidden_size": 64, "num_attention_heads": 8,
                              "num_key_value_heads": 2, "head_dim": 12, "num_hidden_layers": 2,
                              "intermediate_size": 96, "vocab_size": 100, "attention_bias": True, "mlp_bias": True},
    "gemma_default_head_dim": {"model_type": "gemma", "hidden_size": 1024, "num_attention_heads": 8,
                               "num_key_value_heads": 1, "num_hidden_layers": 2, "intermediate_size": 96,
                               "vocab_size": 100},
    "phi3_gqa_tied": {"model_type": "phi3", "hidden_size": 64, "num_attention_heads": 8, "num_key_value_heads": 2,
                      "num_hidden_layers": 2, "intermediate_size": 96, "vocab_size": 100,
                      "tie_word_embeddings": True, "pad_token_id": None, "eos_token_id": None, "bos_token_id": None},
    "qwen2_default_tie": {"model_type": "qwen2", "hidden_size": 64, "num_attention_heads": 4,
                          "num_key_value_heads": 2, "num_hidden_layers": 2, "intermediate_size": 96, "vocab_size": 100},
    "mistral_default_kv_heads": {"model_type": "mistral", "hidden_size": 64, "num_attention_heads": 16,
                                 "num_hidden_layers": 2, "intermediate_size": 96, "vocab_size": 100},
    "mixtral_window_top1": {"model_type": "mixtral", "hidden_size": 64, "num_attention_heads": 8,
                            "num_key_value_heads": 8, "num_hidden_layers": 2, "intermediate_size": 96,
                            "vocab_size": 100, "num_local_experts": 4, "num_experts_per_tok": 1, "sliding_window": 16},
    "gpt2_inner_untied": {"model_type": "gpt2", "n_embd": 64, "n_head": 4, "n_layer": 2, "n_inner": 100,
                          "vocab_size": 100, "n_positions": 32, "tie_word_embeddings": False},
    "bert_one_type": {"model_type": "bert", "hidden_size": 64, "num_attention_heads": 4, "num_hidden_layers": 2,
                      "intermediate_size": 100, "vocab_size": 100, "max_position_embeddings": 32,
                      "type_vocab_size": 1},
    "vit_no_qkv_bias": {"model_type": "vit", "hidden_size": 64, "num_attention_heads": 4, "num_hidden_layers": 2,
                        "intermediate_size": 100, "image_size": 32, "patch_size": 4, "num_labels": 10,
                        "qkv_bias": False, "num_channels": 1},
    "vit_rectangular": {"model_type": "vit", "hidden_size": 64, "num_attention_heads": 4, "num_hidden_layers": 1,
                        "intermediate_size": 100, "image_size": [32, 48], "patch_size": [4, 8],
                        "id2label": {"0": "a", "1": "b", "2": "c"}},
}


def count(config: dict) -> dict:
    """The total (and, for a mixture of experts, the active) parameters of the model class."""
    config_cls, model_cls = (getattr(transformers, n) for n in FAMILY[config["model_type"]])
    cfg = config_cls(**config)
    with torch.device("meta"):
        model = model_cls(cfg)
    total = sum(p.numel() for p in model.parameters())
    out = {"model_class": f"transformers.{model_cls.__name__}", "total_params": total}
    if config["model_type"] == "mixtral":
        experts, k = cfg.num_local_experts, cfg.num_experts_per_tok
        per_layer = [sum(p.numel() for p in layer.mlp.experts.parameters()) for layer in model.model.layers]
        out["active_params"] = total - sum(n // experts * (experts - k) for n in per_layer)
        out["active_note"] = ("total less, per layer, (num_local_experts - num_experts_per_tok) experts' "
                              "parameters (sum over mlp.experts.parameters() // num_local_experts)")
    return out


def main() -> None:
    models = {}
    for name in sorted(os.listdir(HF)):
        if not name.endswith(".json") or name == "counts.json":
            continue
        with open(os.path.join(HF, name)) as f:
            config = json.load(f)
        hub, figure, where = PUBLISHED[name]
        models[name] = {"hub_id": hub, **count(config),
                        "published": {"figure": figure, "source": where}}
        print(name, models[name]["total_params"], file=sys.stderr)
    missing = set(PUBLISHED) - set(models)
    if missing:
        raise SystemExit(f"no config for {sorted(missing)}")
    variants = {name: {"config": config, **count(config)} for name, config in VARIANTS.items()}
    doc = {
        "source": {"generator": SCRIPT,
                   "versions": {"python": platform.python_version(), "torch": torch.__version__,
                                "transformers": transformers.__version__}},
        "count": "cfg = <config class>(**config); with torch.device('meta'): model = <model class>(cfg); "
                 "sum(p.numel() for p in model.parameters())  # a tied weight once",
        "models": models,
        "variants": variants,
    }
    with open(OUT, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
