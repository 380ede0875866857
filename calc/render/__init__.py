"""One renderer per output format; `render(report, fmt)` picks it from the table.

    >>> from calc import evaluate_layer, parse_layer
    >>> from calc.render import render
    >>> print(render(evaluate_layer(parse_layer({"type": "linear", "Cin": 4, "Cout": 2})), "csv"), end="")
    # name: linear
    # convention: exact
    # dtype: fp32
    # input_shapes: 1x4
    # output_shape: 1x2
    path,kind,output,params,buffers,MACs,FLOPs,mem access (elements),mem bytes (B)
    linear,linear,1x2,10,0,8,16,16,64
    total,,1x2,10,0,8,16,16,64

Counts are exact ints of any size, written without changing Python's process-wide int-to-text
digit limit (renderers may run in several threads at once); names from a spec are escaped for
each format (`calc.render.escape`).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from calc.errors import UsageError
from calc.render.json_format import render_json
from calc.render.tables import render_csv, render_latex, render_markdown, render_text
from calc.render.tree import render_tree
from calc.report import Report


class Format(StrEnum):
    TEXT = "text"
    MD = "md"
    CSV = "csv"
    JSON = "json"
    LATEX = "latex"
    TREE = "tree"


RENDERERS: dict[Format, Callable[[Report, bool], str]] = {
    Format.TEXT: render_text,
    Format.MD: render_markdown,
    Format.CSV: render_csv,
    Format.JSON: render_json,
    Format.LATEX: render_latex,
    Format.TREE: render_tree,
}


def render(report: Report, fmt: Format | str = Format.TEXT, units: bool = False) -> str:
    """The report as text, md, csv, json, latex or tree (torchinfo-like, see
    calc.render.tree); `units` writes counts as K/M/G/T with two
    decimals (rounded half up, exactly; never in json)."""
    if not isinstance(report, Report):
        raise UsageError(
            f"render takes a Report, got {type(report).__name__}",
            expected="the result of Network.evaluate, evaluate_network or evaluate_layer",
        )
    try:
        renderer = RENDERERS[Format(fmt)]
    except ValueError:
        raise UsageError(
            f"unknown format {fmt!r}", expected="one of " + ", ".join(f.value for f in Format)
        ) from None
    return renderer(report, bool(units))
