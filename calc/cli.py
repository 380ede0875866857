"""Command line: ``calc layer KIND --field value ...`` and the network commands.

`main(argv) -> int` never raises: a bad spec prints one line and returns 1, bad usage one line
and 2.  SIGINT, SIGTERM and SIGHUP end a command with one line ("calc: interrupted by SIGINT")
and exit status 128 + the signal's number (130, 143, 129), after removing any output file being
written (see calc.files).  Heavy modules are imported inside the command that needs them; this
module's own imports are light (no argparse, re, typing, dataclasses), so that a `calc report`
answered from the cache (calc.cache, `cached_report`) starts in about twice `python -c pass`.
"""

from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager
from importlib import import_module
from types import ModuleType

from calc.limits import MAX_INT_DIGITS

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Iterator, Sequence
    from typing import Any

FORMATS = ("text", "md", "csv", "json", "latex")
DTYPES = ("fp32", "fp16", "bf16", "fp8", "int8", "fp64")
FORMAT_HELP = {
    "text": "plain text, aligned for a terminal",
    "md": "Markdown",
    "csv": "comma-separated values, one row per line, after '# key: value' lines",
    "json": "JSON, for programs",
    "latex": "LaTeX source (a longtable)",
    "tree": "an indented tree of blocks with their totals, percent of FLOPs and torchinfo's size estimate",
    "html": "one self-contained HTML page: charts per block, the table, memory, the conventions (needs the plot extra)",
}
"""What each --format gives, for the help of every command that has --format."""
LIST_SYNTAX = "per-axis lists as 1,7 or 1x7"

KIND_LINES = {
    "adaptive_avgpool": "adaptive average pooling to output_size (nn.AdaptiveAvgPool2d)",
    "adaptive_maxpool": "adaptive max pooling to output_size (nn.AdaptiveMaxPool2d)",
    "add": "element-wise sum of `inputs` tensors",
    "attention": "multi-head attention on (N, T, d): projections, scores, softmax, context",
    "avgpool": "average pooling, 1-, 2- or 3-d (nn.AvgPool2d)",
    "class_token": "learned tokens prepended to a sequence (ViT's class token, register tokens)",
    "moe": "mixture of experts: a router, top_k of E expert MLPs per token, shared experts",
    "position_embedding": "a learned table of positions added to a sequence (ViT, GPT-2, BERT)",
    "select": "one position of an axis, the axis dropped (x[:, 0]: ViT's class token)",
    "batchnorm": "batch norm in inference mode (nn.BatchNorm2d)",
    "groupnorm": "group norm over `groups` channel groups (nn.GroupNorm)",
    "instancenorm": "instance norm per sample and channel (nn.InstanceNorm1d/2d/3d)",
    "layernorm": "layer norm over the last axes (nn.LayerNorm)",
    "layernorm2d": "channel-first layer norm of an NCHW map (torchvision/timm LayerNorm2d)",
    "rmsnorm": "RMS norm over the last axes, weight only (nn.RMSNorm)",
    "channel_shuffle": "ShuffleNet channel shuffle",
    "concat": "concatenation along dim (channels by default)",
    "conv": "convolution, 1-, 2- or 3-d, grouped, dilated (nn.Conv2d)",
    "deconv": "transposed convolution (nn.ConvTranspose2d)",
    "depthwise": "depthwise convolution: groups = Cin",
    "dropout": "dropout: the identity at inference",
    "elu": "activation (nn.ELU)",
    "flatten": "flatten from start_dim (nn.Flatten)",
    "gelu": "activation (nn.GELU)",
    "global_avgpool": "global average pooling to 1 per channel",
    "global_maxpool": "global max pooling to 1 per channel",
    "hardsigmoid": "activation (nn.Hardsigmoid)",
    "hardswish": "activation (nn.Hardswish)",
    "identity": "passes its input through",
    "leaky_relu": "activation (nn.LeakyReLU)",
    "linear": "fully connected layer (nn.Linear)",
    "maxpool": "max pooling, 1-, 2- or 3-d (nn.MaxPool2d)",
    "mul": "element-wise product of `inputs` tensors",
    "pointwise": "1x1 convolution, may stride and be grouped",
    "prelu": "activation with learnt slopes (nn.PReLU)",
    "relu": "activation (nn.ReLU)",
    "relu6": "activation (nn.ReLU6)",
    "separable": "depthwise KxK then pointwise 1x1 convolution",
    "sigmoid": "activation (nn.Sigmoid)",
    "silu": "activation (nn.SiLU)",
    "softmax": "softmax along dim (nn.Softmax)",
    "tanh": "activation (nn.Tanh)",
    "upsample": "nearest or bilinear upsampling (nn.Upsample)",
    "permute": "reorder all axes, batch first (x.permute)",
    "transpose": "swap two axes after the batch (x.transpose)",
    "reshape": "regroup the per-sample axes, one -1 allowed (x.reshape)",
    "view": "regroup the per-sample axes, one -1 allowed (x.view)",
    "split": "one piece of x.split(sizes, dim)",
    "chunk": "one piece of x.chunk(chunks, dim)",
    "matmul": "batched, broadcast matrix product (torch.matmul, @, torch.bmm)",
    "einsum": "Einstein summation on 1-3 operands (torch.einsum)",
    "scale": "learnt per-channel multiply, layer scale (ConvNeXt, CaiT)",
    "embedding": "table lookup of token ids, 0 MACs (nn.Embedding)",
}
"""One line per layer kind for `calc layer --help` (a kind not listed shows its record's first
docstring sentence)."""


