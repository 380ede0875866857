"""An ONNX file -> a spec: `import_onnx(path)` (YAML text), `network_from_onnx(path)`.

The `onnx` package is the optional extra `flopcalc[onnx]`, imported here only, inside the
functions that need it; no other command loads this module.  The model is read with
`onnx.load(path, load_external_data=False)`: weights are never loaded, parameter counts come
from the initializers' shapes.

Steps: read the file; give every symbolic dim of the graph inputs a size (`dims`, the command
line's --dim name=value; a symbolic batch axis, axis 0 of the first input, is 1 when not given:
the spec's batch); ONNX shape inference (onnx.shape_inference.infer_shapes with data
propagation) for every value's shape, with the shape arithmetic evaluated into constants
between rounds (`_fold_shape_arithmetic`: ids and masks that exporters build from the input's
shape); drop shape arithmetic (nodes computed from constants and from Shape/Size only);
translate each remaining node by the rules of calc.importers.onnx_ops; fuse patterns (a
MatMul's bias, Conv1D, x*sigmoid(x), GELU, attention: calc.importers.onnx_graph); tell a head
tied to an embedding table (`_ties`); write the graph as the spec's composites.  The spec is then built like any spec (calc.network), and its
parameter count is checked against the weight initializers the graph reads.

Batch norms: TorchScript's exporter folds an eval-mode BatchNormalization into the convolution
before it (do_constant_folding, its default): the conv gains a bias of Cout and the batch norm's
2*Cout affine parameters disappear, so the imported count is the folded one.  The importer says
so when it sees convolutions with a bias whose weights are exporter-made constants ('onnx::...'
names: TorchScript names a constant it computed that way, a parameter keeps its module path), and
gives the unfolded count on the assumption that those convolutions had no bias of their own (as
every conv followed by a batch norm in torchvision): folded + Cout per such conv.  A model exported
with do_constant_folding=False keeps its BatchNormalization nodes, and its count is exact.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from calc.errors import CalcError, Location, SpecError, UsageError
from calc.importers import onnx_ops
from calc.importers.onnx_graph import MARKERS, Graph, Names, Node, fail

ONNX_MISSING = "calc import onnx needs the onnx package: pip install 'flopcalc[onnx]'"
PARAM_INPUTS: dict[str, tuple[int, ...]] = {
    "Conv": (1, 2), "ConvTranspose": (1, 2), "Gemm": (1, 2), "MatMul": (1,), "BatchNormalization": (1, 2),
    "LayerNormalization": (1, 2), "PRelu": (1,), "Gather": (0,), "Add": (0, 1), "Mul": (0, 1),
}
"""Inputs of each op that are learned parameters when they are initializers (BatchNormalization's
mean and variance are buffers; Add's and Mul's only where the rule kept them: a bias, a scale)."""
SPATIAL_OPS = frozenset({"Conv", "ConvTranspose", "BatchNormalization", "MaxPool", "AveragePool",
                         "GlobalAveragePool", "GlobalMaxPool"})
FLOAT_TYPES = frozenset({1, 10, 11, 16})
"""TensorProto FLOAT, FLOAT16, DOUBLE, BFLOAT16: an input of these is data, not token ids."""
EXTERNAL = 1
"""TensorProto.EXTERNAL: a tensor whose data lives in another file (never read)."""
FOLDED_NAME = re.compile(r"^onnx::")
"""How TorchScript's exporter (torch 2.14.1, torch.onnx.export(dynamo=False)) names a constant it
computed, such as a conv weight with a batch norm folded in ('onnx::Conv_193'); the parameters it
exports unchanged keep their module paths ('fc.weight').  The dynamo exporter's optimizer
(onnxscript 0.7.2, rewriter/rules/common/_fuse_batchnorm.py:89) keeps the weight's name and
names the bias it creates for a conv that had none '<weight>_bias'."""


@dataclass
class Imported:
    """What an import found: the spec text, the nodes kept at zero cost (--allow-unknown), and
    the parameter counts (read from the initializers; unfolded where batch norms were folded)."""

    text: str
    unknown: list[str] = field(default_factory=list)
    params: int = 0
    unfolded_params: int | None = None
    folded_convs: int = 0
    batchnorms: int = 0


def _onnx() -> Any:
    try:
        import onnx
    except ImportError:
        raise UsageError(ONNX_MISSING) from None
    return onnx


def _path(path: Any) -> str:
    if isinstance(path, os.PathLike):
        path = os.fspath(path)
    if not isinstance(path, str) or not path:
        raise UsageError(f"an ONNX model is read from a path, got {type(path).__name__}",
                         expected="a str or os.PathLike such as 'model.onnx'")
    return path


def _dims(dims: Any) -> dict[str, int]:
    if dims is None:
        return {}
    if not isinstance(dims, Mapping):
        raise UsageError(f"dims must map symbolic dim names to sizes, got {type(dims).__name__}",
                         expected="a dict such as {'sequence': 128}")
    for name, value in dims.items():
        if not isinstance(name, str) or not name:
            raise UsageError(f"a dim name must be a non-empty str, got {name!r}", expected="--dim name=value")
        if type(value) is not int or value < 1:
            raise UsageError(f"--dim {name}={value!r}: a size must be a positive int",
                             expected=f"--dim {name}=128")
    return dict(dims)


def read_model(path: str) -> Any:
    """The ModelProto, weights left on disk; a one-line error for what is not an ONNX model."""
    onnx = _onnx()
    if not os.path.isfile(path):
        raise SpecError("no such file" if not os.path.exists(path) else "not a file",
                        location=Location(path), expected="the path of an .onnx file")
    try:
        model = onnx.load(path, load_external_data=False)
    except Exception as exc:  # noqa: BLE001 (protobuf's DecodeError and friends: truncated, corrupt, not ONNX)
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SpecError(f"not a readable ONNX model ({reason})", location=Location(path),
                        expected="an .onnx file written by an exporter (truncated or corrupt?)") from None
    if model.ir_version < 1 or not model.HasField("graph") or not model.graph.node:
        raise SpecError("not an ONNX model (no graph of nodes in it)", location=Location(path),
                        expected="an .onnx file written by an exporter")
    graph = model.graph
    texts = [*(t.name for t in graph.initializer), *(v.name for v in graph.input),
             *(v.name for v in graph.output), *(v.name for v in graph.value_info)]
    for node in graph.node:
        texts += [node.name, node.op_type, node.domain, *node.input, *node.output]
    if not all(isinstance(t, str) for t in texts):  # protobuf hands back invalid UTF-8 as bytes
        raise SpecError("not a valid ONNX model: a name in it is not UTF-8 text", location=Location(path),
                        expected="an .onnx file written by an exporter (corrupt?)")
    return model


class Reader:
    """Shapes, attributes and small constants of a model after shape inference (onnx_ops.Reader)."""

    def __init__(self, file: str, model: Any) -> None:
        onnx = _onnx()
        self.file = file
        self.helper = onnx.helper
        self.numpy_helper = onnx.numpy_helper
        graph = model.graph
        self.initializers = {t.name: t for t in graph.initializer}
        self.extra_inputs: set[str] = set()
        """Graph inputs after the first (a past KV cache), set by `convert`."""
        self.shapes: dict[str, tuple[Any, ...]] = {}
        self.types: dict[str, int] = {}
        for vi in [*graph.input, *graph.value_info, *graph.output]:
            t = vi.type.tensor_type
            if t.HasField("shape"):
                self.shapes[vi.name] = tuple(
                    d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in t.shape.dim)
            self.types[vi.name] = t.elem_type
        for name, tensor in self.initializers.items():
            self.shapes[name] = tuple(tensor.dims)
            self.types[name] = tensor.data_type
        self.constants: dict[str, Any] = {}
        for node in graph.node:
            if node.op_type == "Constant":
                for a in node.attribute:
                    if a.name == "value":
                        self.constants[node.output[0]] = a.t
                        self.shapes[node.output[0]] = tuple(a.t.dims)
        self.known = {o for node in graph.node for o in node.output} | {v.name for v in graph.input}
        self.known |= set(self.initializers)
        self.static: set[str] = set(self.initializers) | set(self.constants)
        for node in graph.node:
            if node.op_type in onnx_ops.STATIC_OPS or all(v in self.static for v in node.input if v):
                self.static.update(o for o in node.output if o)
        self.producer = {o: node for node in graph.node for o in node.output if o}
        self.values: dict[str, Any] = {}
        """Values of the shape arithmetic evaluated at import (numpy arrays), set by `convert`."""
        self.source = ""
        """The first graph input (the spec's input), set by `convert`."""
        self.aliases: dict[str, str] = {}
        for node in graph.node:  # Identity of a weight: TorchScript shares equal constants so
            if node.op_type == "Identity" and node.input[0] in self.static:
                self.aliases[node.output[0]] = self.aliases.get(node.input[0], node.input[0])

    def is_static(self, value: str) -> bool:
        return value in self.static

    def array(self, value: str) -> Any:
        """A static value's array when the import evaluated it (ids, masks), else None."""
        return self.values.get(self.aliases.get(value, value))

    def lookup(self, value: str) -> tuple[Any, tuple[int, ...]] | None:
        """(the Gather, its table's shape) when `value` is rows of a learned table (a float
        initializer of rank 2) gathered along axis 0 by ids computed from constants and shapes
        only: position ids, token type ids (see onnx_ops.binary)."""
        node = self.producer.get(value)
        while node is not None and (node.op_type == "Identity" or node.op_type == "Cast" and self.attr(
                node, "to") == self.types.get(node.input[0]) in FLOAT_TYPES):  # .to(device): the same type
            node = self.producer.get(node.input[0])
        if node is None or node.op_type != "Gather" or node.domain not in ("", "ai.onnx"):
            return None
        table = self.aliases.get(node.input[0], node.input[0])
        if (table not in self.initializers or self.types.get(table) not in FLOAT_TYPES
                or len(self.shapes.get(table, ())) != 2 or self.attr(node, "axis", 0) != 0
                or not self.is_static(node.input[1])):
            return None
        return node, self.shapes[table]

    def attr(self, node: Any, name: str, default: Any = None) -> Any:
        for a in node.attribute:
            if a.name == name:
                return self.helper.get_attribute_value(a)
        return default

    def const(self, value: str) -> list[float] | None:
        """A small constant's values (a Constant node's or an initializer's, when stored inline)."""
        value = self.aliases.get(value, value)
        tensor = self.constants.get(value) or self.initializers.get(value)
        if tensor is None or math.prod(tensor.dims) > 64 or tensor.data_location == 1:
            return None
        try:
            return [float(v) for v in self.numpy_helper.to_array(tensor).reshape(-1)]
        except Exception:  # noqa: BLE001 (an odd dtype or no data: not a constant we can read)
            return None

    def shape(self, value: str, node: Any) -> tuple[int, ...]:
        shape = self.shapes.get(value)
        if shape is None and value not in self.known:
            raise fail(self.file, node.name or node.output[0], node.op_type,
                       f"reads '{value}', which no node computes and which is no graph input",
                       "a well-formed graph (a corrupt or hand-edited file?)")
        if shape is None:
            raise fail(self.file, node.name or node.output[0], node.op_type,
                       f"the shape of '{value}' is not known after ONNX shape inference",
                       "a model whose shapes shape inference resolves (exported with static shapes, "
                       "or symbolic input dims given with --dim name=value)")
        for d in shape:
            if type(d) is not int or d < 1:
                # the inputs' symbolic dims all have sizes by now: this one was made inside the graph
                hint = "a model whose shapes ONNX shape inference resolves (exported with static shapes)"
                what = f"the symbolic dim '{d}'" if isinstance(d, str) else "an unknown dim"
                raise fail(self.file, node.name or node.output[0], node.op_type,
                           f"the shape of '{value}' has {what}", hint)
        return shape  # type: ignore[return-value]

    def numel(self, value: str) -> int:
        value = self.aliases.get(value, value)
        return math.prod(self.shapes[value]) if value in self.shapes else 0


def _resolve_dims(onnx: Any, model: Any, file: str,
                  dims: dict[str, int]) -> tuple[Any, dict[str, int], dict[str, Any], list[str]]:
    """A copy of the model whose symbolic input dims have sizes, the sizes used, the values of
    the shape arithmetic folded (`_fold_shape_arithmetic`), and the inputs given values
    (`_assume_inputs`)."""
    graph = model.graph
    inits = {t.name for t in graph.initializer}
    inputs = [i for i in graph.input if i.name not in inits]
    if not inputs:
        raise SpecError("the graph has no input besides its weights", location=Location(file),
                        expected="a model with an input tensor")
    symbols: dict[str, tuple[str, int]] = {}
    for vi in inputs:
        for axis, d in enumerate(vi.type.tensor_type.shape.dim):
            if d.dim_param:
                symbols.setdefault(d.dim_param, (vi.name, axis))
            elif not d.HasField("dim_value"):
                raise SpecError(f"axis {axis} of graph input '{vi.name}' has neither a size nor a name",
                                location=Location(file), expected="a model exported with named dynamic axes")
    for name in dims:
        if name not in symbols:
            known = ", ".join(sorted(symbols)) or "none"
            raise UsageError(f"--dim {name}: {file} has no symbolic dim '{name}' (its symbolic dims: {known})",
                             expected="a name the model's inputs use")
    sizes = dict(dims)
    first = inputs[0].type.tensor_type.shape.dim
    if first and first[0].dim_param and first[0].dim_param not in sizes:
        sizes[first[0].dim_param] = 1  # the batch: the spec's default
    missing = [s for s in symbols if s not in sizes]
    if missing:
        name = missing[0]
        source, axis = symbols[name]
        readers = [n for n in graph.node if source in n.input]
        reader = next((n for n in readers if n.op_type not in onnx_ops.STATIC_OPS), readers[0] if readers else None)
        where = f"node '{reader.name or reader.output[0]}' ({reader.op_type})" if reader else f"input '{source}'"
        raise SpecError(f"{where}: reads graph input '{source}' whose axis {axis} is the symbolic dim "
                        f"'{name}', which has no size", location=Location(file),
                        expected=f"--dim {name}=VALUE")
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    del copy.graph.value_info[:]
    for vi in [*copy.graph.input, *copy.graph.output]:
        for d in vi.type.tensor_type.shape.dim:
            if d.dim_param:
                if d.dim_param in sizes:
                    d.dim_value = sizes[d.dim_param]
                else:
                    d.Clear()
    assumed = _assume_inputs(onnx, copy, inputs[0].name)
    inferred = _infer(onnx, copy, file)
    values: dict[str, Any] = {}
    for _ in range(FOLD_ROUNDS):
        if not _fold_shape_arithmetic(onnx, inferred, values):
            break
        del inferred.graph.value_info[:]
        inferred = _infer(onnx, inferred, file)
    return inferred, sizes, values, assumed


ASSUMED_INPUTS = {
    "attention_mask": "all ones (no padding: every token attends to every key the model lets it)",
    "token_type_ids": "all zeros (one segment)",
    "position_ids": "0, 1, ..., T-1 in every sequence",
}
"""Integer graph inputs besides the first that the import gives values, by transformers' argument
names (the names Optimum and torch.onnx.export(input_names=...) exports use): the spec has one
input, and with these values what the model computes from them (masks, token type and position
ids) is shape arithmetic, costed as the graph costs it (an all-ones padding mask hides nothing;
which table row an id reads costs the same)."""


def _assume_inputs(onnx: Any, model: Any, first: str) -> list[str]:
    """Replace the graph inputs named in ASSUMED_INPUTS (integer, every dim sized) by Constant
    nodes of those values; returns a header line for each."""
    import numpy
    from onnx import helper, numpy_helper

    inits = {t.name for t in model.graph.initializer}
    lines = []
    for vi in list(model.graph.input):
        t = vi.type.tensor_type
        if vi.name == first or vi.name in inits or vi.name not in ASSUMED_INPUTS or t.elem_type in FLOAT_TYPES:
            continue
        dims = [d.dim_value for d in t.shape.dim]
        if not dims or any(d < 1 for d in dims):
            continue
        dtype = helper.tensor_dtype_to_np_dtype(t.elem_type)
        if vi.name == "attention_mask":
            value = numpy.ones(dims, dtype)
        elif vi.name == "token_type_ids":
            value = numpy.zeros(dims, dtype)
        else:
            value = numpy.broadcast_to(numpy.arange(dims[-1], dtype=dtype), dims).copy()
        model.graph.input.remove(vi)
        model.graph.node.insert(0, helper.make_node("Constant", [], [vi.name], name=vi.name,
                                                    value=numpy_helper.from_array(value, vi.name)))
        lines.append(f"Graph input '{vi.name}' {list(dims)} taken as {ASSUMED_INPUTS[vi.name]}.")
    return lines


def _infer(onnx: Any, model: Any, file: str) -> Any:
    try:
        return onnx.shape_inference.infer_shapes(model, check_type=False, strict_mode=False, data_prop=True)
    except Exception as exc:  # noqa: BLE001 (onnx's InferenceError, or a checker error inside it)
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SpecError(f"ONNX shape inference failed: {reason}", location=Location(file),
                        expected="a model that onnx.checker accepts") from None


FOLD_ROUNDS = 8
FOLD_LIMIT = 1 << 22
"""Shape arithmetic is evaluated (`_fold_shape_arithmetic`) when each value it computes has at
most this many elements (a (1, 1, T, T) causal mask up to T = 2048), in at most FOLD_ROUNDS
rounds of folding and shape inference; values of at most CONSTANT_LIMIT elements replace their
nodes as Constant nodes (for shape inference: the shapes Reshape and Expand read)."""
CONSTANT_LIMIT = 4096
FOLD_OPS = frozenset({
    "Cast", "CastLike", "Concat", "ConstantOfShape", "Equal", "Expand", "Gather", "GatherElements",
    "Range", "Reshape", "Slice", "Squeeze", "Unsqueeze", "Where", "Add", "Sub", "Mul", "Div", "Neg",
    "Mod", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "Not", "And", "Or", "Min", "Max",
    "Abs", "ReduceProd", "ReduceSum", "ReduceMin", "ReduceMax", "Identity", "Transpose", "Trilu",
    "CumSum", "Tile", "Flatten", "Sqrt", "Floor", "Ceil",
})
"""Ops evaluated (onnx.reference) when every input is a known small constant."""


def _fold_shape_arithmetic(onnx: Any, model: Any, values: dict[str, Any]) -> int:
    """Replace the nodes of shape arithmetic by Constant nodes of their values, now that the
    input dims have sizes: Shape of a value whose shape inference gave, then the ops of FOLD_OPS
    on constants only (onnx.reference evaluates each node, in the model's opset).  Exporters
    compute token type ids, position ids and masks this way (transformers' BertEmbeddings
    expands a buffer to a shape built by Where(Equal(...)), GPT-2's causal mask is built by
    Range, And, Where): ONNX shape inference cannot read the values that later Reshape and
    Expand nodes take as their shapes, and leaves their dims unknown.  Initializers read are
    those stored inline: integer ones of at most FOLD_LIMIT elements, float ones of at most 64
(weights are never loaded, nor folded).  Returns the
    number of nodes replaced; `values` (kept between rounds) gets every value computed, which
    the rules read as constants (an attention mask's pattern: onnx_ops.mask_pattern)."""
    from onnx import helper, numpy_helper
    from onnx.reference import ReferenceEvaluator

    graph = model.graph
    shapes: dict[str, tuple[int, ...]] = {}
    for vi in [*graph.input, *graph.value_info, *graph.output]:
        t = vi.type.tensor_type
        if t.HasField("shape"):
            dims = [d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim]
            if all(d is not None for d in dims):
                shapes[vi.name] = tuple(dims)  # type: ignore[arg-type]
    for t in graph.initializer:  # ids and small constants; never a float table (a weight)
        small = math.prod(t.dims) <= 64 or t.data_type not in FLOAT_TYPES
        array = _inline(numpy_helper, t) if small and math.prod(t.dims) <= FOLD_LIMIT else None
        if array is not None:
            values[t.name] = array
    opsets = list(model.opset_import)
    replaced = 0
    nodes = []
    for node in graph.node:
        out: list[Any] | None = None
        if node.op_type != "Constant" and node.output and all(o in values for o in node.output):
            nodes.append(node)  # evaluated in an earlier round, too large to be a Constant
            continue
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
            out = _evaluate(helper, ReferenceEvaluator, opsets, node, [])
            nodes.append(node)
            if out is not None:
                values[node.output[0]] = out[0]
            continue
        if node.domain in ("", "ai.onnx") and node.op_type in ("Shape", "Size") and node.input[0] in shapes:
            import numpy

            shape = shapes[node.input[0]]
            if node.op_type == "Size":
                out = [numpy.array(math.prod(shape), dtype=numpy.int64)]
            else:
                start, end = _attr(node, "start", 0), _attr(node, "end", None)
                out = [numpy.array(shape[slice(start, end)], dtype=numpy.int64)]
        elif (node.domain in ("", "ai.onnx") and node.op_type in FOLD_OPS and node.input
              and all(v in values for v in node.input if v)):
            out = _evaluate(helper, ReferenceEvaluator, opsets, node, [values.get(v) for v in node.input])
        if out is None or len(out) != len(node.output) or any(o.size > FOLD_LIMIT for o in out):
            nodes.append(node)
            continue
        for name, value in zip(node.output, out):
            values[name] = value
        if any(o.size > CONSTANT_LIMIT for o in out):
            nodes.append(node)
            continue
        for name, value in zip(node.output, out):
            nodes.append(helper.make_node("Constant", [], [name], name=node.name,
                                          value=numpy_helper.from_array(value, name)))
        replaced += 1
    del graph.node[:]
    graph.node.extend(nodes)
    return replaced


def _inline(numpy_helper: Any, tensor: Any) -> Any:
    """An initializer's array when its data is in the file (never external data), else None."""
    if tensor.data_location == EXTERNAL:
        return None
    try:
        return numpy_helper.to_array(tensor)
    except Exception:  # noqa: BLE001 (no data, or an odd type: not readable)
        return None


def _attr(node: Any, name: str, default: Any) -> Any:
    for a in node.attribute:
        if a.name == name:
            return a.i
    return default


def _evaluate(helper: Any, evaluator: Any, opsets: list[Any], node: Any, inputs: list[Any]) -> list[Any] | None:
    """One node's outputs by the ONNX reference implementation, or None where it cannot run."""
    try:
        names = [f"in{i}" if v else "" for i, v in enumerate(node.input)]
        copy = helper.make_node(node.op_type, names, [f"out{i}" for i in range(len(node.output))],
                                domain=node.domain)
        copy.attribute.extend(node.attribute)
        feeds = {n: v for n, v in zip(names, inputs) if n}
        graph = helper.make_graph(
            [copy], "fold",
            [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(v.dtype), list(v.shape))
             for n, v in feeds.items()],
            [helper.make_empty_tensor_value_info(o) for o in copy.output])
        model = helper.make_model(graph, opset_imports=opsets)
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return list(evaluator(model).run(None, feeds))
    except Exception:  # noqa: BLE001 (an op the reference cannot run on these inputs: left unfolded)
        return None


