"""The roofline as text, Markdown, CSV or JSON; the batch sweep and the symbolic time likewise.

Counts (FLOPs, bytes, FLOP/s, B/s) are exact ints; intensities and times are exact Fractions,
shown rounded (4 significant digits: '6.610 ms', '153.0 FLOP/B') in text and Markdown, as
floats in CSV and JSON, and exactly ('p/q' strings) for the totals in JSON.  Names from a spec
are escaped per format as calc.render.escape does for the reports.
"""

from __future__ import annotations

import csv
import io
import json
from fractions import Fraction
from typing import Any

from calc.render import escape
from calc.render.numbers import count, shape
from calc.roofline.analysis import Roofline, RooflineRow, StepFigures
from calc.roofline.model import INFINITE, MEMORY, NONE
from calc.roofline.sweep import Sweep, SymbolicTime

FORMATS = ("text", "md", "csv", "json")

HEADER = ("path", "kind", "FLOPs", "bytes", "FLOP/B", "attainable (FLOP/s)", "bound", "time (ideal)",
          "time (efficiency)")
NUMERIC = (False, False, True, True, True, True, False, True, True)


# ---- numbers ----------------------------------------------------------------------------------

_TIME_UNITS = ((1, "s"), (Fraction(1, 10**3), "ms"), (Fraction(1, 10**6), "us"), (Fraction(1, 10**9), "ns"),
               (Fraction(1, 10**12), "ps"))


def seconds(t: Fraction) -> str:
    """A time with 4 significant digits in s, ms, us, ns or ps: '6.610 ms'; '0 s' for none."""
    if t == 0:
        return "0 s"
    for scale, unit in _TIME_UNITS:
        if t >= scale:
            return f"{_significant(t / scale)} {unit}"
    return f"{_significant(t / _TIME_UNITS[-1][0])} ps"


def _significant(x: Fraction, digits: int = 4) -> str:
    """x (> 0, < 10**15) with `digits` significant digits, fixed-point: 6.610, 153.0, 1234."""
    value = float(x)
    whole = len(str(int(value))) if value >= 1 else 1
    decimals = max(digits - whole, 0) if value >= 1 else digits - 1 + _leading_zeros(value)
    return f"{value:.{decimals}f}"


def _leading_zeros(value: float) -> int:
    n = 0
    while value < 0.1 and n < 30:
        value *= 10
        n += 1
    return n + 1 if value < 1 else n


def flop_per_byte(i: Fraction | float) -> str:
    if i == INFINITE:
        return "inf"
    if i == 0:
        return "0"
    return _significant(Fraction(i), 4)


def rate(x: Fraction, units: bool = True, sep: str = "") -> str:
    """A throughput (FLOP/s), K/M/G/T with 4 significant digits ('312.0 T'); exact when whole
    and `units` is off."""
    if not units and x.denominator == 1:
        return count(int(x), False)
    value = float(x)
    for scale, unit in ((10**15, "P"), (10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "K")):
        if value >= scale:
            return f"{_significant(Fraction(x) / scale)}{sep}{unit}"
    return _significant(Fraction(x)) if x else "0"


def percent(share: Fraction) -> str:
    return f"{float(share) * 100:.1f}%"


def _float(x: Fraction | float) -> float | str:
    """A Fraction as a JSON number; 'inf' for an infinite intensity (JSON has no infinity)."""
    return "inf" if x == INFINITE else float(x)


def _exact(x: Fraction) -> str:
    return f"{x.numerator}/{x.denominator}" if x.denominator != 1 else str(x.numerator)


# ---- the roofline ---------------------------------------------------------------------------


def cells(r: RooflineRow, units: bool) -> list[str]:
    """A row's cells for text and Markdown; a block's kind is its count of operations (its kinds
    in order are in CSV and JSON)."""
    kind = f"{r.ops} ops" if r.ops > 1 else r.kind
    return [r.path, kind, count(r.flops, units), count(r.bytes, units), flop_per_byte(r.intensity),
            rate(r.attainable), r.bound if r.bound != NONE else "-", seconds(r.time), seconds(r.efficient_time)]


