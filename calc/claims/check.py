"""Check a formula against the library: proven equal, or the smallest counterexample.

For one convention the library's quantity is computed by `calc.closed_form.layer_costs`, the same
formula functions as the numeric path, on positive-integer symbols.  Then

1. proof: the difference formula - library is a rational function of the symbols and
   `sympy.cancel` reduces it to 0 (for anything else, e.g. floors, `sympy.simplify` must give 0);
2. otherwise a search: points in increasing order of the sum of the searched variables, ties in
   lexicographic order of their values (in the kind's variable order), skipping points that are
   not layers (groups must divide both channel counts).  The first point where formula and
   library differ is the smallest counterexample.  When the difference is a nonzero rational
   function a counterexample must exist and the search goes on until it finds it (within a
   large budget, then seeded random points).  When sympy could not decide (or could not build
   the symbolic value, e.g. a transposed conv with a symbolic kernel, which is then evaluated
   point by point) and no point differs, the claim "holds by search" over the points tried.

Without a convention, FLOPs are checked under every convention of `calc.conventions.CONVENTIONS`
(a convention whose rule for the operation is refused, or defined for batch 1 only, is "n/a");
params, buffers, MACs and memory access do not depend on the convention and are checked once.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from typing import Any

from calc.claims.kinds import QUANTITIES, KindModel, model_for
from calc.claims.parser import FormulaError, names, parse
from calc.errors import CalcError, ConventionError, UsageError
from calc.symbolic import sympy

EXHAUSTIVE_POINTS = 20_000
"""Points tried in order before giving up on a difference sympy could not decide."""
WRONG_POINTS = 400_000
"""Points tried in order for a difference known to be nonzero."""
RANDOM_POINTS = 2_000
RANDOM_MAX = 64
PER_VALUE = 12
"""A variable the library cannot take as a symbol is proven value by value up to this."""

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


@dataclass(frozen=True)
class CheckSpec:
    """What to check: FORMULA against KIND.QUANTITY, with the layer's flags and letter mapping."""

    formula: str
    kind: str
    quantity: str
    bias: bool | None = None
    bn: bool | None = None
    var: tuple[tuple[str, str], ...] = ()
    """formula letter -> variable of the kind (M=Cin)."""
    fixed: tuple[tuple[str, int], ...] = ()
    """variable (or formula letter) -> value it is held at (Hout=1)."""
    convention: str | None = None

    def against(self) -> str:
        return f"{self.kind}.{self.quantity}"

    def settings(self) -> str:
        """'bias, bn; M=Cin, N=Cout; Hout=1' (what the formula alone does not say)."""
        model = model_for(self.kind)
        flags = []
        if model.bias and self.bias is not None:
            flags.append("bias" if self.bias else "no bias")
        if self.bn:
            flags.append("bn")
        parts = [", ".join(flags)] if flags else []
        if self.var:
            parts.append(", ".join(f"{a}={b}" for a, b in self.var))
        if self.fixed:
            parts.append(", ".join(f"{a}={b}" for a, b in self.fixed))
        return "; ".join(parts)


@dataclass
class Outcome:
    """The check under one convention (or under none: a quantity no convention changes)."""

    convention: str | None
    status: str  # "holds", "wrong", "n/a"
    proven: bool = False
    library: Any = None
    point: dict[str, int] | None = None
    claim_value: Any = None
    library_value: Any = None
    minimal: bool = True
    searched: int = 0
    reason: str = ""
    derived: dict[str, int] = field(default_factory=dict)
    """Values of derived variables the formula names, at the counterexample (Hout of a deconv)."""

    def counterexample(self) -> str:
        """'K=1, Cin=2: formula 6, library 4' (empty when there is none)."""
        if self.point is None:
            return ""
        where = ", ".join(f"{k}={v}" for k, v in self.point.items()) or "any size"
        if self.derived:
            where += " (" + ", ".join(f"{k}={v}" for k, v in self.derived.items()) + ")"
        text = f"{where}: formula {show(self.claim_value)}, library {show(self.library_value)}"
        return text if self.minimal else text + " (not the smallest: found by random search)"


