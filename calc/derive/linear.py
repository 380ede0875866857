"""Topic `linear`: exact FLOPs of a fully connected layer, M inputs, N outputs.

    per output   M multiplies + (M - 1) adds = 2M - 1;   with bias + 1 = 2M
    whole layer  (2M - 1)*N;   with bias 2*M*N

Source: seed 002 ([M+(M-1)+1]*N = 2MN with bias, (2M-1)*N without); seed 004 (FC FLOPs =
parameters, the 'params-x-pixels' convention); seed 003's "MACC = 2 x Cin + 1 x Cout" is checked
and refuted.  Ends on the library's FLOPs of `linear` (layer_costs, convention exact).
"""

from __future__ import annotations

from calc.derive.core import Derivation, grouped
from calc.derive.library import costs, symbols

TITLE = "exact FLOPs of a fully connected layer"


def build() -> Derivation:
    M, N = symbols("M N")
    d = Derivation("linear", TITLE, "seeds 002, 003, 004; calc/layers/linear.py (linear_macs)")
    d.note("M = Cin input features, N = Cout outputs, one input row (batch 1).")

    d.section("Without bias")
    f = d.define("f_out", M + grouped(M - 1), "one output: M multiplies, then M - 1 adds to sum them")
    d.equals(2 * M - 1, "collect terms")
    d.define("F", f * N, "N outputs")
    d.equals(grouped(2 * M - 1) * N, "f_out from above")
    d.library(costs("linear", Cin=M, Cout=N, bias=False)["flops"],
              "layer_costs('linear', bias=False)['flops'], convention exact")

    d.section("With bias")
    fb = d.define("f_bias", f + 1, "plus one bias add per output")
    d.equals(2 * M, "the -1 is gone")
    d.define("F_bias", fb * N, "N outputs")
    d.equals(2 * M * N, "f_bias from above")
    d.library(costs("linear", Cin=M, Cout=N, bias=True)["flops"],
              "layer_costs('linear', bias=True)['flops'], convention exact")

    d.section("What the seeds state")
    d.library(costs("linear", Cin=M, Cout=N, bias=True)["flops"],
              "seed 002 holds, bias=True: [M + (M-1) + 1]*N", lhs=grouped(M + grouped(M - 1) + 1) * N)
    d.library(costs("linear", Cin=M, Cout=N, bias=False)["flops"],
              "seed 002 holds, bias=False: [M + (M-1)]*N", lhs=grouped(M + grouped(M - 1)) * N)
    d.library(costs("linear", "params-x-pixels", Cin=M, Cout=N, bias=True)["flops"],
              "seed 004 holds as its own convention (params-x-pixels): FC FLOPs = parameters M*N + N",
              lhs=costs("linear", Cin=M, Cout=N, bias=True)["params"])
    d.differs(costs("linear", Cin=M, Cout=N)["macs"],
              "seed 003's 'MACC = 2 x Cin + 1 x Cout' is wrong: a linear layer takes Cin*Cout MACs",
              lhs=2 * M + 1 * N, at={M: 4096, N: 1000})
    return d