def kind_line(tag: str, cls: Any) -> str:
    if tag in KIND_LINES:
        return KIND_LINES[tag]
    doc = " ".join((cls.__doc__ or "").split())
    return doc.split(". ")[0].rstrip(".") or tag


def format_help(formats: Sequence[str], default: str = "text") -> str:
    """The help of --format: each choice and what it gives."""
    return "output format: " + "; ".join(f"{f}: {FORMAT_HELP.get(f, f)}" for f in formats) + f" (default: {default})"


def terminal_columns() -> int:
    """`shutil.get_terminal_size().columns`, without importing shutil (and bz2, lzma, fnmatch
    with it): $COLUMNS if a positive int, else the terminal of sys.__stdout__, else 80."""
    import os

    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 0
        columns = columns or 80
    return columns


_ARGPARSE: dict[str, Any] = {}


def _argparse_classes() -> tuple[type, type]:
    """(_Parser, _Formatter), made on first use (argparse is imported only by a command that
    parses its arguments with it: not by a cached report).

    _Formatter: argparse's formatter, its default width found as argparse finds it (the
    terminal's columns less 2) but without `import shutil`: argparse makes a formatter for
    every add_argument (to check the metavar), and so imported shutil on every command.
    _Parser: argparse that reports a usage error as one line (raised, not printed and exited)."""
    if not _ARGPARSE:
        import argparse

        from calc.errors import UsageError

        class _Formatter(argparse.HelpFormatter):
            def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                         width: int | None = None) -> None:
                super().__init__(prog, indent_increment, max_help_position,
                                 terminal_columns() - 2 if width is None else width)

        class _Parser(argparse.ArgumentParser):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                kwargs.setdefault("formatter_class", _Formatter)
                super().__init__(*args, **kwargs)

            def error(self, message: str) -> None:  # type: ignore[override]
                raise UsageError(f"{self.prog}: {message}{_calc_name(message)}", expected=f"see '{self.prog} --help'")

        _ARGPARSE.update(_Parser=_Parser, _Formatter=_Formatter)
    return _ARGPARSE["_Parser"], _ARGPARSE["_Formatter"]


def __getattr__(name: str) -> Any:
    if name in ("_Parser", "_Formatter"):
        return _argparse_classes()[0 if name == "_Parser" else 1]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _calc_name(message: str) -> str:
    """'; calc calls it X' for a PyTorch name where calc has its own: `calc layer Conv2d`,
    `--kernel_size 3`."""
    import re

    from calc.parse import TORCH_FIELDS, torch_kind

    choice = re.search(r"invalid choice: '([^']*)'", message)
    if choice:
        kind = torch_kind(choice.group(1))
        return f"; calc calls it '{kind}'" if kind else ""
    flag = re.search(r"unrecognized arguments: --([A-Za-z_]+)", message)
    if flag and flag.group(1) in TORCH_FIELDS:
        return f"; calc calls it '--{TORCH_FIELDS[flag.group(1)]}'"
    return ""


def _common(parser: argparse.ArgumentParser, formats: Sequence[str] = FORMATS) -> None:
    parser.add_argument("--convention", default="exact", metavar="NAME",
                        help="counting convention (default: exact; see 'calc conventions')")
    parser.add_argument("--dtype", default="fp32", choices=DTYPES,
                        help="element type, for the bytes of memory access (default: fp32)")
    parser.add_argument("--format", default="text", choices=formats, help=format_help(formats))
    parser.add_argument("--units", action="store_true", help="K/M/G/T instead of exact integers")
    _output_arg(parser)


def _output_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", metavar="FILE",
                        help="write to FILE (atomically) instead of stdout; '-' is stdout")


def _spec_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", help="a YAML network spec (a path), a library name such as resnet50 "
                                     "(see 'calc list'), '-' to read the spec from stdin, or a model "
                                     "to import: a Hugging Face config.json, an ONNX file (calc import)")
    parser.add_argument("--dim", action="append", metavar="NAME=VALUE",
                        help="an ONNX model's symbolic dimension (repeatable), e.g. --dim sequence=128")


_INT = r"[+-]?[0-9]+"
"""An int as int_arg takes it (a pattern for re.fullmatch; re caches it compiled)."""


def shown(text: str, width: int = 40) -> str:
    """`text` quoted for a message, shortened when long (a message stays a short line)."""
    return repr(text) if len(text) <= width else f"{text[:width]!r}... ({len(text):,} characters)"


def int_arg(text: str) -> int:
    """An int written in ASCII decimal digits (no '1_000', no spaces), of at most
    MAX_INT_DIGITS digits: the bound every int a spec gives has (calc/limits.py)."""
    import argparse
    import re

    if not re.fullmatch(_INT, text):
        raise argparse.ArgumentTypeError(f"invalid int value: {shown(text)}")
    digits = len(text.lstrip("+-"))
    if digits > MAX_INT_DIGITS:
        raise argparse.ArgumentTypeError(f"an int of {digits:,} digits, more than {MAX_INT_DIGITS}")
    return int(text)


