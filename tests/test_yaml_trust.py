"""Reading YAML text: the same located error (or the same value) whatever PyYAML/LibYAML is
installed, no reading that depends on the YAML version, and bounded work for any input.

Issue 10 ("Trust"): LibYAML 0.2.6's own nesting limit fired first with an unlocated message;
`010` read as 8, `0x40` as 64, `1:30` as 90, `1_6` as 16, a block named `off` as False; a
10^6-digit literal took 48 s; 1-16 MiB documents without aliases took 6-46 s and were blamed on
an "alias expansion bomb"; bytes that are not UTF-8 reported Python's "position 64".

Tests that read text run with each parser this install has (`parser` fixture): LibYAML's, and
PyYAML's pure-Python one (what an install without LibYAML uses).
"""

from __future__ import annotations

import gc
import os
import stat
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import assume, given
from hypothesis import strategies as st

from calc import yamlload
from calc.errors import CalcError, YamlError
from calc.limits import MAX_INT_DIGITS
from calc.network import network_from_text
from calc.yamlload import load_file, loads

PARSERS = ["pure-python"] + (["libyaml"] if yaml.__with_libyaml__ else [])
SPEC = "name: t\ninput: [3, 8, 8]\nlayers:\n  - {{type: conv, K: 1, Cout: {value}}}\n"
COUT_COL = len("  - {type: conv, K: 1, Cout: ") + 1  # where the value of Cout starts on line 4


@pytest.fixture(params=PARSERS)
def parser(request, monkeypatch):
    if request.param == "pure-python":
        monkeypatch.setattr(yamlload, "_PARSER", yamlload._PurePythonParser)
    return request.param


def error(text, file="t.yaml") -> YamlError:
    with pytest.raises(YamlError) as err:
        loads(text, file)
    line = err.value.one_line()
    assert "\n" not in line and "Traceback" not in line
    return err.value


def where(exc: CalcError) -> tuple[str, int | None, int | None]:
    loc = exc.location
    assert loc is not None, exc.one_line()
    return loc.file, loc.line, loc.col


# -- 1. nesting: our limit, located, whichever parser --------------------------------------------


def test_very_deep_flow_nesting_is_located(parser):
    """20,000 `[` on one line: LibYAML 0.2.6 refuses at its own 1,000 levels while its scanner
    looks ahead, before any event of ours; the 65th `[` (column 3 + 64 + 1) is reported."""
    exc = error("a: " + "[" * 20000 + "]" * 20000 + "\n", "deep.yaml")
    assert exc.message == "nesting deeper than 64 levels"
    assert where(exc) == ("deep.yaml", 1, 3 + 64 + 1)


def test_very_deep_block_nesting_is_located(parser):
    """k0: / k1: / ... 1,100 levels: the mapping at depth d starts with key k<d> (line d + 1,
    indented 2 * d); the first node past 64 levels is key k64, at depth 65."""
    text = "".join("  " * i + f"k{i}:\n" for i in range(1100))
    exc = error(text, "deep.yaml")
    assert exc.message == "nesting deeper than 64 levels"
    assert where(exc) == ("deep.yaml", 64 + 1, 2 * 64 + 1)


def test_nesting_limit_is_exact(parser):
    """The document is depth 0, so 64 brackets put the innermost list at depth 64 (allowed) and
    a scalar inside it at depth 65 (refused, at the scalar: column 3 + 64 + 1)."""
    assert loads("a: " + "[" * 64 + "]" * 64 + "\n").data["a"] is not None
    exc = error("a: " + "[" * 64 + "1" + "]" * 64 + "\n")
    assert where(exc) == ("t.yaml", 1, 3 + 64 + 1)


def test_libyaml_limit_firing_first_is_located(monkeypatch):
    """LibYAML >= 0.2.6 may refuse deep nesting before we see the events that pass our limit;
    here a parser that does so (whatever LibYAML this machine has): the text is read again up
    to that point to find where the nesting goes past 64 levels."""

    class RefusingParser(yamlload._PurePythonParser):
        def get_event(self):
            text = self.buffer
            if "[" * 1000 in text:
                mark = yaml.Mark("<unicode string>", text.index("[" * 1000) + 999, 0, 0, None, None)
                mark.column = mark.index
                raise yaml.scanner.ScannerError("while increasing flow level", mark,
                                                "exceeded maximum nesting depth", mark)
            return super().get_event()

    monkeypatch.setattr(yamlload, "_PARSER", RefusingParser)
    exc = error("a: " + "[" * 5000 + "]" * 5000 + "\n", "deep.yaml")
    assert exc.message == "nesting deeper than 64 levels"
    assert where(exc) == ("deep.yaml", 1, 3 + 64 + 1)


