"""Derivations as text (aligned chains), Markdown (numbered lists of `code` equations) and
LaTeX (align* with \\text{} justifications and \\tag{n} step numbers, via sympy's printers).

Integers print with thousands separators (924,844,032; 924{,}844{,}032 in LaTeX) so that the
seeds' figures read as they are quoted.
"""

from __future__ import annotations

import sys
from typing import Any

from calc.derive.core import Derivation, Note, Section, Step, Table
from calc.symbolic import sympy

# The printers are reached through calc.symbolic's sympy: that stays the one import point.
StrPrinter = sympy.StrPrinter
LatexPrinter = sys.modules[sympy.latex.__module__].LatexPrinter

FORMATS = ("text", "md", "latex")
WRAP = 56
"""Right sides longer than this put their justification on the next line (text format)."""

_TAGS = {"def": " [definition]", "library": " [library]", "step": ""}
_TEXT_REL = {"=": "=", ">=": ">=", "!=": "!=", "~": "~", "<=>": "<=>"}
_LATEX_REL = {"=": "=", ">=": r"\geq", "!=": r"\neq", "~": r"\approx", "<=>": r"\iff"}


class _Str(StrPrinter):
    def _print_Integer(self, expr: Any) -> str:
        return f"{int(expr):,}"

    def _print_Mul(self, expr: Any) -> str:
        # An unreduced fraction (core.frac): numerator/denominator, each bracketed if needed.
        if len(expr.args) == 2 and expr.args[1].is_Pow and expr.args[1].exp == -1:
            num, den = expr.args[0], expr.args[1].base
            top, bottom = self._print(num), self._print(den)
            if num.is_Add:
                top = f"({top})"
            if den.is_Add or den.is_Mul or (den.is_Rational and not den.is_Integer):
                bottom = f"({bottom})"
            return f"{top}/{bottom}"
        return super()._print_Mul(expr)

    def _print_Tuple(self, expr: Any) -> str:
        return "(" + ", ".join(self._print(a) for a in expr.args) + ")"


class _Latex(LatexPrinter):
    def _print_Integer(self, expr: Any) -> str:
        return f"{int(expr):,}".replace(",", "{,}")

    # A grouping prints its own parentheses (around a sum), so the enclosing product or power
    # must not add a second pair.
    def _print_UnevaluatedExpr(self, expr: Any) -> str:
        inner = self._print(expr.args[0])
        return rf"\left({inner}\right)" if isinstance(expr.args[0], sympy.Add) else inner

    def _needs_mul_brackets(self, expr: Any, first: bool = False, last: bool = False) -> bool:
        if isinstance(expr, sympy.UnevaluatedExpr):
            return False
        return super()._needs_mul_brackets(expr, first=first, last=last)

    def parenthesize(self, item: Any, level: int, is_neg: bool = False, strict: bool = False) -> str:
        if isinstance(item, sympy.UnevaluatedExpr):
            return self._print(item)
        return super().parenthesize(item, level, is_neg=is_neg, strict=strict)


def text_expr(expr: Any) -> str:
    return _Str().doprint(sympy.sympify(expr))


def latex_expr(expr: Any) -> str:
    return _Latex().doprint(sympy.sympify(expr))


def _sides(step: Step, show: Any) -> tuple[str, str]:
    if step.relation == "<=>":
        return f"{show(step.lhs)} = 0", f"{show(step.rhs.lhs)} = {show(step.rhs.rhs)}"
    return show(step.lhs), show(step.rhs)


# -- text ---------------------------------------------------------------------------------------


def _text_steps(steps: list[Step]) -> list[str]:
    rows = []
    for s in steps:
        lhs, rhs = _sides(s, text_expr)
        rows.append((f"{s.number}.", "" if s.continued else lhs, _TEXT_REL[s.relation], rhs,
                     s.why + _TAGS[s.kind]))
    nw = max(len(r[0]) for r in rows)
    lw = max(len(r[1]) for r in rows)
    qw = max(len(r[2]) for r in rows)
    rw = min(WRAP, max(len(r[3]) for r in rows))
    out = []
    for num, lhs, rel, rhs, why in rows:
        head = f"  {num:>{nw}} {lhs:>{lw}} {rel:<{qw}} "
        if len(rhs) > rw:
            out += [head + rhs, " " * (len(head) + rw) + f"  -- {why}"]
        else:
            out.append(f"{head}{rhs:<{rw}}  -- {why}")
    return out


def _text_table(table: Table) -> list[str]:
    widths = [max(len(r[i]) for r in (table.headers, *table.rows)) for i in range(len(table.headers))]
    line = lambda cells: "  " + "  ".join(f"{c:<{w}}" for c, w in zip(cells, widths)).rstrip()
    return [line(table.headers), line(tuple("-" * w for w in widths)), *(line(r) for r in table.rows)]


