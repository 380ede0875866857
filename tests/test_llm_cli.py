"""The command line of LLM workloads: --mode, --phase, --context on report, compare, symbolic
and plot, and --format html (issue 12 and 14, their first parts)."""

import importlib.util

import pytest
from test_cli import one_line, run


def test_compare_training_prints_the_llm_table(capsys):
    code, out, err = run(capsys, ["compare", "gpt2", "--mode", "training"])
    assert code == 0 and err == ""
    for name, figure in (("hf", "522,584,064,000"), ("kaplan", "521,838,526,464"),
                         ("chinchilla", "1,113,446,154,240"), ("megatron", "816,962,863,104")):
        assert any(line.split() == [name, figure] for line in out.splitlines()), name
    assert "exact" not in out.split("where they differ")[0]  # no backward rule: not listed


def test_report_decode_step(capsys):
    code, out, err = run(capsys, ["report", "llama2_7b", "--phase", "decode", "--context", "4095"])
    assert code == 0 and err == ""
    assert out.startswith("llama2_7b: input 1x1;") and "; context 4,095" in out.splitlines()[0]
    assert "7,680,819,200" in out.splitlines()[-1]  # MACs: one token over 4,096 keys


@pytest.mark.parametrize("argv, code, words", [
    (["report", "llama2_7b", "--phase", "decode"], 2, "--phase decode needs --context"),
    (["report", "resnet18", "--context", "3"], 2, "--context: resnet18 has no self attention"),
    (["report", "resnet18", "--phase", "decode", "--context", "3"], 2, "has no self attention"),
    (["report", "gpt2", "--mode", "training"], 1, "convention 'exact' has no backward rule"),
    (["report", "gpt2", "--mode", "train"], 2, "invalid choice: 'train'"),
    (["plot", "resnet18", "-o", "x.txt"], 2, "cannot tell a picture's format from 'x.txt'"),
    (["plot", "resnet18", "-o", "-"], 2, "a plot is a file"),
])
def test_bad_workloads_are_one_line(capsys, tmp_path, monkeypatch, argv, code, words):
    monkeypatch.chdir(tmp_path)
    got, out, err = run(capsys, argv)
    assert got == code and out == ""
    assert words in one_line(err, usage=code == 2)


def test_symbolic_decode_in_the_context(capsys):
    """One decode step of Llama-2-7B after C cached tokens: every weight once, and 2 L d per
    cached key (scores and weighted sum), 2 x 32 x 4096 = 262,144 MACs."""
    code, out, err = run(capsys, ["symbolic", "llama2_7b", "--phase", "decode", "--context", "4095",
                                  "--vars", "C", "--convention", "2mac"])
    assert code == 0 and "macs       = 262144*C + 6607339520" in out


def test_symbolic_training(capsys):
    code, out, err = run(capsys, ["symbolic", "gpt2", "--mode", "training", "--convention", "palm"])
    assert code == 0 and "flops      = 110592*T**2 + 746638848*T" in out  # 12 L H Q T^2 + 6 N T


def test_html_report(capsys, tmp_path):
    target = tmp_path / "r.html"
    code, out, err = run(capsys, ["report", "resnet18", "--format", "html", "-o", str(target)])
    if importlib.util.find_spec("plotly") is None:
        assert code == 2 and "pip install 'flopcalc[plot]'" in one_line(err, usage=True)
        return
    assert code == 0 and target.read_text().startswith("<!DOCTYPE html>")
