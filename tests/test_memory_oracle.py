"""calc's saved-for-backward sum against what PyTorch autograd saved (tests/fixtures/memory/
saved_tensors.json, from tools/oracle/memory.py: saved_tensors_hooks, deduplicated by storage).
Each difference the fixture lists (`explained`) is added back; so far there is none."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from calc.cli import load_spec
from calc.memory.training import Recompute, saved_activations
from calc.network import network_from_text

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "memory" / "saved_tensors.json").read_text())


def test_fixture_records_its_versions():
    assert FIXTURE["torch"].startswith("2.") and FIXTURE["transformers"] and "saved_tensors_hooks" in FIXTURE["source"]


@pytest.mark.parametrize("case", FIXTURE["cases"], ids=[c["name"] for c in FIXTURE["cases"]])
def test_saved_bytes_equal_autograd(case):
    net = network_from_text(case["spec"]) if case["spec"] else load_spec(case["library"])
    kept, _work, _rows, _segs = saved_activations(net, tuple(case["input"]), 4, Recompute.NONE)
    assert case["saved_bytes"] == sum(case["bytes_by_dtype"].values())
    assert kept + sum(e["bytes"] for e in case["explained"]) == case["saved_bytes"]
