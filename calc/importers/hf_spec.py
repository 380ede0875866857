"""The spec (YAML text) of an imported Hugging Face model, one writer per body.

Each writer follows a hand-written spec line for line, the config's numbers in place of its own:
`Decoder` specs/llama2_7b.yaml (Mistral's window as specs/mistral_7b.yaml, Mixtral's experts as
specs/mixtral_8x7b.yaml), `Gpt2` specs/gpt2.yaml, `Bert` specs/bert_base_uncased.yaml, `Vit`
transformers' ViTForImageClassification (specs/vit_b_16.yaml is torchvision's, the same
arithmetic).  Module paths are transformers'.  Values are ints, bools and fixed words; the only
free text (the config's name) is written as a JSON string, which YAML reads as a double-quoted one.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Source:
    name: str
    """_name_or_path, else the file name."""
    file: str
    model_type: str
    architectures: tuple[str, ...]


@dataclass(frozen=True)
class Decoder:
    """A LlamaForCausalLM-like model (Llama, Mistral, Mixtral, Qwen2, Gemma, Phi-3)."""

    model_class: str
    d: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int | None
    """None: d / heads (the attention kind's default)."""
    ffn: int
    vocab: int
    tied: bool
    act: str
    qkv_bias: bool
    out_bias: bool
    mlp_bias: bool
    window: int | None
    experts: int | None
    top_k: int | None
    packed: bool
    """Phi-3: qkv_proj packs q, k, v and gate_up_proj packs gate and up (modeling_phi3.py:54, 205)."""
    normalizer: bool
    """Gemma: the embeddings times sqrt(hidden_size) (modeling_gemma.py), no parameters."""
    context: int


@dataclass(frozen=True)
class Gpt2:
    d: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    positions: int
    act: str
    tied: bool


@dataclass(frozen=True)
class Bert:
    d: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    positions: int
    types: int
    act: str


@dataclass(frozen=True)
class Vit:
    d: int
    layers: int
    heads: int
    ffn: int
    image: tuple[int, int]
    patch: tuple[int, int]
    channels: int
    qkv_bias: bool
    act: str
    classes: int


def _b(flag: bool) -> str:
    return "true" if flag else "false"


def _quoted(text: str) -> str:
    """`text` as a one-line YAML double-quoted scalar (JSON's escapes; non-printable characters
    dropped)."""
    return json.dumps("".join(c for c in text if c.isprintable()), ensure_ascii=False)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text.rsplit("/", 1)[-1]).strip("_.") or "imported"


def _head(src: Source, costed: str, summary: str, notes: list[str], input_line: str) -> str:
    comment = [f"Imported by `calc import hf` from {src.file} (model_type {src.model_type}; costed as "
               f"transformers.{costed}, transformers 5.24's module layout and paths)."]
    if src.architectures and costed not in src.architectures:
        comment.append(f"The config's architectures names {', '.join(src.architectures)}: its task head is not "
                       f"costed, only the {costed} body.")
    comment += notes
    lines = []
    for paragraph in comment:
        words, line = paragraph.split(), "#"
        for w in words:
            if len(line) + 1 + len(w) > 100:
                lines.append(line)
                line = "#"
            line += " " + w
        lines.append(line)
    description = f"{src.name} ({os.path.basename(src.file)}): {summary}"
    if src.architectures and costed not in src.architectures:
        description += f" The {costed} body only: the head of {', '.join(src.architectures)} is not costed."
    return "\n".join(lines) + "\n" + (
        f"name: {_quoted(_slug(src.name))}\n"
        f"description: {_quoted(description)}\n"
        f"source: {_quoted(f'transformers.{costed} from {src.name} config.json ({src.file})')}\n"
        f"{input_line}\n")


