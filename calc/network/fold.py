"""Fold inference batch norms into the convolution or linear layer before them.

    w' = w * gamma / sqrt(var + eps)        b' = (b - mean) * gamma / sqrt(var + eps) + beta
(seed 003; checked by `calc derive bn-fold`).  A batch norm folds only when its input is the
direct output of a conv/deconv/linear that feeds nothing else: conv -> BN -> ReLU folds,
conv -> ReLU -> BN does not.  The folded layer gains a bias if it had none; the BN's
parameters, buffers and FLOPs disappear.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from calc.errors import UsageError
from calc.network.program import Network, Op

FOLDABLE = ("conv", "deconv", "linear")


def fold_batchnorm(network: Network) -> Network:
    """The network with every foldable batch norm folded into the layer before it."""
    if not isinstance(network, Network):
        raise UsageError(
            f"fold_batchnorm takes a Network, got {type(network).__name__}",
            expected="the result of load_network or network_from_text",
        )
    uses = Counter(i for op in network.ops for i in op.inputs)
    ops = list(network.ops)
    remap: dict[int, int] = {}
    keep: list[Op | None] = list(ops)
    for index, op in enumerate(ops):
        if op.layer.kind != "batchnorm" or len(op.inputs) != 1:
            continue
        source = op.inputs[0]
        if source == 0:
            continue
        producer = ops[source - 1]
        if _op_name(producer) in FOLDABLE and uses[source] == 1 and keep[source - 1] is not None:
            keep[source - 1] = replace(producer, layer=producer.layer.model_copy(update={"bias": True}))
            keep[index] = None
            remap[index + 1] = source
    new_ops: list[Op] = []
    new_index: dict[int, int] = {0: 0}
    for old, kept in enumerate(keep, start=1):
        if kept is None:
            new_index[old] = new_index[remap[old]]
            continue
        inputs = tuple(new_index[i] for i in kept.inputs)
        new_ops.append(replace(kept, inputs=inputs))
        new_index[old] = len(new_ops)
    return replace(network, ops=tuple(new_ops))


def _op_name(op: Op) -> str:
    """The primitive operation (depthwise and pointwise records are convolutions)."""
    kind = op.layer.kind
    return "conv" if kind in ("depthwise", "pointwise") else kind
