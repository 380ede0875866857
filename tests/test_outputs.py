"""Issue 16, outputs: the tree view and torchinfo's size estimate, --depth rows named by their
block, units in column headers, what a CSV/JSON report says about how it was made, the JSON
Schemas, LaTeX longtable, and --units rounding before the unit is picked."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
from decimal import ROUND_HALF_UP, Decimal, localcontext
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calc.cli import main
from calc.compare import compare, render_comparison
from calc.network import load_network, network_from_text
from calc.render import render
from calc.render.numbers import with_units
from calc.render.tables import read_csv
from calc.render.tree import megabytes, percent, size_summary
from calc.report import annotate, collapse, top

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
SCHEMAS = ROOT / "docs" / "schemas"


@pytest.fixture(scope="module")
def resnet50():
    return load_network(str(SPECS / "resnet50.yaml"))


@pytest.fixture(scope="module")
def resnet18():
    return load_network(str(SPECS / "resnet18.yaml"))


def cli(capsys, argv):
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 0 and err == "", err
    return out


# -- 5. --units: round first, then pick the unit -----------------------------------------------


@pytest.mark.parametrize("n, shown", [
    (999, "999"), (1000, "1.00K"), (1005, "1.01K"),            # 1.005K rounds half up
    (999_994, "999.99K"), (999_995, "1.00M"),                   # 999.995K rounds to 1000.00K = 1.00M
    (-999_995, "-1.00M"), (-999_994, "-999.99K"),
    (999_994_999, "999.99M"), (999_995_000, "1.00G"),
    (999_994_999_999, "999.99G"), (999_995_000_000, "1.00T"), (999_999_995_000, "1.00T"),
    (10**15, "1000.00T"),                                       # T is the largest unit
])
def test_units_round_then_pick(n, shown):
    assert with_units(n) == shown


def _units_reference(n: int) -> str:
    """Decimal arithmetic: the smallest unit whose value, rounded half up to 2 decimals, is
    below 1000 (T for anything larger)."""
    if abs(n) < 1000:
        return str(n)
    for scale, suffix in ((10**3, "K"), (10**6, "M"), (10**9, "G"), (10**12, "T")):
        with localcontext() as ctx:
            ctx.prec = 200
            value = (Decimal(abs(n)) / scale).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        if value < 1000 or suffix == "T":
            return f"{'-' if n < 0 else ''}{value:f}{suffix}"
    raise AssertionError("unreachable")


@settings(max_examples=300, deadline=None)
@given(st.integers(-(10**20), 10**20) | st.sampled_from([999_995 * 10**k + d for k in range(0, 10, 3) for d in (-1, 0, 1)]))
def test_units_match_decimal_reference(n):
    assert with_units(n) == _units_reference(n)


# -- 2. --depth rows keep their block's name; byte columns say their unit ----------------------


def test_depth_rows_named_by_block(resnet18, capsys):
    view = collapse(resnet18.evaluate(), 1)
    layer1 = next(r for r in view.rows if r.path == "layer1")
    # resnet18's layer1: two basic blocks of conv, batchnorm, relu and add
    assert layer1.kind == "conv+batchnorm+relu+add"
    assert all(r.kind != "group" for r in view.rows)
    out = cli(capsys, ["report", str(SPECS / "resnet18.yaml"), "--depth", "1"])
    assert re.search(r"^layer1 +conv\+batchnorm\+relu\+add ", out, re.M) and " group " not in out


def test_byte_and_access_columns_say_their_unit(resnet18):
    report = resnet18.evaluate()
    text_header = render(report, "text").splitlines()[2]
    assert "mem access (elements)" in text_header and "mem bytes (B)" in text_header
    _, rows = read_csv(render(report, "csv"))
    assert rows[0][-2:] == ["mem access (elements)", "mem bytes (B)"]


# -- 3. CSV and JSON say how the report was made -------------------------------------------------


def test_csv_header_block_read_back(resnet18):
    report = top(collapse(annotate(resnet18.evaluate("2mac", "fp16", (2, 3, 160, 160)), resnet18,
                                   fold_bn=True), 2), 5)
    text = render(report, "csv")
    meta, rows = read_csv(text)
    assert meta == {"name": "resnet18", "convention": "2mac", "dtype": "fp16",
                    "input_shapes": "2x3x160x160", "output_shape": "2x1000",
                    "fold_bn": "true", "depth": "2", "top": "5"}
    assert rows[0][0] == "path" and len(rows) == 1 + 5 + 1  # header, 5 rows, total
    # a plain csv.reader user skips the leading '#' lines and gets the same rows
    lines = text.splitlines(keepends=True)
    body = [line for i, line in enumerate(lines) if not all(x.startswith("#") for x in lines[:i + 1])]
    assert list(csv.reader(body)) == rows


def test_csv_header_block_keeps_hostile_names_on_one_line():
    net = network_from_text('name: "a\\nb, c"\ninput: [3, 8, 8]\nlayers:\n  - {type: relu, name: "#x\\ny"}\n')
    text = render(net.evaluate(), "csv")
    meta, rows = read_csv(text)
    assert meta["name"] == "a\\nb, c"  # the line break shown escaped, as in the text format
    assert rows[1][0] == "#x\ny"       # a data row that starts with '#' is still a row


def test_json_carries_options_and_layer_shapes(resnet50):
    report = annotate(resnet50.evaluate(), resnet50, fold_bn=False)
    data = json.loads(render(report, "json"))
    assert data["options"] == {"fold_bn": False, "depth": None, "top": None, "context": None, "mode": None,
                               "recompute": None, "kv_dtype": None, "kv_cache_bytes": None, "tokens": None,
                               "steps": None, "run_flops": None}
    assert data["kv_cache"] is None
    assert data["convention"]["name"] == "exact" and data["dtype"] == "fp32"
    assert data["input_shapes"] == [[1, 3, 224, 224]]
    conv1 = data["layers"][0]
    assert conv1["input_shapes"] == [[1, 3, 224, 224]] and conv1["kernel"] == [7, 7]
    add = next(layer for layer in data["layers"] if layer["path"] == "layer1.0.add")
    assert add["input_shapes"] == [[1, 256, 56, 56]] * 2 and add["kernel"] is None
    plain = json.loads(render(collapse(resnet50.evaluate(), 1), "json"))
    assert plain["options"] == {"fold_bn": None, "depth": 1, "top": None, "context": None, "mode": None,
                                "recompute": None, "kv_dtype": None, "kv_cache_bytes": None, "tokens": None,
                                "steps": None, "run_flops": None}
    assert "input_shapes" not in plain["layers"][0]


def test_cli_csv_and_json_carry_convention_dtype_input(capsys):
    spec = str(SPECS / "resnet18.yaml")
    out = cli(capsys, ["report", spec, "--format", "csv", "--convention", "fvcore", "--dtype", "bf16",
                       "--input", "3x128x128", "--batch", "2", "--top", "3"])
    meta, _ = read_csv(out)
    assert (meta["convention"], meta["dtype"], meta["input_shapes"], meta["top"]) == ("fvcore", "bf16", "2x3x128x128", "3")
    data = json.loads(cli(capsys, ["report", spec, "--format", "json", "--depth", "2"]))
    assert data["options"]["depth"] == 2 and data["input_shapes"] == [[1, 3, 224, 224]]


def test_report_and_compare_share_key_names(resnet18):
    report = json.loads(render(resnet18.evaluate(), "json"))
    cmp = json.loads(render_comparison(compare(resnet18, ["exact", "2mac"]), "json"))
    for key in ("schema_version", "name", "input_shapes"):
        assert cmp[key] == report[key], key
    assert cmp["params"] == report["totals"]["params"] and cmp["macs"] == report["totals"]["macs"]
    assert cmp["flops"]["exact"] == report["totals"]["flops"]
    assert set(cmp["conventions"][0]) == set(report["convention"]) == {"name", "title", "source"}
    assert cmp["conventions"][0] == report["convention"]


def test_symbolic_json_shares_the_report_keys(resnet18, capsys):
    from calc import conventions
    from calc.closed_form import closed_form, render_closed_form

    report = json.loads(render(resnet18.evaluate(), "json"))
    form = json.loads(render_closed_form(closed_form(resnet18, conventions.get("exact")), "json"))
    for key in ("schema_version", "name", "convention"):
        assert form[key] == report[key], key
    assert form["input_shapes"] == [[1, 3, "H", "W"]] and report["input_shapes"] == [[1, 3, 224, 224]]
    assert form["totals"]["params"] == report["totals"]["params"] == 11_689_512  # no H, W: an int
    assert form["totals"]["macs"] == "36144*H*W + 512000"  # 36144*224*224 + 512000 = 1,813,561,344
    assert 36144 * 224 * 224 + 512000 == report["totals"]["macs"]
    validator = _validator("symbolic.schema.json")
    validator.validate(form)
    cli_form = json.loads(cli(capsys, ["symbolic", "resnet18", "--format", "json"]))
    validator.validate(cli_form)
    assert list(validator.iter_errors({**cli_form, "network": "resnet18"}))


def _validator(name: str):
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is not installed (pip install '.[test]')")
    schema = json.loads((SCHEMAS / name).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_report_json_matches_published_schema(resnet50, capsys):
    validator = _validator("report.schema.json")
    outputs = [
        render(annotate(resnet50.evaluate(), resnet50, fold_bn=True), "json"),
        render(top(collapse(resnet50.evaluate("fvcore", "int8"), 2), 3), "json"),
        cli(capsys, ["layer", "conv", "--K", "3", "--Cin", "3", "--Cout", "8", "--H", "8", "--W", "8", "--format", "json"]),
    ]
    for text in outputs:
        validator.validate(json.loads(text))
    bad = json.loads(outputs[0])
    bad["totals"]["macs"] = 1.5
    assert not validator.is_valid(bad)  # the schema can fail: counts are integers


def test_compare_json_matches_published_schema(resnet18):
    validator = _validator("compare.schema.json")
    data = json.loads(render_comparison(compare(resnet18), "json"))
    validator.validate(data)
    assert data["divergences"]  # the divergence entries were checked too
    del data["name"]
    assert not validator.is_valid(data)


# -- 4. LaTeX: longtable -------------------------------------------------------------------------

LATEX_ENGINES = [e for e in ("pdflatex", "lualatex") if shutil.which(e)]


def test_latex_is_a_longtable(resnet50):
    text = render(resnet50.evaluate(), "latex")
    assert r"\begin{longtable}{lllrrrrrr}" in text and r"\endhead" in text
    assert r"\begin{table}" not in text  # a float cannot break across pages


def _pdflatex(tmp_path: Path, preamble: str, table: str) -> str:
    """Compile `table` in an article with `preamble`, twice (longtable settles its column
    widths on the second run); the log."""
    (tmp_path / "table.tex").write_text(table)
    (tmp_path / "doc.tex").write_text(f"\\documentclass{{article}}\n{preamble}\\usepackage{{longtable}}\n"
                                      "\\begin{document}\n\\input{table}\n\\end{document}\n")
    for _ in range(2):
        done = subprocess.run([LATEX_ENGINES[0], "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
                              cwd=tmp_path, capture_output=True, text=True, timeout=60)
    log = (tmp_path / "doc.log").read_text(errors="replace")
    assert done.returncode == 0, log[-2000:]
    return log


@pytest.mark.skipif(not LATEX_ENGINES, reason="no LaTeX engine (pdflatex or lualatex) installed")
def test_latex_resnet50_compiles_across_pages(resnet50, tmp_path):
    table = render(resnet50.evaluate(), "latex")
    log = _pdflatex(tmp_path, "", table)
    assert "Float too large" not in log, log[-2000:]
    pages = int(re.search(r"Output written on doc\.pdf \((\d+) pages?", log).group(1))
    assert pages >= 2  # ResNet-50's 175 rows do not fit one page
    if shutil.which("kpsewhich") and subprocess.run(["kpsewhich", "geometry.sty"], capture_output=True).stdout:
        wide = _pdflatex(tmp_path, "\\usepackage[landscape,margin=2cm]{geometry}\n", table)
        assert "Overfull \\hbox" not in wide, wide[-2000:]  # as wide as a landscape page


@pytest.mark.skipif(not LATEX_ENGINES, reason="no LaTeX engine (pdflatex or lualatex) installed")
def test_derive_latex_fits_the_margin(tmp_path, capsys):
    """Every derivation in an article page: before, reasons set beside the equations and
    13-column tables ran up to 788pt past the margin."""
    latex = cli(capsys, ["derive", "--all", "--format", "latex"])
    log = _pdflatex(tmp_path, "\\usepackage{amsmath}\n", latex)
    overfull = [float(x) for x in re.findall(r"Overfull \\hbox \((\d+(?:\.\d+)?)pt too wide", log)]
    assert max(overfull, default=0) < 15, sorted(overfull)[-5:]  # a tiny header word at most


# -- 1. the tree view and torchinfo's size estimate ---------------------------------------------


def test_torchinfo_size_estimate_resnet50_batch2(resnet50):
    """torchinfo's own summary of torchvision's resnet50 at input (2, 3, 224, 224)
    (TylerYep/torchinfo, tests/test_output/resnet50.out, commit 790340db): input 1.20 MB,
    forward/backward pass 355.66 MB, params 102.23 MB, estimated total 459.10 MB."""
    report = resnet50.evaluate(batch=2)
    sizes = dict(size_summary(report))
    assert sizes["Input size"] == 2 * 3 * 224 * 224 * 4
    assert sizes["Params size"] == 25_557_032 * 4
    assert [megabytes(b) for b in sizes.values()] == ["1.20", "355.66", "102.23", "459.10"]
    text = render(report, "tree")
    assert "torchinfo's size estimate" in text
    for line in ("Input size (MB): 1.20", "Forward/backward pass size (MB): 355.66",
                 "Params size (MB): 102.23", "Estimated total size (MB): 459.10"):
        assert line in text
    # --depth and --top keep the estimate of the whole network
    assert dict(size_summary(top(collapse(report, 2), 3))) == sizes


def _tree_rows(text: str) -> list[list[str]]:
    """Cells of the tree's rows: the layer cell is as wide as the header's first column."""
    lines = text.splitlines()
    rules = [i for i, line in enumerate(lines) if line and set(line) == {"="}]
    width = lines[rules[0] - 1].index("kind")
    return [[line[:width].rstrip(), *re.split(r"\s{2,}", line[width:].strip())]
            for line in lines[rules[0] + 1:rules[1]]]


def test_tree_blocks_show_their_totals(resnet50):
    report = annotate(resnet50.evaluate(), resnet50)
    text = render(report, "tree")
    header = text.splitlines()[2].split()
    assert header == ["layer", "kind", "input", "output", "kernel", "params", "MACs", "FLOPs", "%", "of", "FLOPs"]
    rows = _tree_rows(text)
    root = rows[0]
    assert root[0] == "resnet50" and root[1] == "network" and root[-1] == "100.00%"
    assert int(root[-4].replace(",", "")) == report.totals.params
    conv1 = next(r for r in rows if r[0] == "├─ conv1")
    assert conv1[1:] == ["conv", "1x3x224x224", "1x64x112x112", "7x7", "9,408", "118,013,952",
                         "235,225,088", percent(235_225_088, report.totals.flops)]
    # a block's row is the sum of its operations: layer1.0 in the report's own rows
    block = next(r for r in rows if r[0] == "│  ├─ 0")
    members = [r for r in report.rows if r.path.startswith("layer1.0.")]
    assert block[1] == "block" and int(block[-4].replace(",", "")) == sum(r.params for r in members)
    assert int(block[-2].replace(",", "")) == sum(r.flops for r in members)
    # one tree line per operation, plus one per block and the network's
    blocks = {".".join(r.path.split(".")[:k]) for r in report.rows for k in range(1, r.path.count(".") + 1)}
    assert len(rows) == len(report.rows) + len(blocks) + 1


def test_percent_is_exact():
    assert percent(1, 3) == "33.33%" and percent(2, 3) == "66.67%" and percent(1, 200000) == "0.00%"
    assert percent(1, 20000) == "0.01%"  # 0.005% rounds half up
    assert percent(5, 0) == "" and megabytes(5_000) == "0.01" and megabytes(4_999) == "0.00"


def test_tree_escapes_hostile_names():
    net = network_from_text('name: "n\\u202e"\ninput: [3, 8, 8]\nlayers:\n'
                            '  - {type: relu, name: "a\\nb"}\n  - {type: relu, name: "c\\td"}\n')
    text = render(annotate(net.evaluate(), net), "tree")
    assert "a\\nb" in text and "c\\td" in text and "n\\u202e" in text
    assert "\u202e" not in text and "\t" not in text


def test_tree_is_a_registered_format(resnet18):
    text = render(collapse(annotate(resnet18.evaluate(), resnet18), 1), "tree", units=True)
    assert "├─ layer1" in text and "conv+batchnorm+relu+add" in text and "11.69M" in text


def _cli_has_tree() -> bool:
    from calc.cli import build_parser

    report = build_parser(layer_kinds=False)._subparsers._group_actions[0].choices["report"]
    return "tree" in next(a for a in report._actions if a.dest == "format").choices


@pytest.mark.skipif(not _cli_has_tree(), reason="calc/cli.py does not offer `report --format tree` yet "
                    "(the lead's one-line wiring: /tmp/team/outputs-cli.patch)")
def test_cli_report_tree(capsys):
    out = cli(capsys, ["report", str(SPECS / "resnet50.yaml"), "--format", "tree", "--batch", "2", "--fold-bn"])
    assert out.startswith("resnet50: input 2x3x224x224;") and "; fold_bn true" in out.splitlines()[0]
    conv1 = next(line for line in out.splitlines() if line.startswith("├─ conv1 "))
    assert "2x3x224x224" in conv1 and "7x7" in conv1  # input and kernel columns from the network
    # folded, the batch norms (which have parameters) are gone: fewer outputs counted than 355.66 MB
    assert "Input size (MB): 1.20" in out
    assert float(re.search(r"Forward/backward pass size \(MB\): ([\d,.]+)", out).group(1)) < 355.66
    data = json.loads(cli(capsys, ["report", str(SPECS / "resnet18.yaml"), "--format", "json", "--fold-bn"]))
    assert data["options"]["fold_bn"] is True and data["layers"][0]["kernel"] == [7, 7]


def test_annotate_refuses_what_it_cannot_use(resnet18, resnet50):
    from calc.errors import UsageError

    report = resnet18.evaluate()
    with pytest.raises(UsageError, match="annotate takes the network a report was evaluated from"):
        annotate(report, resnet50)
    with pytest.raises(UsageError, match="before collapse or top"):
        annotate(collapse(report, 1), resnet18)
    with pytest.raises(UsageError, match="annotate's network is a str, not a Network"):
        annotate(report, "resnet18.yaml")
    with pytest.raises(UsageError, match="annotate takes a Report, got dict"):
        annotate({}, resnet18)
