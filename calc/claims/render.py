"""Text, Markdown and JSON output of `calc check`: one check, or the verdict table of a claims
file (the Markdown form is a whole document: docs/claims.md is exactly this output)."""

from __future__ import annotations

import json
import unicodedata
from typing import Any

from calc.claims.check import CheckResult, Outcome, show
from calc.claims.claims import ClaimResult
from calc.claims.kinds import MODELS

# -- one check ------------------------------------------------------------------------------------


def _status(o: Outcome) -> str:
    if o.status == "holds":
        return "holds (proven)" if o.proven else "holds (by search)"
    return o.status


def render_check(result: CheckResult, fmt: str) -> str:
    spec, model = result.spec, result.model
    settings = spec.settings()
    defaults = ", ".join(f"{k} = {v}" for k, v in result.defaults.items())
    layer = f"{spec.kind}: {model.construction}" + (f"; {defaults}" if defaults else "")
    if fmt == "json":
        return json.dumps({
            "formula": spec.formula, "against": spec.against(), "settings": settings,
            "layer": layer, "expression": str(result.formula), "verdict": result.verdict(),
            "outcomes": [_outcome_json(o) for o in result.outcomes],
        }, indent=2) + "\n"
    rows = []
    for o in result.outcomes:
        rows.append((
            o.convention or "(any)", _status(o), str(o.library) if o.library is not None else "",
            o.counterexample() or o.reason,
        ))
    if fmt == "md":
        lines = [
            f"`{spec.formula}` against `{spec.against()}`" + (f" ({settings})" if settings else ""),
            "", f"Layer: {layer}.", "", f"Formula: `{result.formula}`", "",
            "| convention | result | library | counterexample |", "|---|---|---|---|",
            *(f"| {c} | {s} | `{lib}` | {_md(x)} |" if lib else f"| {c} | {s} |  | {_md(x)} |"
              for c, s, lib, x in rows),
            "", f"**Verdict: {result.verdict()}**",
        ]
        return "\n".join(lines) + "\n"
    lines = [
        f"check    {spec.formula}  =  {spec.against()}" + (f"   ({settings})" if settings else ""),
        f"layer    {layer}",
        f"formula  {result.formula}",
        "",
    ]
    width = max(len(r[0]) for r in rows)
    swidth = max(len(r[1]) for r in rows)
    for c, s, lib, extra in rows:
        line = f"{c:<{width}}  {s:<{swidth}}"
        if lib:
            line += f"  library {lib}"
        if extra:
            line += f"\n{'':<{width}}  {'':<{swidth}}  {'counterexample ' if o_is_point(extra) else ''}{extra}"
        lines.append(line)
    lines += ["", f"verdict: {result.verdict()}"]
    return "\n".join(lines) + "\n"


def o_is_point(text: str) -> bool:
    return ": formula " in text


def _outcome_json(o: Outcome) -> dict[str, Any]:
    return {
        "convention": o.convention, "status": o.status, "proven": o.proven,
        "library": None if o.library is None else str(o.library),
        "counterexample": o.point, "derived": o.derived or None,
        "formula_value": None if o.point is None else show(o.claim_value).replace(",", ""),
        "library_value": None if o.point is None else show(o.library_value).replace(",", ""),
        "minimal": o.minimal if o.point is not None else None, "note": o.reason or None,
    }


# -- a claims file ----------------------------------------------------------------------------------


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def _source(r: ClaimResult) -> str:
    return f"{r.claim.file}: “{r.claim.quote}”"


def _row(r: ClaimResult) -> tuple[str, str, str, str, str]:
    return (r.claim.id, _source(r), f"{r.claim.claim}: {r.claim.statement()}", r.verdict(),
            r.counterexample())


