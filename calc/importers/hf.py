"""Hugging Face config.json -> a spec: `spec_text_from_config(path)`, `network_from_config(path)`.

Pure JSON reading (no transformers at run time).  Each family (`FAMILIES`, by the config's
`model_type`) names the transformers class it costs, the keys it reads (with transformers 5.24's
defaults, from transformers/models/<family>/configuration_<family>.py), the keys that never change
parameters or products (dropouts, token ids, initialisation, rope_theta ...), and the keys it
understands at one value only (BERT's `is_decoder: false`).  Every other key is refused with its
name, unless it is null or false (a feature left off): a config the importer cannot read exactly
is an error, never a guess, and an unknown `model_type` is never read as another family's.

The spec is written as YAML text in the style of the hand-written specs (specs/llama2_7b.yaml,
gpt2.yaml, bert_base_uncased.yaml; one block with `repeat`), then built by
calc.network.network_from_text like any spec, so every command works on it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from calc.errors import CalcError, Location, SpecError
from calc.importers import hf_spec
from calc.importers.hf_json import Config, json_type, read_config

TRANSFORMERS = "transformers 5.24.0"
"""Whose defaults and module layout the families follow (transformers/models/<family>/)."""

COMMON_NEUTRAL = frozenset({
    # PretrainedConfig bookkeeping (transformers/configuration_utils.py): no effect on the modules.
    "model_type", "architectures", "transformers_version", "torch_dtype", "dtype", "_name_or_path",
    "_commit_hash", "name_or_path", "auto_map", "initializer_range", "bos_token_id", "eos_token_id",
    "pad_token_id", "sep_token_id", "decoder_start_token_id", "use_cache", "return_dict",
    "output_hidden_states", "output_attentions", "torchscript", "use_return_dict", "problem_type",
    "tokenizer_class", "prefix", "finetuning_task", "task_specific_params", "label2id",
    "chunk_size_feed_forward", "gradient_checkpointing", "attn_implementation", "_attn_implementation",
    # generation settings (transformers/generation/configuration_utils.py): decoding, not the model
    "max_length", "min_length", "do_sample", "early_stopping", "num_beams", "num_beam_groups",
    "diversity_penalty", "temperature", "top_k", "top_p", "typical_p", "repetition_penalty",
    "length_penalty", "no_repeat_ngram_size", "encoder_no_repeat_ngram_size", "bad_words_ids",
    "num_return_sequences", "output_scores", "return_dict_in_generate", "forced_bos_token_id",
    "forced_eos_token_id", "remove_invalid_values", "exponential_decay_length_penalty",
    "suppress_tokens", "begin_suppress_tokens",
})
"""Keys of every config that change neither parameters nor products (any value)."""

ROPE_TYPES = frozenset({"default", "linear", "dynamic", "yarn", "longrope", "llama3", "su"})
"""rope_scaling's rope_type (or type) values of transformers' modeling_rope_utils.py: each rescales
the rotary frequencies (no parameters; the rotation costs the same); 'su' is longrope's old name."""

ACTIVATIONS = {"silu": "silu", "swish": "silu", "gelu": "gelu", "gelu_new": "gelu",
               "gelu_pytorch_tanh": "gelu", "gelu_fast": "gelu", "gelu_python": "gelu", "relu": "relu"}
"""transformers.activations.ACT2FN names -> the spec's activation kind: GELU's tanh and erf forms
are both costed as gelu (as specs/gpt2.yaml costs gelu_new)."""

REQUIRED = object()


@dataclass(frozen=True)
class Family:
    """What the importer knows of one model_type."""

    model_type: str
    model_class: str
    """The transformers class whose modules the spec describes."""
    architectures: frozenset[str]
    """Names the config's `architectures` may hold (the class costed, or one on the same body)."""
    understood: frozenset[str]
    neutral: frozenset[str]
    fixed: Mapping[str, tuple[Any, ...]]
    """Keys understood at these values only (the first is transformers' default)."""
    read: Callable[[Config, "Family"], Any]


# -- values ---------------------------------------------------------------------------------------

