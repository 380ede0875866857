"""Topic `seeds`: the seed documents' remaining formulas (parameters; depthwise, pointwise and
batch-norm statements), each checked against the library: '=' steps hold, '!=' steps are wrong
(shown at a concrete point).  Conv and linear FLOPs are checked in the `conv` and `linear` topics.

Seed letters: seed 002 writes k (kernel), M (input channels), N (output channels), H, W (output
size); seed 003 writes K, Cin, Cout, Hout, Wout.
Source: seeds 001-004; calc/layers (conv_params, linear_params, batchnorm_params).
"""

from __future__ import annotations

from calc.derive.core import Derivation, frac, grouped, written
from calc.derive.library import costs, numeric, symbols, valid_input

TITLE = "the seeds' other formulas, checked against the library"


def build() -> Derivation:
    from calc.layers import Conv

    k, M, N, H, W, g = symbols("k M N H W g")
    conv = dict(K=k, Cin=M, H=valid_input(H, k), W=valid_input(W, k))
    one = dict(Cin=M, H=H, W=W)
    point = {k: 3, M: 64, N: 128, H: 56, W: 56}
    d = Derivation("seeds", TITLE, "seeds 001, 002, 003, 004")

    d.section("Seed 001")
    d.library(numeric(Conv(K=3, Cin=1, Cout=1, H=5, W=5, bias=True)).params,
              "holds: 'a 3*3 conv layer has 10 parameters' (one input and output channel, with bias)",
              lhs=written(3, 3) + 1)
    d.library(costs("pointwise", "2mac", Cout=N, **one)["flops"],
              "holds: 1x1 conv FLOPs 2*H*W*Cin*Cout (convention 2mac; exact with bias)", lhs=2 * H * W * M * N)
    d.library(costs("pointwise", Cout=N, bias=True, **one)["flops"], "the exact count with bias",
              lhs=2 * H * W * M * N)
    d.library(costs("pointwise", Cout=N, bias=False, **one)["mem_access"],
              "holds: 1x1 conv MAC H*W*(Cin + Cout) + Cin*Cout (no bias)", lhs=H * W * grouped(M + N) + M * N)

    d.section("Seed 002: parameters")
    d.library(costs("conv", Cout=N, bias=True, **conv)["params"], "holds: conv, bias=True", lhs=k * k * M * N + N)
    d.library(costs("conv", Cout=N, bias=False, **conv)["params"], "holds: conv, bias=False", lhs=k * k * M * N)
    d.library(costs("conv", Cout=N, bias=True, bn=True, **conv)["params"],
              "holds only with a conv bias: conv + BN 'k*k*M*N + 3*N' (N biases, N gammas, N betas)",
              lhs=k * k * M * N + 3 * N)
    d.differs(costs("conv", Cout=N, bias=False, bn=True, **conv)["params"],
              "without a conv bias (the usual case before BN) conv + BN has k*k*M*N + 2*N",
              lhs=k * k * M * N + 3 * N, at=point)
    d.library(costs("conv", Cout=N, groups=g, bias=True, **conv)["params"], "holds: grouped conv, bias=True",
              lhs=k * k * frac(M, g) * N + N)
    d.differs(costs("depthwise", bias=True, **conv)["params"],
              "wrong: depthwise 'k*k*M*M + M'; one k x k filter per channel gives k*k*M + M",
              lhs=k * k * M * M + M, at=point)
    d.differs(costs("pointwise", Cout=N, bias=False, **one)["params"],
              "wrong (a typo): pointwise bias=False '1*1*M*M'; it is M*N", lhs=M * M, at=point)
    d.library(costs("pointwise", Cout=N, bias=True, **one)["params"], "holds: pointwise bias=True M*N + N",
              lhs=M * N + N)

    d.section("Seed 002: depthwise and pointwise FLOPs")
    d.differs(costs("depthwise", bias=True, **conv)["flops"],
              "wrong: depthwise '[(k*k*M) + (k*k*M - 1) + 1]*M*H*W'; each output sees one channel: 2*k*k*M*H*W",
              lhs=grouped(grouped(k * k * M) + grouped(k * k * M - 1) + 1) * M * H * W, at=point)
    d.library(costs("depthwise", bias=True, **conv)["flops"], "the exact depthwise count with bias",
              lhs=grouped(k * k + grouped(k * k - 1) + 1) * M * H * W)
    d.library(costs("pointwise", Cout=N, bias=True, **one)["flops"],
              "holds: pointwise bias=True [(1*1*M) + (1*1*M - 1) + 1]*N*H*W",
              lhs=grouped(M + grouped(M - 1) + 1) * N * H * W)
    d.library(costs("pointwise", Cout=N, bias=False, **one)["flops"],
              "holds: pointwise bias=False [(1*1*M) + (1*1*M - 1)]*N*H*W",
              lhs=grouped(M + grouped(M - 1)) * N * H * W)

    d.section("Seed 003")
    d.library(costs("depthwise", bias=False, **conv)["macs"], "holds: depthwise MACC K*K*C*Hout*Wout",
              lhs=k * k * M * H * W)
    d.library(costs("pointwise", Cout=N, **one)["macs"], "holds: pointwise MACC Cin*Hout*Wout*Cout",
              lhs=M * H * W * N)
    d.library(costs("separable", Cout=N, bias=False, **conv)["macs"],
              "holds: separable MACC Cin*Hout*Wout*(K*K + Cout)", lhs=M * H * W * grouped(k * k + N))
    bn = costs("batchnorm", **one)
    d.library(bn["params"] + bn["buffers"],
              "'C*4 parameters' counts stored values: gamma, beta, mean, variance", lhs=4 * M)
    d.differs(bn["params"], "but only gamma and beta are learned: 2*C parameters, 2*C buffers",
              lhs=4 * M, at=point)

    d.section("Seed 004")
    d.library(costs("conv", "params-x-pixels", Cout=N, bias=True, **conv)["flops"],
              "holds as its own convention (params-x-pixels): conv FLOPs = parameters x Hout x Wout",
              lhs=costs("conv", Cout=N, bias=True, **conv)["params"] * H * W)
    d.note("Seed 004 counts one multiply-accumulate as one operation, plus one per bias: "
           "MACs + Cout*Hout*Wout, not the exact count 2*MACs.")
    return d