def test_nesting_through_an_alias_is_bounded(parser):
    text = "a: &x " + "[" * 40 + "]" * 40 + "\nb: " + "[" * 30 + "*x" + "]" * 30 + "\n"
    exc = error(text)
    assert exc.message == "nesting deeper than 64 levels" and where(exc) == ("t.yaml", 2, 4 + 30)


# -- 2. YAML 1.1 readings ----------------------------------------------------------------------


@pytest.mark.parametrize("literal, readings, instead", [
    ("010", "'010' is a number with a leading zero, read as 8 by YAML 1.1 and as 10 by YAML 1.2", "like 8 or 10"),
    ("09", "'09' is a number with a leading zero, read as text by YAML 1.1 and as 9 by YAML 1.2", "like 9"),
    ("0x40", "'0x40' is a hexadecimal number (64)", "like 64"),
    ("0b10", "'0b10' is a binary number, read as 2 by YAML 1.1 and as text by YAML 1.2", "like 2"),
    ("0o17", "'0o17' is an octal number, read as text by YAML 1.1 and as 15 by YAML 1.2", "like 15"),
    ("1:30", "'1:30' is a base-60 (sexagesimal) number, read as 90 by YAML 1.1", "like 90"),  # 1*60 + 30
    ("1_6", "'1_6' is a number with digit separators (_), read as 16 by YAML 1.1 and as text", "like 16"),
    ("1_0.5", "'1_0.5' is a number with digit separators (_), read as 10.5 by YAML 1.1", "like 10.5"),
    ("1:30.5", "'1:30.5' is a base-60 (sexagesimal) number, read as 90.5 by YAML 1.1", "like 90.5"),
    ("-0x40", "'-0x40' is a hexadecimal number, read as -64 by YAML 1.1 and as text by YAML 1.2", "like -64"),
    ("+010", "'+010' is a number with a leading zero, read as 8 by YAML 1.1 and as 10 by YAML 1.2", "like 8 or 10"),
])
def test_version_dependent_numbers_are_refused_at_their_place(parser, literal, readings, instead):
    with pytest.raises(YamlError) as err:
        network_from_text(SPEC.format(value=literal), "s.yaml")
    line = err.value.one_line()
    assert line.startswith(f"s.yaml:4:{COUT_COL}: {readings}"), line
    assert f"{instead}, or \"{literal}\" in quotes for text)" in line, line


@pytest.mark.parametrize("text", ['"010"', "'0x40'", '"1:30"', "!!str 1_6", "'yes'"])
def test_quoted_text_is_never_a_number(parser, text):
    assert loads(f"a: {text}\n").data["a"] == yaml.safe_load(text)


@pytest.mark.parametrize("word", ["yes", "no", "on", "off", "y", "n", "Yes", "NO", "On", "OFF", "oN", "Y", "N"])
def test_yaml_11_booleans_are_text(parser, word):
    data = loads(f"{word}: {word}\nlist: [{word}]\n").data
    assert data == {word: word, "list": [word]}


@pytest.mark.parametrize("text, value", [
    ("true", True), ("True", True), ("TRUE", True), ("false", False), ("False", False), ("FALSE", False),
    ("null", None), ("Null", None), ("NULL", None), ("~", None), ("", None),
    ("0", 0), ("-0", 0), ("+5", 5), ("64", 64), ("-3", -3), ("1.5", 1.5), ("-2.5e-3", -0.0025),
    ("1e3", 1000.0), ("1.5e+3", 1500.0), (".5", 0.5), ("5.", 5.0), ("0.1", 0.1),
    ("1.2.3", "1.2.3"), ("3x3", "3x3"), ("2001-12-14", "2001-12-14"), ("<<", "<<"), ("=", "="),
])
def test_plain_values_keep_working(parser, text, value):
    got = loads(f"a: {text}\n").data["a"]
    assert got == value and type(got) is type(value)


def test_block_named_off_stays_off(parser):
    text = ("name: t\ninput: [3, 8, 8]\nblocks:\n  off: {params: {on: 2}, layers: [{type: conv, K: 1, Cout: on}]}\n"
            "layers:\n  - {type: block, block: off}\n")
    report = network_from_text(text, "b.yaml").evaluate()
    assert report.totals.params == 3 * 2 + 2  # Cin*Cout + bias, with Cout = the parameter `on`


