"""Memory footprint of a network: inference (weights, the peak of live activations, the KV cache)
and training (weights, gradients, optimizer states, activations saved for backward, with and
without recomputation), and whether it fits on a device.

    >>> from calc.network import load_network
    >>> from calc.memory import inference_memory, training_memory
    >>> m = inference_memory(load_network("specs/resnet50.yaml"), batch=8)   # doctest: +SKIP
    >>> t = training_memory(net, optimizer="adamw", precision="mixed")       # doctest: +SKIP

Modules: liveness (live activations), saved (what autograd saves per op kind), training,
inference, fit (largest batch), render, cli (`calc memory`).  Names are loaded on first use.
"""

from __future__ import annotations

from typing import Any

_NAMES = {
    "inference_memory": "calc.memory.inference", "InferenceMemory": "calc.memory.inference",
    "training_memory": "calc.memory.training", "TrainingMemory": "calc.memory.training",
    "Optimizer": "calc.memory.training", "Precision": "calc.memory.training",
    "Recompute": "calc.memory.training", "state_bytes_per_param": "calc.memory.training",
    "live_activations": "calc.memory.liveness", "LiveMemory": "calc.memory.liveness",
    "SAVED": "calc.memory.saved", "TrainingError": "calc.memory.saved",
    "largest": "calc.memory.fit", "Fit": "calc.memory.fit", "FitError": "calc.memory.fit",
}

__all__ = [
    "SAVED", "Fit", "FitError", "InferenceMemory", "LiveMemory", "Optimizer", "Precision",
    "Recompute", "TrainingError", "TrainingMemory", "inference_memory", "largest",
    "live_activations", "state_bytes_per_param", "training_memory",
]


def __getattr__(name: str) -> Any:
    module = _NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'calc.memory' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(module), name)
