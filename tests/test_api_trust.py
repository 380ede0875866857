"""The Python API is a user interface too (issue 10): every bad argument gets the library's own
one-line error (or works: paths, convention and dtype names), the batch is stated one way,
rendering touches no process-wide state, and names from a spec cannot break a rendered table.
"""

from __future__ import annotations

import csv
import doctest
import importlib
import inspect
import io
import json
import os
import random
import re
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest

import calc
from calc import conventions, evaluate_layer, parse_layer
from calc.compare import Comparison, render_comparison
from calc.conventions import UnknownConventionError
from calc.cost import Dtype, OpCost
from calc.errors import CalcError, ConventionError, ShapeError, SpecError, UsageError, YamlError
from calc.network import evaluate_network, load_network, network_from_text
from calc.render import escape, render
from calc.render.json_format import dumps
from calc.render.numbers import grouped, int_text
from calc.render.tables import read_csv
from calc.report import Report

ROOT = Path(__file__).resolve().parent.parent
FORMATS = ("text", "md", "csv", "json", "latex")

TINY = """\
name: tiny
input: [3, 32, 32]
layers:
  - {type: conv, name: conv, K: 3, Cout: 8, bias: false}
  - {type: batchnorm, name: bn}
  - {type: relu, name: relu}
"""
ELEMENTWISE = "name: ew\ninput: [3, 8, 8]\nlayers:\n  - {type: batchnorm}\n  - {type: relu}\n"


@pytest.fixture(scope="module")
def tiny():
    return network_from_text(TINY, "tiny.yaml")


@contextmanager
def int_digit_limit(limit: int):
    """Python's int<->str digit limit set for the test's own use (never by the library)."""
    old = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(limit)
    try:
        yield
    finally:
        sys.set_int_max_str_digits(old)


def one_line(exc: CalcError) -> str:
    text = str(exc)
    assert "\n" not in text and "Traceback" not in text
    return text


# -- 1. input_shape and batch ------------------------------------------------------------------


def conv_macs(n: int, h: int, w: int) -> int:
    """tiny's conv: 8 outputs per position, (h-2)x(w-2) positions, 3x3x3 products each."""
    return n * 8 * (h - 2) * (w - 2) * 3 * 3 * 3


def test_input_shape_is_the_whole_input_batch_first(tiny):
    assert tiny.input_shape == (1, 3, 32, 32)
    assert tiny.evaluate(input_shape=(2, 3, 64, 48)).totals.macs == conv_macs(2, 64, 48)
    assert tiny.evaluate(input_shape=[1, 3, 16, 16]).input_shapes == ((1, 3, 16, 16),)


@pytest.mark.parametrize("shape", [(3, 320, 320), (1,), (1, 3, 32, 32, 32), ()])
def test_input_shape_of_another_rank_is_refused(tiny, shape):
    """(3, 320, 320) was read as a 1-d input with batch 3; (1,) raised IndexError."""
    with pytest.raises(ShapeError) as info:
        tiny.evaluate(input_shape=shape)
    text = one_line(info.value)
    assert text.startswith("input_shape: ")
    assert f"{len(shape)} entr" in text and "tiny's input has 4" in text
    assert "(N, C, H, W)" in text and "like (1, 3, 32, 32)" in text


def test_rank_names_follow_the_network():
    net = network_from_text("name: seq\ninput: [4, 100]\nlayers: [{type: relu}]\n")
    with pytest.raises(ShapeError, match=r"\(N, C, L\) of positive ints, batch first, like \(1, 4, 100\)"):
        net.evaluate(input_shape=(4, 100, 1, 1))


@pytest.mark.parametrize("shape, why", [
    ((1, 3, -8, 8), "H is -8, not positive"),       # gave FLOPs of -576
    ((1, 3, 8, 0), "W is 0, not positive"),
    ((0, 3, 8, 8), "N is 0, not positive"),
    ((1, 3, 8.5, 8), "H is 8.5, not an int"),       # gave float FLOPs
    ((1, 3, 8.0, 8), "H is 8.0, not an int"),
    ((1, True, 8, 8), "C is True, a bool"),
    ((1, 3, "8", 8), "H is '8', not an int"),
    ((1, 3, None, 8), "H is a NoneType, not an int"),
    ((1, 3, 10**100, 8), "H has 101 digits, more than 100"),
    ((1, 3, 8, -(10**5000)), "W has 5,001 digits, more than 100"),
])
def test_input_shape_entries_are_positive_bounded_ints(shape, why):
    net = network_from_text(ELEMENTWISE)
    with pytest.raises(ShapeError) as info:
        net.evaluate(input_shape=shape)
    assert why in one_line(info.value)