def _translate(reader: Reader, model: Any, file: str) -> list[Node]:
    nodes = []
    read = {v for node in model.graph.node for v in node.input} | {o.name for o in model.graph.output}
    for node in model.graph.node:
        if all(o in reader.static for o in node.output if o):
            continue  # shape arithmetic and constants
        name = node.name or node.output[0]
        if node.domain not in ("", "ai.onnx"):
            nodes.append(onnx_ops.unknown(node, onnx_ops.activations(reader, node),
                                          f"op of domain '{node.domain}'"))
            continue
        if node.op_type == "Split" and len(node.output) > 1:
            nodes.extend(onnx_ops.split(reader, node))
            continue
        rule = onnx_ops.OPS.get(node.op_type)
        if rule is None:
            nodes.append(onnx_ops.unknown(node, onnx_ops.activations(reader, node),
                                          f"no rule for ONNX op {node.op_type}"))
            continue
        if any(o in read for o in node.output[1:] if o):  # optional outputs (Dropout's mask) unused: fine
            nodes.append(onnx_ops.unknown(node, onnx_ops.activations(reader, node),
                                          "more than one output is used (a spec operation has one)"))
            continue
        try:
            nodes.append(rule(reader, node))
        except CalcError:
            raise
        except Exception as exc:  # noqa: BLE001 (a malformed node: missing attribute, odd input)
            raise fail(file, name, node.op_type, f"malformed node ({type(exc).__name__}: {exc})",
                       "a node as the ONNX operator specification defines it") from None
    for n in nodes:  # an op kept as an identity must not change the shape it passes on
        if n.kind in MARKERS and len(n.inputs) == 1:
            before, after = reader.shapes.get(n.inputs[0]), reader.shapes.get(n.output)
            n.info["same_shape"] = before is not None and before == after
    return nodes


