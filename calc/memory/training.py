"""Memory of a training step: weights, gradients, optimizer states and the activations saved for
backward, itemised.

Bytes per parameter (`state_bytes_per_param`), each a published rule:

    precision fp32: weights 4 + gradients 4 + optimizer states
        (SGD 0, SGD with momentum 4: one buffer, Adam/AdamW 8: exp_avg and exp_avg_sq;
        torch/optim/sgd.py momentum_buffer, torch/optim/adam.py exp_avg, exp_avg_sq)
        -> Adam: 16 bytes per parameter.
    precision mixed (fp16/bf16 weights and gradients, fp32 master weights and moments):
        2 + 2 + 4 (master) + 8 (Adam) = 16 bytes per parameter: ZeRO (Rajbhandari et al. 2020,
        "ZeRO: Memory Optimizations Toward Training Trillion Parameter Models", sec. 3.1: "2Ψ +
        2Ψ + KΨ ... K = 12": fp16 parameters and gradients, fp32 parameters, momentum, variance).
    mixed with fp32 gradients (`fp32_grads`): 2 + 4 + 4 + 8 = 18 bytes per parameter: Hugging
        Face Transformers docs, "Model training anatomy" (section "Anatomy of Model's Memory":
        "mixed precision training: 6 bytes per parameter" (fp32 + fp16 copy), "Gradients: 4
        bytes per parameter", "normal AdamW: 8 bytes per parameter").

Buffers (batch norm's running statistics) are kept at the weights' dtype (no gradient, no state).

Activations saved for backward: calc.memory.saved's rules per operation kind, each tensor counted
once per storage.  Recomputation (activation checkpointing):
    none        every saved tensor is kept
    selective   Korthikanti et al. 2022, "Reducing Activation Recomputation in Large Transformer
                Models", sec. 4.2: the attention's score-shaped tensors (QK^T, its scaled and
                masked forms, the softmax) are recomputed in the backward, not stored; the
                rest is kept.  Without eager attention (sdpa already stores none) it equals none.
    full        Korthikanti sec. 4.1 / torch.utils.checkpoint: only each checkpointed segment's
                input is kept; while a segment's backward runs, its saved tensors are recomputed
                (the largest segment's: the "recompute working set" row).
    Checkpoint boundary: a segment is a block (a dotted-path prefix grouping operations) at the
    shallowest depth that has at least MIN_SEGMENTS (3) blocks: a transformer's layers
    (transformer.h.0, .h.1, ...), a ResNet's stages (layer1 ... layer4), a DenseNet's dense
    blocks and transitions, MobileNet's features.0 ... (3, not 2: torchvision's `features` and
    `classifier` pair is not a checkpointing).  Operations outside every segment (stem, head)
    keep their saved tensors.

Not counted: the backward's transient gradient buffers, the loss, workspaces and the
allocator's caching.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from calc.cost import BYTES, Dtype
from calc.cost import dtype as _dtype
from calc.errors import UsageError
from calc.memory.saved import Saved, TrainingError, saved_items, width_bytes
from calc.recompute import score_shaped


class Optimizer(StrEnum):
    SGD = "sgd"
    MOMENTUM = "momentum"
    ADAM = "adam"
    ADAMW = "adamw"


class Precision(StrEnum):
    FP32 = "fp32"
    MIXED = "mixed"


class Recompute(StrEnum):
    NONE = "none"
    SELECTIVE = "selective"
    FULL = "full"


def choice(enum: type[StrEnum], value: Any, what: str) -> Any:
    """A member of `enum` from its name; a one-line UsageError listing the choices otherwise."""
    names = ", ".join(m.value for m in enum)
    if isinstance(value, enum):
        return value
    if not isinstance(value, str) or value not in {m.value for m in enum}:
        shown = repr(value) if isinstance(value, (str, int, float)) else f"a {type(value).__name__}"
        raise UsageError(f"unknown {what} {shown}", expected=f"one of {names}")
    return enum(value)


OPTIMIZER_STATES: dict[Optimizer, int] = {
    Optimizer.SGD: 0, Optimizer.MOMENTUM: 1, Optimizer.ADAM: 2, Optimizer.ADAMW: 2,
}
"""fp32 state tensors per parameter: SGD none; momentum its momentum_buffer
(torch/optim/sgd.py); Adam and AdamW exp_avg and exp_avg_sq (torch/optim/adam.py, adamw.py)."""

FP32 = 4


def state_bytes_per_param(optimizer: Optimizer, precision: Precision, width: int,
                          fp32_grads: bool = False) -> list[tuple[str, int]]:
    """Bytes per parameter of each training state (see the module docstring):
    [('weights', w), ('gradients', g), ('master weights', 4 or 0), ('optimizer states', 4 x k)].
    `width`: bytes of the 16-bit dtype in mixed precision (4 in fp32)."""
    mixed = precision == Precision.MIXED
    weights = width if mixed else FP32
    grads = FP32 if (fp32_grads or not mixed) else width
    return [("weights", weights), ("gradients", grads), ("master weights", FP32 if mixed else 0),
            ("optimizer states", FP32 * OPTIMIZER_STATES[optimizer])]


@dataclass(frozen=True)
class SavedRow:
    """The activation bytes one operation saves for backward (a tensor several operations save
    counted at the first), under the recompute mode."""

    path: str
    kind: str
    bytes: int
    tensors: tuple[str, ...]


@dataclass(frozen=True)
class Item:
    label: str
    bytes: int
    rule: str


@dataclass(frozen=True)
class TrainingMemory:
    name: str
    input_shape: tuple[int, ...]
    optimizer: Optimizer
    precision: Precision
    dtype: Dtype
    """The activations' (and in mixed precision the weights' and gradients') dtype."""
    recompute: Recompute
    params: int
    buffers: int
    per_param: int
    """Bytes per parameter of weights + gradients + master weights + optimizer states."""
    items: tuple[Item, ...]
    saved: tuple[SavedRow, ...]
    segments: tuple[str, ...]
    """The checkpointed segments (full recompute), else ()."""
    total: int