def test_input_shape_must_be_a_sequence(tiny):
    for bad in (224, "1x3x224x224", {"N": 1}):
        with pytest.raises(ShapeError, match="input_shape is a .*, not a tuple of sizes"):
            tiny.evaluate(input_shape=bad)


def test_int_like_sizes_are_ints(tiny):
    """numpy.int64 and the like (anything with __index__) are read as the int they stand for."""
    class Size:
        def __init__(self, n):
            self.n = n

        def __index__(self):
            return self.n

    report = tiny.evaluate(input_shape=(Size(1), Size(3), Size(10), Size(12)))
    assert report.totals.macs == conv_macs(1, 10, 12)
    assert all(type(v) is int for v in report.input_shapes[0])
    with pytest.raises(ShapeError, match="H is -1, not positive"):
        tiny.evaluate(input_shape=(1, 3, Size(-1), 8))


def test_batch_keyword_replaces_n(tiny):
    assert tiny.evaluate(batch=4).totals.macs == conv_macs(4, 32, 32) == 4 * tiny.evaluate().totals.macs
    assert tiny.evaluate(input_shape=(2, 3, 16, 16), batch=5).input_shapes == ((5, 3, 16, 16),)
    assert tiny.shapes(batch=3)["conv"] == (3, 8, 30, 30)
    for bad, why in ((0, "N is 0, not positive"), (2.0, "N is 2.0, not an int"), (True, "N is True, a bool")):
        with pytest.raises(ShapeError) as info:
            tiny.evaluate(batch=bad)
        assert one_line(info.value).startswith("batch: ") and why in str(info.value)


def test_shapes_checks_its_input_too(tiny):
    with pytest.raises(ShapeError, match="3 entries, but tiny.s input has 4"):
        tiny.shapes((1, 3, 32))


def test_symbolic_sizes_still_accepted(tiny):
    import sympy

    h, w = sympy.symbols("H W", integer=True, positive=True)
    macs = tiny.evaluate(input_shape=(1, 3, h, w)).totals.macs
    assert sympy.expand(macs - 8 * (h - 2) * (w - 2) * 27) == 0
    with pytest.raises(ShapeError, match="not a positive integer"):
        tiny.evaluate(input_shape=(1, 3, sympy.Float(8.5), 8))


def test_valid_evaluation_keeps_exact_ints(tiny):
    report = tiny.evaluate(input_shape=(1, 3, 8, 8))
    assert all(type(getattr(report.totals, f)) is int for f in ("params", "macs", "flops", "mem_access"))


# -- 2. paths, text, names of conventions and dtypes -------------------------------------------


def test_load_network_takes_a_path_object(tmp_path):
    spec = tmp_path / "tiny.yaml"
    spec.write_text(TINY)
    assert load_network(spec).evaluate().totals.macs == conv_macs(1, 32, 32)
    # an error for a Path used to raise TypeError from one_line() (Location.file was a Path)
    with pytest.raises(YamlError) as info:
        load_network(tmp_path / "missing.yaml")
    assert one_line(info.value) == f"{tmp_path / 'missing.yaml'}: no such file (expected a path to a YAML spec)"
    spec.write_text(TINY.replace("Cout: 8", "Cout: -8"))
    with pytest.raises(SpecError) as info:
        load_network(spec)
    assert one_line(info.value).startswith(f"{spec}:4:")


def test_load_network_refuses_a_file_descriptor():
    """open(3) reads (and closes) file descriptor 3."""
    read_end, write_end = os.pipe()
    os.write(write_end, TINY.encode())
    os.close(write_end)  # (so that a read of read_end ends)
    try:
        with pytest.raises(UsageError, match="load_network takes a path to a YAML spec, got int"):
            load_network(read_end)
        os.fstat(read_end)  # still open
        assert os.read(read_end, 5) == b"name:"  # and unread
    finally:
        os.close(read_end)


@pytest.mark.parametrize("arg, why", [
    (None, "got NoneType"), (b"tiny.yaml", "got bytes"), ("", "got an empty str"), (["a.yaml"], "got list"),
])
def test_load_network_refuses_what_is_not_a_path(arg, why):
    with pytest.raises(UsageError) as info:
        load_network(arg)
    assert why in one_line(info.value)


