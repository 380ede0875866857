"""One hierarchy for every error the calculator reports.

Each error renders as one line: ``file:line:col: path.field: what is wrong (expected ...)``.
The CLI prints that line and exits 1 for a bad spec, 2 for bad usage (`calc layer`'s flags are
its usage, so a bad layer there exits 2).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    """Where something stands in a source file (1-based line and column)."""

    file: str
    line: int | None = None
    col: int | None = None

    def __str__(self) -> str:
        parts = [self.file]
        if self.line is not None:
            parts.append(str(self.line))
            if self.col is not None:
                parts.append(str(self.col))
        return ":".join(parts)


class CalcError(Exception):
    """Base class: a message, and optionally a location, a layer path, a field, an expectation."""

    exit_code = 1

    def __init__(
        self,
        message: str,
        *,
        location: Location | None = None,
        path: str | None = None,
        field: str | None = None,
        expected: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.location = location
        self.path = path
        self.field = field
        self.expected = expected

    def with_context(
        self,
        *,
        location: Location | None = None,
        path: str | None = None,
        field: str | None = None,
    ) -> "CalcError":
        """Fill in what is still unknown (inner context wins)."""
        if self.location is None and location is not None:
            self.location = location
        if path is not None:
            self.path = path if self.path is None else f"{path}.{self.path}" if self.path else path
        if self.field is None and field is not None:
            self.field = field
        return self

    def one_line(self) -> str:
        head = []
        if self.location is not None:
            head.append(str(self.location))
        where = ".".join(p for p in (self.path, self.field) if p)
        if where:
            head.append(where)
        text = self.message
        if self.expected:
            text += f" (expected {self.expected})"
        line = ": ".join([*head, text])
        # Names and values quoted from a spec may hold line breaks; the message stays one line.
        return line.replace("\r", "\\r").replace("\n", "\\n")

    def __str__(self) -> str:
        return self.one_line()


class SpecError(CalcError):
    """A layer or network description that is invalid (bad value, unknown field, ...)."""


class YamlError(SpecError):
    """A spec file that is not acceptable YAML (syntax, tags, aliases, depth, size)."""


class ShapeError(SpecError):
    """Shapes that do not fit: channel mismatch, kernel larger than padded input, ..."""


class ConventionError(CalcError):
    """A counting convention that is unknown or has no rule for an operation."""


class UsageError(CalcError):
    """Bad command-line usage."""

    exit_code = 2
