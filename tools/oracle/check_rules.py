#!/usr/bin/env python3
"""Re-derive every profiler's whole-model totals from the torchvision ground-truth fixtures.

Pure Python (no torch): it applies, per leaf-module call and per functional call recorded in
``tests/fixtures/torchvision/<model>.json``, the per-layer rules written in docs/profilers.md,
and compares the sums with ``tests/fixtures/profilers/<tool>/<model>.json``.  It is the check
that the documented rules are complete for these models, and a worked example of applying
them.  Run: ``python3 tools/oracle/check_rules.py`` (exit status 1 on any mismatch).
"""

from __future__ import annotations

import glob
import json
import math
import os
import sys
from fractions import Fraction

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIX = os.path.join(REPO, "tests", "fixtures")


def prod(xs):
    return math.prod(xs)


def _pair(v, n):
    return list(v) if isinstance(v, (list, tuple)) else [v] * n


def uthop_avgpool_windows(in_shape, out_shape, k, s, p, include_pad):
    """ultralytics-thop 2.2.3 count_avgpool: number of (clipped) window elements summed."""
    dims = len(k)
    w = 1
    for size, o, kk, ss, pp in zip(in_shape[-dims:], out_shape[-dims:], k, s, p):
        lo, hi = (-pp, size + pp) if include_pad else (0, size)
        w *= sum(max(min(i * ss - pp + kk, hi) - max(i * ss - pp, lo), 0) for i in range(o))
    return prod(in_shape[:-dims]) * w


