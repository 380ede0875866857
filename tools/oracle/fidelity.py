#!/usr/bin/env python3
"""Oracle fixtures for three fidelity gaps (issue 10): string padding, batch > 1, transposed convs.

Runs the real tools, like make_fixtures.py (whose runners it reuses, same venv; see its
docstring; ultralytics-thop is not needed here), on

* single layers (``tests/fixtures/profilers/fidelity/layers.json``):
  - convs with ``padding='same'`` / ``'valid'``: PyTorch routes them to
    ``aten::_convolution_mode``, which fvcore 0.1.5 has no handle for (0, reported as
    unsupported); calflops 0.3.2 pads ``d(K-1)//2`` on each side, one position short of 'same'
    where ``d(K-1)`` is odd;
  - transposed convs with groups > 1, bias on and off, and a variety of stride, padding,
    output_padding, dilation and rank (calflops divides by the groups twice and prices the bias
    at the forward-conv output size);
  - layers at batch 2, 3 and 4 (ptflops divides module-hook counts by the batch, not the counts
    of patched functionals; its nn.Upsample hook counts one sample only);
* small networks written for these gaps (``FunctionalMix``, ``SamePadding``, ``Decoder``; their
  calc specs are in ``tests/fixtures/profilers/fidelity/specs/``) at several batches, every tool;
* torchvision models at batch 2 and 4, ptflops only (per-module hook counts and the functional
  counts attributed to the module running them).

Run from the repository root with the oracle venv::

    /work/oracle-venv/bin/python tools/oracle/fidelity.py
    /work/oracle-venv/bin/python tools/oracle/fidelity.py --only layers

Seeded like make_fixtures.py (torch.manual_seed(0) before each build, a seeded generator for
inputs); every tool gets a freshly built model.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import OrderedDict
from typing import Callable

import torch
import torch.nn as nn
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as mf  # noqa: E402

OUT = os.path.join(mf.REPO, "tests", "fixtures", "profilers", "fidelity")
LAYER_TOOLS = ["thop", "fvcore", "ptflops_pytorch", "ptflops_aten", "torchinfo", "torch_flop_counter", "calflops"]


def load_thop() -> None:
    """thop 0.1.1 only (make_fixtures.load_thops also wants ultralytics-thop)."""
    import thop
    import thop.profile  # noqa: F401

    mf._THOP["thop"] = (thop, mf._pkg_version("thop"))


def versions() -> dict:
    return OrderedDict(
        python=sys.version.split()[0], torch=torch.__version__, torchvision=torchvision.__version__,
        thop=mf._THOP["thop"][1], fvcore=mf._pkg_version("fvcore"), ptflops=mf._pkg_version("ptflops"),
        torchinfo=mf._pkg_version("torchinfo"), calflops=mf._pkg_version("calflops"),
        transformers=mf._pkg_version("transformers"),
    )


# --------------------------------------------------------------------------
# Single layers
# --------------------------------------------------------------------------


GAPS = {
    "string_padding": "fvcore 0.1.5 prices a conv with padding 'same'/'valid' at 0 (aten::_convolution_mode "
                      "has no handle); calflops 0.3.2 pads 'same' by d(K-1)//2 on each side",
    "transposed_conv": "calflops 0.3.2 divides a transposed conv's products by the groups twice and prices "
                       "its bias at the forward-conv output size of the input",
    "batch": "ptflops 0.7.5 divides module-hook counts by the batch, not patched-functional counts; "
             "its nn.Upsample hook counts one sample",
}


def layer_cases() -> list[dict]:
    cases: list[dict] = []
    gap = ""

    def add(id_: str, desc: dict, ctor: Callable[[], nn.Module], shape: list[int]) -> None:
        cases.append({"id": id_, "gap": gap, "layer": desc, "ctor": ctor, "input_shapes": [shape], "mode": "eval"})

    # -- string padding ------------------------------------------------------------------------
    gap = "string_padding"
    def conv(id_, rank, cin, cout, k, padding, s=1, d=1, g=1, bias=True, shape=None):
        cls = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[rank]
        shape = shape or {1: [1, cin, 20], 2: [1, cin, 14, 14], 3: [1, cin, 6, 6, 6]}[rank]
        add(id_, {"kind": f"conv{rank}d", "in_channels": cin, "out_channels": cout, "kernel_size": k,
                  "stride": s, "padding": padding, "dilation": d, "groups": g, "bias": bias},
            lambda: cls(cin, cout, tuple(k) if isinstance(k, list) else k, s, padding, d, g, bias), shape)

    conv("conv2d_k3_same_bias", 2, 8, 16, 3, "same")
    conv("conv2d_k3_same_nobias", 2, 8, 16, 3, "same", bias=False)
    conv("conv2d_k4_same_bias", 2, 8, 16, 4, "same")
    conv("conv2d_k4_same_nobias", 2, 8, 16, 4, "same", bias=False)
    conv("conv2d_k3_same_d2_bias", 2, 8, 16, 3, "same", d=2)
    conv("conv2d_k2_same_d3_nobias", 2, 8, 16, 2, "same", d=3, bias=False)
    conv("conv2d_k1x4_same_bias", 2, 8, 16, [1, 4], "same")
    conv("conv2d_k5_same_g4_nobias", 2, 8, 16, 5, "same", g=4, bias=False)
    conv("conv2d_depthwise_k3_same_nobias", 2, 8, 8, 3, "same", g=8, bias=False)
    conv("conv2d_k3_valid_bias", 2, 8, 16, 3, "valid")
    conv("conv2d_k3_valid_s2_nobias", 2, 8, 16, 3, "valid", s=2, bias=False)
    conv("conv2d_k3_same_bias_batch2", 2, 8, 16, 3, "same", shape=[2, 8, 14, 14])
    conv("conv1d_k4_same_bias", 1, 8, 16, 4, "same")
    conv("conv1d_k3_valid_nobias", 1, 8, 16, 3, "valid", bias=False)
    conv("conv3d_k3_same_bias", 3, 4, 8, 3, "same")
    conv("conv3d_k2_valid_nobias", 3, 4, 8, 2, "valid", bias=False)

    # -- transposed convs ----------------------------------------------------------------------
    gap = "transposed_conv"
    def convt(id_, rank, cin, cout, k, s=1, p=0, op=0, g=1, bias=True, d=1, shape=None):
        cls = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}[rank]
        shape = shape or {1: [1, cin, 10], 2: [1, cin, 7, 7], 3: [1, cin, 4, 4, 4]}[rank]
        tup = (lambda v: tuple(v) if isinstance(v, list) else v)
        add(id_, {"kind": f"conv_transpose{rank}d", "in_channels": cin, "out_channels": cout, "kernel_size": k,
                  "stride": s, "padding": p, "output_padding": op, "groups": g, "bias": bias, "dilation": d},
            lambda: cls(cin, cout, tup(k), tup(s), tup(p), tup(op), g, bias, tup(d)), shape)

    convt("convt2d_k3_s2_p1_op1_g2_bias", 2, 16, 8, 3, 2, 1, 1, g=2)
    convt("convt2d_k3_s2_p1_op1_g2_nobias", 2, 16, 8, 3, 2, 1, 1, g=2, bias=False)
    convt("convt2d_k4_s2_p1_g2_bias", 2, 16, 8, 4, 2, 1, g=2)
    convt("convt2d_k4_s2_p1_g4_bias", 2, 16, 8, 4, 2, 1, g=4)        # (Cout/g)//g = 2//4 = 0
    convt("convt2d_k3_s2_g4_nobias", 2, 16, 16, 3, 2, g=4, bias=False)
    convt("convt2d_k2_s2_p0_g2_bias", 2, 16, 8, 2, 2, g=2)
    convt("convt2d_k3_s1_p0_bias", 2, 16, 8, 3)                     # forward size 5, true output 9
    convt("convt2d_k5_s1_p0_bias_small", 2, 16, 8, 5, shape=[1, 16, 3, 3])   # forward size -1 per axis
    convt("convt2d_k4_s1_p0_g2_bias_tiny", 2, 8, 8, 4, g=2, shape=[1, 8, 2, 3])  # forward sizes -1, 0
    convt("convt2d_k3_s3_p1_op2_g2_bias", 2, 16, 8, 3, 3, 1, 2, g=2)
    convt("convt2d_k3_s2_p2_op1_d2_g2_bias", 2, 16, 8, 3, 2, 2, 1, g=2, d=2)
    convt("convt2d_k2x3_s2x1_p0x1_g2_bias", 2, 16, 8, [2, 3], [2, 1], [0, 1], g=2)
    convt("convt2d_depthwise_k4_s2_p1_bias", 2, 8, 8, 4, 2, 1, g=8)
    convt("convt2d_k3_s2_p1_op1_g2_bias_batch2", 2, 16, 8, 3, 2, 1, 1, g=2, shape=[2, 16, 7, 7])
    convt("convt1d_k4_s2_p1_g2_bias", 1, 16, 8, 4, 2, 1, g=2)
    convt("convt3d_k3_s2_p1_op1_g2_bias", 3, 8, 4, 3, 2, 1, 1, g=2)
    convt("convt3d_k2_s2_nobias", 3, 8, 4, 2, 2, bias=False)

    # -- batch > 1 (ptflops) -------------------------------------------------------------------
    gap = "batch"
    def at(id_, desc, ctor, shape):
        add(id_, desc, ctor, shape)

    for n in (2, 4):
        at(f"conv2d_k3_p1_bias_batch{n}", {"kind": "conv2d", "in_channels": 8, "out_channels": 16, "kernel_size": 3,
                                           "stride": 1, "padding": 1, "dilation": 1, "groups": 1, "bias": True},
           lambda: nn.Conv2d(8, 16, 3, 1, 1), [n, 8, 14, 14])
        at(f"relu_batch{n}", {"kind": "relu"}, lambda: nn.ReLU(), [n, 16, 14, 14])
        at(f"maxpool2d_k3_s2_batch{n}", {"kind": "maxpool2d", "kernel_size": 3, "stride": 2, "padding": 0,
                                         "ceil_mode": False}, lambda: nn.MaxPool2d(3, 2), [n, 16, 14, 14])
        at(f"upsample_nearest_x2_batch{n}", {"kind": "upsample", "mode": "nearest", "scale_factor": 2},
           lambda: nn.Upsample(scale_factor=2, mode="nearest"), [n, 16, 7, 7])
        at(f"functional_relu_batch{n}", {"kind": "relu", "form": "F.relu(x)"},
           lambda: mf.Functional("relu"), [n, 16, 14, 14])
    at("upsample_nearest_x2_batch3", {"kind": "upsample", "mode": "nearest", "scale_factor": 2},
       lambda: nn.Upsample(scale_factor=2, mode="nearest"), [3, 16, 7, 7])  # 3136 per sample: not a multiple of 3
    at("upsample_bilinear_x2_batch2", {"kind": "upsample", "mode": "bilinear", "scale_factor": 2, "align_corners": False},
       lambda: nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False), [2, 16, 7, 7])
    at("upsample_nearest_size_batch4", {"kind": "upsample", "mode": "nearest", "size": [12, 10]},
       lambda: nn.Upsample(size=(12, 10), mode="nearest"), [4, 16, 7, 7])
    at("functional_interpolate_x2_batch4", {"kind": "upsample", "mode": "nearest", "scale_factor": 2,
                                            "form": "F.interpolate(x, scale_factor=2)"},
       lambda: mf.Functional("interpolate", scale_factor=2), [4, 16, 7, 7])
    at("conv2d_k3_s2_g2_nobias_batch4", {"kind": "conv2d", "in_channels": 8, "out_channels": 16, "kernel_size": 3,
                                         "stride": 2, "padding": 0, "dilation": 1, "groups": 2, "bias": False},
       lambda: nn.Conv2d(8, 16, 3, 2, 0, 1, 2, False), [4, 8, 15, 15])
    at("convt2d_k4_s2_p1_bias_batch4", {"kind": "conv_transpose2d", "in_channels": 16, "out_channels": 8, "kernel_size": 4,
                                        "stride": 2, "padding": 1, "output_padding": 0, "groups": 1, "bias": True,
                                        "dilation": 1},
       lambda: nn.ConvTranspose2d(16, 8, 4, 2, 1), [4, 16, 7, 7])
    at("linear_bias_batch2", {"kind": "linear", "in_features": 64, "out_features": 32, "bias": True},
       lambda: nn.Linear(64, 32), [2, 64])
    at("linear_nobias_3d_input_batch2", {"kind": "linear", "in_features": 64, "out_features": 32, "bias": False},
       lambda: nn.Linear(64, 32, bias=False), [2, 10, 64])
    at("batchnorm2d_affine_batch4", {"kind": "batchnorm2d", "num_features": 16, "affine": True},
       lambda: nn.BatchNorm2d(16), [4, 16, 14, 14])
    at("batchnorm2d_noaffine_batch2", {"kind": "batchnorm2d", "num_features": 16, "affine": False},
       lambda: nn.BatchNorm2d(16, affine=False), [2, 16, 14, 14])
    for kind, ctor, extra, n in [
        ("relu6", lambda: nn.ReLU6(), {}, 4),
        ("leaky_relu", lambda: nn.LeakyReLU(0.1), {"negative_slope": 0.1}, 2),
        ("prelu", lambda: nn.PReLU(), {"num_parameters": 1}, 2),
        ("elu", lambda: nn.ELU(), {}, 4),
        ("gelu", lambda: nn.GELU(), {}, 2),
        ("silu", lambda: nn.SiLU(), {}, 4),
        ("sigmoid", lambda: nn.Sigmoid(), {}, 2),
    ]:
        at(f"{kind}_batch{n}", dict({"kind": kind}, **extra), ctor, [n, 16, 14, 14])
    at("softmax_dim1_4d_batch4", {"kind": "softmax", "dim": 1}, lambda: nn.Softmax(dim=1), [4, 16, 14, 14])
    at("avgpool2d_k3_s2_p1_batch4", {"kind": "avgpool2d", "kernel_size": 3, "stride": 2, "padding": 1,
                                     "ceil_mode": False, "count_include_pad": True},
       lambda: nn.AvgPool2d(3, 2, 1), [4, 16, 14, 14])
    at("adaptive_avgpool2d_1x1_from_14_batch2", {"kind": "adaptive_avgpool2d", "output_size": [1, 1]},
       lambda: nn.AdaptiveAvgPool2d((1, 1)), [2, 16, 14, 14])
    at("adaptive_maxpool2d_7x7_from_9_batch4", {"kind": "adaptive_maxpool2d", "output_size": [7, 7]},
       lambda: nn.AdaptiveMaxPool2d((7, 7)), [4, 16, 9, 9])
    at("functional_max_pool2d_k3_s2_batch2", {"kind": "maxpool2d", "form": "F.max_pool2d(x, 3, 2)", "kernel_size": 3,
                                              "stride": 2, "padding": 0, "ceil_mode": False},
       lambda: mf.Functional("max_pool2d", kernel_size=3, stride=2), [2, 16, 14, 14])
    at("functional_adaptive_avg_pool2d_1x1_batch4", {"kind": "adaptive_avgpool2d",
                                                     "form": "F.adaptive_avg_pool2d(x, (1, 1))", "output_size": [1, 1]},
       lambda: mf.Functional("adaptive_avg_pool2d", (1, 1)), [4, 16, 14, 14])
    return cases


def make_layers() -> dict:
    out = []
    for case in layer_cases():
        shapes = [tuple(s) for s in case["input_shapes"]]
        m = mf.build(case["ctor"])
        with torch.no_grad():
            y = m(*mf.make_inputs(list(shapes)))
        entry = OrderedDict(
            id=case["id"], gap=case["gap"], layer=case["layer"],
            module=repr(m) if not isinstance(m, mf.Functional) else f"Functional({m.kind})",
            input_shapes=[list(s) for s in shapes], output_shape=list(y.shape), mode="eval",
            params=sum(p.numel() for p in m.parameters()))
        tools = OrderedDict()
        for t in LAYER_TOOLS:
            tools[t] = mf._compact(t, mf.safe(mf.TOOLS[t], case["ctor"], list(shapes), with_layers=False))
        entry["tools"] = tools
        out.append(entry)
        print(f"  layer {case['id']}: " + ", ".join(f"{t}={mf._headline(t, tools[t])}" for t in LAYER_TOOLS),
              flush=True)
    return OrderedDict(
        schema="as tests/fixtures/profilers/layers.json: one entry per case; gap names the fidelity gap it "
               "probes (see gaps); tools.<tool> holds that tool's figures for the layer alone (docs/profilers.md)",
        generator="tools/oracle/fidelity.py", seed=mf.SEED, versions=versions(), gaps=GAPS, cases=out)


# --------------------------------------------------------------------------
# Small networks for the gaps (calc specs: tests/fixtures/profilers/fidelity/specs/<name>.yaml)
# --------------------------------------------------------------------------


class FunctionalMix(nn.Module):
    """Module hooks and patched functionals side by side, for ptflops at batch > 1."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1)                   # hook
        self.bn1 = nn.BatchNorm2d(16)                                 # hook
        self.relu1 = nn.ReLU(inplace=True)                            # hook + F.relu
        self.pool1 = nn.MaxPool2d(2)                                  # hook + F.max_pool2d
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1, bias=False)      # hook
        self.act2 = mf.Functional("relu")                             # F.relu only
        self.pool2 = mf.Functional("avg_pool2d", 2)                   # F.avg_pool2d only
        self.up = nn.Upsample(scale_factor=2, mode="nearest")         # hook (one sample) + F.interpolate
        self.deconv = nn.ConvTranspose2d(32, 16, 4, 2, 1)             # hook
        self.act3 = nn.ReLU6()                                        # hook only
        self.act4 = nn.SiLU()                                         # F.silu only
        self.gap = mf.Functional("adaptive_avg_pool2d", 1)            # F.adaptive_avg_pool2d only
        self.fc = nn.Linear(16, 10)                                   # hook
        self.softmax = nn.Softmax(dim=1)                              # F.softmax only

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool1(self.relu1(self.bn1(self.conv1(x))))
        x = self.pool2(self.act2(self.conv2(x)))
        x = self.act4(self.act3(self.deconv(self.up(x))))
        x = torch.flatten(self.gap(x), 1)
        return self.softmax(self.fc(x))


