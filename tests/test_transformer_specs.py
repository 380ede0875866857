"""The transformer specs of the library (specs/vit_b_16, bert_base_uncased, gpt2, llama2_7b,
mistral_7b, mixtral_8x7b): exact to their published parameter counts, part by part; Mixtral's
active parameters per token; ViT-B/16's MACs as torchvision's model card gives them, and every
torchvision module's shape, parameters and MACs; the sequence length as a spec input, with the
projections linear and the attention products quadratic in it, in exact closed forms.

Figures and their sources:
* tests/fixtures/published_transformers.json (tools/oracle/hf_models.py; torch 2.14.1,
  transformers 5.24.0, torchvision 0.29.1): each model built on the meta device from its
  published config.json (the Hugging Face hub file named in `config_source`, transcribed) or
  torchvision constructor; total = sum(p.numel() for p in model.parameters()) (a tied weight
  once), broken into named parts and the first block of each stage.  The totals are also the
  figures of the issue (written out below, so a changed fixture cannot move them silently).
* tests/fixtures/torchvision/vit_b_16.json (tools/oracle/make_fixtures.py): a forward pass of
  torchvision.models.vit_b_16 at 1x3x224x224, every leaf module's output shape, parameters and
  (Conv2d/Linear) MACs, and the model card's 17.564 GFLOPS (ViT_B_16_Weights.IMAGENET1K_V1).
"""

from __future__ import annotations

import json
import re
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path

import pytest
import sympy

from calc.errors import ShapeError
from calc.network import load_network, network_from_text

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
FIXTURES = Path(__file__).parent / "fixtures"
PUBLISHED = json.loads((FIXTURES / "published_transformers.json").read_text())
MODELS = {m["id"]: m for m in PUBLISHED["models"]}

# spec -> its model in published_transformers.json
FIXTURE_OF_SPEC = {
    "vit_b_16": "vit_b_16",
    "bert_base_uncased": "bert_base_uncased",
    "gpt2": "gpt2",
    "llama2_7b": "llama2_7b",
    "mistral_7b": "mistral_7b_v0_1",
    "mixtral_8x7b": "mixtral_8x7b_v0_1",
}
# The issue's figures (and the model cards'): sum(p.numel() for p in model.parameters()).
PUBLISHED_PARAMS = {
    "vit_b_16": 86_567_656,
    "bert_base_uncased": 109_482_240,
    "gpt2": 124_439_808,
    "llama2_7b": 6_738_415_616,
    "mistral_7b": 7_241_732_096,
    "mixtral_8x7b": 46_702_792_704,
}
# Token-id specs, input (N, T): T by default is the model's context length (the config's
# n_positions / max_position_embeddings), except Mistral 7B: 8192, the paper's context_len
# (Jiang et al. 2023, Table 1; the config allows 32768), twice its 4096 sliding window.
DEFAULT_T = {"gpt2": 1024, "bert_base_uncased": 512, "llama2_7b": 4096, "mistral_7b": 8192,
             "mixtral_8x7b": 32768}
TOKEN_SPECS = sorted(DEFAULT_T)


@cache
def network(spec: str):
    return load_network(str(SPECS / f"{spec}.yaml"))


@cache
def report(spec: str, convention: str = "exact", T: int | None = None):
    shape = None if T is None else (1, T)
    return network(spec).evaluate(convention, input_shape=shape)


def model(spec: str) -> dict:
    return MODELS[FIXTURE_OF_SPEC[spec]]


def under(rows, prefixes) -> int:
    """Parameters of the rows at or below any of the paths."""
    return sum(r.params for r in rows if any(r.path == p or r.path.startswith(p + ".") for p in prefixes))


# -- the fixture ---------------------------------------------------------------------------------

def test_fixture_cites_its_generator_and_versions():
    assert PUBLISHED["source"]["generator"] == "tools/oracle/hf_models.py"
    assert PUBLISHED["source"]["versions"]["transformers"] == "5.24.0"
    assert PUBLISHED["source"]["versions"]["torch"] == "2.14.1+cu130"
    for spec, name in FIXTURE_OF_SPEC.items():
        m = MODELS[name]
        assert m["matches_expected"] and m["total_params"] == m["expected_total"] == PUBLISHED_PARAMS[spec]
        assert m["breakdown"]["sum_of_parts"] == m["total_params"]
        assert m.get("config_source") or m.get("constructor"), spec


