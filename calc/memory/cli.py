"""`calc memory SPEC [--mode inference|training] [--batch N] [--input CxHxW] [--dtype]
[--optimizer] [--precision] [--recompute] [--fp32-grads] [--context N --phase prefill|decode]
[--kv-dtype] [--hw NAME|FILE] [--format text|md|json] [-o FILE]`.

Bad options are usage errors (exit 2); an estimate that does not fit on the --hw device prints
the estimate, then a one-line error (exit 1) with the largest batch that fits.
"""

from __future__ import annotations

import argparse
from typing import Any

HELP = "memory of inference (weights, live activations, KV cache) or training (states, saved activations)"
FORMATS = ("text", "md", "json")
OPTIMIZERS = ("sgd", "momentum", "adam", "adamw")
PRECISIONS = ("fp32", "mixed")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from calc.cli import DTYPES, _input_args, _spec_arg, format_help, phase_args
    from calc.recompute import POLICIES

    _spec_arg(parser)
    parser.add_argument("--mode", default="inference", choices=("inference", "training"),
                        help="inference: one forward pass; training: one step (default: inference)")
    _input_args(parser)
    parser.add_argument("--dtype", default=None, choices=DTYPES,
                        help="weights and activations (default fp32; training: fp32, or fp16 with "
                             "--precision mixed)")
    parser.add_argument("--optimizer", default=None, choices=OPTIMIZERS, help="training: default adam")
    parser.add_argument("--precision", default=None, choices=PRECISIONS,
                        help="training: fp32, or mixed (16-bit weights, gradients, activations; fp32 "
                             "master weights and moments) (default fp32)")
    parser.add_argument("--recompute", default=None, choices=POLICIES,
                        help="training: activation recomputation (default none)")
    parser.add_argument("--fp32-grads", action="store_true",
                        help="training, mixed precision: keep fp32 gradients (18 bytes per parameter with Adam)")
    phase_args(parser, "tokens already in the KV cache (transformers): its bytes, and the "
                       "largest context that fits with --hw")
    parser.add_argument("--kv-dtype", default=None, choices=DTYPES, help="the KV cache's dtype (default: --dtype)")
    parser.add_argument("--hw", metavar="NAME|FILE", help="a hardware profile: does it fit, and the largest batch that does")
    parser.add_argument("--format", default="text", choices=FORMATS, help=format_help(FORMATS))
    parser.add_argument("-o", "--output", metavar="FILE", help="write to FILE (atomically) instead of stdout")


def _refuse(args: Any, names: tuple[str, ...], mode: str) -> None:
    from calc.errors import UsageError

    for name in names:
        value = getattr(args, name.lstrip("-").replace("-", "_"), None)
        if value not in (None, False):
            raise UsageError(f"{name} applies to --mode {'training' if mode == 'inference' else 'inference'}",
                             expected=f"no {name} with --mode {mode}")


def run(args: Any) -> int:
    from calc.cli import (
        _input_shape,
        _sample_and_batch,
        _workload,
        load_spec,
        spec_inputs,
    )
    from calc.files import check_output, emit
    from calc.memory.fit import Fit, FitError, largest
    from calc.memory.inference import inference_memory
    from calc.memory.render import fit_line, render
    from calc.memory.training import training_memory

    training = args.mode == "training"
    if training:
        _refuse(args, ("--context", "--phase", "--kv-dtype"), "training")
    else:
        _refuse(args, ("--optimizer", "--precision", "--recompute", "--fp32-grads"), "inference")
    sample = _sample_and_batch(args)
    inputs = spec_inputs(args.spec)
    if args.output:
        check_output(args.output, inputs)
    profile = None
    if args.hw:
        from calc.hardware import load_profile

        profile = load_profile(args.hw)
    network = load_spec(args.spec, dims=args.dim)
    shape, context = _workload(network, args, _input_shape(network, args, sample))
    shape = tuple(network.input_shape if shape is None else shape)

    def estimate(at: tuple[int, ...], ctx: Any) -> Any:
        if training:
            return training_memory(network, input_shape=at, optimizer=args.optimizer or "adam",
                                   precision=args.precision or "fp32", dtype=args.dtype,
                                   recompute=args.recompute or "none", fp32_grads=args.fp32_grads)
        return inference_memory(network, input_shape=at, dtype=args.dtype or "fp32", context=ctx,
                                kv_dtype=args.kv_dtype)

    result = estimate(shape, context)
    line = None
    fit = None
    if profile is not None:
        fit = Fit(profile.name, profile.memory, result.total)
        best = largest(lambda b: estimate((b, *shape[1:]), context).total, profile.memory)
        best_context = None
        if context is not None and not training:
            best_context = largest(lambda c: estimate(shape, c).total, profile.memory, 0)
        line = fit_line(fit, "the estimate", best, best_context)
    emit(render(result, args.format, line), args.output, inputs)
    if fit is not None and not fit.fits:
        raise FitError(f"{network.name} needs {result.total:,} bytes, {-fit.margin:,} more than "
                       f"{profile.name}'s {profile.memory:,}",  # type: ignore[union-attr]
                       expected=line.split("; ", 1)[1] if line and "; " in line else "a smaller batch")
    return 0