class SamePadding(nn.Module):
    """Convs with string padding among numeric ones (fvcore prices the string ones at 0)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding="same")
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(16, 16, 4, padding="same", bias=False)      # even kernel
        self.conv3 = nn.Conv2d(16, 32, 3, stride=2, padding=1, bias=False)  # numeric padding
        self.conv4 = nn.Conv2d(32, 32, 3, padding="valid", groups=4)
        self.conv5 = nn.Conv2d(32, 32, 3, padding="same", dilation=2, groups=32, bias=False)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.conv5(self.conv4(self.conv3(self.conv2(x))))
        return self.fc(torch.flatten(self.pool(x), 1))


class Decoder(nn.Module):
    """Transposed convs with groups, bias on and off, and varied stride/padding/output_padding."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 32, 3, stride=2, padding=1)
        self.relu = nn.ReLU()
        self.up1 = nn.ConvTranspose2d(32, 32, 3, stride=2, padding=1, output_padding=1, groups=2)
        self.up2 = nn.ConvTranspose2d(32, 16, 4, stride=2, padding=1, groups=4, bias=False)
        self.up3 = nn.ConvTranspose2d(16, 16, 2, stride=2, groups=16)
        self.up4 = nn.ConvTranspose2d(16, 8, 3, stride=1, padding=0, dilation=2, groups=2)
        self.head = nn.Conv2d(8, 3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.conv(x))
        x = self.relu(self.up1(x))
        x = self.up4(self.up3(self.up2(x)))
        return self.head(x)