def integer(cfg: Config, key: str, default: Any = REQUIRED, minimum: int = 1) -> Any:
    """An int of at least `minimum` (not a bool, not 4096.0); `default` when absent or null
    (REQUIRED: absent is an error)."""
    value = cfg.data.get(key)
    if value is None:
        if default is REQUIRED:
            raise cfg.error(key, f"missing required key {key!r}" if key not in cfg.data else "is null",
                            expected=f"an int >= {minimum}")
        return default
    if not isinstance(value, int) or isinstance(value, bool):
        raise cfg.error(key, f"is a JSON {json_type(value)} ({value!r}), not an int", expected=f"an int >= {minimum}")
    if value < minimum:
        raise cfg.error(key, f"is {value}", expected=f"an int >= {minimum}")
    return value


def boolean(cfg: Config, key: str, default: bool) -> bool:
    value = cfg.data.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise cfg.error(key, f"is a JSON {json_type(value)} ({value!r}), not a boolean", expected="true or false")
    return value


def activation(cfg: Config, key: str, default: str) -> str:
    """The spec's activation kind for the ACT2FN name at `key`."""
    value = cfg.data.get(key)
    if value is None:
        value = default
    if not isinstance(value, str):
        raise cfg.error(key, f"is a JSON {json_type(value)}, not an activation name", expected="a string such as 'silu'")
    if value not in ACTIVATIONS:
        raise cfg.error(key, f"activation {value!r} is not supported by the importer",
                        expected="one of " + ", ".join(sorted(ACTIVATIONS)))
    return ACTIVATIONS[value]


def divides(cfg: Config, key: str, part: int, whole: int, what: str) -> None:
    if whole % part:
        raise cfg.error(key, f"{part} does not divide {what} {whole}", expected=f"a divisor of {whole}")


def rope(cfg: Config, key: str) -> None:
    """rope_scaling / rope_parameters: null, or an object whose rope_type (or type) is one of
    ROPE_TYPES and whose partial_rotary_factor, if any, is 1 (rotary on the whole head)."""
    value = cfg.data.get(key)
    if value is None:
        return
    if not isinstance(value, dict):
        raise cfg.error(key, f"is a JSON {json_type(value)}, not an object", expected="null or {\"rope_type\": ...}")
    for name in ("rope_type", "type"):
        kind = value.get(name)
        if kind is not None and kind not in ROPE_TYPES:
            raise cfg.error((key, name), f"rope type {kind!r} is not supported by the importer",
                            expected="one of " + ", ".join(sorted(ROPE_TYPES)))
    factor = value.get("partial_rotary_factor", 1)
    if factor != 1:
        raise cfg.error((key, "partial_rotary_factor"), f"is {factor!r}: rotary on part of each head is not supported",
                        expected="1.0")


def labels(cfg: Config) -> int:
    """Classes of a classification head: len(id2label), else num_labels, else 2
    (PretrainedConfig's default num_labels, transformers/configuration_utils.py)."""
    id2label = cfg.data.get("id2label")
    if id2label is not None:
        if not isinstance(id2label, dict) or not id2label:
            raise cfg.error("id2label", "is not a non-empty object", expected="{\"0\": \"label\", ...}")
        if "num_labels" in cfg.data and cfg.data["num_labels"] != len(id2label):
            raise cfg.error("num_labels", f"is {cfg.data['num_labels']!r}, id2label has {len(id2label)} entries",
                            expected="the same number of labels")
        return len(id2label)
    return integer(cfg, "num_labels", 2)


# -- the decoder-only language models ---------------------------------------------------------------

DECODER_KEYS = frozenset({"hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
                          "head_dim", "intermediate_size", "vocab_size", "tie_word_embeddings", "hidden_act",
                          "max_position_embeddings", "rope_scaling", "rope_parameters"})
DECODER_NEUTRAL = frozenset({"rms_norm_eps", "rope_theta", "attention_dropout", "pretraining_tp"})
"""pretraining_tp: Llama's split of each matmul into slices (transformers < 4.45), the same products."""


