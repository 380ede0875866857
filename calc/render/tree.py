"""The tree view (`--format tree`), after torchinfo's summary: rows indented by block, each
block's row showing its totals, then a summary block of sizes in MB.

Blocks are the dotted path's prefixes: 'layer1.0.conv1' sits under 'layer1.0', under 'layer1'.
A block's row sums its operations; its input is its first operation's, its output its last's.
A path that is both an operation and a prefix ('conv1' and 'conv1.bn') is a block whose first
child is that operation, shown under the same name.

Columns: layer, kind, input and kernel (when the report was annotated with the network's
shapes, `calc.report.annotate`), output, params, MACs, FLOPs, and each row's share of the
convention's total FLOPs in percent (exact integer arithmetic, rounded half up).

The size summary is torchinfo's estimate, computed as torchinfo 1.8 computes it
(torchinfo/model_statistics.py), in MB of 10**6 bytes at the report's dtype:
    input size                  input elements x bytes per element
    forward/backward pass size  2 x output elements of each operation with parameters x bytes
    params size                 parameters x bytes (buffers not counted, as in torchinfo)
    estimated total size        the sum of the three
"""

from __future__ import annotations

from typing import Any

from calc.arith import prod
from calc.cost import BYTES, SUMMED
from calc.render import escape
from calc.render.numbers import count, grouped, shape
from calc.render.tables import _caption
from calc.report import Report, param_layer_outputs

SHOWN = ("params", "macs", "flops")
_SUMMED_INDEX = tuple(SUMMED.index(f) for f in SHOWN)

BRANCH, LAST, PIPE, SPACE = "├─ ", "└─ ", "│  ", "   "


class _Node:
    __slots__ = ("name", "children", "items", "own", "first", "last", "sums")

    def __init__(self, name: str, first: int) -> None:
        self.name = name
        self.children: dict[str, _Node] = {}
        self.items: list[Any] = []
        """Own operations (row indices) and child blocks, in the order their first row comes."""
        self.own = 0
        self.first = first
        self.last = first
        self.sums: list[Any] = [0, 0, 0]


def _tree(report: Report) -> _Node:
    root = _Node(report.name, 0)
    nodes = [root]
    for i, row in enumerate(report.rows):
        node = root
        for part in row.path.split("."):
            child = node.children.get(part)
            if child is None:
                child = node.children[part] = _Node(part, i)
                node.items.append(child)
                nodes.append(child)
            node = child
        node.items.append(i)
        node.own += 1
        sums = node.sums
        sums[0], sums[1], sums[2] = sums[0] + row.params, sums[1] + row.macs, sums[2] + row.flops
        node.last = i
    for node in reversed(nodes):  # a child was created after its parent
        sums = node.sums
        for c in node.children.values():
            sums[0], sums[1], sums[2] = sums[0] + c.sums[0], sums[1] + c.sums[1], sums[2] + c.sums[2]
            node.last = max(node.last, c.last)
    if not report.rows:
        root.last = -1
    return root


def percent(part: Any, whole: Any) -> str:
    """`part` as a percent of `whole` with two decimals, rounded half up: (1, 3) -> '33.33%'."""
    if not (isinstance(part, int) and isinstance(whole, int)) or whole <= 0:
        return ""
    hundredths = (part * 20000 + whole) // (2 * whole)
    whole_pct, frac = divmod(hundredths, 100)
    return f"{whole_pct}.{frac:02d}%"


def megabytes(nbytes: Any) -> str:
    """Bytes in MB (10**6 bytes) with two decimals, rounded half up: 602112 -> '0.60'."""
    if not isinstance(nbytes, int):
        return f"({nbytes})/10^6"
    hundredths = (nbytes * 2 + 10**4) // (2 * 10**4)
    whole, frac = divmod(hundredths, 100)
    return f"{grouped(whole)}.{frac:02d}"


