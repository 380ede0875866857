"""calc check on specs/claims/transformers.yaml: every claim's verdict pinned, the library's value
behind each re-derived by hand from the sizes (not taken from the tool), the identities the value
claims instantiate at one size proven symbolically for every size, and docs/claims-transformers.md
kept current.

Hand formulas (d model width, T tokens, H heads of h = d/H, MLP 4d; see the claims file's header):
    attention params 4d^2 + 4d (biases), layer 12d^2 + 13d with two LayerNorms (2d each)
    attention MACs 4*T*d^2 (projections) + 2*T*S*d (scores and weighted sum over S keys)
    a layer's MACs 12*T*d^2 + 2*T^2*d; 2mac FLOPs = 2*MACs
    exact FLOPs: linear (2*Cin - 1)*Cout per token, + Cout with bias; LayerNorm 7n + 2 per row of n;
    GELU 5 per element; scores H*T*S*(2h - 1), scale and (eager, causal) mask H*T*S each,
    softmax H*T*(3S - 1), weighted sum T*d*(2S - 1)
"""

from __future__ import annotations

import functools
import os
from fractions import Fraction

import pytest

from calc import conventions
from calc.claims.claims import load_claims, run_claim
from calc.cli import main
from calc.closed_form import layer_costs
from calc.layers.attention import visible_pairs
from calc.network import load_network
from calc.parse import parse_layer
from calc.report import evaluate_layer
from calc.symbolic import sympy

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLAIMS = os.path.join(ROOT, "specs", "claims", "transformers.yaml")
DOC = os.path.join(ROOT, "docs", "claims-transformers.md")

TITLE, ALL = load_claims(CLAIMS)
BY_ID = {c.id: c for c in ALL}


@functools.cache
def result(cid):
    return run_claim(BY_ID[cid])


def value(cid, convention=None):
    """The library's value of a value claim (under a convention, for FLOPs)."""
    by = {o.convention: o for o in result(cid).outcomes}
    return by[convention].library_value


# -- hand formulas -------------------------------------------------------------------------------

D, HEADS, CTX = 768, 12, 1024  # GPT-2 small


def layer_params(d):
    return 12 * d * d + 13 * d


def layer_macs(T, d):
    return 12 * T * d * d + 2 * T * T * d


def exact_gpt2_layer_flops(T, d=D, H=HEADS, mask=True):
    """ln, attention (biases; eager, with the causal mask's add when `mask`), ln, fc, gelu, proj."""
    h = d // H
    ln = T * (7 * d + 2)
    attn = (8 * T * d * d + H * T * T * (2 * h - 1) + H * T * T * (2 if mask else 1)
            + H * T * (3 * T - 1) + T * d * (2 * T - 1))
    mlp = 2 * (2 * d * 4 * d * T) + 5 * 4 * d * T
    return 2 * ln + attn + mlp


def per_param(flops, T):
    """FLOPs per parameter per token of a GPT-2 small layer."""
    return Fraction(flops, T * layer_params(D))


def per_kaplan(flops):
    """FLOPs over Kaplan's 2*N_layer + 2*n_ctx*d per token, at T = 1024."""
    return Fraction(flops, CTX * (2 * layer_params(D) + 2 * CTX * D))


