"""One table from ONNX op type to the rule that writes it as a spec layer (`OPS`).

Each rule reads an ONNX node through a `Reader` (calc.importers.onnx: shapes after shape
inference, attributes, small constants; never weight data) and returns a
calc.importers.onnx_graph.Node.  The spec kinds and their fields are those of calc/layers/*
(docs/spec-format.md); ONNX semantics are those of the ONNX operator specification
(https://onnx.ai/onnx/operators/, opsets 11-21).  Parameter counts follow from the shapes of the
weight initializers each rule reads (Conv's W (Cout, Cin/g, *K), Gemm's B, MatMul's (K, N)
weight, LayerNormalization's scale and bias, ...): the spec kind's formula gives the same count.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Protocol

from calc.importers.onnx_graph import Node, fail

ACTIVATIONS: dict[str, str] = {
    "Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "HardSwish": "hardswish",
    "HardSigmoid": "hardsigmoid", "Elu": "elu", "LeakyRelu": "leaky_relu", "Gelu": "gelu",
}
"""ONNX element-wise activations -> the spec's activation kinds (one input, no weights)."""


class Reader(Protocol):
    file: str
    extra_inputs: set[str]
    source: str
    types: dict[str, int]

    def lookup(self, value: str) -> tuple[Any, tuple[int, ...]] | None: ...
    def array(self, value: str) -> Any: ...
    producer: dict[str, Any]

    def is_static(self, value: str) -> bool: ...
    def shape(self, value: str, node: Any) -> tuple[int, ...]: ...
    def const(self, value: str) -> list[float] | None: ...
    def attr(self, node: Any, name: str, default: Any = None) -> Any: ...


Rule = Callable[[Reader, Any], Node]
OPS: dict[str, Rule] = {}


def rule(*ops: str) -> Callable[[Rule], Rule]:
    """Register a rule for ONNX op types; a second rule for one op type is a bug."""
    def register(fn: Rule) -> Rule:
        for op in ops:
            if op in OPS:
                raise RuntimeError(f"ONNX op {op!r} has two rules")
            OPS[op] = fn
        return fn
    return register


def activations(r: Reader, node: Any) -> list[str]:
    """The inputs that carry data from the graph input (not weights, not shape constants)."""
    return [v for v in node.input if v and not r.is_static(v)]


def make(node: Any, kind: str, inputs: list[str], layer: dict[str, Any] | None = None, **info: Any) -> Node:
    return Node(node.name or node.output[0], node.op_type, kind, list(inputs), node.output[0],
                layer or {}, info, [node.name or node.output[0]])


def unknown(node: Any, inputs: list[str], reason: str) -> Node:
    return make(node, "unknown", inputs, reason=reason)


def one_input(r: Reader, node: Any) -> str | None:
    acts = activations(r, node)
    return acts[0] if len(acts) == 1 and node.input[0] == acts[0] else None


def per_axis(values: list[int]) -> int | list[int]:
    """One int when every axis has the same value, as the hand-written specs write it."""
    return values[0] if len(set(values)) == 1 else list(values)


