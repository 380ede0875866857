"""A report's operations on a device's roofline: per operation (or block) FLOPs, bytes,
intensity, attainable throughput, bound and time; totals; the share of time in memory-bound
operations.  The formulas are calc.roofline.model's.

What is counted
    FLOPs   the report's, under its convention.  The default convention here is '2mac' (two
            FLOPs per multiply-accumulate of conv, linear and attention products, nothing for
            element-wise operations): a device's peak FLOP/s counts a fused multiply-add as two
            FLOPs and is reached only by dot products on its matrix units (NVIDIA A100
            datasheet: "312 TFLOPS" bf16 dense = 2 x FMA rate), so only those FLOPs are priced
            against it; element-wise work has intensity 0 and is priced by its bytes alone,
            which is what bounds it.  Any other convention may be asked for and is printed.
    bytes   the report's mem_bytes (calc.cost.mem_access at the dtype): inputs + weights read
            + buffers + output, each once, per operation (an embedding reads the rows it looks
            up; attention with a KV cache reads the cached K and V).  With a KV dtype other
            than the dtype, the cache entries an attention's scores (K) and context (V) read are
            priced at the KV dtype's bytes instead (`kv_adjusted`).
    time    max(FLOPs / peak, bytes / bandwidth) per operation (its own roofline bound); the
            network's time is their sum (operations run one after another), and beside it the
            network roof max(total FLOPs / peak, total bytes / bandwidth), a weaker bound that
            ignores which operation is limited by what.

Fused epilogues (`fuse=True`, `fuse_epilogues`)
    The rule: an operation whose op is batchnorm, add or an element-wise activation (relu,
    relu6, leaky_relu, prelu, elu, sigmoid, tanh, hardswish, hardsigmoid, silu, gelu) is fused
    into the operation immediately before it in network order when (1) it reads that
    operation's output, (2) nothing else reads that output, and (3) that operation is a conv,
    conv1d, deconv or linear, or an epilogue already fused into one.  The fused group is one
    row (the conv's path; kinds joined by '+'; FLOPs summed) and its bytes are the members'
    less twice the intermediate tensor (output elements x bytes per element): the intermediate
    is neither written nor read back.  An add's other operand (the shortcut) is still read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

from calc.arith import exact_div
from calc.cost import BYTES, Dtype, dtype as to_dtype
from calc.errors import UsageError
from calc.layers.activation import ActivationKind
from calc.report import Report, collapse
from calc.roofline.model import (
    COMPUTE, MEMORY, NONE, Device, attainable, bound, device, efficient_time, intensity, roof_time,
)

DEFAULT_CONVENTION = "2mac"
"""See the module docstring: a device's peak counts an FMA as 2 FLOPs, on dot products only."""

PRODUCER_OPS = frozenset({"conv", "conv1d", "deconv", "linear"})
"""Operations an epilogue may fuse into (the dot-product kernels)."""

EPILOGUE_OPS = frozenset({"batchnorm", "add"} | {k.value for k in ActivationKind if k is not ActivationKind.SOFTMAX})
"""Operations that may run as a producer's epilogue (element-wise on its output)."""


@dataclass(frozen=True, slots=True)
class Work:
    """One kernel's work before the roofline: an operation of the report, or a fused group."""

    path: str
    kind: str
    op: str
    flops: Any
    nbytes: Any
    activations: Any
    fused: tuple[str, ...] = ()
    """Paths of the epilogues fused into this operation."""


@dataclass(frozen=True, slots=True)
class RooflineRow:
    """An operation (or a fused group, or a block with `depth`) on the roofline.  `time` is the
    roofline bound (ideal: the dense peak, the full bandwidth); `efficient_time` the same with
    the device's efficiency factors.  A block's time is the sum of its operations' times, its
    intensity its FLOPs over its bytes, and its bound that of the larger part of its time."""

    path: str
    kind: str
    flops: int
    bytes: int
    intensity: Fraction | float
    attainable: Fraction
    bound: str
    time: Fraction
    efficient_time: Fraction
    memory_time: Fraction
    """Time of its memory-bound operations (for an operation: its time if memory-bound, else 0)."""
    ops: int = 1
    fused: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RooflineTotals:
    flops: int
    bytes: int
    intensity: Fraction | float
    time: Fraction
    """The sum of the operations' times (ideal)."""
    efficient_time: Fraction
    """The sum of the operations' times with the efficiency factors."""
    memory_time: Fraction
    """Time in memory-bound operations."""
    memory_share: Fraction
    """memory_time / time (0 for a network with no time at all)."""
    network_time: Fraction
    """max(total FLOPs / peak, total bytes / bandwidth): the network as one kernel."""
    network_bound: str
    """Which roof `network_time` is on (compute when total FLOPs / peak >= total bytes / bandwidth)."""


