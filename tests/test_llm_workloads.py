"""Issue 12's workload options: activation recomputation, a whole run's tokens, the KV cache's
dtype; and the published figures they reproduce (tests/fixtures/llm_published.json, where each
figure's quote and source are kept): Chinchilla's Table A4 (through nanoGPT's exact
reproduction), PaLM's Table 22 with and without rematerialization, Megatron's GPT-3 175B
parameters and 34 days."""

import json
import re
from fractions import Fraction
from pathlib import Path

import pytest

from calc import conventions
from calc.cli import main
from calc.compare import compare
from calc.errors import CalcError, ConventionError, UsageError
from calc.network import load_network, network_from_text

FIG = {f["id"]: f for f in json.loads(
    (Path(__file__).parent / "fixtures" / "llm_published.json").read_text())["figures"]}
SPECS = Path(__file__).parent.parent / "specs"


@pytest.fixture(scope="module")
def gpt2():
    return load_network(SPECS / "gpt2.yaml")


def flops(net, convention, **kw):
    return net.evaluate(convention, mode="training", **kw).totals.flops


# --- recomputation -------------------------------------------------------------------------

def test_megatron_2021_is_megatron_2023_with_full_recomputation(gpt2):
    """Narayanan et al. 2021 eq. 3 (layers 4 x forward, logits 3 x) is the 2023 formula's
    3 x forward plus calc's full recomputation, which leaves the LM head out."""
    assert flops(gpt2, "megatron-2023", recompute="full") == flops(gpt2, "megatron-2021")
    assert flops(gpt2, "megatron-2021", recompute="full") == flops(gpt2, "megatron-2021")


def test_llm_analysis_recomputations(gpt2):
    """llm-analysis (analysis.py:2232-2246 at d841e40): FULL adds num_flops_fwd_total (the logits
    included); ATTN_COMPUTE adds 4 B s^2 h per layer (:1028-1042)."""
    B, s, h, L = 1, 1024, 768, 12
    plain = flops(gpt2, "llm-analysis")
    forward = gpt2.evaluate("llm-analysis").totals.flops
    assert plain == 3 * forward
    assert flops(gpt2, "llm-analysis", recompute="full") == 4 * forward
    assert flops(gpt2, "llm-analysis", recompute="selective") == plain + 4 * B * s**2 * h * L


def test_selective_recomputes_the_score_shaped_parts_only(gpt2):
    """Under 2mac the selective top-up is the forward of scores, scale, mask, softmax and the
    weighted sum: every row of those kinds, and nothing else."""
    report = gpt2.evaluate("2mac")
    attention = sum(r.flops for r in report.rows
                    if r.op in ("sdpa_scores", "sdpa_scale", "sdpa_mask", "sdpa_softmax", "sdpa_context"))
    assert attention > 0
    assert flops(gpt2, "2mac", recompute="selective") == flops(gpt2, "2mac") + attention


def test_full_recomputes_all_but_the_lookups_and_the_head(gpt2):
    report = gpt2.evaluate("2mac")
    head = sum(r.flops for r in report.rows if r.path == "lm_head")
    assert head > 0
    assert flops(gpt2, "2mac", recompute="full") == flops(gpt2, "2mac") + report.totals.flops - head


@pytest.mark.parametrize("convention, policy, message", [
    ("torch", "full", "convention 'torch' defines no 'full' recomputation: torch.utils.checkpoint"),
    ("deepspeed", "selective", "convention 'deepspeed' defines no 'selective' recomputation"),
    ("megatron-2021", "none", "prices a training step with full recomputation by definition, not none"),
])
def test_recomputation_a_source_does_not_define_is_refused(gpt2, convention, policy, message):
    with pytest.raises(ConventionError) as info:
        gpt2.evaluate(convention, mode="training", recompute=policy)
    assert message in info.value.one_line()


def test_recomputation_needs_a_training_step_and_a_known_name(gpt2):
    with pytest.raises(UsageError, match="part of a training step, not of inference"):
        gpt2.evaluate("2mac", recompute="full")
    with pytest.raises(UsageError, match=r"unknown recomputation 'some' \(expected none or selective or full\)"):
        gpt2.evaluate("2mac", mode="training", recompute="some")
    assert gpt2.evaluate("2mac", recompute="none").totals.flops == gpt2.evaluate("2mac").totals.flops


