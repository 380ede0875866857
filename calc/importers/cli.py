"""`calc import hf CONFIG.json [-o spec.yaml]`, `calc import onnx MODEL.onnx [--dim name=value ...]
[--allow-unknown] [-o spec.yaml]`: a model description turned into a spec (YAML on stdout, or
written atomically to -o).

Each importer is imported inside its subcommand: `calc import hf` never loads the ONNX importer
(nor `onnx`), and no other command loads either.  A bad config or model is a one-line error
naming the file and the key or node (exit 1); bad usage exits 2.
"""

from __future__ import annotations

import argparse
from typing import Any

from calc.errors import UsageError
from calc.files import check_output, emit

HELP = "turn a Hugging Face config.json or an ONNX file into a spec (calc import hf config.json -o spec.yaml)"
SOURCES = {
    "hf": "a Hugging Face config.json (Llama, Mistral, Mixtral, Qwen2, Gemma, Phi-3, GPT-2, BERT, ViT)",
    "onnx": "an ONNX model file (needs the onnx extra)",
}


def _output(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", metavar="FILE",
                        help="write the spec to FILE (atomically) instead of stdout; '-' is stdout")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sources = parser.add_subparsers(dest="source", required=True, metavar="SOURCE", parser_class=type(parser))
    hf = sources.add_parser("hf", help=SOURCES["hf"],
                            description="Write the spec of a Hugging Face config.json: pure JSON reading, no "
                                        "transformers.  A key that changes the architecture and that the importer "
                                        "does not know is refused with its name.  'calc report CONFIG.json' costs "
                                        "the config directly.")
    hf.add_argument("config", help="the config.json")
    _output(hf)
    onnx = sources.add_parser("onnx", help=SOURCES["onnx"], description="Write the spec of an ONNX model.")
    onnx.add_argument("model", help="the .onnx file")
    onnx.add_argument("--dim", action="append", default=[], metavar="NAME=VALUE",
                      help="the size of a symbolic dimension of the graph (repeatable), e.g. --dim batch=1")
    onnx.add_argument("--allow-unknown", action="store_true",
                      help="keep an operator the importer cannot map as a zero-cost node (listed), instead of failing")
    _output(onnx)


def run(args: Any) -> int:
    output = None if args.output in (None, "-") else args.output
    if args.source == "hf":
        if output:
            check_output(output, [args.config])
        from calc.importers.hf import spec_text_from_config

        emit(spec_text_from_config(args.config), output, [args.config])
        return 0
    if args.source == "onnx":
        from calc.cli import parse_dims

        dims = parse_dims(args.dim)
        if output:
            check_output(output, [args.model])
        from calc.importers.onnx import import_onnx  # its own one-line error without the onnx package

        emit(import_onnx(args.model, dims, args.allow_unknown), output, [args.model])
        return 0
    raise UsageError(f"calc import: unknown source {args.source!r}", expected="one of " + ", ".join(SOURCES))
