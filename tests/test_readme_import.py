"""The README's import figures are the importers' current output."""

from pathlib import Path

import pytest

from calc.network import load_network

ROOT = Path(__file__).parent.parent
SECTION = (lambda text: text[text.index("## Importing a model"):text.index("## Pictures")])(
    (ROOT / "README.md").read_text())


def test_config_json_figures():
    from calc.importers.hf import network_from_config

    totals = network_from_config(ROOT / "tests" / "fixtures" / "hf" / "Mixtral-8x7B-v0.1.json").evaluate().totals
    assert f"Mixtral-8x7B: {totals.params:,}, {totals.active_params:,} active" in SECTION


def test_onnx_figures():
    pytest.importorskip("onnx", reason="the ONNX importer needs the onnx extra: pip install 'flopcalc[onnx]'")
    from calc.importers.onnx import convert

    found = convert(ROOT / "tests" / "fixtures" / "onnx" / "resnet18.onnx")
    spec = load_network(ROOT / "specs" / "resnet18.yaml").evaluate().totals
    assert f"imported ResNet-18 has\n  {found.params:,} parameters" in SECTION
    assert f"had {found.unfolded_params:,}, the\n  hand-written spec's count" in SECTION
    assert found.unfolded_params == spec.params
