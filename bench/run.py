#!/usr/bin/env python3
"""flopcalc benchmarks, one command:  python3 bench/run.py  ->  bench/RESULTS.md

    python3 bench/run.py                 all benchmarks (about 2 minutes on 2 cores)
    python3 bench/run.py --quick         fewer repetitions (a smoke run)
    python3 bench/run.py --fuzz-long     only the long fuzz run (tests/test_fuzz*.py with a big
                                         hypothesis budget, --fuzz-examples N per test)
    python3 bench/run.py --transformers  only the transformer section (re-evaluating llama2_7b
                                         at a new sequence length; its report vs ResNet-50's)
    python3 bench/run.py --cli-only      only the start-up section (venvs, `calc report` missed
                                         and cached, the floor, `python -c pass`), printed, not written

Every figure is a median over repeated runs; ratios compare runs made in the same invocation,
interleaved, so a busy machine slows both sides.  Start-up (`calc report`, its floor program,
`python -c pass`, the cache) is timed in venvs made for the run, each interpreter timing its own
venv: calc installed regularly (`pip install .`) and editable (`pip install -e .`) with this
interpreter, and regularly with Python 3.12 and 3.13 where found (--pythons), the commands run
from a folder outside the repository.  The other sections run `sys.executable` with the
repository on PYTHONPATH and the report cache off (FLOPCALC_NO_CACHE=1).  The torch/thop
comparison runs the interpreter given by --oracle-python or FLOPCALC_ORACLE_PYTHON (or this
one, if it has torch).  Peak memory is each child's own ru_maxrss (os.wait4).  RESULTS.md is
rewritten except for the long-fuzz section, which only `--fuzz-long` replaces.
"""

from __future__ import annotations

import argparse
import glob
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
ORACLE_ENV = "FLOPCALC_ORACLE_PYTHON"
"""An interpreter with torch, torchvision and thop, for the comparison (or --oracle-python)."""
OTHER_PYTHONS = ("3.12", "3.13")
"""Versions whose start-up ratios are measured too, when an interpreter is found (see find_python)."""
HEAVY = ("sympy", "mpmath", "numpy", "scipy", "torch", "pandas", "matplotlib", "hypothesis", "IPython",
         "jinja2", "networkx", "libcst")
NOTABLE = ("pydantic", "pydantic_core", "asyncio", "annotated_types", "importlib.metadata", "yaml", "uuid",
           "zoneinfo", "ssl", "email", "shutil", "json", "csv", "difflib", "typing", "argparse")
FUZZ_BEGIN, FUZZ_END = "<!-- fuzz-long: begin -->", "<!-- fuzz-long: end -->"
LLM_BEGIN, LLM_END = "<!-- transformers: begin -->", "<!-- transformers: end -->"


def env(path: Path = ROOT) -> dict[str, str]:
    """The children's environment: `path` (the repository) first on PYTHONPATH, bytecode
    caching as on a user's machine (a PYTHONDONTWRITEBYTECODE of ours is not passed on), and the
    report cache off (these sections time the work, not the cache)."""
    e = dict(os.environ)
    e["PYTHONPATH"] = str(path) + (os.pathsep + e["PYTHONPATH"] if e.get("PYTHONPATH") else "")
    e.pop("PYTHONSTARTUP", None)
    e.pop("PYTHONDONTWRITEBYTECODE", None)
    e["FLOPCALC_NO_CACHE"] = "1"
    return e


def venv_env(cache_dir: Path) -> dict[str, str]:
    """The environment of the start-up runs: nothing of ours on the import path, the report
    cache on, in `cache_dir`."""
    e = {k: v for k, v in os.environ.items()
         if k not in ("PYTHONPATH", "PYTHONSTARTUP", "PYTHONDONTWRITEBYTECODE", "PYTHONHOME", "FLOPCALC_NO_CACHE",
                      "PYDANTIC_DISABLE_PLUGINS")}
    return e | {"FLOPCALC_CACHE_DIR": str(cache_dir)}


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
                 capture_stdout: bool = False, environ: dict[str, str] | None = None,
                 cwd: Path | str = ROOT) -> None:
        err = tempfile.TemporaryFile()
        out = tempfile.TemporaryFile() if capture_stdout else stdout
        start = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, env=environ or env(), stdout=out, stderr=err,
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


