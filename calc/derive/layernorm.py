"""Topic `layernorm`: exact FLOPs of layer norm (and RMS norm) over d features of T tokens.

    per row of d   mean d, centre d, variance 2d, + eps and sqrt 2, divide d   = 5d + 2
    learnt scale and shift                                                    + 2d
    whole layer    N*T rows: N*T*(7d + 2) with weight and bias, N*T*(5d + 2) without
    RMS norm       squares, sum, mean 2d, + eps and sqrt 2, divide d = 3d + 2, weight + d
    parameters     2d (weight and bias), d without bias, 0 without elementwise_affine

Source: calc/layers/norm.py (norm_exact_flops, layernorm_params); the profilers' rules
(calc/conventions/profilers.py, docs/profilers.md).  Ends on the library's figures (layer_costs).
"""

from __future__ import annotations

from calc.derive.core import Derivation, grouped
from calc.derive.library import convention_names, costs, rule_formula, symbols

TITLE = "exact FLOPs of layer norm and RMS norm"


def build() -> Derivation:
    N, T, D = symbols("N T d")
    tokens = dict(N=N, Cin=T, L=D)
    d = Derivation("layernorm", TITLE, "calc/layers/norm.py; calc/conventions (every table)")
    d.note("Input (N, T, d): N*T rows of d features, each normalised on its own (nn.LayerNorm(d)).")

    d.section("One row")
    mean = d.define("f_mean", D, "sum of d values: d - 1 adds, then 1 divide")
    var = d.define("f_var", 2 * D, "of the centred values (x - mean, d subtracts, kept): d squares, "
                   "d - 1 adds, 1 divide")
    d.define("f_row", mean + D + var + 2 + D,
             "mean, centre d, variance, + eps and square root 2, divide each value d")
    d.equals(5 * D + 2, "f_mean and f_var from above")

    d.section("The layer")
    d.define("F", grouped(5 * D + 2) * N * T, "N*T rows, no learnt scale or shift")
    d.library(costs("layernorm", elementwise_affine=False, **tokens)["flops"],
              "layer_costs('layernorm', elementwise_affine=False)['flops'], convention exact")
    d.define("F_affine", grouped(5 * D + 2) * N * T + 2 * N * T * D,
             "plus one multiply (weight) and one add (bias) per element")
    d.equals(N * T * grouped(7 * D + 2), "collect terms")
    d.library(costs("layernorm", **tokens)["flops"], "layer_costs('layernorm')['flops'], convention exact")
    d.library(costs("layernorm", **tokens)["params"], "parameters: weight and bias, d each", lhs=2 * D)
    d.library(costs("layernorm", bias=False, **tokens)["params"], "bias=False: the weight only", lhs=D)
    d.library(costs("layernorm", **tokens)["macs"], "no dot products: 0 MACs", lhs=0)

    d.section("RMS norm")
    d.define("f_rms", 2 * D + 2 + D, "squares and their mean 2d, + eps and square root 2, divide d")
    d.equals(3 * D + 2, "collect terms")
    d.library(costs("rmsnorm", **tokens)["flops"], "layer_costs('rmsnorm')['flops'] with its weight",
              lhs=N * T * grouped(3 * D + 2) + N * T * D)

    d.section("What each convention charges for a default nn.LayerNorm(d)")
    rows = []
    for name in convention_names():
        rows.append((name, rule_formula(name, "layernorm"), str(costs("layernorm", name, **tokens)["flops"])))
    d.note("Counters: in_elements = stats_in = N*T*d elements, rows = N*T, affine_in = bias_adds = "
           "N*T*d (weight and bias), batch_params = N * 2d.  Each FLOPs cell is the library's "
           "layer_costs('layernorm', {N, Cin: T, L: d}, convention)['flops'].")
    d.table(("convention", "rule", "FLOPs"), rows)
    return d