def _assemble(d: Derivation, out: list[str], steps: Any, section: Any, note: Any, table: Any) -> str:
    """Walk a derivation's items: consecutive steps are laid out together by `steps`; sections,
    notes and tables by their own functions (each returns lines)."""
    pending: list[Step] = []
    for item in d.items:
        if isinstance(item, Step):
            pending.append(item)
            continue
        if pending:
            out.extend(steps(pending))
            pending.clear()
        if isinstance(item, Section):
            out += section(item)
        elif isinstance(item, Note):
            out += note(item)
        elif isinstance(item, Table):
            out += table(item)
    if pending:
        out.extend(steps(pending))
    return "\n".join(out) + "\n"


def to_text(d: Derivation) -> str:
    return _assemble(
        d, [f"{d.topic}: {d.title}", f"source: {d.source}"], _text_steps,
        lambda s: ["", s.title], lambda n: [f"  {n.text}"], _text_table,
    )


# -- markdown -----------------------------------------------------------------------------------


def _md_step(s: Step) -> str:
    lhs, rhs = _sides(s, text_expr)
    rel = _TEXT_REL[s.relation]
    eq = f"{rel} {rhs}" if s.continued else f"{lhs} {rel} {rhs}"
    tag = {"def": " *(definition)*", "library": " *(library)*", "step": ""}[s.kind]
    return f"{s.number}. `{eq}` — {s.why}{tag}"


def to_markdown(d: Derivation, level: int = 2) -> str:
    h = "#" * level
    out = [f"{h} `{d.topic}`: {d.title}", "", f"Source: {d.source}"]
    previous: Any = None
    for item in d.items:
        if isinstance(item, Section):
            out += ["", f"{h}# {item.title}"]
        elif isinstance(item, Step):
            if not isinstance(previous, Step):
                out.append("")
            out.append(_md_step(item))
        elif isinstance(item, Note):
            out += ["", item.text]
        elif isinstance(item, Table):
            out += ["", "| " + " | ".join(item.headers) + " |",
                    "|" + "|".join("---" for _ in item.headers) + "|",
                    *("| " + " | ".join(f"`{c}`" if i else c for i, c in enumerate(r)) + " |"
                      for r in item.rows)]
        previous = item
    return "\n".join(out) + "\n"


# -- latex --------------------------------------------------------------------------------------

_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
            "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
            "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}"}


_BREAKABLE = {"*": r"*\allowbreak{}", "/": r"/\allowbreak{}", "_": r"\_\allowbreak{}"}


def latex_text(text: str) -> str:
    """Text-mode LaTeX, a line break allowed after each '*', '/' and '_' (formulas and names
    written without spaces, e.g. Hout*Wout*C*K^2, in_elements, would otherwise run past the
    margin)."""
    return "".join(_BREAKABLE.get(c) or _ESCAPES.get(c, c) for c in text)


def _latex_steps(steps: list[Step]) -> list[str]:
    """One `align*`: each step's equation, its reason below it in small type (\\intertext: a
    paragraph as wide as the text, which breaks, where a \\text{} cell beside the equation ran
    past the margin)."""
    lines = [r"\begin{align*}"]
    for s in steps:
        lhs, rhs = _sides(s, latex_expr)
        left = "" if s.continued else lhs
        why = latex_text(s.why + _TAGS[s.kind])
        lines.append(rf"  {left} &{_LATEX_REL[s.relation]} {rhs} \tag{{{s.number}}} \\")
        lines.append(rf"  \intertext{{\footnotesize ({s.number}) {why}}}")
    return [*lines, r"\end{align*}"]


def _latex_table(table: Table) -> list[str]:
    """The first column as wide as its names, the others of equal width that wrap (p{}), in
    small type, not indented: as wide as the text."""
    n = len(table.headers)
    # the first column (the row names) as wide as its longest name (about 0.55em a character),
    # the others sharing the rest of the line
    first = max(len(c) for c in [table.headers[0], *(r[0] for r in table.rows)])
    rest = rf"\dimexpr(\linewidth-{2 * n}\tabcolsep-{0.55 * first:.2f}em)/{max(n - 1, 1)}\relax"
    cols = "l" + rf"p{{{rest}}}" * (n - 1)
    row = lambda cells: "  " + " & ".join(latex_text(c) for c in cells) + r" \\"
    size = r"\footnotesize" if n <= 8 else r"\tiny"  # 13 conventions side by side: the smallest
    return [rf"\noindent{{{size}\setlength{{\tabcolsep}}{{2pt}}", rf"\begin{{tabular}}{{{cols}}}", row(table.headers),
            r"  \hline", *(row(r) for r in table.rows), r"\end{tabular}}"]


def to_latex(d: Derivation) -> str:
    return _assemble(
        d,
        [rf"\subsection*{{{latex_text(d.topic)}: {latex_text(d.title)}}}", rf"Source: {latex_text(d.source)}"],
        _latex_steps,
        lambda s: ["", rf"\paragraph{{{latex_text(s.title)}}}"],
        lambda n: ["", latex_text(n.text)],
        lambda t: ["", *_latex_table(t)],
    )


def render(d: Derivation, fmt: str = "text") -> str:
    if fmt == "text":
        return to_text(d)
    if fmt == "md":
        return to_markdown(d)
    if fmt == "latex":
        return to_latex(d)
    raise ValueError(f"unknown format {fmt!r}; one of {FORMATS}")
