"""Command line: ``calc layer KIND --field value ...`` and the network commands.

`main(argv) -> int` never raises: a bad spec prints one line and returns 1, bad usage one line
and 2.  SIGINT, SIGTERM and SIGHUP end a command with one line ("calc: interrupted by SIGINT")
and exit status 128 + the signal's number (130, 143, 129), after removing any output file being
written (see calc.files).  Heavy modules are imported inside the command that needs them.
"""

from __future__ import annotations

import argparse
import re
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import import_module
from typing import Any

from calc.errors import CalcError, UsageError
from calc.files import check_output, emit
from calc.limits import MAX_INT_DIGITS

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


_INT = re.compile(r"[+-]?[0-9]+")


def shown(text: str, width: int = 40) -> str:
    """`text` quoted for a message, shortened when long (a message stays a short line)."""
    return repr(text) if len(text) <= width else f"{text[:width]!r}... ({len(text):,} characters)"


def int_arg(text: str) -> int:
    """An int written in ASCII decimal digits (no '1_000', no spaces), of at most
    MAX_INT_DIGITS digits: the bound every int a spec gives has (calc/limits.py)."""
    if not _INT.fullmatch(text):
        raise argparse.ArgumentTypeError(f"invalid int value: {shown(text)}")
    digits = len(text.lstrip("+-"))
    if digits > MAX_INT_DIGITS:
        raise argparse.ArgumentTypeError(f"an int of {digits:,} digits, more than {MAX_INT_DIGITS}")
    return int(text)


def _value(text: str) -> Any:
    """A command-line value: an int, a comma list of ints, or a word (e.g. 'same')."""
    parts = text.split(",")
    if all(_INT.fullmatch(p) for p in parts):
        numbers = [int_arg(p) for p in parts]
        return numbers[0] if len(numbers) == 1 else numbers
    try:
        return float(text) if "." in text or "e" in text.lower() else text
    except ValueError:
        return text


def _input_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", metavar="CxHxW", help="another input size per sample, e.g. 3x320x320 "
                        "(as many sizes as the spec's input)")
    parser.add_argument("--batch", type=int_arg, metavar="N", help="the batch size (default: the spec's batch)")


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
    report.add_argument("--depth", type=int_arg, metavar="N", help="collapse rows below depth N of the path")
    report.add_argument("--top", type=int_arg, metavar="N", help="only the N costliest rows (totals stay whole)")
    _input_args(report)
    report.add_argument("--fold-bn", action="store_true", help="fold batch norms into the conv/linear before them")
    _common(report)

    symbolic = commands.add_parser("symbolic", help="a network's totals as closed forms in its input size")
    symbolic.add_argument("spec", help="a YAML network spec")
    symbolic.add_argument("--vars", default="H,W", help="input sizes to keep symbolic (default H,W)")
    symbolic.add_argument("--convention", default="exact", help="counting convention for FLOPs")
    symbolic.add_argument("--format", default="text", choices=("text", "md", "latex", "json"))
    _input_args(symbolic)

    for name, module in EXTENSIONS.items():
        import_module(module).add_arguments(commands.add_parser(name, help=import_module(module).HELP))

    cmp = commands.add_parser("compare", help="a network under every convention, and where they differ")
    cmp.add_argument("spec", help="a YAML network spec")
    cmp.add_argument("--conventions", help="comma-separated subset (default: all)")
    cmp.add_argument("--format", default="text", choices=FORMATS)
    _input_args(cmp)
    cmp.add_argument("-o", "--output", metavar="FILE", help="write to FILE (atomically)")

    commands.add_parser("schema", help="print the JSON Schema of the spec format")
    conv = commands.add_parser("conventions", help="list the counting conventions and their rules")
    conv.add_argument("names", nargs="*", help="only these conventions")
    return parser


def _cmd_layer(args: argparse.Namespace) -> int:
    from calc import conventions
    from calc.cost import dtype
    from calc.parse import parse_layer
    from calc.render import render
    from calc.report import evaluate_layer

    if args.output:
        check_output(args.output)
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
    emit(render(report, args.format, args.units), args.output)
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


def parse_input(text: str) -> tuple[int, ...]:
    """`--input CxHxW`: the per-sample shape, 1 to 4 positive sizes (the batch is `--batch`)."""
    parts = text.lower().split("x")
    if not 1 <= len(parts) <= 4 or not all(_INT.fullmatch(p) for p in parts):
        raise UsageError(f"--input {shown(text)} is not a shape", expected="positive sizes like 3x224x224")
    for p in parts:
        if len(p.lstrip("+-")) > MAX_INT_DIGITS:
            raise UsageError(f"--input {shown(text)}: a size of {len(p.lstrip('+-')):,} digits, more than "
                             f"{MAX_INT_DIGITS}", expected=f"sizes of at most {MAX_INT_DIGITS} digits")
    dims = tuple(int(p) for p in parts)
    if any(d < 1 for d in dims):
        raise UsageError(f"--input {shown(text)} is not a shape", expected="positive sizes like 3x224x224")
    return dims


def _sample_and_batch(args: argparse.Namespace) -> tuple[int, ...] | None:
    """--input and --batch checked before the spec is read: the per-sample sizes (or None)."""
    _positive(args.batch, "--batch")
    return None if args.input is None else parse_input(args.input)