@dataclass(frozen=True, slots=True)
class StepFigures:
    """A transformer step (a forward pass over new tokens, with a KV cache of `context` tokens):
    the published rule's floor, (weights read once + the KV cache read) / bandwidth, beside the
    per-operation roofline time, and the tokens/s they allow."""

    phase: str | None
    """'decode', 'prefill', or None (a forward pass as the spec states it)."""
    tokens: int
    """New tokens in the step: N x T (decode: N, one per sequence)."""
    context: int
    weights_bytes: int
    """Weights read once: every operation's weights read (an embedding: the rows looked up), at the dtype."""
    params_bytes: int
    """Every parameter at the dtype (the whole embedding table): the rule published tools use."""
    kv_entries: int
    kv_bytes: int
    """The KV cache the step's attention reads (its context and new tokens), at the KV dtype."""
    floor_time: Fraction
    """(weights_bytes + kv_bytes) / bandwidth."""
    floor_efficient_time: Fraction
    time: Fraction
    """The per-operation roofline time of the step (the Roofline's totals.time)."""
    efficient_time: Fraction

    @property
    def tokens_per_second(self) -> Fraction:
        """An upper bound: tokens / the step's roofline time (ideal)."""
        return Fraction(self.tokens) / self.time if self.time else Fraction(0)

    @property
    def floor_tokens_per_second(self) -> Fraction:
        return Fraction(self.tokens) / self.floor_time if self.floor_time else Fraction(0)


@dataclass(frozen=True)
class Roofline:
    """The roofline of one evaluation of a network on one device."""

    name: str
    device: Device
    convention: str
    dtype: Dtype
    kv_dtype: Dtype
    input_shape: tuple[Any, ...]
    rows: tuple[RooflineRow, ...]
    totals: RooflineTotals
    context: int = 0
    phase: str | None = None
    fuse: bool = False
    depth: int | None = None
    step: StepFigures | None = None
    convention_title: str = ""
    """The convention's rule in words ('FLOPs = 2 x MACs')."""


# ---- works: the report's operations, the KV dtype, fusion --------------------------------------


def works_of(report: Report) -> list[Work]:
    """One `Work` per report row: its FLOPs and mem_bytes as they are."""
    return [Work(r.path, r.kind, r.op, r.flops, r.mem_bytes, r.activations) for r in report.rows]


def kv_adjusted(works: list[Work], kv_entries: dict[str, Any], width: int, kv_width: int) -> list[Work]:
    """The cached K and V priced at `kv_width` bytes per entry instead of `width`: of each
    attention layer's entries (Network.kv_cache: K and V together), half are read by its
    '<layer>.scores' operation (K) and half by '<layer>.context' (V)."""
    if kv_width == width or not kv_entries:
        return works
    extra: dict[str, Any] = {}
    for layer, entries in kv_entries.items():
        half = exact_div(entries, 2)
        for part in ("scores", "context"):
            extra[f"{layer}.{part}"] = half * (kv_width - width)
    missing = set(extra) - {w.path for w in works}
    if missing:
        raise UsageError(f"cannot find the attention operation {sorted(missing)[0]!r} that reads the KV cache",
                         expected="an attention layer with scores and context operations")
    return [replace(w, nbytes=w.nbytes + extra[w.path]) if w.path in extra else w for w in works]


