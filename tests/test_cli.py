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
import signal
import textwrap
from contextlib import redirect_stdout
from dataclasses import dataclass
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
    "groupnorm": ["--groups", "2", *SPATIAL],
    "upsample": ["--scale_factor", "2", *SPATIAL],
    "softmax": ["--dim", "1", *SPATIAL],
    "concat": ["--Cin", "8,8", "--H", "8", "--W", "8"],
    "permute": ["--dims", "0,2,1", "--input", "5,8"],
    "transpose": ["--dim0", "1", "--dim1", "2", "--input", "5,8"],
    "reshape": ["--shape", "10,4", "--input", "5,8"],
    "view": ["--shape", "4,10", "--input", "5,8"],
    "split": ["--sizes", "3,5", "--index", "1", "--input", "5,8"],
    "chunk": ["--chunks", "2", "--index", "0", "--input", "5,8"],
    "matmul": ["--other", "8,3", "--other_is", "buffer", "--input", "5,8"],
    "einsum": ["--equation", "nij->nj", "--input", "5,8"],
    "scale": ["--input", "5,8"],
    "embedding": ["--num_embeddings", "10", "--embedding_dim", "8", "--input", "2,5"],
    "attention": ["--heads", "4", "--input", "5,16", "--causal"],
    "moe": ["--experts", "4", "--top_k", "2", "--hidden", "8", "--input", "5,16"],
    "class_token": ["--input", "5,16"],
    "position_embedding": ["--input", "5,16", "--rows", "8", "--lookup"],
    "select": ["--input", "5,16"],
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
    (["layer"], "required: KIND"),
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
        # the header row follows the '# key: value' lines that say what was computed (issue 16)
        rows = [line for line in out.splitlines() if not line.startswith("#")]
        assert rows[0].startswith("path,kind,output,params")
    elif fmt == "md":
        assert "| **total** |" in out
    elif fmt == "latex":
        assert "\\begin{longtable}" in out and "\\end{longtable}" in out  # breaks across pages (issue 16)


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
    for dtype, size in (("fp64", 8), ("fp32", 4), ("fp16", 2), ("bf16", 2), ("fp8", 1), ("int8", 1)):
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
    target nor the temporary file; an interrupt there is one line and exit 130 (it used to be
    a traceback).  Real signals: tests/test_cli_files.py."""
    import calc.files

    target = tmp_path / "out.txt"
    target.write_text("previous\n")

    def boom(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(calc.files.os, "replace", boom)
    try:
        code, out, err = run(capsys, ["report", net, "-o", str(target)])
    except KeyboardInterrupt:
        pytest.fail("main let KeyboardInterrupt through: a traceback at the command line")
    assert (code, out, err) == (130, "", "calc: interrupted by SIGINT\n")
    assert target.read_text() == "previous\n"
    assert sorted(os.listdir(tmp_path)) == ["out.txt", "tiny.yaml"]

    def fail(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(calc.files.os, "replace", fail)
    code, out, err = run(capsys, ["report", net, "-o", str(target)])
    assert code == 2 and "cannot write " in err and "no space left on device" in one_line(err, usage=True)
    assert target.read_text() == "previous\n" and sorted(os.listdir(tmp_path)) == ["out.txt", "tiny.yaml"]


@pytest.mark.parametrize("extra, code, fragment", [
    (["--depth", "0"], 2, "--depth must be a positive int, got 0"),
    (["--depth", "x"], 2, "argument --depth: invalid int value: 'x'"),
    (["--top", "-1"], 2, "--top must be a positive int, got -1"),
    (["--input", "abc"], 2, "--input 'abc' is not a shape"),
    (["--input", "3x0x32"], 2, "--input '3x0x32' is not a shape"),
    (["--input", "3x32"], 2, "--input 3x32 has 2 sizes, the spec's input has 3"),
    (["--input", "1x3x32x32"], 2, "--input 1x3x32x32 has 4 sizes, the spec's input has 3 (expected the same "
                                  "number of sizes; the batch is --batch N)"),
    (["--input", "3x1_6x16"], 2, "--input '3x1_6x16' is not a shape"),
    (["--input", " 3x16x16"], 2, "--input ' 3x16x16' is not a shape"),
    (["--input", "3x16x" + "1" * 101], 2, "a size of 101 digits, more than 100 (expected sizes of at most 100 digits)"),
    (["--batch", "0"], 2, "--batch must be a positive int, got 0 (expected 1 or more)"),
    (["--batch", "-2"], 2, "--batch must be a positive int, got -2"),
    (["--batch", "two"], 2, "argument --batch: invalid int value: 'two'"),
    (["--batch", "1_0"], 2, "argument --batch: invalid int value: '1_0'"),
    (["--batch", "1" * 101], 2, "argument --batch: an int of 101 digits, more than 100"),
    (["--depth", "9" * 5000], 2, "argument --depth: an int of 5,000 digits, more than 100"),
    (["--top", "x" * 5000], 2, "argument --top: invalid int value: 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'... (5,000 characters)"),
    (["--input", "3x1x1"], 1, "pool.K: window 2 is larger than the padded input 1"),
    (["--dtype", "fp4"], 2, "invalid choice: 'fp4'"),
    (["--format", "xml"], 2, "invalid choice: 'xml'"),
    (["--convention", "flops"], 2, "unknown convention 'flops'"),
    (["-o", "/nonexistent-dir/x.txt"], 2, "cannot write /nonexistent-dir/x.txt"),
])
def test_report_bad_options(capsys, net, extra, code, fragment):
    got, out, err = run(capsys, ["report", net, *extra])
    assert got == code and out == ""
    assert fragment in one_line(err, usage=code == 2)


@pytest.mark.parametrize("argv", [["report"], ["compare", "--conventions", "exact"]])
def test_batch_and_input(capsys, net, argv):
    """--input is one sample's shape, --batch the batch: every count but the parameters scales
    with the batch, and the input size as the layers say."""
    command, *rest = argv
    key = "macs"

    def totals(*extra):
        code, out, err = run(capsys, [command, net, *rest, *extra, "--format", "json"])
        assert code == 0, err
        data = json.loads(out)
        return data["totals"] if command == "report" else {"params": data["params"], "macs": data["macs"]}

    one = totals()
    four = totals("--batch", "4")
    assert four[key] == 4 * one[key] and four["params"] == one["params"]
    both = totals("--batch", "4", "--input", "3x64x64")
    assert both[key] == 4 * totals("--input", "3x64x64")[key] and both["params"] == one["params"]


def test_report_batch_shape(capsys, net):
    data = _totals(capsys, ["report", net, "--batch", "3", "--input", "3x16x16"])
    assert data["input_shapes"] == [[3, 3, 16, 16]]
    data = _totals(capsys, ["report", net, "--batch", "3"])
    assert data["input_shapes"] == [[3, 3, 32, 32]]


def test_symbolic_batch(capsys, net):
    """The closed form does not depend on the batch it is computed at, only its check point."""
    code, plain, err = run(capsys, ["symbolic", net, "--vars", "N,H,W", "--format", "json"])
    assert code == 0, err
    code, batched, err = run(capsys, ["symbolic", net, "--vars", "N,H,W", "--batch", "2", "--format", "json"])
    assert code == 0, err
    assert json.loads(plain)["totals"] == json.loads(batched)["totals"]
    code, out, err = run(capsys, ["symbolic", net, "--batch", "0"])
    assert code == 2 and "--batch must be a positive int" in one_line(err, usage=True)


@pytest.mark.parametrize("argv", [
    ["layer", "conv", "--K", "1" * 5000, "--Cout", "16", *SPATIAL],
    ["layer", "conv", "--K", "3", "--Cout", "1" * 200, *SPATIAL],
    ["check", "K*K", "--against", "conv.params", "--set", "Cin=" + "7" * 5000],
])
def test_huge_ints_are_refused_short(capsys, argv):
    """Ints over 100 digits on the command line are refused in a short line (nothing converts a
    huge int to text: with Python's 4,300-digit limit in place that would be a traceback)."""
    code, out, err = run(capsys, argv)
    assert code == 2 and out == "" and len(one_line(err, usage=True)) < 300
    assert "more than 100" in err


@pytest.mark.parametrize("argv", [["conventions"], ["layer", "linear", "--Cin", "4", "--Cout", "2"], ["report", None]])
def test_main_leaves_the_int_digit_limit_alone(capsys, monkeypatch, net, argv):
    """main used to lift Python's process-wide int-to-text digit limit for the whole run."""
    def refuse(limit):
        raise AssertionError(f"sys.set_int_max_str_digits({limit}) called")

    monkeypatch.setattr(sys, "set_int_max_str_digits", refuse)
    code, out, err = run(capsys, [a if a is not None else net for a in argv])
    assert code == 0 and err == ""


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
    """--help prints and main returns 0 (main never raises SystemExit)."""
    code, out, err = run(capsys, [command, "--help"])
    assert code == 0 and err == ""
    assert out.startswith(f"usage: calc {command}")


@pytest.mark.parametrize("command", subcommands())
def test_every_subcommand_bad_option(capsys, command):
    code, out, err = run(capsys, [command, "--definitely-not-an-option"])
    assert code == 2 and out == ""
    one_line(err, usage=True)


def test_no_command(capsys):
    code, out, err = run(capsys, [])
    assert code == 2 and "required: COMMAND" in one_line(err, usage=True)


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
    from calc.conventions import distinct_for

    assert "resnet18" in out and all(name in out for name in distinct_for({"conv"}))
    assert "palm" not in out  # the LLM conventions are for language models
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
    # ptflops' Upsample hook counts one sample: out/N^2 of the batch, a fraction at batch 3
    ("name: t\ninput: [1, 1, 1]\nbatch: 3\nlayers:\n  - {type: upsample, name: up, scale_factor: 2}\n", "ptflops"),
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
SPEC_FILE = re.compile(r"[\w./-]+\.ya?ml")
MISSING_HEADING = "Missing file"
"""The one example that may name a file the catalogue does not define (and say "no such file")."""


@dataclass
class Example:
    """A console example: `$ calc ARGV  # SIGNAL`, the stderr lines shown, the exit status."""

    argv: str
    expected: list[str]
    code: int | None
    span: tuple[int, int]
    section: str
    heading: str
    signal: str | None = None


def parse_catalogue(text: str):
    """Files (name -> (text, read_only)), Python examples (code, expected stdout, span) and
    console examples (`Example`), each console example with its `##` section and its heading."""
    lines = text.splitlines()
    files, pythons, consoles = {}, [], []
    section = heading = ""
    i = 0
    while i < len(lines):
        if lines[i].startswith("## "):
            section = heading = lines[i][3:].strip()
        elif lines[i].startswith("### "):
            heading = lines[i][4:].strip()
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
        named = re.fullmatch(r"`([\w.-]+)`(?: \((.*)\))?:", before.strip())
        if lang in ("yaml", "text") and named:
            files[named.group(1)] = ("\n".join(body) + "\n", "read-only" in (named.group(2) or ""))
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
            command, _, comment = body[0][len("$ calc "):].partition("#")
            sig = re.match(r"\s*(SIG[A-Z]+)\b", comment)
            exit_lines = [k for k, line in enumerate(body) if re.fullmatch(r"\[exit \d+\]", line)]
            code = int(body[exit_lines[0]][6:-1]) if exit_lines else None
            consoles.append(Example(command.strip(), body[1:exit_lines[0]] if exit_lines else body[1:], code,
                                    (start, end), section, heading, sig.group(1) if sig else None))
        i = end + 1
    return files, pythons, consoles


def _raised_classes(monkeypatch) -> list[type]:
    """Record the class of every CalcError rendered (main renders the one it reports last)."""
    from calc.errors import CalcError

    seen: list[type] = []
    original = CalcError.one_line

    def one_line(self):
        seen.append(type(self))
        return original(self)

    monkeypatch.setattr(CalcError, "one_line", one_line)
    return seen


def _intent_problems(example: Example, files: dict, got: list[str], got_code: int, raised: type | None) -> list[str]:
    """Ways an example fails to show what its heading says (whatever it printed)."""
    import calc.errors as errors

    where = f"calc {example.argv} (under '{example.heading}')"
    problems = []
    for name in SPEC_FILE.findall(example.argv):
        if name not in files and example.heading != MISSING_HEADING:
            problems.append(f"{where}: names {name}, which the catalogue does not define")
    if any("no such file" in line for line in got) != (example.heading == MISSING_HEADING):
        problems.append(f"{where}: 'no such file' belongs to the '{MISSING_HEADING}' example only: {got!r}")
    cls = getattr(errors, example.section, None)
    if isinstance(cls, type) and issubclass(cls, errors.CalcError) and cls is not errors.CalcError:
        if got_code != cls.exit_code:
            problems.append(f"{where}: exit {got_code}, a {example.section} exits {cls.exit_code}")
        documented = [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, errors.CalcError)]
        narrower = [c for c in documented if c is not cls and issubclass(c, cls) and raised and issubclass(raised, c)]
        if raised is not None and (not issubclass(raised, cls) or narrower):
            problems.append(f"{where}: raises {raised.__name__}, not a {example.section}")
    elif example.signal:
        want = 128 + getattr(signal, example.signal)
        if got_code != want:
            problems.append(f"{where}: exit {got_code}, {example.signal} exits {want}")
    return problems


