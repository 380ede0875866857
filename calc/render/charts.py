"""What the pictures show, taken from report objects (no plotting library here): the block tree
of a report with each block's totals, the live activations over the network order, and the
convention comparison as stacks.  `calc.render.html` (the HTML page) and `calc.plot` (static
files) draw these; neither computes a figure of its own.

Blocks are the dotted path's prefixes, as in the tree format (calc.render.tree): 'layer1.0.conv1'
sits under 'layer1.0', under 'layer1'.  A block's figures are `calc.report.collapse`'s row for
it.  A path that is both an operation and a prefix ('gate_proj' and 'gate_proj.act') is a block
whose first child is that operation, under the same name.

Live activations (an estimate; `live_activations`): every operation's output is a tensor that
is alive from the operation that writes it to the last operation that reads it (the network's
output to the end, its input from the start); the tensors alive at each operation, the ones it
reads and the one it writes included, are summed.  The operations that move no data
(calc.cost.VIEW_OPS: flatten, identity, dropout, split, select, mha) make views: no memory of
their own, and reading a view keeps the tensor it views alive.  Operations that could run in
place (ReLU(inplace=True)), workspaces and the caching of an allocator are not modelled.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from calc.cost import BYTES, VIEW_OPS, OpCost
from calc.errors import UsageError
from calc.report import Report, collapse

METRICS: dict[str, str] = {
    "macs": "MACs",
    "flops": "FLOPs",
    "params": "params",
    "mem_bytes": "memory access (bytes)",
    "mem_access": "memory access (elements)",
}
"""The per-layer figures a chart can show, OpCost field -> label (the first is the default)."""

MAX_BARS = 40
"""A bar chart opens at the deepest block level that has at most this many bars."""


def metric(name: str) -> str:
    """A METRICS key, as given; a one-line UsageError naming the choices for anything else."""
    if name not in METRICS:
        raise UsageError(f"unknown metric {name!r}", expected="one of " + ", ".join(METRICS))
    return name


@dataclass(frozen=True, slots=True)
class Node:
    """A block or an operation of the tree; `row` is its report row (a block's: collapse's)."""

    index: int
    path: str
    depth: int
    """1 for the top level."""
    parent: int
    """The parent's index; -1 at the top level."""
    children: tuple[int, ...]
    row: OpCost
    ops: int
    """Operations in it (1 for an operation)."""

    @property
    def block(self) -> bool:
        return bool(self.children)

    @property
    def label(self) -> str:
        """The last part of the path (an operation with a block's name: the same name)."""
        return self.path.rsplit(".", 1)[-1] if self.path else self.path


def block_tree(report: Report) -> tuple[Node, ...]:
    """Every block and operation of `report`, in network order (a block before its content,
    first where its first operation is).  A report cut to its `top` rows has no blocks: its
    rows' sums would not be the blocks' totals."""
    rows = list(report.rows)
    flat = report.options.get("top") is not None
    parts = [(r.path.split(".") if r.path else [""]) for r in rows]
    depth_max = 1 if flat else max((len(p) for p in parts), default=1)
    # block figures: collapse's row per prefix, one collapse per level that has blocks
    block_rows: dict[str, OpCost] = {}
    members: dict[str, int] = {}
    for d in range(1, depth_max):
        counts: dict[str, int] = {}
        for p in parts:
            if len(p) > d:
                key = ".".join(p[:d])
                counts[key] = counts.get(key, 0) + 1
        if not counts:
            continue
        for row in collapse(report, d).rows:
            if row.path in counts:
                block_rows[row.path] = row
        # a block holds its deeper operations and an operation of its own name, if any
        for p in parts:
            if len(p) == d and ".".join(p) in counts:
                counts[".".join(p)] += 1
        members.update(counts)

    kids: list[list[int]] = []
    made: list[tuple[str, int, int, OpCost, int]] = []  # path, depth, parent, row, ops
    index: dict[str, int] = {}

    def add(path: str, depth: int, parent: int, row: OpCost, ops: int) -> int:
        made.append((path, depth, parent, row, ops))
        kids.append([])
        if parent >= 0:
            kids[parent].append(len(made) - 1)
        return len(made) - 1

    for row, p in zip(rows, parts):
        parent = -1
        if not flat:
            for d in range(1, len(p) + 1):
                key = ".".join(p[:d])
                if key not in block_rows:
                    break
                if key not in index:
                    index[key] = add(key, d, parent, block_rows[key], members[key])
                parent = index[key]
        depth = made[parent][1] + 1 if parent >= 0 else 1
        add(row.path, depth, parent, row, 1)
    return tuple(Node(i, path, depth, parent, tuple(kids[i]), row, ops)
                 for i, (path, depth, parent, row, ops) in enumerate(made))


def frontier(nodes: Sequence[Node], depth: int) -> list[int]:
    """The nodes shown when the tree is opened down to `depth`: every node at that depth, and
    the operations above it (in network order)."""
    return [n.index for n in nodes if n.depth == depth or (n.depth < depth and not n.block)]


