"""The imported graph: one `Node` per operation that touches the input's data, the fusions that
turn several ONNX nodes into one spec layer, and the series-parallel reading that writes the
graph as the spec's composites (`residual`, `parallel`, `gate`).

No `onnx` import here: nodes are plain records made by calc.importers.onnx_ops.

Fusions (each checked before it applies; a pattern that does not match leaves its nodes alone):
    lookup     x + table[constant ids] where the input is token ids -> embedding of the ids, add
    bias       MatMul(x, W) + b (b of Cout entries)              -> linear with bias
    conv1d     Reshape (N*T, d), Gemm, Reshape (N, T, nf)         -> linear, form conv1d
    silu       x * Sigmoid(x)                                     -> silu
    gelu       erf form; tanh form (0.5 x (1 + tanh(...)))        -> gelu
    attention  q, k, v projections of one x (or one projection split in three: packed), reshape/
               transpose to heads, q k^T, one scale by a constant (or sqrt(scale) on q and on
               k^T: the SDPA symbolic), a constant mask (causal, window or none), Softmax (a NaN
               guard, a Cast), p v, back to (N, T, H*h), output projection; k and v may be
               concatenated after a past cache given as graph inputs (its length is kv_len)
                                                                  -> attention (fused: eager, sdpa)

The spec has one input and composites whose merges have one dominating input: a value that
several consumers read is the start of a `parallel` (or `residual`, `gate`), and each merge's
inputs are computed from its immediate dominator.  A graph that is not series-parallel (a value
computed in one branch and read in another) cannot be written so and is refused.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from calc.errors import Location, SpecError

MERGES = ("add", "mul", "concat", "matmul")
MARKERS = ("scalar", "const_add", "kv_concat", "lookup_add", "mask", "nan_guard", "isnan", "rows_merge",
           "rows_split", "split_part", "unknown")
"""Node kinds that are no spec kind: they must be absorbed by a fusion, or the import fails
(`unknown`: kept as a zero-cost identity with --allow-unknown when it has one input)."""


@dataclass
class Node:
    """One operation of the imported graph.

    `kind`: a spec layer kind, a merge of several activations (MERGES, written as a composite),
    or a marker (MARKERS).  `inputs`: the activation values read, in order (never weights or
    shape constants).  `layer`: the spec fields besides type and name.  `onnx`: the ONNX nodes
    it stands for (name, op type), the first one naming it."""

    name: str
    op: str
    kind: str
    inputs: list[str]
    output: str
    layer: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    """What fusions read: a linear's Cin; a kv_concat's past input and axis; a marker's reason."""
    absorbed: list[str] = field(default_factory=list)
    note: str | None = None


def fail(file: str, node: Node | str, op: str | None, message: str, expected: str | None = None) -> SpecError:
    """The importer's one-line error: the file, then the node and its op type."""
    name = node.name if isinstance(node, Node) else node
    op = node.op if isinstance(node, Node) and op is None else op
    where = f"node '{name}'" + (f" ({op})" if op else "")
    return SpecError(f"{where}: {message}", location=Location(file), expected=expected)


