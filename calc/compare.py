"""One network under every convention, and where the conventions part ways.

The tallies are computed once; each convention's row of coefficients is applied to them.  For
every operation kind whose FLOPs differ between conventions, one line says what each
convention charges per input element (or in total when that is not a whole number) and how
much of a total the difference is.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from calc.conventions import CONVENTIONS, Convention
from calc.errors import ConventionError
from calc.network.program import Network, run
from calc.render import escape
from calc.render.json_format import convention_dict, dumps
from calc.render.numbers import fraction_text, grouped, int_text
from calc.tally import Tally


@dataclass(frozen=True)
class KindSpread:
    op: str
    count: int
    elements: int
    flops: dict[str, int | None]
    """Per convention; None where the convention refuses the operation."""
    share: Fraction
    """Largest fraction of a convention's total that this kind accounts for."""


@dataclass(frozen=True)
class Comparison:
    network: str
    params: int
    macs: int
    flops: dict[str, int | None]
    refusals: dict[str, str]
    spreads: tuple[KindSpread, ...]
    input_shapes: tuple[tuple[Any, ...], ...] = ()
    """The network's input shape(s) compared at, batch first."""
    mode: str = "inference"
    recompute: str | None = None
    tokens: int | None = None
    """A run's tokens (compare --tokens): FLOPs per token and for the run are shown too."""
    tokens_per_step: int | None = None

    def per_token(self, name: str) -> Fraction | None:
        from calc.run_compute import run_compute

        value = self.flops.get(name)
        return None if value is None or not self.tokens else run_compute(value, self.tokens_per_step, self.tokens).per_token

    def run_flops(self, name: str) -> int | None:
        from calc.run_compute import run_compute

        value = self.flops.get(name)
        return None if value is None or not self.tokens else run_compute(value, self.tokens_per_step, self.tokens).flops


def compare(network: Network, names: list[str] | None = None, mode: str = "inference", *,
            recompute: str | None = None, tokens: int | None = None) -> Comparison:
    """Every convention's FLOPs of the network at its input, and where they differ, kind by
    kind; `mode` 'training': a training step's (conventions without a backward rule n/a), with
    `recompute` (calc.recompute: a convention that does not define it is n/a); `tokens`: also
    each convention's FLOPs per token and for a run of that many tokens (calc.run_compute).
    A KV cache: compare `network.with_context(P)`."""
    from calc.network.program import MODES
    from calc.recompute import check_policy, is_recomputed, top_up
    from calc.run_compute import check_tokens, tokens_per_step
    from calc.errors import UsageError

    if mode not in MODES:
        raise UsageError(f"unknown mode {mode!r}", expected=" or ".join(MODES))
    recompute = check_policy(recompute, mode)
    step_tokens = None
    if tokens is not None:
        check_tokens(tokens)
        step_tokens = tokens_per_step(network.axis_names(), tuple(network.input_shape))
    if names is None:  # the conventions that apply: no LLM formulas for a CNN, 'needed' with masks
        from calc.conventions import distinct_for

        names = distinct_for({op.layer.kind if not op.layer.USES_CONTEXT else "attention"
                              for op in network.ops})
        if mode == "training":  # those that state a backward rule
            names = [n for n in names if CONVENTIONS[n].training is not None]
    conventions = [CONVENTIONS[n] for n in names]
    pairs: list[tuple[Any, Tally]] = run(network.ops, network.input_shape, lambda op, tally: (op, tally))
    totals: dict[str, int | None] = {}
    refusals: dict[str, str] = {}
    by_kind: dict[str, dict[str, int | None]] = {}
    counts: dict[str, int] = {}
    elements: dict[str, int] = {}
    for op, tally in pairs:
        counts[tally.op] = counts.get(tally.op, 0) + 1
        elements[tally.op] = elements.get(tally.op, 0) + tally.in_elements
    for c in conventions:
        again: list[bool] | None = None
        forward = c
        if mode == "training":
            try:
                if top_up(c, recompute):
                    again = [is_recomputed(recompute, op.layer, t.op, c.recompute_head) for op, t in pairs]
                c = c.for_training()
            except ConventionError as exc:
                refusals[c.name], totals[c.name] = exc.message, None
                continue
        total, per_kind = _apply(c, pairs, forward if again else None, again)
        if isinstance(total, str):
            refusals[c.name] = total
            totals[c.name] = None
        else:
            totals[c.name] = total
        for op, value in per_kind.items():
            by_kind.setdefault(op, {})[c.name] = value
    spreads = []
    for op, values in by_kind.items():
        known = {k: v for k, v in values.items() if v is not None}
        if len(set(known.values())) <= 1 and len(known) == len(values):
            continue
        share = max((Fraction(v, totals[k]) for k, v in known.items() if totals.get(k)), default=Fraction(0))
        spreads.append(KindSpread(op, counts[op], elements[op], values, share))
    spreads.sort(key=lambda s: s.share, reverse=True)
    params = sum(t.params for op, t in pairs if op.tie is None)  # a tied weight is counted at its owner
    macs = sum(t.macs for _, t in pairs)
    if step_tokens is not None:
        from calc.run_compute import run_compute

        for name, value in totals.items():
            if value is not None:
                run_compute(value, step_tokens, tokens)  # a whole number of steps, else the error
    return Comparison(network.name, params, macs, totals, refusals, tuple(spreads),
                      (tuple(network.input_shape),), mode, recompute, tokens, step_tokens)


