"""What the pictures show, taken from report objects (no plotting library here): the block tree
of a report with each block's totals, the live activations over the network order, and the
convention comparison as stacks.  `calc.render.html` (the HTML page) and `calc.plot` (static
files) draw these; neither computes a figure of its own.

Blocks are the dotted path's prefixes, as in the tree format (calc.render.tree): 'layer1.0.conv1'
sits under 'layer1.0', under 'layer1'.  A block's figures are `calc.report.collapse`'s row for
it.  A path that is both an operation and a prefix ('gate_proj' and 'gate_proj.act') is a block
whose first child is that operation, under the same name.

Live activations (an estimate): calc.memory.liveness (`LiveMemory`, `live_activations`,
`check_network`), imported here for calc.plot and calc.render.html.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from calc.cost import BYTES, OpCost
from calc.errors import UsageError
from calc.memory.liveness import LiveMemory, check_network, live_activations  # noqa: F401 (re-exported)
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