def header_lines(r: Roofline) -> list[tuple[str, str]]:
    """The header block, (key, value) pairs: what the figures are, for every format."""
    d = r.device
    math = d.math + (" (math mode on fp32 storage)" if d.math == "tf32" else "")
    lines = [
        ("network", r.name),
        ("device", f"{d.title} ({d.name}{_file(d)})"),
        ("input", shape(r.input_shape)),
        ("storage dtype", f"{r.dtype.value}; KV cache {r.kv_dtype.value}" if r.step is not None else r.dtype.value),
        ("math (peak used)", math),
        ("peak", f"{count(d.peak, False)} FLOP/s ({rate(Fraction(d.peak), sep=' ')}FLOP/s, dense)"),
        ("bandwidth", f"{count(d.bandwidth, False)} B/s ({rate(Fraction(d.bandwidth), sep=' ')}B/s)"),
        ("ridge", f"{flop_per_byte(d.ridge)} FLOP/B (peak / bandwidth)"),
        ("FLOPs", f"convention {r.convention}" + (f": {r.convention_title}" if r.convention_title else "")
                  + f" (see 'calc conventions {r.convention}')"),
        ("bytes", "memory access at the dtype: inputs + weights read + buffers + output, per operation"
                  + ("; epilogues fused (batchnorm, activation, add into the conv/linear before them)" if r.fuse else "")),
        ("time", "per operation max(FLOPs / peak, bytes / bandwidth), summed (a lower bound)"),
        ("efficiency", f"compute {_share(d.compute_efficiency)}, memory {_share(d.memory_efficiency)} "
                       "(time (efficiency): each roof times its factor)"),
    ]
    if r.context:
        lines.insert(3, ("context", f"{count(r.context, False)} cached tokens"))
    if r.phase:
        lines.insert(3, ("phase", r.phase))
    if r.depth:
        lines.append(("depth", f"{r.depth} (blocks: times summed; bound: that of the larger part of the block's time)"))
    return lines


def _file(d: Any) -> str:
    """', FILE' for a profile read from a file of the user's; nothing for a shipped one."""
    import os

    shipped = os.path.join("calc", "hardware", "profiles", f"{d.name}.yaml")
    return "" if not d.source or os.path.normpath(d.source).endswith(shipped) else f", {d.source}"


def _share(x: Fraction) -> str:
    return _significant(x, 3).rstrip("0").rstrip(".") if x != 1 else "1"


def summary_lines(r: Roofline) -> list[str]:
    t = r.totals
    memory_ops = sum(1 for x in r.rows if x.bound == MEMORY)
    d = r.device
    lines = [
        f"time, sum of operations (ideal): {seconds(t.time)}",
        f"time, sum of operations (efficiency {_share(d.compute_efficiency)} compute, "
        f"{_share(d.memory_efficiency)} memory): {seconds(t.efficient_time)}",
        f"network roof max(total FLOPs / peak, total bytes / bandwidth): {seconds(t.network_time)} "
        f"({t.network_bound}-bound, {flop_per_byte(t.intensity)} FLOP/B)",
        f"memory-bound {'blocks' if r.depth else 'operations'}: {percent(t.memory_share)} of the time "
        f"({memory_ops} of {len(r.rows)} rows)",
    ]
    if r.step is not None:
        lines += step_lines(r.step, r)
    return lines


def step_lines(s: StepFigures, r: Roofline) -> list[str]:
    d = r.device
    what = {"decode": "decode step", "prefill": "prefill"}.get(s.phase or "", "forward pass")
    per = "per token" if s.phase == "decode" else "of the step"
    return [
        f"{what}: {count(s.tokens, False)} new token{'s' if s.tokens != 1 else ''}, "
        f"{count(s.context, False)} cached",
        f"  weights read once: {count(s.weights_bytes, False)} B (an embedding reads the rows it looks up); "
        f"every parameter: {count(s.params_bytes, False)} B",
        f"  KV cache read: {count(s.kv_entries, False)} entries x {r.kv_dtype.value} = {count(s.kv_bytes, False)} B",
        f"  floor (weights + KV cache) / bandwidth: {seconds(s.floor_time)} "
        f"(memory efficiency {_share(d.memory_efficiency)}: {seconds(s.floor_efficient_time)})",
        f"  the published rule, every parameter / bandwidth: {seconds(Fraction(s.params_bytes, d.bandwidth))} "
        f"(each embedding table whole, every expert of a mixture; the weights this step reads: "
        f"{seconds(Fraction(s.weights_bytes, d.bandwidth))})",
        f"  time {per}, sum of operations: {seconds(s.time)} (efficiency: {seconds(s.efficient_time)})",
        f"  tokens/s upper bound: {_significant(s.tokens_per_second) if s.time else '-'} "
        f"(floor: {_significant(s.floor_tokens_per_second) if s.floor_time else '-'})",
    ]


def render(r: Roofline, fmt: str = "text", units: bool = False) -> str:
    if fmt not in FORMATS:
        from calc.errors import UsageError

        raise UsageError(f"unknown format {fmt!r}", expected="one of " + ", ".join(FORMATS))
    return {"text": _text, "md": _md, "csv": _csv, "json": _json}[fmt](r, units)


def _table(rows: list[list[str]], numeric: tuple[bool, ...]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join((c.rjust(w) if num else c.ljust(w)) for c, w, num in zip(row, widths, numeric)).rstrip()
            for row in rows]


