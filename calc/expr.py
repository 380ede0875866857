"""A small, safe evaluator for the integer arithmetic allowed in spec fields.

Grammar (no `eval`, no attribute access, no calls):
    expr  := term (('+' | '-') term)*
    term  := unary (('*' | '//' | '%') unary)*
    unary := '-' unary | atom
    atom  := INT | NAME | '(' expr ')'
Names are the integer parameters of the enclosing blocks; a parameter that is a bool, a string
or anything else but an int is refused as an operand (`true + true` is not 2).  Length and
nesting are bounded, and so is every value: each literal and each intermediate result has at
most `calc.limits.MAX_INT_DIGITS` digits, checked after every operation, so `p*p*p*...` stops
at the first product past the bound instead of building a huge int.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from calc.limits import int_too_big, too_big

MAX_LENGTH = 256
MAX_DEPTH = 32

_OPERATOR = re.compile(r"[-+*/%()]")
_TOKEN = re.compile(r"\s*(?:([0-9]+)|([A-Za-z_][A-Za-z_0-9]*)|(//|[-+*%()])|(\S))")


class ExprError(ValueError):
    """An expression that does not parse or evaluate; the message says why."""


class ExprTooBig(ExprError):
    """A literal or an intermediate result with more than MAX_INT_DIGITS digits."""


def tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:  # only trailing whitespace is left
            break
        number, name, op, bad = m.groups()
        if bad is not None:
            hint = " (use // for floor division)" if bad == "/" else ""
            raise ExprError(f"unexpected character {bad!r} at position {m.start(4) + 1}{hint}")
        out.append(("int", number) if number else ("name", name) if name else ("op", op))
        pos = m.end()
    return out


def names(text: str) -> set[str]:
    """Names an expression refers to (empty if it does not tokenise)."""
    try:
        return {v for k, v in tokens(text) if k == "name"}
    except ExprError:
        return set()


def is_expression(text: str) -> bool:
    """True if `text` is meant as arithmetic: it uses an operator or parenthesis ('planes * 4',
    '(c + 1) // 2', '-1').  A bare word ('same', 'relu6') or a single name is not."""
    return _OPERATOR.search(text) is not None


def evaluate(text: str, scope: Mapping[str, Any]) -> int:
    """The int value of `text`; names are looked up in `scope` and must be ints."""
    if len(text) > MAX_LENGTH:
        raise ExprError(f"expression longer than {MAX_LENGTH} characters")
    toks = tokens(text)
    if not toks:
        raise ExprError("empty expression")
    parser = _Parser(toks, scope)
    value = parser.expr(0)
    if parser.pos != len(toks):
        raise ExprError(f"unexpected {toks[parser.pos][1]!r} after a complete expression")
    return value


class _Parser:
    def __init__(self, toks: list[tuple[str, str]], scope: Mapping[str, Any]) -> None:
        self.toks = toks
        self.pos = 0
        self.scope = scope

    def peek(self) -> str | None:
        return self.toks[self.pos][1] if self.pos < len(self.toks) else None

    def take(self) -> tuple[str, str]:
        if self.pos >= len(self.toks):
            raise ExprError("expression ends too early")
        tok = self.toks[self.pos]
        self.pos += 1
        return tok

    def expr(self, depth: int) -> int:
        if depth > MAX_DEPTH:
            raise ExprError(f"expression nests deeper than {MAX_DEPTH}")
        value = self.term(depth)
        while self.peek() in ("+", "-"):
            op = self.take()[1]
            rhs = self.term(depth)
            value = _bounded(value + rhs if op == "+" else value - rhs, op)
        return value

    def term(self, depth: int) -> int:
        value = self.unary(depth)
        while self.peek() in ("*", "//", "%"):
            op = self.take()[1]
            rhs = self.unary(depth)
            if op == "*":
                value = _bounded(value * rhs, op)
            elif rhs == 0:
                raise ExprError("division by zero")
            else:
                value = value // rhs if op == "//" else value % rhs
        return value

    def unary(self, depth: int) -> int:
        if self.peek() == "-":
            self.take()
            return -self.unary(depth + 1)
        return self.atom(depth)

    def atom(self, depth: int) -> int:
        kind, text = self.take()
        if kind == "int":
            value = int(text)  # at most MAX_LENGTH digits: cheap
            if int_too_big(value):
                raise ExprTooBig(f"the literal {text[:10]}... {too_big(value)}")
            return value
        if kind == "name":
            if text not in self.scope:
                known = ", ".join(sorted(str(k) for k in self.scope)) or "none"
                raise ExprError(f"unknown name {text!r} (parameters in scope: {known})")
            value = self.scope[text]
            if type(value) is not int:
                raise ExprError(_not_an_int(text, value))
            if int_too_big(value):
                raise ExprTooBig(f"{text!r} {too_big(value)}")
            return value
        if text == "(":
            value = self.expr(depth + 1)
            if self.take()[1] != ")":
                raise ExprError("missing ')'")
            return value
        raise ExprError(f"unexpected {text!r}")


def _bounded(value: int, op: str) -> int:
    """`value`, or ExprTooBig if an operation took it past the bound."""
    if int_too_big(value):
        raise ExprTooBig(f"a result of '{op}' {too_big(value)}")
    return value


def _not_an_int(name: str, value: Any) -> str:
    if type(value) is bool:
        return f"{name!r} is {str(value).lower()}, a bool: arithmetic takes ints only"
    if isinstance(value, str):
        shown = value if len(value) <= 20 else value[:20] + "..."
        return f"{name!r} is the string {shown!r}, not an int"
    return f"{name!r} is a {type(value).__name__}, not an int"