# -- totals --------------------------------------------------------------------------------------

@pytest.mark.parametrize("spec", sorted(FIXTURE_OF_SPEC))
def test_params_exact(spec):
    assert report(spec).totals.params == model(spec)["total_params"] == PUBLISHED_PARAMS[spec]
    assert report(spec).totals.buffers == 0  # rotary inv_freq, BERT's position_ids: not counted


@pytest.mark.parametrize("spec", TOKEN_SPECS)
def test_default_sequence_is_the_context_length(spec):
    assert tuple(network(spec).input_shape) == (1, DEFAULT_T[spec])
    context = model(spec)["context_length"]["value"]
    assert DEFAULT_T[spec] == (8192 if spec == "mistral_7b" else context)


def test_vit_input_is_its_image():
    assert tuple(network("vit_b_16").input_shape) == (1, 3, 224, 224)
    assert model("vit_b_16")["image_size"]["value"] == 224


def test_gpt2_lm_head_is_tied_to_wte():
    """Counted once, as parameters() does; untied, the head adds the table again: the
    fixture's count over named_parameters(remove_duplicate=False)."""
    rows = {r.path: r for r in report("gpt2").rows}
    assert rows["lm_head"].params == 0 and rows["lm_head"].macs == 1024 * 768 * 50257
    assert model("gpt2")["tied_weights"] == {"lm_head.weight": "transformer.wte.weight"}
    text = (SPECS / "gpt2.yaml").read_text()
    assert text.count(", tie: transformer.wte,") == 1
    untied = network_from_text(text.replace(", tie: transformer.wte,", ","), "gpt2.yaml").evaluate()
    assert untied.totals.params == model("gpt2")["params_counting_tied_twice"] == 163_037_184


# -- part by part --------------------------------------------------------------------------------
# spec -> (path of block i, the fixture's parts of one block -> spec paths under it,
#          the fixture's other parts -> spec paths)
LAYER_ATTN = ("attn_residual.self_attn",)
LAYER_NORMS = ("attn_residual.input_layernorm", "mlp_residual.post_attention_layernorm")
DECODER_TOP = {"embeddings": ("model.embed_tokens",), "final_norm": ("model.norm",), "head": ("lm_head",)}
PARTS = {
    "vit_b_16": ("encoder.layers.encoder_layer_{i}", {
        "attention": ("attn_residual.self_attention",),
        "mlp": ("mlp_residual.mlp",),
        "norms": ("attn_residual.ln_1", "mlp_residual.ln_2"),
    }, {
        "patch_embedding": ("conv_proj",), "class_token": ("class_token",),
        "position_embedding": ("encoder.pos_embedding",), "final_norm": ("encoder.ln",), "head": ("heads.head",),
    }),
    "bert_base_uncased": ("encoder.layer.{i}", {
        "attention": ("attention.self",),
        "mlp": ("intermediate", "output"),
        "norms": ("attention.LayerNorm", "LayerNorm"),
    }, {
        "embeddings": ("embeddings.word_embeddings", "embeddings.position_embeddings",
                       "embeddings.token_type_embeddings"),
        "embedding_norm": ("embeddings.LayerNorm",), "pooler": ("pooler",),
    }),
    "gpt2": ("transformer.h.{i}", {
        "attention": ("attn_residual.attn",),
        "mlp": ("mlp_residual.mlp",),
        "norms": ("attn_residual.ln_1", "mlp_residual.ln_2"),
    }, {
        "embeddings": ("transformer.wte", "transformer.wpe"), "final_norm": ("transformer.ln_f",),
        "head": ("lm_head",),
    }),
    "llama2_7b": ("model.layers.{i}", {"attention": LAYER_ATTN, "mlp": ("mlp_residual.mlp",), "norms": LAYER_NORMS},
                  DECODER_TOP),
    "mistral_7b": ("model.layers.{i}", {"attention": LAYER_ATTN, "mlp": ("mlp_residual.mlp",), "norms": LAYER_NORMS},
                   DECODER_TOP),
    "mixtral_8x7b": ("model.layers.{i}", {
        "attention": LAYER_ATTN,
        "router": ("mlp_residual.mlp.router",),
        "experts": ("mlp_residual.mlp.up", "mlp_residual.mlp.gate", "mlp_residual.mlp.down"),
        "norms": LAYER_NORMS,
    }, DECODER_TOP),
}