def _param_count(reader: Reader, model: Any, graph: Graph, masks: set[str]) -> int:
    """Elements of the learned initializers read by the kept nodes (each use counted, as each
    spec layer counts its own weights; TorchScript shares equal tensors through Identity)."""
    kept = {name for n in graph.nodes for name in n.absorbed}
    total = 0
    for node in model.graph.node:
        if (node.name or node.output[0]) not in kept or (node.name or node.output[0]) in masks:
            continue  # a mask's constant is no parameter
        for i in PARAM_INPUTS.get(node.op_type, ()):
            if i < len(node.input) and node.input[i]:
                value = reader.aliases.get(node.input[i], node.input[i])
                if value in reader.initializers or value in reader.constants:
                    if node.op_type in ("Add", "Mul") and reader.numel(value) <= 1:
                        continue
                    total += reader.numel(value)
    return total


def _folding(reader: Reader, model: Any, graph: Graph) -> tuple[int, int]:
    """(convolutions with a folded batch norm, their output channels in all): convs with a bias
    whose weight is an exporter-made constant ('onnx::...') or whose bias is named after the
    weight ('<weight>_bias'): see FOLDED_NAME."""
    kept = {name for n in graph.nodes if n.kind in ("conv", "depthwise", "deconv") for name in n.absorbed}
    count = channels = 0
    for node in model.graph.node:
        if node.op_type != "Conv" or (node.name or node.output[0]) not in kept:
            continue
        weight = node.input[1]
        bias = node.input[2] if len(node.input) > 2 else ""
        if bias and (FOLDED_NAME.match(weight) or bias == weight + "_bias"):
            count += 1
            channels += reader.shapes[reader.aliases.get(weight, weight)][0]
    return count, channels