class Graph:
    """Nodes in topological order, the main input, the output, and the extra graph inputs (a
    past KV cache) that only a fused attention may read."""

    def __init__(self, file: str, nodes: list[Node], source: str, output: str,
                 extra_inputs: set[str], shapes: dict[str, tuple[int, ...]]) -> None:
        self.file = file
        self.nodes = nodes
        self.source = source
        self.output = output
        self.extra_inputs = extra_inputs
        self.shapes = shapes

    def producers(self) -> dict[str, Node]:
        return {n.output: n for n in self.nodes}

    def consumers(self) -> dict[str, list[Node]]:
        table: dict[str, list[Node]] = {}
        for n in self.nodes:
            for v in dict.fromkeys(n.inputs):
                table.setdefault(v, []).append(n)
        return table

    # -- fusions --------------------------------------------------------------------------------
    def fuse(self, attention: bool = True) -> None:
        self._lookup_adds()
        self._nan_guards()
        self._fuse_bias()
        self._fuse_conv1d()
        self._fuse_silu()
        self._fuse_gelu()
        self._fuse_gelu_tanh()
        if attention:
            self._fuse_attention()

    def _replace(self, removed: list[Node], new: Node | None, at: Node) -> None:
        """Drop `removed`; put `new` where `at` stood (its inputs come earlier in topo order)."""
        gone = {id(n) for n in removed}
        out: list[Node] = []
        for n in self.nodes:
            if n is at and new is not None:
                out.append(new)
            if id(n) not in gone and n is not at:
                out.append(n)
        self.nodes = out

    def _lookup_adds(self) -> None:
        """x + table[constant ids] (onnx_ops.table_add) where the graph's input is the token ids
        (N, T) and the constant ids have that shape or (1, T): an embedding of the input's ids
        beside x's branch, merged by an add, as BERT's token_type_embeddings is written
        (specs/bert_base_uncased.yaml).  The costs are those of the graph (a lookup, no
        arithmetic, and one add per element); which id each position reads does not change them."""
        ids = self.shapes.get(self.source)
        for add in [n for n in self.nodes if n.kind == "lookup_add"]:
            shape = tuple(add.info["ids"])
            if ids is None or len(ids) != 2 or shape not in (ids, (1, ids[1])):
                continue
            table = Node(add.info["gather"], "Gather", "embedding", [self.source], add.info["gather_output"],
                         {"num_embeddings": add.info["num_embeddings"],
                          "embedding_dim": add.info["embedding_dim"]},
                         {}, [add.info["gather"]], "ids computed from the input's shape (constant ids)")
            merge = Node(add.name, add.op, "add", [*add.inputs, table.output], add.output, {}, {}, add.absorbed)
            self.nodes = [table, *[merge if n is add else n for n in self.nodes]]

    def _nan_guards(self) -> None:
        """The IsNaN of a NaN guard (onnx_ops.where) is part of it: dropped, its name absorbed."""
        consumers = self.consumers()
        for guard in [n for n in self.nodes if n.kind == "nan_guard"]:
            isnan = next((n for n in self.nodes if n.kind == "isnan" and n.name == guard.info["isnan"]), None)
            if isnan is not None and not consumers.get(isnan.output) and isnan.output != self.output:
                self.nodes = [n for n in self.nodes if n is not isnan]
                guard.absorbed.extend(isnan.absorbed)

    def _fuse_bias(self) -> None:
        producers, consumers = self.producers(), self.consumers()
        for add in list(self.nodes):
            if add.kind != "const_add" or len(add.inputs) != 1:
                continue
            lin = producers.get(add.inputs[0])
            if (lin is None or lin.kind != "linear" or lin.layer.get("bias", True)
                    or len(consumers.get(lin.output, [])) != 1 or lin.output == self.output
                    or add.info.get("numel") != lin.layer["Cout"]
                    or add.info.get("last_axis") is not True):
                continue
            fused = Node(lin.name, lin.op, "linear", lin.inputs, add.output,
                         {**lin.layer, "bias": True}, dict(lin.info), [*lin.absorbed, add.name])
            self._replace([lin, add], fused, add)
            producers, consumers = self.producers(), self.consumers()

    def _only(self, node: Node | None) -> Node | None:
        """The one consumer of a node's output (None when several, none, or it is the graph output)."""
        if node is None or node.output == self.output:
            return None
        uses = self.consumers().get(node.output, [])
        return uses[0] if len(uses) == 1 else None

    def _fuse_conv1d(self) -> None:
        """transformers' Conv1D as TorchScript exports it: x.view(-1, d) (Reshape merging the
        batch and sequence axes), Gemm(x, W (d, nf), b) (torch.addmm), .view(N, T, nf): one
        `linear` with `form: conv1d` on x (transformers/pytorch_utils.py, Conv1D.forward)."""
        for merge in [n for n in self.nodes if n.kind == "rows_merge"]:
            lin = self._only(merge)
            back = self._only(lin) if lin is not None and lin.kind == "linear" else None
            x = merge.inputs[0]
            shape = self.shapes.get(x)
            if lin is None or back is None or back.kind != "rows_split" or shape is None:
                continue
            if tuple(back.info["shape"]) != (*shape[:-1], lin.layer["Cout"]):
                continue
            layer = {**lin.layer}
            if layer.get("bias"):
                layer["form"] = "conv1d"
            fused = Node(lin.name, "Reshape+Gemm+Reshape", "linear", [x], back.output, layer, dict(lin.info),
                         [*merge.absorbed, *lin.absorbed, *back.absorbed])
            self._replace([merge, lin, back], fused, back)
        for n in self.nodes:  # unfused, but the batch axis stayed first: a plain reshape
            if n.kind in ("rows_merge", "rows_split") and n.info.get("plain") is not None:
                n.kind, n.layer = "reshape", dict(n.info["plain"])

    def _fuse_gelu_tanh(self) -> None:
        """GELU's tanh form written with operators (transformers' NewGELUActivation, GPT-2's
        gelu_new: 0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3))), exported as
        Mul(x, 0.5), Pow(x, 3), Mul(0.044715), Add(x, .), Mul(sqrt(2/pi)), Tanh, Add(1), Mul;
        or with the 0.5 last): one `gelu`, as specs/gpt2.yaml costs gelu_new.  Every constant
        is checked (float32 precision)."""
        for tanh in [n for n in self.nodes if n.kind == "tanh" and len(n.inputs) == 1]:
            parts = self._gelu_tanh_parts(tanh)
            if parts is None:
                continue
            x, end = parts[0].inputs[0], parts[-1]
            fused = Node(_common_scope([p.name for p in parts]) or tanh.name, "Tanh-GELU", "gelu", [x],
                         end.output, {}, {}, [a for p in parts for a in p.absorbed])
            self._replace(parts, fused, end)

    def _gelu_tanh_parts(self, tanh: Node) -> list[Node] | None:
        """The nodes of GELU's tanh form around `tanh`, the first reading x, the last the result."""
        producers = self.producers()

        def scalar(node: Node | None, op: str, value: float) -> bool:
            return (node is not None and node.kind == "scalar" and node.info.get("op") == op
                    and _near(node.info.get("value"), value))

        inner = producers.get(tanh.inputs[0])
        if inner is None or not scalar(inner, "Mul", (2 / math.pi) ** 0.5) or self._only(inner) is not tanh:
            return None
        total = producers.get(inner.inputs[0])
        if total is None or total.kind != "add" or len(total.inputs) != 2 or self._only(total) is not inner:
            return None
        for x, c in (total.inputs, total.inputs[::-1]):
            cube = producers.get(c)
            if cube is None or not scalar(cube, "Mul", 0.044715) or self._only(cube) is not total:
                continue
            cubed = producers.get(cube.inputs[0])
            if cubed is not None and scalar(cubed, "Pow", 3.0) and cubed.inputs == [x] and self._only(cubed) is cube:
                break
        else:
            return None
        one = self._only(tanh)
        if one is None or one.kind != "const_add" or one.info.get("value") != 1.0:
            return None
        last = self._only(one)
        if last is None or last.kind != "mul" or len(last.inputs) != 2:
            return None
        half = producers.get(next((v for v in last.inputs if v != one.output), ""))
        middle = [cubed, cube, total, inner, tanh, one, last]
        if half is not None and scalar(half, "Mul", 0.5) and half.inputs == [x] and self._only(half) is last:
            return [half, *middle]  # 0.5 * x first (NewGELUActivation)
        end = self._only(last)
        if sorted(last.inputs) == sorted([x, one.output]) and end is not None and scalar(end, "Mul", 0.5):
            return [*middle, end]  # x * (1 + tanh(...)) * 0.5
        return None

    def _fuse_silu(self) -> None:
        producers, consumers = self.producers(), self.consumers()
        for mul in list(self.nodes):
            if mul.kind != "mul" or len(mul.inputs) != 2:
                continue
            for x, s in (mul.inputs, mul.inputs[::-1]):
                sig = producers.get(s)
                if (sig is not None and sig.kind == "sigmoid" and sig.inputs == [x]
                        and len(consumers.get(s, [])) == 1 and s != self.output):
                    fused = Node(sig.name, "Sigmoid*Mul", "silu", [x], mul.output, {}, {},
                                 [sig.name, mul.name])
                    self._replace([sig, mul], fused, mul)
                    producers, consumers = self.producers(), self.consumers()
                    break

    def _fuse_gelu(self) -> None:
        """GELU's erf form as exporters write it below opset 20 (torch.onnx's TorchScript
        symbolic for aten::gelu, approximate='none'): x * (1 + erf(x / sqrt(2))) * 0.5, i.e.
        Div(x, 1.414...) -> Erf -> Add(1) -> Mul(x, .) -> Mul(0.5); the constants are checked."""
        for erf in [n for n in self.nodes if n.kind == "unknown" and n.op == "Erf" and len(n.inputs) == 1]:
            producers, consumers = self.producers(), self.consumers()

            def only(node: Node, consumers: dict[str, list[Node]] = consumers) -> Node | None:
                uses = consumers.get(node.output, [])
                return uses[0] if len(uses) == 1 and node.output != self.output else None

            div = producers.get(erf.inputs[0])
            if div is None or div.kind != "scalar" or only(div) is not erf or not _near(
                    div.info.get("value"), *((2 ** 0.5,) if div.info.get("op") == "Div" else (2 ** -0.5,))):
                continue
            x = div.inputs[0]
            one = only(erf)
            if one is None or one.kind != "const_add" or one.info.get("value") != 1.0:
                continue
            mul = only(one)
            if mul is None or mul.kind != "mul" or sorted(mul.inputs) != sorted([x, one.output]):
                continue
            half = only(mul)
            if half is None or half.kind != "scalar" or not _near(
                    half.info.get("value"), 0.5 if half.info.get("op") == "Mul" else 2.0):
                continue
            parts = [div, erf, one, mul, half]
            fused = Node(_common_scope([p.name for p in parts]) or erf.name, "Erf-GELU", "gelu", [x],
                         half.output, {}, {}, [a for p in parts for a in p.absorbed])
            self._replace(parts, fused, half)

    def _fuse_attention(self) -> None:
        for soft in [n for n in self.nodes if n.kind == "softmax"]:
            match = AttentionMatch(self, soft).find()
            if match is not None:
                removed, fused, at = match
                self._replace(removed, fused, at)

    # -- checks ---------------------------------------------------------------------------------
    def check_markers(self, allow_unknown: bool) -> list[Node]:
        """Every marker left is an error, except one-input unknown ops with --allow-unknown
        (then a zero-cost identity, returned to be listed)."""
        kept = []
        for i, n in enumerate(self.nodes):
            extra = [v for v in n.inputs if v in self.extra_inputs]
            if extra:
                raise fail(self.file, n, None,
                           f"reads graph input '{extra[0]}', which is not the first input: a spec has "
                           "one input", "further inputs only as a past key/value cache concatenated "
                           "inside an attention the importer recognises")
            if n.kind not in MARKERS:
                continue
            reason = n.info.get("reason", "no spec kind for it")
            keepable = n.kind != "kv_concat" and len(n.inputs) == 1 and n.info.get("same_shape") is True
            if keepable and allow_unknown:
                note = f"ONNX {n.op} '{n.name}' kept at zero cost (--allow-unknown): {reason}"
                self.nodes[i] = Node(n.name, n.op, "identity", n.inputs, n.output, {}, {}, [n.name], note)
                kept.append(self.nodes[i])
                continue
            hint = ("--allow-unknown to keep it as a zero-cost identity" if keepable else
                    "a model without this op (it changes its input's shape, so it cannot be kept as an "
                    "identity)" if len(n.inputs) == 1 and n.kind != "kv_concat" else "a model without this op")
            raise fail(self.file, n, None, f"cannot be imported: {reason}", hint)
        return kept

    # -- series-parallel reading ----------------------------------------------------------------
    def items(self, names: Names) -> list[dict[str, Any]]:
        """The spec's `layers`: the graph read from the input to the output as nested
        composites.  Every node is written exactly once, or the import fails."""
        producers = self.producers()
        if self.output == self.source:
            raise fail(self.file, self.output, None, "the graph output is its input: nothing to cost")
        if self.output not in producers:
            raise fail(self.file, self.output, None, "the graph output is not computed from the first input",
                       "a graph whose first output depends on its first input")
        idom = self._dominators(producers)
        written: set[int] = set()

        def chain(start: str, value: str) -> list[dict[str, Any]]:
            out: list[list[dict[str, Any]]] = []
            while value != start:
                node = producers.get(value)
                if node is None:  # unreachable from start: the decomposition was wrong
                    raise fail(self.file, value, None, "is not computed from the input")
                if id(node) in written:
                    raise fail(self.file, node, None,
                               "its output is read on two paths that do not merge where it starts, so "
                               "the graph is not series-parallel and cannot be written as composites",
                               "a graph whose branches meet at adds, muls, concats or matmuls")
                written.add(id(node))
                if node.kind in MERGES:
                    d = idom[value]
                    branches = [chain(d, u) for u in node.inputs]
                    out.append([self._merge(node, branches, names)])
                    value = d
                else:
                    out.append([self._layer(node, names)])
                    value = node.inputs[0]
            return [item for group in reversed(out) for item in group]

        layers = chain(self.source, self.output)
        reachable = self._ancestors(producers)
        for n in self.nodes:
            if id(n) not in written:
                why = ("does not lead to the first graph output" if id(n) not in reachable
                       else "was not reached")
                raise fail(self.file, n, None, f"{why}: the spec costs the path from the first input "
                           "to the first output", "a graph whose every node leads to its first output")
        return layers

    def _ancestors(self, producers: dict[str, Node]) -> set[int]:
        seen: set[int] = set()
        stack = [self.output]
        while stack:
            node = producers.get(stack.pop())
            if node is not None and id(node) not in seen:
                seen.add(id(node))
                stack.extend(node.inputs)
        return seen

    def _dominators(self, producers: dict[str, Node]) -> dict[str, str]:
        """Immediate dominators of every value from the input (a DAG in topological order: the
        nearest common dominator of a node's inputs)."""
        idom = {self.source: self.source}
        depth = {self.source: 0}

        def common(a: str, b: str) -> str:
            while a != b:
                if depth[a] < depth[b]:
                    a, b = b, a
                a = idom[a]
            return a

        for n in self.nodes:
            if not all(v in idom for v in n.inputs):
                continue  # not reachable from the input: reported when it is not written
            d = n.inputs[0]
            for v in n.inputs[1:]:
                d = common(d, v)
            if len(n.inputs) == 1:
                d = n.inputs[0]
            idom[n.output] = d
            depth[n.output] = depth[d] + 1
        return idom

    def _layer(self, node: Node, names: Names) -> dict[str, Any]:
        item = {"type": node.kind, "name": names.take(node.name), **node.layer}
        if node.kind == "embedding":  # a tie may name it (resolved and removed by the importer)
            item["@onnx"] = node.name
        if "tie" in node.info:
            item["@tie"] = node.info["tie"]
        if node.note:
            item["#"] = "".join(c if c.isprintable() else repr(c)[1:-1] for c in node.note)
        return item

    def _merge(self, node: Node, branches: list[list[dict[str, Any]]], names: Names) -> dict[str, Any]:
        name = names.take(node.name)
        empty = [not b for b in branches]
        if node.kind == "add" and len(branches) == 2 and sum(empty) <= 1:
            # x + body(x) is a residual with the identity shortcut; a + b, both computed, a
            # residual whose shortcut is the second operand (ResNet's downsample)
            body, shortcut = (branches[0] or branches[1], []) if any(empty) else branches
            item: dict[str, Any] = {"type": "residual", "name": name, "body": body}
            if shortcut:
                item["shortcut"] = shortcut
            return item
        if node.kind == "mul" and len(branches) == 2 and sum(empty) == 1:
            return {"type": "gate", "name": name, "body": branches[0] or branches[1]}
        if node.kind == "concat" and node.layer.get("dim", 1) != 1:
            raise fail(names.file, node, None,
                       f"concatenates activations along axis {node.layer['dim']}: a spec concatenates "
                       "branches along the channels (axis 1) only", "a Concat along axis 1")
        item = {"type": "parallel", "name": name, "branches": branches}
        if node.kind != "concat":
            item["merge"] = node.kind
        return item