def floor_code(spec: str) -> str:
    return f"""
import yaml
from pydantic import BaseModel, Field

class Record(BaseModel):
    Cout: int = Field(gt=0)

with open({spec!r}) as fh:
    yaml.load(fh, Loader=yaml.CSafeLoader)
Record.model_validate({{"Cout": 64}})
"""


FLOOR_CODE = floor_code(RESNET50)
"""The least any pydantic-validated YAML tool does: import PyYAML and pydantic, load the same
spec with LibYAML, validate one one-field record.  No calc code.  (pydantic imports its plugin
loader, and with it importlib.metadata, on the first model class: calc does not.)"""


def find_python(version: str) -> str | None:
    """An interpreter of that version: pyenv's (/root/.pyenv/versions/X.Y*/bin/pythonX.Y, or
    $PYENV_ROOT's), else pythonX.Y on PATH."""
    roots = [os.environ.get("PYENV_ROOT", ""), os.path.expanduser("~/.pyenv"), "/root/.pyenv"]
    for root in dict.fromkeys(r for r in roots if r):
        found = sorted(glob.glob(os.path.join(root, "versions", f"{version}*", "bin", f"python{version}")))
        if found:
            return found[-1]
    return shutil.which(f"python{version}")


class Setup:
    """A venv made with one interpreter, calc installed in it from the repository."""

    def __init__(self, label: str, base: str, folder: Path, editable: bool) -> None:
        self.label, self.base, self.folder, self.editable = label, base, folder, editable
        self.python = folder / "bin" / "python"
        self.calc = folder / "bin" / "calc"
        self.error = ""
        self.version = ""

    def make(self, source: Path) -> bool:
        """The venv, calc installed from `source`: the repository itself for an editable
        install, a clean copy of its files for a regular one (setuptools builds in the source
        folder, and a build/ left there from an earlier build could bring stale modules)."""
        log(f"[cli] venv {self.label}: {self.base} -m venv; pip install {'-e ' if self.editable else ''}{source}")
        steps = [[self.base, "-m", "venv", str(self.folder)],
                 [str(self.python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                  *(["-e"] if self.editable else []), str(source)]]
        for step in steps:
            proc = subprocess.run(step, capture_output=True, text=True, timeout=900, cwd=self.folder.parent)
            if proc.returncode != 0:
                self.error = f"`{' '.join(step[:4])} ...` failed: {(proc.stderr or proc.stdout).strip().splitlines()[-1:]}"
                return False
        self.version = subprocess.run([str(self.python), "-c", "import platform; print(platform.python_version())"],
                                      capture_output=True, text=True).stdout.strip()
        where = subprocess.run([str(self.python), "-c", "import calc; print(calc.__file__)"], capture_output=True,
                               text=True, cwd=self.folder.parent).stdout.strip()
        inside = where.startswith(str(ROOT)) if self.editable else where.startswith(str(self.folder))
        if not inside:
            self.error = f"calc is imported from {where!r}, not from the {'repository' if self.editable else 'venv'}"
            return False
        return True


def make_setups(tmp: Path, pythons: list[str]) -> list[Setup]:
    """This interpreter's venvs (regular and editable) and one regular venv per other version."""
    setups = [Setup(f"{platform.python_version()} regular", sys.executable, tmp / "venv-regular", False),
              Setup(f"{platform.python_version()} editable", sys.executable, tmp / "venv-editable", True)]
    for version in pythons:
        base = find_python(version)
        if base is None:
            s = Setup(f"{version} regular", "", tmp / f"venv-{version}", False)
            s.error = f"no python{version} found"
            setups.append(s)
        else:
            setups.append(Setup(f"{version} regular", base, tmp / f"venv-{version}", False))
    source = tmp / "source"
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                           text=True).stdout.splitlines()
    for name in files:
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    for s in setups:
        if s.base:
            s.make(ROOT if s.editable else source)
    return setups


