#!/usr/bin/env python3
"""Profiler oracle fixtures for the normalisation kinds (layernorm, layernorm2d, rmsnorm,
groupnorm, instancenorm): each real tool on single seeded layers.

Same environment and tool runners as tools/oracle/make_fixtures.py (read its docstring); from
the repository root:

    /work/oracle-venv/bin/python tools/oracle/norms.py [--uthop-dir DIR]

writes tests/fixtures/profilers/norms/<case id>.json: the layer (PyTorch constructor
arguments), its input and output shapes, params and buffers, and every tool's figures with the
tool's version and the exact call (recorded by the runners of make_fixtures.py).  ultralytics-thop
is run only when its directory exists (no flopcalc convention emulates it).
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

OUT = os.path.join(mf.REPO, "tests", "fixtures", "profilers", "norms")


class LayerNorm2d(nn.LayerNorm):
    """torchvision.models.convnext.LayerNorm2d, restated so the fixture does not depend on a
    private torchvision name: permute NCHW -> NHWC, F.layer_norm over C, permute back."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        x = nn.functional.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


def _torchvision_layernorm2d():
    from torchvision.models.convnext import LayerNorm2d as tv

    return tv


def cases() -> list[dict]:
    """id, layer (kind and constructor arguments, as calc's record names them), ctor, shape."""
    out: list[dict] = []

    def add(id_, layer, ctor, shape):
        out.append(dict(id=id_, layer=layer, ctor=ctor, input_shapes=[list(shape)]))

    for shape in ((2, 5, 8), (1, 3, 4, 4)):
        tag = "ntd" if len(shape) == 3 else "nchw"
        for axes in (1, 2):
            ns = list(shape[-axes:])
            for affine, bias in ((True, True), (True, False), (False, True)):
                id_ = f"layernorm_{tag}_{axes}ax" + ("" if affine and bias else "_nobias" if affine else "_noaffine")
                add(id_, dict(kind="layernorm", normalized_shape=ns, elementwise_affine=affine, bias=bias),
                    lambda ns=ns, a=affine, b=bias: nn.LayerNorm(ns, elementwise_affine=a, bias=b), shape)
    tv = _torchvision_layernorm2d()
    for affine in (True, False):
        sfx = "" if affine else "_noaffine"
        add(f"layernorm2d_torchvision{sfx}", dict(kind="layernorm2d", channels=3, elementwise_affine=affine),
            lambda a=affine: tv(3, elementwise_affine=a), (1, 3, 4, 4))
        add(f"layernorm2d_batch2{sfx}", dict(kind="layernorm2d", channels=3, elementwise_affine=affine),
            lambda a=affine: LayerNorm2d(3, elementwise_affine=a), (2, 3, 4, 4))
    for shape, ns in (((2, 5, 8), [8]), ((1, 3, 4, 4), [4, 4])):
        tag = "ntd" if len(shape) == 3 else "nchw"
        for affine in (True, False):
            add(f"rmsnorm_{tag}_{len(ns)}ax" + ("" if affine else "_noaffine"),
                dict(kind="rmsnorm", normalized_shape=ns, elementwise_affine=affine),
                lambda ns=ns, a=affine: nn.RMSNorm(ns, elementwise_affine=a), shape)
    for groups in (1, 2, 4):
        for affine in (True, False):
            add(f"groupnorm_g{groups}" + ("" if affine else "_noaffine"),
                dict(kind="groupnorm", groups=groups, channels=4, affine=affine),
                lambda g=groups, a=affine: nn.GroupNorm(g, 4, affine=a), (2, 4, 3, 3))
    for affine, track in ((False, False), (True, False), (False, True), (True, True)):
        add(f"instancenorm2d_affine{int(affine)}_track{int(track)}",
            dict(kind="instancenorm", channels=3, affine=affine, track_running_stats=track),
            lambda a=affine, t=track: nn.InstanceNorm2d(3, affine=a, track_running_stats=t), (2, 3, 4, 4))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=OUT)
    ap.add_argument("--uthop-dir", default=mf.DEFAULT_UTHOP_DIR)
    a = ap.parse_args()
    torch.set_num_threads(1)
    tools = mf.thops_available(a.uthop_dir)
    versions = mf.tool_versions()
    for case in cases():
        shapes = [tuple(s) for s in case["input_shapes"]]
        m = mf.build(case["ctor"])
        with torch.no_grad():
            y = m(*mf.make_inputs(list(shapes)))
        entry = OrderedDict(
            id=case["id"], layer=case["layer"], module=repr(m), module_class=type(m).__module__ + "." + type(m).__name__,
            input_shapes=case["input_shapes"], output_shape=list(y.shape), mode="eval",
            params=sum(p.numel() for p in m.parameters()), buffers=sum(b.numel() for b in m.buffers()),
            buffers_without_num_batches_tracked=sum(
                b.numel() for n, b in m.named_buffers() if not n.endswith("num_batches_tracked")),
            versions=versions, tools=OrderedDict(),
        )
        for t in tools:
            entry["tools"][t] = mf.safe(mf.TOOLS[t], case["ctor"], list(shapes), with_layers=False)
            entry["tools"][t].pop("traceback", None)
        mf.write_json(os.path.join(a.out, f"{case['id']}.json"), entry)
        print(case["id"], json.dumps({t: mf._headline(t, r) for t, r in entry["tools"].items()}), flush=True)


if __name__ == "__main__":
    main()