def render_claims(title: str, results: list[ClaimResult], fmt: str, path: str) -> str:
    if fmt == "json":
        return json.dumps({"title": title, "claims": [{
            "id": r.claim.id, "source": {"file": r.claim.file, "quote": r.claim.quote},
            "claim": r.claim.claim, "statement": r.claim.statement(), "verdict": r.verdict(),
            "counterexample": r.counterexample() or None,
            "outcomes": [_outcome_json(o) for o in r.outcomes],
        } for r in results]}, indent=2, ensure_ascii=False) + "\n"
    if fmt == "md":
        return _markdown(title, results, path)
    header = ("id", "source", "claim", "verdict", "counterexample")
    rows = [header, *(_row(r) for r in results)]
    widths = [max(_width(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(_pad(cell, w) for cell, w in zip(row[:4], widths)) + "  " + row[4] for row in rows]
    lines = [line.rstrip() for line in lines]
    lines.insert(1, "  ".join("-" * w for w in widths) + "  " + "-" * len(header[4]))
    lines += ["", summary(results)]
    return "\n".join(lines) + "\n"


def _width(text: str) -> int:
    """Columns a string takes in a terminal: East Asian wide characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def summary(results: list[ClaimResult]) -> str:
    verdicts = [r.verdict() for r in results]
    holds = sum(v.startswith("holds") and "only" not in v for v in verdicts)
    some = sum("only under" in v for v in verdicts)
    wrong = sum(v == "wrong" for v in verdicts)
    other = len(verdicts) - holds - some - wrong
    text = f"{len(results)} claims: {holds} hold, {some} hold only under some conventions, {wrong} wrong"
    return text + (f", {other} n/a" if other else "")


def _markdown(title: str, results: list[ClaimResult], path: str) -> str:
    lines = [
        f"# {title}", "",
        f"Generated by `calc check --claims {path} --format md`; do not edit by hand "
        "(a test compares this file with the command's output).", "",
        "Each claim is a formula checked against the library's own formula for one layer "
        "quantity (`calc check FORMULA --against KIND.QUANTITY`), or a stated number checked "
        "against the library's value for concrete layers (`kind: value`).  A formula is **proven** "
        "when sympy reduces formula − library to 0 over positive-integer sizes; otherwise the "
        "counterexample is the smallest one: the first point, by increasing sum of the sizes and "
        "then lexicographically, where the two differ.  FLOPs are checked under every counting "
        "convention (`calc conventions`); params, buffers, MACs and memory access do not depend on "
        "the convention.  A verdict \"holds only under X\" lists the conventions under which the "
        "formula is exact; the counterexample is then given under `exact` (or the first convention "
        "that fails).", "",
        "## Verdicts", "",
        f"{summary(results)}.", "",
        "| id | source | claim | verdict | counterexample |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        cid, source, _, verdict_, counter = _row(r)
        claim = f"{r.claim.claim}: `{r.claim.statement()}`"
        lines.append(f"| {cid} | {_md(source)} | {_md(claim)} | {verdict_} | {_md(counter)} |")
    notes = [r for r in results if r.claim.note]
    if notes:
        lines += ["", "## Notes", ""]
        lines += [f"- **{r.claim.id}** ({r.verdict()}): {r.claim.note}" for r in notes]
    lines += [
        "", "## Usage", "",
        "```",
        "calc check FORMULA --against KIND.QUANTITY [--convention C] [--bias | --no-bias] [--bn]",
        "           [--var LETTER=VARIABLE ...] [--set VARIABLE=INT ...] [--format text|md|json]",
        "calc check --claims FILE [--convention C] [--format text|md|json] [-o FILE]",
        "```", "",
        "QUANTITY is one of params, buffers, macs, flops, mem_access.  A formula has numbers "
        "(`0.5` is exact), names, `+ - * /`, `^` or `**` (a constant integer exponent), "
        "parentheses and unary minus; `×` and `·` are read as `*`.  It is tokenized and parsed "
        "by a recursive-descent parser that builds sympy nodes itself (no `eval`, no `sympify`); "
        "calls, attribute access, exponents above 64 and formulas of degree above 16 are refused "
        "with one line giving the column.  Exit status: 0 when the formula holds under the asked "
        "convention (or under any, when none was asked), 1 when it does not, 2 for bad usage; with "
        "`--claims`, 0 when every verdict is the expected one, 1 otherwise.",
        "", "## How a formula becomes a layer", "",
        "The formula is written in the layer's field names plus `Hout`, `Wout` (output size) and "
        "`g` (groups); `vars` (`--var`) maps other letters onto these, `set` (`--set`) holds a "
        "variable at a value.  Optional variables (`g`, `N`, `multiplier`, `inputs`) are symbols "
        "only when the formula names them, else 1 (2 for `inputs`).  The record is built so that "
        "its output is exactly `Hout` x `Wout`:", "",
        "| kinds | variables | derived | construction |", "|---|---|---|---|",
    ]
    for m in MODELS:
        variables = ", ".join(m.free) + (" (optional: " + ", ".join(m.optional) + ")" if m.optional else "")
        lines.append(f"| {', '.join(m.kinds)} | {variables} | {', '.join(m.derived) or '—'} | {m.construction} |")
    return "\n".join(lines) + "\n"