# Verdict (as `calc check` words it, profilers included) and the library's value where it
# matters, each derived by hand.
HAND = {
    "tf-params-12d2": ("wrong", {None: layer_params(D)}),
    "tf-params-12d2-smallest": ("wrong", {None: 25}),
    "tf-params-12d2-13d": ("holds", {None: 7_087_872}),
    "tf-params-12d2-13d-bert-large": ("holds", {None: layer_params(1024)}),
    "tf-params-12d2-no-bias-norm": ("holds", {None: 12 * D * D}),
    "tf-forward-2n-short": ("holds only under exact, needed, 2mac, torch, torch-cuda, calflops, kaplan, chinchilla, "
                            "palm, nanogpt, hf, megatron-2021, megatron-2023, megatron, llm-analysis, "
                            "deepspeed",
                            {"2mac": per_param(2 * layer_macs(128, D), 128),
                             "exact": per_param(exact_gpt2_layer_flops(128, mask=False), 128)}),
    # at full context only Hugging Face's 6N (no attention term) stays within 5% of 2N
    "tf-forward-2n-context": ("holds only under hf", {"2mac": per_param(2 * layer_macs(CTX, D), CTX),
                                        "exact": per_param(exact_gpt2_layer_flops(CTX, mask=False), CTX)}),
    # Kaplan's own row, and Megatron's halved attention (T^2 d = one product) agree with it
    "tf-forward-kaplan": ("holds only under needed, kaplan, megatron",
                          {"2mac": per_kaplan(2 * layer_macs(CTX, D)),
                           "exact": per_kaplan(exact_gpt2_layer_flops(CTX))}),
    "tf-megatron-forward": ("holds only under 2mac, torch, torch-cuda, megatron-2021, megatron-2023, llm-analysis",
                            {"2mac": 24 * CTX * D * D + 4 * CTX * CTX * D,
                             "exact": exact_gpt2_layer_flops(CTX)}),
    "tf-attn-ratio": ("holds", {None: CTX}),
    "tf-attn-negligible-512": ("holds", {None: 10}),
    "tf-attn-negligible-513": ("wrong", {None: Fraction(100 * 513, 513 + 6 * D)}),
    "tf-attn-negligible-1024": ("wrong", {None: Fraction(100 * 1024, 1024 + 6 * D)}),
    "tf-attn-equal-at-6d": ("holds", {None: 1}),
    "tf-proj-8td2-macs": ("wrong", {None: 4 * CTX * D * D}),
    "tf-proj-8td2-flops": ("holds", {None: 8 * CTX * D * D}),
    "tf-core-2t2d": ("holds", {None: 2 * CTX * CTX * D}),
    "tf-core-2t2d-gqa": ("holds", {None: 2 * CTX * CTX * D}),
    "tf-core-2t2d-wide-heads": ("wrong", {None: 2 * CTX * CTX * 12 * 128}),
    "tf-gqa-kv-params": ("holds", {None: 4}),
    "tf-gqa-kv-params-bias": ("holds", {None: 31}),
    "tf-gqa-all-params": ("wrong", {None: Fraction(4 * 4096**2, 2 * 4096**2 + 2 * 4096 * 1024)}),
    "tf-causal-half": ("holds only under needed", {"2mac": 100}),
    "tf-causal-half-layer": ("wrong", {"2mac": 100}),
    "tf-mixtral-total": ("holds", {None: 46_702_792_704}),
    "tf-mixtral-active": ("holds", {None: 12_879_925_248}),
    "tf-mixtral-8x7": ("wrong", {None: 46_702_792_704}),
    "tf-moe-active-fraction": ("wrong", {None: Fraction(4 * (2 * 3 * 4096 * 14336 + 4096 * 8),
                                                      8 * 3 * 4096 * 14336 + 4096 * 8)}),
    # formula claims: verdicts and smallest counterexamples
    "tf-proj-one-macs": ("wrong", {}),
    "tf-proj-one-flops": ("holds only under 2mac, torch, calflops", {}),
    "tf-proj-one-flops-bias": ("holds only under exact, 2mac, torch, calflops", {}),
}


# -- the file ------------------------------------------------------------------------------------


def test_every_claim_is_pinned_here():
    assert set(HAND) == set(BY_ID)
    assert len({c.id for c in ALL}) == len(ALL) >= 30


def test_claims_cite_a_source_and_pin_the_count_conventions():
    """Each source names its document and section; FLOPs claims pin exact and 2mac (and 'needed'
    where an attention is involved), which the verdicts below depend on."""
    for c in ALL:
        assert any(str(year) in c.file for year in range(2017, 2025)), c.id
        assert len(c.quote) >= 10, c.id
        uses_flops = (c.spec is not None and c.spec.quantity == "flops") or ".flops" in c.expression
        if uses_flops:
            pinned = set(c.expected.get("holds_under", [])) | set(c.expected.get("wrong_under", []))
            needs = {"exact", "2mac", "macc"}
            if any(layer.kind == "attention" for layer in c.layers.values()):
                needs.add("needed")
            assert needs <= pinned, c.id
        else:
            assert c.expected in ("holds", "wrong"), c.id


@pytest.mark.parametrize("cid", sorted(BY_ID))
def test_claim_verdict_is_the_expected_one(cid):
    assert result(cid).mismatches() == []


@pytest.mark.parametrize("cid", sorted(HAND))
def test_verdict_and_value_by_hand(cid):
    verdict, values = HAND[cid]
    assert result(cid).verdict() == verdict
    for convention, expected in values.items():
        assert value(cid, convention) == expected, convention