def _decoder(m: Decoder, src: Source) -> str:
    attn = ("{type: attention, name: self_attn, heads: heads, kv_heads: kv_heads, "
            + ("head_dim: head_dim, " if m.head_dim else "")
            + ("qkv: packed, " if m.packed else "")
            + f"qkv_bias: {_b(m.qkv_bias)},\n             out_bias: {_b(m.out_bias)}, causal: true, "
            + ("window: window, " if m.window else "") + "rotary: true}")
    params = [f"d: {m.d}", f"heads: {m.heads}", f"kv_heads: {m.kv_heads}"]
    if m.head_dim:
        params.append(f"head_dim: {m.head_dim}")
    if m.window:
        params.append(f"window: {m.window}")
    if m.experts:
        params += [f"experts: {m.experts}", f"top_k: {m.top_k}"]
    params.append(f"ffn: {m.ffn}")
    bias = _b(m.mlp_bias)
    if m.experts:
        mlp = (f"          - {{type: moe, name: mlp, experts: experts, top_k: top_k, hidden: ffn, gated: true, "
               f"act: {m.act}}}\n")
        what = f"mixture of experts (top {m.top_k} of {m.experts})"
    elif m.packed:
        mlp = ("          - type: sequential\n            name: mlp\n            layers:\n"
               f"              - {{type: linear, name: gate_up_proj, Cout: ffn * 2, bias: {bias}}}\n"
               "              - type: parallel\n                merge: mul                 "
               "                # up * act_fn(gate), gate_up_proj's two halves\n"
               f"                branches:\n                  gate: [{{type: chunk, chunks: 2, index: 0}}, {{type: {m.act}}}]\n"
               "                  up: {type: chunk, chunks: 2, index: 1}\n"
               f"              - {{type: linear, name: down_proj, Cout: d, bias: {bias}}}\n")
        what = f"gated MLP {m.ffn} (packed gate_up_proj)"
    else:
        mlp = ("          - type: sequential\n            name: mlp\n            layers:\n"
               "              - type: parallel\n                merge: mul                 "
               "                # act_fn(gate_proj(x)) * up_proj(x)\n                branches:\n"
               f"                  gate_proj: {{type: linear, Cout: ffn, bias: {bias}, act: {m.act}}}\n"
               f"                  up_proj: {{type: linear, Cout: ffn, bias: {bias}}}\n"
               f"              - {{type: linear, name: down_proj, Cout: d, bias: {bias}}}\n")
        what = f"gated MLP {m.ffn} ({m.act})"
    gqa = f"{m.heads} query heads" + (f", {m.kv_heads} key/value heads" if m.kv_heads != m.heads else "")
    window = f", sliding window {m.window}" if m.window else ""
    summary = (f"{m.layers} decoder layers of width {m.d}, rotary attention ({gqa}{window}), {what}, "
               f"vocabulary {m.vocab}, {'tied' if m.tied else 'untied'} lm_head.")
    notes = ["Input: token ids (N, T), T = max_position_embeddings by default (calc report --input T)."]
    if m.normalizer:
        notes.append("Gemma multiplies the embeddings by sqrt(hidden_size) (GemmaModel's normalizer, N*T*d "
                     "multiplies, no parameters): no spec kind multiplies by a constant, so it is not costed.")
        summary += " Embedding normalizer not costed."
    head = ("  - {type: linear, name: lm_head, Cout: " + str(m.vocab) + ", bias: false, "
            + ("tie: model.embed_tokens, " if m.tied else "") + "role: lm_head}\n")
    return (_head(src, m.model_class, summary, notes, f"input: {{T: {m.context}}}") + "\nblocks:\n"
            "  decoder_layer:\n"
            "    description: RMSNorm, causal self attention with rotary embedding, residual; RMSNorm, "
            + ("mixture of experts" if m.experts else "gated MLP") + ", residual\n"
            f"    params: {{{', '.join(params)}}}\n"
            "    layers:\n"
            "      - type: residual\n        name: attn_residual\n        body:\n"
            "          - {type: rmsnorm, name: input_layernorm}\n"
            f"          - {attn}\n"
            "      - type: residual\n        name: mlp_residual\n        body:\n"
            "          - {type: rmsnorm, name: post_attention_layernorm}\n"
            f"{mlp}\n"
            "layers:\n  - type: sequential\n    name: model\n    layers:\n"
            f"      - {{type: embedding, name: embed_tokens, num_embeddings: {m.vocab}, embedding_dim: {m.d}}}\n"
            f"      - {{type: block, name: layers, block: decoder_layer, repeat: {m.layers}}}\n"
            "      - {type: rmsnorm, name: norm}\n" + head)


