"""`calc.cli.main` for every subcommand, in-process, plus two subprocess checks of what gets
imported, and the error catalogue (docs/errors.md) re-run example by example.

Set FLOPCALC_UPDATE_ERRORS_DOC=1 to rewrite the outputs in docs/errors.md from the tool instead
of comparing them (then review the diff).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import textwrap
from contextlib import redirect_stdout
from io import StringIO

import pytest
import yaml

from calc.cli import build_parser, main
from calc.conventions import CONVENTIONS, OPS
from calc.layers import REGISTRY

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESNET18 = os.path.join(ROOT, "specs", "resnet18.yaml")
RESNET50 = os.path.join(ROOT, "specs", "resnet50.yaml")
ERRORS_DOC = os.path.join(ROOT, "docs", "errors.md")
FORMATS = ("text", "md", "csv", "json", "latex")

NET = """\
name: tiny
input: [3, 32, 32]
layers:
  - {type: conv, name: conv1, K: 3, Cout: 16, padding: 1, bn: true, act: relu}
  - {type: maxpool, name: pool, K: 2, stride: 2}
  - type: residual
    name: block
    body:
      - {type: conv, name: conv2, K: 3, Cout: 16, padding: 1}
      - {type: batchnorm, name: bn2}
  - {type: global_avgpool, name: gap}
  - {type: flatten, name: flat}
  - {type: linear, name: fc, Cout: 10}
