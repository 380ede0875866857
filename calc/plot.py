"""Static pictures of a report for papers and slides: .svg, .png or .pdf, drawn by matplotlib.

    plot(report, "layers", "resnet50.svg")                       cost per block (MACs, FLOPs, ...)
    plot(report, "memory", "m.png", network=network)             live activations, peak marked
    plot(report, "conventions", "c.pdf", comparison=compare(network))
    plot(report, "roofline", "r.svg", network=network, hardware=load_profile("a100-sxm-80gb"))

The same views as the HTML report (calc.render.html), from the same data (calc.render.charts):
no figure is computed here (the roofline's points: calc.roofline.chart).  matplotlib is
an optional extra (`pip install 'flopcalc[plot]'`), imported only by these functions, without
pyplot (no global figure state, no GUI backend: a Figure drawn by the Agg renderer).  SVG and
PDF files are byte-identical from run to run (no date, a fixed SVG id salt); an SVG keeps its
text as text (selectable, searchable; the viewer's sans-serif and monospace fonts draw it).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from calc.errors import UsageError
from calc.render.charts import (
    AGREED, METRICS, block_tree, bytes_per_element, check_network, convention_stack, default_depth,
    frontier, live_activations, log_scale,
)
from calc.render.charts import metric as check_metric
from calc.render.html import require
from calc.render.numbers import with_units
from calc.report import Report

FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf"}
DPI = 150
"""Of a PNG (SVG and PDF are vector)."""
BLOCK, OP, LIVE = "#2f6fb3", "#86b5e3", "#c0392b"
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94",
           "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5")
"""matplotlib's tab20, the dark colours first (as the HTML report's charts)."""


def plot(report: Report, kind: str, path: str | Path, *, network: Any = None, comparison: Any = None,
         metric: str = "flops", depth: int | None = None, hardware: Any = None) -> None:
    """Draw `kind` (layers, memory, conventions, roofline) of `report` into the file `path`, its
    format from its suffix (.svg, .png, .pdf).  `network`: the Network the report was evaluated
    from (memory: for the live activations); `comparison`: calc.compare.compare's result (needed
    by conventions); `metric` (layers): macs, flops, params, mem_bytes or mem_access; `depth`
    (layers): the block level to draw (default: the deepest with at most 40 bars; roofline: one
    point per block at that level, default one per operation); `hardware` (roofline, needed): a
    calc.hardware.Profile, a profile's name or file, or a calc.roofline.Device."""
    data = plot_bytes(report, kind, plot_format(path), network=network, comparison=comparison,
                      metric=metric, depth=depth, hardware=hardware)
    Path(path).write_bytes(data)