def parse_dims(items: list[str]) -> dict[str, int]:
    """--dim NAME=VALUE ... (an ONNX model's symbolic dimensions) as {name: value}: each name
    once, each value a positive int."""
    import argparse

    from calc.errors import UsageError

    dims: dict[str, int] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise UsageError(f"--dim {item!r} is not NAME=VALUE", expected="e.g. --dim batch=1")
        try:
            size = int_arg(value.strip())
        except argparse.ArgumentTypeError as exc:
            raise UsageError(f"--dim {name}: {exc}", expected="a positive int") from None
        if size < 1:
            raise UsageError(f"--dim {name}={size}", expected="a positive int")
        if name in dims:
            raise UsageError(f"--dim {name} given twice", expected="each name once")
        dims[name] = size
    return dims


_LIST_SEPARATOR = r"[,xX]"


def _list_only(annotation: Any) -> bool:
    """Whether a field takes a list but no single int (a tensor's `input` shape)."""
    import types
    import typing

    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        kinds = [a for a in typing.get_args(annotation) if a is not type(None)]
        return bool(kinds) and all(typing.get_origin(a) is list for a in kinds)
    return typing.get_origin(annotation) is list


def _value(text: str) -> Any:
    """A command-line value: an int, a list of ints written 1,7 or 1x7 (the --input syntax), or
    a word (e.g. 'same')."""
    import re

    parts = re.split(_LIST_SEPARATOR, text)
    if all(re.fullmatch(_INT, p) for p in parts):
        numbers = [int_arg(p) for p in parts]
        return numbers[0] if len(numbers) == 1 else numbers
    try:
        return float(text) if "." in text or "e" in text.lower() else text
    except ValueError:
        return text


def _input_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", metavar="CxHxW", help="another input size per sample, e.g. 3x320x320 "
                        "or 3,320,320 (as many sizes as the spec's input; the batch is --batch)")
    parser.add_argument("--batch", type=int_arg, metavar="N", help="the batch size (default: the spec's batch)")


def phase_args(parser: argparse.ArgumentParser,
               context_help: str = "tokens already in the KV cache, which self attention reads too") -> None:
    """--phase and --context, which `_workload` reads (every command that prices a step of a
    language model: report, compare, symbolic, plot, roofline, memory)."""
    parser.add_argument("--phase", choices=("prefill", "decode"),
                        help="decode: one new token per sequence after --context cached ones; "
                             "prefill: the spec's tokens (or --input's) after them")
    parser.add_argument("--context", type=int_arg, metavar="P", help=context_help)


def _workload_args(parser: argparse.ArgumentParser, *, mode: bool = True) -> None:
    """What a language model is doing: training or inference, and a prefill or decode step."""
    if mode:
        parser.add_argument("--mode", default="inference", choices=("inference", "training"),
                            help="inference: a forward pass; training: a training step, as the "
                                 "convention prices one (default: inference)")
    from calc.recompute import POLICIES

    phase_args(parser)
    parser.add_argument("--recompute", choices=POLICIES,
                        help="activation recomputation in a training step: selective (the attention's "
                             "scores to its weighted sum) or full (every layer but the embeddings and "
                             "the LM head) adds their forward again (default: the convention's own)")


def _run_args(parser: argparse.ArgumentParser, *, kv: bool = True) -> None:
    """A whole run's tokens, and the KV cache's element type."""
    parser.add_argument("--tokens", type=int_arg, metavar="N",
                        help="the tokens of a whole run (a multiple of batch x T): its total FLOPs "
                             "and the FLOPs per token, e.g. --mode training --tokens 300000000000")
    if kv:
        parser.add_argument("--kv-dtype", choices=DTYPES, metavar="DTYPE",
                            help="the KV cache's element type (" + ", ".join(DTYPES) + "): its bytes "
                                 "per attention layer (json) and in total (default: not shown)")


def _workload(network: Any, args: argparse.Namespace, shape: Any) -> tuple[Any, Any]:
    """The input shape and KV-cache length --phase and --context ask for."""
    from calc.errors import UsageError

    context = getattr(args, "context", None)
    if context is not None and context < 0:
        raise UsageError(f"--context must be 0 or more, got {context}", expected="a count of cached tokens")
    if context and not network.uses_context():
        raise UsageError(f"--context: {network.name} has no self attention for a KV cache to feed",
                         expected="no --context, or a language model's spec")
    if getattr(args, "phase", None) == "decode":
        if context is None:
            raise UsageError("--phase decode needs --context: the tokens already cached",
                             expected="e.g. --phase decode --context 4095")
        if "T" not in network.axis_names():
            raise UsageError(f"--phase decode needs a sequence input {{T: ...}}; {network.name}'s is "
                             f"{network.axis_names()}", expected="a language model's spec")
        full = tuple(shape) if shape is not None else tuple(network.input_shape)
        t = network.axis_names().index("T")
        shape = (*full[:t], 1, *full[t + 1:])
    return shape, context or None


def field_help(cls: Any, name: str) -> str:
    """A layer field's help: its description (or its type in words), its default, and the list
    syntax where it takes a list."""
    from pydantic_core import PydanticUndefined

    from calc.parse import describe_type

    info = cls.model_fields[name]
    words = describe_type(info.annotation, info.metadata)
    text = info.description or words[0].upper() + words[1:]
    if "list" in words:
        text += f" ({LIST_SYNTAX})"
    if info.is_required():
        return text + " (required)"
    default = info.default
    if default is not None and default is not PydanticUndefined:
        shown_default = getattr(default, "value", default)
        if isinstance(shown_default, bool):
            shown_default = str(shown_default).lower()
        text += f" (default: {shown_default})"
    return text