def fuse_epilogues(works: list[Work], ops: Sequence[Any], width: int) -> list[Work]:
    """Fuse epilogues into the conv/linear before them (the rule: the module docstring).
    `ops`: the network's operations (Network.ops), one per work, in order: op i reads the values
    `ops[i].inputs` (value 0 the input, value i + 1 op i's output)."""
    if len(ops) != len(works) or any(o.path != w.path for o, w in zip(ops, works)):
        raise UsageError("fusing needs the network the report was evaluated from, rows not collapsed",
                         expected="roofline(network, ...) or analyse(report, hw, network=network)")
    readers = [0] * (len(works) + 1)
    for o in ops:
        for v in set(o.inputs):
            readers[v] += 1
    out: list[Work] = []
    fusable = False  # whether the last work in `out` heads (or continues) a producer's group
    for j, w in enumerate(works):
        if (fusable and w.op in EPILOGUE_OPS and j in ops[j].inputs and readers[j] == 1):
            head = out[-1]
            out[-1] = Work(head.path, head.kind + "+" + w.kind, head.op, head.flops + w.flops,
                           head.nbytes + w.nbytes - 2 * works[j - 1].activations * width,
                           w.activations, (*head.fused, w.path))
            continue
        out.append(w)
        fusable = w.op in PRODUCER_OPS
    return out


# ---- the roofline ---------------------------------------------------------------------------


def row_of(w: Work, d: Device) -> RooflineRow:
    """A work on the device's roofline (its figures must be ints)."""
    if type(w.flops) is not int or type(w.nbytes) is not int:
        raise UsageError(f"{w.path}: the roofline needs numbers, and this report's figures are symbolic",
                         expected="a report evaluated at numeric sizes (calc.roofline.sweep for a symbolic batch)")
    i = intensity(w.flops, w.nbytes)
    b = bound(w.flops, w.nbytes, d.peak, d.bandwidth)
    t = roof_time(w.flops, w.nbytes, d.peak, d.bandwidth)
    return RooflineRow(
        w.path, w.kind, w.flops, w.nbytes, i, attainable(d.peak, d.bandwidth, i), b, t,
        efficient_time(w.flops, w.nbytes, d.peak, d.bandwidth, d.compute_efficiency, d.memory_efficiency),
        t if b == MEMORY else Fraction(0), 1, w.fused)


def totals_of(rows: Sequence[RooflineRow], d: Device) -> RooflineTotals:
    flops = sum(r.flops for r in rows)
    nbytes = sum(r.bytes for r in rows)
    time = sum((r.time for r in rows), Fraction(0))
    memory = sum((r.memory_time for r in rows), Fraction(0))
    return RooflineTotals(
        flops, nbytes, intensity(flops, nbytes), time,
        sum((r.efficient_time for r in rows), Fraction(0)), memory,
        memory / time if time else Fraction(0),
        roof_time(flops, nbytes, d.peak, d.bandwidth),
        bound(flops, nbytes, d.peak, d.bandwidth) if flops or nbytes else NONE)


def blocks(rows: Sequence[RooflineRow], report: Report, depth: int, d: Device) -> tuple[RooflineRow, ...]:
    """The rows merged into blocks of their first `depth` path segments: paths, kinds, FLOPs
    and bytes from calc.report.collapse (run on the works as report rows), times summed."""
    stand_in = replace(report, rows=tuple(_as_cost(r) for r in rows), totals=report.totals, layer_shapes=None)
    grouped = collapse(stand_in, depth).rows
    sums: dict[str, list[Any]] = {}
    for r in rows:
        key = ".".join(r.path.split(".")[:depth])
        s = sums.setdefault(key, [Fraction(0), Fraction(0), Fraction(0), 0, []])
        s[0] += r.time
        s[1] += r.efficient_time
        s[2] += r.memory_time
        s[3] += r.ops
        s[4].extend(r.fused)
    out = []
    for g in grouped:
        time, eff, memory, ops, fused = sums[g.path]
        i = intensity(g.flops, g.mem_bytes)
        if ops == 1:
            b = bound(g.flops, g.mem_bytes, d.peak, d.bandwidth)
        else:
            b = NONE if not time else (MEMORY if 2 * memory > time else COMPUTE)
        out.append(RooflineRow(g.path, g.kind, g.flops, g.mem_bytes, i, attainable(d.peak, d.bandwidth, i),
                               b, time, eff, memory, ops, tuple(fused)))
    return tuple(out)


def _as_cost(r: RooflineRow) -> Any:
    """A row as a report row holding what collapse sums here: FLOPs, and the bytes as mem_bytes."""
    from calc.cost import OpCost

    return OpCost(r.path, r.kind, r.kind, (), 0, 0, 0, r.flops, 0, r.bytes, 0)


