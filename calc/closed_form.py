"""Closed forms of costs: one layer's totals over symbolic fields (`layer_costs`), and a
network's totals as polynomials in its input sizes under a checked divisibility assumption
(`closed_form`, `render_closed_form`).

This is the engine that runs the numeric path (records, reports, networks) on sympy values;
`calc.symbolic` is the sympy backend it gets sympy and the floor-free test from.  The backend
imports nothing from `calc`, so `calc.arith` -> `calc.symbolic` never leads back here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from calc import conventions
from calc.cost import Dtype, Totals
from calc.errors import CalcError, UsageError
from calc.layers import REGISTRY
from calc.report import chain
from calc.symbolic import is_closed_form, sympy

# -- symbolic costs of one layer --------------------------------------------------------------


def layer_costs(kind: str, fields: dict[str, Any], convention: conventions.Convention | None = None) -> dict[str, Any]:
    """Totals (params, buffers, macs, flops, mem_access) of one layer kind whose fields may be
    sympy expressions: the record is built without validation (`model_construct`) and fed to
    the very formula functions the numeric path uses."""
    cls = REGISTRY[kind]
    record = cls.model_construct(type=kind, **fields)
    convention = convention or conventions.get(conventions.DEFAULT)
    rows = chain("", record, record.stated_inputs(), convention, Dtype.FP32)
    totals = Totals.of(rows).as_dict()
    totals.pop("largest_activation")
    totals.pop("active_params")
    totals.pop("mem_bytes")
    return {k: sympy.expand(v) for k, v in totals.items()}


# -- closed forms of a network in its input size ----------------------------------------------

_QUANTITIES = ("params", "buffers", "macs", "flops", "mem_access")


@dataclass(frozen=True)
class ClosedForm:
    """Network totals as expressions in the input-size variables, and what they assume."""

    network: str
    convention: str
    variables: tuple[str, ...]
    totals: dict[str, Any]
    divisor: int
    residues: dict[str, int]
    verified_at: tuple[dict[str, int], ...]
    input_shape: tuple[int | str, ...] = ()
    """The input, batch first, with each symbolic axis as its variable's name: (1, 3, 'H', 'W')."""
    workload: str = ""
    """What the FLOPs price beyond a forward pass: ', a training step' (and its recomputation)."""

    def assumptions(self) -> list[str]:
        out = []
        for name in self.variables:
            r = self.residues.get(name, 0)
            if self.divisor > 1:
                out.append(f"{name} = {self.divisor}k + {r} for a positive integer k" if r
                           else f"{name} divisible by {self.divisor}")
        return out


def _divisors(limit: int) -> list[int]:
    """Candidate divisors for the size assumption, smallest first: 2^a * m, m in 1, 3, 5, 7."""
    return sorted({2**a * m for a in range(12) for m in (1, 3, 5, 7) if 2**a * m <= limit})


def closed_form(network: Any, convention: Any, variables: tuple[str, ...] = ("H", "W"),
                max_divisor: int = 1792, context: int = 0, mode: str = "inference",
                recompute: str | None = None) -> ClosedForm:
    """Totals as polynomials in the named input sizes.

    The input size x of each variable is written x = d*k + r, with r the spec's size modulo d;
    d is the smallest of 2^a * (1, 3, 5 or 7) for which every floor (and gcd) in the shape
    rules vanishes.  The result
    is checked against the numeric evaluation at the spec's size and at five other sizes that
    meet the same assumption.  For a network with self attention, the variable C is the KV-cache
    length (tokens already cached, `context`, default 0), which the new tokens attend to too.
    `mode` and `recompute`: as for `Network.evaluate` (a training step's FLOPs)."""
    shape = tuple(network.input_shape)
    axis_names = network.axis_names()
    cached = CONTEXT if CONTEXT not in axis_names and network.uses_context() else None
    for name in variables:
        if (name not in axis_names and name != cached) or name in ("C", "d") and name != cached:
            raise UsageError(
                f"'{name}' is not an input size of {network.name}",
                expected="some of " + ", ".join([*(n for n in axis_names if n not in ("C", "d")),
                                                 *([cached] if cached else [])]),
            )
    base = {**dict(zip(axis_names, shape)), **({cached: context} if cached else {})}
    symbols_ = {name: _symbol(name, cached) for name in variables}
    def attempt(d: int) -> tuple[dict, dict, dict] | None:
        ks = {name: sympy.Symbol(f"k_{name}", integer=True, nonnegative=True) for name in variables}
        residues = {name: base[name] % d for name in variables}
        sym_shape = tuple(
            d * ks[n] + residues[n] if n in variables else size for n, size in zip(axis_names, shape)
        )
        sym_context = d * ks[cached] + residues[cached] if cached in variables else context
        report = network.evaluate(convention, input_shape=sym_shape, context=sym_context or None,
                                  mode=mode, recompute=recompute)
        totals = {q: sympy.expand(getattr(report.totals, q)) for q in _QUANTITIES}
        if all(is_closed_form(e) for e in totals.values()):
            return ks, residues, totals
        clamps.append(any(e.has(sympy.Min, sympy.Max) and not e.has(sympy.floor) for e in totals.values()))
        return None

    found = None
    clamps: list[bool] = []
    # Most networks need the size divisible by their total downsampling: start there and halve
    # while the form stays clean (2-3 symbolic passes instead of one per candidate divisor).
    d = _reduction(network, shape, axis_names, tuple(v for v in variables if v != cached))
    while d >= 1 and (result := attempt(d)) is not None:
        found = (d, result)
        d //= 2
    if found is None:
        for d in _divisors(max_divisor):
            if (result := attempt(d)) is not None:
                found = (d, result)
                break
        else:
            if clamps and all(clamps):  # min/max in every attempt: a clamp, not a divisibility
                raise UsageError(
                    f"the totals are piecewise in {', '.join(variables)}: a min/max (a sliding "
                    "window, a clamped size) makes them one polynomial below a threshold and "
                    "another above it", expected="another convention (a dense count), or numbers")
            raise UsageError(
                f"no closed form without floors for size divisors up to {max_divisor}",
                expected="an input size with enough small factors",
            )
    d, (ks, residues, totals) = found
    back = {ks[n]: (symbols_[n] - residues[n]) / d for n in variables}
    in_vars = {q: sympy.expand(e.subs(back)) for q, e in totals.items()}
    named = tuple(n if n in variables else size for n, size in zip(axis_names, shape))
    workload = "" if mode == "inference" else ", a training step" + (f", recompute {recompute}" if recompute else "")
    form = ClosedForm(network.name, convention.name, tuple(variables), in_vars, d, residues, (), named, workload)
    return verify(form, network, convention, shape, axis_names, context, mode, recompute)