def field_metavar(annotation: Any) -> str:
    """The type of a layer field for its --help: INT, INT[,INT...], NUM, WORD, or the words it
    takes ('INT[,INT...]|same|valid', 'relu|relu6|...')."""
    import enum
    import types
    import typing

    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        parts = [field_metavar(a) for a in args if a is not type(None)]
        if "INT[,INT...]" in parts and "INT" in parts:
            parts.remove("INT")
        return "|".join(dict.fromkeys(parts))
    if origin is typing.Annotated:
        return field_metavar(args[0])
    if origin is typing.Literal:
        return "|".join(str(a) for a in args)
    if origin is list:
        inner = field_metavar(args[0])
        return f"{inner}[,{inner}...]"
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return "|".join(str(m.value) for m in annotation)
    return {int: "INT", float: "NUM", str: "WORD"}.get(annotation, "VALUE")


def _add_layer_commands(sub: Any) -> None:
    import argparse

    from calc.layers import REGISTRY

    for tag, cls in sorted(REGISTRY.items()):
        line = kind_line(tag, cls)
        p = sub.add_parser(tag, help=line, description=f"{tag}: {line}.")
        for name, info in cls.model_fields.items():
            if name in ("type", "name"):
                continue
            flag = f"--{name}"
            if info.annotation is bool:
                p.add_argument(flag, action=argparse.BooleanOptionalAction, default=None,
                               help=field_help(cls, name))
            else:
                p.add_argument(flag, type=_value, default=None, metavar=field_metavar(info.annotation),
                               help=field_help(cls, name))
        _common(p)
        p.set_defaults(kind=tag, layer_fields=[n for n in cls.model_fields if n not in ("type", "name")])


def build_parser(layer_kinds: bool = True, command: str | None = None) -> argparse.ArgumentParser:
    """The whole parser.  Its `layer` command has one sub-command per layer kind, built from the
    records' fields; that needs the records (pydantic), so it is left out (`layer_kinds=False`)
    when another command runs.  The commands implemented in their own modules (EXTENSIONS:
    derive, check) get their options only when `command` is None (the whole parser) or theirs:
    `calc report` does not import them."""
    from calc import __version__

    _Parser = _argparse_classes()[0]
    parser = _Parser(prog="calc", description="Exact parameters, MACs, FLOPs and memory access of neural-network layers and networks.")
    parser.add_argument("--version", action="version", version=f"calc {__version__}",
                        help="print the version and exit")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")

    layer = commands.add_parser(
        "layer", help="cost one layer: calc layer conv --K 3 --Cin 64 ...",
        description="Cost one layer, its fields given as options: calc layer conv --K 3 --Cin 64 --Cout 128 "
                    "--H 56 --W 56 --padding 1.  'calc layer KIND --help' lists a kind's fields.",
    )
    if layer_kinds:
        _add_layer_commands(layer.add_subparsers(dest="kind", required=True, parser_class=_Parser,
                                                 metavar="KIND", title="layer kinds"))

    report = commands.add_parser("report", help="per-layer table and totals of a network spec")
    _spec_arg(report)
    report.add_argument("--depth", type=int_arg, metavar="N", help="collapse rows below depth N of the path")
    report.add_argument("--top", type=int_arg, metavar="N", help="only the N costliest rows (totals stay whole)")
    _input_args(report)
    _workload_args(report)
    _run_args(report)
    report.add_argument("--fold-bn", action="store_true", help="fold batch norms into the conv/linear before them")
    report.add_argument("--hw", metavar="NAME|FILE",
                        help="with --format html: a device for the roofline section (see 'calc hardware')")
    report.add_argument("--no-cache", action="store_true",
                        help="neither read nor write the report cache (also: FLOPCALC_NO_CACHE=1; see calc.cache)")
    _common(report, (*FORMATS, "tree", "html"))

    symbolic = commands.add_parser("symbolic", help="a network's totals as closed forms in its input size")
    _spec_arg(symbolic)
    symbolic.add_argument("--vars", default=None, metavar="NAME[,NAME...]",
                          help="input sizes to keep symbolic, among N, L, D, H, W, and T for a "
                               "sequence input {T: ...} (default: T for a sequence, else H,W)")
    symbolic.add_argument("--convention", default="exact", metavar="NAME",
                          help="counting convention for FLOPs (default: exact; see 'calc conventions')")
    symbolic_formats = ("text", "md", "latex", "json")
    symbolic.add_argument("--format", default="text", choices=symbolic_formats, help=format_help(symbolic_formats))
    _input_args(symbolic)
    _workload_args(symbolic)

    plot = commands.add_parser("plot", help="a chart of a network's cost as a file (svg, png, pdf; the plot extra)")
    _spec_arg(plot)
    plot.add_argument("--kind", default="layers", choices=("layers", "memory", "conventions", "roofline"),
                      help="layers: cost per block; memory: activations over the network; conventions: "
                           "FLOPs under each convention; roofline: each operation on a device's roofline "
                           "(needs --hw) (default: layers)")
    plot.add_argument("--hw", metavar="NAME|FILE", help="the device of --kind roofline (see 'calc hardware')")
    plot.add_argument("--metric", default="flops", choices=("macs", "flops", "params", "mem_bytes", "mem_access"),
                      help="what --kind layers draws (default: flops)")
    plot.add_argument("--depth", type=int_arg, metavar="N", help="the block level drawn (default: the "
                      "deepest with at most 40 bars)")
    plot.add_argument("--convention", default=None, metavar="NAME",
                      help="counting convention (default: exact; 2mac for --kind roofline, as device "
                           "peaks count a multiply-add as 2; see 'calc conventions')")
    plot.add_argument("--dtype", default="fp32", choices=DTYPES, help="element type (default: fp32)")
    _input_args(plot)
    _workload_args(plot)
    plot.add_argument("-o", "--output", metavar="FILE", required=True,
                      help="the file to write; its suffix (.svg, .png, .pdf) is the format")

    for name, module in EXTENSIONS.items():
        if command is None or command == name:
            extension = import_module(module)
            extension.add_arguments(commands.add_parser(name, help=extension.HELP))
        else:  # another command runs: the name only (its help is never shown)
            commands.add_parser(name)

    cmp = commands.add_parser("compare", help="a network under every convention, and where they differ")
    _spec_arg(cmp)
    cmp.add_argument("--conventions", metavar="NAME[,NAME...]", help="comma-separated subset (default: all)")
    cmp.add_argument("--mode", default="inference", choices=("inference", "training"),
                     help="training: a training step under each convention that states a backward "
                          "rule, e.g. calc compare gpt2 --mode training (default: inference)")
    cmp.add_argument("--format", default="text", choices=FORMATS, help=format_help(FORMATS))
    _input_args(cmp)
    _workload_args(cmp, mode=False)
    _run_args(cmp, kv=False)
    _output_arg(cmp)

    commands.add_parser("list", help="the library of network specs shipped with calc, one line each")
    commands.add_parser("schema", help="print the JSON Schema of the spec format")
    conv = commands.add_parser("conventions", help="list the counting conventions and their rules")
    conv.add_argument("names", nargs="*", metavar="NAME", help="only these conventions")
    _document_shared_options(parser)
    return parser