def uthop_adaptive_windows(in_shape, out_shape):
    t = 1
    for i, o in zip(in_shape, out_shape):
        t *= o if i == o else sum(-(-(j + 1) * i // o) - j * i // o for j in range(o))
    return t


def thop_adaptive(in_shape, out_shape):
    """thop 0.1.1: int((prod(in_spatial / out_spatial) + 1) * out_numel) in float64."""
    k = 1.0
    for i, o in zip(in_shape[2:], out_shape[2:]):
        k *= float(i) / float(o)
    return int((k + 1.0) * prod(out_shape))


def leaf_calls(gt):
    for name, e in gt["leaves"].items():
        if e.get("calls", 0) == 1:
            yield name, e, e
        elif e.get("calls", 0) > 1:
            for c in e["call_list"]:
                yield name, e, c


def predict(gt):
    tot = {k: 0 for k in ("thop", "ultralytics_thop", "fvcore", "ptflops_pytorch", "ptflops_aten", "torchinfo",
                          "torch_flop_counter", "calflops.flops", "calflops.macs")}
    for name, e, c in leaf_calls(gt):
        cls = e["cls"]
        ins = c["input_shapes"][0] if c["input_shapes"] else []
        inn = prod(ins) if ins else 0
        outs = c["output_shape"]
        out = prod(outs)
        N = outs[0]
        a = e.get("attrs", {})
        if cls == "Conv2d":
            macs = c["macs"]
            bias = e["conv"]["bias"]
            tot["thop"] += macs
            tot["ultralytics_thop"] += macs
            tot["fvcore"] += macs
            tot["ptflops_pytorch"] += macs + (out if bias else 0)
            tot["ptflops_aten"] += macs + (out if bias else 0)
            tot["torchinfo"] += macs + (out if bias else 0)
            tot["torch_flop_counter"] += 2 * macs
            tot["calflops.flops"] += 2 * macs + (out if bias else 0)
            tot["calflops.macs"] += macs
        elif cls == "Linear":
            macs = c["macs"]
            bias = e["linear"]["bias"]
            tot["thop"] += macs
            tot["ultralytics_thop"] += macs
            tot["fvcore"] += macs
            tot["ptflops_pytorch"] += macs + (out if bias else 0)
            tot["ptflops_aten"] += macs + (out if bias else 0)
            tot["torchinfo"] += N * e["params"]
            tot["torch_flop_counter"] += 2 * macs
            tot["calflops.flops"] += 2 * macs
            tot["calflops.macs"] += macs
        elif cls == "BatchNorm2d":
            aff = a.get("affine", True)
            tot["thop"] += (4 if aff else 2) * inn
            tot["ultralytics_thop"] += (4 if aff else 2) * inn
            tot["fvcore"] += (2 if aff else 1) * inn
            tot["ptflops_pytorch"] += (2 if aff else 1) * inn
            tot["torchinfo"] += N * e["params"]
            tot["calflops.flops"] += (2 if aff else 1) * inn
        elif cls == "ReLU":
            tot["ptflops_pytorch"] += out + inn  # module hook (output numel) + patched F.relu (input numel)
            tot["calflops.flops"] += inn
        elif cls == "ReLU6":
            tot["ptflops_pytorch"] += out  # hook only: nn.ReLU6 calls F.hardtanh, which is not patched
        elif cls == "SiLU":
            tot["ptflops_pytorch"] += inn  # no module hook; patched F.silu
            tot["calflops.flops"] += inn
        elif cls in ("MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d"):
            tot["ptflops_pytorch"] += 2 * inn  # hook (input numel) + patched F.<pool> (input numel)
            tot["calflops.flops"] += inn
            if cls == "AvgPool2d":
                tot["thop"] += out
                k = _pair(a["kernel_size"], 2)
                s = _pair(a["stride"], 2)
                p = _pair(a["padding"], 2)
                tot["ultralytics_thop"] += uthop_avgpool_windows(ins, outs, k, s, p, a["count_include_pad"]) + out
            elif cls == "AdaptiveAvgPool2d":
                tot["thop"] += thop_adaptive(ins, outs)
                tot["ultralytics_thop"] += uthop_adaptive_windows(ins, outs) + out
                tot["fvcore"] += inn
        elif cls in ("Dropout", "Hardswish", "Hardsigmoid", "Sigmoid", "StochasticDepth", "Identity", "Flatten"):
            pass
        else:
            raise KeyError(f"no rule for leaf class {cls} ({name})")
    for f in gt["functional_calls"]:
        op = f["op"]
        shp = f["input_shapes"][0] if f["input_shapes"] else None
        inn = prod(shp) if shp and isinstance(shp[0], int) else 0
        if op == "torch.nn.functional.relu":
            tot["ptflops_pytorch"] += inn
            tot["calflops.flops"] += inn
        elif op in ("torch.nn.functional.max_pool2d", "torch.nn.functional.avg_pool2d"):
            tot["ptflops_pytorch"] += inn
            tot["calflops.flops"] += inn
        elif op == "torch.nn.functional.adaptive_avg_pool2d":
            tot["ptflops_pytorch"] += inn
            tot["calflops.flops"] += inn
            tot["fvcore"] += inn
        elif op in ("torch.Tensor.add", "torch.Tensor.add_", "torch.Tensor.mul"):
            pass  # operators (x + y, x += y, x * y): counted by no tool here
        elif op in ("torch.cat", "torch.flatten", "torch.Tensor.view", "torch.transpose", "torch.Tensor.contiguous",
                    "torch.Tensor.chunk", "torch.Tensor.mean"):
            pass
        else:
            raise KeyError(f"no rule for functional {op}")
    return tot


def actual(name):
    def load(t):
        return json.load(open(os.path.join(FIX, "profilers", t, f"{name}.json")))
    c = load("calflops")
    return {
        "thop": load("thop")["total_ops"]["value"],
        "ultralytics_thop": load("ultralytics_thop")["total_ops"]["value"],
        "fvcore": load("fvcore")["total"],
        "ptflops_pytorch": load("ptflops_pytorch")["macs"],
        "ptflops_aten": load("ptflops_aten")["macs"],
        "torchinfo": load("torchinfo")["total_mult_adds"],
        "torch_flop_counter": load("torch_flop_counter")["total_flops"],
        "calflops.flops": c["flops"],
        "calflops.macs": c["macs"],
    }


# --------------------------------------------------------------------------------------------
# Single layers: layers.json
# --------------------------------------------------------------------------------------------

def layer_predict(case):
    L = case["layer"]
    kind = L["kind"]
    form = L.get("form", "")
    functional = form.startswith("F.")
    ins = case["input_shapes"][0]
    inn = prod(ins)
    outs = case["output_shape"]
    out = prod(outs)
    N = ins[0]
    P = case["params"]
    bias = 1 if L.get("bias") else 0
    r = dict(thop=0, ultralytics_thop=0, fvcore=0, ptflops_pytorch=0, ptflops_aten=0, torchinfo=0,
             torch_flop_counter=0, calflops_flops=0, calflops_macs=0)
    if kind in ("conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"):
        nd = len(ins) - 2
        k = _pair(L["kernel_size"], nd)
        g = L["groups"]
        cin, cout = L["in_channels"], L["out_channels"]
        S_in, S_out = prod(ins[2:]), prod(outs[2:])
        if not kind.startswith("conv_transpose"):
            macs = out * (cin // g) * prod(k)
            # fvcore: a string padding runs as aten::_convolution_mode, which it does not count;
            # calflops pads 'same' by d(k-1)//2 on each side
            string = isinstance(L["padding"], str)
            S_cf = S_out
            if L["padding"] == "same":
                s_, d_ = _pair(L["stride"], nd), _pair(L["dilation"], nd)
                S_cf = prod((i + 2 * (dd * (kk - 1) // 2) - dd * (kk - 1) - 1) // ss + 1
                            for i, kk, ss, dd in zip(ins[2:], k, s_, d_))
            M = N * S_cf * prod(k) * cin * (cout // g)
            r.update(thop=macs, ultralytics_thop=macs, fvcore=0 if string else macs, ptflops_aten=macs + bias * out,
                     torchinfo=macs + bias * out, torch_flop_counter=2 * macs,
                     calflops_flops=2 * M + bias * cout * N * S_cf, calflops_macs=M)
            r["ptflops_pytorch"] = (macs + bias * out) // N
        else:
            macs = inn * (cout // g) * prod(k)
            s, p, d = _pair(L["stride"], nd), _pair(L["padding"], nd), _pair(L.get("dilation", 1), nd)
            S_fwd = prod((i + 2 * pp - (dd * (kk - 1) + 1)) // ss + 1 for i, pp, dd, kk, ss in zip(ins[2:], p, d, k, s))
            M = prod(k) * cin * ((cout // g) // g) * N * S_in
            r.update(thop=out * (cin // g) * prod(k), ultralytics_thop=macs, fvcore=macs,
                     ptflops_aten=macs + bias * out, torchinfo=cin * (cout // g) * prod(k) * N * S_out + bias * out,
                     torch_flop_counter=2 * macs, calflops_macs=M,
                     calflops_flops=2 * M + bias * (cout // g) * N * S_fwd)
            r["ptflops_pytorch"] = (macs + bias * out) // N
    elif kind == "linear":
        macs = out * L["in_features"]
        r.update(thop=macs, ultralytics_thop=macs, fvcore=macs, ptflops_aten=macs + bias * out,
                 torchinfo=outs[0] * P, torch_flop_counter=2 * macs, calflops_flops=2 * macs, calflops_macs=macs)
        r["ptflops_pytorch"] = (macs + bias * out) // N
    elif kind.startswith("batchnorm"):
        aff = L["affine"]
        train = case["mode"] == "train"
        r.update(thop=(4 if aff else 2) * inn, ultralytics_thop=(4 if aff else 2) * inn,
                 fvcore=((5 if aff else 4) if train else (2 if aff else 1)) * inn,
                 torchinfo=N * P, calflops_flops=(2 if aff else 1) * inn)
        r["ptflops_pytorch"] = (2 if aff else 1) * inn // N
    elif kind in ("relu", "relu6", "leaky_relu", "prelu", "elu", "gelu", "silu", "sigmoid", "tanh",
                  "hardswish", "hardsigmoid"):
        hook = {"relu": out, "relu6": out, "leaky_relu": out, "prelu": out, "elu": out, "gelu": out}
        func = {"relu": inn, "prelu": inn, "elu": inn, "gelu": inn, "silu": inn}
        if functional:
            hook = {}
        r["ptflops_pytorch"] = hook.get(kind, 0) // N + func.get(kind, 0)
        r["calflops_flops"] = inn if kind in ("relu", "leaky_relu", "prelu", "elu", "gelu", "silu") else 0
        if kind == "prelu":
            r.update(thop=inn, ultralytics_thop=inn, torchinfo=N * L["num_parameters"])
    elif kind == "softmax":
        n = ins[L["dim"]]
        r.update(thop=(inn // n) * (3 * n - 1), ultralytics_thop=(inn // n) * (3 * n - 1), ptflops_pytorch=inn,
                 calflops_flops=inn)
    elif kind in ("maxpool2d", "avgpool2d", "adaptive_avgpool2d", "adaptive_maxpool2d"):
        r["ptflops_pytorch"] = (0 if functional else inn // N) + inn
        r["calflops_flops"] = inn
        if kind == "avgpool2d" and not functional:
            k, s, p = _pair(L["kernel_size"], 2), _pair(L["stride"], 2), _pair(L["padding"], 2)
            r["thop"] = out
            r["ultralytics_thop"] = uthop_avgpool_windows(ins, outs, k, s, p, L["count_include_pad"]) + out
        if kind == "adaptive_avgpool2d":
            r["fvcore"] = inn
            if not functional:
                r["thop"] = thop_adaptive(ins, outs)
                r["ultralytics_thop"] = uthop_adaptive_windows(ins, outs) + out
    elif kind == "upsample":
        bil = L["mode"] == "bilinear"
        # ptflops: the hook counts output[0] (one sample: out / N), divided by the batch again;
        # int() of the float total
        r.update(thop=(11 if bil else 1) * out, ultralytics_thop=(11 * out if bil else 0),
                 fvcore=(4 if bil else 1) * out, ptflops_pytorch=int(Fraction(out, N * N) + out),
                 calflops_flops=prod(L["size"]) if "size" in L else inn)
        if functional:
            r.update(thop=0, ultralytics_thop=0, ptflops_pytorch=out)
    elif kind in ("add", "mul"):
        if form.startswith("torch."):
            r["ptflops_pytorch"] = out
            r["calflops_flops"] = out
    elif kind in ("flatten", "dropout", "identity", "cat", "channel_shuffle"):
        pass
    else:
        raise KeyError(kind)
    return r


def layer_actual(case):
    """The tools' figures; a tool missing from the case (ultralytics-thop in fidelity/) is None."""
    t = case["tools"]
    get = (lambda tool, *keys: _dig(t[tool], keys) if tool in t else None)
    return dict(thop=get("thop", "total_ops", "value"), ultralytics_thop=get("ultralytics_thop", "total_ops", "value"),
                fvcore=get("fvcore", "total"), ptflops_pytorch=get("ptflops_pytorch", "macs"),
                ptflops_aten=get("ptflops_aten", "macs"), torchinfo=get("torchinfo", "total_mult_adds"),
                torch_flop_counter=get("torch_flop_counter", "total_flops"), calflops_flops=get("calflops", "flops"),
                calflops_macs=get("calflops", "macs"))


def _dig(d, keys):
    for k in keys:
        d = d[k]
    return d


def check_layers():
    bad = 0
    for name in ("layers.json", os.path.join("fidelity", "layers.json")):
        L = json.load(open(os.path.join(FIX, "profilers", name)))
        for case in L["cases"]:
            pr, ac = layer_predict(case), layer_actual(case)
            for k in pr:
                if ac[k] is not None and pr[k] != ac[k]:
                    bad += 1
                    print(f"MISMATCH layer {case['id']:36s} {k:18s} predicted {pr[k]} actual {ac[k]}")
        print(f"checked {len(L['cases'])} single-layer cases of {name}")
    return bad


def main() -> int:
    bad = check_layers()
    for path in sorted(glob.glob(os.path.join(FIX, "torchvision", "*.json"))):
        gt = json.load(open(path))
        name = gt["model"]
        pr, ac = predict(gt), actual(name)
        for k in pr:
            ok = pr[k] == ac[k]
            bad += not ok
            if not ok:
                print(f"MISMATCH {name:20s} {k:18s} predicted {pr[k]:>14d} actual {ac[k]:>14d} diff {ac[k] - pr[k]}")
        # torchvision model card: conv+linear MACs / 1e9 rounded to 3 decimals
        for w, m in (gt.get("torchvision_model_card") or {}).items():
            if round(gt["conv_linear_macs"] / 1e9, 3) != m["GFLOPS"]:
                bad += 1
                print(f"MISMATCH {name} model card {w}: {m['GFLOPS']} vs {gt['conv_linear_macs']}")
        print(f"checked {name}")
    print("all rules reproduce the fixtures" if not bad else f"{bad} mismatches")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
