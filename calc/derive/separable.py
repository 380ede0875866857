"""Topic `separable`: depthwise-separable vs regular convolution, MACs and parameters.

    regular    R = K^2*Cin*Cout*Hout*Wout          separable  S = K^2*Cin*Hout*Wout + Cin*Cout*Hout*Wout
    R / S = K^2*Cout / (K^2 + Cout) = 1 / (1/Cout + 1/K^2)   (the same ratio for parameters)
    seeds' example (3x3, 112x112x64 -> 128, no bias): 924,844,032 / 109,985,792 = 1152/137 = 8.41

Source: seed 003 (MobileNet-style worked example); calc/layers/conv.py (Separable = Depthwise +
Pointwise).  Ends on the library's MACs and parameters of `conv` and `separable` (layer_costs),
and on the numeric report of the example layers.
"""

from __future__ import annotations

from calc.derive.core import Derivation, frac, grouped, written
from calc.derive.library import costs, numeric, symbols, valid_input
from calc.symbolic import sympy

TITLE = "depthwise-separable vs regular convolution"


def build() -> Derivation:
    from calc.layers import Conv, Depthwise, Pointwise, Separable

    K, Cin, Cout, Ho, Wo = symbols("K C_in C_out H_out W_out")
    size = dict(K=K, Cin=Cin, H=valid_input(Ho, K), W=valid_input(Wo, K), bias=False)
    d = Derivation("separable", TITLE, "seed 003; calc/layers/conv.py (conv_macs, Separable)")
    d.note("No bias; the depthwise and pointwise halves are priced as the library's 'separable' kind.")

    d.section("MACs")
    R = d.define("R", K**2 * Cin * Cout * Ho * Wo, "regular KxK conv: one product per weight per output position")
    d.library(costs("conv", Cout=Cout, **size)["macs"], "layer_costs('conv')['macs']")
    S = d.define("S", K**2 * Cin * Ho * Wo + Cin * Cout * Ho * Wo,
                 "depthwise KxK (one filter per channel) then pointwise 1x1 to Cout")
    d.equals(Cin * Ho * Wo * grouped(K**2 + Cout), "factor out Cin*Hout*Wout (seed 003)")
    d.library(costs("separable", Cout=Cout, **size)["macs"], "layer_costs('separable')['macs']")
    d.define("r", frac(R, S), "how many times more the regular conv costs")
    d.equals(frac(K**2 * Cout, K**2 + Cout), "cancel Cin*Hout*Wout")
    d.equals(frac(1, sympy.Add(frac(1, Cout), frac(1, K**2), evaluate=False)),
             "divide numerator and denominator by K^2*Cout")
    general = K**2 * Cout / (K**2 + Cout)

    d.section("Parameters (no bias)")
    P_R = d.define("P_R", K**2 * Cin * Cout, "regular conv: K^2*Cin weights per output channel")
    d.library(costs("conv", Cout=Cout, **size)["params"], "layer_costs('conv')['params']")
    P_S = d.define("P_S", K**2 * Cin + Cin * Cout, "depthwise K^2 per channel, pointwise Cin*Cout")
    d.library(costs("separable", Cout=Cout, **size)["params"], "layer_costs('separable')['params']")
    d.define("r_P", frac(P_R, P_S), "parameter ratio")
    d.equals(general, "cancel Cin: the same ratio as the MACs")

    d.section("The seeds' example: 3x3, 112x112x64 -> 128, padding 1, no bias")
    example = dict(Cin=64, H=112, W=112, bias=False)
    reg = numeric(Conv(K=3, Cout=128, padding=1, **example))
    dw = numeric(Depthwise(K=3, padding=1, **example))
    pw = numeric(Pointwise(Cout=128, **example))
    sep = numeric(Separable(K=3, Cout=128, padding=1, **example))
    d.library(reg.macs, "regular 3x3 conv: calc layer conv --K 3 --Cout 128 --padding 1 --no-bias",
              lhs=written(sympy.Pow(3, 2, evaluate=False), 64, 128, 112, 112))
    d.library(dw.macs, "3x3 depthwise (seed: 7,225,344)", lhs=written(sympy.Pow(3, 2, evaluate=False), 64, 112, 112))
    d.library(pw.macs, "1x1 pointwise (seed: 102,760,448)", lhs=written(64, 128, 112, 112))
    d.library(sep.macs, "separable total (seed: 109,985,792 MACCs)",
              lhs=sympy.Add(dw.macs, pw.macs, evaluate=False))
    at = general.subs({K: 3, Cout: 128})
    d.equals(at, "the ratio in lowest terms", lhs=frac(reg.macs, sep.macs))
    d.equals(at, "r at K = 3, Cout = 128",
             lhs=frac(written(sympy.Pow(3, 2, evaluate=False), 128), sympy.Add(9, 128, evaluate=False)))
    d.rounds_to("8.41", "to two decimals (seed 003: 'about 8.4 times')")
    d.library(at, "parameters: the same ratio", lhs=frac(reg.params, sep.params))
    d.note(f"regular / separable = {reg.macs:,} / {sep.macs:,} = {float(at):.2f}; "
           f"parameters {reg.params:,} / {sep.params:,} = {float(at):.2f}.")
    return d
