#!/usr/bin/env python3
"""flopcalc benchmarks, one command:  python3 bench/run.py  ->  bench/RESULTS.md

    python3 bench/run.py                 all benchmarks (about 2 minutes on 2 cores)
    python3 bench/run.py --quick         fewer repetitions (a smoke run)
    python3 bench/run.py --fuzz-long     only the long fuzz run (tests/test_fuzz*.py with a big
                                         hypothesis budget, --fuzz-examples N per test)
    python3 bench/run.py --transformers  only the transformer section (re-evaluating llama2_7b
                                         at a new sequence length; its report vs ResNet-50's)

Every figure is a median over repeated runs; ratios compare runs made in the same invocation,
interleaved, so a busy machine slows both sides.  Subprocesses run the real interpreter
(`sys.executable`) with the repository on PYTHONPATH; peak memory is each child's own
ru_maxrss (os.wait4).  RESULTS.md is rewritten except for the long-fuzz section, which only
`--fuzz-long` replaces.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"
RESNET50 = "specs/resnet50.yaml"
LLAMA = "specs/llama2_7b.yaml"
ORACLE_PYTHON = Path("/work/oracle-venv/bin/python")
HEAVY = ("sympy", "mpmath", "numpy", "scipy", "torch", "pandas", "matplotlib", "hypothesis", "IPython",
         "jinja2", "networkx", "libcst")
NOTABLE = ("pydantic", "pydantic_core", "asyncio", "annotated_types", "importlib.metadata", "yaml", "uuid",
           "zoneinfo", "ssl", "email", "json", "csv", "difflib")
FUZZ_BEGIN, FUZZ_END = "<!-- fuzz-long: begin -->", "<!-- fuzz-long: end -->"
LLM_BEGIN, LLM_END = "<!-- transformers: begin -->", "<!-- transformers: end -->"


def env(path: Path = ROOT) -> dict[str, str]:
    """The children's environment: `path` (the repository) first on PYTHONPATH, and bytecode
    caching as on a user's machine (a PYTHONDONTWRITEBYTECODE of ours is not passed on)."""
    e = dict(os.environ)
    e["PYTHONPATH"] = str(path) + (os.pathsep + e["PYTHONPATH"] if e.get("PYTHONPATH") else "")
    e.pop("PYTHONSTARTUP", None)
    e.pop("PYTHONDONTWRITEBYTECODE", None)
    return e


def compile_bytecode() -> None:
    """Write calc's bytecode cache (__pycache__, git-ignored) as `pip install` does, so start-up
    is measured as users meet it rather than with every module compiled from source."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "calc")], env=env(), check=True,
                   stdout=subprocess.DEVNULL)


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# -- running children ---------------------------------------------------------------------------


class Child:
    """Wall time, peak RSS (KiB), exit code and captured stderr of one subprocess."""

    def __init__(self, argv: list[str], *, timeout: float = 600, stdout=subprocess.DEVNULL,
                 capture_stdout: bool = False, environ: dict[str, str] | None = None) -> None:
        err = tempfile.TemporaryFile()
        out = tempfile.TemporaryFile() if capture_stdout else stdout
        start = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=ROOT, env=environ or env(), stdout=out, stderr=err,
                                stdin=subprocess.DEVNULL)
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        self.seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        self.code = proc.returncode
        self.timed_out = self.code < 0 and self.seconds >= timeout
        self.maxrss_kib = usage.ru_maxrss  # KiB on Linux
        err.seek(0)
        self.stderr = err.read().decode("utf-8", "replace")
        err.close()
        self.stdout = ""
        if capture_stdout:
            out.seek(0)
            self.stdout = out.read().decode("utf-8", "replace")
            out.close()


def py(*args: str, **kw) -> Child:
    return Child([sys.executable, *args], **kw)


def child_json(code: str, timeout: float = 600) -> dict:
    """Run a Python snippet in a fresh interpreter; it prints one JSON object last."""
    c = py("-c", textwrap.dedent(code), timeout=timeout, capture_stdout=True)
    if c.code != 0:
        raise RuntimeError(f"child failed ({c.code}):\n{c.stderr[-3000:]}")
    return json.loads(c.stdout.strip().splitlines()[-1])


# -- 1. CLI end to end ------------------------------------------------------------------------------


FLOOR_CODE = f"""
import yaml
from pydantic import BaseModel, Field

class Record(BaseModel):
    Cout: int = Field(gt=0)

with open({RESNET50!r}) as fh:
    yaml.load(fh, Loader=yaml.CSafeLoader)