def bench_setup(s: Setup, reps: int, work: Path) -> dict:
    """`calc report` (cache off: --no-cache), the same answered from the cache, the floor
    program and `python -c pass`, in turn, all with the venv's interpreter, from `work`."""
    spec = str(ROOT / RESNET50)
    cache_dir = work / f"cache-{s.folder.name}"
    e = venv_env(cache_dir)
    floor = floor_code(spec)
    commands = {
        "pass": [str(s.python), "-c", "pass"],
        "floor": [str(s.python), "-c", floor],
        "miss": [str(s.calc), "report", spec, "--no-cache"],
        "hit": [str(s.calc), "report", spec],
    }
    first = {k: Child(argv, environ=e, cwd=work, capture_stdout=k in ("miss", "hit")) for k, argv in commands.items()}
    failed = [k for k, c in first.items() if c.code != 0]
    if failed:
        return {"error": f"{', '.join(failed)} failed: {first[failed[0]].stderr[-500:]}"}
    stored = sorted(p.name for p in cache_dir.iterdir()) if cache_dir.exists() else []
    times: dict[str, list[float]] = {k: [] for k in commands}
    rss = []
    for _ in range(reps):
        for k, argv in commands.items():
            c = Child(argv, environ=e, cwd=work)
            if c.code != 0:
                return {"error": f"{k} failed: {c.stderr[-500:]}"}
            times[k].append(c.seconds)
            if k == "miss":
                rss.append(c.maxrss_kib)
    hit_again = Child(commands["hit"], environ=e, cwd=work, capture_stdout=True)
    med = {k: median(v) for k, v in times.items()}
    pairs = lambda a, b: median([x / y for x, y in zip(times[a], times[b])])  # noqa: E731
    return {
        "label": s.label, "version": s.version, "editable": s.editable, "reps": reps, "all": times,
        **{f"{k}_s": v for k, v in med.items()},
        "miss_floor": med["miss"] / med["floor"], "miss_floor_pairs": pairs("miss", "floor"),
        "hit_pass": med["hit"] / med["pass"], "hit_pass_pairs": pairs("hit", "pass"),
        "miss_pass": med["miss"] / med["pass"], "floor_pass": med["floor"] / med["pass"],
        "miss_rss_mib": median(rss) / 1024, "entries": len(stored),
        "hit_identical": first["miss"].stdout == first["hit"].stdout == hit_again.stdout and bool(first["miss"].stdout),
    }


def bench_uncached(s: Setup, reps: int, work: Path) -> dict:
    """`calc report --no-cache` with no bytecode cache for calc: a copy of the package without
    __pycache__, first on the import path (the command runs in the copy's folder, which `-m`
    puts first), PYTHONDONTWRITEBYTECODE=1 so that nothing is written; checked: calc is the
    copy, and no __pycache__ appears in it.  What the first run after an edit costs."""
    src = work / "uncached"
    shutil.copytree(ROOT / "calc", src / "calc", ignore=shutil.ignore_patterns("__pycache__"))
    e = venv_env(work / "cache-uncached") | {"PYTHONDONTWRITEBYTECODE": "1"}
    where = Child([str(s.python), "-c", "import calc; print(calc.__file__)"], environ=e, cwd=src, capture_stdout=True)
    if not where.stdout.strip().startswith(str(src)):
        return {"error": f"calc imported from {where.stdout.strip()!r}, not from the copy"}
    argv = [str(s.python), "-m", "calc", "report", str(ROOT / RESNET50), "--no-cache"]
    cached_argv = argv  # the same command against the venv's own (compiled) calc, from `work`
    uncached, cached = [], []
    for _ in range(reps):
        uncached.append(Child(argv, environ=e, cwd=src).seconds)
        cached.append(Child(cached_argv, environ=venv_env(work / "cache-uncached"), cwd=work).seconds)
    if any(p.name == "__pycache__" for p in (src / "calc").rglob("*")):
        return {"error": "bytecode was written into the copy"}
    return {"uncached_s": median(uncached), "cached_s": median(cached), "reps": reps, "label": s.label}