MIN_SEGMENTS = 3
"""Blocks a depth must have to be the checkpoint boundary (see the module docstring)."""


def segments(ops: Any) -> tuple[tuple[str, int, int], ...]:
    """The checkpoint segments: (block path, first op, last op) of the blocks at the shallowest
    path depth with at least MIN_SEGMENTS blocks (see the module docstring); () when none has."""
    parts = [op.path.split(".") for op in ops]
    deepest = max((len(p) for p in parts), default=0)
    for d in range(1, deepest):
        spans: dict[str, list[int]] = {}
        for i, p in enumerate(parts):
            if len(p) > d:
                key = ".".join(p[:d])
                span = spans.setdefault(key, [i, i])
                span[1] = i
        if len(spans) >= MIN_SEGMENTS:
            return tuple((k, a, b) for k, (a, b) in spans.items())
    return ()


def _tallies(network: Any, shape: tuple[int, ...]) -> list[Any]:
    from calc.network.program import run

    return run(network.ops, shape, lambda op, tally: tally)


def _count(items: list[Saved], root: list[int], act: int, seen: set) -> tuple[int, dict[int, int], dict[int, list[str]]]:
    """Bytes of `items`, each program tensor once (those in `seen` not again; `seen` grows), by
    the operation that saves it first."""
    per_op: dict[int, int] = {}
    names: dict[int, list[str]] = {}
    total = 0
    for s in items:
        if s.value is not None:
            key = root[s.value]
            if key in seen:
                continue
            seen.add(key)
        nbytes = s.elements * width_bytes(s.width, act)
        total += nbytes
        per_op[s.op] = per_op.get(s.op, 0) + nbytes
        names.setdefault(s.op, []).append(s.what)
    return total, per_op, names


def saved_activations(network: Any, shape: tuple[int, ...], act: int, recompute: Recompute
                      ) -> tuple[int, int, tuple[SavedRow, ...], tuple[str, ...]]:
    """(bytes kept through the forward, recompute working set, rows per operation, segments)
    of the activations saved for backward at activation width `act` bytes."""
    ops = network.ops
    tallies = _tallies(network, shape)
    items, root = saved_items(ops, tallies)
    kept = items
    work = 0
    names_of: tuple[str, ...] = ()
    if recompute == Recompute.SELECTIVE:
        score = {i + 1 for i, op in enumerate(ops) if score_shaped(op.layer)}
        kept = [s for s in items
                if not (score_shaped(ops[s.op].layer) and s.value is None)
                and not (s.value is not None and root[s.value] in score)]
    elif recompute == Recompute.FULL:
        spans = segments(ops)
        if not spans:
            raise TrainingError(
                f"{network.name} has no checkpoint boundaries for --recompute full: a boundary is "
                "the input of a block (a dotted-path prefix grouping operations, e.g. layer1 or "
                "h.0), and this network has fewer than 3 blocks at every depth",
                expected="--recompute none, or a spec whose layers are grouped in blocks")
        names_of = tuple(k for k, _a, _b in spans)
        inside = [-1] * len(ops)
        for n, (_k, a, b) in enumerate(spans):
            for i in range(a, b + 1):
                inside[i] = n
        kept = [s for s in items if inside[s.op] < 0]
        for n, (_k, a, b) in enumerate(spans):  # each segment keeps the inputs it reads from before it
            for i in range(a, b + 1):
                for v in ops[i].inputs:
                    if v <= a:
                        kept.append(Saved(a, "segment input", v, prod_of(tallies, root, v), "act"))
    seen: set = set()
    total, per_op, names = _count(kept, root, act, seen)
    if recompute == Recompute.FULL:
        for _k, a, b in segments(ops):
            seg = [s for s in items if a <= s.op <= b]
            work = max(work, _count(seg, root, act, set(seen))[0])
    rows = tuple(SavedRow(ops[i].path, tallies[i].op, per_op[i], tuple(names[i])) for i in sorted(per_op))
    return total, work, rows, names_of