Record.model_validate({{"Cout": 64}})
"""
"""The least any pydantic-validated YAML tool does: import PyYAML and pydantic, load the same
spec with LibYAML, validate one one-field record.  No calc code."""


def bench_cli(reps: int) -> dict:
    log(f"[cli] calc report {RESNET50} vs python -c pass and the pydantic+yaml floor, {reps} interleaved runs")
    py("-c", "pass"), py("-m", "calc", "report", RESNET50), py("-c", FLOOR_CODE)  # warm the page cache
    base, cli, floor, rss, pairs = [], [], [], [], []
    for _ in range(reps):
        b = py("-c", "pass")
        c = py("-m", "calc", "report", RESNET50)
        f = py("-c", FLOOR_CODE)
        if c.code != 0 or f.code != 0:
            raise RuntimeError(f"calc report or the floor program failed: {c.stderr[-2000:]}{f.stderr[-2000:]}")
        base.append(b.seconds)
        cli.append(c.seconds)
        floor.append(f.seconds)
        rss.append(c.maxrss_kib)
        pairs.append(c.seconds / b.seconds)
    # Without a bytecode cache for calc (a copy of the package, nothing written): what the first
    # run after a source install or an edit costs.
    with tempfile.TemporaryDirectory(prefix="flopcalc-nocache-") as tmp:
        shutil.copytree(ROOT / "calc", Path(tmp) / "calc", ignore=shutil.ignore_patterns("__pycache__"))
        e = env(Path(tmp)) | {"PYTHONDONTWRITEBYTECODE": "1"}
        uncached = [Child([sys.executable, "-m", "calc", "report", RESNET50], environ=e).seconds
                    for _ in range(max(1, reps // 3))]
    return {
        "reps": reps, "pass_s": median(base), "cli_s": median(cli), "ratio": median(cli) / median(base),
        "pair_ratio_median": median(pairs), "cli_all": cli, "pass_all": base,
        "cli_rss_mib": median(rss) / 1024, "floor_s": median(floor), "floor_all": floor,
        "floor_ratio": median(floor) / median(base), "uncached_s": median(uncached),
    }


def callgrind_instructions(argv: list[str]) -> int | None:
    """Instructions one run executes, counted by valgrind's callgrind: the same for the same
    program and input however busy the machine is."""
    proc = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *argv], cwd=ROOT,
                          env=env(), capture_output=True, text=True)
    m = re.search(r"Collected : (\d+)", proc.stderr)
    return int(m.group(1)) if m and proc.returncode == 0 else None


REEVAL_CHILD = f"""
import sys
from calc import conventions
from calc.network import load_network
net = load_network({RESNET50!r})
exact = conventions.get("exact")
net.evaluate(exact, input_shape=(1, 3, 95, 95))
for s in range(96, 96 + int(sys.argv[1])):
    net.evaluate(exact, input_shape=(1, 3, s, s))
"""


def bench_instructions(quick: bool) -> dict:
    """Instruction counts (callgrind), where wall time on a shared VM varies by +-30%: the CLI
    against `python -c pass` and the floor program, and one ResNet-50 re-evaluation, taken as
    (I(2n) - I(n)) / n so that start-up and loading cancel out."""
    if shutil.which("valgrind") is None:
        return {"skipped": "valgrind is not installed"}
    log("[instructions] callgrind: python -c pass, the floor program, calc report, re-evaluation")
    out = {
        "pass": callgrind_instructions([sys.executable, "-c", "pass"]),
        "floor": callgrind_instructions([sys.executable, "-c", FLOOR_CODE]),
        "cli": callgrind_instructions([sys.executable, "-m", "calc", "report", RESNET50]),
    }
    n = 25 if quick else 100
    one = callgrind_instructions([sys.executable, "-c", REEVAL_CHILD, str(n)])
    two = callgrind_instructions([sys.executable, "-c", REEVAL_CHILD, str(2 * n)])
    if None in (*out.values(), one, two):
        return {"skipped": "a callgrind run failed"}
    return out | {"per_eval": (two - one) / n, "n_eval": n}


def parse_importtime(stderr: str) -> list[dict]:
    rows = []
    for line in stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if m:
            rows.append({"self_us": int(m[1]), "cum_us": int(m[2]), "level": len(m[3]) // 2, "name": m[4]})
    return rows


def import_chain(rows: list[dict], index: int) -> list[str]:
    """The module at rows[index] and the modules that imported it, up to a top-level import
    (-X importtime prints children before their parent, one indent deeper)."""
    chain = [rows[index]["name"]]
    level = rows[index]["level"]
    for r in rows[index + 1:]:
        if r["level"] == level - 1:
            chain.append(r["name"])
            level -= 1
            if level == 0:
                break
    return chain


def bench_importtime(reps: int) -> dict:
    log("[importtime] python -X importtime -m calc report")
    runs = [py("-X", "importtime", "-m", "calc", "report", RESNET50) for _ in range(max(1, reps))]
    # The run whose total import time is the median.
    parsed = [parse_importtime(r.stderr) for r in runs]
    totals = [sum(x["cum_us"] for x in p if x["level"] == 0) for p in parsed]
    i = totals.index(sorted(totals)[len(totals) // 2])
    rows = parsed[i]
    top = sorted((r for r in rows if r["level"] == 0), key=lambda r: -r["cum_us"])[:12]
    packages: dict[str, int] = {}
    for r in rows:  # self time summed by top-level package
        packages[r["name"].split(".")[0]] = packages.get(r["name"].split(".")[0], 0) + r["self_us"]
    heavy = {}
    for j, r in enumerate(rows):
        root = r["name"].split(".")[0]
        if root in HEAVY and root not in heavy:
            named = [k for k, x in enumerate(rows) if x["name"] == root]
            top_index = named[-1] if named else j
            heavy[root] = {"cum_ms": rows[top_index]["cum_us"] / 1000, "chain": import_chain(rows, top_index)}
    driver = child_json(f"""
        import io, json, sys, time, contextlib
        t = time.perf_counter()
        from calc.cli import main
        with contextlib.redirect_stdout(io.StringIO()):
            rc = main(["report", {RESNET50!r}])
        heavy = sorted({{m.split('.')[0] for m in sys.modules}} & set({list(HEAVY)!r}))
        print(json.dumps({{"rc": rc, "heavy": heavy, "modules": len(sys.modules),
                          "sympy": "sympy" in sys.modules}}))
    """)
    notable = []
    for name in NOTABLE:
        named = [k for k, x in enumerate(rows) if x["name"] == name]
        if named:
            notable.append((name, rows[named[-1]]["cum_us"] / 1000, import_chain(rows, named[-1])[1:]))
    calc_self = sum(r["self_us"] for r in rows if r["name"].split(".")[0] == "calc") / 1000
    return {
        "notable": notable, "calc_self_ms": calc_self,
        "total_ms": totals[i] / 1000, "top": [(r["name"], r["cum_us"] / 1000) for r in top],
        "packages": sorted(((k, v / 1000) for k, v in packages.items()), key=lambda kv: -kv[1])[:12],
        "heavy": heavy, "driver": driver,
    }


STAGES_CHILD = """
import json, os, sys, time, resource
t0 = time.perf_counter()
import calc.cli as cli
t1 = time.perf_counter()
spent = {}