def _network(network: Any) -> Any:
    if not isinstance(getattr(network, "ops", None), tuple) or not hasattr(network, "evaluate"):
        raise UsageError(f"the roofline takes a calc.network.Network, got {type(network).__name__}",
                         expected="calc.network.load_network('specs/resnet50.yaml')")
    return network


def _device(hw: Any, math: str | None, dt: Dtype, compute_efficiency: Any, memory_efficiency: Any) -> Device:
    if isinstance(hw, Device):
        if math is not None and math != hw.math:
            raise UsageError(f"the device is made for {hw.math} math, not {math}", expected="math=None")
        if compute_efficiency is None and memory_efficiency is None:
            return hw
        from calc.roofline.model import efficiency

        return replace(hw, compute_efficiency=hw.compute_efficiency if compute_efficiency is None
                       else efficiency(compute_efficiency, "compute efficiency"),
                       memory_efficiency=hw.memory_efficiency if memory_efficiency is None
                       else efficiency(memory_efficiency, "memory efficiency"))
    if isinstance(hw, str):
        from calc.hardware import load_profile

        hw = load_profile(hw)
    return device(hw, math, dtype=dt.value, compute_efficiency=compute_efficiency,
                  memory_efficiency=memory_efficiency)


def analyse(report: Report, hw: Any, *, network: Any = None, math: str | None = None, fuse: bool = False,
            kv_dtype: Dtype | str | None = None, depth: int | None = None, phase: str | None = None,
            compute_efficiency: Any = None, memory_efficiency: Any = None) -> Roofline:
    """The roofline of `report` (from Network.evaluate, not collapsed) on `hw`: a
    calc.hardware.Profile, a profile's name or file, or a `Device`.  `network`: the Network the
    report was evaluated from (needed for `fuse`, a `kv_dtype` other than the report's dtype,
    and a transformer's step figures); `math`: the peak's dtype (default: the report's; 'tf32'
    for fp32 storage with TF32 math); `depth`: merge rows into blocks; `phase`: a label for the
    step figures ('decode', 'prefill'); the efficiency factors override the profile's."""
    if not isinstance(report, Report):
        raise UsageError(f"analyse takes a Report, got {type(report).__name__}",
                         expected="the result of Network.evaluate")
    if not isinstance(fuse, bool):
        raise UsageError(f"fuse is a {type(fuse).__name__}, not a bool", expected="True or False")
    if depth is not None and (type(depth) is not int or depth < 1):
        raise UsageError(f"depth {depth!r} is not a positive int", expected="1 or more")
    if phase not in (None, "decode", "prefill"):
        raise UsageError(f"unknown phase {phase!r}", expected="'decode', 'prefill' or None")
    if report.options.get("mode", "inference") != "inference":
        raise UsageError("the roofline prices a forward pass, and this report is a training step",
                         expected="a report of Network.evaluate(..., mode='inference')")
    if report.options.get("depth") or report.options.get("top"):
        raise UsageError("the roofline needs every operation of the report, not collapsed or cut to its top",
                         expected="the result of Network.evaluate; pass depth= here")
    dt = report.dtype
    kv = dt if kv_dtype is None else to_dtype(kv_dtype)
    d = _device(hw, math, dt, compute_efficiency, memory_efficiency)
    if network is not None:
        _network(network)
    elif fuse or kv != dt:
        raise UsageError("fusing epilogues and a KV dtype need the network the report was evaluated from",
                         expected="analyse(report, hw, network=network, ...)")
    shape = report.input_shapes[0]
    context = report.options.get("context") or 0
    width, kv_width = BYTES[dt], BYTES[kv]
    works = works_of(report)
    kv_entries: dict[str, Any] = {}
    if network is not None and network.uses_context():
        kv_entries = network.kv_cache(shape, context=context or None)
    works = kv_adjusted(works, kv_entries, width, kv_width)
    if fuse:
        works = fuse_epilogues(works, network.ops, width)
    rows = tuple(row_of(w, d) for w in works)
    totals = totals_of(rows, d)
    step = None
    if network is not None and network.uses_context():
        step = step_figures(network, report, d, totals, kv_entries, kv_width, phase)
    if depth is not None:
        rows = blocks(rows, report, depth, d)
    return Roofline(report.name, d, report.convention.name, dt, kv, tuple(shape), rows, totals,
                    context, phase, fuse, depth, step, report.convention.title)


