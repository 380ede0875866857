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
from calc.report import OPTION_NAMES, Report

HEADER = ("path", "kind", "output", "params", "buffers", "MACs", "FLOPs", "mem access (elements)",
          "mem bytes (B)")
"""Counts (params, buffers, MACs, FLOPs) are plain numbers, or K/M/G/T of them with --units;
memory access is in elements and memory bytes in bytes (the report's dtype)."""
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
        + (f"; active params per token {count(t.active_params, False)}"
           if (t := report.totals).active_params != t.params else "")
        + "".join(f"; {k} {_option_text(v, separators=True)}" for k, v in _options(report).items())
    )


def _options(report: Report) -> dict[str, object]:
    """The options recorded in the report, in a fixed order (fold_bn, depth, top)."""
    return {k: report.options[k] for k in OPTION_NAMES if report.options.get(k) is not None}


def _option_text(value: object, separators: bool = False) -> str:
    """An option's value: true/false, or a count (grouped in a caption: 'tokens 300,000,000,000';
    plain in a CSV header, for programs)."""
    return ("true" if value else "false") if isinstance(value, bool) else count(value, False, separators)


def metadata(report: Report) -> dict[str, str]:
    """What the CSV header block says, key -> text: name, convention, dtype, input_shapes (';'
    between several inputs), output_shape, then the options applied (fold_bn, depth, top).
    The keys are the JSON report's."""
    meta = {
        "name": report.name,
        "convention": report.convention.name,
        "dtype": report.dtype.value,
        "input_shapes": ";".join(shape(s) for s in report.input_shapes),
        "output_shape": shape(report.output_shape),
    }
    meta.update((k, _option_text(v)) for k, v in _options(report).items())
    return meta


CSV_COMMENT = "# "
"""The CSV header block: one line `# key: value` per `metadata` entry, before the header row.
A reader skips the leading lines that start with '#' (only those before the header row: a
data row may begin with '#', a path as written in the spec)."""


def _csv_header_block(report: Report) -> list[str]:
    return [f"{CSV_COMMENT}{k}: {escape.text(v)}" for k, v in metadata(report).items()]


def read_csv(text: str) -> tuple[dict[str, str], list[list[str]]]:
    """A CSV report read back: its header block as a dict (values as written: names escaped as
    `escape.text` shows them) and its rows, the header row first, cells exactly as written.
    The block's lines end in '\\n' and hold no other line break; the rows are read as
    csv.reader reads a file opened with newline=''."""
    meta: dict[str, str] = {}
    pos = 0
    while text.startswith("#", pos):
        end = text.find("\n", pos)
        end = len(text) if end < 0 else end
        key, _, value = text[pos + len(CSV_COMMENT):end].partition(": ")
        meta[key] = value
        pos = end + 1
    return meta, list(csv.reader(io.StringIO(text[pos:], newline="")))


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
    head = "".join(line + "\n" for line in _csv_header_block(report))
    if not any("\r" in r.path or "\r" in r.kind for r in report.rows):
        out = io.StringIO()
        out.write(head)
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
    return head + "\n".join(lines) + "\n"


def _tex(text: str) -> str:
    return escape.latex(text).replace(",", "{,}")


def _tex_header(title: str) -> str:
    """A header cell; its unit on a second line ('mem bytes (B)'), to keep the column narrow."""
    name, paren, unit = title.partition(" (")
    return rf"\shortstack[r]{{{_tex(name)}\\({_tex(unit)}}}" if paren else _tex(title)


def render_latex(report: Report, units: bool = False) -> str:
    """A `longtable` (preamble: \\usepackage{longtable}), so that a long network breaks across
    pages; its header repeats on each page.  Set in \\footnotesize with narrow column gaps, units
    under their column names, and the caption as wide as the line.  Nine columns of counts are
    wider than an article's portrait text block: a full ResNet-50 fits a landscape page
    (\\usepackage[landscape,margin=2cm]{geometry}).  LaTeX needs two runs to settle longtable's
    column widths."""
    spec = "".join("r" if num else "l" for num in NUMERIC)
    header = " & ".join(_tex_header(h) for h in HEADER) + r" \\"
    n = len(HEADER)
    lines = [
        r"{\footnotesize\setlength{\tabcolsep}{3pt}\setlength{\LTcapwidth}{\linewidth}",
        rf"\begin{{longtable}}{{{spec}}}",
        rf"\caption{{{_tex(_caption(report))}}}\\",
        r"\hline", header, r"\hline", r"\endfirsthead",
        rf"\multicolumn{{{n}}}{{l}}{{\textit{{(continued)}}}}\\",
        r"\hline", header, r"\hline", r"\endhead",
        r"\hline", rf"\multicolumn{{{n}}}{{r}}{{\textit{{(continued on the next page)}}}}\\", r"\endfoot",
        r"\endlastfoot",
        *(" & ".join(_tex(c) for c in _row(r, units)) + r" \\" for r in report.rows),
        r"\hline",
        " & ".join(_tex(c) for c in _total_row(report, units)) + r" \\",
        r"\hline", r"\end{longtable}", "}",
    ]
    return "\n".join(lines) + "\n"