def test_bias_off_is_a_located_error_expecting_true_or_false(parser):
    with pytest.raises(CalcError) as err:
        network_from_text(SPEC.format(value="4, bias: off"), "s.yaml")
    line = err.value.one_line()
    assert line.startswith("s.yaml:4:") and "expected true or false" in line and "\n" not in line


@given(st.text(alphabet="0123456789+-._:xobeEaf", min_size=1, max_size=8))
def test_a_number_read_is_the_number_yaml_11_reads(literal):
    """Oracle: PyYAML's own YAML 1.1 reading.  Whatever calc reads as a number, YAML 1.1 reads
    as the same number, or (only for floats like 1e3, +.5) as text; whatever calc reads as text,
    YAML 1.1 reads as text too; anything else is a located refusal."""
    text = f"a: {literal}\n"
    try:
        old = yaml.safe_load(text)
    except (yaml.YAMLError, ValueError):  # not a scalar here, or PyYAML's own crash on '0x_'
        assume(False)
    assume(isinstance(old, dict) and "a" in old)
    old = old["a"]
    try:
        got = loads(text, "p.yaml").data["a"]
    except YamlError as exc:
        assert where(exc) == ("p.yaml", 1, 4) and "\n" not in exc.one_line()
        return
    if isinstance(got, str) or got is None:
        assert got == old
    elif isinstance(old, str):
        assert type(got) is float and any(c in literal for c in "eE.")  # YAML 1.2 floats
    else:
        assert got == old and type(got) is type(old)


# -- 3. ints bounded on their text, floats finite ---------------------------------------------


def test_int_of_100_digits_is_read_and_101_refused(parser):
    assert loads("a: " + "9" * MAX_INT_DIGITS + "\n").data["a"] == 10**MAX_INT_DIGITS - 1
    assert loads("a: -" + "9" * MAX_INT_DIGITS + "\n").data["a"] == -(10**MAX_INT_DIGITS - 1)
    exc = error("a: -" + "9" * (MAX_INT_DIGITS + 1) + "\n")
    assert where(exc) == ("t.yaml", 1, 4)
    assert exc.one_line().endswith(f"has {MAX_INT_DIGITS + 1} digits, more than {MAX_INT_DIGITS} "
                                   f"(expected an int of at most {MAX_INT_DIGITS} digits)")


@pytest.mark.parametrize("literal", ["7" * 10**6, "!!int " + "7" * 10**6, "0x" + "f" * 10**6, "1_" * 10**5 + "1"])
@pytest.mark.parametrize("digit_limit", ["python's", "lifted"])
def test_a_million_digits_are_refused_in_milliseconds(parser, literal, digit_limit):
    """Digits are counted on the text, before int(), so a program that lifted Python's int-str
    digit limit (as the CLI once did) is as safe as one that did not, and loading leaves the
    limit as it was.  LibYAML reads the megabyte in ~10 ms (PyYAML's own scanner in ~0.5 s)."""
    before = sys.get_int_max_str_digits()
    if digit_limit == "lifted":
        sys.set_int_max_str_digits(0)
    try:
        start = time.process_time()
        exc = error(f"a: {literal}\n")
        assert time.process_time() - start < (1.0 if parser == "libyaml" else 5.0)
        assert sys.get_int_max_str_digits() == (0 if digit_limit == "lifted" else before)
    finally:
        sys.set_int_max_str_digits(before)
    assert where(exc) == ("t.yaml", 1, 4)


@pytest.mark.parametrize("literal", ["1e400", "-1e400", ".inf", "-.inf", "+.Inf", ".nan", ".NaN", "!!float .inf"])
def test_floats_that_are_not_finite_are_refused(parser, literal):
    exc = error(f"a: [1, {literal}]\n")
    assert "is not a finite number" in exc.message and where(exc) == ("t.yaml", 1, 8)


@pytest.mark.parametrize("literal, message", [
    ("!!int x", "'x' is not a valid int (expected an int)"),
    ("!!int 1.5", "'1.5' is not a valid int (expected an int)"),
    ("!!bool yes", "'yes' is not a valid bool (expected true or false)"),
    ("!!null x", "'x' is not a valid null (expected null or ~)"),
])
def test_explicit_tags_read_as_yaml_12(parser, literal, message):
    assert error(f"a: {literal}\n").one_line() == f"t.yaml:1:4: {message}"
    assert loads("a: !!float 3\n").data["a"] == 3.0 and loads("a: !!int -7\n").data["a"] == -7


# -- 4. size: bytes and nodes --------------------------------------------------------------------


