"""`calc derive TOPIC [--format text|md|latex]`, `calc derive --list`, `calc derive --all`.

An unknown topic is a usage error (exit 2, listing the topics); a step that does not hold is a
`DerivationError` (exit 1, naming the step).
"""

from __future__ import annotations

import argparse
from typing import Any

from calc.errors import UsageError
from calc.files import check_output, emit

HELP = "derivations of the formulas, each step checked with sympy (calc derive --list)"
FORMATS = ("text", "md", "latex")
"""As calc.derive.render.FORMATS; not imported from there, which would load sympy for every command."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("topic", nargs="?", help="the derivation to show (see --list)")
    parser.add_argument("--list", action="store_true", help="list the topics")
    parser.add_argument("--all", action="store_true", help="every topic (md: docs/derivations.md)")
    parser.add_argument("--format", default="text", choices=FORMATS, help="output format")
    parser.add_argument("-o", "--output", metavar="FILE", help="write to FILE (atomically) instead of stdout")


def run(args: Any) -> int:
    from calc import derive
    from calc.derive.render import render

    names = ", ".join(derive.TOPICS)
    if args.output:
        check_output(args.output)
    if args.list:
        width = max(len(t) for t in derive.TOPICS)
        emit("".join(f"{t:<{width}}  {derive.title(t)}\n" for t in derive.TOPICS), args.output)
        return 0
    if args.all:
        if args.format == "md":
            emit(derive.document(), args.output)
        else:
            emit("\n".join(render(derive.build(t), args.format) for t in derive.TOPICS), args.output)
        return 0
    if args.topic is None:
        raise UsageError("calc derive: no topic given", expected=f"one of {names}, or --list")
    if args.topic not in derive.TOPICS:
        raise UsageError(f"calc derive: unknown topic '{args.topic}'", expected=f"one of {names}")
    emit(render(derive.build(args.topic), args.format), args.output)
    return 0