def _gpt2(m: Gpt2, src: Source) -> str:
    summary = (f"{m.layers} pre-norm decoder blocks of width {m.d}, {m.heads} heads, causal attention with packed "
               f"qkv, MLP {m.ffn}, {'tied' if m.tied else 'untied'} LM head.")
    notes = ["c_attn/c_fc/c_proj are transformers' Conv1D (form: conv1d), as in specs/gpt2.yaml.",
             "Input: token ids (N, T), T = n_positions by default."]
    return (_head(src, "GPT2LMHeadModel", summary, notes, f"input: {{T: {m.positions}}}") + "\nblocks:\n"
            "  gpt2_block:\n"
            f"    description: ln_1, causal self attention with packed qkv, residual; ln_2, MLP {m.ffn}, residual\n"
            f"    params: {{d: {m.d}, heads: {m.heads}, ffn: {m.ffn}}}\n"
            "    layers:\n"
            "      - type: residual\n        name: attn_residual\n        body:\n"
            "          - {type: layernorm, name: ln_1}\n"
            "          - {type: attention, name: attn, heads: heads, qkv: packed, causal: true, projection: conv1d}\n"
            "      - type: residual\n        name: mlp_residual\n        body:\n"
            "          - {type: layernorm, name: ln_2}\n"
            "          - type: sequential\n            name: mlp\n            layers:\n"
            "              - {type: linear, name: c_fc, Cout: ffn, form: conv1d}\n"
            f"              - {{type: {m.act}, name: act, call: method}}\n"
            "              - {type: linear, name: c_proj, Cout: d, form: conv1d}\n"
            "              - {type: dropout, name: dropout}\n\n"
            "layers:\n  - type: sequential\n    name: transformer\n    layers:\n"
            f"      - {{type: embedding, name: wte, num_embeddings: {m.vocab}, embedding_dim: {m.d}}}\n"
            f"      - {{type: position_embedding, name: wpe, rows: {m.positions}, lookup: true}}\n"
            "      - {type: dropout, name: drop}\n"
            f"      - {{type: block, name: h, block: gpt2_block, repeat: {m.layers}}}\n"
            "      - {type: layernorm, name: ln_f}\n"
            f"  - {{type: linear, name: lm_head, Cout: {m.vocab}, bias: false, "
            + ("tie: transformer.wte, " if m.tied else "") + "role: lm_head}\n")


def _bert(m: Bert, src: Source) -> str:
    summary = (f"{m.layers} post-norm encoder layers of width {m.d}, {m.heads} heads, intermediate {m.ffn}, "
               "with the pooler (BertModel).")
    notes = ["Layout as specs/bert_base_uncased.yaml; the attention kind's rows are q, k, v, ..., out "
             "(transformers: self.query, self.key, self.value, output.dense).",
             "Input: token ids (N, T), T = max_position_embeddings by default."]
    return (_head(src, "BertModel", summary, notes, f"input: {{T: {m.positions}}}") + "\nblocks:\n"
            "  bert_layer:\n"
            f"    description: self attention with biases, residual, LayerNorm; intermediate {m.ffn}, output "
            "dense, residual, LayerNorm\n"
            f"    params: {{d: {m.d}, heads: {m.heads}, intermediate: {m.ffn}}}\n"
            "    layers:\n"
            "      - type: sequential\n        name: attention\n        layers:\n"
            "          - type: residual\n            body:\n"
            "              - {type: attention, name: self, heads: heads}\n"
            "              - {type: dropout, name: dropout}\n"
            "          - {type: layernorm, name: LayerNorm}\n"
            "      - type: residual\n        body:\n"
            "          - type: sequential\n            name: intermediate\n            layers:\n"
            "              - {type: linear, name: dense, Cout: intermediate}\n"
            f"              - {{type: {m.act}, name: intermediate_act_fn, call: method}}\n"
            "          - type: sequential\n            name: output\n            layers:\n"
            "              - {type: linear, name: dense, Cout: d}\n"
            "              - {type: dropout, name: dropout}\n"
            "      - {type: layernorm, name: LayerNorm}\n\n"
            "layers:\n  - type: sequential\n    name: embeddings\n    layers:\n"
            "      - type: parallel\n        merge: add\n        branches:\n"
            f"          word_embeddings: {{type: embedding, num_embeddings: {m.vocab}, embedding_dim: {m.d}}}\n"
            f"          token_type_embeddings: {{type: embedding, num_embeddings: {m.types}, embedding_dim: {m.d}}}\n"
            f"      - {{type: position_embedding, name: position_embeddings, rows: {m.positions}, lookup: true}}\n"
            "      - {type: layernorm, name: LayerNorm}\n"
            "      - {type: dropout, name: dropout}\n"
            "  - type: sequential\n    name: encoder\n    layers:\n"
            f"      - {{type: block, name: layer, block: bert_layer, repeat: {m.layers}}}\n"
            "  - type: sequential\n    name: pooler\n    layers:\n"
            "      - {type: select, name: first_token, dim: 1, index: 0}   # hidden_states[:, 0]\n"
            f"      - {{type: linear, name: dense, Cout: {m.d}}}\n"
            "      - {type: tanh, name: activation}\n")