def _outputs(model: Any) -> list[str]:
    """The graph outputs, the one costed first: the first output that every other output is
    computed on the way to (BertModel's pooler_output reads last_hidden_state), else the first."""
    outputs = [o.name for o in model.graph.output]
    producer = {o: node for node in model.graph.node for o in node.output if o}
    for candidate in outputs:
        seen, stack = set(), [candidate]
        while stack:
            value = stack.pop()
            if value in seen:
                continue
            seen.add(value)
            node = producer.get(value)
            if node is not None:
                stack.extend(v for v in node.input if v)
        if all(o in seen for o in outputs):
            return [candidate, *(o for o in outputs if o != candidate)]
    return outputs


def _ties(reader: Reader, model: Any, graph: Graph) -> list[tuple[Node, Node, int]]:
    """(linear, embedding, shared elements) for each linear whose weight holds the values of an
    embedding table read by a Gather (MatMul's (d, V) weight the table's transpose, or Gemm's
    (V, d) with transB the table itself): a language model's head tied to its input embedding
    (GPT-2's lm_head and wte).  TorchScript's exporter writes the head's weight as a constant of
    its own (the transpose, folded), so the tie is told from the values: both tensors must be
    stored in the file (inline); a weight in external data is never loaded, and such a head is
    counted apart (`_possible_ties` says so)."""
    from onnx import numpy_helper

    onnx_nodes = {n.name or n.output[0]: n for n in model.graph.node}
    tables = []
    for emb in graph.nodes:
        node = onnx_nodes.get(emb.absorbed[0]) if emb.kind == "embedding" and emb.absorbed else None
        if node is not None and node.op_type == "Gather":
            tables.append((emb, reader.aliases.get(node.input[0], node.input[0])))
    found = []
    for lin in graph.nodes:
        weight = _head_weight(reader, onnx_nodes, lin)
        if weight is None:
            continue
        name, transposed = weight
        for emb, table in tables:
            a, b = reader.initializers.get(name), reader.initializers.get(table)
            if a is None or b is None or tuple(a.dims) != (tuple(b.dims)[::-1] if transposed else tuple(b.dims)):
                continue
            x, y = _inline(numpy_helper, a), _inline(numpy_helper, b)
            if x is not None and y is not None and x.size and (x.T if transposed else x).tobytes() == y.tobytes():
                found.append((lin, emb, x.size))
                break
    return found


