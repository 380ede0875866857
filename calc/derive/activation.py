"""Topic `activation`: per-element FLOPs of each activation in every counting convention.

For an H x W x C input every activation is priced per element by its convention's row of
coefficients (out_elements, in_elements; softmax also per row: rows = H*W vectors of length C):
    exact    relu 1, relu6 2, leaky_relu/prelu 2, elu 4, sigmoid 4, tanh 1, hardsigmoid 4,
             hardswish 5, silu 5, gelu 5, softmax 3 - 1/C (exp each, C - 1 adds, C divides per row)
    macc     seed 003: relu/prelu/elu H*W*C, sigmoid H*W*C*4
Source: seed 003 (ReLU/PReLU/ELU, Sigmoid); calc/conventions (every table).  Every cell, times
H*W*C, is checked against the library's FLOPs (layer_costs) under that convention.
"""

from __future__ import annotations

from typing import Any

from calc.derive.by_convention import cell
from calc.derive.core import Derivation, grouped
from calc.derive.library import convention_names, costs, symbols
from calc.derive.render import text_expr
from calc.layers.activation import ActivationKind
from calc.symbolic import sympy

TITLE = "per-element cost of each activation, in every convention"


def build() -> Derivation:
    H, W, C = symbols("H W C")
    fields = dict(Cin=C, H=H, W=W)
    n = H * W * C
    d = Derivation("activation", TITLE, "seed 003; calc/conventions; calc/layers/activation.py")

    d.section("Worked cases")
    d.define("F_relu", n, "exact: max(x, 0), one operation per element")
    d.library(costs("relu", **fields)["flops"], "layer_costs('relu')['flops'], convention exact")
    d.define("F_sigmoid", 4 * n, "exact: negate, exp, add, divide per element")
    d.library(costs("sigmoid", **fields)["flops"], "layer_costs('sigmoid')['flops'], convention exact")
    d.library(costs("sigmoid", "macc", **fields)["flops"], "seed 003 holds: 'Sigmoid FLOPs = H x W x C x 4' (macc)",
              lhs=H * W * C * 4)
    d.library(costs("elu", "macc", **fields)["flops"], "seed 003: 'ReLU/PReLU/ELU FLOPs = H x W x C' (macc)",
              lhs=H * W * C)
    f = d.define("f_row", sympy.Add(C, grouped(C - 1), C, evaluate=False), "softmax over C channels: C exps, C - 1 adds, C divides")
    d.equals(3 * C - 1, "collect terms")
    d.define("F_softmax", f * H * W, "one row per pixel: H*W rows")
    d.equals(grouped(3 * C - 1) * H * W, "f_row from above")
    d.library(costs("softmax", **fields)["flops"], "layer_costs('softmax')['flops'], convention exact")

    d.section("Every activation, every convention (FLOPs per element)")
    names = convention_names()
    rows = []
    for kind in ActivationKind:
        counters: dict[str, Any] = dict(in_elements=n, out_elements=n)
        if kind is ActivationKind.SOFTMAX:
            counters["rows"] = H * W
        if kind is ActivationKind.PRELU:
            counters.update(params=1, batch_params=1)  # one shared slope; batch N = 1
        row = [kind.value]
        for name in names:
            value = cell(d, kind.value, kind.value, name, fields, counters)
            row.append("n/e" if value is None else text_expr(sympy.expand(value / n)))
        rows.append(tuple(row))
    d.note("Each cell is the convention's rule over H*W*C elements (softmax: over H*W rows of C), "
           "divided by H*W*C; each cell times H*W*C equals the library's layer_costs(kind, "
           "{Cin: C, H: H, W: W}, convention)['flops'] (checked when this was built). "
           "n/e: the convention does not emulate that operation.")
    d.table(("activation", *names), rows)
    return d
