"""Command line: ``calc layer KIND --field value ...`` and the network commands.

`main(argv) -> int` never raises: a bad spec prints one line and returns 1, bad usage one line
and 2.  Heavy modules are imported inside the command that needs them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib import import_module
from typing import Any

from calc.errors import CalcError, UsageError

FORMATS = ("text", "md", "csv", "json", "latex")
DTYPES = ("fp32", "fp16", "bf16", "int8", "fp64")


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line (raised, not printed and exited)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}", expected=f"see '{self.prog} --help'")


def _common(parser: argparse.ArgumentParser, formats: Sequence[str] = FORMATS) -> None:
    parser.add_argument("--convention", default="exact", help="counting convention (see 'calc conventions')")
    parser.add_argument("--dtype", default="fp32", choices=DTYPES, help="element type for memory bytes")
    parser.add_argument("--format", default="text", choices=formats, help="output format")
    parser.add_argument("--units", action="store_true", help="K/M/G/T instead of exact integers")
    parser.add_argument("-o", "--output", metavar="FILE", help="write to FILE (atomically) instead of stdout")


def _value(text: str) -> Any:
    """A command-line value: an int, a comma list of ints, or a word (e.g. 'same')."""
    parts = text.split(",")
    try:
        numbers = [int(p) for p in parts]
    except ValueError:
        try:
            return float(text) if "." in text or "e" in text.lower() else text
        except ValueError:
            return text
    return numbers[0] if len(numbers) == 1 else numbers


def _add_layer_commands(sub: Any) -> None:
    from calc.layers import REGISTRY

    for tag, cls in sorted(REGISTRY.items()):
        doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else tag
        p = sub.add_parser(tag, help=doc, description=doc)
        for name, info in cls.model_fields.items():
            if name in ("type", "name"):
                continue
            flag = f"--{name}"
            if info.annotation is bool:
                p.add_argument(flag, action=argparse.BooleanOptionalAction, default=None)
            else:
                p.add_argument(flag, type=_value, default=None, metavar="V")
        _common(p)
        p.set_defaults(kind=tag, layer_fields=[n for n in cls.model_fields if n not in ("type", "name")])


def build_parser(layer_kinds: bool = True) -> argparse.ArgumentParser:
    """The whole parser.  Its `layer` command has one sub-command per layer kind, built from the
    records' fields; that needs the records (pydantic), so it is left out (`layer_kinds=False`)
    when another command runs."""
    parser = _Parser(prog="calc", description="Exact parameters, MACs, FLOPs and memory access of neural-network layers and networks.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    layer = commands.add_parser("layer", help="cost one layer: calc layer conv --K 3 --Cin 64 ...")
    if layer_kinds:
        _add_layer_commands(layer.add_subparsers(dest="kind", required=True, parser_class=_Parser))

    report = commands.add_parser("report", help="per-layer table and totals of a network spec")
    report.add_argument("spec", help="a YAML network spec, e.g. specs/resnet50.yaml")
    report.add_argument("--depth", type=int, metavar="N", help="collapse rows below depth N of the path")
    report.add_argument("--top", type=int, metavar="N", help="only the N costliest rows (totals stay whole)")
    report.add_argument("--input", metavar="CxHxW", help="another input size, e.g. 3x320x320")
    report.add_argument("--fold-bn", action="store_true", help="fold batch norms into the conv/linear before them")
    _common(report)

    symbolic = commands.add_parser("symbolic", help="a network's totals as closed forms in its input size")
    symbolic.add_argument("spec", help="a YAML network spec")
    symbolic.add_argument("--vars", default="H,W", help="input sizes to keep symbolic (default H,W)")
    symbolic.add_argument("--convention", default="exact", help="counting convention for FLOPs")
    symbolic.add_argument("--format", default="text", choices=("text", "md", "latex", "json"))

    for name, module in EXTENSIONS.items():
        import_module(module).add_arguments(commands.add_parser(name, help=import_module(module).HELP))

    cmp = commands.add_parser("compare", help="a network under every convention, and where they differ")
    cmp.add_argument("spec", help="a YAML network spec")
    cmp.add_argument("--conventions", help="comma-separated subset (default: all)")
    cmp.add_argument("--format", default="text", choices=FORMATS)
    cmp.add_argument("-o", "--output", metavar="FILE", help="write to FILE (atomically)")

    commands.add_parser("schema", help="print the JSON Schema of the spec format")
    conv = commands.add_parser("conventions", help="list the counting conventions and their rules")
    conv.add_argument("names", nargs="*", help="only these conventions")
    return parser


def _emit(text: str, output: str | None) -> None:
    if output is None:
        sys.stdout.write(text)
        return
    from calc.files import write_atomic

    write_atomic(output, text)


def _cmd_layer(args: argparse.Namespace) -> int:
    from calc import conventions
    from calc.cost import dtype
    from calc.parse import parse_layer
    from calc.render import render
    from calc.report import evaluate_layer

    data = {"type": args.kind}
    for name in args.layer_fields:
        value = getattr(args, name)
        if value is not None:
            data[name] = value
    try:
        layer = parse_layer(data)
        report = evaluate_layer(layer, conventions.get(args.convention), dtype(args.dtype))
    except CalcError as exc:
        if exc.field:
            exc.field = f"--{exc.field}"
        raise UsageError(exc.one_line(), expected=None) from None
    _emit(render(report, args.format, args.units), args.output)
    return 0


def _cmd_conventions(args: argparse.Namespace) -> int:
    from calc.conventions import CONVENTIONS, OPS, get

    chosen = [get(n) for n in args.names] if args.names else list(CONVENTIONS.values())
    lines = []
    for c in chosen:
        lines.append(f"{c.name}: {c.title}\n  source: {c.source}")
        for op in OPS:
            r = c.rule_for(op)
            lines.append(f"  {op:<18} {r.formula():<40} {r.note}".rstrip())
            for call in ("functional", "method"):
                special = c.rule_for(op, call)
                if special is not r:
                    lines.append(f"    as {call:<11}  {special.formula():<40} {special.note}".rstrip())
        if c.batch_one:
            lines.append("  NB: defined for batch 1 only")
        lines.extend(f"  NB: {n}" for n in c.notes)
        lines.append("")
    sys.stdout.write("\n".join(lines))
    return 0


def _positive(value: int | None, flag: str) -> None:
    if value is not None and value < 1:
        raise UsageError(f"{flag} must be a positive int, got {value}", expected="1 or more")


def parse_input(text: str, batch: int) -> tuple[int, ...]:
    try:
        dims = tuple(int(p) for p in text.lower().split("x"))
    except ValueError:
        dims = ()
    if not 1 <= len(dims) <= 4 or any(d < 1 for d in dims):
        raise UsageError(f"--input {text!r} is not a shape", expected="positive sizes like 3x224x224")
    return (batch, *dims)


def _cmd_report(args: argparse.Namespace) -> int:
    from calc import conventions
    from calc.cost import dtype
    from calc.network import load_network
    from calc.render import render
    from calc.report import collapse, top

    _positive(args.depth, "--depth")
    _positive(args.top, "--top")
    convention = conventions.get(args.convention)
    dt = dtype(args.dtype)
    network = load_network(args.spec)
    if args.fold_bn:
        from calc.network.fold import fold_batchnorm

        network = fold_batchnorm(network)
    shape = None
    if args.input:
        shape = parse_input(args.input, network.input_shape[0])
        if len(shape) != len(network.input_shape):
            raise UsageError(
                f"--input {args.input} has {len(shape) - 1} sizes, the spec's input has "
                f"{len(network.input_shape) - 1}", expected="the same number of sizes",
            )
    report = network.evaluate(convention, dt, shape)
    if args.depth:
        report = collapse(report, args.depth)
    if args.top:
        report = top(report, args.top)
    _emit(render(report, args.format, args.units), args.output)
    return 0


def _cmd_schema(args: argparse.Namespace) -> int:
    import json

    from calc.schema import spec_schema

    sys.stdout.write(json.dumps(spec_schema(), indent=2) + "\n")
    return 0


def _cmd_symbolic(args: argparse.Namespace) -> int:
    from calc import conventions
    from calc.network import load_network
    from calc.symbolic import closed_form, render_closed_form

    variables = tuple(v.strip() for v in args.vars.split(",") if v.strip())
    if not variables:
        raise UsageError("--vars names no variable", expected="e.g. H,W")
    form = closed_form(load_network(args.spec), conventions.get(args.convention), variables)
    sys.stdout.write(render_closed_form(form, args.format))
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from calc import conventions
    from calc.compare import compare, render_comparison
    from calc.network import load_network

    names = None
    if args.conventions:
        names = [n.strip() for n in args.conventions.split(",") if n.strip()]
        for n in names:
            conventions.get(n)
    result = compare(load_network(args.spec), names)
    _emit(render_comparison(result, args.format), args.output)
    return 0


COMMANDS = {
    "compare": _cmd_compare,
    "layer": _cmd_layer, "report": _cmd_report, "schema": _cmd_schema,
    "conventions": _cmd_conventions, "symbolic": _cmd_symbolic,
}

EXTENSIONS: dict[str, str] = {"derive": "calc.derive.cli", "check": "calc.claims.cli"}
"""Commands implemented in their own module: name -> module with HELP, add_arguments(parser)
and run(args) -> int."""


def main(argv: Sequence[str] | None = None) -> int:
    # Counts are exact whatever their size: messages and reports may quote ints of more than
    # Python's default 4300-digit text limit.
    import gc
    import os

    from calc.arith import all_digits

    # calc's own records use no pydantic plugin; skipping their discovery saves an
    # importlib.metadata scan of every installed distribution on each command.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

    # A command is short-lived and keeps what it builds to the end: the cyclic garbage
    # collector's passes over 10^5 live objects cost more than they could ever free.
    gc.disable()
    try:
        with all_digits():
            return _main(argv)
    finally:
        gc.enable()


def _main(argv: Sequence[str] | None) -> int:
    try:
        argv = list(sys.argv[1:] if argv is None else argv)
        args = build_parser(layer_kinds=bool(argv) and argv[0] == "layer").parse_args(argv)
        if args.command in EXTENSIONS:
            return int(import_module(EXTENSIONS[args.command]).run(args))
        return COMMANDS[args.command](args)
    except CalcError as exc:
        print(f"error: {exc.one_line()}" if isinstance(exc, UsageError) else exc.one_line(), file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