def weights_read(network: Any, shape: tuple[Any, ...]) -> int:
    """Parameters a forward pass at `shape` reads, each once (Tally.weights_read: an embedding's
    rows looked up, a mixture's experts reached; a tied weight where it is used).  The KV cache
    does not change them: shapes are propagated without it (calc.network.program.run)."""
    from calc.network.program import run

    return sum(run(network.ops, shape, lambda op, tally: tally.weights_read))


def step_figures(network: Any, report: Report, d: Device, totals: RooflineTotals,
                 kv_entries: dict[str, Any], kv_width: int, phase: str | None) -> StepFigures:
    """A transformer step's figures (see StepFigures); the new tokens are the input's entries
    (N x T for token ids)."""
    shape = report.input_shapes[0]
    width = BYTES[report.dtype]
    tokens = 1
    for size in shape[:2]:
        tokens *= size
    weights = weights_read(network, shape) * width
    entries = sum(kv_entries.values())
    kv_bytes = entries * kv_width
    floor = roof_time(0, weights + kv_bytes, d.peak, d.bandwidth)
    floor_eff = efficient_time(0, weights + kv_bytes, d.peak, d.bandwidth, d.compute_efficiency, d.memory_efficiency)
    return StepFigures(phase, tokens, report.options.get("context") or 0, weights,
                       report.totals.params * width, entries, kv_bytes, floor, floor_eff,
                       totals.time, totals.efficient_time)


def step_input(network: Any, input_shape: Any, phase: str | None, context: Any) -> tuple[Any, Any]:
    """The input shape and context of a phase: decode is one new token per sequence (T = 1)
    after `context` cached ones, which it needs; prefill is the input's tokens after the
    context (default none).  As calc.cli's --phase/--context."""
    if phase not in (None, "decode", "prefill"):
        raise UsageError(f"unknown phase {phase!r}", expected="'decode', 'prefill' or None")
    if phase == "decode":
        if context is None:
            raise UsageError("a decode step needs a context: the tokens already cached",
                             expected="e.g. phase='decode', context=4095")
        names = network.axis_names()
        if "T" not in names:
            raise UsageError(f"a decode step needs a sequence input {{T: ...}}; {network.name}'s is {names}",
                             expected="a language model's spec")
        full = tuple(input_shape) if input_shape is not None else tuple(network.input_shape)
        t = names.index("T")
        input_shape = (*full[:t], 1, *full[t + 1:])
    return input_shape, context or None


def roofline(network: Any, hw: Any, *, convention: Any = DEFAULT_CONVENTION, dtype: Dtype | str = "fp32",
             math: str | None = None, input_shape: Any = None, batch: int | None = None,
             phase: str | None = None, context: int | None = None, kv_dtype: Dtype | str | None = None,
             fuse: bool = False, depth: int | None = None, compute_efficiency: Any = None,
             memory_efficiency: Any = None) -> Roofline:
    """Evaluate `network` (a calc.network.Network) and put it on `hw`'s roofline (see `analyse`).

        >>> from calc.network import network_from_text
        >>> from calc.roofline.model import Device
        >>> net = network_from_text("name: fc\\ninput: [1024]\\nlayers: [{type: linear, Cout: 1024, bias: false}]\\n")
        >>> r = roofline(net, Device("toy", "toy", "fp32", peak=10**12, bandwidth=10**11), batch=8)
        >>> r.totals.flops == 2 * 8 * 1024 * 1024, r.totals.bytes == 4 * (8 * 1024 + 1024 * 1024 + 8 * 1024)
        (True, True)
        >>> r.rows[0].bound, r.totals.time == max(Fraction(r.totals.flops, 10**12), Fraction(r.totals.bytes, 10**11))
        ('memory', True)
    """
    _network(network)
    dt = to_dtype(dtype)
    shape, context = step_input(network, input_shape, phase, context)
    report = network.evaluate(convention, dt, shape, batch=batch, context=context)
    return analyse(report, hw, network=network, math=math, fuse=fuse, kv_dtype=kv_dtype, depth=depth,
                   phase=phase, compute_efficiency=compute_efficiency, memory_efficiency=memory_efficiency)
