"""``calc check``: is a cost formula right?  One formula against a layer quantity, or every claim
of a claims file.

    calc check "2*H*W*Cin*K*K*Cout" --against conv.flops --var H=Hout --var W=Wout
    calc check "k*k*M*M + M" --against depthwise.params --var k=K --var M=Cin
    calc check --claims specs/claims/seeds.yaml --format md -o docs/claims.md

Exit status: one formula 0 when it holds under the asked convention (under any, when none was
asked), 1 when it does not; a claims file 0 when every verdict is the expected one, 1 when some
differ (listed on stderr); 2 for bad usage, e.g. a formula that cannot be read.
This module stays cheap to import: sympy is loaded by `run`.
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any

from calc.files import check_output, emit

HELP = "check a cost formula (or a claims file) against the library: proof or smallest counterexample"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = HELP + "."
    parser.add_argument("formula", nargs="?", help="e.g. '2*H*W*Cin*K^2*Cout' (numbers, names, + - * / ^, parentheses)")
    parser.add_argument("--against", metavar="KIND.QUANTITY", help="e.g. conv.flops, depthwise.params, linear.macs")
    parser.add_argument("--convention", default=None, help="check under this convention only (default: all, for flops)")
    parser.add_argument("--bias", action=argparse.BooleanOptionalAction, default=None,
                        help="layer with / without bias (default: the kind's default, with bias)")
    parser.add_argument("--bn", action=argparse.BooleanOptionalAction, default=None,
                        help="the layer carries a batch norm (priced as its own operation)")
    parser.add_argument("--var", action="append", default=[], metavar="NAME=VARIABLE",
                        help="read a letter of the formula as a variable of the kind, e.g. M=Cin, H=Hout")
    parser.add_argument("--set", dest="fixed", action="append", default=[], metavar="VARIABLE=INT",
                        help="hold a variable at a value, e.g. Hout=1")
    parser.add_argument("--claims", metavar="FILE", help="check every claim of a claims file instead")
    parser.add_argument("--format", default="text", choices=("text", "md", "json"), help="output format")
    parser.add_argument("-o", "--output", metavar="FILE", help="write to FILE (atomically) instead of stdout")


def _pairs(values: list[str], flag: str, want_int: bool) -> tuple[tuple[str, Any], ...]:
    from calc.cli import shown
    from calc.errors import UsageError
    from calc.limits import MAX_INT_DIGITS

    out = []
    for text in values:
        name, eq, value = text.partition("=")
        name, value = name.strip(), value.strip()
        if not eq or not name or not value:
            raise UsageError(f"{flag} {text!r} is not NAME=VALUE", expected="e.g. " + ("Hout=1" if want_int else "M=Cin"))
        if want_int:
            if not re.fullmatch(r"[+-]?[0-9]+", value):
                raise UsageError(f"{flag} {shown(text)}: {shown(value)} is not an int", expected="a positive int")
            digits = len(value.lstrip("+-"))
            if digits > MAX_INT_DIGITS:
                raise UsageError(f"{flag} {name}: an int of {digits:,} digits, more than {MAX_INT_DIGITS}",
                                 expected=f"an int of at most {MAX_INT_DIGITS} digits")
            out.append((name, int(value)))
        else:
            out.append((name, value))
    return tuple(out)


def run(args: argparse.Namespace) -> int:
    from calc.errors import UsageError

    if args.output:
        check_output(args.output, [args.claims] if args.claims else [])
    if args.claims:
        given = [flag for flag, value in (("FORMULA", args.formula), ("--against", args.against),
                                          ("--var", args.var), ("--set", args.fixed),
                                          ("--bias", args.bias), ("--bn", args.bn)) if value]
        if given:
            raise UsageError(f"--claims takes no {given[0]}", expected="either FORMULA --against ... or --claims FILE")
        return _run_claims(args)
    if not args.formula or not args.against:
        raise UsageError("give FORMULA and --against KIND.QUANTITY, or --claims FILE",
                         expected="e.g. calc check '2*K^2*Cin*Cout*Hout*Wout' --against conv.flops")
    from calc.claims.check import CheckSpec, run_check
    from calc.claims.kinds import parse_against
    from calc.claims.parser import FormulaError
    from calc.claims.render import render_check

    kind, quantity = parse_against(args.against)
    spec = CheckSpec(
        formula=args.formula, kind=kind, quantity=quantity, bias=args.bias, bn=args.bn,
        var=_pairs(args.var, "--var", False), fixed=_pairs(args.fixed, "--set", True),
        convention=args.convention,
    )
    try:
        result = run_check(spec)
    except FormulaError as exc:
        exc.message = f"formula {args.formula!r}: {exc.message}"
        raise
    emit(render_check(result, args.format), args.output)
    return 0 if result.ok else 1


def _run_claims(args: argparse.Namespace) -> int:
    from calc.errors import UsageError
    from calc.claims.claims import load_claims, run_claims
    from calc.claims.render import render_claims

    if args.convention is not None:
        from calc import conventions

        if args.convention not in conventions.CONVENTIONS:
            raise UsageError(f"unknown convention '{args.convention}'",
                             expected="one of " + ", ".join(conventions.CONVENTIONS))
    title, claims = load_claims(args.claims)
    results = run_claims(claims, args.convention)
    emit(render_claims(title, results, args.format, args.claims), args.output, [args.claims])
    bad = 0
    for r in results:
        for problem in r.mismatches():
            print(f"{args.claims}: {r.claim.id}: {problem}", file=sys.stderr)
            bad += 1
    return 1 if bad else 0