def _head_weight(reader: Reader, onnx_nodes: dict[str, Any], lin: Node) -> tuple[str, bool] | None:
    """A linear's weight initializer and whether it is stored (Cin, Cout) (MatMul) or (Cout, Cin)
    (Gemm with transB): None for other linears."""
    if lin.kind != "linear" or not lin.absorbed:
        return None
    node = onnx_nodes.get(lin.absorbed[0])
    if node is None or node.op_type not in ("MatMul", "Gemm") or len(node.input) < 2:
        return None
    name = reader.aliases.get(node.input[1], node.input[1])
    if node.op_type == "MatMul":
        return name, True
    return name, not reader.attr(node, "transB", 0)


def _possible_ties(reader: Reader, model: Any, graph: Graph, tied: set[int]) -> list[str]:
    """Header lines for linears whose weight has the shape of an embedding table (transposed)
    but whose values are not in the file: perhaps tied, counted apart."""
    onnx_nodes = {n.name or n.output[0]: n for n in model.graph.node}
    tables = {}
    for emb in graph.nodes:
        node = onnx_nodes.get(emb.absorbed[0]) if emb.kind == "embedding" and emb.absorbed else None
        if node is not None and node.op_type == "Gather":
            tables[emb.name] = reader.shapes.get(reader.aliases.get(node.input[0], node.input[0]))
    lines = []
    for lin in graph.nodes:
        weight = _head_weight(reader, onnx_nodes, lin)
        if weight is None or id(lin) in tied:
            continue
        shape = reader.shapes.get(weight[0])
        for emb_name, table in tables.items():
            if shape and table and tuple(shape) == (tuple(table)[::-1] if weight[1] else tuple(table)):
                lines.append(f"'{lin.name}' has a weight of the shape of the table of '{emb_name}' (transposed) "
                             f"whose values are not in the file: if the model ties them (a language model's "
                             f"head), it has {math.prod(shape):,} parameters fewer than counted here.")
                break
    return lines