def test_document_over_the_byte_limit_is_refused_at_once():
    text = "a: " + "x" * (yamlload.MAX_BYTES) + "\n"
    for source in (text, text.encode()):
        start = time.process_time()
        exc = error(source, "big.yaml")
        assert time.process_time() - start < 1.0
        assert exc.message == (f"document is {len(text):,} bytes, more than the limit of 4 MiB "
                               f"({4 * 1024 * 1024:,} bytes)")
        assert "`repeat`" in exc.expected and where(exc) == ("big.yaml", 1, 1)


def test_big_file_is_refused_without_reading_it(tmp_path, monkeypatch):
    path = tmp_path / "big.yaml"
    with open(path, "wb") as fh:
        fh.truncate(16 * 1024 * 1024)  # sparse: 16 MiB of NULs
    monkeypatch.setattr(yamlload.os, "read", lambda *a: pytest.fail("read the file"))
    with pytest.raises(YamlError) as err:
        load_file(str(path))
    assert err.value.message.startswith(f"document is {16 * 1024 * 1024:,} bytes, more than the limit")


def test_long_text_at_the_byte_limit_loads_quickly(parser):
    """LibYAML scans 4 MiB of text in ~0.05 s; PyYAML's pure-Python scanner in ~1 s."""
    text = "a: " + "x" * (yamlload.MAX_BYTES - 10) + "\n"
    start = time.process_time()
    assert len(loads(text).data["a"]) == yamlload.MAX_BYTES - 10
    assert time.process_time() - start < (1.0 if parser == "libyaml" else 10.0)


def test_too_many_nodes_is_located_and_does_not_mention_aliases(parser, monkeypatch):
    """Nodes: the mapping (1), key a (2), the list (3), then items: node 1,001 is item 997,
    at column len('a: [') + 1 + 3 * 997."""
    monkeypatch.setattr(yamlload, "MAX_NODES", 1000)
    exc = error("a: [" + "0, " * 2000 + "0]\n", "n.yaml")
    assert where(exc) == ("n.yaml", 1, 5 + 3 * 997)
    assert exc.message == "document has more than 1,000 nodes (keys, values, lists and mappings)"
    assert "alias" not in exc.one_line() and "`repeat`" in exc.expected


def test_alias_expansion_is_named_when_aliases_are_used(parser, monkeypatch):
    """8 nodes written; each *x stands for the anchored list's 4 nodes; with MAX_NODES = 100 the
    expansion allowed is min(100, 10 * 8 + 100,000) = 100."""
    monkeypatch.setattr(yamlload, "MAX_NODES", 100)
    text = "a: &x [1, 2, 3]\nb: [" + ", ".join(["*x"] * 30) + "]\n"
    written = 1 + 2 + 4 + 1  # mapping, keys a and b, the list &x with its 3 items, list b
    exc = error(text, "n.yaml")
    assert exc.message == f"document expands to {written + 30 * 4:,} nodes through its aliases, more than 100"


def test_the_100k_layer_listing_of_bench_is_within_the_limits():
    """bench/run.py's scaling run: 100,000 layers cycling conv (9 nodes), relu (3), batchnorm
    (3), after a 10-node head: 10 + 33,333 * 15 + 9 = 500,014 nodes, 2.8 MB."""
    cycle = ("  - {type: conv, K: 3, Cout: 8, padding: 1}\n", "  - {type: relu}\n", "  - {type: batchnorm}\n")
    text = "name: plain100000\ninput: [8, 16, 16]\nlayers:\n" + "".join(cycle[i % 3] for i in range(100_000))
    assert 10 + 33_333 * 15 + 9 <= yamlload.MAX_NODES and len(text) <= yamlload.MAX_BYTES
    gc.disable()  # as load_network() does
    try:
        assert len(loads(text).data["layers"]) == 100_000
    finally:
        gc.enable()


# -- 5. bytes, files, and what loads() and load_file() are given -------------------------------


def test_bytes_that_are_not_utf8_are_located(parser, tmp_path):
    # Line 3 holds 'é€' (2 characters, 5 bytes) before the bad byte: column 3 + 2 + 1.
    raw = b"name: t\ninput: [3, 8, 8]\nd: \xc3\xa9\xe2\x82\xac\xff\n"
    path = tmp_path / "bad.yaml"
    path.write_bytes(raw)
    for exc in (pytest.raises(YamlError, load_file, str(path)).value, error(raw, str(path))):
        assert exc.one_line() == f"{path}:3:6: byte 0xff is not UTF-8 text (expected a UTF-8 text file)"


