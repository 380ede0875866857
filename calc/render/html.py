"""The HTML report: one self-contained page (no network access: plotly.js is bundled in it).

    render_html(report, network=..., comparison=...) -> str

Sections, in order (each built by one function of SECTIONS from the same `_Page`):
    summary      the network's name, input and output, convention, dtype, options, and the
                 totals (active params when a mixture of experts leaves some out)
    layers       a bar chart of MACs, FLOPs, params or memory access per block, opened at the
                 deepest level with at most calc.render.charts.MAX_BARS bars; a click opens a
                 block, or folds an operation back into its block
    table        every block (its totals: calc.report.collapse) and operation in a plain
                 <table>, indented by depth; the script makes blocks open and close and
                 columns sort; without JavaScript every row shows
    memory       bytes each operation writes, in network order, and with `network` the live
                 activations and their peak (the rule: calc.render.charts)
    conventions  with `comparison` (calc.compare.compare): FLOPs under each convention,
                 stacked by the operation kinds where they differ
    roofline     with `hardware` (a device): each operation on the device's roofline
                 (calc.roofline.chart), hover showing the layer, the largest shares numbered and
                 listed in a table; drawn by its own script (calc.roofline.html_js), added after
                 the page's script

Every figure in the page is a report's (or the comparison's), written exactly; the charts get
the same figures as numbers (floats, drawing only) and their exact text for hover.  Names
from a spec are escaped: HTML-escaped after calc.render.escape.text (which shows characters
that do not print as their escapes), in the page and in the chart data alike (plotly reads
tags in its text).  The page needs plotly (`pip install 'flopcalc[plot]'`), imported here only.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from calc.errors import UsageError
from calc.render import escape
from calc.render.charts import (
    AGREED, METRICS, Node, block_tree, bytes_per_element, check_network, convention_stack,
    default_depth, live_activations, log_scale,
)
from calc.render.numbers import count, int_text, shape, with_units
from calc.render.tables import HEADER, NUMERIC, _options, _option_text
from calc.report import Report

PLOT_EXTRA = "pip install 'flopcalc[plot]'"


def require(module: str, what: str) -> Any:
    """`import module` for a picture, or a one-line UsageError saying what to install."""
    from importlib import import_module

    try:
        return import_module(module)
    except ImportError:
        raise UsageError(f"{what} needs {module.split('.')[0]}, which is not installed",
                         expected=PLOT_EXTRA) from None


def h(name: Any) -> str:
    """A name from a spec as HTML text (also inside an attribute, and for plotly's text)."""
    return html.escape(escape.text(str(name)), quote=True)


def _float(value: Any) -> float | None:
    """A count as a chart coordinate (drawing only); None for a symbolic one or one too big."""
    if type(value) is not int:
        return None
    try:
        return float(value)
    except OverflowError:
        return None


def _exact(value: Any) -> str:
    return count(value, False)


@dataclass
class _Page:
    report: Report
    network: Any
    comparison: Any
    title: str
    nodes: tuple[Node, ...]
    depth: int
    data: dict[str, Any] = field(default_factory=dict)
    """What the script reads (the JSON data block)."""
    memory: Any = None
    titled: bool = False
    """The title was given (the network's name then shows under it)."""
    roofline: Any = None
    """calc.roofline.chart.RooflineChart of the report on the device given, or None."""


def render_html(report: Report, *, network: Any = None, comparison: Any = None,
                title: str | None = None, hardware: Any = None) -> str:
    """The report as one self-contained HTML page.  `network`: the calc.network.Network the
    report was evaluated from (not collapsed or cut to its top rows), for the live activations;
    `comparison`: a calc.compare.Comparison, for the convention chart; `title`: the page's
    title (default: '<name>: cost report'); `hardware`: a device (a calc.hardware.Profile, a
    profile's name or file, or a calc.roofline.Device), for the roofline section (none without)."""
    if not isinstance(report, Report):
        raise UsageError(f"render_html takes a Report, got {type(report).__name__}",
                         expected="the result of Network.evaluate, evaluate_network or evaluate_layer")
    if network is not None:
        check_network(report, network)
    if comparison is not None:
        convention_stack(comparison)  # a one-line error for anything but a Comparison
    offline = require("plotly.offline", "the HTML report")
    nodes = block_tree(report)
    page = _Page(report, network, comparison, title if title is not None else f"{report.name}: cost report",
                 nodes, default_depth(nodes))
    page.titled = title is not None
    if network is not None:
        page.memory = live_activations(report, network)
    if hardware is not None:
        from calc.roofline.analysis import analyse
        from calc.roofline.chart import chart_data

        page.roofline = chart_data(analyse(report, hardware, network=network))
    body = "".join(section(page) for section in SECTIONS)
    roofline_script = ""
    if page.roofline is not None:
        from calc.roofline.html_js import JS as ROOFLINE_JS

        roofline_script = "<script>" + ROOFLINE_JS + "</script>\n"
    return "".join([
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n",
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n",
        "<meta name=\"generator\" content=\"flopcalc\">\n",
        f"<title>{h(page.title)}</title>\n<style>{_assets().CSS}</style>\n</head>\n<body>\n",
        body,
        f"<footer>Made by flopcalc {_version()}; charts drawn by plotly.js {h(offline.get_plotlyjs_version())}, "
        "bundled in this file (it needs no network access).</footer>\n",
        "<script type=\"application/json\" id=\"flopcalc-data\">", _script_json(page.data), "</script>\n",
        "<script>", offline.get_plotlyjs(), "</script>\n",
        "<script>", _assets().JS, "</script>\n", roofline_script, "</body>\n</html>\n",
    ])


def _assets() -> Any:
    from calc.render import html_assets

    return html_assets


def _version() -> str:
    import calc

    return calc.__version__


def _script_json(data: Any) -> str:
    """JSON that cannot end its <script> element or open a comment in it."""
    import json

    text = json.dumps(data, separators=(",", ":"), allow_nan=False, ensure_ascii=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


# ---- sections -------------------------------------------------------------------------------

def _summary(page: _Page) -> str:
    r = page.report
    t = r.totals
    c = r.convention
    width = bytes_per_element(r)
    meta = [
        ("input", ", ".join(shape(s) for s in r.input_shapes)),
        ("output", shape(r.output_shape)),
        ("convention", f"{c.name}: {c.title}"),
        ("convention source", c.source),
        ("dtype", f"{r.dtype.value} ({width} byte{'s' if width > 1 else ''} per element)"),
        *((k, _option_text(v)) for k, v in _options(r).items()),
        ("operations", _exact(len(r.rows))),
    ]
    cards = [("params", "params", t.params)]
    if t.active_params != t.params:
        cards.append(("active_params", "active params per token", t.active_params))
    cards += [
        ("buffers", "buffers", t.buffers),
        ("macs", "MACs (conv/linear, bias excluded)", t.macs),
        ("flops", f"FLOPs ({c.name})", t.flops),
        ("mem_access", "memory access (elements)", t.mem_access),
        ("mem_bytes", "memory access (bytes)", t.mem_bytes),
        ("largest_activation", "largest activation (elements)", t.largest_activation),
    ]
    if page.memory is not None:
        cards.append(("peak_live", "peak live activations (elements, estimate)", page.memory.peak))
    out = [f"<header id=\"summary\">\n<h1>{h(page.title)}</h1>\n"]
    if page.titled:
        out.append(f"<p class=\"muted\">network <span class=\"mono\">{h(r.name)}</span></p>\n")
    out.append("<dl class=\"meta\">\n")
    out += [f"<dt>{h(k)}</dt><dd>{h(v)}</dd>\n" for k, v in meta]
    out.append("</dl>\n<div class=\"cards\">\n")
    for key, label, value in cards:
        value_attr = f" value=\"{int_text(value)}\"" if type(value) is int else ""
        units = f"<span class=\"u\">{with_units(value)}</span>" if type(value) is int and value >= 1000 else ""
        out.append(f"<div class=\"card\"><span class=\"k\">{h(label)}</span>"
                   f"<data class=\"v\" data-total=\"{key}\"{value_attr}>{h(_exact(value))}</data>{units}</div>\n")
    out.append("</div>\n</header>\n")
    return "".join(out)


def _layers(page: _Page) -> str:
    r = page.report
    keys = list(METRICS)
    nodes = [{
        "p": h(n.path), "k": h(n.row.kind), "d": n.depth, "u": n.parent, "c": list(n.children),
        "n": n.ops, "v": [_float(getattr(n.row, k)) for k in keys],
        "t": [_exact(getattr(n.row, k)) for k in keys],
    } for n in page.nodes]
    page.data["layers"] = {
        "nodes": nodes, "depth": page.depth, "labels": [METRICS[k] for k in keys],
        "totals": [_float(getattr(r.totals, k)) for k in keys],
    }
    deepest = max((n.depth for n in page.nodes), default=1)
    metric_options = "".join(f"<option value=\"{i}\">{h(METRICS[k])}</option>" for i, k in enumerate(keys))
    depth_options = "".join(
        f"<option value=\"{d}\"{' selected' if d == page.depth else ''}>{d}</option>" for d in range(1, deepest + 1))
    return (
        "<section id=\"layers\">\n<h2>Cost per block</h2>\n"
        "<div class=\"controls noprint\">"
        f"<label for=\"metric\">show</label> <select id=\"metric\">{metric_options}</select>"
        f"<label for=\"depth\">blocks opened to level</label> <select id=\"depth\">{depth_options}</select>"
        "<span class=\"note\"><span class=\"sw blk\"></span> a block: click to open it; "
        "<span class=\"sw op\"></span> an operation: click to fold it back into its block.</span>"
        "</div>\n<div class=\"chart\" id=\"chart-layers\"></div>\n</section>\n"
    )


def _table(page: _Page) -> str:
    r = page.report
    head = "".join(f"<th scope=\"col\"{_NUMERIC_CLASS if num else ''}>{_header(name)}</th>"
                   for name, num in zip(HEADER, NUMERIC))
    rows = []
    for n in page.nodes:
        row = n.row
        prefix, _, last = n.path.rpartition(".")
        name = (f"<span class=\"pre\">{h(prefix)}.</span>" if prefix else "") + h(last)
        if n.block:
            kind = f"<td class=\"kind\" title=\"{h(row.kind)}\">{n.ops} ops</td>"
        else:
            kind = f"<td class=\"kind\">{h(row.kind)}</td>"
        cells = "".join(_num_cell(getattr(row, f)) for f in ("params", "buffers", "macs", "flops", "mem_access", "mem_bytes"))
        rows.append(
            f"<tr{_BLOCK_CLASS if n.block else ''} data-u=\"{n.parent}\" data-d=\"{n.depth}\">"
            f"<th scope=\"row\" style=\"--d:{n.depth - 1}\" title=\"{h(n.path)}\">{name}</th>{kind}"
            f"<td>{h(shape(row.output_shape))}</td>{cells}</tr>\n")
    t = r.totals
    total = "".join(_num_cell(getattr(t, f)) for f in ("params", "buffers", "macs", "flops", "mem_access", "mem_bytes"))
    return (
        "<section id=\"table\">\n<h2>Blocks and operations</h2>\n"
        "<p class=\"note\">Each block's row holds its totals. MACs are multiply-accumulates of "
        f"conv and linear layers (bias excluded); FLOPs follow the convention {h(r.convention.name)}; "
        f"memory access is elements read and written, and its bytes at {h(r.dtype.value)}.</p>\n"
        "<div class=\"controls noprint\" id=\"table-controls\" hidden>"
        "<button type=\"button\" id=\"expand-all\">open all</button>"
        "<button type=\"button\" id=\"collapse-all\">close all</button>"
        "<label><input type=\"checkbox\" id=\"flat\"> operations only</label>"
        "<span class=\"note\">Click a column's name to sort (again: the other way, a third time: network order).</span>"
        "</div>\n<div class=\"table-wrap\">\n"
        f"<table class=\"layers\" id=\"layer-table\">\n<thead><tr>{head}</tr></thead>\n<tbody>\n"
        + "".join(rows)
        + f"</tbody>\n<tfoot><tr><th scope=\"row\">total</th><td></td><td>{h(shape(r.output_shape))}</td>{total}</tr></tfoot>\n"
        "</table>\n</div>\n</section>\n"
    )


def _header(title: str) -> str:
    """A column's name; its unit on a second line ('mem bytes (B)'), to keep the column narrow."""
    name, paren, unit = title.partition(" (")
    return f"{h(name)}<br><span class=\"unit\">({h(unit)}</span>" if paren else h(title)


_NUMERIC_CLASS = ' class="n"'
_BLOCK_CLASS = ' class="blk"'


def _num_cell(value: Any) -> str:
    attr = f" data-v=\"{int_text(value)}\"" if type(value) is int else ""
    return f"<td class=\"n\"{attr}>{h(_exact(value))}</td>"


def _memory(page: _Page) -> str:
    r = page.report
    rows = list(r.rows)
    width = bytes_per_element(r)
    mem = page.memory
    own = [row.activations if type(row.activations) is int else None for row in rows]
    if mem is not None:
        own = list(mem.own)
    if any(v is None for v in own):
        return ("<section id=\"memory\">\n<h2>Memory over the network</h2>\n"
                "<p class=\"note\">Not drawn: the activation sizes are not numbers.</p>\n</section>\n")
    data: dict[str, Any] = {
        "paths": [h(row.path) for row in rows], "kinds": [h(row.op) for row in rows],
        "own": [_float(v * width) for v in own],
        "ownText": [f"{_exact(v)} elements, {_exact(v * width)} B" for v in own],
        "dtype": r.dtype.value, "live": None,
    }
    if mem is not None:
        data["live"] = [_float(v * width) for v in mem.elements]
        data["liveText"] = [f"{_exact(v)} elements, {_exact(v * width)} B" for v in mem.elements]
        peak_bytes = mem.peak * width
        data["peak"] = {"x": mem.peak_index + 1, "y": _float(peak_bytes),
                        "text": f"{_exact(mem.peak)} elements, {_exact(peak_bytes)} B",
                        "short": f"{with_units(peak_bytes)}B"}
        peak = rows[mem.peak_index]
        rule = (
            f"<p>Peak live activations (an estimate): <data value=\"{int_text(mem.peak)}\" id=\"peak-live\">"
            f"{_exact(mem.peak)}</data> elements ({_exact(peak_bytes)} bytes at {h(r.dtype.value)}), at operation "
            f"{mem.peak_index + 1}, <span class=\"mono\">{h(peak.path)}</span>.</p>\n"
            "<p class=\"note\">The rule: each operation's output is a tensor alive from the operation that "
            "writes it to the last one that reads it (the network's input from the start, its output to the "
            "end); at each operation the live tensors, those it reads and the one it writes included, are "
            "summed. Views (flatten, identity, dropout, split, select) take no memory of their own and keep "
            "the tensor they view alive. In-place operations, workspaces and allocator caching are not "
            "modelled.</p>\n")
    else:
        rule = ("<p class=\"note\">The bars are the bytes each operation writes. The live activations and "
                "their peak need the network the report was evaluated from "
                "(<code>render_html(report, network=network)</code>).</p>\n")
    page.data["memory"] = data
    return ("<section id=\"memory\">\n<h2>Memory over the network</h2>\n" + rule
            + "<div class=\"chart\" id=\"chart-memory\"></div>\n</section>\n")


def _conventions(page: _Page) -> str:
    cmp = page.comparison
    if cmp is None:
        return ""
    from calc.compare import describe

    stack = convention_stack(cmp)
    names = list(stack.conventions)
    current = page.report.convention.name
    refused = [i for i, t in enumerate(stack.totals) if t is None]
    page.data["conventions"] = {
        "names": [h(n) for n in names],
        "ticks": [f"<b>{h(n)}</b>" if n == current else h(n) for n in names],
        "parts": [{"name": h(label), "values": [_float(v) for v in values],
                   "texts": [_exact(v) if v is not None else "n/a" for v in values]}
                  for label, values in stack.parts],
        "refused": refused, "reasons": [h(stack.refusals.get(n, "")) for n in names],
        "totals": [_float(v) for v in stack.totals],
        "totalTexts": [_exact(v) if v is not None else "n/a" for v in stack.totals],
        "log": log_scale(stack.totals),
    }
    totals = "".join(
        f"<tr><th scope=\"row\">{h(n)}</th><td class=\"n\"{_value_attr(v)}>{h(_exact(v)) if v is not None else 'n/a'}</td></tr>\n"
        for n, v in zip(names, stack.totals))
    notes = "".join(f"<li>{h(describe(s))}</li>\n" for s in cmp.spreads)
    notes += "".join(f"<li>{h(k)}: {h(v)}</li>\n" for k, v in cmp.refusals.items())
    shapes = ", ".join(shape(s) for s in cmp.input_shapes)
    return (
        "<section id=\"conventions\">\n<h2>FLOPs under each convention</h2>\n"
        f"<p class=\"note\">{h(cmp.network)} at input {h(shapes)}: params {h(_exact(cmp.params))}, "
        f"MACs {h(_exact(cmp.macs))} under every convention. Each bar is stacked by the operation kinds "
        f"whose FLOPs differ between conventions, and the rest ({h(AGREED)}); this report's convention "
        "is in bold.</p>\n"
        "<div class=\"controls noprint\"><label><input type=\"checkbox\" id=\"conventions-log\"> "
        "log scale (the totals only)</label></div>\n"
        "<div class=\"chart\" id=\"chart-conventions\"></div>\n"
        "<details><summary>totals and where the conventions differ</summary>\n"
        f"<table class=\"layers\"><thead><tr><th scope=\"col\">convention</th><th scope=\"col\" class=\"n\">FLOPs</th></tr></thead>\n"
        f"<tbody>\n{totals}</tbody></table>\n<ul class=\"spreads\">\n{notes}</ul>\n</details>\n</section>\n"
    )


def _value_attr(value: Any) -> str:
    return f" data-v=\"{int_text(value)}\"" if type(value) is int else ""


def _roofline(page: _Page) -> str:
    """Each operation at (intensity, attainable throughput) under the device's roofs; the
    figures are calc.roofline's (chart data: calc.roofline.chart)."""
    c = page.roofline
    if c is None:
        return ""
    import math

    from calc.roofline.chart import TOP, badge_offsets, x_range, y_range
    from calc.roofline.render import flop_per_byte, percent, rate, seconds

    (x0, x1), (y0, y1) = x_range(c), y_range(c)
    top_share = max((p.share for p in c.points), default=0.0) or 1.0
    offsets = badge_offsets(c, (760, 360))
    roof_name = f"roofs: {rate(_fraction(c.peak), sep=' ')}FLOP/s ({c.math}), {rate(_fraction(c.bandwidth), sep=' ')}B/s"
    data: dict[str, Any] = {
        "x": [p.intensity for p in c.points], "y": [p.attainable for p in c.points],
        "share": [p.share for p in c.points], "maxShare": top_share,
        "size": [6 + 30 * math.sqrt(p.share / top_share) for p in c.points],
        "hover": [f"<b>{h(p.label)}</b><br>{h(p.kind)}<br>FLOPs {_exact(p.flops)}, bytes {_exact(p.bytes)}"
                  + (" (each)" if p.count > 1 else "")
                  + f"<br>{flop_per_byte(_fraction(p.intensity))} FLOP/B, attainable {rate(_fraction(p.attainable), sep=' ')}FLOP/s"
                  + f"<br>{h(p.bound)}-bound, time {seconds(p.time)} ({percent(_fraction(p.share))})"
                  for p in c.points],
        "roof": {"x": [x0, c.ridge, x1], "y": [c.bandwidth * x0, c.peak, c.peak], "name": h(roof_name)},
        "effRoof": None, "ridge": c.ridge, "ridgeText": f"{flop_per_byte(_fraction(c.ridge))} FLOP/B",
        "ridgeY": [y0, y1], "xRange": [math.log10(x0), math.log10(x1)], "yRange": [math.log10(y0), math.log10(y1)],
        "badges": [{"n": i + 1, "x": p.intensity, "y": p.attainable, "dx": round(dx * 1.3), "dy": round(-dy * 1.3)}
                   for i, (p, (dx, dy)) in enumerate(zip(c.points, offsets))],
    }
    ce, me = c.compute_efficiency, c.memory_efficiency
    if (ce, me) != (1.0, 1.0):
        ridge_e = c.peak * ce / (c.bandwidth * me)
        data["effRoof"] = {"x": [x0, ridge_e, x1], "y": [c.bandwidth * me * x0, c.peak * ce, c.peak * ce],
                           "name": f"at the efficiency factors (compute {ce:g}, memory {me:g})"}
    page.data["roofline"] = data
    rows = "".join(
        f"<tr><td class=\"n\">{i + 1}</td><th scope=\"row\">{h(p.label)}</th><td class=\"kind\">{h(p.kind)}</td>"
        f"<td class=\"n\">{h(flop_per_byte(_fraction(p.intensity)))}</td><td>{h(p.bound)}</td>"
        f"<td class=\"n\">{h(seconds(p.time))}</td><td class=\"n\">{h(percent(_fraction(p.share)))}</td></tr>\n"
        for i, p in enumerate(c.points[:TOP]))
    hidden = "; ".join(f"{n} operations {why}: {percent(_fraction(share))} of the time" for why, n, share in c.not_drawn)
    return (
        f"<section id=\"roofline\">\n<h2>Roofline on {h(c.device)}</h2>\n"
        f"<p class=\"note\">Each operation at its arithmetic intensity (FLOPs under the convention "
        f"{h(page.report.convention.name)} over the bytes it reads and writes at {h(c.dtype)}) and the throughput "
        f"the device's roofs allow it: min(peak, bandwidth &times; intensity), with the {h(c.math)} peak "
        f"{h(_exact(int(c.peak)))} FLOP/s and {h(_exact(int(c.bandwidth)))} B/s; the ridge is at "
        f"{h(flop_per_byte(_fraction(c.ridge)))} FLOP/B. A point's size and colour are its share of the time "
        f"(the sum of the operations' roofline bounds: {h(seconds(c.total_time))}); identical operations share "
        f"a point. Hover over a point for the layer."
        + (f" Not drawn (a log scale has no 0): {h(hidden)}." if hidden else "") + "</p>\n"
        "<div class=\"chart\" id=\"chart-roofline\"></div>\n"
        "<table class=\"layers\"><thead><tr><th scope=\"col\" class=\"n\">#</th><th scope=\"col\">operation</th>"
        "<th scope=\"col\">kind</th><th scope=\"col\" class=\"n\">FLOP/B</th><th scope=\"col\">bound</th>"
        "<th scope=\"col\" class=\"n\">time</th><th scope=\"col\" class=\"n\">share</th></tr></thead>\n"
        f"<tbody>\n{rows}</tbody></table>\n</section>\n"
    )


def _fraction(value: float) -> Any:
    from fractions import Fraction

    return Fraction(value)


SECTIONS: tuple[Callable[[_Page], str], ...] = (_summary, _layers, _table, _memory, _roofline, _conventions)
"""The page's sections, in order; each returns its HTML and adds what its chart needs to
`page.data`."""