def _vit(m: Vit, src: Source) -> str:
    grid = (m.image[0] // m.patch[0], m.image[1] // m.patch[1])
    tokens = grid[0] * grid[1]
    k = m.patch[0] if m.patch[0] == m.patch[1] else f"[{m.patch[0]}, {m.patch[1]}]"
    summary = (f"{m.patch[0]}x{m.patch[1]} patches of {m.image[0]}x{m.image[1]}, class token, {m.layers} pre-norm "
               f"encoder layers of width {m.d}, {m.heads} heads, MLP {m.ffn}, {m.classes} classes.")
    notes = ["ViTEmbeddings: patch_embeddings.projection (a conv of stride = kernel = patch), flatten(2), "
             "transpose(1, 2); cls_token prepended; position_embeddings (a parameter added whole); ViTLayer "
             "pre-norm (layernorm_before, attention, residual; layernorm_after, intermediate, output, residual).",
             f"Input: pixels ({m.channels}, {m.image[0]}, {m.image[1]}), image_size."]
    return (_head(src, "ViTForImageClassification", summary, notes,
                  f"input: [{m.channels}, {m.image[0]}, {m.image[1]}]") + "\nblocks:\n"
            "  vit_layer:\n"
            f"    description: layernorm_before, self attention, residual; layernorm_after, MLP {m.ffn}, residual\n"
            f"    params: {{d: {m.d}, heads: {m.heads}, intermediate: {m.ffn}}}\n"
            "    layers:\n"
            "      - type: residual\n        name: attn_residual\n        body:\n"
            "          - {type: layernorm, name: layernorm_before}\n"
            f"          - {{type: attention, name: attention, heads: heads, qkv_bias: {_b(m.qkv_bias)}}}\n"
            "      - type: residual\n        name: mlp_residual\n        body:\n"
            "          - {type: layernorm, name: layernorm_after}\n"
            "          - type: sequential\n            name: intermediate\n            layers:\n"
            "              - {type: linear, name: dense, Cout: intermediate}\n"
            f"              - {{type: {m.act}, name: intermediate_act_fn}}\n"
            "          - type: sequential\n            name: output\n            layers:\n"
            "              - {type: linear, name: dense, Cout: d}\n"
            "              - {type: dropout, name: dropout}\n\n"
            "layers:\n  - type: sequential\n    name: vit\n    layers:\n"
            "      - type: sequential\n        name: embeddings\n        layers:\n"
            "          - type: sequential\n            name: patch_embeddings\n            layers:\n"
            f"              - {{type: conv, name: projection, K: {k}, stride: {k}, Cout: {m.d}}}\n"
            f"              - {{type: reshape, name: flatten, shape: [{m.d}, {tokens}]}}\n"
            "              - {type: permute, name: transpose, dims: [0, 2, 1]}\n"
            "          - {type: class_token, name: cls_token}\n"
            f"          - {{type: position_embedding, name: position_embeddings, rows: {tokens + 1}}}\n"
            "          - {type: dropout, name: dropout}\n"
            "      - type: sequential\n        name: encoder\n        layers:\n"
            f"          - {{type: block, name: layer, block: vit_layer, repeat: {m.layers}}}\n"
            "      - {type: layernorm, name: layernorm}\n"
            "  - {type: select, name: class_token_out, dim: 1, index: 0}   # sequence_output[:, 0, :]\n"
            f"  - {{type: linear, name: classifier, Cout: {m.classes}}}\n")


WRITERS = {Decoder: _decoder, Gpt2: _gpt2, Bert: _bert, Vit: _vit}


def write(model: Decoder | Gpt2 | Bert | Vit, src: Source) -> str:
    """The spec of `model`, read from the config `src`."""
    return WRITERS[type(model)](model, src)  # type: ignore[operator]