def test_utf8_byte_order_mark_is_read_and_columns_start_after_it(parser, tmp_path):
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbfa: 010\n")
    for exc in (pytest.raises(YamlError, load_file, path).value, error("\ufeffa: 010\n", str(path))):
        assert where(exc) == (str(path), 1, 4)
    path.write_bytes(b"\xef\xbb\xbfa: 1\n")
    assert load_file(path).data == {"a": 1}


def test_utf16_and_stray_byte_order_marks_are_refused(parser):
    assert "UTF-16" in error("a: 1\n".encode("utf-16")).message
    exc = error("a: 1\nb: x\ufeffy\n")
    assert where(exc) == ("t.yaml", 2, 5) and "U+FEFF" in exc.message


def test_nul_byte_is_located(parser, tmp_path):
    path = tmp_path / "nul.yaml"
    path.write_bytes(b"a: 1\nb: x\x00y\n")
    exc = pytest.raises(YamlError, load_file, str(path)).value
    assert exc.one_line() == f"{path}:2:5: character U+0000 is not allowed in YAML (expected printable text)"


def test_directory_and_missing_file(tmp_path):
    assert pytest.raises(YamlError, load_file, str(tmp_path)).value.one_line() == \
        f"{tmp_path}: is a directory (expected a path to a YAML spec)"
    assert pytest.raises(YamlError, load_file, str(tmp_path / "nope.yaml")).value.message == "no such file"


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_endless_device_is_read_only_up_to_the_limit():
    start = time.process_time()
    exc = pytest.raises(YamlError, load_file, "/dev/zero").value
    assert time.process_time() - start < 1.0
    assert exc.message == f"document is larger than the limit of 4 MiB ({4 * 1024 * 1024:,} bytes)"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs")
def test_fifo_without_writer_does_not_block(tmp_path, monkeypatch):
    fifo = tmp_path / "spec.fifo"
    os.mkfifo(fifo)
    monkeypatch.setattr(yamlload, "STREAM_WAIT_S", 0.2)
    start = time.perf_counter()
    exc = pytest.raises(YamlError, load_file, str(fifo)).value
    assert time.perf_counter() - start < 2.0
    assert exc.message == "nothing to read after 0.2 s (a FIFO with no writer?)"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs")
def test_fifo_with_a_late_writer_is_read(tmp_path):
    fifo = tmp_path / "spec.fifo"
    os.mkfifo(fifo)

    def write():
        time.sleep(0.1)
        with open(fifo, "w") as fh:
            fh.write("a: [1, 2]\n")

    writer = threading.Thread(target=write)
    writer.start()
    try:
        assert load_file(str(fifo)).data == {"a": [1, 2]}
    finally:
        writer.join(5)


def test_unreadable_file(tmp_path, monkeypatch):
    path = tmp_path / "secret.yaml"
    path.write_text("a: 1\n")
    path.chmod(0)
    if os.access(path, os.R_OK):  # root reads anything: make open() refuse as it would
        def refuse(*args, **kwargs):
            raise PermissionError(13, "Permission denied")
        monkeypatch.setattr(yamlload.os, "open", refuse)
    try:
        exc = pytest.raises(YamlError, load_file, str(path)).value
    finally:
        path.chmod(stat.S_IRUSR | stat.S_IWUSR)
    assert exc.one_line() == f"{path}: cannot read: permission denied"


def test_paths_and_what_is_not_a_path(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("a: 010\n")
    exc = pytest.raises(YamlError, load_file, path).value  # a Path works, errors name it as a str
    assert where(exc) == (str(path), 1, 4) and exc.one_line().startswith(f"{path}:1:4: ")
    with open(path, "rb") as fh:
        fd = fh.fileno()
        for not_a_path in (fd, None, b"s.yaml", ["s.yaml"]):
            exc = pytest.raises(YamlError, load_file, not_a_path).value
            assert "a spec path must be a str or os.PathLike, not" in exc.message
        assert fh.tell() == 0  # the descriptor was not read


def test_loads_takes_str_or_utf8_bytes_only():
    assert loads(b"a: 1\n").data == {"a": 1} and loads(bytearray(b"a: [2]")).data == {"a": [2]}
    for wrong in (3, None, ["a: 1"], Path("s.yaml")):
        exc = error(wrong, "w.yaml")
        assert exc.message == f"YAML text must be a str (or UTF-8 bytes), not {type(wrong).__name__}"
        assert exc.location.file == "w.yaml"


def test_text_without_a_file_name_is_string():
    with pytest.raises(YamlError) as err:
        loads("a: [1\n")
    assert where(err.value) == ("<string>", 2, 1)
    assert loads("a: 1\n").file == "<string>"