def _resolve_ties(items: list[dict[str, Any]], prefix: str | None = "", paths: dict[str, str] | None = None,
                  pending: list[dict[str, Any]] | None = None) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """Spec paths of the embeddings (keyed by ONNX node name) and the items that tie to one
    (`@onnx`, `@tie` keys left by Graph._layer; both keys are removed).  Paths follow
    calc.network's naming: a residual's body items under its name, its shortcut's under
    name.shortcut; an embedding inside a parallel branch gets no path (no tie to it)."""
    paths = {} if paths is None else paths
    pending = [] if pending is None else pending
    for item in items:
        onnx_name = item.pop("@onnx", None)
        if onnx_name is not None and prefix is not None:
            paths[onnx_name] = prefix + item["name"]
        if "@tie" in item:
            pending.append(item)
        if item["type"] in ("residual", "gate"):
            here = None if prefix is None else f"{prefix}{item['name']}."
            _resolve_ties(item.get("body", []), here, paths, pending)
            _resolve_ties(item.get("shortcut", []), None if here is None else here + "shortcut.", paths, pending)
        for branch in item.get("branches", []):
            _resolve_ties(branch, None, paths, pending)
    return paths, pending


def _input_spec(reader: Reader, model: Any, source: str) -> tuple[str, int]:
    shape = reader.shapes[source]
    batch, rest = shape[0], list(shape[1:])
    floating = reader.types.get(source) in FLOAT_TYPES
    first = next((n.op_type for n in model.graph.node if source in n.input), "")
    if not floating and len(rest) == 1:
        return f"{{T: {rest[0]}}}", batch
    if len(rest) == 2 and first not in SPATIAL_OPS:
        return f"{{T: {rest[0]}, d: {rest[1]}}}", batch
    if len(rest) == 4:
        return f"{{C: {rest[0]}, D: {rest[1]}, H: {rest[2]}, W: {rest[3]}}}", batch
    if 1 <= len(rest) <= 3:
        return "[" + ", ".join(map(str, rest)) + "]", batch
    raise SpecError(f"graph input '{source}' has shape {list(shape)}: no spec input has that rank",
                    location=Location(reader.file),
                    expected="(N, C), (N, C, L), (N, C, H, W), (N, C, D, H, W), ids (N, T) or (N, T, d)")


