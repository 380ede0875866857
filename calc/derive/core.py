"""Derivations as data: definitions, checked steps, notes and tables, built in order.

A `Derivation` is built by calling its methods; every step is proved with sympy the moment it
is added, and a step that does not hold raises `DerivationError` naming the topic, the step
number and its justification.  Nothing is checked later: a derivation object that exists is a
proved one.

Step relations and what proves them
    =    simplify(lhs - rhs) == 0 (after expanding definitions and unevaluated groupings), or
         the same function applied to arguments that are equal one by one (congruence);
         tuples are compared entry by entry
    >=   lhs - rhs == witness (as above) and sympy decides witness.is_nonnegative
    !=   lhs - rhs is a nonzero number (optionally after substituting a stated point)
    ~    |lhs - rhs| <= 5 * 10^-(places + 1): rhs is lhs rounded to `places` decimals
    <=>  lhs is an expression E (meaning E = 0), rhs an equation x = v; sympy.solve(E, x) == [v]

Definitions (`define`) are the counting arguments themselves (e.g. "K^2 multiplies and K^2 - 1
adds"): they introduce a name and are not checked; everything after them is.  `library` steps
compare with a value computed by the calculator's own formulas (via `calc.closed_form.layer_costs`
or `calc.layers`), so a derivation checks the code, not itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from calc.errors import CalcError
from calc.symbolic import sympy

RELATIONS = ("=", ">=", "!=", "~", "<=>")


class DerivationError(CalcError):
    """A derivation step that does not hold (exit status 1)."""


@dataclass(frozen=True)
class Step:
    """One line: lhs relation rhs, and why.  ``kind`` is 'def' (a definition), 'step' (algebra
    or a counting fact), or 'library' (compared with the calculator's own formula)."""

    number: int
    lhs: Any
    relation: str
    rhs: Any
    why: str
    kind: str = "step"
    continued: bool = False
    """True when lhs is the previous step's rhs (rendered blank, as in an aligned chain)."""


@dataclass(frozen=True)
class Section:
    title: str


@dataclass(frozen=True)
class Note:
    text: str


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


Item = Step | Section | Note | Table


def release(expr: Any) -> Any:
    """Drop the display-only groupings (UnevaluatedExpr) so sympy can evaluate."""
    if isinstance(expr, sympy.Basic):
        return expr.doit(deep=True) if expr.has(sympy.UnevaluatedExpr) else expr
    return sympy.sympify(expr)


def grouped(expr: Any) -> Any:
    """`expr` kept as written, parentheses and all, in a printed step (a display grouping)."""
    return sympy.UnevaluatedExpr(expr)


def frac(a: Any, b: Any) -> Any:
    """a / b as written (not reduced), e.g. 924844032/109985792 or K**2*C_out/(K**2 + C_out)."""
    inverse = sympy.Pow(b, -1, evaluate=False)
    return inverse if a == 1 else sympy.Mul(a, inverse, evaluate=False)


def written(*factors: Any) -> Any:
    """A product as written, not multiplied out: written(sympy.Pow(3, 2, evaluate=False), 64)."""
    return sympy.Mul(*factors, evaluate=False)


def _is_zero(diff: Any) -> bool:
    diff = sympy.expand(diff)
    if diff == 0:
        return True
    return sympy.simplify(diff) == 0


def equal(a: Any, b: Any) -> bool:
    """Proved equal: a - b simplifies to 0, entry by entry for tuples, or by congruence
    (same function, equal arguments)."""
    if isinstance(a, (tuple, sympy.Tuple)) or isinstance(b, (tuple, sympy.Tuple)):
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b))
    if isinstance(a, sympy.Equality) and isinstance(b, sympy.Equality):
        return equal(a.lhs - a.rhs, b.lhs - b.rhs)
    if _is_zero(a - b):
        return True
    if (isinstance(a, sympy.Basic) and isinstance(b, sympy.Basic) and a.args and a.func == b.func
            and len(a.args) == len(b.args)):
        if all(equal(x, y) for x, y in zip(a.args, b.args)):
            return True
        unmatched = list(b.args)  # unordered arguments (Max, Min): match each one somewhere
        for x in a.args:
            match = next((k for k, y in enumerate(unmatched) if equal(x, y)), None)
            if match is None:
                return False
            unmatched.pop(match)
        return True
    return False