"""


def run(capsys, argv):
    capsys.readouterr()
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str, usage: bool) -> str:
    assert err.endswith("\n") and err.count("\n") == 1, f"not exactly one line: {err!r}"
    assert "Traceback" not in err
    assert err.startswith("error: ") == usage, err
    return err.rstrip("\n")


@pytest.fixture
def net(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(NET)
    return str(path)


# -- layer -------------------------------------------------------------------------------------

SPATIAL = ["--Cin", "8", "--H", "8", "--W", "8"]
LAYER_FLAGS = {
    "conv": ["--K", "3", "--Cout", "16", "--padding", "1", *SPATIAL],
    "depthwise": ["--K", "3", *SPATIAL],
    "pointwise": ["--Cout", "16", *SPATIAL],
    "separable": ["--K", "3", "--Cout", "16", *SPATIAL],
    "deconv": ["--K", "2", "--stride", "2", "--Cout", "4", *SPATIAL],
    "linear": ["--Cin", "64", "--Cout", "10"],
    "maxpool": ["--K", "2", "--stride", "2", *SPATIAL],
    "avgpool": ["--K", "2", "--stride", "2", *SPATIAL],
    "adaptive_avgpool": ["--output_size", "2", *SPATIAL],
    "adaptive_maxpool": ["--output_size", "2", *SPATIAL],
    "channel_shuffle": ["--groups", "2", *SPATIAL],
    "upsample": ["--scale_factor", "2", *SPATIAL],
    "softmax": ["--dim", "1", *SPATIAL],
    "concat": ["--Cin", "8,8", "--H", "8", "--W", "8"],
}


def layer_argv(kind: str) -> list[str]:
    return ["layer", kind, *LAYER_FLAGS.get(kind, SPATIAL)]


def test_layer_flags_cover_every_kind():
    """Every kind has its command (and this file knows valid flags for each)."""
    kinds = build_parser()._subparsers._group_actions[0].choices["layer"]._subparsers._group_actions[0].choices
    assert set(kinds) == set(REGISTRY)


@pytest.mark.parametrize("kind", sorted(REGISTRY))
def test_layer_every_kind(capsys, kind):
    code, out, err = run(capsys, layer_argv(kind))
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].startswith(kind), lines[0]
    assert lines[-1].startswith("total")
    assert re.search(r"\d", lines[-1])


@pytest.mark.parametrize("kind", sorted(REGISTRY))
def test_layer_every_kind_bad_flag(capsys, kind):
    code, out, err = run(capsys, [*layer_argv(kind), "--no-such-flag", "3"])
    assert code == 2 and out == ""
    assert "unrecognized arguments: --no-such-flag 3" in one_line(err, usage=True)


@pytest.mark.parametrize("argv, fragment", [
    (["layer", "conv", "--K", "3", "--Cin", "8", "--Cout", "16", "--H", "8"], "--W: input size incomplete"),
    (["layer", "conv", "--K", "0", "--Cout", "16", *SPATIAL], "--K: invalid value, got 0"),
    (["layer", "conv", "--K", "1.5", "--Cout", "16", *SPATIAL], "--K: invalid value, got 1.5"),
    (["layer", "conv", "--K", "3", "--Cout", "16", "--padding", "sam", *SPATIAL], "'same', 'valid'"),
    (["layer", "conv", "--K", "9", "--Cout", "16", *SPATIAL], "kernel 9"),
    (["layer", "conv", "--K", "3", "--Cout", "6", "--groups", "4", *SPATIAL], "groups=4 does not divide"),
    (["layer", "linear", "--Cout", "10"], "--Cin: input features not given"),
    (["layer", "nope"], "invalid choice: 'nope'"),
    (["layer"], "required: kind"),
])
def test_layer_bad_record_is_usage_error(capsys, argv, fragment):
    code, out, err = run(capsys, argv)
    assert code == 2 and out == ""
    assert fragment in one_line(err, usage=True)


@pytest.mark.parametrize("fmt", FORMATS)
def test_layer_every_format(capsys, fmt):
    code, out, err = run(capsys, [*layer_argv("conv"), "--format", fmt, "--dtype", "fp16"])
    assert code == 0 and err == ""
    if fmt == "json":
        data = json.loads(out)
        assert data["totals"]["macs"] == 16 * 8 * 8 * 8 * 9 and data["dtype"] == "fp16"
    else:
        assert "73" in out


def test_layer_units_and_convention(capsys):
    code, out, _ = run(capsys, [*layer_argv("conv"), "--units", "--convention", "2mac"])
    assert code == 0 and "73.73K" in out and "147.46K" in out


# -- report ------------------------------------------------------------------------------------


def test_report_default(capsys, net):
    code, out, err = run(capsys, ["report", net])
    assert code == 0 and err == ""
    assert out.startswith("tiny: input 1x3x32x32; convention exact")
    paths = [line.split()[0] for line in out.splitlines()[4:-2]]
    assert paths == ["conv1", "conv1.bn", "conv1.act", "pool", "block.conv2", "block.bn2", "block.add",
                     "gap", "flat", "fc"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_report_every_format(capsys, net, fmt):
    code, out, err = run(capsys, ["report", net, "--format", fmt])
    assert code == 0 and err == "" and out.endswith("\n")
    if fmt == "json":
        data = json.loads(out)
        assert [r["path"] for r in data["layers"]][:2] == ["conv1", "conv1.bn"]
        assert data["totals"]["macs"] == sum(r["macs"] for r in data["layers"])
    elif fmt == "csv":
        assert out.splitlines()[0].startswith("path,kind,output,params")
    elif fmt == "md":
        assert "| **total** |" in out
    elif fmt == "latex":
        assert out.startswith("\\begin{table}") and "\\end{tabular}" in out


def _totals(capsys, argv):
    code, out, err = run(capsys, [*argv, "--format", "json"])
    assert code == 0, err
    return json.loads(out)


def test_report_depth_collapses_keeping_totals(capsys, net):
    whole = _totals(capsys, ["report", net])
    top1 = _totals(capsys, ["report", net, "--depth", "1"])
    assert [r["path"] for r in top1["layers"]] == ["conv1", "pool", "block", "gap", "flat", "fc"]
    assert top1["totals"] == whole["totals"]
    block = next(r for r in top1["layers"] if r["path"] == "block")
    assert block["macs"] == sum(r["macs"] for r in whole["layers"] if r["path"].startswith("block."))


def test_report_top(capsys, net):
    whole = _totals(capsys, ["report", net])
    best = _totals(capsys, ["report", net, "--top", "2"])
    assert len(best["layers"]) == 2 and best["totals"] == whole["totals"]
    ranked = sorted(whole["layers"], key=lambda r: (r["flops"], r["macs"]), reverse=True)
    assert [r["path"] for r in best["layers"]] == [r["path"] for r in ranked[:2]]


def test_report_input(capsys, net):
    small = _totals(capsys, ["report", net])
    big = _totals(capsys, ["report", net, "--input", "3x64x64"])
    assert big["input_shapes"] == [[1, 3, 64, 64]]
    conv1 = lambda d: next(r for r in d["layers"] if r["path"] == "conv1")  # noqa: E731
    assert conv1(big)["macs"] == 4 * conv1(small)["macs"]


def test_report_dtype(capsys, net):
    for dtype, size in (("fp64", 8), ("fp32", 4), ("fp16", 2), ("bf16", 2), ("int8", 1)):
        data = _totals(capsys, ["report", net, "--dtype", dtype])
        assert data["totals"]["mem_bytes"] == size * data["totals"]["mem_access"]


def test_report_units(capsys, net):
    code, out, _ = run(capsys, ["report", net, "--units"])
    assert code == 0 and re.search(r"\d+\.\d\d[KMGT]", out)


def test_report_convention_and_fold_bn(capsys, net):
    exact = _totals(capsys, ["report", net])
    two = _totals(capsys, ["report", net, "--convention", "2mac"])
    assert two["totals"]["flops"] == 2 * two["totals"]["macs"] == 2 * exact["totals"]["macs"]
    folded = _totals(capsys, ["report", net, "--fold-bn"])
    assert not any(r["kind"] == "batchnorm" for r in folded["layers"])


def test_report_output_file(capsys, net, tmp_path):
    code, shown, _ = run(capsys, ["report", net, "--format", "csv"])
    target = tmp_path / "out" / "report.csv"
    target.parent.mkdir()
    code, out, err = run(capsys, ["report", net, "--format", "csv", "-o", str(target)])
    assert code == 0 and out == "" and err == ""
    assert target.read_text() == shown
    assert os.listdir(target.parent) == ["report.csv"]


def test_report_output_failed_run_leaves_no_file(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: t\ninput: [3, 8, 8]\nlayers: [{type: rellu}]\n")
    target = tmp_path / "out.txt"
    code, out, err = run(capsys, ["report", str(bad), "-o", str(target)])
    assert code == 1 and not target.exists()
    one_line(err, usage=False)
    target.write_text("previous\n")
    code, _, _ = run(capsys, ["report", str(bad), "-o", str(target)])
    assert code == 1 and target.read_text() == "previous\n"
    assert sorted(os.listdir(tmp_path)) == ["bad.yaml", "out.txt"]


def test_report_output_interrupted_write_is_atomic(capsys, net, tmp_path, monkeypatch):
    """A failure between writing the temporary file and renaming it leaves neither a partial
    target nor the temporary file."""
    import calc.files

    target = tmp_path / "out.txt"
    target.write_text("previous\n")

    def boom(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(calc.files.os, "replace", boom)
    with pytest.raises(KeyboardInterrupt):
        main(["report", net, "-o", str(target)])
    assert target.read_text() == "previous\n"
    assert sorted(os.listdir(tmp_path)) == ["out.txt", "tiny.yaml"]

    def fail(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(calc.files.os, "replace", fail)
    code, out, err = run(capsys, ["report", net, "-o", str(target)])
    assert code == 2 and "No space left on device" in one_line(err, usage=True)
    assert target.read_text() == "previous\n" and sorted(os.listdir(tmp_path)) == ["out.txt", "tiny.yaml"]


@pytest.mark.parametrize("extra, code, fragment", [
    (["--depth", "0"], 2, "--depth must be a positive int, got 0"),
    (["--depth", "x"], 2, "argument --depth: invalid int value: 'x'"),
    (["--top", "-1"], 2, "--top must be a positive int, got -1"),
    (["--input", "abc"], 2, "--input 'abc' is not a shape"),
    (["--input", "3x0x32"], 2, "--input '3x0x32' is not a shape"),
    (["--input", "3x32"], 2, "--input 3x32 has 2 sizes, the spec's input has 3"),
    (["--input", "3x1x1"], 1, "pool.K: window 2 is larger than the padded input 1"),
    (["--dtype", "fp8"], 2, "invalid choice: 'fp8'"),
    (["--format", "html"], 2, "invalid choice: 'html'"),
    (["--convention", "flops"], 2, "unknown convention 'flops'"),
    (["-o", "/nonexistent-dir/x.txt"], 2, "cannot write /nonexistent-dir/x.txt"),
])
def test_report_bad_options(capsys, net, extra, code, fragment):
    got, out, err = run(capsys, ["report", net, *extra])
    assert got == code and out == ""
    assert fragment in one_line(err, usage=code == 2)


def test_report_missing_file(capsys, tmp_path):
    code, out, err = run(capsys, ["report", str(tmp_path / "nope.yaml")])
    assert code == 1 and one_line(err, usage=False) == f"{tmp_path / 'nope.yaml'}: no such file (expected a path to a YAML spec)"


# -- the other subcommands ---------------------------------------------------------------------


def subcommands() -> list[str]:
    return sorted(build_parser()._subparsers._group_actions[0].choices)


def test_known_subcommands_exist():
    assert {"layer", "report", "symbolic", "compare", "schema", "conventions"} <= set(subcommands())


@pytest.mark.parametrize("command", subcommands())
def test_every_subcommand_help(capsys, command):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: calc {command}")


@pytest.mark.parametrize("command", subcommands())
def test_every_subcommand_bad_option(capsys, command):
    code, out, err = run(capsys, [command, "--definitely-not-an-option"])
    assert code == 2 and out == ""
    one_line(err, usage=True)


def test_no_command(capsys):
    code, out, err = run(capsys, [])
    assert code == 2 and "required: command" in one_line(err, usage=True)


def test_schema_is_json_schema(capsys):
    code, out, err = run(capsys, ["schema"])
    assert code == 0 and err == ""
    schema = json.loads(out)
    assert schema["type"] == "object" and "layers" in schema["properties"]
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for name in sorted(n for n in os.listdir(os.path.join(ROOT, "specs")) if n.endswith(".yaml")):
        with open(os.path.join(ROOT, "specs", name), encoding="utf-8") as fh:
            errors = list(validator.iter_errors(yaml.safe_load(fh)))
        assert not errors, f"{name}: {errors[0].message}"
    assert list(validator.iter_errors(yaml.safe_load(NET))) == []
    assert list(validator.iter_errors({"name": "t", "input": [3], "layers": [], "nope": 1}))


def test_conventions_lists_every_convention_and_op(capsys):
    code, out, err = run(capsys, ["conventions"])
    assert code == 0 and err == ""
    for name in CONVENTIONS:
        assert re.search(rf"(?m)^{re.escape(name)}: ", out), name
    for op in OPS:
        assert re.search(rf"(?m)^  {re.escape(op)}\s", out), op


def test_compare(capsys):
    code, out, err = run(capsys, ["compare", RESNET18])
    assert code == 0 and err == ""
    assert "resnet18" in out and all(name in out for name in CONVENTIONS)
    code, out, err = run(capsys, ["compare", RESNET18, "--conventions", "exact,2mac", "--format", "json"])
    assert code == 0
    json.loads(out)
    code, out, err = run(capsys, ["compare", RESNET18, "--conventions", "exact,nope"])
    assert code == 2 and "unknown convention 'nope'" in one_line(err, usage=True)


def test_symbolic(capsys, net):
    code, out, err = run(capsys, ["symbolic", net])
    assert code == 0 and err == ""
    assert "macs" in out and "H" in out and "checked against the numeric report" in out
    code, out, err = run(capsys, ["symbolic", net, "--vars", "C"])
    assert code == 2 and "'C' is not an input size" in one_line(err, usage=True)


@pytest.mark.skipif("derive" not in subcommands(), reason="no derive command")
def test_derive_list(capsys):
    code, out, err = run(capsys, ["derive", "--list"])
    assert code == 0 and err == "" and out.strip()
    code, out, err = run(capsys, ["derive", "no-such-topic"])
    assert code == 2 and out == ""
    one_line(err, usage=True)


@pytest.mark.skipif("check" not in subcommands(), reason="no check command")
def test_check_formula(capsys):
    code, out, err = run(capsys, ["check", "K*K*Cin*Cout", "--against", "conv.params", "--no-bias"])
    assert code == 0 and "holds" in out
    code, out, err = run(capsys, ["check", "K*K*Cin*Cout +", "--against", "conv.params"])
    assert code == 2 and out == ""
    one_line(err, usage=True)


# -- what gets imported (subprocesses with the real interpreter) ------------------------------


def _python(code: str) -> str:
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_import_calc_is_cheap():
    out = _python("import calc; import sys; print('sympy' in sys.modules, 'pydantic' in sys.modules)")
    assert out.strip() == "False False"


def test_report_does_not_import_sympy():
    out = _python(f"""
        import io, sys, contextlib
        from calc.cli import main
        with contextlib.redirect_stdout(io.StringIO()):
            code = main(["report", {RESNET50!r}])
        heavy = sorted({{m.split(".")[0] for m in sys.modules}} & {{"sympy", "mpmath", "numpy", "torch", "hypothesis"}})
        print(code, heavy)
    """)
    assert out.strip() == "0 []"


def test_report_does_not_import_sympy_importtime():
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "calc", "report", RESNET50],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0
    imported = {m.group(1) for m in re.finditer(r"\|\s+(\S+)\s*$", result.stderr, re.M)}
    assert "calc.network" in imported
    assert not {m for m in imported if m.split(".")[0] in ("sympy", "mpmath")}


# -- known bugs --------------------------------------------------------------------------------


@pytest.mark.parametrize("spec, convention", [
    ("name: t\ninput: [16, 8, 8]\nlayers:\n  - {type: deconv, name: up, K: 2, stride: 2, Cout: 8}\n", "calflops"),
    ("name: t\ninput: [3, 8, 8]\nbatch: 2\nlayers:\n  - {type: conv, name: c, K: 3, Cout: 4}\n", "ptflops"),
])
def test_convention_error_is_located(capsys, tmp_path, spec, convention):
    path = tmp_path / "c.yaml"
    path.write_text(spec)
    code, out, err = run(capsys, ["report", str(path), "--convention", convention])
    assert code == 1
    layer_line = next(i for i, line in enumerate(spec.splitlines(), 1) if "- {type" in line)
    assert one_line(err, usage=False).startswith(f"{path}:{layer_line}:5: ")


# -- the error catalogue -----------------------------------------------------------------------

FENCE = re.compile(r"^```(\w*)\s*$")


def parse_catalogue(text: str):
    """Files (name -> text), Python examples (code, expected stdout) and console examples
    (line index of the command, argv text, expected stderr lines, expected exit code)."""
    lines = text.splitlines()
    files, pythons, consoles = {}, [], []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        lang, start = m.group(1), i + 1
        end = start
        while not lines[end].startswith("```"):
            end += 1
        body = lines[start:end]
        before = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        named = re.fullmatch(r"`([\w.-]+)`(?: \(.*\))?:", before.strip())
        if lang == "yaml" and named:
            files[named.group(1)] = "\n".join(body) + "\n"
        elif lang == "python":
            after = end + 1
            while not lines[after].startswith("```"):
                after += 1
            out_start = after + 1
            out_end = out_start
            while not lines[out_end].startswith("```"):
                out_end += 1
            pythons.append(("\n".join(body) + "\n", lines[out_start:out_end], (out_start, out_end)))
        elif lang == "console":
            assert body and body[0].startswith("$ calc "), body
            exit_lines = [k for k, line in enumerate(body) if re.fullmatch(r"\[exit \d+\]", line)]
            code = int(body[exit_lines[0]][6:-1]) if exit_lines else None
            consoles.append((body[0][len("$ calc "):], body[1:exit_lines[0]] if exit_lines else body[1:],
                             code, (start, end)))
        i = end + 1
    return files, pythons, consoles


def test_error_catalogue(tmp_path, monkeypatch, capsys):
    with open(ERRORS_DOC, encoding="utf-8") as fh:
        text = fh.read()
    files, pythons, consoles = parse_catalogue(text)
    assert len(consoles) >= 20 and len(files) >= 15
    for name, content in files.items():
        (tmp_path / name).write_text(content)
    monkeypatch.chdir(tmp_path)
    lines = text.splitlines()
    replacements = []
    problems = []
    for code_text, expected, span in pythons:
        out = StringIO()
        with redirect_stdout(out):
            exec(compile(code_text, "docs/errors.md", "exec"), {})
        got = out.getvalue().splitlines()
        replacements.append((span, got))
        if got != expected:
            problems.append(f"python example: expected {expected!r}, got {got!r}")
    for argv, expected, code, span in consoles:
        capsys.readouterr()
        got_code = main(shlex.split(argv))
        out, err = capsys.readouterr()
        got = err.splitlines()
        replacements.append(((span[0] + 1, span[1]), [*got, f"[exit {got_code}]"]))
        if not yaml.__with_libyaml__ and any("YAML syntax:" in line for line in expected):
            continue  # syntax messages are LibYAML's; PyYAML's pure-Python parser words them differently
        if got != expected or got_code != code:
            problems.append(f"calc {argv}: expected {expected!r} [exit {code}], got {got!r} [exit {got_code}]")
        if got_code != 0:
            assert len(got) == 1, f"calc {argv}: not one line: {got!r}"
            assert ("error: " in got[0][:7]) == (got_code == 2)
    if os.environ.get("FLOPCALC_UPDATE_ERRORS_DOC"):
        for (start, end), new in sorted(replacements, reverse=True):
            lines[start:end] = new
        with open(ERRORS_DOC, "w", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")
        return
    assert not problems, "docs/errors.md is stale (FLOPCALC_UPDATE_ERRORS_DOC=1 rewrites it):\n" + "\n".join(problems)


def test_error_catalogue_covers_every_class():
    import calc.errors as errors

    with open(ERRORS_DOC, encoding="utf-8") as fh:
        text = fh.read()
    classes = [name for name, value in vars(errors).items()
               if isinstance(value, type) and issubclass(value, errors.CalcError)]
    assert set(classes) == {"CalcError", "SpecError", "YamlError", "ShapeError", "ConventionError", "UsageError"}
    for name in classes:
        assert re.search(rf"(?m)^## {name}$", text), name
        assert f"| `{name}` |" in text, name