class AttentionMatch:
    """The attention around one Softmax node, or None (see the module docstring)."""

    PASS = ("reshape", "permute")

    def __init__(self, graph: Graph, soft: Node) -> None:
        self.g = graph
        self.soft = soft
        self.producers = graph.producers()
        self.consumers = graph.consumers()
        self.nodes: list[Node] = []
        self.scalars = 0
        self.past = False
        self.part: Node | None = None
        """The split_part a walk back passed (packed q, k, v), reset before each walk."""

    def only_use(self, node: Node) -> Node | None:
        uses = self.consumers.get(node.output, [])
        return uses[0] if len(uses) == 1 else None

    def back(self, value: str, allowed: tuple[str, ...]) -> Node | None:
        """Walk back from `value` through `allowed` kinds to the linear that starts the path."""
        while True:
            node = self.producers.get(value)
            if node is None:
                return None
            self.nodes.append(node)
            if node.kind == "linear":
                return node
            if node.kind not in allowed:
                return None
            if node.kind == "scalar":
                self.scalars += 1
            if node.kind == "kv_concat":
                if node.info.get("past") not in self.g.extra_inputs:
                    return None
                self.past = True
            if node.kind == "split_part":
                if self.part is not None or not node.info["last_axis"]:
                    return None
                self.part = node
            value = node.inputs[0]

    def find(self) -> tuple[list[Node], Node, Node] | None:
        g, soft = self.g, self.soft
        score = self.producers.get(soft.inputs[0])
        masks: list[Node] = []
        while score is not None and score.kind in ("scalar", "mask"):
            self.nodes.append(score)
            if score.kind == "scalar":
                self.scalars += 1
            else:
                masks.append(score)
            score = self.producers.get(score.inputs[0])
        if len(masks) > 1:
            return None
        if score is None or score.kind != "matmul" or len(score.inputs) != 2:
            return None
        ctx = self.only_use(soft)
        probs = soft
        while ctx is not None and ctx.kind in ("nan_guard", "identity"):  # NaN guard, Cast to its type
            self.nodes.append(ctx)
            probs, ctx = ctx, self.only_use(ctx)
        if ctx is None or ctx.kind != "matmul" or ctx.inputs[0] != probs.output:
            return None
        self.nodes += [score, soft, ctx]
        on_scores = self.scalars
        parts: list[Node | None] = []
        lq = self.back(score.inputs[0], (*self.PASS, "scalar", "split_part"))
        on_q = self.scalars - on_scores
        parts.append(self.part)
        self.part = None
        lk = self.back(score.inputs[1], (*self.PASS, "scalar", "kv_concat", "split_part"))
        on_k = self.scalars - on_scores - on_q
        parts.append(self.part)
        self.part = None
        lv = self.back(ctx.inputs[1], (*self.PASS, "kv_concat", "split_part"))
        parts.append(self.part)
        if lq is None or lk is None or lv is None or not lq.inputs == lk.inputs == lv.inputs:
            return None
        packed = parts[0] is not None
        if packed:  # one projection split into q, k, v along its last axis (GPT-2's c_attn)
            if (any(p is None for p in parts) or not lq is lk is lv
                    or [p.info["index"] for p in parts] != [0, 1, 2]  # type: ignore[union-attr]
                    or len(parts[0].info["widths"]) != 3):  # type: ignore[union-attr]
                return None
            widths = parts[0].info["widths"]  # type: ignore[union-attr]
            self.nodes = list({id(n): n for n in self.nodes}.values())  # the projection once
        elif any(p is not None for p in parts):
            return None
        else:
            widths = [lq.layer["Cout"], lk.layer["Cout"], lv.layer["Cout"]]
        node, out = ctx, None
        while True:
            nxt = self.only_use(node)
            if nxt is None:
                return None
            self.nodes.append(nxt)
            if nxt.kind == "linear":
                out = nxt
                break
            if nxt.kind not in self.PASS:
                return None
            node = nxt
        # the attention kind scales its scores once: eager scales the scores (HF's eager path);
        # torch.onnx's TorchScript symbolic of scaled_dot_product_attention (opset 14+) scales q
        # and k^T by sqrt(scale) each, which the sdpa form of the kind stands for
        if (on_scores, on_q, on_k) not in ((1, 0, 0), (0, 1, 1)):
            return None
        x = lq.inputs[0]
        shapes = g.shapes
        sshape, qshape, xshape = shapes.get(score.output), shapes.get(score.inputs[0]), shapes.get(x)
        if sshape is None or qshape is None or xshape is None or len(sshape) != 4 or len(xshape) != 3:
            return None
        _, heads, t, s = sshape
        h = qshape[-1]
        d = xshape[-1]
        if (t != xshape[1] or widths[0] != heads * h or widths[1] % h or widths[2] != widths[1]
                or out.info.get("Cin") != heads * h or out.layer["Cout"] != d):
            return None
        kv_heads = widths[1] // h
        if heads % kv_heads or not lq.layer["bias"] == lk.layer["bias"] == lv.layer["bias"]:
            return None
        inside = {id(n) for n in self.nodes}
        if len(inside) != len(self.nodes):
            return None
        for n in self.nodes:
            if n is out:
                continue
            outside = [c for c in self.consumers.get(n.output, []) if id(c) not in inside]
            if outside or n.output == g.output:
                return None  # a part used elsewhere (a KV concat may be a graph output: no consumer)
        if (s != t) != self.past:
            return None
        layer: dict[str, Any] = {"heads": heads}
        if kv_heads != heads:
            layer["kv_heads"] = kv_heads
        if h * heads != d:
            layer["head_dim"] = h
        pattern = masks[0].info["pattern"] if masks else "full"
        if pattern != "full":  # causal: the kind's mask row prices one op per score, as the graph's
            layer["causal"] = True
        if pattern == "window":
            layer["window"] = masks[0].info["window"]
        if packed:
            layer["qkv"] = "packed"
        layer["qkv_bias"] = lq.layer["bias"]
        layer["out_bias"] = out.layer["bias"]
        if lq.layer.get("form") == out.layer.get("form") == "conv1d":
            layer["projection"] = "conv1d"
        if self.past:
            layer["kv_len"] = s
        layer["fused"] = "eager" if on_scores else "sdpa"
        ordered = sorted(self.nodes, key=g.nodes.index)
        names = [name for n in ordered for name in n.absorbed]
        fused = Node(_common_scope([n.name for n in ordered]) or lq.name, "attention", "attention", [x],
                     out.output, layer, {}, names)
        return self.nodes, fused, out