@pytest.mark.parametrize("policy", ["none", "selective", "full"])
def test_compare_prices_recomputation_as_evaluate_does(gpt2, policy):
    cmp = compare(gpt2, mode="training", recompute=policy)
    for name, value in cmp.flops.items():
        try:
            expected = gpt2.evaluate(name, mode="training", recompute=policy).totals.flops
        except CalcError:
            expected = None
        assert value == expected, name


def test_symbolic_form_with_recomputation_is_checked(gpt2):
    from calc.closed_form import closed_form

    form = closed_form(gpt2, conventions.get("megatron"), ("T",), mode="training", recompute="selective")
    assert str(form.totals["flops"]) == "73728*T**2 + 741192192*T"
    T = 777
    (symbol,) = form.totals["flops"].free_symbols
    assert form.totals["flops"].subs(symbol, T) == gpt2.evaluate(
        "megatron", input_shape=(1, T), mode="training", recompute="selective").totals.flops


# --- a run's tokens --------------------------------------------------------------------------

def test_tokens_give_the_run_and_must_be_whole_steps(gpt2):
    report = gpt2.evaluate("palm", mode="training", batch=2, tokens=2048 * 5)
    assert report.options["steps"] == 5 and report.options["tokens"] == 10240
    assert report.options["run_flops"] == 5 * report.totals.flops
    with pytest.raises(UsageError) as info:
        gpt2.evaluate("palm", batch=2, tokens=3000)
    assert info.value.one_line() == ("3,000 tokens is not a whole number of steps of 2,048 tokens (batch x T) "
                                     "(expected a multiple of 2,048, e.g. 2,048 or 4,096)")
    for bad in (0, -5, 2.5, True, "1024"):
        with pytest.raises(UsageError, match="tokens must be a positive int"):
            gpt2.evaluate("palm", tokens=bad)
    with pytest.raises(UsageError, match="this input has no sequence axis T"):
        load_network(SPECS / "resnet18.yaml").evaluate(tokens=1024)


def test_compare_with_tokens_shows_per_token_and_run(gpt2, capsys):
    assert main(["compare", str(SPECS / "gpt2.yaml"), "--mode", "training", "--tokens", "2048",
                 "--conventions", "kaplan,palm,hf"]) == 0
    out = capsys.readouterr().out
    assert "1,024 tokens per step, 2 steps" in out
    # HF: 6 x tokens x non-embedding params (85,056,000: 124,439,808 less wte and wpe)
    hf = 6 * 85_056_000 * 1024  # 6 x tokens x non-embedding params, per 1,024-token step
    assert re.search(rf"^hf +{hf:,} +{hf // 1024:,} +{2 * hf:,}$", out, re.M)
    cmp = compare(gpt2, ["megatron"], mode="training", tokens=2048)
    T, d, V, L = 1024, 768, 50257, 12  # Megatron today: 3 x (2 x GEMM MACs + the causal half of QK^T, PV)
    step = 3 * (2 * (L * 12 * T * d * d + T * d * V) + 2 * L * T * T * d)
    assert cmp.per_token("megatron") == Fraction(step, 1024) and cmp.run_flops("megatron") == 2 * step


# --- the KV cache's dtype --------------------------------------------------------------------

def test_kv_dtype_gives_bytes_per_layer_and_total():
    llama = load_network(SPECS / "llama2_7b.yaml")
    report = llama.evaluate("2mac", "bf16", input_shape=(1, 1), context=4095, kv_dtype="fp8")
    per_layer = 2 * 4096 * 32 * 128  # K and V, 4,096 tokens, 32 heads of 128, one byte each
    assert set(report.kv_cache.values()) == {per_layer} and len(report.kv_cache) == 32
    assert report.options["kv_cache_bytes"] == 32 * per_layer == 1_073_741_824
    mistral = load_network(SPECS / "mistral_7b.yaml")  # 8 KV heads, the window caps 4,096 tokens
    report = mistral.evaluate("2mac", input_shape=(1, 1), context=9999, kv_dtype="fp16")
    assert report.options["kv_cache_bytes"] == 32 * 2 * 4096 * 8 * 128 * 2
    with pytest.raises(UsageError, match="has no attention layer with a KV cache"):
        load_network(SPECS / "resnet18.yaml").evaluate(kv_dtype="fp8")