def size_summary(report: Report) -> list[tuple[str, Any]]:
    """torchinfo's size estimate, in bytes: (label, bytes) for input size, forward/backward pass
    size, params size and estimated total size (see the module docstring)."""
    width = BYTES[report.dtype]
    input_bytes = sum((prod(s) for s in report.input_shapes), 0) * width
    forward_backward = 2 * param_layer_outputs(report) * width
    params = report.totals.params * width
    return [
        ("Input size", input_bytes),
        ("Forward/backward pass size", forward_backward),
        ("Params size", params),
        ("Estimated total size", input_bytes + forward_backward + params),
    ]


def render_tree(report: Report, units: bool = False) -> str:
    shapes = report.layer_shapes
    rows = report.rows
    total_flops = report.totals.flops
    header = ["layer", "kind", *(("input",) if shapes is not None else ()), "output",
              *(("kernel",) if shapes is not None else ()), "params", "MACs", "FLOPs", "% of FLOPs"]
    numeric = [False, False, *((False,) if shapes is not None else ()), False,
               *((False,) if shapes is not None else ()), True, True, True, True]
    table: list[list[str]] = [header]

    def line(label: str, kind: str, first: int, last: int, sums: list[Any], kernel: Any) -> None:
        inputs = "" if shapes is None or first < 0 else ", ".join(shape(s) for s in shapes[first].inputs)
        output = shape(rows[last].output_shape) if last >= 0 else ""
        cells = [label, escape.text(kind)]
        if shapes is not None:
            cells.append(inputs)
        cells.append(output)
        if shapes is not None:
            cells.append("" if kernel is None else shape(kernel))
        cells += [count(v, units) for v in sums]
        cells.append(percent(sums[2], total_flops))
        table.append(cells)

    def op_line(prefix: str, name: str, i: int) -> None:
        r = rows[i]
        kernel = shapes[i].kernel if shapes is not None else None
        line(prefix + escape.text(name), r.kind, i, i, [r.params, r.macs, r.flops], kernel)

    root = _tree(report)
    line(escape.text(report.name), "network", 0 if rows else -1, root.last, root.sums, None)
    # depth-first, iteratively (a path may be deep): (node or row index, name, prefix, child prefix)
    stack: list[tuple[Any, str, str, str]] = []

    def push_items(node: _Node, indent: str) -> None:
        items = node.items
        for k in range(len(items) - 1, -1, -1):
            last = k == len(items) - 1
            stack.append((items[k], node.name, indent + (LAST if last else BRANCH),
                          indent + (SPACE if last else PIPE)))

    push_items(root, "")
    while stack:
        item, parent_name, prefix, child_indent = stack.pop()
        if isinstance(item, int):  # an operation at its block's own path
            op_line(prefix, parent_name, item)
            continue
        node: _Node = item
        if not node.children and node.own == 1:
            op_line(prefix, node.name, node.items[0])
            continue
        line(prefix + escape.text(node.name), "block", node.first, node.last, node.sums, None)
        push_items(node, child_indent)

    widths = [max(len(r[c]) for r in table) for c in range(len(header))]

    def text_line(cells: list[str]) -> str:
        return "  ".join(cell.rjust(w) if num else cell.ljust(w)
                         for cell, w, num in zip(cells, widths, numeric)).rstrip()

    rule = "=" * len(text_line(["-" * w for w in widths]))
    t = report.totals
    body = [text_line(table[0]), rule, *(text_line(r) for r in table[1:]), rule]
    body += [
        f"Total params: {count(t.params, units)}",
        f"Buffers (not trainable, not in params): {count(t.buffers, units)}",
        f"Total MACs (multiply-accumulates): {count(t.macs, units)}",
        f"Total FLOPs ({escape.text(report.convention.name)}): {count(t.flops, units)}",
        rule,
        f"torchinfo's size estimate (MB = 10^6 bytes; {report.dtype.value}, "
        f"{BYTES[report.dtype]} bytes per element):",
        *(f"{label} (MB): {megabytes(nbytes)}" for label, nbytes in size_summary(report)),
        rule,
    ]
    return escape.text(_caption(report)) + "\n\n" + "\n".join(body) + "\n"
