"""Topic `global-pool`: global average and max pooling of an Hin x Win x C map to 1 x 1 x C.

    average (exact)   Hin*Win - 1 adds and one divide per channel  -> Hin*Win*C
    max (exact)       Hin*Win - 1 comparisons per channel          -> (Hin*Win - 1)*C
    macc (seed 003)   every input value once                       -> Hin*Win*C
Source: seed 003 ("FLOPs = Hin Win x Cin"); calc/layers/pool.py (GlobalPool, priced as adaptive
pooling to 1); calc/conventions.  Ends on the library's FLOPs (layer_costs).
"""

from __future__ import annotations

from calc.derive.by_convention import table
from calc.derive.core import Derivation, grouped
from calc.derive.library import costs, symbols

TITLE = "global average and max pooling"


def build() -> Derivation:
    H, W, C = symbols("H_in W_in C")
    fields = dict(Cin=C, H=H, W=W)
    d = Derivation("global-pool", TITLE, "seed 003; calc/layers/pool.py (GlobalPool); calc/conventions")

    d.section("Global average pooling, exact")
    f = d.define("f_avg", grouped(H * W - 1) + 1, "Hin*Win - 1 adds to sum a channel, one divide")
    d.equals(H * W, "collect terms")
    d.define("F_avg", f * C, "every channel")
    d.library(costs("global_avgpool", **fields)["flops"], "layer_costs('global_avgpool')['flops'], convention exact")

    d.section("Global max pooling, exact")
    f = d.define("f_max", H * W - 1, "the max of Hin*Win values takes Hin*Win - 1 comparisons")
    d.define("F_max", f * C, "every channel")
    d.library(costs("global_maxpool", **fields)["flops"], "layer_costs('global_maxpool')['flops'], convention exact")

    d.section("The macc convention (seed 003)")
    d.define("F_macc", H * W * C, "seed 003: 'FLOPs = Hin Win x Cin': each value is pooled once, max or average")
    d.library(costs("global_avgpool", "macc", **fields)["flops"], "layer_costs('global_avgpool')['flops'], convention macc")
    d.library(costs("global_maxpool", "macc", **fields)["flops"], "layer_costs('global_maxpool')['flops'], convention macc")

    d.section("Every convention")
    counters = dict(window=H * W * C, out_elements=C, in_elements=H * W * C)
    table(d, [("adaptive_avgpool", "global_avgpool"), ("adaptive_maxpool", "global_maxpool")], fields,
          counters, "window = in_elements = Hin*Win*C, out_elements = C")
    return d