def test_kv_cache_in_json(capsys):
    assert main(["report", str(SPECS / "gpt2.yaml"), "--kv-dtype", "fp16", "--format", "json", "--no-cache"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["options"]["kv_dtype"] == "fp16"
    assert data["kv_cache"]["transformer.h.0.attn_residual.attn"] == 2 * 1024 * 768 * 2
    assert data["options"]["kv_cache_bytes"] == 12 * 2 * 1024 * 768 * 2


# --- published figures -----------------------------------------------------------------------

def _chinchilla_layers(L: int, d: int, f: int, H: int, k: int, T: int = 2048) -> str:
    """The layers of a Chinchilla-family model, as nanoGPT's reproduction of Table A4 counts
    them (no embeddings, no logits): attention with biases, a 2-matrix MLP, two layer norms."""
    return f"""
name: chinchilla_layers
input: {{T: {T}, d: {d}}}
blocks:
  layer:
    layers:
      - type: residual
        name: attn
        body:
          - {{type: layernorm}}
          - {{type: attention, heads: {H}, head_dim: {k}, causal: true}}
      - type: residual
        name: mlp
        body:
          - {{type: layernorm}}
          - {{type: linear, Cout: {f}, act: gelu}}
          - {{type: linear, Cout: {d}}}
layers:
  - {{type: block, block: layer, repeat: {L}}}
"""


@pytest.mark.parametrize("size", ["73M", "305M", "552M", "1.1B", "1.6B", "6.8B"])
def test_chinchilla_table_a4(size):
    """Table A4's ratio of the appendix-F count to 6ND: the chinchilla convention's training
    step on the layers reproduces nanoGPT's exact F (scaling_laws.ipynb), and F / (6 N T) with
    the notebook's N rounds to the paper's figure."""
    paper, repro = FIG[f"chinchilla_table_a4_{size}"], FIG[f"nanogpt_chinchilla_repro_{size}"]
    m = paper["model"]
    net = network_from_text(_chinchilla_layers(m["num_layers"], m["d_model"], m["ffw_size"],
                                               m["num_heads"], m["kq_size"]))
    F = net.evaluate("chinchilla", mode="training").totals.flops
    assert F == repro["figure"]["F"]
    ratio = Fraction(F, 6 * repro["figure"]["N"] * 2048)
    assert round(ratio, 2) == Fraction(str(paper["figure"]))


PALM_8B = """
name: palm_8b
description: "PaLM 8B (Chowdhery et al. 2022, Table 1): 32 parallel layers of width 4096, 16 heads of 256,
  multi-query, SwiGLU 4 x 4096, no biases, shared input-output embeddings, vocabulary 256k."
input: {T: 2048}
blocks:
  layer:
    layers:
      - type: residual
        body:
          - {type: layernorm, bias: false}
          - type: parallel
            name: parallel
            merge: add
            branches:
              attn:
                - {type: attention, heads: 16, kv_heads: 1, head_dim: 256, qkv_bias: false, out_bias: false,
                   causal: true}
              mlp:
                - type: parallel
                  merge: mul
                  branches:
                    gate: {type: linear, Cout: 16384, bias: false, act: silu}
                    up: {type: linear, Cout: 16384, bias: false}
                - {type: linear, Cout: 4096, bias: false}
layers:
  - {type: embedding, name: embed, num_embeddings: 256000, embedding_dim: 4096}
  - {type: block, name: layers, block: layer, repeat: 32}
  - {type: layernorm, name: norm, bias: false}
  - {type: linear, name: lm_head, Cout: 256000, bias: false, tie: embed, role: lm_head}
"""


def test_palm_8b_table_22():
    """PaLM Table 22: 0.0550 TFLOPs per token without rematerialization, 0.0561 with the
    self-attention rematerialized (8B and 62B 'do not use re-materialization except in the
    self-attention'): calc's palm convention, without and with selective recomputation."""
    net = network_from_text(PALM_8B)
    assert net.evaluate().totals.params == 8_632_012_800  # 8.63B (Table 1)
    for figure, policy in (("palm_table22_8B_tflops_per_token", "none"),
                           ("palm_table22_8B_tflops_per_token_remat", "selective")):
        step = net.evaluate("palm", mode="training", recompute=policy, tokens=2048)
        per_token = Fraction(step.totals.flops, 2048) / 10**12
        assert f"{float(per_token):.3g}" == f"{FIG[figure]['figure']:.3g}", figure
    # the run: 780e9 tokens, 4.29e22 FLOPs (Table 22)
    run = net.evaluate("palm", mode="training", tokens=780_000_000_000 // 2048 * 2048)
    assert f"{run.options['run_flops']:.3g}" == "4.29e+22"


GPT3 = """
name: gpt3_175b
input: {T: 2048}
blocks:
  layer:
    layers:
      - type: residual
        name: attn
        body:
          - {type: layernorm}
          - {type: attention, heads: 96, causal: true}
      - type: residual
        name: mlp
        body:
          - {type: layernorm}
          - {type: linear, Cout: 49152, act: gelu}
          - {type: linear, Cout: 12288}
layers:
  - {type: embedding, name: wte, num_embeddings: 51200, embedding_dim: 12288}
  - {type: position_embedding, name: wpe, rows: 2048, lookup: true}
  - {type: block, block: layer, repeat: 96}
  - {type: layernorm}
  - {type: linear, name: lm_head, Cout: 51200, bias: false, tie: wte, role: lm_head}
"""


def test_megatron_gpt3_175b():
    """Narayanan et al. 2021: eq. 2 gives 174.6B parameters for l = 96, h = 12288, V = 51200,
    s = 2048 (calc counts the final layer norm's 2h more); eq. 3's training FLOPs on 300e9
    tokens at 140 TFLOP/s on 1024 GPUs take 34.7 days, and the paper's 34 days is its
    approximation 8TP / nX (eq. 4, P = 175e9), 2.4% under eq. 3."""
    net = network_from_text(GPT3)
    l, h, V, s = 96, 12288, 51200, 2048
    params = net.evaluate().totals.params
    assert params == 12 * l * h**2 + 13 * l * h + (V + s) * h + 2 * h
    assert f"{(params - 2 * h) / 1e9:.1f}" == str(FIG["narayanan_gpt3_params"]["figure"])
    run = net.evaluate("megatron-2021", mode="training", tokens=300_000_000_000 // s * s)
    per_sequence = 96 * s * l * h**2 * (1 + Fraction(s, 6 * h) + Fraction(V, 16 * l * h))
    assert run.totals.flops == per_sequence  # eq. 3 at B = 1, exactly
    days = Fraction(run.options["run_flops"], 1024 * 140 * 10**12 * 86400)
    assert round(days, 1) == Fraction("34.7")
    approx = Fraction(8 * 300_000_000_000 * 175_000_000_000, 1024 * 140 * 10**12 * 86400)
    assert round(approx) == FIG["narayanan_gpt3_training_days"]["figure"] == 34


def test_readme_figures_are_the_tools(gpt2):
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    full = gpt2.evaluate("megatron-2023", mode="training", recompute="full").totals.flops
    assert f"`megatron-2023` {full:,}" in readme
    run = gpt2.evaluate("palm", mode="training", tokens=300_000_000_000).options
    assert f"gives {run['steps']:,} steps and {run['run_flops']:,}\n  FLOPs" in readme
    llama = load_network(SPECS / "llama2_7b.yaml")
    fp8 = llama.evaluate(input_shape=(1, 1), context=4095, kv_dtype="fp8").options["kv_cache_bytes"]
    assert f"in total: {fp8:,} for the Llama-2-7B decode step" in readme


@pytest.mark.parametrize("spec", ["gpt2", "bert_base_uncased", "llama2_7b", "mistral_7b", "mixtral_8x7b"])
@pytest.mark.parametrize("variables, mode", [(("N", "T"), "inference"), (("N", "T"), "training"),
                                             (("N", "C"), "inference")])
def test_every_transformer_spec_has_closed_forms_in_batch_sequence_and_context(spec, variables, mode):
    """Issue 12: training and inference FLOPs as polynomials in N and T (and in the cached
    context C), each checked by closed_form against the numeric path, and here at one more
    point of its own."""
    import sympy

    from calc.closed_form import closed_form

    from dataclasses import replace

    if spec == "mixtral_8x7b" and variables == ("N", "C"):
        # a decode step reads min(8, 2N) experts' weights: memory access is piecewise in N
        variables = ("C",)
    net = load_network(SPECS / f"{spec}.yaml")
    if "C" in variables:  # a decode step: one new token per sequence
        net = replace(net, input_shape=(1, 1))
    form = closed_form(net, conventions.get("2mac"), variables, mode=mode)
    flops = form.totals["flops"]
    assert flops.is_polynomial(*flops.free_symbols) and len(flops.free_symbols) == len(variables)
    symbols = {s.name: s for s in flops.free_symbols}
    if "T" in variables:
        point, shape, context = {"N": 3, "T": 37}, (3, 37), None
    else:
        n = 2 if "N" in variables else 1
        point, shape, context = {"N": n, "C": 500}, (n, 1), 500
    value = flops.subs({symbols[k]: v for k, v in point.items() if k in symbols})
    assert isinstance(value, sympy.Integer)
    assert value == net.evaluate("2mac", input_shape=shape, context=context, mode=mode).totals.flops
