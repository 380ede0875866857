"""What a new user meets first on the command line (issue 16): --version, a help text for every
option, the layer kinds one line each, --format documented, one list syntax, PyTorch names, and
the model library by name, from stdin, to stdout."""

from __future__ import annotations

import argparse
import io
import os
import re

import pytest

import calc
from calc.cli import FORMAT_HELP, KIND_LINES, build_parser, kind_line, main
from calc.layers import REGISTRY
from calc.library import library_names, library_path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESNET18 = os.path.join(ROOT, "specs", "resnet18.yaml")
SPATIAL = ["--Cin", "4", "--H", "16", "--W", "16"]
TINY = "name: tiny\ninput: [3, 16, 16]\nlayers:\n  - {type: conv, K: 3, Cout: 4, padding: 1}\n"


def run(capsys, argv):
    capsys.readouterr()
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def all_parsers(parser: argparse.ArgumentParser, prog: str = "calc"):
    """(prog, parser) for the parser and every sub-command, recursively."""
    yield prog, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from all_parsers(sub, f"{prog} {name}")


PARSERS = dict(all_parsers(build_parser(layer_kinds=True)))


# -- --version and --help ------------------------------------------------------------------------


def test_version(capsys):
    code, out, err = run(capsys, ["--version"])
    assert (code, out, err) == (0, f"calc {calc.__version__}\n", "")


@pytest.mark.parametrize("prog", sorted(PARSERS))
def test_every_option_has_a_help_text(prog):
    """Every option and positional argument of every (sub-)command, the layer kinds' fields
    included, says what it is (`calc layer conv --help` used to show a bare `--K V`)."""
    bare = [a.option_strings or [a.dest] for a in PARSERS[prog]._actions
            if not isinstance(a, argparse._SubParsersAction) and (not a.help or a.help == argparse.SUPPRESS)]
    assert bare == []
    assert not [a.dest for a in PARSERS[prog]._actions if a.metavar == "V"]


@pytest.mark.parametrize("kind", sorted(REGISTRY))
def test_layer_field_help_and_metavar(kind):
    """A field's help is its description (or its type in words), its metavar says the type, and
    a field that takes a list says both list syntaxes."""
    parser = PARSERS[f"calc layer {kind}"]
    cls = REGISTRY[kind]
    for action in parser._actions:
        name = action.option_strings[0][2:] if action.option_strings else None
        if name not in cls.model_fields:
            continue
        info = cls.model_fields[name]
        if info.description:
            assert action.help.startswith(info.description)
        if info.annotation is not bool:
            assert re.fullmatch(r"[A-Za-z0-9_,.|\[\]]+", action.metavar), action.metavar
        if "INT[,INT...]" in (action.metavar or ""):
            assert "1,7 or 1x7" in action.help


def test_conv_help_reads_like_a_manual(capsys):
    code, out, _ = run(capsys, ["layer", "conv", "--help"])
    assert code == 0
    assert "--K INT[,INT...]" in out and "--Cout INT" in out and "--padding INT[,INT...]|same|valid" in out
    assert "(required)" in out and "(default: 1)" in out


def test_layer_help_lists_every_kind_on_a_line(capsys):
    """`calc layer --help` lists each kind with one line of its own, not argparse's {a,b,...}
    run-on list nor a docstring cut mid-sentence."""
    code, out, _ = run(capsys, ["layer", "--help"])
    assert code == 0
    assert set(KIND_LINES) == set(REGISTRY)  # a new kind needs its line
    text = " ".join(out.split())
    for kind, cls in REGISTRY.items():
        assert f"{kind} {kind_line(kind, cls)}" in text
    assert "{adaptive_avgpool," not in out and "relu, relu6, leaky_relu" not in out


@pytest.mark.parametrize("prog", sorted(p for p, parser in PARSERS.items()
                                        if any(a.dest == "format" for a in parser._actions)))
def test_format_is_documented_wherever_it_is_taken(prog):
    action = next(a for a in PARSERS[prog]._actions if a.dest == "format")
    for choice in action.choices:
        assert f"{choice}: {FORMAT_HELP[choice]}" in action.help
    assert f"(default: {action.default})" in action.help


# -- one list syntax -----------------------------------------------------------------------------


def test_layer_lists_take_x_or_comma(capsys):
    """`--K 1x7` is `--K 1,7` (the --input syntax works for every list option)."""
    base = ["layer", "conv", "--Cout", "8", *SPATIAL, "--format", "json"]
    comma = run(capsys, [*base, "--K", "1,7", "--padding", "0,3"])
    times = run(capsys, [*base, "--K", "1x7", "--padding", "0x3"])
    assert comma[0] == 0 and comma == times
    assert f'"macs": {16 * 16 * 8 * 4 * 1 * 7}' in comma[1]


def test_input_takes_comma_or_x(capsys):
    comma = run(capsys, ["report", RESNET18, "--input", "3,64,64", "--format", "csv"])
    times = run(capsys, ["report", RESNET18, "--input", "3x64x64", "--format", "csv"])
    assert comma[0] == 0 and comma == times and "1x64x32x32" in comma[1]


# -- PyTorch names on the command line -----------------------------------------------------------