def _total_cells(r: Roofline, units: bool) -> list[str]:
    t = r.totals
    return ["total", "", count(t.flops, units), count(t.bytes, units), flop_per_byte(t.intensity), "", "",
            seconds(t.time), seconds(t.efficient_time)]


def _text(r: Roofline, units: bool) -> str:
    name = escape.text
    head = [f"{k}: {name(v) if k == 'network' else v}" for k, v in header_lines(r)]
    rows = [list(HEADER)] + [[name(c[0]), name(c[1]), *c[2:]] for c in (cells(x, units) for x in r.rows)]
    rows.append(_total_cells(r, units))
    return "\n".join([*head, "", *_table(rows, NUMERIC), "", *summary_lines(r)]) + "\n"


def _md(r: Roofline, units: bool) -> str:
    md = escape.markdown
    head = [f"- {k}: {md(v) if k == 'network' else md(v)}" for k, v in header_lines(r)]
    align = "|".join("---:" if n else "---" for n in NUMERIC)
    rows = [f"| {' | '.join(md(h) for h in HEADER)} |", f"|{align}|"]
    for x in r.rows:
        c = cells(x, units)
        rows.append(f"| {md(c[0])} | {md(c[1])} | " + " | ".join(c[2:]) + " |")
    c = _total_cells(r, units)
    rows.append("| **total** | | " + " | ".join(c[2:]) + " |")
    summary = [f"- {md(line.strip())}" if not line.startswith("  ") else f"  - {md(line.strip())}"
               for line in summary_lines(r)]
    return "\n".join([f"# Roofline: {md(r.name)} on {md(r.device.title)}", "", *head, "", *rows, "", *summary]) + "\n"


def _csv(r: Roofline, units: bool) -> str:
    out = io.StringIO()
    for k, v in header_lines(r):
        out.write(f"# {k}: {escape.text(v)}\n")
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["path", "kind", "flops", "bytes", "flop_per_byte", "attainable_flop_s", "bound", "time_s",
                "efficient_time_s", "memory_time_s", "ops", "fused"])
    for x in r.rows:
        w.writerow([x.path, x.kind, x.flops, x.bytes, _float(x.intensity), _float(x.attainable), x.bound,
                    float(x.time), float(x.efficient_time), float(x.memory_time), x.ops, " ".join(x.fused)])
    t = r.totals
    w.writerow(["total", "", t.flops, t.bytes, _float(t.intensity), "", t.network_bound, float(t.time),
                float(t.efficient_time), float(t.memory_time), sum(x.ops for x in r.rows), ""])
    return out.getvalue()


def as_dict(r: Roofline) -> dict[str, Any]:
    """The roofline as JSON-ready data (also the chart data's source of numbers)."""
    d = r.device
    t = r.totals
    data: dict[str, Any] = {
        "network": r.name,
        "device": {"name": d.name, "title": d.title, "file": d.source, "math": d.math, "peak_flop_s": d.peak,
                   "bandwidth_byte_s": d.bandwidth, "ridge_flop_per_byte": float(d.ridge),
                   "ridge_exact": _exact(d.ridge), "compute_efficiency": _exact(d.compute_efficiency),
                   "memory_efficiency": _exact(d.memory_efficiency)},
        "convention": r.convention, "dtype": r.dtype.value, "kv_dtype": r.kv_dtype.value,
        "input": list(r.input_shape), "context": r.context, "phase": r.phase, "fuse": r.fuse, "depth": r.depth,
        "rows": [{"path": x.path, "kind": x.kind, "flops": x.flops, "bytes": x.bytes,
                  "flop_per_byte": _float(x.intensity), "attainable_flop_s": _float(x.attainable),
                  "bound": x.bound, "time_s": float(x.time), "efficient_time_s": float(x.efficient_time),
                  "memory_time_s": float(x.memory_time), "ops": x.ops, "fused": list(x.fused)} for x in r.rows],
        "totals": {"flops": t.flops, "bytes": t.bytes, "flop_per_byte": _float(t.intensity),
                   "time_s": float(t.time), "time_exact": _exact(t.time),
                   "efficient_time_s": float(t.efficient_time), "efficient_time_exact": _exact(t.efficient_time),
                   "memory_time_s": float(t.memory_time), "memory_share": float(t.memory_share),
                   "network_time_s": float(t.network_time), "network_time_exact": _exact(t.network_time),
                   "network_bound": t.network_bound},
        "step": None,
    }
    s = r.step
    if s is not None:
        data["step"] = {
            "phase": s.phase, "tokens": s.tokens, "context": s.context, "weights_bytes": s.weights_bytes,
            "params_bytes": s.params_bytes, "kv_entries": s.kv_entries, "kv_bytes": s.kv_bytes,
            "floor_time_s": float(s.floor_time), "floor_time_exact": _exact(s.floor_time),
            "floor_efficient_time_s": float(s.floor_efficient_time), "time_s": float(s.time),
            "efficient_time_s": float(s.efficient_time),
            "tokens_per_s": float(s.tokens_per_second), "floor_tokens_per_s": float(s.floor_tokens_per_second),
        }
    return data


