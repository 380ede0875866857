"""Claims files: statements of cost formulas (e.g. from the seed documents), each checked against
the library, with the verdict its author expects.

A claims file is YAML (read by the project's safe loader)::

    title: ...                      # optional, heads the Markdown output
    claims:
      - id: seed002-dw-params-bias  # unique
        source: {file: 002_....txt, quote: "Para = k×k×M×M + M"}
        claim: Depthwise conv parameters with bias     # in words
        formula: k*k*M*M + M        # kind: formula (the default)
        against: depthwise.params   # KIND.QUANTITY
        bias: true                  # optional; bn: true likewise; both as the CLI flags
        vars: {k: K, M: Cin}        # letters of the formula -> variables of the kind (--var)
        set: {Hout: 1}              # variables held at a value (--set)
        expected: wrong             # holds | wrong | {holds_under: [...], wrong_under: [...]}
        counterexample: {K: 1, Cin: 2}   # optional: the expected smallest counterexample
        note: why it is wrong, in words  # optional, listed under the table

      - id: seed003-dw-example
        kind: value                 # a stated number, not a formula
        layers: {dw: {type: depthwise, K: 3, Cin: 64, H: 112, W: 112, padding: 1, bias: false}}
        expression: dw.macs         # LAYER.QUANTITY names, + - * / ^ and numbers
        value: 7225344
        tolerance: 0                # optional, absolute; 0 means exactly equal
        expected: holds

`expected: holds` / `wrong` suit quantities no convention changes (params, MACs, ...).  For
FLOPs name the conventions: `holds_under` must hold and `wrong_under` must fail; conventions
not named (e.g. ones added later) are not pinned.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from calc.claims.check import CheckResult, CheckSpec, Outcome, run_check, shown_outcome, show, verdict
from calc.claims.kinds import QUANTITIES, parse_against
from calc.claims.parser import FormulaError, names, parse
from calc.errors import CalcError, ConventionError, Location, SpecError, UsageError

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")
_FORMULA_KEYS = {"id", "kind", "source", "claim", "formula", "against", "bias", "bn", "vars", "set",
                 "expected", "counterexample", "note"}
_VALUE_KEYS = {"id", "kind", "source", "claim", "layers", "expression", "value", "tolerance",
               "expected", "note"}


@dataclass
class Claim:
    id: str
    kind: str  # "formula" or "value"
    file: str
    quote: str
    claim: str
    expected: Any
    note: str = ""
    spec: CheckSpec | None = None
    expected_point: dict[str, int] | None = None
    layers: dict[str, Any] = field(default_factory=dict)
    expression: str = ""
    value: Any = None
    tolerance: Any = 0
    where: Location | None = None

    def statement(self) -> str:
        """The formula or number as checked: '`k*k*M*M + M` = depthwise.params (bias; k=K, M=Cin)'."""
        if self.spec is not None:
            settings = self.spec.settings()
            return f"{self.spec.formula} = {self.spec.against()}" + (f" ({settings})" if settings else "")
        approx = f" ± {show(self.tolerance)}" if self.tolerance else ""
        return f"{self.expression} = {show(self.value)}{approx}"


@dataclass
class ClaimResult:
    claim: Claim
    outcomes: list[Outcome]
    check: CheckResult | None = None

    def verdict(self) -> str:
        return verdict(self.outcomes)

    def shown(self) -> Outcome | None:
        return shown_outcome(self.outcomes)

    def counterexample(self) -> str:
        o = self.shown()
        if o is None:
            return ""
        label = f"{o.convention}: " if o.convention and self._per_convention() else ""
        if self.claim.kind == "value":
            return f"{label}library {_decimal(o.library_value)}, stated {_decimal(o.claim_value)}"
        return label + o.counterexample()

    def _per_convention(self) -> bool:
        return any(o.convention is not None for o in self.outcomes)

    def mismatches(self) -> list[str]:
        """How the verdict differs from the expected one (empty when as expected)."""
        return expectation_mismatches(self)


def _decimal(value: Any) -> str:
    if isinstance(value, Fraction) and value.denominator != 1:
        return f"{float(value):,.4f}".rstrip("0").rstrip(".") + f" (= {show(value)})"
    return show(value)


# -- loading -----------------------------------------------------------------------------------


def load_claims(path: str) -> tuple[str, list[Claim]]:
    """(title, claims) of a claims file; any problem is a SpecError at its line and column."""
    from calc.yamlload import load_file

    located = load_file(path)
    data = located.data
    if not isinstance(data, dict) or not isinstance(data.get("claims"), list):
        raise SpecError("a claims file is a mapping with a list 'claims'", location=located.locate(()),
                        expected="claims: [...]")
    unknown = set(data) - {"title", "claims"}
    if unknown:
        key = sorted(unknown)[0]
        raise SpecError(f"unknown key '{key}'", location=located.locate((key,)), expected="title, claims")
    title = str(data.get("title") or "Claims checked against the library")
    claims: list[Claim] = []
    seen: set[str] = set()
    for i, item in enumerate(data["claims"]):
        where = located.locate(("claims", i))
        try:
            claim = _claim(item, where)
        except CalcError as exc:
            exc.location = exc.location or where
            if isinstance(exc, UsageError):  # a bad formula in a file is a bad spec, not bad usage
                raise SpecError(exc.message, location=exc.location, path=f"claims[{i}]",
                                expected=exc.expected) from None
            raise exc.with_context(path=f"claims[{i}]")
        if claim.id in seen:
            raise SpecError(f"duplicate id '{claim.id}'", location=where, path=f"claims[{i}]")
        seen.add(claim.id)
        claims.append(claim)
    return title, claims


def _text(item: Mapping[str, Any], key: str, required: bool = True) -> str:
    value = item.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip():
        raise SpecError(f"'{key}' must be a non-empty string", field=key)
    return " ".join(value.split())


def _bool(item: Mapping[str, Any], key: str) -> bool | None:
    value = item.get(key)
    if value is not None and not isinstance(value, bool):
        raise SpecError(f"'{key}' must be true or false", field=key)
    return value


def _claim(item: Any, where: Location | None) -> Claim:
    if not isinstance(item, dict):
        raise SpecError("a claim must be a mapping", expected="id, source, claim, ...")
    kind = item.get("kind", "formula")
    if kind not in ("formula", "value"):
        raise SpecError(f"unknown claim kind {kind!r}", field="kind", expected="formula or value")
    allowed = _FORMULA_KEYS if kind == "formula" else _VALUE_KEYS
    unknown = set(item) - allowed
    if unknown:
        key = sorted(unknown)[0]
        raise SpecError(f"unknown key '{key}' in a {kind} claim", field=key,
                        expected="one of " + ", ".join(sorted(allowed)))
    cid = _text(item, "id")
    if not _ID.match(cid):
        raise SpecError(f"id {cid!r} has characters other than letters, digits, '-', '_', '.'", field="id")
    source = item.get("source")
    if not isinstance(source, dict) or set(source) != {"file", "quote"}:
        raise SpecError("'source' must be {file: ..., quote: ...}", field="source")
    claim = Claim(
        id=cid, kind=kind, file=_text(source, "file"), quote=_text(source, "quote"),
        claim=_text(item, "claim"), expected=_expected(item.get("expected")),
        note=_text(item, "note", required=False), where=where,
    )
    if kind == "formula":
        kind_name, quantity = parse_against(_text(item, "against"))
        pairs = {}
        for key in ("vars", "set"):
            value = item.get(key) or {}
            if not isinstance(value, dict):
                raise SpecError(f"'{key}' must be a mapping", field=key)
            pairs[key] = value
        for letter, target in pairs["vars"].items():
            if not isinstance(target, str):
                raise SpecError(f"vars: {letter} must map to a variable name", field="vars")
        claim.spec = CheckSpec(
            formula=_text(item, "formula"), kind=kind_name, quantity=quantity,
            bias=_bool(item, "bias"), bn=_bool(item, "bn"),
            var=tuple((str(k), v) for k, v in pairs["vars"].items()),
            fixed=tuple((str(k), v) for k, v in pairs["set"].items()),
        )
        point = item.get("counterexample")
        if point is not None:
            if not isinstance(point, dict) or not all(isinstance(v, int) for v in point.values()):
                raise SpecError("'counterexample' must map variables to ints", field="counterexample")
            claim.expected_point = {str(k): v for k, v in point.items()}
        return claim
    layers = item.get("layers")
    if not isinstance(layers, dict) or not layers:
        raise SpecError("'layers' must map names to layer specs", field="layers")
    from calc.parse import parse_layer

    for name, spec in layers.items():
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise SpecError(f"layer name {name!r} is not an identifier", field="layers")
        try:
            claim.layers[name] = parse_layer(spec)
        except CalcError as exc:
            raise exc.with_context(path=f"layers.{name}")
    claim.expression = _text(item, "expression")
    for dotted, col in names(claim.expression, dotted=True):
        layer, _, quantity = dotted.partition(".")
        if layer not in claim.layers or quantity not in QUANTITIES:
            raise SpecError(f"expression: '{dotted}' at column {col} is not LAYER.QUANTITY",
                            field="expression", expected="e.g. " + next(iter(claim.layers)) + ".macs")
    claim.value = _number(item.get("value"), "value")
    claim.tolerance = _number(item.get("tolerance", 0), "tolerance")
    if claim.tolerance < 0:
        raise SpecError("'tolerance' must not be negative", field="tolerance")
    return claim


def _number(value: Any, key: str) -> Fraction:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(f"'{key}' must be a number", field=key)
    return Fraction(str(value)) if isinstance(value, float) else Fraction(value)


def _expected(value: Any) -> Any:
    if value in ("holds", "wrong", "n/a"):
        return value
    if isinstance(value, dict) and set(value) <= {"holds_under", "wrong_under"} and value:
        for key, names_ in value.items():
            if not isinstance(names_, list) or not all(isinstance(n, str) for n in names_):
                raise SpecError(f"expected.{key} must be a list of convention names", field="expected")
        from calc import conventions

        for name in (*value.get("holds_under", []), *value.get("wrong_under", [])):
            conventions.get(name)
        return {k: list(v) for k, v in value.items()}
    raise SpecError("'expected' must be holds, wrong, n/a or {holds_under: [...], wrong_under: [...]}",
                    field="expected")


# -- running ------------------------------------------------------------------------------------


def run_claim(claim: Claim, convention: str | None = None) -> ClaimResult:
    if claim.spec is not None:
        spec = claim.spec
        if convention is not None:
            spec = CheckSpec(**{**spec.__dict__, "convention": convention})
        try:
            result = run_check(spec)
        except UsageError as exc:
            raise SpecError(exc.message, location=claim.where, path=claim.id, expected=exc.expected) from None
        return ClaimResult(claim, result.outcomes, result)
    return ClaimResult(claim, _value_outcomes(claim, convention))


def _value_outcomes(claim: Claim, asked: str | None) -> list[Outcome]:
    from calc import conventions
    from calc.report import evaluate_layer
    from calc.symbolic import sympy

    uses_flops = any(n.endswith(".flops") for n, _ in names(claim.expression, dotted=True))
    kinds = {layer.kind for layer in claim.layers.values()}
    labels: list[str | None] = [asked] if asked or not uses_flops else list(conventions.distinct_for(kinds))
    outcomes = []
    for label in labels:
        convention = conventions.get(label or conventions.DEFAULT)
        try:
            totals = {name: evaluate_layer(layer, convention).totals for name, layer in claim.layers.items()}
        except ConventionError as exc:
            outcomes.append(Outcome(label, "n/a", reason=exc.one_line()))
            continue

        def resolve(dotted: str, col: int) -> Any:
            layer, _, quantity = dotted.partition(".")
            return sympy.Integer(getattr(totals[layer], quantity))

        try:
            value = parse(claim.expression, resolve, dotted=True)
        except FormulaError as exc:
            raise SpecError(f"expression: {exc.message}", location=claim.where, path=claim.id) from None
        if not value.is_Rational:  # zoo or nan: a quantity this convention prices at 0 divides
            outcomes.append(Outcome(label, "n/a", reason=f"the expression divides by zero under {label}"))
            continue
        computed = Fraction(int(value.p), int(value.q))
        holds = abs(computed - claim.value) <= claim.tolerance
        outcomes.append(Outcome(label, "holds" if holds else "wrong", proven=True,
                                claim_value=claim.value, library_value=computed))
    return outcomes


def run_claims(claims: list[Claim], convention: str | None = None) -> list[ClaimResult]:
    return [run_claim(c, convention) for c in claims]


def expectation_mismatches(result: ClaimResult) -> list[str]:
    claim, out = result.claim, []
    expected = claim.expected
    got = result.verdict()
    if isinstance(expected, str):
        if got.split()[0] != expected or "only under" in got:
            out.append(f"expected {expected}, got {got}")
    else:
        by_name = {o.convention: o for o in result.outcomes}
        for status, key in (("holds", "holds_under"), ("wrong", "wrong_under")):
            for name in expected.get(key, []):
                o = by_name.get(name)
                if o is not None and o.status != status:
                    out.append(f"expected it to {'hold' if status == 'holds' else 'fail'} under {name}, "
                               f"got {o.status}")
    if claim.expected_point is not None:
        shown = result.shown()
        point = shown.point if shown else None
        if point != claim.expected_point:
            out.append(f"expected counterexample {claim.expected_point}, got {point}")
    return out