def test_load_network_given_yaml_text_says_so():
    """The whole document used to be reported as a missing file's name."""
    with pytest.raises(UsageError) as info:
        load_network(TINY)
    text = one_line(info.value)
    assert text == "load_network takes a path; use network_from_text for YAML text (expected a path to a YAML spec)"
    with pytest.raises(UsageError, match="network_from_text"):
        load_network("{name: x, input: [3], layers: []}")


def test_load_network_path_with_colon_space_that_exists(tmp_path):
    spec = tmp_path / "v2: final.yaml"
    spec.write_text(TINY)
    assert load_network(str(spec)).name == "tiny"


def test_network_from_text_takes_utf8_bytes():
    assert network_from_text(TINY.encode("utf-8")).name == "tiny"
    bad = TINY.encode().replace(b"name: tiny", b"name: t\xffny")
    with pytest.raises(YamlError) as info:
        network_from_text(bad, "b.yaml")
    assert one_line(info.value) == "b.yaml:1:8: byte 0xff is not UTF-8 text (expected a UTF-8 text file)"


@pytest.mark.parametrize("arg, why", [
    (None, "network_from_text takes YAML text, got NoneType"),
    (3, "network_from_text takes YAML text, got int"),
    (Path("tiny.yaml"), "network_from_text takes YAML text; use load_network for a path"),
])
def test_network_from_text_refuses_what_is_not_text(arg, why):
    with pytest.raises(UsageError) as info:
        network_from_text(arg)
    assert why in one_line(info.value)


def test_network_from_text_file_name(tmp_path):
    with pytest.raises(SpecError) as info:
        network_from_text("name: x\n", tmp_path / "n.yaml")
    assert one_line(info.value).startswith(f"{tmp_path / 'n.yaml'}:")
    with pytest.raises(UsageError, match="file is a name for the text, got int"):
        network_from_text(TINY, 3)


def test_convention_and_dtype_by_name(tiny):
    by_name = tiny.evaluate("2mac", "fp16")
    by_object = tiny.evaluate(conventions.get("2mac"), Dtype.FP16)
    assert by_name.totals == by_object.totals and by_name.totals.flops == 2 * by_name.totals.macs
    assert by_name.dtype is Dtype.FP16 and by_name.totals.mem_bytes == 2 * by_name.totals.mem_access
    assert render(by_name, "json")  # the report's dtype is a Dtype, not the str given
    assert tiny.evaluate(None).convention.name == conventions.DEFAULT


def test_unknown_dtype_lists_the_choices(tiny):
    with pytest.raises(UsageError) as info:
        tiny.evaluate(None, "fp4")  # KeyError before
    assert one_line(info.value) == "unknown dtype 'fp4' (expected one of fp64, fp32, fp16, bf16, fp8, int8)"
    with pytest.raises(UsageError, match="a dtype is named by a str, got int"):
        tiny.evaluate(None, 4)


def test_unknown_convention_in_evaluate(tiny):
    with pytest.raises(UnknownConventionError) as info:
        tiny.evaluate("2mak")
    assert "did you mean '2mac'?" in one_line(info.value)
    with pytest.raises(ConventionError, match="a convention is named by a str, got int"):
        tiny.evaluate(2)


def test_evaluate_network_takes_paths_and_names(tmp_path):
    spec = tmp_path / "tiny.yaml"
    spec.write_text(TINY)
    report = evaluate_network(spec, "2mac", "fp16", (1, 3, 16, 16), batch=2)
    assert report.totals.macs == conv_macs(2, 16, 16) and report.dtype is Dtype.FP16
    with pytest.raises(UsageError, match="unknown dtype"):
        evaluate_network(tmp_path / "missing.yaml", "exact", "fp4")  # checked before the file
    with pytest.raises(UsageError, match="got int"):
        evaluate_network(3)


def test_evaluate_layer_arguments():
    layer = parse_layer({"type": "linear", "Cin": 512, "Cout": 10})
    assert evaluate_layer(layer, "2mac", "fp16").totals.flops == 2 * 512 * 10
    with pytest.raises(UsageError) as info:
        evaluate_layer({"type": "linear", "Cin": 512, "Cout": 10})
    assert "parse_layer(data) makes one from a mapping" in one_line(info.value)
    with pytest.raises(UsageError, match="evaluate_layer takes a layer record, got NoneType"):
        evaluate_layer(None)
    with pytest.raises(UnknownConventionError):
        evaluate_layer(layer, "nope")