def decoder(cfg: Config, family: Family) -> hf_spec.Decoder:
    """A LlamaForCausalLM-like model: the keys every decoder family reads, then its own."""
    t = family.model_type
    d = integer(cfg, "hidden_size")
    heads = integer(cfg, "num_attention_heads")
    # Absent or null: transformers' default, a number in MistralConfig, MixtralConfig, Qwen2Config
    # and GemmaConfig, the query heads in LlamaConfig and Phi3Config (configuration_*.py).
    kv_heads = integer(cfg, "num_key_value_heads", {"mistral": 8, "mixtral": 8, "qwen2": 32, "gemma": 16}.get(t, heads))
    divides(cfg, "num_key_value_heads", kv_heads, heads, "num_attention_heads")
    # Absent: d / heads, but GemmaConfig's default head_dim is 256 (configuration_gemma.py:72).
    head_dim = integer(cfg, "head_dim", 256 if t == "gemma" else None)
    if head_dim is None:
        divides(cfg, "num_attention_heads", heads, d, "hidden_size")
    width = head_dim or d // heads
    if width % 2:  # rotate_half (modeling_llama.py) splits each head in two halves
        raise cfg.error("head_dim" if head_dim else "num_attention_heads",
                        f"gives heads of width {width}, odd: the rotary embedding rotates pairs of features",
                        expected="an even head width (hidden_size / num_attention_heads, or head_dim)")
    if head_dim is not None and head_dim * heads == d:
        head_dim = None  # the attention kind's default, d / heads
    for key in ("rope_scaling", "rope_parameters"):
        rope(cfg, key)
    qkv_bias = out_bias = boolean(cfg, "attention_bias", False)
    if t == "qwen2":  # modeling_qwen2.py:181-184: q, k, v with bias, o_proj without
        qkv_bias, out_bias = True, False
    window = None
    if t in ("mistral", "mixtral", "phi3"):
        window = integer(cfg, "sliding_window", None if t != "mistral" or "sliding_window" in cfg.data else 4096)
    experts = top_k = None
    if t == "mixtral":
        experts = integer(cfg, "num_local_experts", 8)
        top_k = integer(cfg, "num_experts_per_tok", 2)
        if top_k > experts:
            raise cfg.error("num_experts_per_tok", f"is {top_k}, more than num_local_experts {experts}",
                            expected=f"at most {experts}")
    default_act = "gelu_pytorch_tanh" if t == "gemma" else "silu"
    return hf_spec.Decoder(
        model_class=family.model_class, d=d, layers=integer(cfg, "num_hidden_layers"), heads=heads,
        kv_heads=kv_heads, head_dim=head_dim, ffn=integer(cfg, "intermediate_size"), vocab=integer(cfg, "vocab_size"),
        tied=boolean(cfg, "tie_word_embeddings", t in ("gemma",)), act=activation(cfg, "hidden_act", default_act),
        qkv_bias=qkv_bias, out_bias=out_bias, mlp_bias=boolean(cfg, "mlp_bias", False), window=window,
        experts=experts, top_k=top_k, packed=t == "phi3", normalizer=t == "gemma",
        context=integer(cfg, "max_position_embeddings", {"llama": 2048, "mistral": 131072, "mixtral": 131072,
                                                          "qwen2": 32768, "gemma": 8192, "phi3": 4096}[t]),
    )


def gpt2(cfg: Config, family: Family) -> hf_spec.Gpt2:
    d = integer(cfg, "n_embd")
    heads = integer(cfg, "n_head")
    divides(cfg, "n_head", heads, d, "n_embd")
    return hf_spec.Gpt2(d=d, layers=integer(cfg, "n_layer"), heads=heads, ffn=integer(cfg, "n_inner", 4 * d),
                        vocab=integer(cfg, "vocab_size"), positions=integer(cfg, "n_positions"),
                        act=activation(cfg, "activation_function", "gelu_new"),
                        tied=boolean(cfg, "tie_word_embeddings", True))


def bert(cfg: Config, family: Family) -> hf_spec.Bert:
    d = integer(cfg, "hidden_size")
    heads = integer(cfg, "num_attention_heads")
    divides(cfg, "num_attention_heads", heads, d, "hidden_size")
    return hf_spec.Bert(d=d, layers=integer(cfg, "num_hidden_layers"), heads=heads,
                        ffn=integer(cfg, "intermediate_size"), vocab=integer(cfg, "vocab_size"),
                        positions=integer(cfg, "max_position_embeddings"),
                        types=integer(cfg, "type_vocab_size", 2), act=activation(cfg, "hidden_act", "gelu"))


def _pair(cfg: Config, key: str, default: int) -> tuple[int, int]:
    value = cfg.data.get(key)
    if isinstance(value, list):
        if len(value) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value):
            raise cfg.error(key, f"is {value!r}", expected="an int >= 1 or a list of two")
        return value[0], value[1]
    n = integer(cfg, key, default)
    return n, n


