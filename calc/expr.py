"""A small, safe evaluator for the integer arithmetic allowed in spec fields.

Grammar (no `eval`, no attribute access, no calls):
    expr  := term (('+' | '-') term)*
    term  := unary (('*' | '//' | '%') unary)*
    unary := '-' unary | atom
    atom  := INT | NAME | '(' expr ')'
Names are the integer parameters of the enclosing blocks.  Length and nesting are bounded.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

MAX_LENGTH = 256
MAX_DEPTH = 32

_TOKEN = re.compile(r"\s*(?:([0-9]+)|([A-Za-z_][A-Za-z_0-9]*)|(//|[-+*%()])|(\S))")


class ExprError(ValueError):
    """An expression that does not parse or evaluate; the message says why."""


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
    return any(ch in "+-*/%()" for ch in text)


def evaluate(text: str, scope: Mapping[str, int]) -> int:
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
    def __init__(self, toks: list[tuple[str, str]], scope: Mapping[str, int]) -> None:
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
            value = value + rhs if op == "+" else value - rhs
        return value

    def term(self, depth: int) -> int:
        value = self.unary(depth)
        while self.peek() in ("*", "//", "%"):
            op = self.take()[1]
            rhs = self.unary(depth)
            if op == "*":
                value = value * rhs
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
            return int(text)
        if kind == "name":
            if text not in self.scope:
                known = ", ".join(sorted(self.scope)) or "none"
                raise ExprError(f"unknown name {text!r} (parameters in scope: {known})")
            return self.scope[text]
        if text == "(":
            value = self.expr(depth + 1)
            if self.take()[1] != ")":
                raise ExprError("missing ')'")
            return value
        raise ExprError(f"unexpected {text!r}")
