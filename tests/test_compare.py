"""calc compare: one table of every convention, and lines on where they part ways."""

from calc.cli import main
from calc.compare import compare
from calc.network import load_network


def test_resnet50_compare_explains_batchnorm_spread():
    cmp = compare(load_network("specs/resnet50.yaml"))
    assert cmp.params == 25_557_032 and cmp.macs == 4_089_184_256
    bn = next(s for s in cmp.spreads if s.op == "batchnorm")
    elements = 11_113_984  # sum of BN input elements, docs/profilers.md
    assert bn.elements == elements
    assert bn.flops["thop"] == 4 * elements
    assert bn.flops["fvcore"] == bn.flops["ptflops"] == bn.flops["calflops"] == 2 * elements
    assert bn.flops["torch"] == 0
    assert bn.flops["torchinfo"] == 2 * 26_560  # N * params of the 53 affine BNs
    # the spreads of each convention add up to its total difference from 'torchvision'
    for name, total in cmp.flops.items():
        diffs = sum(s.flops[name] - s.flops["torchvision"] for s in cmp.spreads)
        assert total - cmp.flops["torchvision"] == diffs


def test_compare_cli_formats(capsys):
    assert main(["compare", "specs/resnet50.yaml", "--conventions", "thop,torch"]) == 0
    out = capsys.readouterr().out
    assert "thop" in out and "4,133,742,592" in out and "8,178,368,512" in out
    assert main(["compare", "specs/resnet50.yaml", "--format", "md"]) == 0
    assert "| FLOPs |" in capsys.readouterr().out
    assert main(["compare", "specs/resnet50.yaml", "--conventions", "nope"]) == 2
    assert "unknown convention 'nope'" in capsys.readouterr().err
