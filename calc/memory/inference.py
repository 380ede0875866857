"""Memory of a forward pass: weights, the peak of live activations (calc.memory.liveness), the KV
cache of a transformer (Network.kv_cache entries x the cache dtype's bytes), and torchinfo's
size estimate beside them.

    weights      (params + buffers) x bytes of the dtype (a tied weight once)
    activations  the liveness peak x bytes of the dtype, at the operation where it is reached
    KV cache     entries (2 x N x keys kept x kv_heads x head_dim per attention layer) x bytes of
                 the KV dtype (default: the dtype)
    total        weights + activations + KV cache (an estimate: the cache's newest entries are
                 also counted among a prefill's live activations while its layer runs)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from calc.cost import BYTES, Dtype
from calc.cost import dtype as _dtype
from calc.errors import UsageError
from calc.memory.liveness import live_activations


@dataclass(frozen=True)
class InferenceMemory:
    name: str
    input_shape: tuple[int, ...]
    context: int
    dtype: Dtype
    kv_dtype: Dtype
    params: int
    buffers: int
    weights: int
    activations: int
    """Bytes of the liveness peak."""
    peak_path: str
    peak_index: int
    kv_cache: tuple[tuple[str, int], ...]
    """Bytes per attention layer."""
    kv_bytes: int
    total: int
    torchinfo: tuple[tuple[str, int], ...]
    """torchinfo 1.8's size summary (calc.render.tree.size_summary): (label, bytes)."""
    operations: int


def _network(network: Any) -> Any:
    from calc.network.program import Network

    if not isinstance(network, Network):
        raise UsageError(f"network is a {type(network).__name__}, not a Network",
                         expected="a calc.network.Network (calc.network.load_network)")
    return network


def inference_memory(network: Any, *, input_shape: Any = None, batch: int | None = None,
                     dtype: Dtype | str = "fp32", context: int | None = None,
                     kv_dtype: Dtype | str | None = None) -> InferenceMemory:
    """The memory of one forward pass of `network` at `input_shape` (batch first) or `batch`,
    with `context` tokens already in the KV cache (transformers; None or 0: none), weights and
    activations at `dtype`, the cache at `kv_dtype` (default `dtype`)."""
    from calc.render.tree import size_summary

    network = _network(network)
    dt = _dtype(dtype)
    kv_dt = dt if kv_dtype is None else _dtype(kv_dtype)
    report = network.evaluate("exact", dt, input_shape, batch=batch, context=context or None,
                              kv_dtype=kv_dt if network.uses_context() else None)
    live = live_activations(report, network)
    if live is None:
        raise UsageError("a memory estimate needs int sizes", expected="an int input shape")
    width = BYTES[dt]
    shape = report.input_shapes[0]
    t = report.totals
    kv: tuple[tuple[str, int], ...] = tuple((report.kv_cache or {}).items())  # at kv_dt
    kv_bytes = sum(b for _p, b in kv)
    weights = (t.params + t.buffers) * width
    activations = live.peak * width
    peak_path = report.rows[live.peak_index].path if report.rows else ""
    return InferenceMemory(
        network.name, tuple(shape), context or 0, dt, kv_dt, t.params, t.buffers, weights,
        activations, peak_path, live.peak_index, kv, kv_bytes, weights + activations + kv_bytes,
        tuple(size_summary(report)), len(report.rows))
