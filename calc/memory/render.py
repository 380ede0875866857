"""Text, Markdown and JSON of the memory estimates (tables of items: label, bytes, MB, how)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from calc.cost import BYTES
from calc.memory.fit import Fit
from calc.memory.inference import InferenceMemory
from calc.memory.training import TrainingMemory
from calc.render.numbers import grouped
from calc.render.tree import megabytes

FORMATS = ("text", "md", "json")

PER_PARAM_RULES = (
    "per-parameter rules: mixed-precision Adam is 16 bytes (ZeRO, Rajbhandari et al. 2020, sec. 3.1: "
    "fp16 weights 2 + fp16 gradients 2 + fp32 master weights 4 + momentum 4 + variance 4) or 18 "
    "bytes when the gradients are fp32 (--fp32-grads; Hugging Face Transformers docs, 'Model "
    "training anatomy': 6 bytes of weights (fp32 + fp16 copy) + 4 of gradients + 8 of AdamW)"
)


def _table(header: list[str], rows: list[list[str]], numeric: set[int], fmt: str) -> str:
    if fmt == "md":
        lines = ["| " + " | ".join(header) + " |",
                 "|" + "|".join("---:" if i in numeric else "---" for i in range(len(header))) + "|"]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]
        return "\n".join(lines) + "\n"
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in numeric else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)]) + "\n"


def _items(items: list[tuple[str, int, str]], fmt: str) -> str:
    rows = [[label, grouped(b), megabytes(b), how] for label, b, how in items]
    return _table(["item", "bytes", "MB", "how"], rows, {1, 2}, fmt)


def _shape(shape: tuple[int, ...]) -> str:
    return "x".join(str(d) for d in shape)


def fit_line(fit: Fit, what: str, best: tuple[int | None, bool] | None,
             best_context: tuple[int | None, bool] | None) -> str:
    """'fits on DEVICE (N bytes): yes, X free; largest batch that fits: B' (or 'no, X short')."""
    head = f"fits on {fit.device} ({grouped(fit.capacity)} bytes): "
    if fit.fits:
        head += f"yes, {grouped(fit.margin)} bytes ({megabytes(fit.margin)} MB) free"
    else:
        head += f"no, {grouped(-fit.margin)} bytes ({megabytes(-fit.margin)} MB) short"
    for label, found in (("batch", best), ("context", best_context)):
        if found is None:
            continue
        value, capped = found
        if value is None:
            head += f"; no {label} fits ({what} at the smallest {label} is already too much)"
        else:
            head += f"; largest {label} that fits: {grouped(value)}" + (" or more (search bound)" if capped else "")
    return head


def render_inference(m: InferenceMemory, fmt: str, fit: str | None) -> str:
    if fmt == "json":
        data = asdict(m)
        data["fit"] = fit
        return json.dumps(data, indent=2) + "\n"
    width = BYTES[m.dtype]
    head = (f"{m.name}: inference memory; input {_shape(m.input_shape)}"
            + (f"; context {m.context:,}" if m.context else "")
            + f"; {m.dtype.value} ({width} bytes per element)")
    items = [
        ("weights", m.weights, f"({m.params:,} params + {m.buffers:,} buffers) x {width} bytes"),
        ("activations (live peak)", m.activations,
         (f"at {m.peak_path} (operation {m.peak_index + 1} of {m.operations}): a tensor freed "
          "after its last reader")),
    ]
    if m.kv_cache:
        kv_how = f"{len(m.kv_cache)} attention layers, {m.kv_dtype.value} ({BYTES[m.kv_dtype]} bytes per entry)"
        items.append(("KV cache", m.kv_bytes, kv_how))
    items.append(("total", m.total, "weights + activations" + (" + KV cache" if m.kv_cache else "")))
    out = [head + "\n\n", _items(items, fmt)]
    if m.kv_cache:
        out.append("\nKV cache per attention layer:\n\n")
        out.append(_table(["layer", "bytes", "MB"], [[p, grouped(b), megabytes(b)] for p, b in m.kv_cache],
                          {1, 2}, fmt))
    out.append(f"\ntorchinfo's size estimate (torchinfo 1.8, model_statistics.py; MB = 10^6 bytes, "
               f"{m.dtype.value}):\n\n")
    out.append("".join(f"{'- ' if fmt == 'md' else ''}{label} (MB): {megabytes(b)}\n" for label, b in m.torchinfo))
    out.append("\n" + torchinfo_difference(m) + "\n")
    if fit:
        out.append("\n" + fit + "\n")
    return "".join(out)


def torchinfo_difference(m: InferenceMemory) -> str:
    """How torchinfo's forward/backward pass size differs from the liveness peak."""
    fb = dict(m.torchinfo)["Forward/backward pass size"]
    if m.activations:
        # ratio to two decimals, exact integers, rounded half up
        hundredths = (fb * 200 + m.activations) // (2 * m.activations)
        ratio = f"{hundredths // 100}.{hundredths % 100:02d} x"
    else:
        ratio = "(no live activation)"
    return (f"torchinfo's forward/backward pass size, {grouped(fb)} bytes, is {ratio} the liveness "
            f"peak ({grouped(m.activations)} bytes): it counts twice (output and its gradient) the "
            "output of every layer with parameters, all kept at once, and leaves out the outputs "
            "of parameter-free layers (ReLU, pooling, adds); the liveness peak counts every "
            "output but frees each after its last reader, and no gradient")


def render_training(m: TrainingMemory, fmt: str, fit: str | None) -> str:
    if fmt == "json":
        data = asdict(m)
        data["fit"] = fit
        data["per_param_rules"] = PER_PARAM_RULES
        return json.dumps(data, indent=2) + "\n"
    mixed = m.precision.value == "mixed"
    prec = (f"mixed ({m.dtype.value} weights, gradients and activations; fp32 master weights and "
            "optimizer states)" if mixed else "fp32")
    head = (f"{m.name}: training memory; input {_shape(m.input_shape)}; optimizer {m.optimizer.value}; "
            f"precision {prec}; recompute {m.recompute.value}")
    per = f"{m.per_param} bytes per parameter for weights, gradients, master weights and optimizer states\n"
    out = [head + "\n", per, PER_PARAM_RULES + "\n\n"]
    items = [(i.label, i.bytes, i.rule) for i in m.items] + [("total", m.total, "the sum")]
    out.append(_items(items, fmt))
    if m.segments:
        out.append(f"\ncheckpointed segments ({len(m.segments)}): {', '.join(m.segments)}\n")
    if fit:
        out.append("\n" + fit + "\n")
    out.append("\nactivations saved for backward, per operation (a tensor several operations save "
               "counted at the first):\n\n")
    out.append(_table(["layer", "kind", "bytes", "saved"],
                      [[r.path, r.kind, grouped(r.bytes), ", ".join(r.tensors)] for r in m.saved],
                      {2}, fmt))
    return "".join(out)


def render(m: Any, fmt: str, fit: str | None = None) -> str:
    if isinstance(m, TrainingMemory):
        return render_training(m, fmt, fit)
    return render_inference(m, fmt, fit)
