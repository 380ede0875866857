"""The README's device figures (roofline, memory) are the commands' current output."""

from pathlib import Path

import pytest

from calc.cli import main

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()
SECTION = " ".join(README[README.index("## Time and memory on a device"):README.index("## Importing a model")].split())


def run(capsys, *argv: str) -> str:
    assert main(list(argv)) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("fuse, figure", [((), "at least 2.908 ms"), (("--fuse",), "(1.237 ms with fused")])
def test_resnet50_roofline(capsys, fuse, figure):
    out = run(capsys, "roofline", "resnet50", "--hw", "a100-sxm-80gb", "--dtype", "bf16", "--batch", "32", *fuse)
    time = figure.split(" ms")[0].split()[-1].lstrip("(")
    assert f"time, sum of operations (ideal): {time} ms" in out and figure in SECTION
    if not fuse:
        share = out.split("memory-bound operations: ")[1].split("%")[0]
        assert f"{share}% of it in memory-bound" in SECTION


def test_llama_decode_roofline(capsys):
    out = run(capsys, "roofline", "llama2_7b", "--hw", "a100-sxm-80gb", "--dtype", "bf16", "--phase", "decode",
              "--context", "4095")
    for line, figure in (("floor (weights + KV cache) / bandwidth: 7.534 ms", "at least 7.534 ms"),
                         ("weights read once: 13,214,695,424 B", "13,214,695,424 bytes"),
                         ("KV cache read: 1,073,741,824 entries x bf16 = 2,147,483,648 B", "cache, 2,147,483,648"),
                         ("every parameter / bandwidth: 6.610 ms", "rule's 6.610 ms")):
        assert line in out and figure in SECTION
    sweep = run(capsys, "roofline", "llama2_7b", "--hw", "h100-sxm", "--dtype", "bf16", "--phase", "decode",
                "--context", "0", "--sweep-batch")
    assert "compute-bound from batch 422" in sweep and "compute-bound at batch 422" in SECTION


def test_memory_figures(capsys):
    out = " ".join(run(capsys, "memory", "resnet50", "--mode", "training", "--batch", "32", "--precision", "mixed",
                       "--optimizer", "adamw", "--hw", "h100-sxm").split())
    assert "total 1,809,473,408" in out and "largest batch that fits: 1,818" in out
    assert "needs 1,809,473,408 bytes, and batch 1,818 still fits" in SECTION
    out = " ".join(run(capsys, "memory", "llama2_7b", "--dtype", "bf16", "--batch", "8", "--phase", "decode",
                       "--context", "4095", "--hw", "a100-sxm-80gb").split())
    assert "total 30,661,091,328" in out
    assert "largest batch that fits: 30; largest context that fits: 15,855" in out
    assert "needs 30,661,091,328 bytes, and an A100 80 GB fits batch 30 or a context of 15,855" in SECTION