_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_YAML_WORDS = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}


def scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(scalar(v) for v in value) + "]"
    text = str(value)
    if _PLAIN.fullmatch(text) and text.lower() not in _YAML_WORDS:
        return text
    return json.dumps(text)  # a JSON string is a YAML double-quoted scalar (escapes included)


def comment(text: str) -> str:
    """A header line: names quoted from the model may hold line breaks."""
    return "# " + "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def write_items(items: list[dict[str, Any]], indent: int, lines: list[str]) -> None:
    pad = " " * indent
    for item in items:
        kind = item["type"]
        if kind in ("residual", "parallel", "gate"):
            lines.append(f"{pad}- type: {kind}")
            lines.append(f"{pad}  name: {scalar(item['name'])}")
            if "merge" in item:
                lines.append(f"{pad}  merge: {item['merge']}")
            for key in ("body", "shortcut"):
                if key in item:
                    lines.append(f"{pad}  {key}:")
                    write_items(item[key], indent + 4, lines)
            if "branches" in item:
                lines.append(f"{pad}  branches:")
                for branch in item["branches"]:
                    if not branch:
                        lines.append(f"{pad}    - []")
                        continue
                    lines.append(f"{pad}    -")
                    write_items(branch, indent + 6, lines)
            continue
        note = item.get("#")
        fields = ", ".join(f"{k}: {scalar(v)}" for k, v in item.items() if k != "#")
        lines.append(f"{pad}- {{{fields}}}" + (f"  # {note}" if note else ""))


def convert(path: str | os.PathLike[str], dims: dict[str, int] | None = None,
            allow_unknown: bool = False, *, fuse_attention: bool = True) -> Imported:
    """The whole import; `import_onnx` and `network_from_onnx` are views of it.
    `fuse_attention=False` keeps an attention's parts as they are in the graph (matmul, softmax,
    matmul; its score scaling then has no kind: an error, or an identity with allow_unknown)."""
    file = _path(path)
    dims = _dims(dims)
    if not isinstance(allow_unknown, bool):
        raise UsageError(f"allow_unknown must be a bool, got {type(allow_unknown).__name__}",
                         expected="True or False")
    onnx = _onnx()
    model = read_model(file)
    try:
        return _convert(onnx, model, file, dims, allow_unknown, fuse_attention)
    except CalcError:
        raise
    except RecursionError:
        raise SpecError("the graph nests its branches too deeply to write as composites",
                        location=Location(file), expected="a graph of fewer nested branches") from None
    except Exception as exc:  # noqa: BLE001 (a model the checks above let through: one line, never a traceback)
        raise SpecError(f"cannot import this model ({type(exc).__name__}: {exc})", location=Location(file),
                        expected="a valid ONNX model (if it is one, this is an importer bug: please report it)") from None