def _input_shape(network: Any, args: argparse.Namespace, sample: tuple[int, ...] | None) -> tuple[int, ...] | None:
    """The full input shape (N, C, *spatial) that --input and --batch ask for; None for neither."""
    if sample is None and args.batch is None:
        return None
    spec = tuple(network.input_shape)
    if sample is None:
        sample = spec[1:]
    elif len(sample) != len(spec) - 1:
        raise UsageError(
            f"--input {args.input} has {len(sample)} sizes, the spec's input has {len(spec) - 1}",
            expected="the same number of sizes; the batch is --batch N",
        )
    return (spec[0] if args.batch is None else args.batch, *sample)


def _with_input(network: Any, shape: tuple[int, ...] | None) -> Any:
    """The network read at another input shape (for the commands that evaluate it themselves)."""
    from dataclasses import replace

    return network if shape is None else replace(network, input_shape=shape)


def _cmd_report(args: argparse.Namespace) -> int:
    from calc import conventions
    from calc.cost import dtype
    from calc.network import load_network
    from calc.render import render
    from calc.report import collapse, top

    _positive(args.depth, "--depth")
    _positive(args.top, "--top")
    sample = _sample_and_batch(args)
    if args.output:
        check_output(args.output, [args.spec])
    convention = conventions.get(args.convention)
    dt = dtype(args.dtype)
    network = load_network(args.spec)
    if args.fold_bn:
        from calc.network.fold import fold_batchnorm

        network = fold_batchnorm(network)
    report = network.evaluate(convention, dt, _input_shape(network, args, sample))
    if args.depth:
        report = collapse(report, args.depth)
    if args.top:
        report = top(report, args.top)
    emit(render(report, args.format, args.units), args.output, [args.spec])
    return 0


def _cmd_schema(args: argparse.Namespace) -> int:
    import json

    from calc.schema import spec_schema

    sys.stdout.write(json.dumps(spec_schema(), indent=2) + "\n")
    return 0


def _cmd_symbolic(args: argparse.Namespace) -> int:
    from calc import conventions
    from calc.network import load_network
    from calc.closed_form import closed_form, render_closed_form

    variables = tuple(v.strip() for v in args.vars.split(",") if v.strip())
    if not variables:
        raise UsageError("--vars names no variable", expected="e.g. H,W")
    sample = _sample_and_batch(args)
    convention = conventions.get(args.convention)
    network = load_network(args.spec)
    network = _with_input(network, _input_shape(network, args, sample))
    form = closed_form(network, convention, variables)
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
    sample = _sample_and_batch(args)
    if args.output:
        check_output(args.output, [args.spec])
    network = load_network(args.spec)
    result = compare(_with_input(network, _input_shape(network, args, sample)), names)
    emit(render_comparison(result, args.format), args.output, [args.spec])
    return 0


COMMANDS = {
    "compare": _cmd_compare,
    "layer": _cmd_layer, "report": _cmd_report, "schema": _cmd_schema,
    "conventions": _cmd_conventions, "symbolic": _cmd_symbolic,
}

EXTENSIONS: dict[str, str] = {"derive": "calc.derive.cli", "check": "calc.claims.cli"}
"""Commands implemented in their own module: name -> module with HELP, add_arguments(parser)
and run(args) -> int."""


class Interrupted(KeyboardInterrupt):
    """A signal that ends the command (SIGINT, SIGTERM, SIGHUP), raised in the main thread so
    that `finally`/`except` clauses on the way out run: an output file being written is removed."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


@contextmanager
def _signals_interrupt() -> Iterator[None]:
    """While a command runs, SIGINT, SIGTERM and SIGHUP raise `Interrupted`.  Only signals left
    at their default are taken (an ignored one, e.g. under nohup, stays ignored), only in the
    main thread, and the previous handlers come back afterwards: `main` may run inside a host
    program (tests) without changing its handlers for good."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    taken = {}
    for sig in _SIGNALS:
        previous = signal.getsignal(sig)
        if previous in (signal.SIG_DFL, signal.default_int_handler):
            taken[sig] = previous

    def interrupt(signum: int, frame: Any) -> None:
        for sig in taken:  # one signal is enough: a second one must not cut the clean-up short
            signal.signal(sig, signal.SIG_IGN)
        raise Interrupted(signum)

    for sig in taken:
        signal.signal(sig, interrupt)
    try:
        yield
    finally:
        for sig, previous in taken.items():
            signal.signal(sig, previous)


def main(argv: Sequence[str] | None = None) -> int:
    import gc
    import os

    # calc's own records use no pydantic plugin; skipping their discovery saves an
    # importlib.metadata scan of every installed distribution on each command.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

    # A command is short-lived and keeps what it builds to the end: the cyclic garbage
    # collector's passes over 10^5 live objects cost more than they could ever free.
    gc.disable()
    try:
        with _signals_interrupt():
            try:
                return _main(argv)
            except KeyboardInterrupt as exc:
                signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
                print(f"calc: interrupted by {signal.Signals(signum).name}", file=sys.stderr)
                return 128 + signum
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