def _document_shared_options(parser: argparse.ArgumentParser) -> None:
    """Every --format (the extension commands' too) says what each of its choices gives, and
    every -o says that '-' is stdout (which `_main` makes it for every command)."""
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _document_shared_options(sub)
        elif action.dest == "format" and action.choices:
            action.help = format_help(list(action.choices), action.default)
        elif action.dest == "output" and "'-'" not in (action.help or ""):
            action.help = f"{action.help or 'write to FILE'}; '-' is stdout"


def _cmd_layer(args: argparse.Namespace) -> int:
    from calc import conventions
    from calc.errors import CalcError, UsageError
    from calc.files import check_output, emit
    from calc.cost import dtype
    from calc.parse import parse_layer
    from calc.render import render
    from calc.report import evaluate_layer

    if args.output:
        check_output(args.output)
    from calc.layers import REGISTRY

    fields = REGISTRY[args.kind].model_fields
    data = {"type": args.kind}
    for name in args.layer_fields:
        value = getattr(args, name)
        if value is not None:
            # `--input 5` is a list of one size where the field takes only lists
            data[name] = [value] if type(value) is int and _list_only(fields[name].annotation) else value
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
    from calc.errors import UsageError

    if value is not None and value < 1:
        raise UsageError(f"{flag} must be a positive int, got {value}", expected="1 or more")


def parse_input(text: str) -> tuple[int, ...]:
    """`--input CxHxW` (or C,H,W): the per-sample shape, 1 to 4 positive sizes (the batch is
    `--batch`)."""
    import re

    from calc.errors import UsageError

    parts = re.split(_LIST_SEPARATOR, text)
    if not 1 <= len(parts) <= 4 or not all(re.fullmatch(_INT, p) for p in parts):
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
    from calc.errors import UsageError

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


STDIN = "-"
STDIN_NAME = "<stdin>"


def spec_inputs(spec: str) -> list[str]:
    """The files a command reads for `spec` (that -o must not overwrite): none for stdin."""
    if spec == STDIN:
        return []
    return [_spec_file(spec)]


def _spec_file(spec: str) -> str:
    """The file a spec argument names: the path itself if it exists, else the library spec of
    that name ('resnet50' or 'resnet50.yaml'), else the path (whose reading says 'no such file')."""
    import os

    if os.path.exists(spec) or _has_separator(spec):
        return spec
    from calc.library import library_path

    return library_path(spec.removesuffix(".yaml")) or spec


STDIN_MAX_BYTES = 4 * 1024 * 1024
"""calc.yamlload.MAX_BYTES (a test checks), here so that reading stdin imports no PyYAML."""


def read_stdin() -> bytes:
    """The spec's bytes on stdin: one byte past the bound at most (network_from_text refuses a
    spec that is too large)."""
    from calc.errors import UsageError

    if sys.stdin is None:  # started with stdin closed (e.g. pythonw, some daemons)
        raise UsageError("'-' reads the spec from stdin, and there is no stdin", expected="a path to a YAML spec")
    try:
        return sys.stdin.buffer.read(STDIN_MAX_BYTES + 1)
    except (OSError, ValueError, AttributeError) as exc:  # closed, captured, not a byte stream
        from calc.errors import Location, YamlError

        raise YamlError(f"cannot read standard input: {getattr(exc, 'strerror', None) or exc}",
                        location=Location(STDIN_NAME), expected="a spec on stdin") from None


