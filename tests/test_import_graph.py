"""The import graph of `calc`, read from the source with `ast` (nothing is imported to build it).

Imports are split by where they run: module level (at import time; `if TYPE_CHECKING:` blocks
excluded, as they never run) and function level (lazy, when the function is called).

- No cycle among module-level imports: importing any module first works, whatever the order;
  and none either when function-level imports are counted too.
- `calc.symbolic` is the sympy backend that `calc.arith` calls on symbolic values: it imports
  nothing from calc but `calc.errors` and `calc.limits`, at any level, so the numeric path
  (arith -> symbolic) can never lead back into layers, reports or networks.  (Issue 16: it used
  to be the closed-form engine too, importing `calc.report` and `calc.layers` in functions, a
  cycle arith -> symbolic -> report -> layers -> arith; that engine is now `calc.closed_form`.)
- Only `calc.symbolic` imports sympy; everything else gets it from there.
And, in fresh interpreters: integer arithmetic loads no sympy, and the backend loads no records.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "calc"
BACKEND = "calc.symbolic"
BACKEND_MAY_IMPORT = {"calc.errors", "calc.limits"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _target(name: str) -> str:
    """The calc module that importing `name` executes last: `name` itself, or for
    `from calc.layers import REGISTRY` the package `calc.layers`."""
    while name not in MODULES and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def _imported(module: str, node: ast.Import | ast.ImportFrom) -> list[str]:
    """Absolute names of what an import statement in `module` loads."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:  # relative: from the module's package, one level up per extra dot
        package = module if MODULES[module].name == "__init__.py" else module.rsplit(".", 1)[0]
        for _ in range(node.level - 1):
            package = package.rsplit(".", 1)[0]
        base = f"{package}.{base}" if base else package
    # `from calc import conventions` loads the module calc.conventions; `from calc.x import f`, calc.x
    return [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports(module: str) -> dict[str, set[str]]:
    """{"module": names, "function": names}: every name `module` imports (calc or not)."""
    found: dict[str, set[str]] = {"module": set(), "function": set()}

    def visit(node: ast.AST, level: str) -> None:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found[level].update(_imported(module, node))
            return
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:  # the body never runs
                visit(child, level)
            return
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            level = "function"
        for child in ast.iter_child_nodes(node):
            visit(child, level)

    visit(ast.parse(MODULES[module].read_text(encoding="utf-8"), str(MODULES[module])), "module")
    return found


IMPORTS = {m: imports(m) for m in MODULES}


def calc_edges(level: str) -> dict[str, set[str]]:
    """module -> the calc modules it imports at that level (itself excluded)."""
    return {m: {_target(n) for n in found[level] if n == "calc" or n.startswith("calc.")} - {m}
            for m, found in IMPORTS.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as [a, b, ..., a], or None (depth-first search, three colours)."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def dfs(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := dfs(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := dfs(node)):
            return cycle
    return None


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = {start}, [start]
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


# -- the graph reader itself ---------------------------------------------------------------------


def test_the_reader_sees_both_levels_and_skips_type_checking():
    # calc.arith reaches the backend only inside its helpers; calc.report imports at the top;
    # calc/__init__ names its lazy modules under TYPE_CHECKING only.
    assert BACKEND in calc_edges("function")["calc.arith"]
    assert BACKEND not in calc_edges("module")["calc.arith"]
    assert {"calc.conventions", "calc.cost", "calc.layers"} <= calc_edges("module")["calc.report"]
    assert calc_edges("module")["calc"] == set()
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


# -- the graph ----------------------------------------------------------------------------------


def test_no_cycle_among_module_level_imports():
    assert find_cycle(calc_edges("module")) is None, " -> ".join(find_cycle(calc_edges("module")))


def test_no_cycle_even_counting_function_level_imports():
    # the "no cycle": a lazy import inside a function still makes one module need the other
    everything = {m: calc_edges("module")[m] | calc_edges("function")[m] for m in MODULES}
    assert find_cycle(everything) is None, " -> ".join(find_cycle(everything))


def test_the_backend_imports_only_errors_and_limits_at_any_level():
    for level in ("module", "function"):
        extra = calc_edges(level)[BACKEND] - BACKEND_MAY_IMPORT
        assert not extra, f"{BACKEND} imports {sorted(extra)} at {level} level"
    everything = {m: calc_edges("module")[m] | calc_edges("function")[m] for m in MODULES}
    # so nothing it loads, even lazily, can come back to it (the old arith -> symbolic ->
    # report -> layers -> arith cycle)
    assert reachable(everything, BACKEND) <= {BACKEND} | BACKEND_MAY_IMPORT


def test_the_closed_form_engine_gets_sympy_from_the_backend():
    engine = calc_edges("module")["calc.closed_form"]
    assert BACKEND in engine and {"calc.report", "calc.layers"} <= engine


def test_only_the_backend_imports_sympy():
    importers = sorted(m for m, found in IMPORTS.items()
                       if any(n.split(".")[0] == "sympy" for n in found["module"] | found["function"]))
    assert importers == [BACKEND]


# -- fresh interpreters -------------------------------------------------------------------------


def _loaded_after(code: str) -> set[str]:
    """Names in sys.modules after running `code` in a fresh interpreter at the repository root."""
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    script = textwrap.dedent(code) + "\nimport sys\nprint(' '.join(sorted(sys.modules)))\n"
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


def test_integer_arithmetic_loads_no_sympy():
    loaded = _loaded_after("""
        from calc.arith import ceil_div, exact_div, gcd_, max_, min_, select
        assert exact_div(12, 4) == 3 and ceil_div(7, 2) == 4 and gcd_(12, 18) == 6
        assert (max_(2, 3), min_(2, 3), select((3, 2), 1, 0)) == (3, 2, 1)
    """)
    assert "calc.arith" in loaded
    assert not {"sympy", BACKEND} & loaded


def test_the_backend_loads_no_records_reports_or_networks():
    loaded = _loaded_after("""
        from calc import symbolic
        H = symbolic.symbols("H")
        assert symbolic.gcd(2 * H, H) == H and symbolic.is_closed_form(H**2 + 1)
    """)
    assert "sympy" in loaded
    assert {m for m in loaded if m.startswith("calc")} <= {"calc", BACKEND} | BACKEND_MAY_IMPORT
    assert not {"calc.report", "calc.network", "calc.layers", "calc.closed_form", "pydantic"} & loaded
