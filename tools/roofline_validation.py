"""Measure real latencies on a GPU and set them beside calc's roofline predictions.

Cases (sizes in CASES; --quick shrinks them for a CPU smoke run):
    matmul     y = x W^T (F.linear), x (M, 8192), W (8192, 8192), M = 16 (memory-bound) and 8192
    conv       nn.Conv2d(256, 256, 3, padding=1, bias=False) on (N, 256, 56, 56), N = 1, 32, 128
    resnet50   torchvision resnet50(weights=None), eval, N = 1, 16, 64, 256
    block      one Llama-2-7B decoder layer written in torch (RMSNorm, q/k/v/o projections, rotary,
               scaled_dot_product_attention, SwiGLU 11008), random weights:
               prefill N = 1 and 4 at T = 2048; decode N = 1, 16, 64 with a 4,095-token KV cache
               (a preallocated cache: the new K and V written in place, attention over a view)
Every tensor is random (seeded), in --dtype (default bf16), under torch.inference_mode().
Timing: CUDA events around a loop of R calls (R chosen so that one sample takes >= 20 ms),
after warm-up (and cudnn.benchmark autotuning); the median of --samples samples, per call.
Predictions: calc.roofline on the same shapes (the spec of each case is built here), on the
profile --hw (default h200-sxm), unfused (eager PyTorch runs conv, batch norm and ReLU as
separate kernels) and fused, ideal and with the profile's efficiency factors.

    python tools/roofline_validation.py                      # predict + measure, one JSON
    python tools/roofline_validation.py --predict-only -o pred.json      (no torch needed)
    python tools/roofline_validation.py --measure-only -o meas.json      (no calc deps needed)
    python tools/roofline_validation.py --join pred.json meas.json -o tests/fixtures/roofline_validation.json
    python tools/roofline_validation.py --quick --device cpu --dtype fp32    # a smoke run, minutes on a CPU

The output (default $OUT/roofline_validation.json when $OUT is set, else
./roofline_validation.json) lists per case the measured and predicted times and their ratio.
A --budget (seconds, default 420) stops measuring further cases in time; those are marked
skipped.  Never imported by the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

D, HEADS, FFN, CONTEXT = 4096, 32, 11008, 4095

CASES = [
    # (case, params) -- params give the shapes; each case is measured and predicted per batch
    ("matmul", {"K": 8192, "N": 8192, "batches": [16, 8192]}),
    ("conv", {"C": 256, "HW": 56, "batches": [1, 32, 128]}),
    ("resnet50", {"batches": [1, 16, 64, 256]}),
    ("block_prefill", {"d": D, "heads": HEADS, "ffn": FFN, "T": 2048, "batches": [1, 4]}),
    ("block_decode", {"d": D, "heads": HEADS, "ffn": FFN, "context": CONTEXT, "batches": [1, 16, 64]}),
]
QUICK = [
    ("matmul", {"K": 256, "N": 256, "batches": [4, 256]}),
    ("conv", {"C": 16, "HW": 14, "batches": [1, 4]}),
    ("resnet50", {"batches": [1]}),
    ("block_prefill", {"d": 256, "heads": 4, "ffn": 688, "T": 64, "batches": [1]}),
    ("block_decode", {"d": 256, "heads": 4, "ffn": 688, "context": 127, "batches": [1, 4]}),
]


# ---- specs for calc (the same shapes as the torch modules) --------------------------------------


def block_spec(p: dict, T: int) -> str:
    """One Llama-2 decoder layer as specs/llama2_7b.yaml writes it, on a (N, T, d) input."""
    return f"""name: llama_block
input: {{T: {T}, d: {p['d']}}}
layers:
  - type: residual
    name: attn_residual
    body:
      - {{type: rmsnorm, name: input_layernorm}}
      - {{type: attention, name: self_attn, heads: {p['heads']}, kv_heads: {p['heads']}, qkv_bias: false,
         out_bias: false, causal: true, rotary: true}}
  - type: residual
    name: mlp_residual
    body:
      - {{type: rmsnorm, name: post_attention_layernorm}}
      - type: sequential
        name: mlp
        layers:
          - type: parallel
            merge: mul
            branches:
              gate_proj: {{type: linear, Cout: {p['ffn']}, bias: false, act: silu}}
              up_proj: {{type: linear, Cout: {p['ffn']}, bias: false}}
          - {{type: linear, name: down_proj, Cout: {p['d']}, bias: false}}