@pytest.mark.parametrize("spec", sorted(PARTS))
def test_breakdown_matches_the_published_parts(spec):
    """Each part of the first block, every block, and each part outside the blocks has the
    fixture's parameters; together they are the whole model."""
    layer, parts, top = PARTS[spec]
    rows = report(spec).rows
    (stage,) = model(spec)["breakdown"]["stages"]
    first = stage["first_block"]
    assert set(parts) == set(first)
    for part, paths in parts.items():
        assert under(rows, [f"{layer.format(i=0)}.{p}" for p in paths]) == first[part]["total"], part
    assert sum(first[p]["total"] for p in parts) == stage["params_per_block"]
    assert stage["all_blocks_identical"]
    for i in range(stage["blocks"]):
        assert under(rows, [layer.format(i=i)]) == stage["params_per_block"], i
    assert under(rows, [layer.format(i=stage["blocks"])]) == 0  # no block beyond the published count
    others = {k: v for k, v in model(spec)["breakdown"].items() if k not in ("stages", "sum_of_parts")}
    assert set(top) == set(others)
    for part, paths in top.items():
        assert under(rows, paths) == others[part]["total"], part
    assert sum(others[p]["total"] for p in top) + stage["total"] == report(spec).totals.params


# spec -> (row under block 0, the fixture's tensors of that block it holds)
TENSORS = {
    "vit_b_16": {
        "mlp_residual.mlp.0": ("mlp.0.weight", "mlp.0.bias"),
        "mlp_residual.mlp.3": ("mlp.3.weight", "mlp.3.bias"),
        "attn_residual.self_attention.qkv": ("self_attention.in_proj_weight", "self_attention.in_proj_bias"),
        "attn_residual.self_attention.out": ("self_attention.out_proj.weight", "self_attention.out_proj.bias"),
    },
    "bert_base_uncased": {
        "attention.self.q": ("attention.self.query.weight", "attention.self.query.bias"),
        "attention.self.k": ("attention.self.key.weight", "attention.self.key.bias"),
        "attention.self.v": ("attention.self.value.weight", "attention.self.value.bias"),
        "attention.self.out": ("attention.output.dense.weight", "attention.output.dense.bias"),
        "intermediate.dense": ("intermediate.dense.weight", "intermediate.dense.bias"),
        "output.dense": ("output.dense.weight", "output.dense.bias"),
        "LayerNorm": ("output.LayerNorm.weight", "output.LayerNorm.bias"),
    },
    "gpt2": {
        "attn_residual.attn.qkv": ("attn.c_attn.weight", "attn.c_attn.bias"),
        "attn_residual.attn.out": ("attn.c_proj.weight", "attn.c_proj.bias"),
        "mlp_residual.mlp.c_fc": ("mlp.c_fc.weight", "mlp.c_fc.bias"),
        "mlp_residual.mlp.c_proj": ("mlp.c_proj.weight", "mlp.c_proj.bias"),
    },
    **{spec: {
        "attn_residual.self_attn.q": ("self_attn.q_proj.weight",),
        "attn_residual.self_attn.k": ("self_attn.k_proj.weight",),
        "attn_residual.self_attn.v": ("self_attn.v_proj.weight",),
        "attn_residual.self_attn.out": ("self_attn.o_proj.weight",),
        "mlp_residual.mlp.gate_proj": ("mlp.gate_proj.weight",),
        "mlp_residual.mlp.up_proj": ("mlp.up_proj.weight",),
        "mlp_residual.mlp.down_proj": ("mlp.down_proj.weight",),
        "attn_residual.input_layernorm": ("input_layernorm.weight",),
    } for spec in ("llama2_7b", "mistral_7b")},
    "mixtral_8x7b": {
        "attn_residual.self_attn.k": ("self_attn.k_proj.weight",),
        "attn_residual.self_attn.v": ("self_attn.v_proj.weight",),
        "mlp_residual.mlp.router": ("mlp.gate.weight",),
    },
}


