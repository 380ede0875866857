"""Topic `attention`: MACs and exact FLOPs of multi-head attention, with grouped-query and causal
variants.

    projections   q, k, v, out: N*T*d*(2H + 2G)*h MACs; full heads (G = H, h = d/H): 4*N*T*d^2
    scores        q k^T: N*H*T*S*h;  context p v: N*H*T*S*h;  self attention: 2*N*T^2*d together
    causal        visible (query, key) pairs T*(T+1)/2 of T^2: a kernel that skips the masked
                  ones needs (T+1)/(2T) of the dense products
The often-quoted "8*T*d^2" for the projections is FLOPs (2 per MAC), not MACs.

Source: calc/layers/attention.py (attention_macs, projection_macs, attention_params,
visible_pairs); ends on the library's figures (layer_costs).
"""

from __future__ import annotations

from calc import conventions
from calc.derive.core import Derivation, frac, grouped
from calc.derive.library import convention_names, costs, rule_formula, symbols
from calc.layers.attention import visible_pairs
from calc.symbolic import sympy

TITLE = "MACs and FLOPs of attention (grouped-query, causal)"

def build() -> Derivation:
    N, T, H, G, h, S, w = symbols("N T H G h S w")
    d = H * h
    plain = dict(N=N, heads=H, head_dim=h, input=[T, d], qkv_bias=False, out_bias=False)
    D = Derivation("attention", TITLE, "calc/layers/attention.py; calc/conventions (every table)")
    D.note("Input x (N, T, d) with d = H*h: H heads of width h; G key/value heads (G = H: "
           "multi-head, 1 < G < H: grouped-query, G = 1: multi-query); S keys (S = T for self "
           "attention).  No biases here (Llama); a bias adds one add per projected output.")

    D.section("Projections")
    q = D.define("M_q", N * T * d * grouped(H * h), "q = x Wq: each of N*T tokens, d inputs times H*h outputs")
    kv = D.define("M_kv", 2 * N * T * d * grouped(G * h), "k and v: G*h outputs each (grouped-query)")
    out = D.define("M_o", N * T * grouped(H * h) * d, "out = context Wo: H*h inputs, d outputs")
    D.define("M_proj", q + kv + out, "the four projections")
    D.equals(2 * N * T * d * grouped((H + G) * h), "collect terms")
    D.equals(4 * N * T * d**2, "full heads: G = H, so (H + G)*h = 2d", lhs=(2 * N * T * d * 2 * d))
    D.note("4*T*d^2 MACs per sample: the '8*T*d^2' often quoted for the projections counts FLOPs "
           "(2 per multiply-accumulate), not MACs.")

    D.section("Scores and weighted sum")
    sc = D.define("M_scores", N * H * T * S * h, "q k^T: per head, T x S scores of h products each")
    cx = D.define("M_context", N * H * T * S * h, "p v: per head, T x h outputs, each over S keys")
    D.define("M_mid", sc + cx, "both products")
    D.equals(2 * N * T * S * d, "H*h = d")
    D.equals(2 * N * T**2 * d, "self attention: S = T", lhs=2 * N * T * T * d)

    D.section("The layer, against the library")
    D.define("M_attn", 2 * N * T * d * grouped((H + G) * h) + 2 * N * T**2 * d, "projections + products, S = T")
    D.library(costs("attention", kv_heads=G, **plain)["macs"],
              "layer_costs('attention', heads H, kv_heads G, head_dim h)['macs']")
    D.library(costs("attention", **plain)["macs"], "full heads (kv_heads = heads)",
              lhs=4 * N * T * d**2 + 2 * N * T**2 * d)
    D.library(costs("attention", kv_heads=G, **plain)["params"], "parameters: Wq, Wk, Wv, Wo",
              lhs=d * H * h + 2 * d * G * h + H * h * d)
    D.note("Attention products exceed the projections' when 2*T^2*d > 4*T*d^2, i.e. T > 2d "
           "(full heads); in FLOPs of a whole layer with its 4d-wide MLP (8*T*d^2 more MACs), "
           "when T > 6d.")

    D.section("Exact FLOPs of the middle, per head")
    f_scores = D.define("f_scores", T * S * grouped(2 * h - 1), "each score: h products, h - 1 adds")
    f_scale = D.define("f_scale", T * S, "one multiply by 1/sqrt(h) per score")
    f_softmax = D.define("f_softmax", T * grouped(3 * S - 1), "per row of S: S exps, S - 1 adds, S divides")
    f_context = D.define("f_context", T * h * grouped(2 * S - 1), "each output: S products, S - 1 adds")
    D.define("f_mid", f_scores + f_scale + f_softmax + f_context, "no mask (not causal)")
    D.equals(4 * T * S * h + 3 * T * S - T * h - T, "collect terms")
    exact = costs("attention", kv_heads=G, **plain)["flops"]
    proj = 2 * N * T * d * (H + G) * h * 2 - N * T * (H + 2 * G) * h - N * T * d
    D.library(sympy.factor(exact - proj), "layer_costs(...)['flops'] (exact) less the projections' "
              "(2a - 1) per output",
              lhs=N * H * (4 * T * T * h + 3 * T * T - T * h - T))

    D.section("Causal attention: what a mask saves")
    D.define("P_causal", frac(T * grouped(T + 1), 2), "query i sees keys 0..i: 1 + 2 + ... + T pairs")
    D.define("P_window", frac(w * grouped(w + 1), 2) - w + (T - w + 1) * w,
             "a sliding window of w <= T keys: queries 0..w-2 see i + 1 keys, the other T - w + 1 "
             "see w")
    D.library(visible_pairs(T, T, True, w).subs(sympy.Min(T, w - 1), w - 1),
              "calc.layers.attention.visible_pairs(T, T, causal, w), with min(w - 1, T) = w - 1 (w <= T)")
    D.note("A dense kernel (eager matmul, and every profiler) still computes all T^2 products: "
           "the 'needed' convention counts only the visible ones (calc report --convention needed).")
    causal = dict(plain, causal=True, fused="sdpa")
    dense = costs("attention", **causal)["flops"]
    needed = costs("attention", "needed", **causal)["flops"]
    masked = D.define("M_masked", frac(T * grouped(T - 1), 2), "masked pairs per head: T^2 - T*(T + 1)/2")
    D.define("F_saved", N * H * (grouped(2 * h - 1) * masked + 2 * h * masked + masked + 3 * masked + T**2),
             "per masked score: h products and h - 1 adds in q k^T, h products and h adds in p v, "
             "its scale, its 3 softmax terms; and the mask itself, T^2 adds")
    D.library(sympy.factor(dense - needed), "layer_costs exact - needed, causal, full heads")

    D.section("What each convention charges for the products and the softmax")
    names = convention_names("attention")
    D.note("Counters: macs = N*H*T*S*h, dot_outputs = N*H*T*S (scores), rows = N*H*T; masked_* the "
           "entries and products a mask discards.  F.scaled_dot_product_attention is one call, "
           "which profilers on a CPU see as an op with no formula:")
    D.table(("convention", "sdpa scores, context", "sdpa softmax"),
            [(n, rule_formula(n, "sdpa_scores"), rule_formula(n, "sdpa_softmax")) for n in names])
    D.note("The eager path (Hugging Face): torch.matmul for both products, F.softmax:")
    D.table(("convention", "torch.matmul", "F.softmax"),
            [(n, rule_formula(n, "matmul"), conventions.get(n).rule_for("softmax", "functional").formula())
             for n in names])
    return D