@dataclass
class CheckResult:
    spec: CheckSpec
    model: KindModel
    formula: Any
    searched: tuple[str, ...]
    defaults: dict[str, Any]
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def applicable(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status in ("holds", "wrong")]

    @property
    def holds_under(self) -> list[str]:
        return [o.convention or "" for o in self.applicable if o.status == "holds"]

    @property
    def ok(self) -> bool:
        """Holds under the asked convention, or under any when none was asked."""
        return any(o.status == "holds" for o in self.outcomes)

    def verdict(self) -> str:
        return verdict(self.outcomes, self.spec.convention)

    def shown(self) -> Outcome | None:
        """The failing outcome whose counterexample a table shows: under the default convention
        when it fails there, else under the first that fails."""
        return shown_outcome(self.outcomes)


def verdict(outcomes: list[Outcome], asked: str | None = None) -> str:
    applicable = [o for o in outcomes if o.status in ("holds", "wrong")]
    holds = [o for o in applicable if o.status == "holds"]
    suffix = " (by search, not proven)" if any(not o.proven for o in holds) else ""
    if not applicable:
        return "n/a"
    if asked is not None and all(o.convention is not None for o in outcomes):
        return ("holds under " if holds else "wrong under ") + asked + (suffix if holds else "")
    if not holds:
        return "wrong"
    if len(holds) == len(applicable):
        return "holds" + suffix
    return "holds only under " + ", ".join(o.convention or "" for o in holds) + suffix


def shown_outcome(outcomes: list[Outcome]) -> Outcome | None:
    from calc.conventions import DEFAULT

    failing = [o for o in outcomes if o.status == "wrong"]
    for o in failing:
        if o.convention in (None, DEFAULT):
            return o
    return failing[0] if failing else None


def show(value: Any) -> str:
    """Exact: 1,234 or 8.4 (a finite decimal) or 1,151/576."""
    if isinstance(value, Fraction):
        if value.denominator == 1:
            return f"{value.numerator:,}"
        q, twos, fives = value.denominator, 0, 0
        while q % 2 == 0:
            q, twos = q // 2, twos + 1
        while q % 5 == 0:
            q, fives = q // 5, fives + 1
        if q == 1:
            places = max(twos, fives)
            scaled = value * 10**places
            sign = "-" if scaled < 0 else ""
            whole, frac = divmod(abs(int(scaled)), 10**places)
            return f"{sign}{whole:,}.{frac:0{places}d}"
        return f"{value.numerator:,}/{value.denominator:,}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


# -- evaluating sympy expressions quickly at integer points ------------------------------------


def compile_expr(expr: Any) -> Callable[[Mapping[str, int]], Any]:
    """A Python function of {symbol name: int} computing `expr` exactly (int or Fraction)."""
    if expr.is_Integer:
        v = int(expr)
        return lambda env: v
    if expr.is_Rational:
        q = Fraction(int(expr.p), int(expr.q))
        return lambda env: q
    if expr.is_Symbol:
        name = expr.name
        return lambda env: env[name]
    if expr.is_Add:
        parts = [compile_expr(a) for a in expr.args]
        return lambda env: sum(p(env) for p in parts)
    if expr.is_Mul:
        parts = [compile_expr(a) for a in expr.args]

        def product(env: Mapping[str, int]) -> Any:
            result: Any = 1
            for p in parts:
                result = result * p(env)
            return result

        return product
    if expr.is_Pow and expr.exp.is_Integer:
        base, e = compile_expr(expr.base), int(expr.exp)
        if e < 0:
            return lambda env: Fraction(base(env)) ** e
        return lambda env: base(env) ** e
    if isinstance(expr, sympy.floor):
        arg = compile_expr(expr.args[0])
        return lambda env: math.floor(arg(env))
    if isinstance(expr, sympy.ceiling):
        arg = compile_expr(expr.args[0])
        return lambda env: math.ceil(arg(env))
    if isinstance(expr, (sympy.Max, sympy.Min)):
        parts = [compile_expr(a) for a in expr.args]
        pick = max if isinstance(expr, sympy.Max) else min
        return lambda env: pick(p(env) for p in parts)

    symbols = sorted(expr.free_symbols, key=lambda s: s.name)

    def fallback(env: Mapping[str, int]) -> Any:
        value = expr.xreplace({s: sympy.Integer(env[s.name]) for s in symbols}).doit()
        return number(value)

    return fallback