def _needs_permission_bits(example: Example, files: dict) -> bool:
    return any(files.get(name, ("", False))[1] for name in shlex.split(example.argv))


def test_error_catalogue(tmp_path, monkeypatch, capsys):
    from test_cli_files import interrupt_while_writing, run_bound_by_permissions

    with open(ERRORS_DOC, encoding="utf-8") as fh:
        text = fh.read()
    files, pythons, consoles = parse_catalogue(text)
    assert len(consoles) >= 20 and len(files) >= 15
    assert sum(e.heading == MISSING_HEADING for e in consoles) == 1
    for name, (content, read_only) in files.items():
        (tmp_path / name).write_text(content)
        if read_only:
            (tmp_path / name).chmod(0o444)
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
    raised_log = _raised_classes(monkeypatch)
    for example in consoles:
        argv = shlex.split(example.argv)
        raised = None
        if example.signal:
            got_code, err, _ = interrupt_while_writing(argv, tmp_path, getattr(signal, example.signal))
        elif _needs_permission_bits(example, files) and os.geteuid() == 0:
            got_code, err = run_bound_by_permissions(argv, tmp_path)
        else:
            capsys.readouterr()
            del raised_log[:]
            got_code = main(argv)
            err = capsys.readouterr().err
            raised = raised_log[-1] if raised_log else None
        got = err.splitlines()
        replacements.append(((example.span[0] + 1, example.span[1]), [*got, f"[exit {got_code}]"]))
        problems += _intent_problems(example, files, got, got_code, raised)
        if not yaml.__with_libyaml__ and any("YAML syntax:" in line for line in example.expected):
            continue  # syntax messages are LibYAML's; PyYAML's pure-Python parser words them differently
        if got != example.expected or got_code != example.code:
            problems.append(f"calc {example.argv}: expected {example.expected!r} [exit {example.code}], "
                            f"got {got!r} [exit {got_code}]")
        if got_code != 0:
            assert len(got) == 1, f"calc {example.argv}: not one line: {got!r}"
            assert ("error: " in got[0][:7]) == (got_code == 2)
    if os.environ.get("FLOPCALC_UPDATE_ERRORS_DOC"):
        for (start, end), new in sorted(replacements, reverse=True):
            lines[start:end] = new
        with open(ERRORS_DOC, "w", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")
        assert not [p for p in problems if "(under '" in p], "\n".join(problems)
        return
    assert not problems, "docs/errors.md is stale (FLOPCALC_UPDATE_ERRORS_DOC=1 rewrites it):\n" + "\n".join(problems)


def test_catalogue_intent_checks_catch_the_old_drift():
    """The examples that showed "no such file" under 'Bad --input' and 'Unwritable output'
    (net.yaml was not defined: its block's caption did not match) fail the intent checks."""
    import calc.errors as errors

    old = textwrap.dedent("""\
        ## UsageError

        `net.yaml` (a valid spec) for the examples below:

        ```yaml
        name: tiny
        ```

        ### Bad --input

        ```console
        $ calc report net.yaml --input 3x0x32
        net.yaml: no such file (expected a path to a YAML spec)
        [exit 1]
        ```
        """)
    files, _, consoles = parse_catalogue(old)
    assert files == {} and len(consoles) == 1
    problems = _intent_problems(consoles[0], files, consoles[0].expected, 1, errors.YamlError)
    assert len(problems) == 4, problems  # undefined file, "no such file", exit 1, a YamlError
    fixed = old.replace("(a valid spec) for the examples below:", "(a valid spec):")
    files, _, consoles = parse_catalogue(fixed)
    assert list(files) == ["net.yaml"]
    line = "error: --input '3x0x32' is not a shape (expected positive sizes like 3x224x224)"
    assert _intent_problems(consoles[0], files, [line], 2, errors.UsageError) == []


def test_error_catalogue_states_the_bounds_in_force():
    """The prose states the bounds the code enforces (it said 16 MiB and 2,000,000 nodes after
    they had changed)."""
    from calc import yamlload
    from calc.limits import MAX_INT_DIGITS

    with open(ERRORS_DOC, encoding="utf-8") as fh:
        text = " ".join(fh.read().split())
    for statement in (f"{MAX_INT_DIGITS} decimal digits", f"{yamlload.MAX_BYTES // 2**20} MiB",
                      f"{yamlload.MAX_NODES:,} nodes", f"{yamlload.MAX_DEPTH} levels",
                      f"{yamlload.MAX_ALIAS_GROWTH} times the nodes it writes plus 100,000",
                      f"nothing to read for {yamlload.STREAM_WAIT_S:g} s"):
        assert statement in text, statement


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