def _convert(onnx: Any, model: Any, file: str, dims: dict[str, int], allow_unknown: bool,
             fuse_attention: bool) -> Imported:
    inferred, sizes, values, assumed = _resolve_dims(onnx, model, file, dims)
    inits = {t.name for t in model.graph.initializer}
    inputs = [i.name for i in inferred.graph.input if i.name not in inits]
    reader = Reader(file, inferred)
    reader.values = values
    source = inputs[0]
    reader.extra_inputs = set(inputs[1:])
    reader.source = source
    nodes = _translate(reader, inferred, file)
    masks = {n.name for n in nodes if n.kind == "mask"}
    outputs = _outputs(inferred)
    graph = Graph(file, nodes, source, outputs[0], set(inputs[1:]),
                  {k: v for k, v in reader.shapes.items() if all(type(d) is int for d in v)})
    graph.fuse(attention=fuse_attention)
    ties = _ties(reader, inferred, graph)
    for lin, emb, size in ties:
        lin.info["tie"] = (emb.name, size)
    kept = graph.check_markers(allow_unknown)
    names = Names(file)
    layers = graph.items(names)
    paths, pending = _resolve_ties(layers)
    tied = 0
    tie_lines = []
    for item in pending:
        target, size = item.pop("@tie")
        if target in paths:
            item["tie"] = paths[target]
            tied += size
            tie_lines.append(f"'{item['name']}' shares the weight of '{paths[target]}' (the same values, "
                             f"transposed): tied, its {size:,} parameters counted once.")
    tie_lines += _possible_ties(reader, inferred, graph, {id(lin) for lin, _, _ in ties})

    input_text, batch = _input_spec(reader, inferred, source)
    params = _param_count(reader, inferred, graph, masks) - tied
    folded, channels = _folding(reader, inferred, graph)
    batchnorms = sum(1 for n in graph.nodes if n.kind == "batchnorm")
    stem = os.path.splitext(os.path.basename(file))[0] or "model"
    opsets = ", ".join(f"{o.domain or 'ai.onnx'} {o.version}" for o in model.opset_import)
    header = [
        (f"Imported from {os.path.basename(file)} by `calc import onnx` (ONNX IR {model.ir_version}, "
         f"opset {opsets}, producer {model.producer_name or '?'} {model.producer_version or ''}").rstrip() + ").",
        (f"{len(model.graph.node)} ONNX nodes; {len(graph.nodes)} operations written (shape arithmetic, "
         "constants and fused nodes left out)."),
    ]
    for name, size in sizes.items():
        header.append(f"Symbolic dim '{name}' = {size}" + (" (default: the batch)" if name not in dims else ""))
    header += assumed
    if len(outputs) > 1:
        header.append(f"Costed up to the graph output '{outputs[0]}'; the others ("
                      + ", ".join(f"'{o}'" for o in outputs[1:]) + ") are computed on the way to it.")
    header.append(f"Parameters read from the weight initializers' shapes (external data never loaded): {params:,}.")
    header += tie_lines
    unfolded: int | None = None
    if batchnorms:
        header.append(f"{batchnorms} BatchNormalization nodes kept (2C parameters each): the count is unfolded.")
    if folded:
        unfolded = params + channels
        header.append(
            f"Batch norms FOLDED by the exporter into {folded} convolutions (each has a bias the fold made: "
            "its weight is named 'onnx::...' or its bias '<weight>_bias'): the count above is the folded one.")
        header.append(
            f"Unfolded (conv without bias + BatchNorm of 2*Cout, as torchvision builds them): "
            f"{params:,} + {channels:,} = {unfolded:,}.")
    for n in kept:
        header.append(f"UNKNOWN: {n.note}")
    header = [comment(h) for h in header]
    lines = [*header,
             f"name: {scalar(stem)}",
             f"description: {scalar('imported from ' + os.path.basename(file))}",
             f"source: {scalar(os.path.basename(file))}",
             f"input: {input_text}",
             f"batch: {batch}",
             "layers:"]
    write_items(layers, 2, lines)
    text = "\n".join(lines) + "\n"

    from calc.network import network_from_text

    net = network_from_text(text, file=f"{file} (imported)")
    got = net.evaluate().totals.params
    if got != params:
        raise SpecError(f"the imported spec has {got:,} parameters but the initializers it reads hold "
                        f"{params:,}", location=Location(file),
                        expected="equal counts (an importer bug: please report it with the model)")
    return Imported(text, [n.note or n.name for n in kept], params, unfolded, folded, batchnorms)


def import_onnx(path: str | os.PathLike[str], dims: dict[str, int] | None = None,
                allow_unknown: bool = False) -> str:
    """The spec of an ONNX model, as YAML text (see the module docstring)."""
    return convert(path, dims, allow_unknown).text


def network_from_onnx(path: str | os.PathLike[str], dims: dict[str, int] | None = None,
                      allow_unknown: bool = False) -> Any:
    """The `calc.network.Network` of an ONNX model (`calc report MODEL.onnx`)."""
    from calc.network import network_from_text

    file = _path(path)
    return network_from_text(import_onnx(file, dims, allow_unknown), file=f"{file} (imported)")
