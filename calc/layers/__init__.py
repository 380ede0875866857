"""Layer kinds: one module per family, one record class per kind, one registry from tag to class.

To add a kind: write its record and formulas in a module here, then list the class in `KINDS`.
"""

from calc.layers.activation import Activation, ActivationKind
from calc.layers.attention import Attention
from calc.layers.base import Layer
from calc.layers.conv import Conv, Depthwise, Pointwise, Separable
from calc.layers.deconv import Deconv
from calc.layers.embedding import Embedding
from calc.layers.linear import Linear
from calc.layers.merge import Concat, ElementwiseMerge
from calc.layers.moe import MoE
from calc.layers.norm import BatchNorm, GroupNorm, InstanceNorm, LayerNorm, LayerNorm2d, RMSNorm
from calc.layers.pool import AdaptivePool, GlobalPool, Pool
from calc.layers.reshape import (
    ChannelShuffle, Chunk, Dropout, Flatten, Identity, Permute, Reshape, Split, Transpose,
)
from calc.layers.tensor import Einsum, Matmul, Scale
from calc.layers.tokens import ClassToken, PositionEmbedding, Select
from calc.layers.upsample import Upsample

KINDS: tuple[type[Layer], ...] = (
    Conv, Depthwise, Pointwise, Separable, Deconv, Linear, BatchNorm, Activation,
    Pool, AdaptivePool, GlobalPool, ElementwiseMerge, Concat, Flatten, Dropout, Identity,
    ChannelShuffle, Upsample, LayerNorm, LayerNorm2d, RMSNorm, GroupNorm, InstanceNorm,
    Permute, Transpose, Reshape, Split, Chunk, Matmul, Einsum, Scale, Embedding, Attention,
    MoE, ClassToken, PositionEmbedding, Select,
)


def _registry() -> dict[str, type[Layer]]:
    table: dict[str, type[Layer]] = {}
    for cls in KINDS:
        for tag in cls.TAGS:
            if tag in table:
                raise RuntimeError(f"layer kind {tag!r} registered twice ({table[tag]} and {cls})")
            table[tag] = cls
    return table


REGISTRY: dict[str, type[Layer]] = _registry()
"""type tag -> record class."""

__all__ = [
    "KINDS", "REGISTRY", "Activation", "ActivationKind", "AdaptivePool", "Attention", "BatchNorm",
    "ChannelShuffle", "Chunk", "ClassToken", "MoE", "PositionEmbedding", "Select", "Concat", "Conv", "Deconv", "Depthwise", "Dropout", "Einsum", "ElementwiseMerge", "Embedding",
    "Flatten", "GlobalPool", "GroupNorm", "Identity", "InstanceNorm", "Layer", "LayerNorm",
    "LayerNorm2d", "Linear", "Matmul", "Permute", "Pointwise", "Pool", "RMSNorm", "Reshape",
    "Scale", "Separable", "Split", "Transpose", "Upsample",
]
