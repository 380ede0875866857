"""`calc roofline SPEC --hw NAME|FILE [...]`: a network on a device's roofline (calc.roofline).

    calc roofline resnet50 --hw a100-sxm-80gb --dtype bf16 --batch 32 [--fuse] [--depth 2]
    calc roofline llama2_7b --hw a100-sxm-80gb --dtype bf16 --phase decode --context 4095
    calc roofline resnet50 --hw h100-sxm --dtype bf16 --sweep-batch     the batch it turns compute-bound
    calc roofline resnet50 --hw h100-sxm --dtype bf16 --symbolic        its time as a function of N

Bad input is one line: an unknown device (the names listed), a profile without the asked-for
dtype's peak, a batch that is not a positive int, --phase decode without --context.
"""

from __future__ import annotations

import argparse
from typing import Any

HELP = "time bounds per layer on a device: FLOPs, bytes, intensity, compute- or memory-bound (roofline)"
FORMATS = ("text", "md", "csv", "json")
PEAK_DTYPES = ("fp64", "fp32", "tf32", "fp16", "bf16", "fp8", "int8")
"""calc.hardware.PEAK_DTYPES, written here so that `calc roofline --help` loads no profile code
(tests/test_roofline.py checks they agree)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from calc.cli import (
        DTYPES,
        _input_args,
        _output_arg,
        _spec_arg,
        int_arg,
        phase_args,
    )

    _spec_arg(parser)
    parser.add_argument("--hw", metavar="NAME|FILE", help="the device: a shipped profile's name (see 'calc "
                        "hardware') or a YAML profile file (required)")
    parser.add_argument("--dtype", default="fp32", choices=DTYPES,
                        help="storage type of weights and activations, for the bytes (default: fp32)")
    parser.add_argument("--math", choices=PEAK_DTYPES, metavar="DTYPE",
                        help="whose peak to use: default the dtype's; tf32 for fp32 storage with TF32 math "
                             f"({', '.join(PEAK_DTYPES)})")
    parser.add_argument("--kv-dtype", choices=DTYPES, help="storage type of the KV cache (default: --dtype)")
    parser.add_argument("--convention", default="2mac", metavar="NAME",
                        help="counting convention for FLOPs (default: 2mac, 2 FLOPs per multiply-accumulate "
                             "of the dot products, as device peaks count them; see 'calc conventions')")
    _input_args(parser)
    # --phase and --context as calc report has them; not its --mode or training options: the
    # roofline prices a forward pass
    phase_args(parser)
    parser.add_argument("--fuse", action="store_true",
                        help="fuse batchnorm, activation and add epilogues into the conv/linear before them "
                             "(their intermediate tensor neither written nor read back)")
    parser.add_argument("--depth", type=int_arg, metavar="N", help="one row per block at depth N of the path")
    parser.add_argument("--efficiency", metavar="C,M",
                        help="achievable shares of the compute and memory roofs, e.g. 0.7,0.8 "
                             "(default: the profile's)")
    parser.add_argument("--sweep-batch", action="store_true",
                        help="the smallest batch at which the whole network turns compute-bound "
                             "(total FLOPs / peak >= total bytes / bandwidth), and every batch tried")
    parser.add_argument("--max-batch", type=int_arg, metavar="N", default=None,
                        help="the largest batch --sweep-batch tries (default: 2^20)")
    parser.add_argument("--symbolic", action="store_true",
                        help="the network roof max(F(N)/peak, B(N)/bandwidth) as a function of the batch N")
    parser.add_argument("--format", default="text", choices=FORMATS, help="output format")
    parser.add_argument("--units", action="store_true", help="K/M/G/T instead of exact integers")
    _output_arg(parser)


def _efficiency(text: str | None) -> tuple[Any, Any]:
    from calc.errors import UsageError

    if text is None:
        return None, None
    parts = text.split(",")
    if len(parts) != 2:
        raise UsageError(f"--efficiency {text!r} is not two shares", expected="COMPUTE,MEMORY, e.g. 0.7,0.8")
    from calc.roofline.model import efficiency

    return efficiency(parts[0], "--efficiency compute share"), efficiency(parts[1], "--efficiency memory share")


def run(args: Any) -> int:
    from calc.cli import (
        _input_shape,
        _positive,
        _sample_and_batch,
        _workload,
        load_spec,
        spec_inputs,
    )
    from calc.errors import UsageError
    from calc.files import check_output, emit

    if args.hw is None:
        from calc.hardware import profile_names

        raise UsageError("calc roofline needs a device: --hw NAME or --hw FILE",
                         expected=f"one of {', '.join(profile_names())}, or a YAML profile file")
    _positive(args.depth, "--depth")
    _positive(args.max_batch, "--max-batch")
    if args.sweep_batch and args.symbolic:
        raise UsageError("--sweep-batch and --symbolic are two views: ask for one", expected="one of them")
    if (args.sweep_batch or args.symbolic) and args.batch is not None:
        raise UsageError(f"{'--sweep-batch' if args.sweep_batch else '--symbolic'} varies the batch itself; "
                         "--batch has no place here", expected="no --batch")
    if args.max_batch is not None and not args.sweep_batch:
        raise UsageError("--max-batch bounds --sweep-batch", expected="--sweep-batch --max-batch N")
    compute_eff, memory_eff = _efficiency(args.efficiency)
    sample = _sample_and_batch(args)
    inputs = spec_inputs(args.spec)
    if args.output:
        check_output(args.output, inputs)
    from calc import conventions
    from calc.cost import dtype
    from calc.hardware import load_profile
    from calc.roofline.model import device

    profile = load_profile(args.hw)
    convention = conventions.get(args.convention)
    dt = dtype(args.dtype)
    hw = device(profile, args.math, dtype=dt.value, compute_efficiency=compute_eff, memory_efficiency=memory_eff)
    network = load_spec(args.spec, dims=args.dim)
    shape, context = _workload(network, args, _input_shape(network, args, sample))
    if args.kv_dtype is not None and not network.uses_context():
        raise UsageError(f"--kv-dtype: {network.name} has no attention with a KV cache",
                         expected="no --kv-dtype, or a transformer's spec")
    if args.sweep_batch:
        from calc.roofline.render import render_sweep
        from calc.roofline.sweep import MAX_BATCH, sweep_batch

        result = sweep_batch(network, hw, limit=args.max_batch or MAX_BATCH, input_shape=shape,
                             phase=args.phase, context=args.context, convention=convention, dtype=dt,
                             kv_dtype=args.kv_dtype, fuse=args.fuse)
        emit(render_sweep(result, args.format, args.units), args.output, inputs)
        return 0
    if args.symbolic:
        from calc.roofline.render import render_symbolic
        from calc.roofline.sweep import symbolic_time

        st = symbolic_time(network, hw, input_shape=shape, phase=args.phase, context=args.context,
                           convention=convention, dtype=dt, kv_dtype=args.kv_dtype, fuse=args.fuse)
        emit(render_symbolic(st, hw, args.format), args.output, inputs)
        return 0
    from calc.roofline.analysis import analyse
    from calc.roofline.render import render

    report = network.evaluate(convention, dt, shape, context=context)
    result = analyse(report, hw, network=network, fuse=args.fuse, kv_dtype=args.kv_dtype, depth=args.depth,
                     phase=args.phase)
    emit(render(result, args.format, args.units), args.output, inputs)
    return 0