"""


def predict(cases: list, hw: str, dtype: str) -> list[dict]:
    sys.path.insert(0, str(ROOT))
    from calc.hardware import load_profile
    from calc.network import load_network, network_from_text
    from calc.roofline import roofline

    profile = load_profile(hw)
    out = []
    for case, p in cases:
        context = None
        if case == "matmul":
            net = network_from_text(f"name: matmul\ninput: [{p['K']}]\nlayers:\n"
                                    f"  - {{type: linear, Cout: {p['N']}, bias: false}}\n")
        elif case == "conv":
            net = network_from_text(f"name: conv\ninput: [{p['C']}, {p['HW']}, {p['HW']}]\nlayers:\n"
                                    f"  - {{type: conv, K: 3, Cout: {p['C']}, padding: 1, bias: false}}\n")
        elif case == "resnet50":
            net = load_network(ROOT / "specs" / "resnet50.yaml")
        elif case == "block_prefill":
            net = network_from_text(block_spec(p, p["T"]))
        else:
            net = network_from_text(block_spec(p, 1))
            context = p["context"]
        for n in p["batches"]:
            figures = {}
            for fuse in (False, True):
                r = roofline(net, profile, dtype=dtype, batch=n, context=context, fuse=fuse)
                key = "fused_" if fuse else ""
                figures[key + "ideal_ms"] = float(r.totals.time) * 1e3
                figures[key + "efficient_ms"] = float(r.totals.efficient_time) * 1e3
                if not fuse:
                    figures["network_roof_ms"] = float(r.totals.network_time) * 1e3
                    figures["flops"] = r.totals.flops
                    figures["bytes"] = r.totals.bytes
                    figures["memory_share"] = float(r.totals.memory_share)
            out.append({"case": case, "batch": n, "params": {k: v for k, v in p.items() if k != "batches"},
                        "predicted": figures})
    return out


# ---- torch modules ----------------------------------------------------------------------------


def build(case: str, p: dict, n: int, torch, device, dtype):
    """(callable running one forward pass, a description) for a case at batch n."""
    nn, F = torch.nn, torch.nn.functional
    g = torch.Generator(device="cpu").manual_seed(0)

    def rand(*shape):
        return torch.randn(*shape, generator=g).to(device=device, dtype=dtype)

    if case == "matmul":
        x, w = rand(n, p["K"]), rand(p["N"], p["K"])
        return lambda: F.linear(x, w)
    if case == "conv":
        conv = nn.Conv2d(p["C"], p["C"], 3, padding=1, bias=False).to(device=device, dtype=dtype).eval()
        x = rand(n, p["C"], p["HW"], p["HW"])
        return lambda: conv(x)
    if case == "resnet50":
        import torchvision

        torch.manual_seed(0)
        model = torchvision.models.resnet50(weights=None).to(device=device, dtype=dtype).eval()
        x = rand(n, 3, 224, 224)
        return lambda: model(x)
    block = LlamaBlock(p["d"], p["heads"], p["ffn"], torch).to(device=device, dtype=dtype).eval()
    if case == "block_prefill":
        x = rand(n, p["T"], p["d"])
        return lambda: block(x)
    h = p["d"] // p["heads"]
    cache_k, cache_v = rand(n, p["heads"], p["context"] + 1, h), rand(n, p["heads"], p["context"] + 1, h)
    x = rand(n, 1, p["d"])
    return lambda: block(x, cache=(cache_k, cache_v), position=p["context"])


def LlamaBlock(d: int, heads: int, ffn: int, torch):  # noqa: N802 - a class made where torch is known
    nn, F = torch.nn, torch.nn.functional

    class RMSNorm(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.weight = nn.Parameter(torch.ones(d))

        def forward(self, x):
            return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5))

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.h = d // heads
            self.input_layernorm, self.post_attention_layernorm = RMSNorm(), RMSNorm()
            self.q, self.k, self.v, self.o = (nn.Linear(d, d, bias=False) for _ in range(4))
            self.gate, self.up = nn.Linear(d, ffn, bias=False), nn.Linear(d, ffn, bias=False)
            self.down = nn.Linear(ffn, d, bias=False)

        def rotary(self, x, start):
            t = torch.arange(start, start + x.shape[2], device=x.device, dtype=torch.float32)
            inv = 1.0 / (10000 ** (torch.arange(0, self.h, 2, device=x.device, dtype=torch.float32) / self.h))
            angles = torch.outer(t, inv)
            cos, sin = torch.cat([angles.cos()] * 2, -1).to(x.dtype), torch.cat([angles.sin()] * 2, -1).to(x.dtype)
            a, b = x[..., : self.h // 2], x[..., self.h // 2:]
            return x * cos + torch.cat([-b, a], -1) * sin

        def forward(self, x, cache=None, position=0):
            n, t, _ = x.shape
            y = self.input_layernorm(x)
            q, k, v = (m(y).view(n, t, heads, self.h).transpose(1, 2) for m in (self.q, self.k, self.v))
            q, k = self.rotary(q, position), self.rotary(k, position)
            if cache is None:
                a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            else:  # decode: the new K, V written into the cache, attention over its filled part
                ck, cv = cache
                ck[:, :, position:position + t] = k
                cv[:, :, position:position + t] = v
                a = F.scaled_dot_product_attention(q, ck[:, :, :position + t], cv[:, :, :position + t])
            x = x + self.o(a.transpose(1, 2).reshape(n, t, d))
            y = self.post_attention_layernorm(x)
            return x + self.down(F.silu(self.gate(y)) * self.up(y))

    return Block()


def measure(cases: list, device_name: str, dtype_name: str, samples: int, budget: float) -> tuple[dict, list[dict]]:
    import torch

    device = torch.device(device_name)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[dtype_name]
    cuda = device.type == "cuda"
    if cuda:
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    env = {"torch": torch.__version__, "python": platform.python_version(), "device": device_name,
           "dtype": dtype_name}
    if cuda:
        props = torch.cuda.get_device_properties(device)
        env.update(gpu=props.name, memory_bytes=props.total_memory, cuda=torch.version.cuda,
                   cudnn=torch.backends.cudnn.version(), sms=props.multi_processor_count)
    started = time.monotonic()
    out = []

    def sync():
        if cuda:
            torch.cuda.synchronize(device)

    def timed(fn, reps):
        if cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(reps):
                fn()
            end.record()
            end.synchronize()
            return start.elapsed_time(end) / reps  # ms per call
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        return (time.perf_counter() - t0) * 1e3 / reps

    for case, p in cases:
        for n in p["batches"]:
            row = {"case": case, "batch": n, "params": {k: v for k, v in p.items() if k != "batches"}}
            if time.monotonic() - started > budget:
                row["measured"] = {"skipped": f"budget of {budget:.0f} s spent"}
                out.append(row)
                continue
            try:
                with torch.inference_mode():
                    fn = build(case, p, n, torch, device, dtype)
                    for _ in range(3):  # warm-up, autotuning
                        fn()
                    sync()
                    once = timed(fn, 3)
                    reps = max(1, min(1000, int(20.0 / max(once, 1e-3))))
                    times = [timed(fn, reps) for _ in range(samples)]
                row["measured"] = {"median_ms": statistics.median(times), "min_ms": min(times), "max_ms": max(times),
                                   "samples": samples, "calls_per_sample": reps}
            except Exception as exc:  # one failing case (e.g. out of memory) must not lose the others
                row["measured"] = {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"}
            finally:
                fn = None
                if cuda:
                    torch.cuda.empty_cache()
            out.append(row)
            print(f"{case:>14} N={n:<5} {row['measured']}", file=sys.stderr, flush=True)
    env["seconds"] = round(time.monotonic() - started, 1)
    return env, out


def join(predicted: list[dict], measured: list[dict]) -> list[dict]:
    """One row per (case, batch): the predictions, the measurement, measured / predicted."""
    by = {(m["case"], m["batch"]): m for m in measured}
    rows = []
    for p in predicted:
        m = by.get((p["case"], p["batch"]), {}).get("measured")
        row = dict(p)
        row["measured"] = m
        if m and "median_ms" in m:
            row["ratio"] = {k.replace("_ms", ""): m["median_ms"] / v for k, v in p["predicted"].items()
                            if k.endswith("_ms") and v}
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hw", default="h200-sxm", help="calc's hardware profile for the predictions")
    ap.add_argument("--dtype", default="bf16", choices=("bf16", "fp16", "fp32"))
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--samples", type=int, default=7)
    ap.add_argument("--budget", type=float, default=420.0, help="seconds of measuring before the rest is skipped")
    ap.add_argument("--quick", action="store_true", help="small sizes, for a smoke run on a CPU")
    ap.add_argument("--predict-only", action="store_true")
    ap.add_argument("--measure-only", action="store_true")
    ap.add_argument("--join", nargs=2, metavar=("PREDICTED", "MEASURED"))
    ap.add_argument("-o", "--output")
    args = ap.parse_args(argv)
    output = args.output or (os.path.join(os.environ["OUT"], "roofline_validation.json") if os.environ.get("OUT")
                             else "roofline_validation.json")
    cases = QUICK if args.quick else CASES
    doc = {"generated_by": "tools/roofline_validation.py", "hw": args.hw, "dtype": args.dtype, "quick": args.quick}
    if args.join:
        pred, meas = (json.loads(Path(f).read_text()) for f in args.join)
        doc.update(hw=pred.get("hw"), dtype=pred.get("dtype"), quick=pred.get("quick"),
                   environment=meas.get("environment"), rows=join(pred["rows"], meas["rows"]))
    else:
        predicted = None if args.measure_only else predict(cases, args.hw, args.dtype)
        env, measured = (None, None) if args.predict_only else measure(cases, args.device, args.dtype, args.samples,
                                                                       args.budget)
        doc["environment"] = env
        if predicted is not None and measured is not None:
            doc["rows"] = join(predicted, measured)
        else:
            doc["rows"] = predicted if predicted is not None else measured
    Path(output).write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