def prod_of(tallies: list[Any], root: list[int], value: int) -> int:
    """Elements of the tensor holding `value`."""
    from calc.arith import prod

    r = root[value]
    return prod(tallies[0].inputs[0]) if r == 0 else prod(tallies[r - 1].output)


def training_memory(network: Any, *, input_shape: Any = None, batch: int | None = None,
                    optimizer: Optimizer | str = "adam", precision: Precision | str = "fp32",
                    dtype: Dtype | str | None = None, recompute: Recompute | str = "none",
                    fp32_grads: bool = False) -> TrainingMemory:
    """The memory of one training step of `network` (see the module docstring), itemised.

    `optimizer`: sgd, momentum, adam, adamw; `precision`: fp32 (everything fp32; `dtype` must be
    fp32 or None) or mixed (`dtype` fp16 or bf16, default fp16: weights, gradients and
    activations at 16 bits, fp32 master weights and moments); `recompute`: none, selective,
    full; `fp32_grads`: mixed precision keeping fp32 gradients (the 18-bytes rule)."""
    from calc.network.program import Network

    if not isinstance(network, Network):
        raise UsageError(f"network is a {type(network).__name__}, not a Network",
                         expected="a calc.network.Network (calc.network.load_network)")
    optimizer = choice(Optimizer, optimizer, "optimizer")
    precision = choice(Precision, precision, "precision")
    recompute = choice(Recompute, recompute, "recompute mode")
    if not isinstance(fp32_grads, bool):
        raise UsageError(f"fp32_grads is a {type(fp32_grads).__name__}", expected="True or False")
    dt = training_dtype(precision, dtype)
    shape = network._checked_shape(input_shape, batch)
    report = network.evaluate("exact", dt, shape)
    params, buffers = report.totals.params, report.totals.buffers
    if type(params) is not int:
        raise UsageError("a training memory estimate needs int sizes", expected="an int input shape")
    width = BYTES[dt]
    per = state_bytes_per_param(optimizer, precision, width, fp32_grads)
    kept, work, rows, segs = saved_activations(network, shape, width, recompute)
    items = [Item(label, params * b, f"{params:,} params x {b} bytes") for label, b in per if b]
    if buffers:
        items.append(Item("buffers", buffers * width, f"{buffers:,} x {width} bytes (no gradient)"))
    mode = {"none": "all kept", "selective": "score-shaped tensors recomputed",
            "full": f"only the inputs of {len(segs)} segments kept"}[recompute.value]
    items.append(Item("activations saved for backward", kept, f"per-op rules ({mode})"))
    if recompute == Recompute.FULL:
        items.append(Item("recompute working set", work, "the largest segment's saved tensors, "
                                                          "recomputed during its backward"))
    per_param = sum(b for _l, b in per)
    return TrainingMemory(network.name, tuple(shape), optimizer, precision, dt, recompute, params,
                          buffers, per_param, tuple(items), rows, segs, sum(i.bytes for i in items))


def training_dtype(precision: Precision, dtype: Any) -> Dtype:
    """The activations' dtype: fp32 for fp32 precision, fp16 or bf16 for mixed (default fp16)."""
    if dtype is None:
        return Dtype.FP32 if precision == Precision.FP32 else Dtype.FP16
    dt = _dtype(dtype)
    if precision == Precision.FP32 and dt != Dtype.FP32:
        raise UsageError(f"precision fp32 trains in fp32, got dtype {dt.value}",
                         expected="dtype fp32, or precision mixed with fp16 or bf16")
    if precision == Precision.MIXED and dt not in (Dtype.FP16, Dtype.BF16):
        raise UsageError(f"mixed precision keeps 16-bit weights and activations, got dtype {dt.value}",
                         expected="fp16 or bf16")
    return dt