@pytest.mark.parametrize("data", [None, [], "conv", 3, {"Cin": 3}])
def test_parse_layer_wrong_types_are_spec_errors(data):
    with pytest.raises(SpecError):
        parse_layer(data)


def test_fold_batchnorm_argument(tiny):
    from calc.network.fold import fold_batchnorm

    assert fold_batchnorm(tiny).evaluate().totals.params == 8 * 3 * 3 * 3 + 8  # the BN became a bias
    with pytest.raises(UsageError, match="fold_batchnorm takes a Network, got str"):
        fold_batchnorm("tiny.yaml")


def test_render_arguments(tiny):
    with pytest.raises(UsageError, match=r"unknown format 'pdf' \(expected one of text, md, csv, json, latex, tree\)"):
        render(tiny.evaluate(), "pdf")
    with pytest.raises(UsageError, match="render takes a Report, got str"):
        render("report")


PUBLIC = [
    ("calc.network", "load_network"), ("calc.network", "network_from_text"),
    ("calc.network", "evaluate_network"), ("calc.network.program", "Network.evaluate"),
    ("calc.network.program", "Network.shapes"), ("calc.report", "evaluate_layer"),
    ("calc.parse", "parse_layer"), ("calc.render", "render"), ("calc.conventions", "get"),
    ("calc.conventions", "resolve"), ("calc.cost", "dtype"), ("calc.network.fold", "fold_batchnorm"),
]


@pytest.mark.parametrize("module, name", PUBLIC)
def test_public_functions_are_typed_and_documented(module, name):
    obj = importlib.import_module(module)
    for part in name.split("."):
        obj = getattr(obj, part)
    assert inspect.getdoc(obj), name
    signature = inspect.signature(obj)
    assert signature.return_annotation is not inspect.Signature.empty, name
    for param in signature.parameters.values():
        assert param.name == "self" or param.annotation is not inspect.Parameter.empty, (name, param.name)


def test_py_typed_ships_and_lazy_names_resolve():
    assert (ROOT / "calc" / "py.typed").is_file()
    for name in calc.__all__:
        assert getattr(calc, name) is not None


@pytest.mark.parametrize("module", [
    "calc", "calc.network", "calc.network.program", "calc.report", "calc.render", "calc.conventions",
])
def test_docstring_examples_run(module):
    result = doctest.testmod(importlib.import_module(module))
    assert result.failed == 0 and result.attempted > 0


# -- 3. no global state: counts of any size rendered without the int digit limit ----------------


def test_int_text_is_str_for_any_size():
    rng = random.Random(10)
    digits = [*range(1, 30), *range(590, 615), *rng.sample(range(30, 20_001), 12), 1200, 1201, 4299, 4300,
              4301, 20_000]
    with int_digit_limit(0):
        for d in digits:
            n = rng.randrange(10 ** (d - 1), 10**d) if d > 1 else rng.randrange(10)
            for value in (n, -n, 10**d - 1, -(10 ** (d - 1))):
                assert int_text(value) == str(value), d
                assert grouped(value) == f"{value:,}", d


def test_digit_count_without_text():
    from calc.limits import digit_count

    with int_digit_limit(0):
        for d in [*range(1, 60), 4299, 4300, 4301, 12_345]:
            for n in (10**d, 10**d - 1, 10 ** (d - 1), 2**d, 2**d - 1):
                assert digit_count(n) == digit_count(-n) == len(str(n)), n
    assert digit_count(0) == 1


def huge_report(digits: int = 5000, name: str = "huge", paths=("a", "b")) -> Report:
    """A report whose counts have `digits` digits (a spec cannot state them; counts can grow)."""
    big = 10 ** (digits - 1) + 7
    rows = tuple(
        OpCost(path, "conv", "conv", (1, big), big, 0, big, 2 * big, 3 * big, 12 * big, big) for path in paths
    )
    return Report(name, conventions.get("exact"), Dtype.FP32, ((1, 3, 8, 8),), rows)