@pytest.mark.parametrize("spec", sorted(TENSORS))
def test_rows_hold_the_published_tensors(spec):
    layer = PARTS[spec][0].format(i=0)
    (stage,) = model(spec)["breakdown"]["stages"]
    numel = {name: t["numel"] for part in stage["first_block"].values() for name, t in part["params"].items()}
    rows = {r.path: r.params for r in report(spec).rows}
    for path, tensors in TENSORS[spec].items():
        assert rows[f"{layer}.{path}"] == sum(numel[t] for t in tensors), path


def test_mixtral_active_params_per_token():
    """Router, attention and norms of every layer, 2 of the 8 experts, the whole embedding
    table and lm_head: 12,879,925,248 (mistral.ai, '12.9B'; the fixture's moe.active_formula)."""
    moe = model("mixtral_8x7b")["moe"]
    totals = report("mixtral_8x7b").totals
    assert totals.active_params == moe["active_params_per_token"] == 12_879_925_248
    layers, experts, k = 32, moe["experts"], moe["top_k"]
    assert (experts, k) == (8, 2) and moe["params_per_expert"] == 3 * 4096 * 14336
    assert totals.active_params == totals.params - layers * (experts - k) * moe["params_per_expert"]
    rows = {r.path: r for r in report("mixtral_8x7b").rows}
    expert_rows = [rows[f"model.layers.0.mlp_residual.mlp.{m}"] for m in ("up", "gate", "down")]
    assert sum(r.params for r in expert_rows) == experts * moe["params_per_expert"]
    assert sum(r.inactive_params for r in expert_rows) == (experts - k) * moe["params_per_expert"]


@pytest.mark.parametrize("spec", [s for s in sorted(FIXTURE_OF_SPEC) if s != "mixtral_8x7b"])
def test_dense_models_use_every_parameter(spec):
    assert report(spec).totals.active_params == report(spec).totals.params


# -- ViT-B/16 against torchvision ------------------------------------------------------------------
TV_VIT = json.loads((FIXTURES / "torchvision" / "vit_b_16.json").read_text())


# torchvision's module name -> the spec's path, as published.json's path_aliases for the CNNs
# ((pattern, replacement) pairs for re.sub, in order): the residuals of an encoder block are
# named (attn_residual, mlp_residual: its two adds need two paths), which torchvision's
# EncoderBlock does not have.
PATH_ALIASES = {
    "vit_b_16": [
        [r"(encoder_layer_\d+)\.(ln_1|self_attention|dropout)\b", r"\1.attn_residual.\2"],
        [r"(encoder_layer_\d+)\.(ln_2|mlp)\b", r"\1.mlp_residual.\2"],
    ],
}


def vit_path(name: str) -> str:
    for pattern, replacement in PATH_ALIASES["vit_b_16"]:
        name = re.sub(pattern, replacement, name)
    return name