def _json(r: Roofline, units: bool) -> str:
    return json.dumps(as_dict(r), indent=2) + "\n"


# ---- the batch sweep ----------------------------------------------------------------------------

SWEEP_HEADER = ("batch", "FLOPs", "bytes", "FLOP/B", "network roof", "per sample", "bound",
                "time (sum of ops)", "memory-bound share")


def sweep_lines(s: Sweep) -> list[str]:
    d = s.device
    if s.batch is not None:
        verdict = (f"compute-bound from batch {s.batch}: total FLOPs / peak >= total bytes / bandwidth "
                   f"(intensity >= ridge {flop_per_byte(d.ridge)} FLOP/B)")
    else:
        tends = (f"; its intensity tends to {flop_per_byte(s.slope_intensity)} FLOP/B as the batch grows"
                 if s.slope_intensity is not None else "")
        verdict = (f"not compute-bound at any batch up to {count(s.limit, False)}{tends} "
                   f"(ridge {flop_per_byte(d.ridge)} FLOP/B)")
    return [f"{s.name} on {d.title}, {d.math}: {verdict}"]


def render_sweep(s: Sweep, fmt: str = "text", units: bool = False) -> str:
    rows = [[count(p.batch, False), count(p.flops, units), count(p.bytes, units), flop_per_byte(p.intensity),
             seconds(p.network_time), seconds(p.network_time / p.batch), "compute" if p.compute_bound else "memory",
             seconds(p.time), percent(p.memory_share)] for p in s.points]
    if fmt == "json":
        return json.dumps({
            "network": s.name, "device": s.device.name, "math": s.device.math,
            "ridge_flop_per_byte": float(s.device.ridge), "batch": s.batch, "limit": s.limit,
            "slope_flop_per_byte": None if s.slope_intensity is None else _float(s.slope_intensity),
            "points": [{"batch": p.batch, "flops": p.flops, "bytes": p.bytes, "flop_per_byte": _float(p.intensity),
                        "network_time_s": float(p.network_time), "compute_bound": p.compute_bound,
                        "time_s": float(p.time), "memory_share": float(p.memory_share)} for p in s.points],
        }, indent=2) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        out.write("".join(f"# {escape.text(line)}\n" for line in sweep_lines(s)))
        w = csv.writer(out, lineterminator="\n")
        w.writerow(["batch", "flops", "bytes", "flop_per_byte", "network_time_s", "compute_bound", "time_s",
                    "memory_share"])
        for p in s.points:
            w.writerow([p.batch, p.flops, p.bytes, _float(p.intensity), float(p.network_time), p.compute_bound,
                        float(p.time), float(p.memory_share)])
        return out.getvalue()
    if fmt == "md":
        align = "|".join("---:" if i != 6 else "---" for i in range(len(SWEEP_HEADER)))
        lines = [f"| {' | '.join(escape.markdown(h) for h in SWEEP_HEADER)} |", f"|{align}|"]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join([f"- {escape.markdown(line)}" for line in sweep_lines(s)] + ["", *lines]) + "\n"
    numeric = (True, True, True, True, True, True, False, True, True)
    return "\n".join([*(escape.text(line) for line in sweep_lines(s)), "",
                      *_table([list(SWEEP_HEADER), *rows], numeric)]) + "\n"


# ---- the symbolic time ------------------------------------------------------------------------


def render_symbolic(st: SymbolicTime, device: Any, fmt: str = "text") -> str:
    from calc.symbolic import sympy

    n = st.symbol
    lines = {
        "F(N)": sympy.sstr(st.flops), "B(N)": sympy.sstr(st.bytes),
        "T(N)": f"max(F(N) / {device.peak}, B(N) / {device.bandwidth}) s",
        "T(N) piecewise": sympy.sstr(st.piecewise),
        "crossover": (f"N = {sympy.sstr(st.crossover)} (about {float(st.crossover):.4g}): the memory roof below, "
                      "the compute roof from it on") if st.crossover is not None else
                     f"none: the {st.roof} roof at every batch" if st.roof else "none found (F or B not linear in N)",
    }
    if fmt == "json":
        return json.dumps({"variable": str(n), **{k: v for k, v in lines.items()},
                           "crossover_exact": None if st.crossover is None else sympy.sstr(st.crossover)},
                          indent=2) + "\n"
    if fmt == "md":
        return "\n".join(f"- {k}: `{v}`" for k, v in lines.items()) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(["quantity", "expression"])
        for k, v in lines.items():
            w.writerow([k, v])
        return out.getvalue()
    return "".join(f"{k}: {v}\n" for k, v in lines.items())