def default_depth(nodes: Sequence[Node], max_bars: int = MAX_BARS) -> int:
    """The deepest level whose frontier has at most `max_bars` nodes (at least 1)."""
    deepest = max((n.depth for n in nodes), default=1)
    best = 1
    for d in range(1, deepest + 1):
        if len(frontier(nodes, d)) <= max_bars:
            best = d
    return best


@dataclass(frozen=True)
class LiveMemory:
    """Activation elements alive at each operation (see the module docstring), and the peak."""

    elements: tuple[int, ...]
    own: tuple[int, ...]
    """Elements each operation writes (its row's activations; 0 for a view)."""
    peak: int
    peak_index: int
    """The first operation where the peak is reached (0-based row index)."""
    input_elements: int


def check_network(report: Report, network: Any) -> None:
    """The network must be the one `report` was evaluated from, rows not collapsed or reordered."""
    ops = getattr(network, "ops", None)
    if not isinstance(ops, tuple):
        raise UsageError(f"network is a {type(network).__name__}, not a Network",
                         expected="the calc.network.Network the report was evaluated from")
    rows = report.rows
    if len(ops) != len(rows) or any(op.path != r.path for op, r in zip(ops, rows)):
        raise UsageError("the network does not match the report's rows (collapsed, cut to the top "
                         "rows, or another network)",
                         expected="the network the report was evaluated from, before collapse or top")


def live_activations(report: Report, network: Any) -> LiveMemory | None:
    """The live activation elements at each operation of `report`; None when a size is not an
    int (a symbolic report).  `network`: the Network the report was evaluated from
    (`check_network`), whose operations say which tensors each one reads."""
    check_network(report, network)
    rows = list(report.rows)
    n = len(rows)
    first = 1
    for d in report.input_shapes[0]:
        first = first * d
    sizes = [first, *(r.activations for r in rows)]
    if any(type(s) is not int for s in sizes):
        return None
    root = list(range(n + 1))  # value -> the tensor holding it (value 0: the input)
    own = [0] * n
    for i, (op, row) in enumerate(zip(network.ops, rows)):
        if row.op in VIEW_OPS and op.inputs:
            root[i + 1] = root[op.inputs[0]]
            sizes[i + 1] = 0
        else:
            own[i] = sizes[i + 1]
    born = [-1] + list(range(n))  # the input exists before the first operation
    last = list(born)
    for i, op in enumerate(network.ops):
        for v in op.inputs:
            r = root[v]
            last[r] = max(last[r], i)
    last[root[n]] = n - 1  # the output lives to the end
    change = [0] * (n + 1)
    for v in range(n + 1):
        if sizes[v] and root[v] == v:
            change[max(born[v], 0)] += sizes[v]
            change[max(last[v], born[v], 0) + 1] -= sizes[v]
    live = []
    total = 0
    for i in range(n):
        total += change[i]
        live.append(total)
    peak = max(live, default=0)
    return LiveMemory(tuple(live), tuple(own), peak, live.index(peak) if live else 0, first)


def bytes_per_element(report: Report) -> int:
    return BYTES[report.dtype]


@dataclass(frozen=True)
class ConventionStack:
    """FLOPs per convention as stacked parts: one part per operation kind whose FLOPs differ
    between conventions (compare's spreads), and the rest (kinds that every convention counts
    alike).  None where a convention refuses the network (`refusals` says why)."""

    conventions: tuple[str, ...]
    totals: tuple[int | None, ...]
    parts: tuple[tuple[str, tuple[int | None, ...]], ...]
    refusals: dict[str, str]


AGREED = "kinds counted alike"


def convention_stack(comparison: Any) -> ConventionStack:
    """The stacks of a `calc.compare.Comparison`; the rest is each total less its listed kinds."""
    if not hasattr(comparison, "spreads") or not isinstance(getattr(comparison, "flops", None), dict):
        raise UsageError(f"comparison is a {type(comparison).__name__}, not a Comparison",
                         expected="the result of calc.compare.compare(network)")
    names = tuple(comparison.flops)
    totals = tuple(comparison.flops[c] for c in names)
    parts = [(s.op, tuple(None if comparison.flops[c] is None else s.flops.get(c) for c in names))
             for s in comparison.spreads]
    rest = []
    for i, total in enumerate(totals):
        if total is None:
            rest.append(None)
        else:
            rest.append(total - sum(p[1][i] or 0 for p in parts))
    if any(rest):
        parts.append((AGREED, tuple(rest)))
    return ConventionStack(names, totals, tuple(parts), dict(comparison.refusals))


def log_scale(totals: Sequence[Any]) -> bool:
    """Whether a chart of these totals reads better on a log scale: the largest is more than
    ten times the median of the positive ones (a linear scale would flatten the rest)."""
    known = sorted(t for t in totals if type(t) is int and t > 0)
    return bool(known) and known[-1] > 10 * known[len(known) // 2]