@dataclass
class Derivation:
    """A titled sequence of items for one topic; add steps with the methods below."""

    topic: str
    title: str
    source: str
    items: list[Item] = field(default_factory=list)
    definitions: dict[Any, Any] = field(default_factory=dict)
    checked: int = 0
    """Silent checks (`check`) that held, e.g. table cells compared with the library."""
    _last: Any = None
    _count: int = 0

    # -- building ------------------------------------------------------------------------------
    def section(self, title: str) -> None:
        self.items.append(Section(title))
        self._last = None

    def note(self, text: str) -> None:
        self.items.append(Note(text))

    def table(self, headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
        self.items.append(Table(tuple(headers), tuple(tuple(r) for r in rows)))

    def check(self, lhs: Any, rhs: Any, what: str) -> None:
        """A silent equality (e.g. one cell of a table against the library): proved now, and
        raising DerivationError naming `what` if it fails; tables say their cells were checked."""
        if not equal(self.expand(lhs), self.expand(rhs)):
            raise DerivationError(
                f"derivation '{self.topic}': {what} does not hold: {sympy.sstr(lhs)} = {sympy.sstr(rhs)}"
            )
        self.checked += 1

    def define(self, name: Any, value: Any, why: str) -> Any:
        """Introduce `name` (a Symbol, or a string made into a real one) standing for `value`.
        Defining a name again (e.g. the same BN symbols given numbers) affects later steps only."""
        symbol = sympy.Symbol(name, real=True) if isinstance(name, str) else name
        self.definitions[symbol] = release(value)
        self._add(symbol, "=", value, why, "def", continued=False)
        return symbol

    def equals(self, rhs: Any, why: str, lhs: Any = None) -> Any:
        """lhs = rhs; lhs defaults to the previous step's rhs (a chain)."""
        return self._relate("=", rhs, why, lhs, "step")

    def library(self, rhs: Any, why: str, lhs: Any = None) -> Any:
        """lhs = rhs where rhs is the calculator's own value; `why` says where it came from."""
        return self._relate("=", rhs, why, lhs, "library")

    def at_least(self, rhs: Any, why: str, witness: Any, lhs: Any = None) -> Any:
        """lhs >= rhs because lhs - rhs = witness and witness >= 0."""
        return self._relate(">=", rhs, why, lhs, "step", witness=witness)

    def differs(self, rhs: Any, why: str, lhs: Any = None, at: dict | None = None) -> Any:
        """lhs != rhs, shown by a nonzero difference (at the point `at`, if given)."""
        return self._relate("!=", rhs, why, lhs, "step", at=at)

    def rounds_to(self, rhs: str, why: str, lhs: Any = None) -> Any:
        """lhs ~ rhs: rhs (a decimal string such as '8.41') is lhs rounded to its decimals."""
        places = len(rhs.partition(".")[2])
        return self._relate("~", sympy.Float(rhs, len(rhs.replace(".", "").lstrip("0")) or 1), why,
                            lhs, "step", places=places)

    def iff(self, expr: Any, equation: Any, why: str) -> Any:
        """expr = 0 exactly when equation (x = v) holds."""
        return self._relate("<=>", equation, why, expr, "step")

    # -- checking ------------------------------------------------------------------------------
    def expand(self, expr: Any) -> Any:
        """expr with every defined name replaced by its value, groupings released."""
        if isinstance(expr, (tuple, sympy.Tuple)):
            return sympy.Tuple(*(self.expand(e) for e in expr))
        expr = release(expr)
        for _ in range(len(self.definitions) + 1):
            new = release(expr.xreplace(self.definitions)) if self.definitions else expr
            if new == expr:
                break
            expr = new
        return expr

    def _relate(self, relation: str, rhs: Any, why: str, lhs: Any, kind: str, **how: Any) -> Any:
        continued = lhs is None
        if continued:
            if self._last is None:
                raise DerivationError(
                    f"derivation '{self.topic}': step {self._count + 1} ('{why}') has no left "
                    "side and nothing precedes it", expected="lhs= or a previous step",
                )
            lhs = self._last
        number = self._count + 1
        problem = self._check(relation, self.expand(lhs), self.expand(rhs), **how)
        if problem:
            section = next((i.title for i in reversed(self.items) if isinstance(i, Section)), "")
            where = f" in '{section}'" if section else ""
            raise DerivationError(
                f"derivation '{self.topic}': step {number}{where} ('{why}') does not hold: "
                f"{sympy.sstr(lhs)} {relation} {sympy.sstr(rhs)}: {problem}"
            )
        self._add(lhs, relation, rhs, why, kind, continued)
        return rhs

    def _check(self, relation: str, lhs: Any, rhs: Any, **how: Any) -> str:
        if relation == "=":
            if equal(lhs, rhs):
                return ""
            if isinstance(lhs, sympy.Tuple) or isinstance(rhs, sympy.Tuple):
                return f"{sympy.sstr(lhs)} and {sympy.sstr(rhs)} differ"
            return f"the difference is {sympy.simplify(lhs - rhs)}"
        if relation == ">=":
            witness = self.expand(how["witness"])
            if not equal(lhs - rhs, witness):
                return f"lhs - rhs is not the witness {sympy.sstr(witness)}"
            if witness.is_nonnegative is not True:
                return f"the witness {sympy.sstr(witness)} is not provably nonnegative"
            return ""
        if relation == "!=":
            diff = sympy.simplify(lhs - rhs)
            if how.get("at"):
                diff = sympy.simplify(diff.subs(how["at"]))
            return "" if diff.is_number and diff.is_zero is False else f"the difference is {diff}"
        if relation == "~":
            tolerance = sympy.Rational(5, 10 ** (how["places"] + 1))
            diff = abs(lhs - sympy.Rational(str(rhs)))
            return "" if bool(diff <= tolerance) else f"they differ by {sympy.N(diff)}"
        if relation == "<=>":
            unknown, value = rhs.lhs, rhs.rhs
            roots = sympy.solve(lhs, unknown)
            return "" if roots == [value] else f"the roots in {unknown} are {roots}"
        raise ValueError(f"unknown relation {relation!r}; one of {RELATIONS}")

    def _add(self, lhs: Any, relation: str, rhs: Any, why: str, kind: str, continued: bool) -> None:
        self._count += 1
        self.items.append(Step(self._count, lhs, relation, rhs, why, kind, continued))
        self._last = rhs

    # -- reading -------------------------------------------------------------------------------
    @property
    def steps(self) -> list[Step]:
        return [i for i in self.items if isinstance(i, Step)]