def test_formula_claims_smallest_counterexamples():
    """One projection as 2*T*d*e: wrong as MACs, and as exact FLOPs without a bias, from the
    smallest layer on (1 token, 1 to 1 feature: 2 against 1)."""
    for cid, convention in (("tf-proj-one-macs", None), ("tf-proj-one-flops", "exact"),
                            ("tf-proj-one-flops-bias", "macc")):
        by = {o.convention: o for o in result(cid).outcomes}
        o = by[convention]
        assert o.point == {"Cin": 1, "Cout": 1, "N": 1}
        assert (o.claim_value, o.library_value) == (2, 1)
    assert {o.convention: o.proven for o in result("tf-proj-one-flops").outcomes}["2mac"]
    bias = {o.convention: o for o in result("tf-proj-one-flops-bias").outcomes}
    assert bias["exact"].status == bias["2mac"].status == "holds" and bias["exact"].proven


def test_kaplan_needed_and_causal_half_are_close_not_exact():
    """The 'needed' figures that make tf-forward-kaplan and tf-causal-half hold: within their
    tolerance but not equal (the softmax, norms and projections are not in the statements)."""
    kaplan = value("tf-forward-kaplan", "needed")
    assert kaplan != 1 and abs(kaplan - 1) < Fraction(1, 100)
    half = value("tf-causal-half", "needed")
    assert 50 < half < 51
    assert value("tf-causal-half", "exact") > 100 and value("tf-causal-half-layer", "needed") > 79


# -- the identities behind the value claims, for every size ----------------------------------------

T, H, h, G, r, S = (sympy.Symbol(n, integer=True, positive=True) for n in ("T", "H", "h", "G", "r", "S"))


def costs(kind, **fields):
    return layer_costs(kind, fields)


def test_layer_params_are_12d2_plus_13d_for_every_width():
    d = H * h
    attn = costs("attention", N=1, input=(T, d), heads=H)
    ln = costs("layernorm", Cin=d, N=T)
    fc, proj = costs("linear", Cin=d, Cout=4 * d, N=T), costs("linear", Cin=4 * d, Cout=d, N=T)
    total = attn["params"] + 2 * ln["params"] + fc["params"] + proj["params"]
    assert sympy.expand(total - (12 * d**2 + 13 * d)) == 0
    bare = (costs("attention", N=1, input=(T, d), heads=H, qkv_bias=False, out_bias=False)["params"]
            + costs("linear", Cin=d, Cout=4 * d, N=T, bias=False)["params"]
            + costs("linear", Cin=4 * d, Cout=d, N=T, bias=False)["params"])
    assert sympy.expand(bare - 12 * d**2) == 0


def test_kv_cache_trick_separates_projections_and_products():
    """attn2 (keys 2T) - attn = 2*T^2*d, 2*attn - attn2 = 4*T*d^2; with any key count S the
    products are 2*T*S*d and the projections of the T new tokens do not change."""
    d = H * h
    attn = costs("attention", N=1, input=(T, d), heads=H)["macs"]
    attn2 = costs("attention", N=1, input=(T, d), heads=H, kv_len=2 * T)["macs"]
    assert sympy.expand(attn2 - attn - 2 * T**2 * d) == 0
    assert sympy.expand(2 * attn - attn2 - 4 * T * d**2) == 0
    cached = costs("attention", N=1, input=(T, d), heads=H, kv_len=T + S)["macs"]
    assert sympy.expand(cached - 4 * T * d**2 - 2 * T * (T + S) * d) == 0


def test_attention_share_is_t_over_6d_for_every_size():
    d = H * h
    attn = costs("attention", N=1, input=(T, d), heads=H)["macs"]
    attn2 = costs("attention", N=1, input=(T, d), heads=H, kv_len=2 * T)["macs"]
    mlp = costs("linear", Cin=d, Cout=4 * d, N=T)["macs"] + costs("linear", Cin=4 * d, Cout=d, N=T)["macs"]
    ratio = (attn2 - attn) / (2 * attn - attn2 + mlp)
    assert sympy.simplify(ratio - T / (6 * d)) == 0
    # at most 10% of the layer exactly when T <= 2d/3: the boundary claims 512 and 513 for d = 768
    share = lambda t, dd: Fraction(t, t + 6 * dd)  # noqa: E731
    assert share(512, 768) == Fraction(1, 10) < share(513, 768)
    assert max(t for t in range(1, 2000) if share(t, 768) <= Fraction(1, 10)) == 512