def vit(cfg: Config, family: Family) -> hf_spec.Vit:
    d = integer(cfg, "hidden_size")
    heads = integer(cfg, "num_attention_heads")
    divides(cfg, "num_attention_heads", heads, d, "hidden_size")
    image = _pair(cfg, "image_size", 224)
    patch = _pair(cfg, "patch_size", 16)
    for size, p in zip(image, patch):
        if p > size:
            raise cfg.error("patch_size", f"{p} is larger than the image ({size})", expected="at most image_size")
    return hf_spec.Vit(d=d, layers=integer(cfg, "num_hidden_layers"), heads=heads, ffn=integer(cfg, "intermediate_size"),
                       image=image, patch=patch, channels=integer(cfg, "num_channels", 3),
                       qkv_bias=boolean(cfg, "qkv_bias", True), act=activation(cfg, "hidden_act", "gelu"),
                       classes=labels(cfg))


def _family(model_type: str, model_class: str, architectures: tuple[str, ...], read: Callable[[Config, Family], Any],
            understood: tuple[str, ...] = (), neutral: tuple[str, ...] = (),
            fixed: Mapping[str, tuple[Any, ...]] | None = None, base: bool = True) -> Family:
    keys = (DECODER_KEYS if base else frozenset()) | set(understood)
    return Family(model_type, model_class, frozenset(architectures), frozenset(keys),
                  (DECODER_NEUTRAL if base else frozenset()) | set(neutral), dict(fixed or {}), read)


FAMILIES: dict[str, Family] = {f.model_type: f for f in (
    _family("llama", "LlamaForCausalLM", ("LlamaForCausalLM", "LlamaModel"), decoder,
            understood=("attention_bias", "mlp_bias")),
    _family("mistral", "MistralForCausalLM", ("MistralForCausalLM", "MistralModel"), decoder,
            understood=("sliding_window",)),
    _family("mixtral", "MixtralForCausalLM", ("MixtralForCausalLM", "MixtralModel"), decoder,
            understood=("sliding_window", "num_local_experts", "num_experts_per_tok"),
            neutral=("output_router_logits", "router_aux_loss_coef", "router_jitter_noise")),
    # Qwen2 and Qwen2.5 share model_type qwen2.  Sliding windows: modeling_qwen2.py:185 applies one
    # only to layers >= max_window_layers when use_sliding_window (configuration_qwen2.py:83-90),
    # which the importer does not write: use_sliding_window true is refused.
    _family("qwen2", "Qwen2ForCausalLM", ("Qwen2ForCausalLM", "Qwen2Model"), decoder,
            neutral=("sliding_window", "max_window_layers"),
            fixed={"use_sliding_window": (False,), "layer_types": ()}),
    _family("gemma", "GemmaForCausalLM", ("GemmaForCausalLM", "GemmaModel"), decoder,
            understood=("attention_bias",),
            fixed={"use_bidirectional_attention": (False,), "hidden_activation": ("gelu_pytorch_tanh",)}),
    _family("phi3", "Phi3ForCausalLM", ("Phi3ForCausalLM", "Phi3Model"), decoder,
            understood=("sliding_window",),
            neutral=("resid_pdrop", "embd_pdrop", "original_max_position_embeddings"),
            fixed={"partial_rotary_factor": (1.0,)}),
    _family("gpt2", "GPT2LMHeadModel", ("GPT2LMHeadModel", "GPT2Model"), gpt2, base=False,
            understood=("n_embd", "n_layer", "n_head", "n_inner", "vocab_size", "n_positions",
                        "activation_function", "tie_word_embeddings"),
            neutral=("n_ctx", "resid_pdrop", "embd_pdrop", "attn_pdrop", "layer_norm_epsilon", "scale_attn_weights",
                     "scale_attn_by_inverse_layer_idx", "reorder_and_upcast_attn", "summary_type",
                     "summary_use_proj", "summary_activation", "summary_proj_to_labels", "summary_first_dropout"),
            fixed={"add_cross_attention": (False,)}),
    _family("bert", "BertModel", ("BertModel", "BertForMaskedLM", "BertForPreTraining"), bert, base=False,
            understood=("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "vocab_size",
                        "max_position_embeddings", "type_vocab_size", "hidden_act"),
            neutral=("hidden_dropout_prob", "attention_probs_dropout_prob", "layer_norm_eps", "classifier_dropout",
                     "tie_word_embeddings"),
            fixed={"position_embedding_type": ("absolute",), "is_decoder": (False,), "add_cross_attention": (False,)}),
    _family("vit", "ViTForImageClassification", ("ViTForImageClassification", "ViTModel"), vit, base=False,
            understood=("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "hidden_act",
                        "image_size", "patch_size", "num_channels", "qkv_bias", "id2label", "num_labels"),
            neutral=("hidden_dropout_prob", "attention_probs_dropout_prob", "layer_norm_eps", "encoder_stride",
                     "pooler_output_size", "pooler_act")),
)}
"""model_type -> Family.  BERT costs BertModel with its pooler whatever task head `architectures`
names (as specs/bert_base_uncased.yaml); the description says so."""