@pytest.mark.parametrize("fmt", FORMATS)
def test_render_huge_counts_under_any_digit_limit(fmt):
    report = huge_report()
    big = report.rows[0].macs
    for limit in (640, 4300):
        with int_digit_limit(limit):
            text = render(report, fmt)
            assert sys.get_int_max_str_digits() == limit
    with int_digit_limit(0):
        if fmt == "json":
            assert json.loads(text)["totals"]["macs"] == 2 * big
            assert text == json.dumps(json.loads(text), indent=2) + "\n"
        elif fmt == "csv":
            assert read_csv(text)[1][1][5] == str(big)
        else:
            assert f"{big:,}" in text.replace("{,}", ",")
        assert render(report, fmt, units=True)


def test_json_dumps_matches_json_for_big_ints():
    value = {"a": [1, -(10**5000), {"b": None, "c": [], "d": {}}], "é\n\"": True, "f": [[2 * 10**4400]], "g": "x"}
    with int_digit_limit(0):
        assert dumps(value) == json.dumps(value, indent=2)
    assert dumps({"small": [1, 2]}) == json.dumps({"small": [1, 2]}, indent=2)


def test_comparison_renders_huge_counts():
    big = 10**4500 + 1
    cmp = Comparison("huge", big, big, {"exact": 2 * big, "thop": None}, {"thop": "refused"}, ())
    with int_digit_limit(4300):
        for fmt in ("text", "md", "csv", "json", "latex"):
            text = render_comparison(cmp, fmt)
            assert sys.get_int_max_str_digits() == 4300
    with int_digit_limit(0):
        assert json.loads(text if fmt == "json" else render_comparison(cmp, "json"))["macs"] == big


def test_render_in_threads_leaves_the_digit_limit_alone():
    """render() used to set the limit to 0 while it ran: another thread saw 0, and a render
    that finished restored a stale value while others still needed it lifted."""
    report = huge_report(4400)
    expected = {fmt: None for fmt in FORMATS}
    with int_digit_limit(4300):
        seen: set[int] = set()
        failures: list[BaseException] = []
        stop = threading.Event()

        def watch() -> None:
            while not stop.is_set():
                seen.add(sys.get_int_max_str_digits())

        def work(fmt: str) -> None:
            try:
                for _ in range(5):
                    text = render(report, fmt)
                    if expected[fmt] is None:
                        expected[fmt] = text
                    assert text == expected[fmt]
            except BaseException as exc:  # noqa: BLE001 - reported below
                failures.append(exc)

        watcher = threading.Thread(target=watch)
        workers = [threading.Thread(target=work, args=(FORMATS[i % len(FORMATS)],)) for i in range(8)]
        watcher.start()
        for t in workers:
            t.start()
        for t in workers:
            t.join()
        stop.set()
        watcher.join()
        assert not failures, failures
        assert seen == {4300}


def test_render_does_not_use_all_digits():
    source = "".join((ROOT / "calc" / "render" / f).read_text() for f in os.listdir(ROOT / "calc" / "render")
                     if f.endswith(".py"))
    source += (ROOT / "calc" / "compare.py").read_text()
    assert "set_int_max_str_digits(" not in source and "all_digits" not in source


# -- 4. names from a spec cannot break a rendered table ----------------------------------------

HOSTILE = ["a|b", "x\ny", "c\rd", "e\r\nf", "`code`", "<script>alert(1)</script>", "back\\|slash", "*em*",
           "_u_", "snake_case", "[l](u)", "a&amp;b", "tab\there", "nul\x00", "\u202eevil", "~~s~~", "50%$#{}^"]


def hostile_report() -> Report:
    rows = tuple(OpCost(name, "relu", "relu", (1, 3), 0, 0, 0, 3, 6, 24, 3) for name in HOSTILE)
    return Report("# net|<b>", conventions.get("exact"), Dtype.FP32, ((1, 3),), rows)


def md_cells(line: str) -> list[str]:
    """A GFM table row split at its unescaped pipes (a backslash escapes the next character)."""
    cells, cell, i = [], "", 0
    body = line.strip()
    assert body.startswith("|") and body.endswith("|") and not body.endswith("\\|"), line
    body = body[1:-1]
    while i < len(body):
        if body[i] == "\\" and i + 1 < len(body):
            cell += body[i:i + 2]
            i += 2
            continue
        if body[i] == "|":
            cells.append(cell.strip())
            cell = ""
        else:
            cell += body[i]
        i += 1
    cells.append(cell.strip())
    return cells


