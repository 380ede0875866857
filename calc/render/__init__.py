"""One renderer per output format; `render(report, fmt)` picks it from the table."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from calc.render.json_format import render_json
from calc.arith import all_digits
from calc.render.tables import render_csv, render_latex, render_markdown, render_text
from calc.report import Report


class Format(StrEnum):
    TEXT = "text"
    MD = "md"
    CSV = "csv"
    JSON = "json"
    LATEX = "latex"


RENDERERS: dict[Format, Callable[[Report, bool], str]] = {
    Format.TEXT: render_text,
    Format.MD: render_markdown,
    Format.CSV: render_csv,
    Format.JSON: render_json,
    Format.LATEX: render_latex,
}


def render(report: Report, fmt: Format | str = Format.TEXT, units: bool = False) -> str:
    with all_digits():
        return RENDERERS[Format(fmt)](report, units)