def check_keys(cfg: Config, family: Family) -> None:
    """Every key is understood, neutral, at its one understood value, or null/false."""
    for key, value in cfg.data.items():
        if key in family.understood or key in family.neutral or key in COMMON_NEUTRAL:
            continue
        if key in family.fixed:
            allowed = family.fixed[key]
            if value is None or value in allowed or (not allowed and isinstance(value, list)
                                                     and all(v == "full_attention" for v in value)):
                continue
            shown = ", ".join(repr(a) for a in allowed) or "'full_attention' for every layer"
            raise cfg.error(key, f"{value!r} changes the architecture in a way the importer does not write",
                            expected=f"{shown} or absent")
        if value is None or value is False:
            continue
        raise cfg.error(key, f"unknown key for model_type {family.model_type!r}: the importer cannot tell "
                             "whether it changes the architecture", expected="the keys of transformers' "
                        f"{family.model_class} config that the importer reads, or this key removed")


def family_of(cfg: Config) -> Family:
    model_type = cfg.data.get("model_type")
    known = ", ".join(sorted(FAMILIES))
    if model_type is None:
        raise cfg.error("model_type", "missing required key 'model_type'", expected=f"one of {known}")
    if not isinstance(model_type, str):
        raise cfg.error("model_type", f"is a JSON {json_type(model_type)}, not a string", expected=f"one of {known}")
    if model_type not in FAMILIES:
        raise cfg.error("model_type", f"unknown model_type {model_type!r}", expected=f"one of {known}")
    family = FAMILIES[model_type]
    names = cfg.data.get("architectures")
    if names is not None:
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise cfg.error("architectures", "is not a list of class names", expected='["LlamaForCausalLM"]')
        for name in names:
            if name not in family.architectures:
                raise cfg.error("architectures", f"{name!r} is not a {model_type} class the importer writes",
                                expected="one of " + ", ".join(sorted(family.architectures)))
    return family


def config_name(cfg: Config) -> str:
    """The config's name: its _name_or_path, else its file name without .json, else (a file named
    config.json, as every hub repository has) its folder's name."""
    name = cfg.data.get("_name_or_path")
    if isinstance(name, str) and name.strip():
        return name.strip()
    folder, base = os.path.split(os.path.abspath(cfg.file))
    stem = base.removesuffix(".json")
    return os.path.basename(folder) or stem if stem == "config" else stem


def spec_text(cfg: Config) -> str:
    """The YAML spec of a config already read."""
    family = family_of(cfg)
    check_keys(cfg, family)
    arch = family.read(cfg, family)
    return hf_spec.write(arch, hf_spec.Source(name=config_name(cfg), file=cfg.file, model_type=family.model_type,
                                              architectures=tuple(cfg.data.get("architectures") or ())))


def spec_text_from_config(path: str | os.PathLike[str]) -> str:
    """The YAML spec (text) of the Hugging Face config.json at `path`.  Any problem with the file
    or the config is a one-line `SpecError` naming the file, line, column and key."""
    return spec_text(read_config(path))


def network_from_config(path: str | os.PathLike[str]) -> Any:
    """The `calc.network.Network` of the config.json at `path`: its spec built in memory (errors
    name the config's path)."""
    from calc.network import network_from_text

    cfg = read_config(path)
    text = spec_text(cfg)
    try:
        return network_from_text(text, cfg.file)
    except CalcError as exc:  # a limit (calc/limits.py, MAX_OPS ...): its line is the YAML's, not the config's
        exc.location = Location(cfg.file)
        exc.message = f"the spec imported from it: {exc.message}"
        raise


def known_types() -> tuple[str, ...]:
    return tuple(sorted(FAMILIES))


__all__ = ["FAMILIES", "SpecError", "network_from_config", "spec_text_from_config", "known_types"]
