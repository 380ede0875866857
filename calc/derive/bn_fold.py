"""Topic `bn-fold`: an inference batch norm after a conv/linear folds into its weights and bias.

    w'_i = w_i * gamma / sqrt(var + eps)        b' = (b - mean) * gamma / sqrt(var + eps) + beta
    gamma*(x.w + b - mean)/sqrt(var + eps) + beta  =  x.w' + b'

Proved on a symbolic length-3 dot product, then for any length n (a constant factor moves inside a
finite sum).  conv -> BN -> ReLU folds (ReLU of equal arguments); conv -> ReLU -> BN does not: a
counterexample in exact rationals where BN(ReLU(y)) is negative, which no ReLU output can be.
Source: seed 003 (the folding formulas and the order caveat); calc/network/fold.py (the folded
layer gains a bias).  Ends on the library's parameters of a conv with and without bias.
"""

from __future__ import annotations

from calc.derive.core import Derivation, frac, grouped
from calc.derive.library import costs, symbols, valid_input
from calc.symbolic import sympy

TITLE = "folding batch norm into the previous conv/linear"


def _dot(xs: list, ws: list) -> object:
    return sympy.Add(*(x * w for x, w in zip(xs, ws)))


def _symbolic(d: Derivation) -> None:
    real = dict(real=True)
    gamma, beta, mean, b = sympy.symbols("gamma beta mu b", **real)
    var, eps = sympy.symbols("var epsilon", positive=True)
    x = sympy.symbols("x_0:3", **real)
    w = sympy.symbols("w_0:3", **real)

    d.section("Fold on a length-3 dot product (symbolic)")
    s = d.define("s", sympy.sqrt(var + eps), "BN standard deviation sqrt(var + eps), var + eps > 0")
    y = d.define("y", _dot(x, w) + b, "conv/linear output: a dot product plus the bias")
    z = d.define("z", gamma * grouped(y - mean) / s + beta, "inference batch norm of y (seed 003)")
    w_new = [d.define(f"w'_{i}", w[i] * gamma / s, f"folded weight {i}") for i in range(3)]
    b_new = d.define("b'", grouped(b - mean) * gamma / s + beta, "folded bias")
    d.equals(_dot(x, w_new) + b_new, "substitute y, w', b' and expand: the same value for every x",
             lhs=z)

    d.section("Any length n")
    i, n = sympy.symbols("i n", integer=True)
    X, Wt = sympy.IndexedBase("x"), sympy.IndexedBase("w")
    dot = d.define("d_n", sympy.Sum(X[i] * Wt[i], (i, 0, n - 1)), "a dot product of length n")
    d.equals(gamma / s * dot + gamma * grouped(b - mean) / s + beta, "distribute gamma/s",
             lhs=gamma * grouped(dot + b - mean) / s + beta)
    d.equals(sympy.Sum(X[i] * grouped(Wt[i] * gamma / s), (i, 0, n - 1)) + b_new,
             "a constant factor moves inside a finite sum; the rest is b'")

    d.section("conv -> BN -> ReLU folds")
    d.equals(sympy.Max(0, _dot(x, w_new) + b_new),
             "ReLU of equal arguments (the length-3 step): ReLU(BN(y)) = ReLU(x.w' + b')",
             lhs=sympy.Max(0, z))

    d.section("The folded layer is the same conv with a bias (calc/network/fold.py)")
    K, Cin, Cout, Ho, Wo = symbols("K C_in C_out H_out W_out")
    size = dict(K=K, Cin=Cin, Cout=Cout, H=valid_input(Ho, K), W=valid_input(Wo, K))
    d.define("P_folded", costs("conv", bias=False, **size)["params"] + Cout,
             "w' has the shape of w; b' adds one bias per output channel")
    d.library(costs("conv", bias=True, **size)["params"], "layer_costs('conv', bias=True)['params']")
    d.library(2 * Cout, "the BN's own gamma and beta disappear: layer_costs('batchnorm')['params']",
              lhs=costs("batchnorm", Cin=Cout, H=Ho, W=Wo)["params"])


def _counterexample(d: Derivation) -> None:
    d.section("conv -> ReLU -> BN does not fold: a counterexample in exact rationals")
    d.note("w = (1, 1, 1), b = 0; three inputs x = (-1, 0, 0), (2, 0, 0), (3, 0, 0).")
    R = sympy.Rational
    gamma = d.define("gamma", 1, "BN scale")
    beta = d.define("beta", 0, "BN shift")
    mean = d.define("mu", 1, "BN running mean")
    var = d.define("var", R(6, 25), "BN running variance")
    eps = d.define("epsilon", R(1, 100), "BN epsilon")
    s = d.define("s", sympy.sqrt(grouped(var + eps)), "BN standard deviation")
    d.equals(R(1, 2), "sqrt(6/25 + 1/100) = sqrt(1/4)")

    def bn_relu(k: int, xs: tuple) -> tuple:
        w, bias = (1, 1, 1), 0
        value = sum(xi * wi for xi, wi in zip(xs, w)) + bias
        y = d.define(f"y_{k}", value, f"x.w + b at x = {xs}")
        z = d.define(f"z_{k}", gamma * grouped(sympy.Max(0, y) - mean) / s + beta, "BN(ReLU(y))")
        d.equals(2 * (max(value, 0) - 1), f"ReLU({value}) = {max(value, 0)}, then (t - 1)/(1/2)")
        return y, z

    y1, z1 = bn_relu(1, (-1, 0, 0))
    y2, z2 = bn_relu(2, (2, 0, 0))
    y3, z3 = bn_relu(3, (3, 0, 0))
    a = d.define("a", frac(z3 - z2, y3 - y2),
                 "fit ReLU(a*y + c) through the two positive points (there ReLU is the identity)")
    d.equals(2, "(4 - 2)/(3 - 2)")
    c = d.define("c", z2 - a * y2, "the fitted intercept")
    d.equals(-2, "2 - 2*2")
    d.differs(z1, "the fitted folded form misses the first point: ReLU(2*(-1) - 2) = 0, but z_1 = -2",
              lhs=sympy.Max(0, a * y1 + c))
    A, C = sympy.symbols("A C", real=True)
    relu = sympy.Max(0, A * y1 + C)
    d.at_least(2, "and so does every a, c: a ReLU is never negative, and z_1 = -2", witness=relu,
               lhs=relu - z1)
    d.note("In general BN(ReLU(y)) = beta - gamma*mu/s for every y <= 0, negative whenever "
           "beta*s < gamma*mu, and no ReLU output is negative. "
           "So BN after a ReLU is not a conv followed by a ReLU, with any weights: it stays a "
           "separate layer (calc/network/fold.py folds only a BN whose input is a conv/linear's "
           "direct output).")


def build() -> Derivation:
    d = Derivation("bn-fold", TITLE, "seed 003; calc/network/fold.py")
    _symbolic(d)
    _counterexample(d)
    return d