def bench_cli(reps: int, pythons: list[str]) -> dict:
    log(f"[cli] start-up in fresh venvs: calc report {RESNET50} missed and cached, the floor, python -c pass; "
        f"{reps} interleaved runs each")
    with tempfile.TemporaryDirectory(prefix="flopcalc-bench-venvs-") as tmp:
        tmp_path = Path(tmp)
        work = tmp_path / "work"
        work.mkdir()
        setups = make_setups(tmp_path, pythons)
        results = []
        for s in setups:
            if s.error:
                results.append({"label": s.label, "error": s.error})
                continue
            log(f"[cli] {s.label} (Python {s.version})")
            results.append({"label": s.label} | bench_setup(s, reps, work))
        regular = setups[0]
        uncached = bench_uncached(regular, max(3, reps // 3), work) if not regular.error else {"error": regular.error}
        instructions = bench_cli_instructions(regular, work) if not regular.error else {"skipped": regular.error}
    return {"setups": results, "uncached": uncached, "instructions": instructions, "reps": reps}


def bench_cli_instructions(s: Setup, work: Path) -> dict:
    """Instructions (callgrind) of one run of each start-up command, with the regular venv."""
    if shutil.which("valgrind") is None:
        return {"skipped": "valgrind is not installed"}
    log("[cli] callgrind: python -c pass, the floor program, calc report (missed, cached)")
    spec = str(ROOT / RESNET50)
    e = venv_env(work / "cache-instructions")
    Child([str(s.calc), "report", spec], environ=e, cwd=work)  # fill the cache
    out = {
        "pass": callgrind_instructions([str(s.python), "-c", "pass"], e, work),
        "floor": callgrind_instructions([str(s.python), "-c", floor_code(spec)], e, work),
        "miss": callgrind_instructions([str(s.calc), "report", spec, "--no-cache"], e, work),
        "hit": callgrind_instructions([str(s.calc), "report", spec], e, work),
    }
    if None in out.values():
        return {"skipped": "a callgrind run failed"}
    # Where the first report's instructions go beyond the floor: the floor program, its plugin
    # loader skipped as calc skips it, then calc's modules and the load added one at a time.
    program = ("import os\nos.environ['PYDANTIC_DISABLE_PLUGINS'] = '__all__'\n"
               "from calc.cli import _skip_plugin_loader\n_skip_plugin_loader()\n" + floor_code(spec))
    steps = [("the floor, pydantic's plugin loader skipped as calc skips it", "")] + ATTRIBUTION_STEPS
    attribution = []
    for label, code in steps:
        program += code.replace("SPEC", repr(spec))
        count = callgrind_instructions([str(s.python), "-c", program], e, work)
        if count is None:
            return out | {"attribution": []}
        attribution.append((label, count))
    return out | {"attribution": attribution}


ATTRIBUTION_STEPS = [
    ("+ calc.layers: the record classes (pydantic models) of every layer kind", "import calc.layers\n"),
    ("+ calc.conventions: the counting conventions' tables", "import calc.conventions\n"),
    ("+ calc.network: builder, YAML loader, program", "import calc.network\n"),
    ("+ calc.render and calc.cli", "import calc.render, calc.cli\n"),
    ("+ load_network(resnet50): validate the records, build the network", "calc.network.load_network(SPEC)\n"),
]


def callgrind_instructions(argv: list[str], environ: dict[str, str] | None = None, cwd: Path = ROOT) -> int | None:
    """Instructions one run executes, counted by valgrind's callgrind: the same for the same
    program and input however busy the machine is."""
    proc = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *argv], cwd=cwd,
                          env=environ or env(), capture_output=True, text=True)
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
    """Instruction counts (callgrind), where wall time on a shared VM varies by +-30%: one
    ResNet-50 re-evaluation, taken as (I(2n) - I(n)) / n so that start-up and loading cancel
    out.  (The start-up commands' counts are bench_cli_instructions'.)"""
    if shutil.which("valgrind") is None:
        return {"skipped": "valgrind is not installed"}
    log("[instructions] callgrind: re-evaluation")
    n = 25 if quick else 100
    one = callgrind_instructions([sys.executable, "-c", REEVAL_CHILD, str(n)])
    two = callgrind_instructions([sys.executable, "-c", REEVAL_CHILD, str(2 * n)])
    if None in (one, two):
        return {"skipped": "a callgrind run failed"}
    return {"per_eval": (two - one) / n, "n_eval": n}


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