def load_spec(spec: str, stdin_bytes: bytes | None = None, dims: list[str] | None = None) -> Any:
    """The network a spec argument names: a file, a library spec (see `calc list`), '-' for
    the spec's text on stdin (named <stdin> in errors; `stdin_bytes` if already read), or a model
    imported in memory (a config.json, an .onnx file with `dims`, --dim's NAME=VALUE items)."""
    from calc.errors import UsageError, YamlError
    from calc.network import load_network, network_from_text

    if dims and not spec.endswith(".onnx"):
        raise UsageError(f"--dim sizes an ONNX model's symbolic dimensions; {shown(spec)} is not an .onnx file",
                         expected="no --dim (--input and --batch size a spec)")

    if spec == STDIN:
        return network_from_text(read_stdin() if stdin_bytes is None else stdin_bytes, STDIN_NAME)
    path = _spec_file(spec)
    if path.endswith(".json"):  # a Hugging Face config.json, imported in memory (docs/import.md)
        from calc.importers.hf import network_from_config

        return network_from_config(path)
    if path.endswith(".onnx"):  # an ONNX model, imported in memory (docs/import-onnx.md)
        from calc.importers.onnx import network_from_onnx

        return network_from_onnx(path, parse_dims(dims or []))
    try:
        return load_network(path)
    except YamlError as exc:
        if exc.message == "no such file" and path == spec and not _has_separator(spec):
            from calc.library import library_names
            from calc.parse import suggest

            exc.message += ", and no library spec of that name" + suggest(spec.removesuffix(".yaml"), library_names())
            exc.expected = "a path to a YAML spec, or a library name (see 'calc list')"
        raise


def _has_separator(spec: str) -> bool:
    import os

    return os.sep in spec or bool(os.altsep and os.altsep in spec)


def _cmd_list(args: argparse.Namespace) -> int:
    from calc.library import describe, library_names

    names = library_names()
    width = max((len(n) for n in names), default=0)
    sys.stdout.write("".join(f"{n:<{width}}  {describe(n)}\n" for n in names))
    return 0


REPORT_UNCACHED = frozenset({"command", "spec", "output", "no_cache", "input"})
"""`calc report`'s arguments that do not go into the cache key as they are: the spec (its bytes
and name do), -o (where the text goes), --no-cache, and --input (its parsed sizes do).  Every
other option (any added later too) is part of the key."""


def _report_cache(args: argparse.Namespace, sample: tuple[int, ...] | None) -> tuple[str | None, bytes | None, Any]:
    """(key, spec bytes, error) of the report cache for this command: key None when the cache
    is off or the spec is not a regular file or stdin; for stdin, the bytes read (or the error
    reading them, raised where the uncached command raises it)."""
    from calc import cache
    from calc.errors import CalcError

    if args.no_cache or cache.disabled():
        return None, None, None
    if args.spec == STDIN:
        try:
            data = read_stdin()
        except CalcError as exc:
            return None, None, exc
        source = STDIN_NAME
        if len(data) > STDIN_MAX_BYTES:
            return None, data, None
    else:
        source = _spec_file(args.spec)
        data = cache.read_spec_file(source)
        if data is None:
            return None, None, None
    options = [(k, v) for k, v in vars(args).items() if k not in REPORT_UNCACHED]
    options.append(("input", sample))
    return cache.key(data, source, options), data, None


REPORT_DEFAULTS = {"convention": "exact", "dtype": "fp32", "format": "text", "units": False, "depth": None,
                   "top": None, "batch": None, "fold_bn": False, "mode": "inference", "phase": None,
                   "context": None, "recompute": None, "tokens": None, "kv_dtype": None, "hw": None,
                   "dim": None}
"""The keyed options of `calc report` and their defaults, as its parser has them (a test checks)."""
_PLAIN_VALUED = {"--convention": "convention", "--dtype": "dtype", "--format": "format", "--depth": "depth",
                 "--top": "top", "--batch": "batch", "--input": "input", "--mode": "mode", "--phase": "phase",
                 "--context": "context", "--recompute": "recompute", "--tokens": "tokens",
                 "--kv-dtype": "kv_dtype"}
_PLAIN_FLAGS = {"--units": "units", "--fold-bn": "fold_bn"}
_PLAIN_INTS = ("depth", "top", "batch", "context", "tokens")


def _plain_int(text: str) -> int | None:
    """What int_arg makes of `text` when it is plain ASCII digits, else None."""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= MAX_INT_DIGITS else None


def _plain_report_args(argv: Sequence[str]) -> tuple[str, list[tuple[str, Any]]] | None:
    """(spec, keyed options) of `calc report ARGV` when every argument is in a plain form:
    the spec once, each option of REPORT_DEFAULTS at most once as `--name value`, `--name=value`
    or a bare flag, values as int_arg and parse_input read them.  None for anything else
    (stdin, -o, --no-cache, --help, abbreviations, repeats, '--', values that would be errors):
    argparse then parses the command as always.  The options come out as `_report_cache` makes
    them from argparse's result, so both find the same entry."""
    spec = None
    values: dict[str, Any] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg in _PLAIN_FLAGS:
            name, value = _PLAIN_FLAGS[arg], True
        elif arg.startswith("-") and arg != STDIN:
            flag, equals, value = arg.partition("=")
            name = _PLAIN_VALUED.get(flag)
            if name is None:
                return None
            if not equals:
                if i >= len(argv):
                    return None
                value = argv[i]
                i += 1
            if value.startswith("-"):
                return None
        else:
            if spec is not None or arg == STDIN:
                return None
            spec = arg
            continue
        if name in values:
            return None
        values[name] = value
    if spec is None:
        return None
    for name in _PLAIN_INTS:
        if name in values:
            values[name] = _plain_int(values[name])
            if values[name] is None:
                return None
    sample = None
    if "input" in values:
        parts = values.pop("input").replace("x", ",").replace("X", ",").split(",")
        sizes = [_plain_int(p) for p in parts]
        if not 1 <= len(sizes) <= 4 or None in sizes or 0 in sizes:
            return None
        sample = tuple(sizes)
    options = [(k, values.get(k, default)) for k, default in REPORT_DEFAULTS.items()]
    options.append(("input", sample))
    return spec, options


