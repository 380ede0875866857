"""A small, safe parser for cost formulas: numbers, names, + - * / ^ (or **), parentheses and
unary minus, turned directly into sympy expressions.

Nothing the user types is ever handed to ``eval``, ``sympify`` or ``parse_expr``: the text is
split into tokens here, and each grammar rule builds its sympy node itself.  Names are resolved
by a callback (a table lookup), so ``__import__('os')``, ``x.__class__`` or a call are syntax
errors, never code.  Work is bounded before it is done: the text length, the nesting depth, the
exponent (a constant integer of at most `MAX_EXPONENT`), the degree of the polynomial a
formula can expand to, and the size of constants.

Grammar (``^`` and ``**`` are the same operator, right-associative; ``-x^2`` is ``-(x^2)``)::

    expr    := term (('+' | '-') term)*
    term    := unary (('*' | '/') unary)*
    unary   := ('-' | '+') unary | power
    power   := atom (('^' | '**') unary)?
    atom    := NUMBER | NAME | '(' expr ')'

NUMBER is digits with an optional decimal part (``0.5`` is the exact rational 1/2).  NAME is
``[A-Za-z_][A-Za-z0-9_]*``; with ``dotted=True`` also ``name.name`` (used by value claims for
``layer.quantity``).  ``×``, ``·`` and ``∙`` are accepted for ``*`` and ``−`` for ``-``, since
formulas are often pasted from prose.  Columns in error messages are 1-based characters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from calc.errors import UsageError
from calc.symbolic import sympy

MAX_LENGTH = 1000
MAX_DEPTH = 50
MAX_EXPONENT = 64
MAX_DEGREE = 16
MAX_CONSTANT_BITS = 512
MAX_DIGITS = 60

_ALIASES = {"×": "*", "·": "*", "∙": "*", "−": "-"}
_SINGLE = set("+-*/^()")


class FormulaError(UsageError):
    """A formula that cannot be read: one line saying what and where (exit status 2)."""


@dataclass(frozen=True)
class Token:
    kind: str  # "num", "name", "op", "end"
    text: str
    col: int  # 1-based


def tokenize(text: str, dotted: bool = False) -> list[Token]:
    """Split a formula into tokens; any other character is an error at its column."""
    if len(text) > MAX_LENGTH:
        raise FormulaError(f"formula is {len(text)} characters long, more than {MAX_LENGTH}")
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = _ALIASES.get(text[i], text[i])
        col = i + 1
        if ch in " \t":
            i += 1
        elif ch == "*" and i + 1 < n and _ALIASES.get(text[i + 1], text[i + 1]) == "*":
            tokens.append(Token("op", "^", col))
            i += 2
        elif ch in _SINGLE:
            tokens.append(Token("op", ch, col))
            i += 1
        elif ch.isascii() and (ch.isdigit() or (ch == "." and i + 1 < n and text[i + 1].isdigit())):
            j = i
            while j < n and text[j].isascii() and text[j].isdigit():
                j += 1
            if j < n and text[j] == "." and j + 1 < n and text[j + 1].isascii() and text[j + 1].isdigit():
                j += 1
                while j < n and text[j].isascii() and text[j].isdigit():
                    j += 1
            if j - i > MAX_DIGITS:
                raise FormulaError(f"number at column {col} has more than {MAX_DIGITS} digits")
            tokens.append(Token("num", text[i:j], col))
            i = j
        elif ch.isascii() and (ch.isalpha() or ch == "_"):
            j = i
            while True:
                while j < n and text[j].isascii() and (text[j].isalnum() or text[j] == "_"):
                    j += 1
                if (dotted and j + 1 < n and text[j] == "."
                        and text[j + 1].isascii() and (text[j + 1].isalpha() or text[j + 1] == "_")):
                    j += 1
                    continue
                break
            tokens.append(Token("name", text[i:j], col))
            i = j
        else:
            shown = '"\'"' if ch == "'" else repr(ch)
            hint = "an operator; attribute access is not allowed" if ch == "." else None
            raise FormulaError(f"unexpected character {shown} at column {col}", expected=hint)
    tokens.append(Token("end", "", len(text) + 1))
    return tokens


def names(text: str, dotted: bool = False) -> list[tuple[str, int]]:
    """The names a formula uses, with their columns, in order (tokenizing only)."""
    return [(t.text, t.col) for t in tokenize(text, dotted) if t.kind == "name"]


Resolver = Callable[[str, int], Any]
"""name, column -> sympy expression (raise FormulaError for an unknown name)."""


def parse(text: str, resolve: Resolver, dotted: bool = False) -> Any:
    """The sympy expression of a formula; names are looked up with `resolve`."""
    tokens = tokenize(text, dotted)
    if tokens[0].kind == "end":
        raise FormulaError("empty formula", expected="e.g. 2*K^2*Cin*Cout*Hout*Wout")
    parser = _Parser(tokens, resolve, dotted)
    expr, _ = parser.expr(0)
    tok = parser.peek()
    if tok.kind != "end":
        raise parser.unexpected(tok)
    return expr


def _describe(tok: Token) -> str:
    if tok.kind == "end":
        return "end of formula"
    if tok.kind == "name":
        return f"name '{tok.text}'"
    if tok.kind == "num":
        return f"number {tok.text}"
    return f"'{tok.text}'"


def _bits(value: Any) -> int:
    """Bits of the numerator and denominator of a sympy rational constant."""
    p, q = sympy.fraction(value)
    return int(abs(int(p))).bit_length() + int(abs(int(q))).bit_length()


class _Parser:
    def __init__(self, tokens: list[Token], resolve: Resolver, dotted: bool) -> None:
        self.tokens = tokens
        self.pos = 0
        self.resolve = resolve
        self.dotted = dotted

    def peek(self) -> Token:
        return self.tokens[self.pos]

    def take(self) -> Token:
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def unexpected(self, tok: Token) -> FormulaError:
        prev = self.tokens[self.pos - 1] if self.pos > 0 else None
        after_operand = prev is not None and (prev.kind in ("name", "num") or prev.text == ")")
        hint = None
        if tok.kind == "end":
            hint = "a number, a name or '('"
        elif after_operand and (tok.kind in ("name", "num") or tok.text == "("):
            hint = "an operator; write * for a product"
        return FormulaError(f"unexpected {_describe(tok)} at column {tok.col}", expected=hint)

    # expr := term (('+' | '-') term)*
    def expr(self, depth: int) -> tuple[Any, int]:
        left, degree = self.term(depth)
        while self.peek().kind == "op" and self.peek().text in "+-":
            op = self.take()
            right, d2 = self.term(depth)
            left = sympy.Add(left, right) if op.text == "+" else sympy.Add(left, sympy.Mul(-1, right))
            degree = max(degree, d2)
        return left, degree

    # term := unary (('*' | '/') unary)*
    def term(self, depth: int) -> tuple[Any, int]:
        left, degree = self.unary(depth)
        while self.peek().kind == "op" and self.peek().text in "*/":
            op = self.take()
            right, d2 = self.unary(depth)
            degree = self._degree(degree + d2, op)
            if op.text == "*":
                left = sympy.Mul(left, right)
            else:
                if right == 0:
                    raise FormulaError(f"division by zero at column {op.col}")
                left = sympy.Mul(left, sympy.Pow(right, -1))
            self._constant_size(left, op)
        return left, degree

    # unary := ('-' | '+') unary | power
    def unary(self, depth: int) -> tuple[Any, int]:
        tok = self.peek()
        if tok.kind == "op" and tok.text in "+-":
            self.take()
            if depth + 1 > MAX_DEPTH:
                raise FormulaError(f"formula nests deeper than {MAX_DEPTH} levels at column {tok.col}")
            value, degree = self.unary(depth + 1)
            return (sympy.Mul(-1, value) if tok.text == "-" else value), degree
        return self.power(depth)

    # power := atom (('^' | '**') unary)?
    def power(self, depth: int) -> tuple[Any, int]:
        base, degree = self.atom(depth)
        tok = self.peek()
        if not (tok.kind == "op" and tok.text == "^"):
            return base, degree
        self.take()
        if depth + 1 > MAX_DEPTH:
            raise FormulaError(f"formula nests deeper than {MAX_DEPTH} levels at column {tok.col}")
        exponent, _ = self.unary(depth + 1)
        if not (exponent.is_Integer):
            raise FormulaError(
                f"exponent at column {tok.col} is not a constant integer",
                expected="e.g. K^2",
            )
        e = int(exponent)
        if abs(e) > MAX_EXPONENT:
            raise FormulaError(
                f"exponent {e} at column {tok.col} is too large", expected=f"at most {MAX_EXPONENT}"
            )
        if base == 0 and e < 0:
            raise FormulaError(f"division by zero at column {tok.col}")
        if base.is_Number and _bits(base) * max(abs(e), 1) > MAX_CONSTANT_BITS:
            raise FormulaError(f"constant at column {tok.col} is too large")
        degree = self._degree(degree * abs(e), tok)
        return sympy.Pow(base, e), degree

    # atom := NUMBER | NAME | '(' expr ')'
    def atom(self, depth: int) -> tuple[Any, int]:
        tok = self.take()
        if tok.kind == "num":
            exact = Fraction(tok.text)  # digits and at most one '.', checked by the tokenizer
            return sympy.Rational(exact.numerator, exact.denominator), 0
        if tok.kind == "name":
            nxt = self.peek()
            if nxt.kind == "op" and nxt.text == "(":
                self.pos += 1
                raise FormulaError(
                    f"unexpected '(' at column {nxt.col}",
                    expected="an operator; function calls are not allowed",
                )
            value = self.resolve(tok.text, tok.col)
            return value, 0 if getattr(value, "is_Number", False) else 1
        if tok.kind == "op" and tok.text == "(":
            if depth + 1 > MAX_DEPTH:
                raise FormulaError(f"formula nests deeper than {MAX_DEPTH} levels at column {tok.col}")
            value, degree = self.expr(depth + 1)
            close = self.peek()
            if not (close.kind == "op" and close.text == ")"):
                if close.kind == "end":
                    raise FormulaError(
                        f"'(' at column {tok.col} is never closed", expected="')'"
                    )
                raise self.unexpected(close)
            self.take()
            return value, degree
        self.pos -= 1
        raise self.unexpected(tok)

    def _degree(self, degree: int, tok: Token) -> int:
        if degree > MAX_DEGREE:
            raise FormulaError(
                f"formula reaches degree {degree} at column {tok.col}",
                expected=f"a polynomial of degree at most {MAX_DEGREE}",
            )
        return degree

    def _constant_size(self, value: Any, tok: Token) -> None:
        if value.is_Number and _bits(value) > MAX_CONSTANT_BITS:
            raise FormulaError(f"constant at column {tok.col} is too large")
