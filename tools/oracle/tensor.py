#!/usr/bin/env python3
"""Profiler oracle fixtures for the tensor operations attention is built from (permute,
transpose, reshape/view, split, chunk, matmul, einsum, scale): each real tool on small seeded
modules whose forward makes one such call.

Same environment and tool runners as tools/oracle/make_fixtures.py (read its docstring); from
the repository root:

    /tmp/h1-venv/bin/python tools/oracle/tensor.py [--uthop-dir DIR]

writes tests/fixtures/profilers/tensor/<case id>.json: the operation (calc's record fields), the
input and output shapes, params and buffers, and every tool's figures with the tool's version and
the exact call (recorded by the runners of make_fixtures.py).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import OrderedDict

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as mf  # noqa: E402

OUT = os.path.join(mf.REPO, "tests", "fixtures", "profilers", "tensor")


class Call(nn.Module):
    """forward(x[, y]) = fn(x[, y]); `text` is the call, recorded in the fixture (named
    parameters: ptflops passes several inputs by the forward's parameter names)."""

    def __init__(self, fn, text: str) -> None:
        super().__init__()
        self.fn, self.text = fn, text

    def forward(self, x, y=None):
        return self.fn(x) if y is None else self.fn(x, y)

    def extra_repr(self) -> str:
        return self.text


class BufferMatmul(nn.Module):
    """x @ self.w with w a (k, m) buffer (a constant operand, not a parameter)."""

    def __init__(self, k: int, m: int) -> None:
        super().__init__()
        self.register_buffer("w", torch.randn(k, m, generator=torch.Generator().manual_seed(0)))

    def forward(self, x):
        return x @ self.w


class LayerScale(nn.Module):
    """ConvNeXt/CaiT layer scale: x * gamma, gamma a learnt parameter of the given shape."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.full(shape, 1e-6))

    def forward(self, x):
        return x * self.gamma




def cases() -> list[dict]:
    """id, op (calc's record fields), ctor, input shapes."""
    out: list[dict] = []

    def add(id_, op, ctor, *shapes):
        out.append(dict(id=id_, op=op, ctor=ctor, input_shapes=[list(s) for s in shapes]))

    def call(fn, text):
        return lambda: Call(fn, text)

    add("permute_ntd", dict(kind="permute", dims=[0, 2, 1]),
        call(lambda x: x.permute(0, 2, 1), "x.permute(0, 2, 1)"), (2, 5, 8))
    add("permute_nchw_to_nhwc", dict(kind="permute", dims=[0, 2, 3, 1]),
        call(lambda x: x.permute(0, 2, 3, 1), "x.permute(0, 2, 3, 1)"), (1, 3, 4, 4))
    add("transpose_12", dict(kind="transpose", dim0=1, dim1=2),
        call(lambda x: x.transpose(1, 2), "x.transpose(1, 2)"), (2, 5, 8))
    add("reshape_heads", dict(kind="reshape", shape=[5, 2, -1]),
        call(lambda x: x.reshape(2, 5, 2, -1), "x.reshape(2, 5, 2, -1)"), (2, 5, 8))
    add("view_heads", dict(kind="view", shape=[5, 2, 4]),
        call(lambda x: x.view(2, 5, 2, 4), "x.view(2, 5, 2, 4)"), (2, 5, 8))
    add("split_sizes", dict(kind="split", sizes=[3, 5], dim=-1, index=1),
        call(lambda x: x.split([3, 5], dim=-1)[1], "x.split([3, 5], dim=-1)[1]"), (2, 5, 8))
    add("chunk_2", dict(kind="chunk", chunks=2, dim=-1, index=0),
        call(lambda x: x.chunk(2, dim=-1)[0], "x.chunk(2, dim=-1)[0]"), (2, 5, 8))
    add("matmul_two_inputs", dict(kind="matmul", form="matmul"),
        call(lambda x, y: torch.matmul(x, y), "torch.matmul(x, y)"), (2, 5, 8), (2, 8, 3))
    add("matmul_operator", dict(kind="matmul", form="operator"),
        call(lambda x, y: x @ y, "x @ y"), (2, 5, 8), (2, 8, 3))
    add("matmul_broadcast", dict(kind="matmul", form="matmul"),
        call(lambda x, y: torch.matmul(x, y), "torch.matmul(x, y)"), (2, 1, 5, 8), (3, 8, 4))
    add("bmm", dict(kind="matmul", form="bmm"),
        call(lambda x, y: torch.bmm(x, y), "torch.bmm(x, y)"), (2, 5, 8), (2, 8, 3))
    add("matmul_buffer", dict(kind="matmul", form="operator", other=[8, 3], other_is="buffer"),
        lambda: BufferMatmul(8, 3), (2, 5, 8))
    add("einsum_bmm", dict(kind="einsum", equation="bij,bjk->bik"),
        call(lambda x, y: torch.einsum("bij,bjk->bik", x, y), "torch.einsum('bij,bjk->bik', x, y)"),
        (2, 5, 8), (2, 8, 3))
    add("einsum_scores", dict(kind="einsum", equation="bhid,bhjd->bhij"),
        call(lambda x, y: torch.einsum("bhid,bhjd->bhij", x, y), "torch.einsum('bhid,bhjd->bhij', x, y)"),
        (2, 2, 5, 4), (2, 2, 6, 4))
    add("scale_last", dict(kind="scale", dim=-1),
        lambda: LayerScale((8,)), (2, 5, 8))
    add("scale_channels_first", dict(kind="scale", dim=1),
        lambda: LayerScale((3, 1, 1)), (1, 3, 4, 4))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=OUT)
    ap.add_argument("--uthop-dir", default=mf.DEFAULT_UTHOP_DIR)
    ap.add_argument("--only", default="", help="comma-separated case ids")
    a = ap.parse_args()
    torch.set_num_threads(1)
    tools = mf.thops_available(a.uthop_dir)
    versions = mf.tool_versions()
    only = set(filter(None, a.only.split(",")))
    for case in cases():
        if only and case["id"] not in only:
            continue
        shapes = [tuple(s) for s in case["input_shapes"]]
        m = mf.build(case["ctor"])
        with torch.no_grad():
            y = m(*mf.make_inputs(list(shapes)))
        entry = OrderedDict(
            id=case["id"], op=case["op"], module=repr(m),
            module_class=type(m).__module__ + "." + type(m).__name__,
            input_shapes=case["input_shapes"], output_shape=list(y.shape), mode="eval",
            params=sum(p.numel() for p in m.parameters()), buffers=sum(b.numel() for b in m.buffers()),
            versions=versions, tools=OrderedDict(),
        )
        for t in tools:
            entry["tools"][t] = mf.safe(mf.TOOLS[t], case["ctor"], list(shapes), with_layers=False)
            entry["tools"][t].pop("traceback", None)
        mf.write_json(os.path.join(a.out, f"{case['id']}.json"), entry)
        print(case["id"], json.dumps({t: mf._headline(t, r) for t, r in entry["tools"].items()}), flush=True)


if __name__ == "__main__":
    main()