def test_2mac_layer_is_megatrons_24bsh2_for_every_size():
    d = H * h
    conv = conventions.get("2mac")
    ln = layer_costs("layernorm", dict(Cin=d, N=T), conv)
    parts = [ln, layer_costs("attention", dict(N=1, input=(T, d), heads=H, causal=True), conv), ln,
             layer_costs("linear", dict(Cin=d, Cout=4 * d, N=T), conv),
             layer_costs("gelu", dict(Cin=4 * d, N=T), conv),
             layer_costs("linear", dict(Cin=4 * d, Cout=d, N=T), conv)]
    flops = sum(p["flops"] for p in parts)
    assert sympy.expand(flops - 24 * T * d**2 * (1 + T / (6 * d))) == 0


def test_grouped_query_kv_params_scale_with_g():
    """H = G*r query heads, G key/value heads of width h: k and v have 2*(d + 1)*G*h parameters
    with biases (2*d*G*h without), q and out do not depend on G."""
    d = G * r * h

    def params(g, bias=True):
        return costs("attention", N=1, input=(1, d), heads=G * r, kv_heads=g, head_dim=h,
                     qkv_bias=bias, out_bias=False)["params"]

    assert sympy.expand(params(G) - params(1) - 2 * (d + 1) * (G - 1) * h) == 0
    full, grouped = params(G * r, bias=False), params(G, bias=False)
    assert sympy.simplify((full / 2) / (grouped - full / 2) - r) == 0  # H/G = r


def test_grouped_query_keeps_the_products():
    d = G * r * h
    macs = lambda g, s: costs("attention", N=1, input=(T, d), heads=G * r, kv_heads=g,  # noqa: E731
                              head_dim=h, kv_len=s)["macs"]
    assert sympy.expand(macs(G, 2 * T) - macs(G, T) - 2 * T**2 * d) == 0
    assert sympy.expand(macs(G * r, 2 * T) - macs(G * r, T) - (macs(G, 2 * T) - macs(G, T))) == 0


def _masked_macs(layer):
    """Sum of the masked_macs counters of an attention's primitives, walked as calc.report.chain
    walks them."""
    inputs, outputs, total = layer.stated_inputs(), [], 0
    for _suffix, part, refs in layer.graph():
        current = inputs if refs == (-1,) else tuple(inputs[0] if i < 0 else outputs[i] for i in refs)
        tally = part.tally(current)
        outputs.append(tally.output)
        total += tally.masked_macs
    return total


@pytest.mark.parametrize("t", range(1, 9))
def test_causal_needs_t_t_plus_1_over_2_pairs_brute_force(t):
    """Walk the (query, key) pairs: T*(T + 1)/2 are visible; the dense kernel's MACs less the
    products the mask discards are 2*H*h times that (scores and weighted sum)."""
    visible = sum(1 for i in range(t) for j in range(t) if j <= i)
    assert visible == visible_pairs(t, t, True) == t * (t + 1) // 2
    layer = parse_layer({"type": "attention", "input": [t, 8], "N": 1, "heads": 2, "causal": True})
    dense = evaluate_layer(layer).totals.macs
    projections = 4 * t * 8 * 8
    assert dense - projections == 2 * 2 * 4 * t * t
    assert dense - projections - _masked_macs(layer) == 2 * 2 * 4 * visible


def test_mixtral_claims_match_the_library_spec():
    """The layers of the Mixtral claims add up to what calc reports for specs/mixtral_8x7b.yaml
    (one token: active parameters do not depend on T)."""
    totals = load_network(os.path.join(ROOT, "specs", "mixtral_8x7b.yaml")).evaluate(
        "exact", input_shape=(1, 1)).totals
    assert value("tf-mixtral-total") == totals.params == 46_702_792_704
    assert value("tf-mixtral-active") == totals.active_params == 12_879_925_248


# -- the command and the generated document ----------------------------------------------------------


def test_claims_file_exits_0(capsys):
    assert main(["check", "--claims", CLAIMS]) == 0
    out = capsys.readouterr().out
    assert "31 claims: 13 hold, 7 hold only under some conventions, 11 wrong" in out


def test_docs_claims_transformers_md_is_the_current_output(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert main(["check", "--claims", "specs/claims/transformers.yaml", "--format", "md"]) == 0
    current = capsys.readouterr().out
    with open(DOC, encoding="utf-8") as fh:
        assert fh.read() == current, (
            "docs/claims-transformers.md is stale: regenerate with calc check --claims "
            "specs/claims/transformers.yaml --format md -o docs/claims-transformers.md"
        )
