"""Live activations along a network's order (an estimate; `live_activations`).

Every operation's output is a tensor that is alive from the operation that writes it to the last
operation that reads it (the network's output to the end, its input from the start); the tensors
alive at each operation, the ones it reads and the one it writes included, are summed.  So a
residual shortcut or a concatenation keeps its inputs alive until the add or the concat reads
them.  The operations that move no data (calc.cost.VIEW_OPS: flatten, identity, dropout, split,
select, mha) make views: no memory of their own, and reading a view keeps the tensor it views
alive.  Operations that could run in place (ReLU(inplace=True)), workspaces and the caching of an
allocator are not modelled.

(Moved here from calc.render.charts, which re-exports it for calc.plot and calc.render.html.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from calc.cost import VIEW_OPS
from calc.errors import UsageError
from calc.report import Report


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


def storage_roots(report: Report, network: Any) -> list[int]:
    """For each value (0: the input, i + 1: operation i's output), the value whose tensor holds
    it: itself, or for a view (VIEW_OPS) the tensor its first input is held by."""
    root = list(range(len(report.rows) + 1))
    for i, (op, row) in enumerate(zip(network.ops, report.rows)):
        if row.op in VIEW_OPS and op.inputs:
            root[i + 1] = root[op.inputs[0]]
    return root