def test_vit_macs_match_the_model_card():
    """17,563,828,224 MACs: torchvision's card says 17.564 GFLOPS (its '_ops', multiply-
    accumulates).  The fixture's conv_linear_macs (11,271,124,992: conv_proj and the 25 nn.Linear
    that run as modules) miss what nn.MultiheadAttention computes functionally: per block the
    in-projection F.linear (3*197*768^2) and the scores and context products (2*12*197^2*64);
    its out_proj runs as F.linear too (its module is never called), 197*768^2."""
    T, d, heads, blocks = 197, 768, 12, 12
    macs = report("vit_b_16").totals.macs
    assert TV_VIT["conv_linear_macs"] == 115_605_504 + TV_VIT["by_class"]["Linear"]["macs"] == 11_271_124_992
    per_block_functional = 3 * T * d * d + T * d * d + 2 * heads * T * T * (d // heads)
    assert TV_VIT["by_class"]["NonDynamicallyQuantizableLinear"]["calls"] == 0
    linear_modules = TV_VIT["by_class"]["Linear"]["macs"]  # mlp.0, mlp.3 of 12 blocks, heads.head
    assert macs == 115_605_504 + linear_modules + blocks * per_block_functional == 17_563_828_224
    assert report("vit_b_16", "torchvision").totals.flops == macs
    card = model("vit_b_16")["published_compute"]
    assert card["weights"] == "ViT_B_16_Weights.IMAGENET1K_V1"
    assert TV_VIT["torchvision_model_card"]["IMAGENET1K_V1"]["GFLOPS"] == card["GFLOPS"]
    g = (Decimal(macs) / 10**9).quantize(Decimal("0.001"), ROUND_HALF_UP)
    assert g == Decimal(str(card["GFLOPS"])) == Decimal("17.564")


def test_vit_every_module_matches_torchvision():
    """Every leaf module torchvision calls once: the spec has it, with its output shape,
    parameters and (conv, linear) MACs; out_proj, never called (nn.MultiheadAttention runs
    F.linear on its weight), holds the parameters of the spec's self_attention.out."""
    shapes = network("vit_b_16").shapes()
    rows = {r.path: r for r in report("vit_b_16").rows}
    checked, problems = 0, []
    for name, leaf in TV_VIT["leaves"].items():
        path = vit_path(name)
        if leaf["calls"] == 0:
            assert name.endswith("self_attention.out_proj"), name
            path = path.replace("self_attention.out_proj", "self_attention.out")
            problems += [] if rows[path].params == leaf["params"] else [f"{path}: params"]
            continue
        checked += 1
        if path not in rows:
            problems.append(f"{name} ({leaf['cls']}): no spec path {path}")
            continue
        if tuple(shapes[path]) != tuple(leaf["output_shape"]):
            problems.append(f"{path}: shape {shapes[path]} != {leaf['output_shape']}")
        if rows[path].params != leaf["params"]:
            problems.append(f"{path}: params {rows[path].params} != {leaf['params']}")
        if "macs" in leaf and rows[path].macs != leaf["macs"]:
            problems.append(f"{path}: macs {rows[path].macs} != {leaf['macs']}")
    assert not problems, "\n".join(problems)
    assert checked == 1 + 1 + 12 * 8 + 1 + 1  # conv_proj, encoder.dropout, 8 per block, ln, head


def test_vit_class_token_and_position_table():
    rows = {r.path: r for r in report("vit_b_16").rows}
    shapes = network("vit_b_16").shapes()
    assert tuple(shapes["permute"]) == (1, 196, 768) and tuple(shapes["class_token"]) == (1, 197, 768)
    assert rows["class_token"].params == 768 and rows["encoder.pos_embedding"].params == 197 * 768
    assert tuple(shapes["class_token_out"]) == (1, 768)


# -- the sequence length is an input ----------------------------------------------------------------
# spec -> (layers L, width d, query heads H, kv heads G, head width h, MLP products per token
#          per layer, vocabulary V of an LM head (0: none), constant term)
SHAPES = {
    "gpt2": (12, 768, 12, 12, 64, 2 * 768 * 3072, 50257, 0),
    "bert_base_uncased": (12, 768, 12, 12, 64, 2 * 768 * 3072, 0, 768 * 768),  # pooler: one token
    "llama2_7b": (32, 4096, 32, 32, 128, 3 * 4096 * 11008, 32000, 0),
    "mistral_7b": (32, 4096, 32, 8, 128, 3 * 4096 * 14336, 32000, 0),
    "mixtral_8x7b": (32, 4096, 32, 8, 128, 4096 * 8 + 2 * 3 * 4096 * 14336, 32000, 0),  # router + 2 experts
}
ATTENTION = {"gpt2": "transformer.h.0.attn_residual.attn", "bert_base_uncased": "encoder.layer.0.attention.self"}
PROJECTIONS = ("qkv", "q", "k", "v", "out")
PRODUCTS = ("scores", "context")


@pytest.mark.parametrize("spec", TOKEN_SPECS)
def test_total_macs_are_a_polynomial_in_T(spec):
    """Symbolic T: L*(2*T*d*(H + G)*h + T*mlp + 2*T^2*H*h) + T*d*V + constant, exactly."""
    L, d, H, G, h, mlp, V, const = SHAPES[spec]
    T = sympy.Symbol("T", positive=True, integer=True)
    macs = network(spec).evaluate(input_shape=(1, T)).totals.macs
    linear = L * (2 * d * (H + G) * h + mlp) + d * V
    assert sympy.Poly(sympy.expand(macs), T).all_coeffs() == [L * 2 * H * h, linear, const]
    assert report(spec).totals.macs == L * 2 * H * h * DEFAULT_T[spec] ** 2 + linear * DEFAULT_T[spec] + const


@pytest.mark.parametrize("T", [1, 7, 128, 512])
@pytest.mark.parametrize("spec", sorted(ATTENTION))
def test_self_attention_closed_form(spec, T):
    """Per layer, full heads: q/k/v/out products 4*T*d^2 MACs (linear in T), scores and
    context 2*T^2*d (quadratic); as FLOPs at 2 per MAC (the 2mac convention),
    8*T*d^2 + 4*T^2*d."""
    d = 768
    prefix = ATTENTION[spec] + "."
    rows = [r for r in report(spec, "exact", T).rows if r.path.startswith(prefix)]
    proj = sum(r.macs for r in rows if r.path.rsplit(".", 1)[1] in PROJECTIONS)
    products = sum(r.macs for r in rows if r.path.rsplit(".", 1)[1] in PRODUCTS)
    assert proj == 4 * T * d * d and products == 2 * T * T * d
    assert sum(r.macs for r in rows) == proj + products  # the rest (split, softmax, ...) has none
    flops = sum(r.flops for r in report(spec, "2mac", T).rows if r.path.startswith(prefix))
    assert flops == 8 * T * d * d + 4 * T * T * d
    base = report(spec, "exact", 1)
    one = [r for r in base.rows if r.path.startswith(prefix)]
    assert proj == T * sum(r.macs for r in one if r.path.rsplit(".", 1)[1] in PROJECTIONS)
    assert products == T * T * sum(r.macs for r in one if r.path.rsplit(".", 1)[1] in PRODUCTS)


def test_gpt2_position_table_bounds_T():
    assert report("gpt2", "exact", 1024).totals.params == PUBLISHED_PARAMS["gpt2"]
    with pytest.raises(ShapeError, match="cannot cover 1025 tokens"):
        network("gpt2").evaluate(input_shape=(1, 1025))


def visible(T: int, window: int | None) -> int:
    """(query, key) pairs of causal attention over T tokens, each query seeing at most
    `window` keys, counted one by one."""
    return sum(min(i + 1, window or T) for i in range(T))


@pytest.mark.parametrize("spec, T, window", [
    ("mistral_7b", 8192, 4096), ("mistral_7b", 4096, 4096), ("llama2_7b", 4096, None),
    ("mixtral_8x7b", 4096, None), ("gpt2", 1024, None),
])
def test_needed_products_of_causal_and_windowed_attention(spec, T, window):
    """A dense kernel computes all T^2 scores (MACs); the 'needed' convention prices the
    visible pairs only: each score a dot product of h (2h - 1 operations), each context entry a
    sum over the visible keys (2*pairs*h - T*h per head).  Mistral's window (4096, config
    sliding_window) bites at T = 8192; Mixtral v0.1 has none (sliding_window null)."""
    layer = PARTS[spec][0].format(i=0)
    attn = f"{layer}.attn_residual.{'attn' if spec == 'gpt2' else 'self_attn'}"
    rows = {r.path: r for r in report(spec, "needed", T).rows}
    _, _, H, _, h, _, _, _ = SHAPES[spec]
    pairs = visible(T, window)
    assert rows[f"{attn}.scores"].macs == H * T * T * h
    assert rows[f"{attn}.scores"].flops == H * pairs * (2 * h - 1)
    assert rows[f"{attn}.context"].flops == H * (2 * pairs * h - T * h)


def test_mistral_window_longer_than_the_prompt_is_full_causal():
    """Mistral's 4096 window over a shorter prompt has no effect yet: every count equals the
    same model without a window (Hugging Face runs it so; the window starts to cut at T > 4096)."""
    assert report("mistral_7b", "exact", 4096).totals.params == PUBLISHED_PARAMS["mistral_7b"]
    text = (SPECS / "mistral_7b.yaml").read_text()
    unwindowed = network_from_text(text.replace("causal: true, window: window,", "causal: true,"))
    assert unwindowed.ops != network("mistral_7b").ops
    for convention in ("exact", "needed"):
        short = network("mistral_7b").evaluate(convention, input_shape=(1, 1000)).totals
        assert short == unwindowed.evaluate(convention, input_shape=(1, 1000)).totals
    long = network("mistral_7b").evaluate("needed", input_shape=(1, 5000)).totals.flops
    assert long < unwindowed.evaluate("needed", input_shape=(1, 5000)).totals.flops