def _apply(c: Convention, pairs: list[tuple[Any, Tally]], forward: Convention | None = None,
           again: list[bool] | None = None) -> tuple[int | str, dict[str, int | None]]:
    """The convention's total and per-kind FLOPs (a refusal's message for the total when it
    refuses an operation); `again[i]`: operation i's forward (under `forward`) is recomputed."""
    per_kind: dict[str, int | None] = {}
    total = 0
    refused: str | None = None
    for i, (op, tally) in enumerate(pairs):
        try:
            value = c.flops(tally, op.layer.call)
            if again is not None and again[i]:
                value += forward.flops(tally, op.layer.call)
        except ConventionError as exc:
            refused = exc.message
            per_kind[tally.op] = None
            continue
        if per_kind.get(tally.op, 0) is not None:
            per_kind[tally.op] = per_kind.get(tally.op, 0) + value
        total += value
    return (refused if refused else total), per_kind


def _or_na(value: Any, text: Any) -> str:
    return "n/a" if value is None else text(value)


def _workload_text(cmp: Comparison) -> str:
    """'; a training step, recompute full; 1,024 tokens per step' as it applies."""
    parts = []
    if cmp.mode == "training":
        parts.append("a training step" + (f", recompute {cmp.recompute}" if cmp.recompute else ""))
    if cmp.tokens:
        steps = cmp.tokens // cmp.tokens_per_step
        parts.append(f"{grouped(cmp.tokens_per_step)} tokens per step, {grouped(steps)} step"
                     + ("s" * (steps != 1)))
    return "".join("; " + p for p in parts)


def describe(s: KindSpread) -> str:
    """'batchnorm (53 ops, 11,113,984 input elements; up to 1.08% of a total):
    44,455,936 thop (4/element); 22,227,968 exact, fvcore, ... (2/element); 0 torch, ...'"""
    groups: dict[int | None, list[str]] = {}
    for name, value in s.flops.items():
        groups.setdefault(value, []).append(name)
    parts = []
    for value, names in sorted(groups.items(), key=lambda kv: -1 if kv[0] is None else kv[0], reverse=True):
        if value is None:
            parts.append("not emulated by " + ", ".join(names))
            continue
        per = f" ({value // s.elements}/element)" if s.elements and value and value % s.elements == 0 else ""
        parts.append(f"{grouped(value)} {', '.join(names)}{per}")
    pct = float(s.share * 100)  # display only; every count is exact
    return (f"{s.op} ({s.count} ops, {grouped(s.elements)} input elements; up to {pct:.2f}% of a total): "
            + "; ".join(parts))


SCHEMA_VERSION = 1


