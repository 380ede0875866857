#!/usr/bin/env python3
"""Profiler oracle fixtures for nn.Embedding (a table lookup) and a tiny model whose output
projection is tied to its embedding table (GPT-2's lm_head.weight = wte.weight): each real tool
on small seeded modules fed int64 token ids.

Same environment and tool runners as tools/oracle/make_fixtures.py (read its docstring); from
the repository root:

    /tmp/h1-venv/bin/python tools/oracle/embedding.py

writes tests/fixtures/profilers/embedding/<case id>.json: the operation (calc's record fields),
the input and output shapes, params (PyTorch's parameters(), a tied weight once) and buffers,
and every tool's figures (params included: some tools count a tied weight twice).  The inputs
are token ids drawn uniformly from [0, num_embeddings) with the runners' seed; batch 2, so that
every runner (ptflops included) is handed the ids rather than a float tensor it makes itself.
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

OUT = os.path.join(mf.REPO, "tests", "fixtures", "profilers", "embedding")
VOCAB, DIM = 10, 8


class Tied(nn.Module):
    """ids -> wte (VOCAB x DIM) -> lm_head Linear(DIM, VOCAB, bias=False), lm_head.weight = wte.weight."""

    def __init__(self) -> None:
        super().__init__()
        self.wte = nn.Embedding(VOCAB, DIM)
        self.lm_head = nn.Linear(DIM, VOCAB, bias=False)
        self.lm_head.weight = self.wte.weight

    def forward(self, x):
        return self.lm_head(self.wte(x))


def token_ids(shapes: list[tuple[int, ...]]) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(mf.SEED)
    return [torch.randint(0, VOCAB, s, generator=g) for s in shapes]


def calflops_with_ids() -> None:
    """calflops builds a float tensor from `input_shape` (an embedding refuses it): hand it the
    token ids through `args` instead; the runner's recorded call is corrected to say so."""
    import calflops

    orig = calflops.calculate_flops

    def calculate_flops(*, input_shape=None, **kw):
        if input_shape is not None:
            kw["args"] = token_ids([tuple(input_shape)])
        return orig(**kw)

    calflops.calculate_flops = calculate_flops


def cases() -> list[dict]:
    """id, op (calc's record fields), ctor, input shapes."""
    out: list[dict] = []

    def add(id_, op, ctor, *shapes):
        out.append(dict(id=id_, op=op, ctor=ctor, input_shapes=[list(s) for s in shapes]))

    add("embedding", dict(kind="embedding", num_embeddings=VOCAB, embedding_dim=DIM),
        lambda: nn.Embedding(VOCAB, DIM), (2, 5))
    add("embedding_padding_max_norm",
        dict(kind="embedding", num_embeddings=VOCAB, embedding_dim=DIM, padding_idx=0, max_norm=1.0),
        lambda: nn.Embedding(VOCAB, DIM, padding_idx=0, max_norm=1.0), (2, 5))
    add("tied_lm_head", dict(kind="tied", num_embeddings=VOCAB, embedding_dim=DIM),
        Tied, (2, 5))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=OUT)
    a = ap.parse_args()
    torch.set_num_threads(1)
    mf.make_inputs = token_ids  # every runner makes its inputs through this name
    tools = mf.thops_available(None)
    calflops_with_ids()
    versions = mf.tool_versions()
    for case in cases():
        shapes = [tuple(s) for s in case["input_shapes"]]
        m = mf.build(case["ctor"])
        with torch.no_grad():
            y = m(*token_ids(list(shapes)))
        entry = OrderedDict(
            id=case["id"], op=case["op"], module=repr(m),
            module_class=type(m).__module__ + "." + type(m).__name__,
            input_shapes=case["input_shapes"], input_dtype="int64", output_shape=list(y.shape), mode="eval",
            params=sum(p.numel() for p in m.parameters()), buffers=sum(b.numel() for b in m.buffers()),
            versions=versions, tools=OrderedDict(),
        )
        for t in tools:
            entry["tools"][t] = mf.safe(mf.TOOLS[t], case["ctor"], list(shapes), with_layers=False)
            entry["tools"][t].pop("traceback", None)
            if t == "calflops" and "call" in entry["tools"][t]:
                entry["tools"][t]["call"] = entry["tools"][t]["call"].replace(
                    f"input_shape={tuple(shapes[0])}", "args=[ids]")
        mf.write_json(os.path.join(a.out, f"{case['id']}.json"), entry)
        print(case["id"], json.dumps({t: mf._headline(t, r) for t, r in entry["tools"].items()}), flush=True)


if __name__ == "__main__":
    main()