@pytest.mark.parametrize("argv, hint", [
    (["layer", "Conv2d"], "calc calls it 'conv'"),
    (["layer", "BatchNorm2d"], "calc calls it 'batchnorm'"),
    (["layer", "conv", "--kernel_size", "3", "--Cout", "8"], "calc calls it '--K'"),
    (["layer", "conv", "--K", "3", "--out_channels", "8"], "calc calls it '--Cout'"),
])
def test_pytorch_names_on_the_command_line(capsys, argv, hint):
    code, out, err = run(capsys, argv)
    assert code == 2 and out == "" and err.count("\n") == 1 and hint in err


# -- the library, stdin and stdout ---------------------------------------------------------------


def test_list_shows_the_library_one_line_each(capsys):
    code, out, err = run(capsys, ["list"])
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == library_names()
    assert "resnet50" in library_names() and all(len(line.split()) >= 2 for line in lines)


def test_report_by_library_name(capsys, tmp_path, monkeypatch):
    """From any folder, `calc report resnet18` reads the shipped spec, as its path would."""
    monkeypatch.chdir(tmp_path)
    by_name = run(capsys, ["report", "resnet18", "--format", "csv"])
    by_path = run(capsys, ["report", library_path("resnet18"), "--format", "csv"])
    assert by_name[0] == 0 and by_name == by_path
    assert run(capsys, ["compare", "resnet18", "--format", "csv"])[0] == 0
    assert run(capsys, ["symbolic", "resnet18", "--format", "json"])[0] == 0


def test_a_file_of_that_name_wins_over_the_library(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "resnet18").write_text(TINY)
    code, out, _ = run(capsys, ["report", "resnet18"])
    assert code == 0 and out.startswith("tiny:")


def test_missing_name_suggests_a_library_spec(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, ["report", "resnet5"])
    assert code == 1 and out == ""
    assert err == ("resnet5: no such file, and no library spec of that name; did you mean 'resnet50'? "
                   "(expected a path to a YAML spec, or a library name (see 'calc list'))\n")


def test_missing_path_keeps_no_such_file(capsys, tmp_path):
    code, _, err = run(capsys, ["report", str(tmp_path / "resnet50.yaml")])
    assert code == 1 and err == f"{tmp_path / 'resnet50.yaml'}: no such file (expected a path to a YAML spec)\n"


def stdin(monkeypatch, text: str) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(text.encode("utf-8"))))


def test_report_reads_stdin(capsys, monkeypatch, tmp_path):
    spec = tmp_path / "tiny.yaml"
    spec.write_text(TINY)
    stdin(monkeypatch, TINY)
    from_stdin = run(capsys, ["report", "-", "--format", "json"])
    assert from_stdin[0] == 0 and from_stdin == run(capsys, ["report", str(spec), "--format", "json"])


def test_stdin_errors_are_named_stdin(capsys, monkeypatch):
    stdin(monkeypatch, TINY.replace("Cout: 4", "Cout: ch"))
    code, out, err = run(capsys, ["report", "-"])
    assert code == 1 and out == ""
    assert err.startswith("<stdin>:4:24: 0.Cout: 'ch' is not a number")


@pytest.mark.parametrize("argv", [
    ["report", RESNET18, "--format", "csv"], ["compare", RESNET18, "--format", "csv"],
    ["derive", "conv"], ["check", "K^2*Cin*Cout*Hout*Wout", "--against", "conv.macs"],
])
def test_output_dash_is_stdout(capsys, tmp_path, monkeypatch, argv):
    monkeypatch.chdir(tmp_path)
    to_stdout = run(capsys, argv)
    dash = run(capsys, [*argv, "-o", "-"])
    assert dash[0] == 0 and dash == to_stdout and not (tmp_path / "-").exists()


def test_layer_output_dash_is_stdout(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = ["layer", "conv", "--K", "3", "--Cout", "8", *SPATIAL]
    assert run(capsys, [*argv, "-o", "-"]) == run(capsys, argv) and not (tmp_path / "-").exists()


@pytest.mark.parametrize("prog", sorted(p for p, parser in PARSERS.items()
                                        if any(a.dest == "output" for a in parser._actions)))
def test_every_output_option_says_dash_is_stdout(prog):
    action = next(a for a in PARSERS[prog]._actions if a.dest == "output")
    assert action.help.endswith("'-' is stdout")


def test_unreadable_stdin_is_one_line(capsys):
    """Found by the long fuzz run: `calc report -` with a stdin that cannot be read (here
    pytest's capture, which raises OSError) printed a traceback."""
    code, out, err = run(capsys, ["report", "-"])
    assert code == 1 and out == ""
    assert err.startswith("<stdin>: cannot read standard input: ") and err.count("\n") == 1, err


def test_a_one_size_input_flag_is_a_list_of_one(capsys):
    """`--input 5` for a field that takes only lists (a tensor's per-sample shape) is [5], as
    `--input 2,5` is [2, 5] (it was refused: 'Input should be a valid list, got 5')."""
    code, out, err = run(capsys, ["layer", "embedding", "--num_embeddings", "10", "--embedding_dim", "8",
                                  "--input", "5", "--format", "csv"])
    assert code == 0, err
    rows = [line for line in out.splitlines() if line and not line.startswith("#")]
    assert any(",embedding," in line and "1x5x8" in line for line in rows), out