def timed(name, fn):
    def wrapper(*a, **k):
        start = time.perf_counter()
        try:
            return fn(*a, **k)
        finally:
            spent[name] = spent.get(name, 0.0) + time.perf_counter() - start
    return wrapper

# Wrap the functions `calc report` goes through, where the CLI looks them up, so the measured
# path is exactly the command's (gc settings, lazy imports and all).
t2 = time.perf_counter()
import calc.network, calc.render, calc.yamlload
from calc.network import builder, program
t3 = time.perf_counter()
cli.build_parser = timed("build_parser", cli.build_parser)
calc.network.load_file = timed("yaml", calc.network.load_file)
calc.network.build = timed("build", calc.network.build)
program.Network.evaluate = timed("evaluate", program.Network.evaluate)
calc.render.render = timed("render", calc.render.render)
sys.stdout = open(os.devnull, "w")
start = time.perf_counter()
code = cli.main(["report", SPEC])
total = time.perf_counter() - start
sys.stdout = sys.__stdout__
known = sum(spent.values())
print(json.dumps({"import_cli": t1 - t0, "import_network_render": t3 - t2, **{k: spent.get(k, 0.0) for k in
                  ("build_parser", "yaml", "build", "evaluate", "render")},
                  "other": total - known, "main_total": total, "code": code,
                  "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""
STAGE_NAMES = ("import_cli", "import_network_render", "build_parser", "yaml", "build", "evaluate", "render", "other", "main_total")


def bench_stages(spec: str, reps: int = 1) -> dict:
    """Where the time of `calc report SPEC` goes: `main()` in a fresh interpreter with its
    stages timed by wrappers (other = the rest of the command).  calc.network and calc.render
    are imported up front to be wrapped: their import time is import_network_render."""
    runs = [child_json(STAGES_CHILD.replace("SPEC", repr(spec))) for _ in range(reps)]
    return {k: median([r[k] for r in runs]) for k in runs[0]} | {"reps": reps}


# -- 2./3. load and re-evaluate in-process --------------------------------------------------------


def bench_inprocess(quick: bool) -> dict:
    log("[in-process] load_network and evaluate (ResNet-50)")
    n_eval = 100 if quick else 300
    runs = 1 if quick else 3
    results = []
    for _ in range(runs):
        results.append(child_json(f"""
            import json, time, statistics
            t0 = time.perf_counter()
            from calc.network import load_network
            from calc import conventions
            t1 = time.perf_counter()
            net = load_network({RESNET50!r})
            t2 = time.perf_counter()
            warm = []
            for _ in range(30):
                a = time.perf_counter(); load_network({RESNET50!r}); warm.append(time.perf_counter() - a)
            conv = conventions.get("exact")
            sizes = list(range(96, 96 + {n_eval}))
            net.evaluate(conv, input_shape=(1, 3, 95, 95))  # first evaluation (lazy imports)
            batches = []
            for b in range(3):
                a = time.perf_counter()
                for s in sizes:
                    net.evaluate(conv, input_shape=(1, 3, s + 1000 * b, s + 1000 * b))
                batches.append(len(sizes) / (time.perf_counter() - a))
            a = time.perf_counter()
            for _ in sizes:
                net.evaluate(conv, input_shape=(1, 3, 224, 224))
            same = len(sizes) / (time.perf_counter() - a)
            print(json.dumps({{"import_s": t1 - t0, "cold_s": t2 - t1, "warm_s": statistics.median(warm),
                              "warm_min_s": min(warm), "evals_per_s": statistics.median(batches),
                              "evals_same_size_per_s": same, "ops": len(net.ops)}}))
        """))
    return {k: median([r[k] for r in results]) for k in results[0]} | {"runs": runs, "n_eval": n_eval}


# -- 4. scaling ---------------------------------------------------------------------------------


def write_plain_spec(path: Path, layers: int) -> None:
    cycle = ("  - {type: conv, K: 3, Cout: 8, padding: 1}\n", "  - {type: relu}\n", "  - {type: batchnorm}\n")
    with open(path, "w") as fh:
        fh.write(f"name: plain{layers}\ninput: [8, 16, 16]\nlayers:\n")
        for i in range(layers):
            fh.write(cycle[i % 3])


def bench_scaling(quick: bool, stages: bool) -> dict:
    sizes = (1_000, 10_000, 100_000)
    reps = {1_000: 1 if quick else 3, 10_000: 1 if quick else 3, 100_000: 1}
    out: dict = {"runs": {}}
    with tempfile.TemporaryDirectory(prefix="flopcalc-bench-") as tmp:
        for n in sizes:
            spec = Path(tmp) / f"plain_{n}.yaml"
            write_plain_spec(spec, n)
            log(f"[scaling] calc report on {n:,} layers ({spec.stat().st_size / 1e6:.1f} MB), {reps[n]} run(s)")
            runs = [py("-m", "calc", "report", str(spec), timeout=300) for _ in range(reps[n])]
            for r in runs:
                if r.code != 0:
                    out["runs"][n] = {"error": "timed out" if r.timed_out else r.stderr[-500:]}
                    break
            else:
                out["runs"][n] = {"s": median([r.seconds for r in runs]), "rss_mib": max(r.maxrss_kib for r in runs) / 1024,
                                  "all": [r.seconds for r in runs], "bytes": spec.stat().st_size}
            if stages and n >= 10_000:
                log(f"[scaling] stage breakdown, {n:,} layers")
                out.setdefault("stages", {})[n] = bench_stages(str(spec))
    r = out["runs"]
    if all("s" in r[n] for n in sizes):
        out["ratio_100k_10k"] = r[100_000]["s"] / r[10_000]["s"]
        out["ratio_10k_1k"] = r[10_000]["s"] / r[1_000]["s"]
        out["marginal_us_per_layer"] = {
            "1k-10k": (r[10_000]["s"] - r[1_000]["s"]) / 9_000 * 1e6,
            "10k-100k": (r[100_000]["s"] - r[10_000]["s"]) / 90_000 * 1e6,
        }
    return out


# -- 5. symbolic ----------------------------------------------------------------------------------


def bench_symbolic(quick: bool) -> dict:
    runs = 1 if quick else 3
    log(f"[symbolic] closed_form(ResNet-50) in H, W, {runs} fresh process(es)")
    results = [child_json(f"""
        import json, time
        from calc.network import load_network
        from calc import conventions
        net = load_network({RESNET50!r})
        t0 = time.perf_counter()
        import calc.closed_form as S
        t1 = time.perf_counter()
        form = S.closed_form(net, conventions.get("exact"))
        t2 = time.perf_counter()
        print(json.dumps({{"import_sympy_s": t1 - t0, "closed_form_s": t2 - t1, "divisor": form.divisor,
                          "macs": str(form.totals["macs"])}}))
    """) for _ in range(runs)]
    return {
        "runs": runs, "import_sympy_s": median([r["import_sympy_s"] for r in results]),
        "closed_form_s": median([r["closed_form_s"] for r in results]),
        "all": [r["closed_form_s"] for r in results], "divisor": results[0]["divisor"], "macs": results[0]["macs"],
    }


# -- 6. thop ------------------------------------------------------------------------------------------


THOP = """
import json, time
t0 = time.perf_counter()
import torch, thop, torchvision
t1 = time.perf_counter()
model = torchvision.models.resnet50(weights=None)
t2 = time.perf_counter()
macs, params = thop.profile(model, inputs=(torch.randn(1, 3, 224, 224),), verbose=False)
t3 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "build_s": t2 - t1, "profile_s": t3 - t2, "total_s": t3 - t0,
                  "macs": int(macs), "params": int(params), "torch": torch.__version__}))
"""


def _has_thop(python: str) -> bool:
    probe = subprocess.run([python, "-c", "import torch, thop, torchvision"], capture_output=True, timeout=120)
    return probe.returncode == 0


def bench_thop(quick: bool) -> dict:
    candidates = [sys.executable] + ([str(ORACLE_PYTHON)] if ORACLE_PYTHON.exists() else [])
    python = next((p for p in candidates if _has_thop(p)), None)
    if python is None:
        return {"skipped": "torch/thop/torchvision importable neither here nor in /work/oracle-venv"}
    runs = 1 if quick else 3
    log(f"[thop] torchvision resnet50 + thop.profile with {python}, {runs} run(s)")
    results, walls = [], []
    for _ in range(runs):
        c = Child([python, "-c", THOP], capture_stdout=True)
        if c.code != 0:
            return {"skipped": f"thop run failed: {c.stderr[-300:]}"}
        results.append(json.loads(c.stdout.strip().splitlines()[-1]))
        walls.append(c.seconds)
    calc = child_json(f"""
        import json
        from calc.network import load_network
        from calc import conventions
        r = load_network({RESNET50!r}).evaluate(conventions.get("thop"))
        print(json.dumps({{"flops": r.totals.flops, "params": r.totals.params}}))
    """)
    out = {k: median([r[k] for r in results]) for k in ("import_s", "build_s", "profile_s", "total_s")}
    out |= {"wall_s": median(walls), "macs": results[0]["macs"], "params": results[0]["params"],
            "torch": results[0]["torch"], "python": python, "runs": runs, "calc_thop_flops": calc["flops"],
            "calc_params": calc["params"]}
    return out


# -- 7. long fuzz -----------------------------------------------------------------------------------


FUZZ_FILES = ("tests/test_fuzz.py", "tests/test_fuzz_machinery.py")
"""YAML text, spec mutations and the command line; blocks, expressions and the Python API."""


def run_fuzz_long(examples: int) -> dict:
    log(f"[fuzz-long] {' '.join(FUZZ_FILES)} with FLOPCALC_FUZZ_EXAMPLES={examples}")
    # The test suite's default profile is derandomized (the same examples every run); the
    # long run is where the randomized search happens.
    e = env() | {"FLOPCALC_FUZZ_EXAMPLES": str(examples), "HYPOTHESIS_PROFILE": "random"}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pytest", *FUZZ_FILES, "-o", "addopts=", "-q", "-p", "no:cacheprovider",
                           "-W", "ignore::DeprecationWarning", "--durations=8"],
                          cwd=ROOT, env=e, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    tail = [l for l in proc.stdout.splitlines() if l.strip()]
    summary = next((l for l in reversed(tail) if re.search(r"\d+ (passed|failed)", l) and not l.startswith("FAILED")),
                   tail[-1] if tail else "")
    failures = [l for l in tail if l.startswith("FAILED")]
    durations = [l for l in tail if re.match(r"\d+\.\d+s (call|setup)", l)]
    return {"examples": examples, "seconds": seconds, "code": proc.returncode, "summary": summary.strip("= "),
            "failures": failures, "durations": durations}


# -- report -----------------------------------------------------------------------------------------


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("**pass**" if ok else "**FAIL**")


def git_state() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "calc"], cwd=ROOT, capture_output=True, text=True).stdout
        return head + (" (calc/ has uncommitted changes)" if dirty.strip() else "")
    except OSError:
        return "unknown"