def comparison_dict(cmp: Comparison) -> dict[str, Any]:
    """The JSON comparison (docs/schemas/compare.schema.json).  Its keys are the JSON report's
    where they mean the same: `schema_version`, `name`, `input_shapes`, `params`, `macs` (a
    report's `totals.params`, `totals.macs`), `flops` (per convention, null where refused), and
    `conventions`, each written as a report's `convention` is."""
    return {
        "schema_version": SCHEMA_VERSION,
        "name": cmp.network,
        "input_shapes": [list(s) for s in cmp.input_shapes],
        "conventions": [_convention(name) for name in cmp.flops],
        "params": cmp.params, "macs": cmp.macs, "flops": cmp.flops,
        "refusals": cmp.refusals,
        "divergences": [
            {"op": s.op, "count": s.count, "input_elements": s.elements, "flops": s.flops,
             "max_share": [s.share.numerator, s.share.denominator]} for s in cmp.spreads
        ],
    }


def _convention(name: str) -> dict[str, Any]:
    c = CONVENTIONS.get(name)
    return convention_dict(c) if c is not None else {"name": name, "title": None, "source": None}


def render_comparison(cmp: Comparison, fmt: str = "text") -> str:
    """text, md, csv, latex or json; counts exact whatever their size, the network's name
    escaped for the format (`calc.render.escape`)."""
    names = list(cmp.flops)
    if fmt == "json":
        return dumps(comparison_dict(cmp)) + "\n"
    header = ["", *names]
    rows = [
        ["params", *(grouped(cmp.params) for _ in names)],
        ["MACs", *(grouped(cmp.macs) for _ in names)],
        ["FLOPs", *(grouped(v) if v is not None else "n/a" for v in cmp.flops.values())],
    ]
    if cmp.tokens:
        rows.append(["FLOPs per token", *(_or_na(cmp.per_token(n), fraction_text) for n in names)])
        rows.append([f"FLOPs of {grouped(cmp.tokens)} tokens", *(_or_na(cmp.run_flops(n), grouped) for n in names)])
    notes = [describe(s) for s in cmp.spreads]
    notes += [f"{k}: {v}" for k, v in cmp.refusals.items()]
    if fmt == "csv":
        import csv
        import io

        out = io.StringIO()
        shapes = ";".join("x".join(int_text(d) for d in s) for s in cmp.input_shapes)
        for key, value in (("name", cmp.network), ("input_shapes", shapes)):
            if value:  # the header block of a CSV report (calc.render.tables.CSV_COMMENT)
                out.write(f"# {key}: {escape.text(value)}\n")
        w = csv.writer(out, lineterminator="\n")
        w.writerow(header)
        for r in rows:
            w.writerow([r[0], *(c.replace(",", "") for c in r[1:])])
        return out.getvalue()
    if fmt == "md":
        lines = ["| " + " | ".join(header) + " |", "|---" + "|---:" * len(names) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return f"**{escape.markdown(cmp.network)}**\n\n" + "\n".join(lines) + "\n\n" + "\n".join(f"- {n}" for n in notes) + "\n"
    if fmt == "latex":
        lines = [r"\begin{tabular}{l" + "r" * len(names) + "}", r"\hline",
                 " & ".join(escape.latex(h) for h in header) + r" \\", r"\hline"]
        lines += [" & ".join(c.replace(",", "{,}") for c in r) + r" \\" for r in rows]
        lines += [r"\hline", r"\end{tabular}"]
        return "\n".join(lines) + "\n"
    # text: conventions as rows is easier to read in a terminal
    width = max(len(n) for n in names)
    lines = [f"{escape.text(cmp.network)}: params {grouped(cmp.params)}; "
             f"MACs (conv/linear, bias excluded) {grouped(cmp.macs)}" + _workload_text(cmp), ""]
    columns = [[r[0], *r[1:]] for r in rows[2:]]  # FLOPs, and per token and the run's with --tokens
    widths = [max(len(c) for c in col) for col in columns]
    lines.append(f"{'convention':<{width}}" + "".join(f"  {col[0]:>{w}}" for col, w in zip(columns, widths)))
    for i, name in enumerate(names):
        lines.append(f"{name:<{width}}" + "".join(f"  {col[i + 1]:>{w}}" for col, w in zip(columns, widths)))
    if notes:
        lines += ["", "where they differ:"] + [f"  {n}" for n in notes]
    return "\n".join(lines) + "\n"
