"""calc.library: the model library by name (what `calc list` and `calc report NAME` use)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import calc.library
from calc.errors import UsageError
from calc.library import describe, library_names, library_path

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"


def test_names_are_the_stems_of_the_spec_files_sorted_without_claims():
    stems = sorted(p.name.removesuffix(".yaml") for p in SPECS.iterdir() if p.suffix == ".yaml")
    assert library_names() == stems
    assert "resnet50" in stems and "seeds" not in stems  # specs/claims/seeds.yaml is not a spec


def test_a_name_gives_the_path_of_its_spec():
    for name in library_names():
        path = library_path(name)
        assert os.path.isabs(path) and os.path.samefile(path, SPECS / f"{name}.yaml"), name


@pytest.mark.parametrize("bad", [
    "", "resnet", "resnet50.yaml", "../specs/resnet50", "specs/resnet50", "./resnet50", "resnet50/",
    "claims", "seeds", "claims/seeds", "/etc/passwd", "..", ".", "ResNet50", None, 50, b"resnet50",
    Path("resnet50"),
])
def test_anything_but_a_library_name_is_none(bad):
    assert library_path(bad) is None


def test_describe_a_library_spec_by_its_description():
    # Every shipped spec has a one-sentence `description` (resnet50.yaml line 5); "et al." is
    # not a sentence end.
    assert describe("resnet50") == (
        "ResNet-50 v1.5 (torchvision): bottleneck blocks [3, 4, 6, 3], stride on the 3x3 conv.")
    assert describe("densenet121").startswith("DenseNet-121 (Huang et al. 2017): dense blocks")
    for name in library_names():
        line = describe(name)
        assert line.strip() and "\n" not in line, name


def write_library(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")


def test_describe_prefers_the_first_sentence_of_the_description(tmp_path, monkeypatch):
    write_library(tmp_path, {
        "described.yaml": "name: d\nsource: s\ndescription: >\n  One line\n  folded. The rest.\nlayers: []\n",
        "sourced.yaml": "name: n\nsource: '  paper,\n  Table 1'\nlayers: []\n",
        "named.yaml": "name: only_a_name\nlayers: []\n",
        "bare.yaml": "- not a mapping\n",
        "notes.txt": "not a spec\n",
    })
    monkeypatch.setattr(calc.library, "_folder", lambda: tmp_path)
    assert library_names() == ["bare", "described", "named", "sourced"]
    assert describe("described") == "One line folded."
    assert describe("sourced") == "paper, Table 1"
    assert describe("named") == "only_a_name"
    assert describe("bare") == "bare"


def test_describe_an_unknown_name_is_a_one_line_usage_error():
    with pytest.raises(UsageError) as caught:
        describe("resnet51")
    line = caught.value.one_line()
    assert line.startswith("no spec named 'resnet51' in the library (expected one of alexnet, ")
    assert "resnet50" in line and "\n" not in line and caught.value.exit_code == 2


def test_a_missing_library_folder_is_an_empty_library(monkeypatch):
    monkeypatch.setattr(calc.library, "_folder", lambda: None)
    assert library_names() == [] and library_path("resnet50") is None


def test_importing_the_library_is_cheap():
    code = ("import sys, calc.library; calc.library.library_names(); calc.library.library_path('vgg16');"
            "print(sorted(m for m in ('yaml', 'pydantic', 'sympy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