def plot_format(path: str | Path) -> str:
    """The file format a path names by its suffix; a one-line UsageError for another suffix."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise UsageError(f"cannot tell a picture's format from {str(path)!r}",
                         expected="a file name ending in " + ", ".join(FORMATS))
    return FORMATS[suffix]


def plot_bytes(report: Report, kind: str, fmt: str, *, network: Any = None, comparison: Any = None,
               metric: str = "flops", depth: int | None = None, hardware: Any = None) -> bytes:
    """The picture as the bytes of an svg, png or pdf file (see `plot`)."""
    if not isinstance(report, Report):
        raise UsageError(f"plot takes a Report, got {type(report).__name__}",
                         expected="the result of Network.evaluate, evaluate_network or evaluate_layer")
    if kind not in KINDS:
        raise UsageError(f"unknown kind of plot {kind!r}", expected="one of " + ", ".join(KINDS))
    if fmt not in FORMATS.values():
        raise UsageError(f"unknown picture format {fmt!r}", expected="one of " + ", ".join(FORMATS.values()))
    if network is not None:
        check_network(report, network)
    options = {"network": network, "comparison": comparison, "metric": check_metric(metric),
               "depth": depth, "hardware": hardware}
    if kind == "roofline":  # the roofline's own errors (no device, no such dtype) before matplotlib's
        options["roofline"] = _roofline_data(report, options)
    matplotlib = require("matplotlib", "plotting")
    from matplotlib.figure import Figure
    import io

    with matplotlib.rc_context({"svg.hashsalt": "flopcalc", "svg.fonttype": "none", "font.size": 9, "axes.titlesize": 10,
                                "axes.spines.top": False, "axes.spines.right": False}):
        fig = Figure(layout="constrained")
        KINDS[kind](fig, report, options)
        out = io.BytesIO()
        metadata = {"svg": {"Date": None}, "pdf": {"CreationDate": None, "ModDate": None},
                    "png": {}}[fmt]
        fig.savefig(out, format=fmt, dpi=DPI, metadata=metadata)
    return out.getvalue()


def _floats(values: Any) -> list[float]:
    """Counts as coordinates (drawing only); a one-line UsageError for one beyond a float."""
    try:
        return [float(v) if v else 0.0 for v in values]
    except OverflowError:
        raise UsageError("a figure is too large to draw (above 1.8e308, a float's largest)",
                         expected="a smaller input; the text, JSON and CSV reports write any size") from None


def _engineering(axis: Any, unit: str = "") -> None:
    from matplotlib.ticker import EngFormatter

    axis.set_major_formatter(EngFormatter(unit=unit, sep=""))


def _short(text: str, n: int = 40) -> str:
    return text if len(text) <= n else "\u2026" + text[len(text) - n + 1:]


def _layers(fig: Any, report: Report, options: dict[str, Any]) -> None:
    key = options["metric"]
    nodes = block_tree(report)
    deepest = max((n.depth for n in nodes), default=1)
    depth = options["depth"]
    if depth is None:
        depth = default_depth(nodes)
    elif type(depth) is not int or not 1 <= depth <= deepest:
        raise UsageError(f"depth {depth!r} is not a block level of {report.name}",
                         expected=f"an int from 1 to {deepest}")
    shown = [nodes[i] for i in frontier(nodes, depth)]
    values = [getattr(n.row, key) for n in shown]
    if any(type(v) is not int for v in values):
        raise UsageError("a plot needs numbers, and this report's figures are symbolic",
                         expected="a report evaluated at numeric sizes")
    fig.set_size_inches(8, 1.3 + 0.2 * len(shown))
    ax = fig.add_subplot()
    ys = range(len(shown))
    ax.barh(ys, _floats(values), color=[BLOCK if n.block else OP for n in shown], height=0.72)
    ax.set_yticks(list(ys), [_short(n.path) for n in shown], fontfamily="monospace", fontsize=8)
    ax.invert_yaxis()
    ax.margins(x=0.12, y=0.01)
    _engineering(ax.xaxis)
    top = max(values, default=0)
    for y, v in zip(ys, values):
        if v:
            ax.annotate(with_units(v), (_floats([v])[0], y), xytext=(3, 0), textcoords="offset points",
                        va="center", fontsize=7, color="#444444")
    label = METRICS[key] + (f" ({report.convention.name})" if key == "flops" else "")
    ax.set_xlabel(label)
    ax.set_title(f"{report.name}: {label} per block (level {depth}; dark: blocks, light: operations)",
                 loc="left")
    ax.grid(axis="x", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    if not top:
        ax.set_xlim(0, 1)


def _memory(fig: Any, report: Report, options: dict[str, Any]) -> None:
    network = options["network"]
    width = bytes_per_element(report)
    rows = list(report.rows)
    mem = live_activations(report, network) if network is not None else None
    own = list(mem.own) if mem is not None else [r.activations for r in rows]
    if any(type(v) is not int for v in own):
        raise UsageError("a plot needs numbers, and this report's figures are symbolic",
                         expected="a report evaluated at numeric sizes")
    fig.set_size_inches(8, 3.4)
    ax = fig.add_subplot()
    xs = list(range(1, len(rows) + 1))
    ax.bar(xs, _floats(v * width for v in own), width=1.0, color=OP, label="written by the operation")
    if mem is not None:
        live = _floats(v * width for v in mem.elements)
        ax.step(xs, live, where="mid", color=LIVE, linewidth=1.0, label="live activations (estimate)")
        px, py = mem.peak_index + 1, _floats([mem.peak * width])[0]
        ax.plot([px], [py], marker="D", color=LIVE, markersize=5, linestyle="none")
        ax.annotate(f"peak {with_units(mem.peak * width)}B\n{_short(rows[mem.peak_index].path, 36)}",
                    (px, py), xytext=(8 if px < len(rows) / 2 else -8, 0), textcoords="offset points",
                    ha="left" if px < len(rows) / 2 else "right", va="top", fontsize=7, color=LIVE,
                    bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.85}, zorder=5)
        ax.set_ylim(0, py * 1.12 or 1)
    ax.set_xlim(0, len(rows) + 1)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    _engineering(ax.yaxis, "B")
    ax.set_xlabel("operation, in network order")
    ax.set_ylabel(f"bytes ({report.dtype.value})")
    ax.set_title(f"{report.name}: activation memory over the network", loc="left")
    ax.legend(loc="lower right", bbox_to_anchor=(1, 1), ncols=2, fontsize=7, frameon=False)
    ax.grid(axis="y", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)


def _conventions(fig: Any, report: Report, options: dict[str, Any]) -> None:
    comparison = options["comparison"]
    if comparison is None:
        raise UsageError("the conventions plot needs a comparison",
                         expected="plot(..., comparison=calc.compare.compare(network))")
    stack = convention_stack(comparison)
    names = list(stack.conventions)
    fig.set_size_inches(8, 1.6 + 0.22 * len(names))
    ax = fig.add_subplot()
    ys = list(range(len(names)))
    log = log_scale(stack.totals)
    if log:  # the parts of a stack would not read as their sizes on a log scale: totals only
        ax.barh(ys, _floats(stack.totals), color=BLOCK, height=0.72)
        ax.set_xscale("log")
        ax.set_xlabel("FLOPs (log scale; totals only)")
    else:
        left = [0.0] * len(names)
        for i, (label, values) in enumerate(stack.parts):
            widths = _floats(values)
            ax.barh(ys, widths, left=left, height=0.72, label=label,
                    color="#bbbbbb" if label == AGREED else PALETTE[i % len(PALETTE)])
            left = [a + b for a, b in zip(left, widths)]
        _engineering(ax.xaxis)
        ax.set_xlabel("FLOPs")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=7, frameon=False,
                  title="where they differ", title_fontsize=7)
    for y, total in zip(ys, stack.totals):
        if total is None:
            ax.annotate("refuses", (0, y), xytext=(3, 0), textcoords="offset points", va="center",
                        fontsize=7, color="#666666", xycoords=("axes fraction", "data"))
    ax.set_yticks(ys, names, fontfamily="monospace", fontsize=8)
    for tick, name in zip(ax.get_yticklabels(), names):
        if name == report.convention.name:
            tick.set_fontweight("bold")
    ax.invert_yaxis()
    ax.set_title(f"{comparison.network}: FLOPs under each convention", loc="left")
    ax.grid(axis="x", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)


def _roofline_data(report: Report, options: dict[str, Any]) -> Any:
    """The roofline chart's data (calc.roofline.chart) of `report` on options['hardware']."""
    hardware = options["hardware"]
    if hardware is None:
        raise UsageError("the roofline plot needs a device",
                         expected="plot(..., hardware=calc.hardware.load_profile('a100-sxm-80gb')), "
                                  "or calc plot --kind roofline --hw NAME")
    from calc.roofline.analysis import analyse
    from calc.roofline.chart import chart_data

    return chart_data(analyse(report, hardware, network=options["network"], depth=options["depth"]))