def bench_thop(quick: bool, oracle: str | None) -> dict:
    """torchvision's resnet50 profiled by thop, with `oracle` (--oracle-python or
    FLOPCALC_ORACLE_PYTHON), else this interpreter if it has torch, thop and torchvision."""
    candidates = [p for p in (oracle, sys.executable) if p]
    python = next((p for p in candidates if _has_thop(p)), None)
    if python is None:
        where = f"neither in {oracle} nor here" if oracle else f"not here; give --oracle-python PATH or {ORACLE_ENV}"
        return {"skipped": f"torch/thop/torchvision importable {where}"}
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


MISS_TARGET, HIT_TARGET = 1.15, 3.0
"""Issue 17: `calc report` <= 1.15x the floor program; answered from the cache <= 3x `python -c pass`."""


def _main_setups(cli: dict) -> list[dict]:
    """The setups that carry the targets: this interpreter's regular and editable venvs."""
    return [s for s in cli["setups"][:2] if "error" not in s]


def cli_miss_s(cli: dict) -> float:
    ok = _main_setups(cli)
    return ok[0]["miss_s"] if ok else float("nan")


def cli_summary_rows(cli: dict) -> list[str]:
    rows = []
    for s in cli["setups"][:2]:
        if "error" in s:
            rows.append(f"| start-up, {s['label']} install | | not measured: {s['error']} | **FAIL** |")
            continue
        where = f"Python {s['version']}, {'editable' if s['editable'] else 'regular'} install"
        rows.append(
            f"| `calc report {RESNET50} --no-cache` vs the floor (PyYAML + pydantic + one record), {where} | "
            f"<= {MISS_TARGET}x | **{s['miss_floor_pairs']:.2f}x** (median of the {s['reps']} interleaved pairs' ratios; "
            f"medians {s['miss_s'] * 1000:.0f} ms vs {s['floor_s'] * 1000:.0f} ms; {s['miss_pass']:.2f}x `python -c pass`, "
            f"the floor {s['floor_pass']:.2f}x) | {verdict(s['miss_floor_pairs'] <= MISS_TARGET)} |")
        rows.append(
            f"| `calc report {RESNET50}` answered from the cache vs `python -c pass`, {where} | <= {HIT_TARGET:g}x | "
            f"**{s['hit_pass_pairs']:.2f}x** (pairs' median; medians {s['hit_s'] * 1000:.0f} ms vs {s['pass_s'] * 1000:.0f} ms; "
            f"output {'identical to' if s['hit_identical'] else 'DIFFERENT from'} the uncached command's) | "
            f"{verdict(s['hit_pass_pairs'] <= HIT_TARGET and s['hit_identical'])} |")
    ins = cli["instructions"]
    if "skipped" in ins:
        rows.append(f"| start-up by instructions (callgrind) | (information) | skipped: {ins['skipped']} | n/a |")
    else:
        rows.append(
            f"| start-up by instructions (callgrind), regular install: calc report / floor; cached report / pass | "
            f"<= {MISS_TARGET}x; <= {HIT_TARGET:g}x | {ins['miss'] / 1e6:,.0f}M / {ins['floor'] / 1e6:,.0f}M = "
            f"**{ins['miss'] / ins['floor']:.2f}x**; {ins['hit'] / 1e6:,.0f}M / {ins['pass'] / 1e6:,.0f}M = "
            f"**{ins['hit'] / ins['pass']:.2f}x** | {verdict(ins['miss'] / ins['floor'] <= MISS_TARGET)}; "
            f"{verdict(ins['hit'] / ins['pass'] <= HIT_TARGET)} |")
    return rows