CONTEXT = "C"
"""The variable of the KV-cache length (tokens already cached) in a sequence network's forms."""


def _symbol(name: str, cached: str | None) -> Any:
    """An input size is a positive integer; a context (cached tokens) may be 0."""
    if name == cached:
        return sympy.Symbol(name, integer=True, nonnegative=True)
    return sympy.Symbol(name, integer=True, positive=True)


def _reduction(network: Any, shape: tuple, axis_names: tuple, variables: tuple) -> int:
    """The power of two at or above the network's largest input-to-feature-map size ratio along
    the symbolic axes (224 -> 7 gives 32)."""
    ratio = 1
    for out in network.shapes(shape).values():
        for name in variables:
            axis = axis_names.index(name)
            if name != "N" and len(out) == len(shape) and out[axis] > 0:
                ratio = max(ratio, -(-shape[axis] // out[axis]))
    power = 1
    while power < ratio:
        power *= 2
    return power


def verify(form: ClosedForm, network: Any, convention: Any, shape: tuple, axis_names: tuple,
           context: int = 0, mode: str = "inference", recompute: str | None = None) -> ClosedForm:
    """Evaluate the closed form and the numeric path at the spec's size and five more; any
    disagreement is an error, never a silently wrong formula."""
    sizes = {**dict(zip(axis_names, shape)), CONTEXT: context}
    base = {n: sizes[n] for n in form.variables}
    cached = CONTEXT if CONTEXT in form.variables and CONTEXT not in axis_names else None
    points = []
    for step in (0, 1, 2, 3, -1, 5):
        point = {n: base[n] + step * form.divisor for n in form.variables}
        if any(v < (0 if n == cached else 1) for n, v in point.items()):
            continue
        numeric_shape = tuple(point.get(n, s) for n, s in zip(axis_names, shape))
        try:
            numeric = network.evaluate(convention, input_shape=numeric_shape, mode=mode, recompute=recompute,
                                       context=point.get(cached, context) or None).totals
        except CalcError:
            continue  # too small for the network; not a size the formula claims
        subs = {_symbol(n, cached): v for n, v in point.items()}
        for q, expr in form.totals.items():
            value = expr.subs(subs)
            if value != getattr(numeric, q):
                raise AssertionError(
                    f"closed form of {q} gives {value} at {point}, the numeric path "
                    f"{getattr(numeric, q)}"
                )
        points.append(point)
    return replace(form, verified_at=tuple(points))


def render_closed_form(form: ClosedForm, fmt: str = "text") -> str:
    """text, md, latex or json."""
    if fmt == "json":
        # The key names of the report's and the comparison's JSON (docs/output-formats.md):
        # a total that does not depend on the variables is an int there too.
        from calc.conventions import get
        from calc.render.json_format import SCHEMA_VERSION, convention_dict, dumps

        return dumps({
            "schema_version": SCHEMA_VERSION, "name": form.network,
            "convention": convention_dict(get(form.convention)),
            "input_shapes": [list(form.input_shape)],
            "variables": list(form.variables), "assumptions": form.assumptions(),
            "totals": {q: int(e) if getattr(e, "is_Integer", False) else str(e) for q, e in form.totals.items()},
            "verified_at": list(form.verified_at),
        }) + "\n"
    checked = ", ".join("x".join(str(p[n]) for n in form.variables) for p in form.verified_at)
    assumes = "; ".join(form.assumptions()) or "none"
    if fmt == "latex":
        rows = [rf"\mathrm{{{q.replace('_', chr(92) + '_')}}} &= {sympy.latex(e)} \\" for q, e in form.totals.items()]
        return ("% " + f"{form.network}, convention {form.convention}{form.workload}; assumes {assumes}\n"
                + "\\begin{align*}\n" + "\n".join(rows) + "\n\\end{align*}\n")
    if fmt == "md":
        lines = [f"**{form.network}**, convention `{form.convention}`{form.workload}", "",
                 "| quantity | closed form |", "|---|---|",
                 *(f"| {q} | `{e}` |" for q, e in form.totals.items()), "",
                 f"Assumes: {assumes}. Checked against the numeric report at {checked}."]
        return "\n".join(lines) + "\n"
    width = max(len(q) for q in form.totals)
    lines = [f"{form.network}: convention {form.convention}{form.workload}", f"assumes: {assumes}", ""]
    lines += [f"{q:<{width}} = {e}" for q, e in form.totals.items()]
    lines += ["", f"checked against the numeric report at {checked}"]
    return "\n".join(lines) + "\n"