def _near(value: Any, target: float) -> bool:
    """A constant read from the model (float32) equals `target` to float32 precision."""
    return isinstance(value, float) and abs(value - target) <= 1e-6 * abs(target)


def _common_scope(names: list[str]) -> str:
    """The longest common '/'-scope of ONNX node names ('/attn/query/MatMul', '/attn/Div' ->
    '/attn/'), as a node name for the fused attention."""
    parts = [n.split("/") for n in names]
    common: list[str] = []
    for segs in zip(*parts):
        if len(set(segs)) != 1:
            break
        common.append(segs[0])
    scope = "/".join(common)
    return scope + "/" if scope.strip("/") else ""


_WORDS = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "nan", "inf"}


class Names:
    """Spec names for ONNX nodes: the module path of an exporter's scoped name
    ('/layer1/layer1.0/conv1/Conv' -> layer1_0_conv1), made unique (paths must be)."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.used: set[str] = set()

    def take(self, onnx_name: str) -> str:
        base = module_name(onnx_name)
        if base in self.used:  # a module's second node: '/attn/Reshape' -> attn_Reshape
            op = [s for s in onnx_name.split("/") if s][-1:] or ["node"]
            base = f"{base}_{_clean(op[0])}"
        name, i = base, 2
        while name in self.used:
            name, i = f"{base}_{i}", i + 1
        self.used.add(name)
        return name


def module_name(onnx_name: str) -> str:
    """'/layer1/layer1.0/conv1/Conv' -> 'layer1_0_conv1'; '/attn/MatMul_1' -> 'attn_MatMul_1'
    (an op's number kept, its bare type dropped); a name without scopes is kept as it is."""
    segments = [s for s in onnx_name.split("/") if s]
    if len(segments) > 1:
        path = ""
        for seg in segments[:-1]:
            last = path.rpartition(".")[2]
            if path and seg.startswith(path + "."):
                path = seg  # TorchScript scopes repeat the parent: layer1 / layer1.0
            elif last and seg.startswith(last + "."):
                path = path[: len(path) - len(last)] + seg  # downsample / downsample.0
            elif seg != path:
                path = f"{path}.{seg}" if path else seg
        if re.search(r"_\d+$", segments[-1]):
            path = f"{path}.{segments[-1]}"
        text = path
    else:
        text = segments[0] if segments else "node"
    return _clean(text)


def _clean(text: str) -> str:
    """A spec name: letters, digits and _ (no dots), not read by YAML as a number or a bool."""
    text = re.sub(r"[^A-Za-z0-9_]+", "_", text.replace(".", "_")).strip("_") or "node"
    if text[0].isdigit() or text.lower() in _WORDS:
        text = "n_" + text
    return text
