"""Topic `pool`: max and average pooling with a K x K window, C channels, Hout x Wout outputs.

    max pool (exact)   K^2 - 1 comparisons per output          -> (K^2 - 1)*Hout*Wout*C
    avg pool (exact)   K^2 - 1 adds and one divide per output  -> K^2*Hout*Wout*C
    macc (seed 003)    each output costs its window            -> Hout*Wout*C*K^2
Source: seed 003 ("FLOPs = Hout Wout x Cout x K x K"); calc/layers/pool.py (pool_window);
calc/conventions (maxpool, avgpool rules).  Ends on the library's FLOPs (layer_costs).
"""

from __future__ import annotations

from calc.derive.by_convention import table
from calc.derive.core import Derivation, grouped
from calc.derive.library import costs, symbols

TITLE = "max and average pooling with a K x K window"


def build() -> Derivation:
    K, C, Ho, Wo = symbols("K C H_out W_out")
    fields = dict(K=K, Cin=C, H=K * Ho, W=K * Wo)
    d = Derivation("pool", TITLE, "seed 003; calc/layers/pool.py (pool_window); calc/conventions")
    d.note("Stride K (PyTorch's default), no padding: input H = K*Hout, W = K*Wout.")

    d.section("Max pooling, exact")
    f = d.define("f_max", K**2 - 1, "the max of K^2 values takes K^2 - 1 comparisons")
    d.define("F_max", f * Ho * Wo * C, "every output of every channel")
    d.equals(grouped(K**2 - 1) * Ho * Wo * C, "f_max from above")
    d.library(costs("maxpool", **fields)["flops"], "layer_costs('maxpool')['flops'], convention exact")

    d.section("Average pooling, exact")
    f = d.define("f_avg", grouped(K**2 - 1) + 1, "K^2 - 1 adds to sum the window, one divide")
    d.equals(K**2, "collect terms")
    d.define("F_avg", f * Ho * Wo * C, "every output of every channel")
    d.equals(K**2 * Ho * Wo * C, "f_avg from above")
    d.library(costs("avgpool", **fields)["flops"], "layer_costs('avgpool')['flops'], convention exact")

    d.section("The macc convention (seed 003)")
    d.define("F_macc", Ho * Wo * C * K * K, "seed 003: 'FLOPs = Hout Wout x Cout x K x K', max or average")
    d.library(costs("maxpool", "macc", **fields)["flops"], "layer_costs('maxpool')['flops'], convention macc")
    d.library(costs("avgpool", "macc", **fields)["flops"], "layer_costs('avgpool')['flops'], convention macc")

    d.section("Every convention")
    counters = dict(window=K**2 * Ho * Wo * C, out_elements=Ho * Wo * C, in_elements=K**2 * Ho * Wo * C)
    table(d, [("maxpool", "maxpool"), ("avgpool", "avgpool")], fields, counters,
          "window = Hout*Wout*C*K^2 positions visited, in_elements = H*W*C = K^2*Hout*Wout*C, "
          "out_elements = Hout*Wout*C")
    return d