ROOF = "#333333"


def _roofline(fig: Any, report: Report, options: dict[str, Any]) -> None:
    """Log-log: the device's roofs (solid: ideal; dashed: at the efficiency factors), the ridge,
    a point per operation (or block) sized and coloured by its share of the time, the largest
    shares numbered (badges placed so that they do not overlap) and listed under the chart."""
    from matplotlib.ticker import PercentFormatter

    from calc.roofline.chart import TOP, x_range, y_range
    from calc.roofline.render import flop_per_byte, rate, seconds

    c = options["roofline"]
    fig.set_size_inches(8, 6.2)
    ax, key = fig.subplots(2, 1, height_ratios=[4.2, 1])
    ax.set_xscale("log")
    ax.set_yscale("log")
    x0, x1 = x_range(c)
    y0, y1 = y_range(c)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    peak, bw = c.peak, c.bandwidth
    ax.plot([x0, c.ridge, x1], [bw * x0, peak, peak], color=ROOF, linewidth=1.6,
            label=f"roofs: {rate(_fraction(peak), sep=' ')}FLOP/s ({c.math}), {rate(_fraction(bw), sep=' ')}B/s")
    ce, me = c.compute_efficiency, c.memory_efficiency
    if (ce, me) != (1.0, 1.0):
        ridge_e = peak * ce / (bw * me)
        ax.plot([x0, ridge_e, x1], [bw * me * x0, peak * ce, peak * ce], color=ROOF, linewidth=0.9,
                linestyle="--", label=f"at the efficiency factors (compute {ce:g}, memory {me:g})")
    ax.axvline(c.ridge, color="#888888", linestyle=":", linewidth=0.9, zorder=1)
    ax.annotate(f"ridge {flop_per_byte(_fraction(c.ridge))} FLOP/B", (c.ridge, y0), xytext=(3, 3),
                textcoords="offset points", fontsize=7, color="#555555", rotation=90, va="bottom")
    points = c.points
    if points:
        top_share = max(p.share for p in points) or 1.0
        shown = ax.scatter([p.intensity for p in points], [p.attainable for p in points],
                           s=[14 + 420 * p.share / top_share for p in points], c=[p.share for p in points],
                           cmap="viridis", vmin=0, vmax=top_share, edgecolors="white", linewidths=0.5,
                           zorder=3, alpha=0.9)
        fig.colorbar(shown, ax=ax, label="share of the time",
                     format=PercentFormatter(1.0, decimals=1 if top_share < 0.1 else 0),
                     fraction=0.05, pad=0.02)
        _number_badges(ax, c)
    ax.set_xlabel("arithmetic intensity (FLOP per byte)")
    ax.set_ylabel("attainable (FLOP/s)")
    _engineering(ax.yaxis)
    what = f"blocks at depth {c.depth}" if c.depth else "operations"
    ax.set_title(f"{report.name} on {c.device}: roofline of its {what} ({c.dtype}, FLOPs {report.convention.name})",
                 loc="left")
    ax.legend(loc="upper left", fontsize=7, frameon=False)  # above the memory roof: empty
    ax.grid(which="major", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    key.axis("off")
    lines = [f"{i + 1}  {_short(p.label, 48):<48}  {_short(p.kind, 24):<24} {p.share * 100:5.1f}%  {p.bound}"
             for i, p in enumerate(points[:TOP])]
    hidden = "; ".join(f"{n} {why}: {share * 100:.1f}% of the time" for why, n, share in c.not_drawn)
    lines.append(f"total time (sum of roofline bounds): {seconds(c.total_time)}"
                 + (f"; not drawn: {hidden}" if hidden else ""))
    key.text(0, 1, "\n".join(lines), va="top", ha="left", fontsize=7, fontfamily="monospace",
             transform=key.transAxes)


def _fraction(value: float) -> Any:
    from fractions import Fraction

    return Fraction(value)


def _number_badges(ax: Any, c: Any) -> None:
    """Number the largest points 1, 2, ... at calc.roofline.chart.badge_offsets (no two badges
    overlap; positions reckoned over the plot area at the figure's size)."""
    from calc.roofline.chart import TOP, badge_offsets

    size = (ax.figure.get_figwidth() * 72 * 0.8, ax.figure.get_figheight() * 72 * 0.62)
    for i, (p, offset) in enumerate(zip(c.points[:TOP], badge_offsets(c, size))):
        ax.annotate(str(i + 1), (p.intensity, p.attainable), xytext=offset, textcoords="offset points",
                    fontsize=7, fontweight="bold", color="#222222", zorder=5,
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "#999999", "lw": 0.5, "alpha": 0.9},
                    arrowprops={"arrowstyle": "-", "color": "#999999", "lw": 0.5, "shrinkA": 0, "shrinkB": 2})


KINDS: dict[str, Callable[[Any, Report, dict[str, Any]], None]] = {
    "layers": _layers,
    "memory": _memory,
    "conventions": _conventions,
    "roofline": _roofline,
}
"""What `plot` draws, kind -> function(figure, report, options)."""