def symmetric_pads(r: Reader, node: Any, rank: int, kernel: list[int], strides: list[int],
                   dilations: list[int]) -> list[int] | str:
    """Per-axis padding from `pads` (begins then ends, which must agree) or `auto_pad`; a str
    is the reason it cannot be written."""
    auto = r.attr(node, "auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else str(auto)
    if auto == "VALID":
        return [0] * rank
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        x = r.shape(node.input[0], node)[2:]
        pads = []
        for size, k, s, d in zip(x, kernel, strides, dilations):
            out = -(-size // s)
            total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
            if total % 2:
                return f"auto_pad {auto} pads one side more than the other ({total} in all)"
            pads.append(total // 2)
        return pads
    pads = list(r.attr(node, "pads", [0] * (2 * rank)))
    begins, ends = pads[:rank], pads[rank:]
    if begins != ends:
        return f"pads {pads} differ at the start and the end of an axis"
    return begins


def window(r: Reader, node: Any, x: tuple[int, ...], kernel: list[int]) -> tuple[list[int], list[int], list[int] | str]:
    rank = len(x) - 2
    strides = list(r.attr(node, "strides", [1] * rank))
    dilations = list(r.attr(node, "dilations", [1] * rank))
    return strides, dilations, symmetric_pads(r, node, rank, kernel, strides, dilations)


def spatial(layer: dict[str, Any], key: str, values: list[int], default: int) -> None:
    if any(v != default for v in values):
        layer[key] = per_axis(values)


# -- convolutions and dense layers ------------------------------------------------------------------
@rule("Conv")
def conv(r: Reader, node: Any) -> Node:
    x = one_input(r, node)
    if x is None or not r.is_static(node.input[1]):
        return unknown(node, activations(r, node), "a Conv whose weight is computed, not an initializer")
    shape = r.shape(x, node)
    w = r.shape(node.input[1], node)
    cout, kernel = w[0], list(w[2:])
    groups = r.attr(node, "group", 1)
    strides, dilations, pads = window(r, node, shape, kernel)
    if isinstance(pads, str):
        return unknown(node, [x], pads)
    bias = len(node.input) > 2 and bool(node.input[2])
    cin = shape[1]
    if groups > 1 and groups == cin and cout % cin == 0:
        layer: dict[str, Any] = {"K": per_axis(kernel)}
        spatial(layer, "stride", strides, 1)
        spatial(layer, "padding", pads, 0)
        spatial(layer, "dilation", dilations, 1)
        if cout // cin != 1:
            layer["multiplier"] = cout // cin
        layer["bias"] = bias
        return make(node, "depthwise", [x], layer)
    layer = {"K": per_axis(kernel), "Cout": cout}
    spatial(layer, "stride", strides, 1)
    spatial(layer, "padding", pads, 0)
    spatial(layer, "dilation", dilations, 1)
    if groups != 1:
        layer["groups"] = groups
    layer["bias"] = bias
    return make(node, "conv", [x], layer)


@rule("ConvTranspose")
def conv_transpose(r: Reader, node: Any) -> Node:
    x = one_input(r, node)
    if x is None or not r.is_static(node.input[1]):
        return unknown(node, activations(r, node), "a ConvTranspose whose weight is computed")
    if r.attr(node, "output_shape") is not None:
        return unknown(node, [x], "output_shape given instead of pads")
    shape = r.shape(x, node)
    w = r.shape(node.input[1], node)
    groups = r.attr(node, "group", 1)
    kernel = list(w[2:])
    strides, dilations, pads = window(r, node, shape, kernel)
    if isinstance(pads, str):
        return unknown(node, [x], pads)
    layer: dict[str, Any] = {"Cout": w[1] * groups, "K": per_axis(kernel)}
    spatial(layer, "stride", strides, 1)
    spatial(layer, "padding", pads, 0)
    spatial(layer, "output_padding", list(r.attr(node, "output_padding", [0] * len(kernel))), 0)
    spatial(layer, "dilation", dilations, 1)
    if groups != 1:
        layer["groups"] = groups
    layer["bias"] = len(node.input) > 2 and bool(node.input[2])
    return make(node, "deconv", [x], layer)


@rule("Gemm")
def gemm(r: Reader, node: Any) -> Node:
    x = one_input(r, node)
    if x is None or not r.is_static(node.input[1]) or r.attr(node, "transA", 0):
        return unknown(node, activations(r, node), "a Gemm of two activations, or a transposed input")
    w = r.shape(node.input[1], node)
    cout, cin = (w[0], w[1]) if r.attr(node, "transB", 0) else (w[1], w[0])
    bias = len(node.input) > 2 and bool(node.input[2])
    return make(node, "linear", [x], {"Cout": cout, "bias": bias}, Cin=cin)


@rule("MatMul")
def matmul(r: Reader, node: Any) -> Node:
    a, b = node.input[0], node.input[1]
    if not r.is_static(a) and not r.is_static(b):
        return make(node, "matmul", [a, b])
    if r.is_static(a):
        return unknown(node, activations(r, node), "a constant times an activation (the weight first)")
    w = r.shape(b, node)
    if len(w) == 2:  # x @ W: nn.Linear as exported (W = weight^T); a following Add is its bias
        return make(node, "linear", [a], {"Cout": w[1], "bias": False}, Cin=w[0])
    return make(node, "matmul", [a], {"other": list(w), "other_is": "buffer"})


# -- normalisation -----------------------------------------------------------------------------------
@rule("BatchNormalization")
def batchnorm(r: Reader, node: Any) -> Node:
    x = one_input(r, node)
    if x is None:
        return unknown(node, activations(r, node), "a BatchNormalization with computed statistics")
    if len(node.output) > 1 and any(node.output[1:]) or r.attr(node, "training_mode", 0):
        return unknown(node, [x], "training-mode batch norm (running statistics updated)")
    return make(node, "batchnorm", [x])


@rule("LayerNormalization")
def layernorm(r: Reader, node: Any) -> Node:
    x = one_input(r, node)
    if x is None:
        return unknown(node, activations(r, node), "a LayerNormalization with a computed scale")
    shape = r.shape(x, node)
    axis = r.attr(node, "axis", -1) % len(shape)
    if axis == 0:
        return unknown(node, [x], "normalised over the batch axis too")
    normalized = list(shape[axis:])
    layer: dict[str, Any] = {}
    if len(normalized) > 1:
        layer["normalized_shape"] = normalized
    layer["bias"] = len(node.input) > 2 and bool(node.input[2])
    return make(node, "layernorm", [x], layer)


# -- activations ------------------------------------------------------------------------------------
@rule(*ACTIVATIONS)
def activation(r: Reader, node: Any) -> Node:
    x = one_input(r, node)
    if x is None:
        return unknown(node, activations(r, node), "an activation of a constant")
    # Gelu's approximate='tanh' is costed as gelu too, as specs/gpt2.yaml costs gelu_new
    return make(node, ACTIVATIONS[node.op_type], [x])


@rule("PRelu")
def prelu(r: Reader, node: Any) -> Node:
    x = one_input(r, node)
    if x is None or not r.is_static(node.input[1]):
        return unknown(node, activations(r, node), "a PRelu whose slope is computed")
    slopes = math.prod(r.shape(node.input[1], node))
    return make(node, "prelu", [x], {"num_parameters": slopes} if slopes != 1 else {})


@rule("Softmax")
def softmax(r: Reader, node: Any) -> Node:
    x = one_input(r, node)
    if x is None:
        return unknown(node, activations(r, node), "a Softmax of a constant")
    rank = len(r.shape(x, node))
    axis = r.attr(node, "axis", -1)
    dim = axis if axis < 0 else axis - rank  # written from the end, as attention's softmax is
    return make(node, "softmax", [x], {"dim": dim})


@rule("Clip")
def clip(r: Reader, node: Any) -> Node:
    x = one_input(r, node)
    if x is None:
        return unknown(node, activations(r, node), "a Clip of a constant")
    low = r.attr(node, "min")
    high = r.attr(node, "max")
    if len(node.input) > 1 and node.input[1]:
        found = r.const(node.input[1])
        low = found[0] if found and len(found) == 1 else None
    if len(node.input) > 2 and node.input[2]:
        found = r.const(node.input[2])
        high = found[0] if found and len(found) == 1 else None
    if low == 0 and high == 6:
        return make(node, "relu6", [x])
    return unknown(node, [x], f"Clip to [{low}, {high}] (only [0, 6], ReLU6, has a spec kind)")


# -- pooling ---------------------------------------------------------------------------------------
@rule("MaxPool", "AveragePool")
def pool(r: Reader, node: Any) -> Node:
    x = one_input(r, node)
    if x is None or len(node.output) > 1 and node.output[1]:
        return unknown(node, activations(r, node), "a pool that also outputs indices")
    shape = r.shape(x, node)
    kernel = list(r.attr(node, "kernel_shape"))
    strides, dilations, pads = window(r, node, shape, kernel)
    if isinstance(pads, str):
        return unknown(node, [x], pads)
    layer: dict[str, Any] = {"K": per_axis(kernel)}
    if strides != kernel:  # ONNX's default stride is 1, the spec's (PyTorch's) is K
        layer["stride"] = per_axis(strides)
    spatial(layer, "padding", pads, 0)
    if node.op_type == "MaxPool":
        spatial(layer, "dilation", dilations, 1)
    elif any(d != 1 for d in dilations):
        return unknown(node, [x], "a dilated AveragePool")
    if r.attr(node, "ceil_mode", 0):
        layer["ceil_mode"] = True
    if node.op_type == "AveragePool" and not r.attr(node, "count_include_pad", 0) and any(pads):
        layer["count_include_pad"] = False
    return make(node, "maxpool" if node.op_type == "MaxPool" else "avgpool", [x], layer)


@rule("GlobalAveragePool", "GlobalMaxPool")
def global_pool(r: Reader, node: Any) -> Node:
    x = one_input(r, node)
    if x is None:
        return unknown(node, activations(r, node), "a pool of a constant")
    return make(node, "global_avgpool" if node.op_type == "GlobalAveragePool" else "global_maxpool", [x])


@rule("ReduceMean", "ReduceMax")
def reduce(r: Reader, node: Any) -> Node:
    """A mean (max) over every spatial axis is global pooling; other reductions have no kind."""
    x = one_input(r, node)
    if x is None:
        return unknown(node, activations(r, node), "a reduction of a constant")
    rank = len(r.shape(x, node))
    axes = r.attr(node, "axes")
    if axes is None and len(node.input) > 1 and node.input[1]:
        axes = r.const(node.input[1])
    axes = sorted(int(a) % rank for a in axes) if axes is not None else None
    if rank < 3 or axes != list(range(2, rank)):
        return unknown(node, [x], f"a {node.op_type} over axes {axes} (only every spatial axis is pooling)")
    kind = "global_avgpool" if node.op_type == "ReduceMean" else "global_maxpool"
    return make(node, kind, [x], {} if r.attr(node, "keepdims", 1) else {"keepdims": False})


# -- element-wise with two inputs, concatenation -------------------------------------------------------
@rule("Add", "Mul", "Sub", "Div", "Sum")
def binary(r: Reader, node: Any) -> Node:
    acts = activations(r, node)
    kind = {"Add": "add", "Sum": "add", "Mul": "mul"}.get(node.op_type)
    if len(acts) >= 2:
        if kind is None:
            return unknown(node, acts, f"{node.op_type} of two activations has no spec kind")
        return make(node, kind, acts)
    if len(acts) != 1:
        return unknown(node, acts, "no activation input")
    x = acts[0]
    const = next(v for v in node.input if v and v != x)
    cshape = r.shape(const, node)
    xshape = r.shape(x, node)
    numel = math.prod(cshape)
    if numel == 1 and node.op_type in ("Mul", "Div"):
        value = r.const(const)
        return make(node, "scalar", [x], op=node.op_type, value=value[0] if value else None,
                    reason=f"{node.op_type} by a constant scalar has no spec kind (only inside an "
                           "attention's score scaling or GELU's erf form)")
    found = r.lookup(const) if node.op_type == "Add" else None
    if found is not None:
        return table_add(r, node, x, *found)
    if node.op_type == "Add" and len(xshape) == 4:
        array = r.array(const)
        pattern = None if array is None else mask_pattern(array == 0, array <= MASKED, xshape)
        if pattern is not None and r.shape(node.output[0], node) == xshape:
            return score_mask(node, x, pattern, "an additive mask")
    if node.op_type == "Add":
        value = r.const(const) if numel == 1 else None
        last = len(cshape) >= 1 and cshape[-1] == numel and numel == xshape[-1]
        return make(node, "const_add", [x], numel=numel, last_axis=last, value=value[0] if value else None,
                    reason="Add of a constant tensor has no spec kind (only a MatMul's bias, folded "
                           "into its linear layer)")
    if node.op_type == "Mul" and numel > 1:
        if cshape[-1:] == (numel,) and xshape[-1] == numel:
            return make(node, "scale", [x], {"dim": -1})
        if len(xshape) >= 3 and numel == xshape[1] and tuple(cshape[-(len(xshape) - 1):]) == (numel,) + (1,) * (len(xshape) - 2):
            return make(node, "scale", [x], {"dim": 1})
    return unknown(node, [x], f"{node.op_type} by a constant of shape {list(cshape)} has no spec kind")


def table_add(r: Reader, node: Any, x: str, gather: Any, table: tuple[int, ...]) -> Node:
    """x (N, T, d) + table[ids], the ids computed from constants and shapes only (the exporter
    builds them from buffers: transformers' position_ids and token_type_ids).
    Ids 0, 1, ..., T-1 are positions: `position_embedding` with `lookup` and the table's rows
    (GPT-2's wpe, BERT's position_embeddings).  Other ids (BERT's token types, all 0) are an
    embedding of constant ids added to x, a `lookup_add` that calc.importers.onnx_graph writes as
    an embedding of the input's ids beside x's branch.  Both cost one add per element of x and
    rows * d parameters.  When the ids' values were not computed at import (too large), a table
    of at least T rows is taken for positions.  Ids past the table's end (a sequence longer than
    the model's context) are refused."""
    import numpy

    xshape, ids = r.shape(x, node), r.shape(gather.input[1], gather)
    rows, d = table
    gname = gather.name or gather.output[0]
    if len(xshape) != 3 or xshape[-1] != d or r.shape(node.output[0], node) != xshape:
        return unknown(node, [x], f"Add of rows of table {list(table)} gathered by constant ids to "
                                  f"{list(xshape)}: no spec kind")
    values = r.array(gather.input[1])
    if values is not None and values.size and (values.max() >= rows or values.min() < -rows):
        raise fail(r.file, gather.name or gather.output[0], gather.op_type,
                   f"gathers row {int(values.max())} of a table of {rows} rows: the sequence is longer "
                   "than the model's table", f"a sequence of at most {rows} tokens (--dim)")
    T = xshape[1]
    if values is not None:
        positions = values.shape[-1:] == (T,) and bool((values.reshape(-1, T) == numpy.arange(T)).all())
    else:
        positions = rows >= T
    if positions and ids in ((1, T), xshape[:2], (T,)):
        return Node(gname, "Gather+Add", "position_embedding", [x], node.output[0], {"rows": rows, "lookup": True},
                    {}, [gname, node.name or node.output[0]])
    return make(node, "lookup_add", [x], num_embeddings=rows, embedding_dim=d, ids=list(ids),
                gather=gname, gather_output=gather.output[0],
                reason=f"Add of rows of table {list(table)} gathered by constant ids {list(ids)} "
                       f"(an embedding of the input's ids, only where the input is token ids "
                       f"of that shape)")


MASKED = -1e4
"""An additive attention mask hides a score with a large negative number: transformers 5.24
writes torch.finfo(dtype).min (masking_utils.py, sdpa_mask/eager_mask), older code -10000.0
(the lowest that counts as masked here), some -inf."""


def mask_pattern(visible: Any, hidden: Any, scores: tuple[int, ...]) -> tuple[str, int | None] | None:
    """What a constant mask on scores (N, H, T, S) keeps, from its boolean `visible` and `hidden`
    arrays (broadcast to the scores): ('full', None) when it hides nothing; ('causal', None)
    when query i (at position S - T + i) sees keys j <= S - T + i; ('window', w) when it sees
    the w most recent of those; None for anything else (a value neither visible nor hidden, a
    padding pattern, a mask that differs between sequences or heads)."""
    import numpy

    T, S = scores[-2:]
    try:
        visible = numpy.broadcast_to(visible, scores).reshape(-1, T, S)
        hidden = numpy.broadcast_to(hidden, scores).reshape(-1, T, S)
    except ValueError:
        return None
    if not bool(numpy.all(visible ^ hidden)) or not bool(numpy.all(visible == visible[:1])):
        return None
    seen = visible[0]
    if seen.all():
        return ("full", None)
    position = numpy.arange(T)[:, None] + (S - T)
    keys = numpy.arange(S)[None, :]
    if numpy.array_equal(seen, keys <= position):
        return ("causal", None)
    w = int(seen[-1].sum())
    if w >= 1 and numpy.array_equal(seen, (keys <= position) & (keys > position - w)):
        return ("window", w)
    return None


def score_mask(node: Any, x: str, pattern: tuple[str, int | None] | None, what: str) -> Node:
    """A constant mask on attention scores: a `mask` marker that only an attention absorbs
    (calc.importers.onnx_graph.AttentionMatch)."""
    if pattern is None:
        return unknown(node, [x], f"{what} on scores that is neither causal, a sliding window nor "
                                  "all visible (no spec kind)")
    return make(node, "mask", [x], pattern=pattern[0], window=pattern[1],
                reason=f"{what} on attention scores ({pattern[0]}) outside an attention the importer "
                       "recognises")


@rule("Where")
def where(r: Reader, node: Any) -> Node:
    """Where(condition, scores, fill) with a constant condition and fill: a mask on the
    scores that the condition keeps (or Where(condition, fill, scores): the ones it hides)."""
    acts = activations(r, node)
    guard = r.producer.get(node.input[0])
    if (len(acts) == 2 and guard is not None and guard.op_type == "IsNaN" and guard.input[0] == node.input[2]
            and r.is_static(node.input[1]) and r.const(node.input[1]) == [0.0]):
        # torch.onnx's scaled_dot_product_attention symbolic: softmax rows that were all masked
        # (NaN) become 0; one select per probability, which the attention kind does not count
        return make(node, "nan_guard", [node.input[2]], isnan=guard.name or guard.output[0],
                    reason="Where(IsNaN(p), 0, p) outside an attention the importer recognises")
    if len(acts) != 1 or acts[0] == node.input[0]:
        return unknown(node, acts, "a Where of computed conditions or of two activations")
    x = acts[0]
    condition = r.array(node.input[0])
    shape = r.shape(x, node)
    if condition is None or len(shape) != 4:
        return unknown(node, [x], "a Where that is no constant mask on attention scores")
    other = node.input[2] if x == node.input[1] else node.input[1]
    fill = r.array(other)
    if fill is None or fill.size == 0 or not bool((fill <= MASKED).all()) or r.shape(node.output[0], node) != shape:
        return unknown(node, [x], "a Where that does not fill hidden scores with a large negative constant")
    keep = condition.astype(bool)
    if x == node.input[2]:
        keep = ~keep
    return score_mask(node, x, mask_pattern(keep, ~keep, shape), "a Where mask")


@rule("IsNaN")
def isnan(r: Reader, node: Any) -> Node:
    """Only as the condition of the NaN guard after an attention's softmax (`where`)."""
    return make(node, "isnan", activations(r, node),
                reason="IsNaN outside the NaN guard of an attention's softmax has no spec kind")


@rule("Concat")
def concat(r: Reader, node: Any) -> Node:
    acts = [v for v in node.input if v and not r.is_static(v)]
    if len(acts) != len([v for v in node.input if v]):
        return unknown(node, acts, "a Concat of activations and constants")
    rank = len(r.shape(acts[0], node))
    axis = r.attr(node, "axis") % rank
    past = [v for v in acts if v in r.extra_inputs]
    if len(past) == 1 and len(acts) == 2 and acts[0] == past[0]:
        # a KV cache: past keys (a graph input) then the new ones; only an attention absorbs it
        return make(node, "kv_concat", [acts[1]], past=past[0], dim=axis,
                    reason=f"concatenates graph input '{past[0]}' (only a past key/value cache inside "
                           "an attention the importer recognises is supported)")
    return make(node, "concat", acts, {"dim": axis})


# -- shapes ----------------------------------------------------------------------------------------
@rule("Flatten")
def flatten(r: Reader, node: Any) -> Node:
    x = one_input(r, node)
    if x is None:
        return unknown(node, activations(r, node), "a Flatten of a constant")
    rank = len(r.shape(x, node))
    axis = r.attr(node, "axis", 1) % rank if rank else 1
    if axis == 0:
        return unknown(node, [x], "Flatten(axis=0) merges the batch axis")
    return make(node, "flatten", [x], {} if axis == 1 else {"start_dim": axis})


@rule("Reshape", "Squeeze", "Unsqueeze")
def reshape(r: Reader, node: Any) -> Node:
    """The output's per-sample shape, from shape inference (the batch axis must stay first)."""
    x = one_input(r, node)
    if x is None:
        return unknown(node, activations(r, node), "a reshape of a constant")
    before, after = r.shape(x, node), r.shape(node.output[0], node)
    # as a plain reshape when the batch axis stays first (N = 1 and one token): kept so if unfused
    plain = {"shape": list(after[1:])} if before and after and before[0] == after[0] and len(after) >= 2 else None
    if len(before) >= 3 and after == (math.prod(before[:-1]), before[-1]):
        # x.view(-1, d) before a Gemm (transformers' Conv1D): the rows of all samples merged
        return make(node, "rows_merge", [x], plain=plain, reason=f"reshapes {list(before)} to {list(after)}, "
                    "merging the batch axis (only around a Gemm, as transformers' Conv1D writes it)")
    if len(before) == 2 and len(after) >= 3 and math.prod(after[:-1]) == before[0]:
        return make(node, "rows_split", [x], shape=list(after), plain=plain,
                    reason=f"reshapes {list(before)} to {list(after)}, splitting the batch axis (only "
                           "after a Gemm of merged rows, as transformers' Conv1D writes it)")
    if not before or not after or before[0] != after[0] or len(after) < 2:
        return unknown(node, [x], f"reshapes {list(before)} to {list(after)}: the batch axis does not stay first")
    return make(node, "reshape", [x], {"shape": list(after[1:])})


@rule("Transpose")
def transpose(r: Reader, node: Any) -> Node:
    x = one_input(r, node)
    if x is None:
        return unknown(node, activations(r, node), "a Transpose of a constant")
    rank = len(r.shape(x, node))
    perm = list(r.attr(node, "perm", list(range(rank))[::-1]))
    if perm[0] != 0:
        return unknown(node, [x], f"perm {perm} moves the batch axis")
    return make(node, "permute", [x], {"dims": perm})


@rule("Cast")
def cast(r: Reader, node: Any) -> Node:
    """A Cast of an activation to the type it has already (transformers' softmax(...).to(dtype)):
    an identity; a real conversion has no spec kind."""
    x = one_input(r, node)
    if x is None:
        return unknown(node, activations(r, node), "a Cast of a constant")
    if r.attr(node, "to") == r.types.get(x):
        return make(node, "identity", [x])
    return unknown(node, [x], f"a Cast from type {r.types.get(x)} to {r.attr(node, 'to')} (no spec kind)")


@rule("Pow")
def power(r: Reader, node: Any) -> Node:
    """x ** constant: only inside GELU's tanh form (x ** 3), as a marker."""
    x = one_input(r, node)
    value = r.const(node.input[1]) if len(node.input) > 1 else None
    if x is None or value is None or len(value) != 1:
        return unknown(node, activations(r, node), "a Pow other than by a constant scalar")
    return make(node, "scalar", [x], op="Pow", value=value[0],
                reason="Pow by a constant has no spec kind (only inside GELU's tanh form)")


def split(r: Reader, node: Any) -> list[Node]:
    """Split of an activation along its last axis into parts: one `split_part` marker per output,
    which only an attention absorbs (the packed q, k, v projection of GPT-2's c_attn)."""
    x = one_input(r, node)
    if x is None:
        return [unknown(node, activations(r, node), "a Split of a constant")]
    shape = r.shape(x, node)
    axis = r.attr(node, "axis", 0) % len(shape)
    widths = [r.shape(o, node)[axis] for o in node.output]
    name = node.name or node.output[0]
    parts = []
    for i, out in enumerate(node.output):
        part = Node(name if i == 0 else f"{name}#{i}", node.op_type, "split_part", [x], out, {},
                    {"index": i, "widths": widths, "last_axis": axis == len(shape) - 1,
                     "reason": f"Split of {list(shape)} along axis {axis} (only the packed q, k, v of an "
                               "attention the importer recognises)"}, [name] if i == 0 else [])
        parts.append(part)
    return parts


@rule("Identity", "Dropout")
def identity(r: Reader, node: Any) -> Node:
    x = one_input(r, node)
    if x is None:
        return unknown(node, activations(r, node), "an Identity of a constant")
    return make(node, "identity" if node.op_type == "Identity" else "dropout", [x])


@rule("Gather")
def gather(r: Reader, node: Any) -> Node:
    """A table (initializer) indexed by token ids: an embedding; an activation indexed by one
    constant position along an axis after the batch: `select` (BERT's pooler reads
    hidden_states[:, 0])."""
    table, ids = node.input[0], node.input[1]
    if not r.is_static(table) and r.is_static(ids):
        index = r.const(ids)
        rank = len(r.shape(table, node))
        axis = r.attr(node, "axis", 0) % rank
        if index is None or len(index) != 1 or r.shape(ids, node) != () or axis == 0:
            return unknown(node, [table], "a Gather of an activation other than one constant "
                                          "position along an axis after the batch")
        return make(node, "select", [table], {"dim": axis, "index": int(index[0])})
    if not r.is_static(table) or r.is_static(ids) or r.attr(node, "axis", 0) != 0:
        return unknown(node, activations(r, node), "a Gather other than an embedding lookup")
    w = r.shape(table, node)
    if len(w) != 2:
        return unknown(node, [ids], f"a Gather from a table of shape {list(w)}")
    return make(node, "embedding", [ids], {"num_embeddings": w[0], "embedding_dim": w[1]})


STATIC_OPS = frozenset({"Shape", "Size"})
"""Ops whose output depends on their input's shape only: shape arithmetic, not data."""
