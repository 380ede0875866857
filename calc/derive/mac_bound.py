"""Topic `mac-bound`: ShuffleNet V2 guideline G1 -- equal channel widths minimise memory access.

For a 1x1 conv on an h x w map, c1 -> c2 channels, no bias:
    B   = h*w*c1*c2                          (its FLOPs as the paper counts them: multiply-adds)
    MAC = h*w*(c1 + c2) + c1*c2              (memory access cost: read input and weights, write output)
    MAC >= 2*sqrt(h*w*B) + B/(h*w),  with equality iff c1 = c2
because MAC - (2*sqrt(h*w*B) + B/(h*w)) = h*w*(sqrt(c1) - sqrt(c2))^2 >= 0 (AM-GM).
Source: Ma et al., "ShuffleNet V2", ECCV 2018, sec. 3 G1; seed 001 (MAC = H*W*(Cin + Cout) +
Cin*Cout).  Ends on the library's macs and mem_access of `pointwise` (layer_costs).
"""

from __future__ import annotations

from calc.derive.core import Derivation, frac, grouped, written
from calc.derive.library import costs, symbols
from calc.symbolic import sympy

TITLE = "memory access cost of a 1x1 conv is least when c1 = c2 (ShuffleNet V2, G1)"


def build() -> Derivation:
    h, w, c1, c2, c = symbols("h w c1 c2 c")
    pointwise = costs("pointwise", Cin=c1, Cout=c2, H=h, W=w, bias=False)
    d = Derivation("mac-bound", TITLE, "ShuffleNet V2 (Ma et al., ECCV 2018) sec. 3 G1; seed 001; calc/cost.py (mem_access)")

    d.section("The two quantities, and the library's")
    B = d.define("B", h * w * c1 * c2, "1x1 conv: one multiply-add per weight per pixel")
    d.library(pointwise["macs"], "layer_costs('pointwise', bias=False)['macs']")
    MAC = d.define("MAC", h * w * grouped(c1 + c2) + c1 * c2,
                   "read h*w*c1 inputs, write h*w*c2 outputs, read c1*c2 weights")
    d.library(pointwise["mem_access"], "layer_costs('pointwise', bias=False)['mem_access']")

    d.section("The bound at fixed B")
    bound = d.define("L", 2 * sympy.sqrt(grouped(h * w * B)) + B / (h * w), "the lower bound of G1")
    d.equals(2 * h * w * sympy.sqrt(c1 * c2) + c1 * c2, "substitute B: sqrt(h^2*w^2*c1*c2) = h*w*sqrt(c1*c2)")
    d.equals(h * w * grouped(c1 + c2 - 2 * sympy.sqrt(c1 * c2)), "subtract from MAC: c1*c2 cancels",
             lhs=MAC - bound)
    gap = d.equals(h * w * grouped(sympy.sqrt(c1) - sympy.sqrt(c2)) ** 2,
                   "(sqrt(c1) - sqrt(c2))^2 = c1 - 2*sqrt(c1*c2) + c2")
    d.at_least(bound, "a square times h*w > 0 is nonnegative", witness=gap, lhs=MAC)
    d.at_least(4 * c1 * c2, "AM-GM in squared form, the same fact", witness=(c1 - c2) ** 2,
               lhs=grouped(c1 + c2) ** 2)

    d.section("Equality exactly when c1 = c2")
    d.iff(gap, sympy.Eq(c2, c1), "h*w > 0, so the gap vanishes only when sqrt(c1) = sqrt(c2)")
    at = {c1: c, c2: c}
    d.equals(2 * h * w * c + c**2, "MAC at c1 = c2 = c",
             lhs=h * w * grouped(sympy.Add(c, c, evaluate=False)) + written(c, c))
    d.library(pointwise["mem_access"].subs(at), "layer_costs('pointwise')['mem_access'] at c1 = c2 = c")
    d.equals(2 * h * w * c + c**2, "the bound at c1 = c2 = c (B = h*w*c*c): attained",
             lhs=2 * sympy.sqrt(grouped(written(h, w, h, w, c, c))) + frac(written(h, w, c, c), written(h, w)))
    d.note("The memory access cost of a 1x1 conv with B fixed is smallest with as many output as "
           "input channels; the calculator's mem_access (calc/cost.py) is exactly the MAC above.")
    return d