def cached_report(argv: Sequence[str]) -> str | None:
    """The text of `calc report ARGV` (arguments after 'report') from the report cache, or None
    (cache off, arguments not in a plain form, no entry): then the command runs as always.
    Imports argparse, PyYAML and pydantic no more than calc.cache does: not at all."""
    from calc import cache

    try:
        if cache.disabled():
            return None
        parsed = _plain_report_args(argv)
        if parsed is None:
            return None
        spec, options = parsed
        source = _spec_file(spec)
        data = cache.read_spec_file(source)
        if data is None:
            return None
        return cache.load(cache.key(data, source, options))
    except Exception:  # a cache that cannot answer is a miss, never a failed command
        return None


def _cmd_report(args: argparse.Namespace) -> int:
    from calc.files import check_output, emit

    _positive(args.depth, "--depth")
    _positive(args.top, "--top")
    sample = _sample_and_batch(args)
    inputs = spec_inputs(args.spec)
    if args.output:
        check_output(args.output, inputs)
    hex_key, data, pending = _report_cache(args, sample)
    if hex_key is not None:
        from calc import cache

        text = cache.load(hex_key)
        if text is not None:
            emit(text, args.output, inputs)
            return 0

    from calc import conventions
    from calc.cost import dtype
    from calc.render import render
    from calc.report import annotate, collapse, top

    convention = conventions.get(args.convention)
    dt = dtype(args.dtype)
    if pending is not None:
        raise pending
    network = load_spec(args.spec, data if args.spec == STDIN else None, args.dim)
    if args.fold_bn:
        from calc.network.fold import fold_batchnorm

        network = fold_batchnorm(network)
    shape, context = _workload(network, args, _input_shape(network, args, sample))
    hardware = None
    if args.hw is not None:
        if args.format != "html":
            from calc.errors import UsageError

            raise UsageError(f"--hw adds a roofline section to --format html, not to {args.format}",
                             expected="--format html, or calc roofline SPEC --hw NAME for the table")
        from calc.hardware import load_profile

        hardware = load_profile(args.hw)
    report = network.evaluate(convention, dt, shape, context=context, mode=args.mode,
                              recompute=args.recompute, tokens=args.tokens, kv_dtype=args.kv_dtype)
    if args.format == "html":  # one self-contained page: its own grouping, the conventions compared
        from calc.compare import compare
        from calc.render.html import render_html

        at = _with_input(network, shape).with_context(context)
        text = render_html(report, network=network, comparison=compare(at, mode=args.mode, recompute=args.recompute),
                           hardware=hardware)
        emit(text, args.output, inputs)
        return 0
    # input shapes and kernel sizes for the formats that show them (tree, json); fold_bn for all
    report = annotate(report, network if args.format in ("tree", "json") else None, fold_bn=args.fold_bn)
    if args.depth:
        report = collapse(report, args.depth)
    if args.top:
        report = top(report, args.top)
    text = render(report, args.format, args.units)
    emit(text, args.output, inputs)
    if hex_key is not None:
        from calc import cache

        # a file is cached only if it still holds the bytes the key was made of
        if args.spec == STDIN or cache.read_spec_file(_spec_file(args.spec)) == data:
            cache.store(hex_key, text)
    return 0


def _cmd_schema(args: argparse.Namespace) -> int:
    import json

    from calc.schema import spec_schema

    sys.stdout.write(json.dumps(spec_schema(), indent=2) + "\n")
    return 0


def _cmd_symbolic(args: argparse.Namespace) -> int:
    from calc import conventions
    from calc.closed_form import closed_form, render_closed_form

    sample = _sample_and_batch(args)
    convention = conventions.get(args.convention)
    network = load_spec(args.spec, dims=args.dim)
    default = "T" if "T" in network.axis_names() else "H,W"
    variables = tuple(v.strip() for v in (args.vars or default).split(",") if v.strip())
    if not variables:
        from calc.errors import UsageError

        raise UsageError("--vars names no variable", expected="e.g. H,W")
    shape, context = _workload(network, args, _input_shape(network, args, sample))
    network = _with_input(network, shape)
    form = closed_form(network, convention, variables, context=context or 0, mode=args.mode,
                       recompute=args.recompute)
    sys.stdout.write(render_closed_form(form, args.format))
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from calc import conventions
    from calc.compare import compare, render_comparison
    from calc.files import check_output, emit

    names = None
    if args.conventions:
        names = [n.strip() for n in args.conventions.split(",") if n.strip()]
        for n in names:
            conventions.get(n)
    sample = _sample_and_batch(args)
    inputs = spec_inputs(args.spec)
    if args.output:
        check_output(args.output, inputs)
    network = load_spec(args.spec, dims=args.dim)
    shape, context = _workload(network, args, _input_shape(network, args, sample))
    result = compare(_with_input(network, shape).with_context(context), names, mode=args.mode,
                     recompute=args.recompute, tokens=args.tokens)
    emit(render_comparison(result, args.format), args.output, inputs)
    return 0