def md_unescape(cell: str) -> str:
    """What a Markdown reader shows for a cell: backslash escapes resolved, <br> a line break."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", cell.replace("<br>", "\n"))


def test_markdown_escapes_hostile_names():
    text = render(hostile_report(), "md")
    caption, blank, *table = text.splitlines()
    assert caption.startswith("\\# net\\|\\<b\\>: input 1x3;") and blank == ""
    assert len(table) == 2 + len(HOSTILE) + 1  # header, alignment, one line per row, total
    for name, line in zip(HOSTILE, table[2:]):
        cells = md_cells(line)
        assert len(cells) == 9, line
        shown = md_unescape(cells[0])
        assert shown == escape.text(name.replace("\r\n", "\n").replace("\r", "\n")).replace("\\n", "\n"), (name, cells[0])
    body = "\n".join(table)
    assert not re.search(r"(?<!\\)<(?!br>)", body), "raw HTML"
    assert not re.search(r"(?<!\\)[`*\[\]~&]", body.replace("**", "")), "unescaped inline syntax"
    assert "snake_case" in body and "\\_u\\_" in body  # an intraword _ cannot start emphasis


def test_text_shows_control_characters_escaped():
    text = render(hostile_report(), "text")
    lines = text.splitlines()
    assert len(lines) == 2 + 2 + len(HOSTILE) + 2  # caption, blank, header, rule, rows, rule, total
    assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f\u202e]", text)
    for name, line in zip(HOSTILE, lines[4:]):
        assert line.startswith(escape.text(name) + " "), (name, line)
    assert "x\\ny" in text and "c\\rd" in text and "nul\\x00" in text and "\\u202eevil" in text


def test_csv_reads_back_every_name_exactly():
    text = render(hostile_report(), "csv")
    rows = read_csv(text)[1]
    assert [r[0] for r in rows[1:-1]] == HOSTILE
    assert all(len(r) == 9 for r in rows)


def test_latex_escapes_specials():
    assert escape.latex(r"a_b&c%d$e#f{g}h^i~j\k<l>m|n`o") == (
        r"a\_b\&c\%d\$e\#f\{g\}h\textasciicircum{}i\textasciitilde{}j\textbackslash{}k"
        r"\textless{}l\textgreater{}m\textbar{}n\textasciigrave{}o")
    text = render(hostile_report(), "latex")
    rows = [line for line in text.splitlines() if line.endswith(r" \\") and not line.startswith("path")]
    assert len(rows) == len(HOSTILE) + 1
    for line in rows:
        assert len(re.findall(r"(?<!\\)&", line)) == 8, line
    assert not re.search(r"[\x00-\x09\x0b-\x1f]", text)


def test_json_keeps_names_exactly():
    data = json.loads(render(hostile_report(), "json"))
    assert [row["path"] for row in data["layers"]] == HOSTILE and data["name"] == "# net|<b>"


def test_spec_names_end_to_end():
    net = network_from_text('name: "n|x"\ninput: [3, 8, 8]\nlayers:\n  - {type: relu, name: "a|b"}\n')
    table = render(net.evaluate(), "md").splitlines()[2:]
    assert [len(md_cells(line)) for line in table] == [9, 9, 9, 9]
    assert md_cells(table[2])[0] == "a\\|b"


# -- 5. conventions.get ------------------------------------------------------------------------


def test_unknown_convention_suggests_and_lists():
    with pytest.raises(UnknownConventionError) as info:
        conventions.get("fvcor")
    exc = info.value
    assert isinstance(exc, ConventionError) and isinstance(exc, UsageError) and exc.exit_code == 2
    assert one_line(exc) == ("unknown convention 'fvcor'; did you mean 'fvcore'? (expected one of "
                             + ", ".join(conventions.CONVENTIONS) + ")")
    with pytest.raises(UnknownConventionError) as info:
        conventions.get("zzz")
    assert "did you mean" not in str(info.value)


@pytest.mark.parametrize("name", [None, 3, b"exact", ["exact"]])
def test_convention_name_must_be_a_str(name):
    with pytest.raises(UnknownConventionError) as info:
        conventions.get(name)
    assert one_line(info.value).startswith(f"a convention is named by a str, got {type(name).__name__} (expected one of exact,")


def test_unknown_convention_name_is_shown_on_one_line():
    with pytest.raises(UnknownConventionError) as info:
        conventions.get("a\nb")
    assert "'a\\nb'" in one_line(info.value)