def render_results(r: dict, fuzz_section: str) -> str:
    cli, imp, inp, sc, sym, th = r["cli"], r["importtime"], r["inprocess"], r["scaling"], r["symbolic"], r["thop"]
    runs = sc["runs"]
    big = runs.get(100_000, {})
    lines = [
        "# flopcalc benchmarks", "",
        f"Generated by `python3 bench/run.py{' --quick' if r['quick'] else ''}` on {r['date']}; "
        f"git {r['git']}; Python {platform.python_version()} ({sys.executable}); {os.cpu_count()} CPUs; "
        f"load average {r['load_before']} before, {r['load_after']} after; run took {r['seconds']:.0f} s.",
        "Medians over repeated runs; ratios are between runs interleaved in the same invocation.", "",
        "| benchmark | target | measured | verdict |", "|---|---|---|---|",
        f"| CLI `calc report {RESNET50}` vs `python -c pass` | <= 4x | {cli['cli_s'] * 1000:.0f} ms vs "
        f"{cli['pass_s'] * 1000:.0f} ms = **{cli['ratio']:.2f}x** (median of per-pair ratios {cli['pair_ratio_median']:.2f}x; "
        f"{cli['reps']} runs) | {verdict(cli['ratio'] <= 4)} |",
        f"| the floor: PyYAML + pydantic + one record, no calc (`FLOOR_CODE`) vs `python -c pass` | (information) | "
        f"{cli['floor_s'] * 1000:.0f} ms = **{cli['floor_ratio']:.2f}x**; calc report = {cli['cli_s'] / cli['floor_s']:.2f}x the floor | n/a |",
        f"| numeric path imports no heavy module | none of {', '.join(HEAVY[:4])}, ... | "
        f"{', '.join(imp['driver']['heavy']) or 'none'} | {verdict(not imp['driver']['heavy'])} |",
        f"| load + validate ResNet-50 (`load_network`), warm | <= 20 ms | **{inp['warm_s'] * 1000:.1f} ms** "
        f"(min {inp['warm_min_s'] * 1000:.1f}; cold first load {inp['cold_s'] * 1000:.0f} ms after "
        f"{inp['import_s'] * 1000:.0f} ms of imports) | {verdict(inp['warm_s'] <= 0.020)} |",
        f"| re-evaluate ResNet-50 at a new input size | >= 2,000 networks/s | **{inp['evals_per_s']:,.0f} /s** "
        f"({1e6 / inp['evals_per_s'] / inp['ops']:.1f} us per op, {inp['ops']} ops; same size repeated: "
        f"{inp['evals_same_size_per_s']:,.0f} /s) | {verdict(inp['evals_per_s'] >= 2000)} |",
    ]
    ins = r["instructions"]
    if "skipped" in ins:
        lines.append(f"| instruction counts (callgrind) | (information) | skipped: {ins['skipped']} | n/a |")
    else:
        lines.append(f"| CLI by instructions (callgrind): calc report / floor / pass | <= 4x | "
                     f"{ins['cli'] / 1e6:,.0f}M / {ins['floor'] / 1e6:,.0f}M / {ins['pass'] / 1e6:,.0f}M = "
                     f"**{ins['cli'] / ins['pass']:.2f}x** (floor {ins['floor'] / ins['pass']:.2f}x) | "
                     f"{verdict(ins['cli'] / ins['pass'] <= 4)} |")
        lines.append(f"| re-evaluation by instructions (callgrind) | (information) | **{ins['per_eval'] / 1e6:.2f}M** per "
                     f"ResNet-50 evaluation (3.65M at c49ca88, before this round of work) | n/a |")
    if "ratio_100k_10k" in sc:
        lines.append(f"| scaling: 100k / 10k layers time ratio | <= 12 | **{sc['ratio_100k_10k']:.2f}** "
                     f"(10k / 1k: {sc['ratio_10k_1k']:.2f}) | {verdict(sc['ratio_100k_10k'] <= 12)} |")
    else:
        lines.append("| scaling: 100k / 10k layers time ratio | <= 12 | not measured (a run failed) | **FAIL** |")
    if "s" in big:
        lines.append(f"| 100,000-layer `calc report`: time | <= 10 s | **{big['s']:.1f} s** | {verdict(big['s'] <= 10)} |")
        lines.append(f"| 100,000-layer `calc report`: peak RSS | <= 500 MB | **{big['rss_mib']:.0f} MiB** "
                     f"({big['rss_mib'] * 1.048576:.0f} MB) | {verdict(big['rss_mib'] * 1.048576 <= 500)} |")
    else:
        lines.append(f"| 100,000-layer `calc report` | <= 10 s, <= 500 MB | {big.get('error', 'not run')} | **FAIL** |")
    lines.append(f"| symbolic: `closed_form(ResNet-50)` in H, W | <= 3 s | **{sym['closed_form_s']:.2f} s** "
                 f"(+ {sym['import_sympy_s']:.2f} s to import sympy; {sym['runs']} fresh processes) | "
                 f"{verdict(sym['closed_form_s'] <= 3)} |")
    if "skipped" in th:
        lines.append(f"| thop comparison | (information) | skipped: {th['skipped']} | n/a |")
    else:
        lines.append(f"| thop: import + build resnet50 + profile | (information) | {th['total_s']:.2f} s in-process "
                     f"({th['wall_s']:.1f} s wall) vs calc {cli['cli_s']:.2f} s wall | n/a |")
    lines += ["", "## CLI end to end", "",
              f"`{os.path.basename(sys.executable)} -m calc report {RESNET50}`: "
              + ", ".join(f"{x * 1000:.0f}" for x in cli["cli_all"]) + " ms; `-c pass`: "
              + ", ".join(f"{x * 1000:.0f}" for x in cli["pass_all"]) + " ms; the floor program: "
              + ", ".join(f"{x * 1000:.0f}" for x in cli["floor_all"]) + f" ms; peak RSS {cli['cli_rss_mib']:.0f} MiB. "
              f"calc's bytecode is compiled first, as `pip install` does; without that cache (a fresh copy of calc, "
              f"PYTHONDONTWRITEBYTECODE=1) the command takes {cli['uncached_s'] * 1000:.0f} ms.", "",
              f"Stages of the same command, in a fresh interpreter (median of {r['stages']['reps']}):", "",
              "| stage | ms |", "|---|---:|"]
    st = r["stages"]
    for k in STAGE_NAMES:
        lines.append(f"| {k} | {st[k] * 1000:.1f} |")
    lines += ["", f"`-X importtime`: {imp['total_ms']:.0f} ms of imports in all. Top-level imports by cumulative time:", "",
              "| module | cumulative ms |", "|---|---:|"]
    lines += [f"| {name} | {ms:.1f} |" for name, ms in imp["top"]]
    lines += ["", f"Module bodies of calc itself (self time, pydantic model classes included): {imp['calc_self_ms']:.0f} ms.",
              "", "Notable imports and the chain that pulls them in:", "", "| module | cumulative ms | imported by |", "|---|---:|---|"]
    lines += [f"| {name} | {ms:.1f} | {' <- '.join(chain)} |" for name, ms, chain in imp["notable"]]
    lines += ["", "Self time summed by top-level package:", "", "| package | self ms |", "|---|---:|"]
    lines += [f"| {name} | {ms:.1f} |" for name, ms in imp["packages"]]
    lines += [""]
    if imp["heavy"]:
        lines.append("Heavy modules imported by `calc report` (module <- importer <- ... <- top level):")
        lines.append("")
        for name, info in imp["heavy"].items():
            lines.append(f"- `{name}`: {info['cum_ms']:.0f} ms, via " + " <- ".join(f"`{m}`" for m in info["chain"]))
    else:
        lines.append("No heavy module (" + ", ".join(HEAVY) + ") is imported by `calc report`.")
    d = imp["driver"]
    lines += ["", f"Driver check (`main(['report', ...])` in a fresh interpreter): exit {d['rc']}, "
              f"{d['modules']} modules loaded, heavy: {', '.join(d['heavy']) or 'none'}.", ""]
    lines += ["## Scaling", "",
              "Generated plain specs, input [8, 16, 16], layers cycling conv 3x3 (Cout 8, padding 1) / relu / batchnorm.", "",
              "| layers | spec size | `calc report` s (median) | runs | peak RSS MiB |", "|---:|---:|---:|---|---:|"]
    for n, v in runs.items():
        if "s" in v:
            lines.append(f"| {n:,} | {v['bytes'] / 1e6:.2f} MB | {v['s']:.2f} | "
                         + ", ".join(f"{x:.2f}" for x in v["all"]) + f" | {v['rss_mib']:.0f} |")
        else:
            lines.append(f"| {n:,} | | {v['error']} | | |")
    if "marginal_us_per_layer" in sc:
        m = sc["marginal_us_per_layer"]
        lines += ["", f"Marginal cost per layer: {m['1k-10k']:.0f} us (1k to 10k), {m['10k-100k']:.0f} us (10k to 100k)."]
    if sc.get("stages"):
        lines += ["", "Stage breakdown of `main(['report', spec])` in a fresh interpreter (seconds):", "",
                  "| layers | yaml | build | evaluate | render | other | main total | peak RSS MiB |",
                  "|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for n, s in sc["stages"].items():
            lines.append(f"| {n:,} | {s['yaml']:.2f} | {s['build']:.2f} | {s['evaluate']:.3f} | {s['render']:.2f} | "
                         f"{s['other']:.2f} | {s['main_total']:.2f} | {s['rss_mib']:.0f} |")
    lines += ["", "## Symbolic", "",
              "`calc.closed_form.closed_form(resnet50, exact)`: " + ", ".join(f"{x:.2f}" for x in sym["all"])
              + f" s (fresh processes); size divisor found: {sym['divisor']}; MACs = `{sym['macs']}`.", ""]
    lines += ["## thop", ""]
    if "skipped" in th:
        lines.append(f"Skipped: {th['skipped']}.")
    else:
        lines.append(f"With {th['python']} (torch {th['torch']}), median of {th['runs']}: import torch+thop+torchvision "
                     f"{th['import_s']:.2f} s, build resnet50 {th['build_s']:.2f} s, thop.profile {th['profile_s']:.2f} s; "
                     f"whole process {th['wall_s']:.2f} s. thop reports {th['macs']:,} MACs and {th['params']:,} params; "
                     f"calc's `thop` convention gives {th['calc_thop_flops']:,} and {th['calc_params']:,} "
                     f"({'equal' if th['macs'] == th['calc_thop_flops'] and th['params'] == th['calc_params'] else 'DIFFERENT'}). "
                     f"calc end to end: {cli['cli_s']:.2f} s, i.e. {th['wall_s'] / cli['cli_s']:.0f}x faster.")
    lines += ["", fuzz_section or (FUZZ_BEGIN + "\n## Long fuzz run\n\nNot run yet: `python3 bench/run.py --fuzz-long`.\n" + FUZZ_END), ""]
    return "\n".join(lines)


def fuzz_markdown(f: dict) -> str:
    lines = [FUZZ_BEGIN, "## Long fuzz run", "",
             f"`python3 bench/run.py --fuzz-long --fuzz-examples {f['examples']}` on {time.strftime('%Y-%m-%d %H:%M')} "
             f"(git {git_state()}): tests/test_fuzz.py and tests/test_fuzz_machinery.py, randomized, with `FLOPCALC_FUZZ_EXAMPLES={f['examples']}` "
             f"(examples per hypothesis test before its own factor): **{f['summary']}** in {f['seconds']:.0f} s, "
             f"exit {f['code']}.", ""]
    if f["failures"]:
        lines += ["Failures:", "", *(f"- `{x}`" for x in f["failures"]), ""]
    if f["durations"]:
        lines += ["Slowest:", "", "```", *f["durations"], "```", ""]
    lines.append(FUZZ_END)
    return "\n".join(lines)


def existing_fuzz_section() -> str:
    if not RESULTS.exists():
        return ""
    text = RESULTS.read_text()
    m = re.search(re.escape(FUZZ_BEGIN) + ".*?" + re.escape(FUZZ_END), text, re.S)
    return m.group(0) if m else ""


def bench_transformers(quick: bool) -> dict:
    """Issue 11's goals: re-evaluating llama2_7b at a new sequence length >= 1,000 /s; `calc
    report llama2_7b` within 1.2x of `calc report resnet50` (interleaved runs, wall time)."""
    reps = 3 if quick else 9
    log(f"[transformers] re-evaluate {LLAMA} at new T; calc report {LLAMA} vs {RESNET50}, {reps} runs")
    n_eval = 200 if quick else 1000
    inproc = child_json(f"""
        import json, time, statistics
        from calc.network import load_network
        from calc import conventions
        a = time.perf_counter(); net = load_network({LLAMA!r}); load_s = time.perf_counter() - a
        conv = conventions.get("exact")
        net.evaluate(conv, input_shape=(1, 17))
        rates = []
        for b in range(3):
            sizes = [1 + (7919 * (i + b * {n_eval})) % 4096 for i in range({n_eval})]
            a = time.perf_counter()
            for t in sizes:
                net.evaluate(conv, input_shape=(1, t))
            rates.append(len(sizes) / (time.perf_counter() - a))
        print(json.dumps({{"evals_per_s": statistics.median(rates), "ops": len(net.ops), "load_s": load_s}}))
    """)
    py("-m", "calc", "report", LLAMA), py("-m", "calc", "report", RESNET50)  # warm the page cache
    llama, resnet = [], []
    for _ in range(reps):
        c = py("-m", "calc", "report", LLAMA)
        r = py("-m", "calc", "report", RESNET50)
        if c.code != 0 or r.code != 0:
            raise RuntimeError(f"calc report failed: {c.stderr[-2000:]}{r.stderr[-2000:]}")
        llama.append(c.seconds)
        resnet.append(r.seconds)
    return inproc | {"reps": reps, "n_eval": n_eval, "llama_s": median(llama), "resnet_s": median(resnet),
                     "ratio": median(llama) / median(resnet), "llama_all": llama, "resnet_all": resnet}


def transformers_markdown(t: dict) -> str:
    return "\n".join([
        LLM_BEGIN, "## Transformers (issue 11)", "",
        f"`python3 bench/run.py --transformers` on {time.strftime('%Y-%m-%d %H:%M')} (git {git_state()}).", "",
        "| benchmark | target | measured | verdict |", "|---|---|---|---|",
        f"| re-evaluate `{LLAMA}` ({t['ops']:,} operations) at a new sequence length | >= 1,000 /s | "
        f"**{t['evals_per_s']:,.0f} /s** (median of 3 batches of {t['n_eval']} lengths in 1..4096; "
        f"load_network {t['load_s'] * 1000:.0f} ms) | {verdict(t['evals_per_s'] >= 1000)} |",
        f"| `calc report {LLAMA}` vs `calc report {RESNET50}` (wall) | <= 1.2x | {t['llama_s'] * 1000:.0f} ms vs "
        f"{t['resnet_s'] * 1000:.0f} ms = **{t['ratio']:.2f}x** ({t['reps']} interleaved runs) | "
        f"{verdict(t['ratio'] <= 1.2)} |",
        LLM_END])


def splice(section: str, begin: str, end: str) -> None:
    """Replace the marked section of RESULTS.md (or append it)."""
    text = RESULTS.read_text() if RESULTS.exists() else "# flopcalc benchmarks\n"
    if begin in text:
        text = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: section, text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    RESULTS.write_text(text)


def loadavg() -> str:
    try:
        return "/".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "?"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    ap.add_argument("--fuzz-long", action="store_true", help="run only the long fuzz (tests/test_fuzz*.py, randomized)")
    ap.add_argument("--fuzz-examples", type=int, default=300, help="hypothesis examples per fuzz test (default 300)")
    ap.add_argument("--no-stages", action="store_true", help="skip the stage breakdown of the scaling runs")
    ap.add_argument("--no-instructions", action="store_true", help="skip the callgrind instruction counts")
    ap.add_argument("--transformers", action="store_true", help="run only the transformer section")
    args = ap.parse_args(argv)

    if args.transformers:
        t = bench_transformers(args.quick)
        section = transformers_markdown(t)
        splice(section, LLM_BEGIN, LLM_END)
        print(section)
        return 0 if t["evals_per_s"] >= 1000 and t["ratio"] <= 1.2 else 1

    if args.fuzz_long:
        f = run_fuzz_long(args.fuzz_examples)
        section = fuzz_markdown(f)
        if RESULTS.exists() and FUZZ_BEGIN in RESULTS.read_text():
            text = RESULTS.read_text()
            text = re.sub(re.escape(FUZZ_BEGIN) + ".*?" + re.escape(FUZZ_END), lambda _: section, text, flags=re.S)
        else:
            text = (RESULTS.read_text() if RESULTS.exists() else "# flopcalc benchmarks\n") + "\n" + section + "\n"
        RESULTS.write_text(text)
        print(section)
        return 0 if f["code"] == 0 else 1

    start = time.perf_counter()
    reps = 3 if args.quick else 9
    r: dict = {"quick": args.quick, "date": time.strftime("%Y-%m-%d %H:%M"), "git": git_state(), "load_before": loadavg()}
    compile_bytecode()
    r["cli"] = bench_cli(reps)
    r["instructions"] = {"skipped": "--no-instructions"} if args.no_instructions else bench_instructions(args.quick)
    r["importtime"] = bench_importtime(1 if args.quick else 3)
    r["stages"] = bench_stages(RESNET50, 1 if args.quick else 3)
    r["inprocess"] = bench_inprocess(args.quick)
    r["symbolic"] = bench_symbolic(args.quick)
    r["thop"] = bench_thop(args.quick)
    r["scaling"] = bench_scaling(args.quick, stages=not args.no_stages)
    r["seconds"] = time.perf_counter() - start
    r["load_after"] = loadavg()
    text = render_results(r, existing_fuzz_section())
    RESULTS.write_text(text)
    transformers = transformers_markdown(bench_transformers(args.quick))
    splice(transformers, LLM_BEGIN, LLM_END)
    print(text + "\n" + transformers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