def number(value: Any) -> Any:
    """A sympy or Python number as an int or a Fraction."""
    if isinstance(value, (int, Fraction)):
        return value
    value = sympy.nsimplify(value) if value.is_Float else value
    if value.is_Integer:
        return int(value)
    if value.is_Rational:
        return Fraction(int(value.p), int(value.q))
    raise ValueError(f"not a rational number: {value}")


# -- the search order ----------------------------------------------------------------------------


def compositions(total: int, parts: int) -> Iterator[tuple[int, ...]]:
    """Tuples of `parts` positive ints summing to `total`, in lexicographic order."""
    if parts == 0:
        if total == 0:
            yield ()
        return
    if parts == 1:
        if total >= 1:
            yield (total,)
        return
    for first in range(1, total - parts + 2):
        for rest in compositions(total - first, parts - 1):
            yield (first, *rest)


def points(variables: tuple[str, ...]) -> Iterator[dict[str, int]]:
    """Every assignment of positive ints, by increasing sum, then lexicographically."""
    n = len(variables)
    if n == 0:
        yield {}
        return
    total = n
    while True:
        for values in compositions(total, n):
            yield dict(zip(variables, values))
        total += 1


# -- one check -----------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _library(kind: str, fields: tuple[tuple[str, Any], ...], convention: str) -> dict[str, Any]:
    from calc import conventions
    from calc.closed_form import layer_costs

    return layer_costs(kind, dict(fields), conventions.get(convention))


def _symbol(name: str) -> Any:
    return sympy.Symbol(name, integer=True, positive=True)


