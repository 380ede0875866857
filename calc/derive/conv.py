"""Topic `conv`: exact FLOPs of a 2-d convolution, counted one multiply and one add at a time.

    per input channel    K^2 multiplies + (K^2 - 1) adds          = 2K^2 - 1
    per output pixel     Cin*(2K^2 - 1) + (Cin - 1) adds           = 2*Cin*K^2 - 1
    with bias            + 1                                       = 2*Cin*K^2
    whole layer          x Hout*Wout*Cout;  grouped: Cin -> Cin/g

Source: seed 000 (the per-channel and per-pixel count; "no bias: -1, with bias: no -1"),
seed 001 (2*H*W*Cin*K*K*Cout with bias), seed 002 (the bias=True and bias=False formulas; conv + BN
[(2kkM-1) + 3]*N*H*W holds with a conv bias).
Ends on the library's `exact` FLOPs of `conv` (layer_costs), with and without bias, grouped.
"""

from __future__ import annotations

from calc.derive.core import Derivation, grouped
from calc.derive.library import costs, symbols, valid_input

TITLE = "exact FLOPs of a convolution (every multiply and every add)"


def build() -> Derivation:
    K, Cin, Cout, Ho, Wo, g = symbols("K C_in C_out H_out W_out g")
    size = dict(K=K, Cin=Cin, Cout=Cout, H=valid_input(Ho, K), W=valid_input(Wo, K))
    d = Derivation("conv", TITLE, "seeds 000, 001, 002; calc/layers/conv.py (conv_macs, conv_dot_outputs)")
    d.note("Hout, Wout are the output sizes (unpadded stride-1 input H = Hout + K - 1 is fed to "
           "the library; the count depends on the output size only).")

    d.section("Without bias (seed 000)")
    f_ch = d.define("f_ch", K**2 + grouped(K**2 - 1),
                    "one input channel: K^2 multiplies, then K^2 - 1 adds to sum the K^2 products")
    d.equals(2 * K**2 - 1, "collect terms")
    f_px = d.define("f_px", Cin * f_ch + grouped(Cin - 1),
                    "one output pixel: every input channel, then Cin - 1 adds to sum the channels")
    d.equals(Cin * grouped(2 * K**2 - 1) + grouped(Cin - 1), "f_ch from above")
    d.equals(2 * Cin * K**2 - 1, "expand: -Cin + Cin cancels")
    d.define("F", f_px * Ho * Wo * Cout, "every pixel of every output channel")
    d.equals(grouped(2 * Cin * K**2 - 1) * Ho * Wo * Cout, "f_px from above")
    d.library(costs("conv", bias=False, **size)["flops"],
              "layer_costs('conv', bias=False)['flops'], convention exact")

    d.section("With bias")
    f_b = d.define("f_bias", f_px + 1, "one bias add per output pixel, after the channel sum")
    d.equals(2 * Cin * K**2, "the -1 is gone")
    d.define("F_bias", f_b * Ho * Wo * Cout, "every pixel of every output channel")
    d.equals(2 * Cin * K**2 * Ho * Wo * Cout, "f_bias from above")
    d.library(costs("conv", bias=True, **size)["flops"],
              "layer_costs('conv', bias=True)['flops'], convention exact")

    d.section("Grouped (g groups): each output channel sees Cin/g input channels")
    f_g = d.define("f_g", (Cin / g) * f_ch + grouped(Cin / g - 1), "as f_px with Cin -> Cin/g")
    d.equals(2 * Cin * K**2 / g - 1, "expand")
    d.define("F_g", f_g * Ho * Wo * Cout, "every pixel of every output channel")
    d.library(costs("conv", bias=False, groups=g, **size)["flops"],
              "layer_costs('conv', groups=g, bias=False)['flops']")
    d.define("F_gb", (f_g + 1) * Ho * Wo * Cout, "plus one bias add per output")
    d.equals(2 * Cin * K**2 * Ho * Wo * Cout / g, "expand")
    d.library(costs("conv", bias=True, groups=g, **size)["flops"],
              "layer_costs('conv', groups=g, bias=True)['flops']")

    d.section("What the seeds state (M = Cin, N = Cout; H, W the output size)")
    M, N, k = Cin, Cout, K
    d.library(costs("conv", bias=False, **size)["flops"],
              "seed 000 holds: (2*Cin*K^2 - 1)*H*W*Cout, stated for no bias ('no bias: -1, with bias: no -1')",
              lhs=grouped(2 * Cin * K**2 - 1) * Ho * Wo * Cout)
    d.library(costs("conv", bias=True, **size)["flops"],
              "seed 001 holds with bias: 2*H*W*(Cin*K*K)*Cout (one add fewer than products, plus the bias add)",
              lhs=2 * Ho * Wo * grouped(Cin * K * K) * Cout)
    d.library(costs("conv", "2mac", bias=False, **size)["flops"],
              "seed 001's formula is also the '2mac' convention (bias ignored), any bias",
              lhs=2 * Ho * Wo * grouped(Cin * K * K) * Cout)
    d.library(costs("conv", bias=True, **size)["flops"],
              "seed 002 holds, bias=True: [2*(k*k*M)]*N*H*W", lhs=grouped(2 * grouped(k * k * M)) * N * Ho * Wo)
    d.library(costs("conv", bias=False, **size)["flops"],
              "seed 002 holds, bias=False: (2*k*k*M - 1)*N*H*W", lhs=grouped(2 * k * k * M - 1) * N * Ho * Wo)
    d.library(costs("conv", bias=True, bn=True, **size)["flops"],
              "seed 002's conv + BN [(2kkM-1) + 3]*N*H*W holds with a conv bias: +1 bias add, "
              "+2 for BN's x*scale + shift (as its parameter count k*k*M*N + 3*N assumes a bias)",
              lhs=grouped(grouped(2 * k * k * M - 1) + 3) * N * Ho * Wo)
    d.differs(costs("conv", bias=False, bn=True, **size)["flops"],
              "without a conv bias (the usual case before BN) it is (2kkM + 1)*N*H*W",
              lhs=grouped(grouped(2 * k * k * M - 1) + 3) * N * Ho * Wo, at={k: 3, M: 64, N: 128, Ho: 56, Wo: 56})
    d.note("Seed 000's rule is right as written: the formula it prints, (2*Cin*K^2 - 1)*H*W*Cout, is "
           "the no-bias count, and its remark 'no bias: -1; with bias: no -1' matches the two sections "
           "above. Seed 002's bias=True and bias=False formulas are the right way round too, and its "
           "conv + BN count holds when the conv keeps its bias (exact convention; macc prices BN 0).")
    return d