def cli_section(cli: dict) -> list[str]:
    lines = ["## Start-up", "",
             "Each interpreter in a venv made for the run, calc installed from this repository (`pip install .`, or "
             "`pip install -e .`), every command run from a folder outside the repository. `miss`: `calc report "
             f"{RESNET50} --no-cache` (the venv's console script); `hit`: the same command answered from the report "
             "cache (calc/cache.py); `floor`: the floor program (`FLOOR_CODE`: PyYAML + pydantic + one validated record, "
             "no calc); `pass`: `python -c pass`. Medians of "
             f"{cli['reps']} interleaved runs, ms; the ratios are medians of the runs' pair by pair ratios (the "
             "machine's speed drifts less within a pair).", "",
             "| venv | pass | floor | miss | hit | miss / floor | hit / pass | miss / pass | floor / pass | miss peak RSS MiB |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for s in cli["setups"]:
        if "error" in s:
            lines.append(f"| {s['label']} | not measured: {s['error']} | | | | | | | | |")
            continue
        lines.append(f"| Python {s['version']} {'editable' if s['editable'] else 'regular'} | {s['pass_s'] * 1000:.0f} | "
                     f"{s['floor_s'] * 1000:.0f} | {s['miss_s'] * 1000:.0f} | {s['hit_s'] * 1000:.0f} | "
                     f"**{s['miss_floor_pairs']:.2f}x** | **{s['hit_pass_pairs']:.2f}x** | {s['miss_pass']:.2f}x | "
                     f"{s['floor_pass']:.2f}x | {s['miss_rss_mib']:.0f} |")
    lines.append("")
    for s in cli["setups"]:
        if "error" not in s:
            lines.append(f"- Python {s['version']} {'editable' if s['editable'] else 'regular'}: " + "; ".join(
                f"{k} " + ", ".join(f"{x * 1000:.0f}" for x in s["all"][k]) for k in ("pass", "floor", "miss", "hit")) + " ms.")
    ins = cli["instructions"]
    if ins.get("attribution"):
        lines += ["", f"Where the instructions of a first `calc report {RESNET50}` go (callgrind, regular install): the "
                  f"floor program is {ins['floor'] / 1e6:,.0f}M, the report {ins['miss'] / 1e6:,.0f}M "
                  f"({ins['miss'] / ins['floor']:.2f}x); the {MISS_TARGET}x target allows {MISS_TARGET * ins['floor'] / 1e6:,.0f}M. "
                  "Programs that do a growing part of the report's work:", "",
                  "| program | instructions | added | / floor |", "|---|---:|---:|---:|",
                  f"| the floor program | {ins['floor'] / 1e6:,.0f}M | | 1.00x |"]
        previous = ins["floor"]
        for label, count in ins["attribution"]:
            lines.append(f"| {label} | {count / 1e6:,.0f}M | {(count - previous) / 1e6:+,.0f}M | {count / ins['floor']:.2f}x |")
            previous = count
        lines.append(f"| `calc report` itself (argument parsing, evaluation, rendering, output) | {ins['miss'] / 1e6:,.0f}M | "
                     f"{(ins['miss'] - previous) / 1e6:+,.0f}M | {ins['miss'] / ins['floor']:.2f}x |")
        skipped, layers = ins["attribution"][0][1], ins["attribution"][1][1]  # loader skipped; + calc.layers
        room = MISS_TARGET * ins["floor"] - skipped
        lines += ["", f"calc skips pydantic's plugin loader ({(ins['floor'] - skipped) / 1e6:,.0f}M that the floor "
                  f"spends); that leaves {room / 1e6:,.0f}M for all of calc's own work under the {MISS_TARGET}x target. "
                  f"Building the record classes alone takes {(layers - skipped) / 1e6:,.0f}M"
                  + (", more than that: " if layers - skipped > room else "; ")
                  + "the rest is calc's other modules and the validation and build of the spec's records."]
    u = cli["uncached"]
    lines.append("")
    if "error" in u:
        lines.append(f"Without calc's bytecode cache: not measured ({u['error']}).")
    else:
        lines.append(f"Without calc's bytecode cache ({u['label']} venv; a copy of calc without `__pycache__` first on the "
                     f"import path, PYTHONDONTWRITEBYTECODE=1, checked: calc imported from the copy, nothing written): "
                     f"`python -m calc report {RESNET50} --no-cache` takes {u['uncached_s'] * 1000:.0f} ms, against "
                     f"{u['cached_s'] * 1000:.0f} ms for the venv's compiled calc (median of {u['reps']}): what the first "
                     f"run after an edit costs.")
    lines.append("")
    return lines


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
        *cli_summary_rows(cli),
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
                     f"({th['wall_s']:.1f} s wall) vs calc {cli_miss_s(cli):.2f} s wall | n/a |")
    lines += ["", *cli_section(cli),
              f"Stages of the same command (`{os.path.basename(sys.executable)}`, the repository on PYTHONPATH, cache off), "
              f"in a fresh interpreter (median of {r['stages']['reps']}):", "",
              "| stage | ms |", "|---|---:|"]
    st = r["stages"]
    for k in STAGE_NAMES:
        lines.append(f"| {k} | {st[k] * 1000:.1f} |")
    lines += ["", f"`-X importtime` of `calc report` with the cache off: {imp['total_ms']:.0f} ms of imports in all. Top-level imports by cumulative time:", "",
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
                     f"calc end to end: {cli_miss_s(cli):.2f} s, i.e. {th['wall_s'] / cli_miss_s(cli):.0f}x faster.")
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
    report llama2_7b` within 1.2x of `calc report resnet50` (interleaved runs, wall time); issue
    12's: 10,000 (batch, sequence) points of llama2_7b in <= 2 s (its closed form evaluated)."""
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
    log("[transformers] a sweep of 10,000 (batch, sequence) points of llama2_7b through its closed form")
    sweep = child_json(f"""
        import json, time
        from calc.network import load_network
        from calc.closed_form import closed_form
        from calc import conventions
        from calc.symbolic import sympy
        net = load_network({LLAMA!r})
        conv = conventions.get("2mac")
        a = time.perf_counter()
        form = closed_form(net, conv, ("N", "T"))
        N, T = (sympy.Symbol(n, integer=True, positive=True) for n in ("N", "T"))
        terms = [(int(c), e[0], e[1]) for e, c in sympy.Poly(form.totals["flops"], N, T).terms()]
        build_s = time.perf_counter() - a
        points = [(1 + i % 100, 1 + (7919 * i) % 4096) for i in range(10_000)]
        a = time.perf_counter()
        values = [sum(c * n**i * t**j for c, i, j in terms) for n, t in points]
        sweep_s = time.perf_counter() - a
        checked = [values[k] == net.evaluate(conv, input_shape=points[k]).totals.flops
                   for k in range(0, 10_000, 500)]
        print(json.dumps({{"build_s": build_s, "sweep_s": sweep_s, "points": len(points),
                          "checked": len(checked), "agree": all(checked)}}))
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
    log("[transformers] calc report on Llama-2-7B's config.json vs on the spec calc import hf writes from it")
    config = str(ROOT / "tests" / "fixtures" / "hf" / "Llama-2-7b-hf.json")
    with tempfile.TemporaryDirectory() as tmp:
        written = str(Path(tmp) / "llama2_imported.yaml")
        made = py("-m", "calc", "import", "hf", config, "-o", written)
        if made.code != 0:
            raise RuntimeError(f"calc import hf failed: {made.stderr[-2000:]}")
        imported, spec = [], []
        for _ in range(reps):
            c = py("-m", "calc", "report", config, "--no-cache")
            w = py("-m", "calc", "report", written, "--no-cache")
            if c.code != 0 or w.code != 0:
                raise RuntimeError(f"calc report failed: {c.stderr[-2000:]}{w.stderr[-2000:]}")
            imported.append(c.seconds)
            spec.append(w.seconds)
    return inproc | {"sweep": sweep, "reps": reps, "n_eval": n_eval, "llama_s": median(llama), "resnet_s": median(resnet),
                     "ratio": median(llama) / median(resnet), "llama_all": llama, "resnet_all": resnet,
                     "config_s": median(imported), "written_s": median(spec),
                     "config_ratio": median(imported) / median(spec)}


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
        f"| a sweep of {t['sweep']['points']:,} (batch, sequence) points of `{LLAMA}`, 2mac (issue 12) | "
        f"<= 2 s | **{t['sweep']['sweep_s']:.3f} s** through its closed form in N and T (built once in "
        f"{t['sweep']['build_s']:.2f} s; {t['sweep']['checked']} points checked against "
        f"Network.evaluate: {'all equal' if t['sweep']['agree'] else 'MISMATCH'}) | "
        f"{verdict(t['sweep']['sweep_s'] + t['sweep']['build_s'] <= 2 and t['sweep']['agree'])} |",
        f"| `calc report` on Llama-2-7B's config.json vs on the spec `calc import hf` writes (wall, "
        f"--no-cache; issue 15) | <= 1.2x | {t['config_s'] * 1000:.0f} ms vs {t['written_s'] * 1000:.0f} ms = "
        f"**{t['config_ratio']:.2f}x** ({t['reps']} interleaved runs) | {verdict(t['config_ratio'] <= 1.2)} |",
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
    ap.add_argument("--cli-only", action="store_true",
                    help="run only the start-up section and print it (RESULTS.md is left as it is)")
    ap.add_argument("--pythons", default=",".join(OTHER_PYTHONS), metavar="X.Y[,X.Y...]",
                    help=f"other Python versions whose start-up is measured too, when found (default: "
                         f"{','.join(OTHER_PYTHONS)}; '' for none)")
    ap.add_argument("--oracle-python", default=os.environ.get(ORACLE_ENV) or None, metavar="PATH",
                    help=f"an interpreter with torch, torchvision and thop for the comparison (default: ${ORACLE_ENV})")
    args = ap.parse_args(argv)
    pythons = [v.strip() for v in args.pythons.split(",") if v.strip()]

    if args.cli_only:
        cli = bench_cli(3 if args.quick else 9, pythons)
        print("\n".join(["| benchmark | target | measured | verdict |", "|---|---|---|---|", *cli_summary_rows(cli),
                         "", *cli_section(cli)]))
        return 0

    if args.transformers:
        t = bench_transformers(args.quick)
        section = transformers_markdown(t)
        splice(section, LLM_BEGIN, LLM_END)
        print(section)
        return 0 if (t["evals_per_s"] >= 1000 and t["ratio"] <= 1.2 and t["sweep"]["agree"]
                     and t["config_ratio"] <= 1.2) else 1

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
    r["cli"] = bench_cli(reps, pythons)
    r["instructions"] = {"skipped": "--no-instructions"} if args.no_instructions else bench_instructions(args.quick)
    r["importtime"] = bench_importtime(1 if args.quick else 3)
    r["stages"] = bench_stages(RESNET50, 1 if args.quick else 3)
    r["inprocess"] = bench_inprocess(args.quick)
    r["symbolic"] = bench_symbolic(args.quick)
    r["thop"] = bench_thop(args.quick, args.oracle_python)
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