def _cmd_plot(args: argparse.Namespace) -> int:
    from calc import conventions
    from calc.files import check_output

    _positive(args.depth, "--depth")
    inputs = spec_inputs(args.spec)
    if args.output in (None, STDIN):  # '-o -' (stdout) is read as no file
        from calc.errors import UsageError

        raise UsageError("a plot is a file: -o FILE.svg, .png or .pdf", expected="a file name")
    check_output(args.output, inputs)
    from calc.plot import plot, plot_format

    plot_format(args.output)  # the suffix is checked before any work
    from calc.errors import UsageError

    if args.kind == "roofline" and args.hw is None:
        raise UsageError("--kind roofline needs --hw: the device whose roofs it draws",
                         expected="--hw NAME or FILE (see 'calc hardware')")
    if args.hw is not None and args.kind != "roofline":
        raise UsageError(f"--hw is for --kind roofline, not {args.kind}", expected="no --hw, or --kind roofline")
    hardware = None
    if args.hw is not None:
        from calc.hardware import load_profile

        hardware = load_profile(args.hw)  # an unknown device before any work
    convention = args.convention or ("2mac" if args.kind == "roofline" else "exact")
    sample = _sample_and_batch(args)
    network = load_spec(args.spec, dims=args.dim)
    shape, context = _workload(network, args, _input_shape(network, args, sample))
    # the conventions chart prices the mode itself, under each convention that can
    mode = args.mode if args.kind != "conventions" else "inference"
    recompute = args.recompute if mode == "training" else None
    report = network.evaluate(conventions.get(convention), args.dtype, shape, context=context, mode=mode,
                              recompute=recompute)
    comparison = None
    if args.kind == "conventions":
        from calc.compare import compare

        comparison = compare(_with_input(network, shape).with_context(context), mode=args.mode,
                             recompute=args.recompute)
    plot(report, args.kind, args.output, network=network, comparison=comparison, metric=args.metric,
         depth=args.depth, hardware=hardware)
    return 0


COMMANDS = {
    "compare": _cmd_compare, "list": _cmd_list, "plot": _cmd_plot,
    "layer": _cmd_layer, "report": _cmd_report, "schema": _cmd_schema,
    "conventions": _cmd_conventions, "symbolic": _cmd_symbolic,
}

EXTENSIONS: dict[str, str] = {"derive": "calc.derive.cli", "check": "calc.claims.cli", "hardware": "calc.hardware.cli",
                              "import": "calc.importers.cli", "memory": "calc.memory.cli",
                              "roofline": "calc.roofline.cli"}
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


PLUGINS_OFF = ("__all__", "1", "true")
"""The values of PYDANTIC_DISABLE_PLUGINS with which pydantic loads no plugin at all."""
PLUGIN_LOADER = "pydantic.plugin._loader"


class _NoPluginLoader(ModuleType):
    """Stands for pydantic's plugin loader while PYDANTIC_DISABLE_PLUGINS turns every plugin
    off.  With that setting the real loader's `get_plugins()` returns () at once, but importing
    it imports importlib.metadata (and email, zipfile, csv with it: 6-17 ms) at module level,
    which pydantic does on the first model class.  This module answers `get_plugins()` the
    same, (); any other name pydantic may ask of its loader loads the real module."""

    @staticmethod
    def get_plugins() -> tuple[()]:
        return ()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        return getattr(import_module(self.__name__), name)


def _skip_plugin_loader() -> None:
    """Put `_NoPluginLoader` in place of pydantic's plugin loader, before pydantic is imported,
    when PYDANTIC_DISABLE_PLUGINS disables every plugin (a user's own setting is honoured: a
    list of plugin names keeps the real loader)."""
    import os

    if os.environ.get("PYDANTIC_DISABLE_PLUGINS") not in PLUGINS_OFF:
        return
    if "pydantic" in sys.modules or PLUGIN_LOADER in sys.modules:
        return
    sys.modules[PLUGIN_LOADER] = _NoPluginLoader(PLUGIN_LOADER)


def main(argv: Sequence[str] | None = None) -> int:
    import gc
    import os

    # calc's own records use no pydantic plugin; skipping their discovery saves an
    # importlib.metadata scan of every installed distribution on each command.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    _skip_plugin_loader()

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
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        text = cached_report(argv[1:]) if argv and argv[0] == "report" else None
        if text is not None:
            sys.stdout.write(text)
            return 0
    except BrokenPipeError:
        return 0
    from calc.errors import CalcError, UsageError

    try:
        try:
            args = build_parser(layer_kinds=bool(argv) and argv[0] == "layer",
                                command=argv[0] if argv and argv[0] in COMMANDS else None).parse_args(argv)
        except SystemExit as exc:  # --help and --version print and stop: main returns, never exits
            return exc.code if isinstance(exc.code, int) else 0
        if getattr(args, "output", None) == STDIN:  # -o - is stdout, as for most Unix tools
            args.output = None
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
