"""Text, Markdown, CSV and LaTeX tables: one header, one row formatter, four layouts.

Names from the spec (paths, kinds, the network's name) are escaped for each format by
`calc.render.escape`; counts are exact ints of any size (`calc.render.numbers`)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

from calc.cost import OpCost
from calc.render import escape
from calc.render.numbers import count, shape
from calc.report import Report

HEADER = ("path", "kind", "output", "params", "buffers", "MACs", "FLOPs", "mem access", "mem bytes")
NUMERIC = (False, False, False, True, True, True, True, True, True)


def _same(name: str) -> str:
    return name


def _row(r: OpCost, units: bool, separators: bool = True, name: Callable[[str], str] = _same) -> list[str]:
    """The row's cells; `name` escapes the path and kind for the format."""
    return [
        name(r.path), name(r.kind), shape(r.output_shape),
        *(count(getattr(r, f), units, separators)
          for f in ("params", "buffers", "macs", "flops", "mem_access", "mem_bytes")),
    ]


def _total_row(report: Report, units: bool, separators: bool = True) -> list[str]:
    t = report.totals
    return [
        "total", "", shape(report.output_shape),
        *(count(getattr(t, f), units, separators)
          for f in ("params", "buffers", "macs", "flops", "mem_access", "mem_bytes")),
    ]


def _caption(report: Report) -> str:
    c = report.convention
    return (
        f"{report.name}: input {', '.join(shape(s) for s in report.input_shapes)}; "
        f"convention {c.name} ({c.title}); dtype {report.dtype.value}; "
        f"largest activation {count(report.totals.largest_activation, False)}"
    )


def render_text(report: Report, units: bool = False) -> str:
    rows = [list(HEADER), *(_row(r, units, name=escape.text) for r in report.rows), _total_row(report, units)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]

    def line(row: list[str]) -> str:
        return "  ".join(
            cell.rjust(w) if num else cell.ljust(w) for cell, w, num in zip(row, widths, NUMERIC)
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    body = [line(rows[0]), rule, *(line(r) for r in rows[1:-1]), rule, line(rows[-1])]
    return escape.text(_caption(report)) + "\n\n" + "\n".join(body) + "\n"


def render_markdown(report: Report, units: bool = False) -> str:
    def line(row: list[str]) -> str:
        return "| " + " | ".join(row) + " |"

    align = "|" + "|".join("---:" if num else "---" for num in NUMERIC) + "|"
    total = [f"**{c}**" if c else c for c in _total_row(report, units)]
    lines = [line(list(HEADER)), align,
             *(line(_row(r, units, name=escape.markdown)) for r in report.rows), line(total)]
    return f"{escape.markdown_line_start(_caption(report))}\n\n" + "\n".join(lines) + "\n"


def render_csv(report: Report, units: bool = False) -> str:
    """Rows end in '\\n'.  The csv module quotes a cell holding a line break only when the
    break is in its line terminator: a report with a name holding '\\r' is written row by row
    with '\\r\\n' (every cell with a '\\r' or '\\n' quoted), that terminator replaced."""
    if not any("\r" in r.path or "\r" in r.kind for r in report.rows):
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(HEADER)
        for r in report.rows:
            writer.writerow(_row(r, units, separators=False))
        writer.writerow(_total_row(report, units, separators=False))
        return out.getvalue()
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    lines = []

    def write(row) -> None:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(row)
        lines.append(buffer.getvalue()[:-2])

    write(HEADER)
    for r in report.rows:
        write(_row(r, units, separators=False))
    write(_total_row(report, units, separators=False))
    return "\n".join(lines) + "\n"


def _tex(text: str) -> str:
    return escape.latex(text).replace(",", "{,}")


def render_latex(report: Report, units: bool = False) -> str:
    spec = "".join("r" if num else "l" for num in NUMERIC)
    lines = [
        r"\begin{table}[ht]", r"\centering", rf"\begin{{tabular}}{{{spec}}}", r"\hline",
        " & ".join(_tex(h) for h in HEADER) + r" \\", r"\hline",
        *(" & ".join(_tex(c) for c in _row(r, units)) + r" \\" for r in report.rows),
        r"\hline",
        " & ".join(_tex(c) for c in _total_row(report, units)) + r" \\",
        r"\hline", r"\end{tabular}", rf"\caption{{{_tex(_caption(report))}}}", r"\end{table}",
    ]
    return "\n".join(lines) + "\n"