class _Setup:
    """The variables, defaults and record of one check."""

    def __init__(self, spec: CheckSpec) -> None:
        model = model_for(spec.kind)
        if spec.quantity not in QUANTITIES:
            raise UsageError(f"unknown quantity '{spec.quantity}'", expected="one of " + ", ".join(QUANTITIES))
        if spec.bias is not None and not model.bias:
            raise UsageError(f"--bias/--no-bias does not apply to {spec.kind}", expected="no bias option")
        if spec.bn and not model.bn:
            raise UsageError(f"--bn does not apply to {spec.kind}", expected="no bn option")
        self.spec, self.model = spec, model
        variables = model.variables
        self.mapping: dict[str, str] = {}
        for letter, target in spec.var:
            if not _IDENT.match(letter):
                raise UsageError(f"--var {letter}={target}: '{letter}' is not a name", expected="NAME=VARIABLE")
            if target not in variables:
                raise UsageError(
                    f"--var {letter}={target}: '{target}' is not a variable of {spec.kind}",
                    expected="one of " + ", ".join(variables),
                )
            self.mapping[letter] = target
        settable = (*model.free, *model.optional)
        self.fixed: dict[str, int] = {}
        for name, value in spec.fixed:
            target = self.mapping.get(name, name)
            if target not in settable:
                raise UsageError(
                    f"--set {name}={value}: '{target}' cannot be set for {spec.kind}",
                    expected="one of " + ", ".join(settable),
                )
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UsageError(f"--set {name}={value}: not a positive int", expected="1 or more")
            self.fixed[target] = value
        used = set()
        for letter, col in names(spec.formula):
            target = self.mapping.get(letter, letter)
            if target not in variables:
                raise FormulaError(
                    f"unknown name '{letter}' at column {col}",
                    expected=f"one of {', '.join(variables)} or --var {letter}=VARIABLE",
                )
            used.add(target)
        self.used_derived = tuple(d for d in model.derived if d in used)
        active = [o for o in model.optional if o in used]
        self.searched = tuple(v for v in (*model.free, *active) if v not in self.fixed)
        self.defaults = {o: d for o, d in model.optional.items() if o not in active and o not in self.fixed}
        self.symbols = {v: _symbol(v) for v in self.searched}
        self.env = self.environment({**self.symbols})
        if not model.valid(self.env):
            raise UsageError(f"--set values are not a valid {spec.kind} (groups must divide the channels)")
        self.formula = parse(spec.formula, self.resolve)

    def environment(self, values: Mapping[str, Any]) -> dict[str, Any]:
        env: dict[str, Any] = {**self.defaults, **self.fixed, **values}
        for name, derive in self.model.derived.items():
            env[name] = derive(env)
        return env

    def resolve(self, letter: str, col: int) -> Any:
        value = self.env[self.mapping.get(letter, letter)]
        return sympy.Integer(value) if isinstance(value, int) else value

    def fields(self, env: Mapping[str, Any]) -> dict[str, Any]:
        out = self.model.fields(self.spec.kind, env)
        if self.model.bias:
            out["bias"] = True if self.spec.bias is None else self.spec.bias
        if self.model.bn:
            out["bn"] = bool(self.spec.bn)
        return out

    def key(self, env: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
        return tuple(sorted(self.fields(env).items()))


def conventions_for(spec: CheckSpec) -> list[str | None]:
    from calc import conventions

    if spec.convention is not None and spec.convention not in conventions.CONVENTIONS:
        raise UsageError(f"unknown convention '{spec.convention}'",
                         expected="one of " + ", ".join(conventions.CONVENTIONS))
    if spec.quantity != "flops":
        return [spec.convention]
    return [spec.convention] if spec.convention else conventions.distinct_for({spec.kind})


def run_check(spec: CheckSpec) -> CheckResult:
    """Decide the check under each convention it concerns (see the module docstring)."""
    from calc import conventions

    setup = _Setup(spec)
    result = CheckResult(spec, setup.model, setup.formula, setup.searched,
                         {**setup.defaults, **setup.fixed})
    claim = compile_expr(setup.formula)
    for name in conventions_for(spec):
        result.outcomes.append(_decide(setup, claim, name or conventions.DEFAULT, name))
    return result


def _decide(setup: _Setup, claim: Callable, convention: str, label: str | None) -> Outcome:
    quantity = setup.spec.quantity

    def library_of(env: Mapping[str, Any]) -> Any:
        return _library(setup.spec.kind, setup.key(env), convention)[quantity]

    try:
        library = library_of(setup.env)
    except ConventionError as exc:
        return Outcome(label, "n/a", reason=exc.one_line())
    except CalcError as exc:
        raise UsageError(f"{setup.spec.against()}: {exc.one_line()}") from None
    except (TypeError, ValueError):  # the symbolic path cannot take some variable as a symbol
        return _decide_per_value(setup, claim, library_of, label)

    zero = is_zero(setup.formula - library, list(setup.symbols.values()))
    if zero:
        return Outcome(label, "holds", proven=True, library=library)
    lib_at = compile_expr(library)
    outcome = search(setup, claim, lib_at, WRONG_POINTS if zero is False else EXHAUSTIVE_POINTS)
    outcome.convention, outcome.library = label, library
    if zero is False:
        outcome.status = "wrong"
        if outcome.point is None:
            outcome.reason = f"formula - library = {sympy.factor(setup.formula - library)}"
    return outcome


def _decide_per_value(setup: _Setup, claim: Callable, library_of: Callable, label: str | None) -> Outcome:
    """The library takes all variables but one (`v`, e.g. a deconv's K) as symbols: prove the
    claim for v = 1..PER_VALUE symbolically in the others, and search over all points with the
    library's value from the expression for that v."""
    chosen = None
    for v in setup.searched:
        try:
            library_of(setup.environment({**setup.symbols, v: 2}))
        except (TypeError, ValueError, CalcError):
            continue
        chosen = v
        break
    if chosen is None:
        raise UsageError(f"{setup.spec.against()}: the library cannot evaluate this kind with symbols")
    others = [s for n, s in setup.symbols.items() if n != chosen]
    compiled: dict[int, Callable] = {}

    def at_value(value: int) -> Any:
        return library_of(setup.environment({**setup.symbols, chosen: value}))

    def lib_at(env: Mapping[str, int]) -> Any:
        value = env[chosen]
        if value not in compiled:
            compiled[value] = compile_expr(at_value(value))
        return compiled[value](env)

    known_nonzero = False
    for value in range(1, PER_VALUE + 1):
        formula = setup.formula.xreplace({setup.symbols[chosen]: sympy.Integer(value)})
        try:
            zero = is_zero(formula - at_value(value), others)
        except CalcError:
            continue
        if zero is False:
            known_nonzero = True
            break
    outcome = search(setup, claim, lib_at, WRONG_POINTS if known_nonzero else EXHAUSTIVE_POINTS)
    outcome.convention = label
    if known_nonzero:
        outcome.status = "wrong"
    elif outcome.point is None:
        outcome.reason = (f"proven for {chosen} = 1..{PER_VALUE} (symbolic in the other variables); "
                          f"no counterexample in {outcome.searched:,} points")
    return outcome


def is_zero(diff: Any, symbols: list[Any]) -> bool | None:
    """True if proven 0, False if proven nonzero (a nonzero rational function), None if sympy
    cannot tell.  A rational function is put over one denominator and its numerator expanded as
    a sparse polynomial (much faster than expanding the expression)."""
    if diff == 0:
        return True
    if diff.is_rational_function(*symbols):
        numerator, _ = sympy.fraction(sympy.together(diff))
        gens = sorted(numerator.free_symbols, key=lambda s: s.name)
        if not gens:
            return bool(numerator == 0)
        try:
            return not _poly(numerator, gens)
        except ValueError:  # pragma: no cover - a numerator that is not a plain polynomial
            return bool(sympy.Poly(numerator, *gens).is_zero)
    try:
        return True if sympy.simplify(diff) == 0 else None
    except Exception:  # pragma: no cover - sympy gave up
        return None


def _poly(expr: Any, gens: list[Any]) -> Any:
    """expr as a sparse polynomial over QQ in gens (sympy.polys.rings), built bottom-up: far
    faster than expanding the expression, e.g. for (K + Cin + Cout + Hout + Wout)^16."""
    QQ, ring = sympy.polys.domains.QQ, sympy.polys.rings.ring

    R, *elements = ring([g.name for g in gens], QQ)
    table = dict(zip(gens, elements))

    def build(e: Any) -> Any:
        if e in table:
            return table[e]
        if e.is_Rational:
            return R(QQ(int(e.p), int(e.q)))
        if e.is_Add or e.is_Mul:
            parts = [build(a) for a in e.args]
            result = parts[0]
            for part in parts[1:]:
                result = result + part if e.is_Add else result * part
            return result
        if e.is_Pow and e.exp.is_Integer and e.exp >= 0:
            return build(e.base) ** int(e.exp)
        raise ValueError(f"not a polynomial: {e}")

    return build(expr)


def search(setup: _Setup, claim: Callable, lib_at: Callable, budget: int) -> Outcome:
    """The first point (smallest sum, then lexicographic) where formula and library differ;
    then seeded random points if the budget runs out."""
    tried = 0

    def differs_at(values: dict) -> Any:
        env = setup.environment(values)
        return None if not setup.model.valid(env) else (env, _differs(env, claim, lib_at))

    for values in points(setup.searched):
        checked = differs_at(values)
        if checked is None or checked[1] is None:
            continue
        tried += 1
        if checked[1]:
            return _found(setup, values, checked[0], claim, lib_at, tried, minimal=True)
        if tried >= budget or not setup.searched:
            break
    rng = random.Random(0)
    for _ in range(RANDOM_POINTS if setup.searched else 0):
        values = {v: rng.randint(1, RANDOM_MAX) for v in setup.searched}
        checked = differs_at(values)
        if checked is None or checked[1] is None:
            continue
        tried += 1
        if checked[1]:
            return _found(setup, values, checked[0], claim, lib_at, tried, minimal=False)
    return Outcome(None, "holds", searched=tried)


def _differs(env: dict, claim: Callable, lib_at: Callable) -> bool | None:
    """None when the point is not a valid layer for the library."""
    try:
        return claim(env) != lib_at(env)
    except (CalcError, ZeroDivisionError, ValueError, ArithmeticError):
        return None


def _found(setup: _Setup, values: dict, env: dict, claim: Callable, lib_at: Callable, tried: int,
           minimal: bool) -> Outcome:
    return Outcome(None, "wrong", point=dict(values), claim_value=claim(env), library_value=lib_at(env),
                   minimal=minimal, searched=tried, derived={d: env[d] for d in setup.used_derived})