NETWORKS: "OrderedDict[str, tuple[Callable[[], nn.Module], tuple[int, ...], tuple[int, ...], str]]" = OrderedDict([
    # name: (constructor, per-sample input shape, batches, gap); every tool of LAYER_TOOLS
    ("functional_mix", (FunctionalMix, (3, 32, 32), (1, 2, 3, 4), "batch")),
    ("same_padding", (SamePadding, (3, 20, 20), (1, 2), "string_padding")),
    ("decoder", (Decoder, (3, 16, 16), (1, 2), "transposed_conv")),
])
TORCHVISION_AT_BATCH = ("resnet18", "mobilenet_v2", "googlenet", "densenet121", "inception_v3")
"""torchvision models (make_fixtures.MODELS) run by ptflops at batch 2 and 4."""


def network_fixture(name: str, constructor: str, factory, shape: tuple, tools: list[str], gap: str) -> dict:
    result = OrderedDict(model=name, constructor=constructor, input_shape=list(shape), gap=gap, gap_note=GAPS[gap],
                         generator="tools/oracle/fidelity.py", seed=mf.SEED, versions=versions(), tools=OrderedDict())
    for t in tools:
        r = mf.safe(mf.TOOLS[t], factory, [shape])
        result["tools"][t] = r
        print(f"  {name} {list(shape)} {t}: {mf._headline(t, r)}", flush=True)
    return result


def make_networks() -> None:
    for name, (factory, sample, batches, gap) in NETWORKS.items():
        for n in batches:
            fx = network_fixture(name, f"tools/oracle/fidelity.py:{factory.__name__}()", factory, (n, *sample),
                                 LAYER_TOOLS, gap)
            mf.write_json(os.path.join(OUT, "networks", f"{name}_batch{n}.json"), fx)
    for name in TORCHVISION_AT_BATCH:
        factory, shape, how = mf.MODELS[name]
        for n in (2, 4):
            fx = network_fixture(name, how, factory, (n, *shape[1:]), ["ptflops_pytorch"], "batch")
            mf.write_json(os.path.join(OUT, "networks", f"{name}_batch{n}.json"), fx)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", choices=["layers", "networks"], default=None)
    a = ap.parse_args()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    load_thop()
    print("versions:", dict(versions()), flush=True)
    if a.only in (None, "layers"):
        mf.write_json(os.path.join(OUT, "layers.json"), make_layers())
    if a.only in (None, "networks"):
        make_networks()


if __name__ == "__main__":
    main()
