"""The report cache (calc/cache.py): a hit prints exactly what the uncached command prints, and
nothing can make it print anything else.

- Every library spec under a dozen option sets, three ways in-process: uncached (--no-cache),
  a miss (which stores), a hit (with the spec loader made to fail, so it is a real hit): the
  three outputs byte-identical, one entry per option set (every option is in the key).
- A damaged entry (truncated, a flipped byte, another key's, a foreign file, empty, a folder)
  is a miss, never an error or a wrong number, and is rebuilt.
- Entries are written to a temporary file and renamed (os.replace); racing writers leave one
  whole entry.  A spec with errors is never stored.  --no-cache and FLOPCALC_NO_CACHE turn
  the cache off both ways.  The folder keeps within FLOPCALC_CACHE_MAX_BYTES, evicting the
  least recently used.  Stdin and library names are keyed by the bytes read.
- In a fresh interpreter a hit imports neither pydantic nor PyYAML.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import calc.cli as cli
from calc import cache
from calc.cli import main

ROOT = Path(__file__).resolve().parents[1]
SPECS = sorted(p.name for p in (ROOT / "specs").glob("*.yaml"))
OPTION_SETS = (
    (), ("--format", "md"), ("--format", "csv"), ("--format", "json"), ("--format", "latex"),
    ("--format", "tree"), ("--units",), ("--depth", "2"), ("--top", "5"), ("--fold-bn",),
    ("--dtype", "fp16", "--convention", "fvcore"), ("--batch", "2"),
)


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv(cache.DIR_ENV, str(folder))
    monkeypatch.delenv(cache.NO_CACHE_ENV, raising=False)
    monkeypatch.delenv(cache.SIZE_ENV, raising=False)
    return folder


def run(capsys, argv):
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def entries(folder: Path) -> list[Path]:
    return sorted(folder.glob("*" + cache.SUFFIX)) if folder.exists() else []


def no_load(monkeypatch):
    """Make loading a spec fail: what runs after this can only be a cache hit."""
    def refuse(*args, **kwargs):
        raise AssertionError("the spec was loaded: not a cache hit")

    monkeypatch.setattr(cli, "load_spec", refuse)


@pytest.mark.parametrize("spec", SPECS)
def test_hit_is_byte_identical_to_uncached(capsys, cache_dir, monkeypatch, spec):
    path = str(ROOT / "specs" / spec)
    expected = {}
    for options in OPTION_SETS:
        expected[options] = run(capsys, ["report", path, *options, "--no-cache"])
        assert run(capsys, ["report", path, *options]) == expected[options]  # the miss
    stored = entries(cache_dir)
    ok = [o for o in OPTION_SETS if expected[o][0] == 0]
    assert len(stored) == len(ok)  # one entry per option set: each option is in the key
    assert ok, f"{spec}: no option set succeeded"
    with monkeypatch.context() as m:
        no_load(m)
        for options in ok:
            assert run(capsys, ["report", path, *options]) == expected[options]  # the hit


def _write_entry(path: Path, key: str, text: str) -> None:
    body = text.encode()
    path.write_bytes(b"%s %s %d %s\n" % (cache.MAGIC, key.encode(), len(body), cache.digest(body).encode()) + body)


def _damages(entry: bytes, other: bytes, key: str):
    header, _, body = entry.partition(b"\n")
    yield "truncated", entry[: len(entry) // 2]
    yield "header only", header + b"\n"
    yield "no newline", header
    yield "flipped byte", entry[:-10] + bytes([entry[-10] ^ 1]) + entry[-9:]
    yield "digit changed", entry.replace(b"4", b"5", 1) if b"4" in body else entry[:-1] + b"x"
    yield "another key's entry", other
    yield "foreign file", b"\x80\x04\x95 not an entry at all \x00\xff"
    yield "empty", b""
    yield "wrong length", header.rsplit(b" ", 2)[0] + b" 999999999 " + header.rsplit(b" ", 1)[1] + b"\n" + body
    yield "extra bytes", entry + b"\n"
    yield "other magic", entry.replace(b"flopcalc-report-cache 1", b"flopcalc-report-cache 2", 1)
    yield "json", b'{"output": "1 2 3"}'
    yield "not utf-8", b"%s %s %d %s\n" % (cache.MAGIC, key.encode(), 2, cache.digest(b"\xff\xfe").encode()) + b"\xff\xfe"


def test_damaged_entries_are_misses_and_rebuilt(capsys, cache_dir, monkeypatch):
    spec = str(ROOT / "specs" / "resnet18.yaml")
    expected = run(capsys, ["report", spec, "--no-cache"])
    assert run(capsys, ["report", spec, "--format", "csv"])[0] == 0
    other = entries(cache_dir)[0].read_bytes()
    assert run(capsys, ["report", spec]) == expected
    (entry,) = [p for p in entries(cache_dir) if p.read_bytes() != other]
    good = entry.read_bytes()
    key = entry.name.removesuffix(cache.SUFFIX)
    for what, data in _damages(good, other, key):
        entry.write_bytes(data)
        assert run(capsys, ["report", spec]) == expected, what
        assert entry.read_bytes() == good, f"{what}: not rebuilt"
    entry.unlink()
    entry.mkdir()  # a folder where the entry should be: a miss, and the store gives up quietly
    assert run(capsys, ["report", spec]) == expected
    entry.rmdir()
    assert run(capsys, ["report", spec]) == expected and entry.read_bytes() == good


def test_unwritable_cache_folder_is_no_error(capsys, tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(cache.DIR_ENV, str(blocker / "cache"))
    monkeypatch.delenv(cache.NO_CACHE_ENV, raising=False)
    spec = str(ROOT / "specs" / "resnet18.yaml")
    expected = run(capsys, ["report", spec, "--no-cache"])
    assert run(capsys, ["report", spec]) == expected
    assert run(capsys, ["report", spec]) == expected


def test_store_is_atomic(cache_dir, monkeypatch):
    renames = []
    real = os.replace

    def record(src, dst):
        renames.append((src, dst, Path(src).read_bytes()))
        real(src, dst)

    monkeypatch.setattr(os, "replace", record)
    cache.store("ab" * 32, "text\n")
    ((src, dst, data),) = renames
    assert Path(src).parent == Path(dst).parent == cache_dir and Path(src).name.startswith(".")
    assert src.endswith(".tmp") and dst.endswith(cache.SUFFIX) and not Path(src).exists()
    assert cache.load("ab" * 32) == "text\n" and data == Path(dst).read_bytes()
    assert [p.name for p in cache_dir.iterdir()] == [Path(dst).name]  # no temporary file left


def test_racing_writers_leave_one_whole_entry(cache_dir):
    key = "cd" * 32
    texts = [f"writer {i}\n" * (1000 + 37 * i) for i in range(8)]
    seen = []

    def writer(text):
        for _ in range(20):
            cache.store(key, text)
            seen.append(cache.load(key))

    threads = [threading.Thread(target=writer, args=(t,)) for t in texts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert cache.load(key) in texts and all(s in texts for s in seen)
    assert [p.name for p in cache_dir.iterdir()] == [key + cache.SUFFIX]


def test_racing_processes_leave_one_whole_entry(cache_dir):
    code = ("import sys; from calc import cache\n"
            "for _ in range(30): cache.store('ef' * 32, sys.argv[1] * 5000)\n")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(i)], cwd=ROOT, env=os.environ.copy()) for i in range(4)]
    assert [p.wait(timeout=60) for p in procs] == [0] * 4
    assert cache.load("ef" * 32) in {str(i) * 5000 for i in range(4)}
    assert [p.name for p in cache_dir.iterdir()] == ["ef" * 32 + cache.SUFFIX]


BAD_SPECS = {
    "yaml": "name: bad\ninput: [3, 8, 8]\nlayers: [\n",
    "spec": "name: bad\ninput: [3, 8, 8]\nlayers:\n  - {type: conv, K: 3, Cout: 0}\n",
    "shape": "name: bad\ninput: [3, 8, 8]\nlayers:\n  - {type: conv, K: 9, Cout: 4}\n",
}


@pytest.mark.parametrize("kind", sorted(BAD_SPECS))
def test_specs_with_errors_are_never_stored(capsys, cache_dir, tmp_path, kind):
    spec = tmp_path / "bad.yaml"
    spec.write_text(BAD_SPECS[kind])
    first = run(capsys, ["report", str(spec)])
    assert first[0] == 1 and first[1] == "" and first[2].count("\n") == 1
    assert run(capsys, ["report", str(spec)]) == first
    assert entries(cache_dir) == []


def test_bad_options_are_never_stored(capsys, cache_dir):
    spec = str(ROOT / "specs" / "resnet18.yaml")
    for argv in (["--convention", "nope"], ["--input", "3x224"], ["--depth", "0"], ["--top", "-1"]):
        code, out, err = run(capsys, ["report", spec, *argv])
        assert code != 0 and out == "" and err
    assert entries(cache_dir) == []


def _poison(folder: Path, text: str) -> None:
    """Every entry rewritten, valid, to hold `text`: a reader of the cache prints it."""
    for entry in entries(folder):
        _write_entry(entry, entry.name.removesuffix(cache.SUFFIX), text)


def test_no_cache_flag_and_environment(capsys, cache_dir, monkeypatch):
    spec = str(ROOT / "specs" / "resnet18.yaml")
    expected = run(capsys, ["report", spec, "--no-cache"])
    assert entries(cache_dir) == []
    monkeypatch.setenv(cache.NO_CACHE_ENV, "1")
    assert run(capsys, ["report", spec]) == expected and entries(cache_dir) == []
    monkeypatch.setenv(cache.NO_CACHE_ENV, "0")  # '0' and '' leave it on
    assert run(capsys, ["report", spec]) == expected and len(entries(cache_dir)) == 1
    _poison(cache_dir, "POISON\n")
    assert run(capsys, ["report", spec]) == (0, "POISON\n", "")  # the cache is read (test of the test)
    assert run(capsys, ["report", spec, "--no-cache"]) == expected
    monkeypatch.setenv(cache.NO_CACHE_ENV, "yes")
    assert run(capsys, ["report", spec]) == expected
    assert [e.read_bytes().endswith(b"POISON\n") for e in entries(cache_dir)] == [True]  # nor written


def test_size_bound_evicts_least_recently_used(cache_dir, monkeypatch):
    text = "x" * 1000 + "\n"
    size = len(b"%s %s %d %s\n" % (cache.MAGIC, b"0" * 64, len(text), b"0" * 64)) + len(text)
    monkeypatch.setenv(cache.SIZE_ENV, str(3 * size))
    keys = [f"{i:064x}" for i in range(6)]
    for i, k in enumerate(keys[:3]):
        cache.store(k, text)
        os.utime(cache_dir / (k + cache.SUFFIX), ns=(10**18 + i * 10**9,) * 2)
    assert cache.load(keys[0]) == text  # used: now the most recent

    def kept():
        return {p.name.removesuffix(cache.SUFFIX) for p in entries(cache_dir)}

    cache.store(keys[3], text)
    assert kept() == {keys[0], keys[2], keys[3]}  # keys[1], the least recently used, went first
    cache.store(keys[4], text)
    assert kept() == {keys[0], keys[3], keys[4]}
    for k in keys[5:]:
        cache.store(k, text)
        assert sum(p.stat().st_size for p in cache_dir.iterdir()) <= 3 * size


def test_an_entry_larger_than_half_the_bound_is_not_stored(cache_dir, monkeypatch):
    monkeypatch.setenv(cache.SIZE_ENV, "1000")
    cache.store("aa" * 32, "y" * 600)
    assert entries(cache_dir) == []
    cache.store("bb" * 32, "y" * 100)
    assert cache.load("bb" * 32) == "y" * 100


class _Stdin:
    def __init__(self, data: bytes) -> None:
        self.buffer = io.BytesIO(data)


def test_stdin_is_keyed_by_its_bytes(capsys, cache_dir, monkeypatch):
    resnet18 = (ROOT / "specs" / "resnet18.yaml").read_bytes()
    vgg = (ROOT / "specs" / "vgg16.yaml").read_bytes()
    outputs = {}
    for name, data in (("resnet18", resnet18), ("vgg16", vgg)):
        monkeypatch.setattr(sys, "stdin", _Stdin(data))
        outputs[name] = run(capsys, ["report", "-", "--no-cache"])
        assert outputs[name][0] == 0
        monkeypatch.setattr(sys, "stdin", _Stdin(data))
        assert run(capsys, ["report", "-"]) == outputs[name]
    assert len(entries(cache_dir)) == 2
    with monkeypatch.context() as m:
        no_load(m)
        for name, data in (("resnet18", resnet18), ("vgg16", vgg)):
            m.setattr(sys, "stdin", _Stdin(data))
            assert run(capsys, ["report", "-"]) == outputs[name]
    monkeypatch.setattr(sys, "stdin", _Stdin(b"name: x\ninput: [3, 8, 8]\nlayers: [\n"))
    bad = run(capsys, ["report", "-"])
    assert bad[0] == 1 and bad[2].startswith("<stdin>:") and len(entries(cache_dir)) == 2


def test_stdin_errors_come_in_the_uncached_order(capsys, cache_dir, monkeypatch):
    monkeypatch.setattr(sys, "stdin", None)
    assert run(capsys, ["report", "-", "--no-cache"]) == run(capsys, ["report", "-"])
    # a bad convention is reported before stdin is found missing, cache or not
    first = run(capsys, ["report", "-", "--convention", "nope", "--no-cache"])
    assert run(capsys, ["report", "-", "--convention", "nope"]) == first and "nope" in first[2]


def test_library_name_and_path_hit(capsys, cache_dir, monkeypatch):
    expected = run(capsys, ["report", str(ROOT / "specs" / "resnet18.yaml"), "--no-cache"])
    assert run(capsys, ["report", "resnet18"]) == expected
    with monkeypatch.context() as m:
        no_load(m)
        assert run(capsys, ["report", "resnet18"]) == expected
        assert run(capsys, ["report", "resnet18.yaml"]) == expected


def test_an_edited_spec_is_not_served_stale(capsys, cache_dir, tmp_path):
    spec = tmp_path / "net.yaml"
    text = "name: net\ninput: [3, 16, 16]\nlayers:\n  - {type: conv, K: 3, Cout: COUT, padding: 1}\n"
    outs = []
    for cout in (8, 9, 8):
        spec.write_text(text.replace("COUT", str(cout)))
        outs.append(run(capsys, ["report", str(spec)]))
        assert outs[-1] == run(capsys, ["report", str(spec), "--no-cache"])
    assert outs[0] == outs[2] != outs[1] and len(entries(cache_dir)) == 2


def test_output_file_on_a_hit(capsys, cache_dir, tmp_path):
    spec = str(ROOT / "specs" / "resnet18.yaml")
    expected = run(capsys, ["report", spec, "--format", "md", "--no-cache"])[1]
    for _ in range(2):  # a miss, then a hit
        target = tmp_path / "out.md"
        assert run(capsys, ["report", spec, "--format", "md", "-o", str(target)]) == (0, "", "")
        assert target.read_text() == expected
        target.unlink()
    code, out, err = run(capsys, ["report", spec, "-o", spec])  # -o still may not be the spec
    assert code == 2 and out == ""


def test_key_covers_code_and_source(monkeypatch):
    base = cache.key(b"spec", "a.yaml", [("format", "text")])
    assert cache.key(b"spec", "b.yaml", [("format", "text")]) != base
    assert cache.key(b"spec!", "a.yaml", [("format", "text")]) != base
    assert cache.key(b"spec", "a.yaml", [("format", "md")]) != base
    monkeypatch.setattr(cache, "_CODE", cache.code_fingerprint() + "\ncalc/report.py 1 2")
    assert cache.key(b"spec", "a.yaml", [("format", "text")]) != base
    fingerprint = cache.code_fingerprint()
    assert "cli.py" in fingerprint and "cache.py" in fingerprint and sys.version in fingerprint


def test_every_report_option_is_in_the_key():
    """The key takes every parsed option of `calc report` but those REPORT_UNCACHED names: an
    option added later is keyed without anyone remembering to."""
    report = cli.build_parser(layer_kinds=False)._subparsers._group_actions[0].choices["report"]
    dests = {a.dest for a in report._actions if a.dest != "help"}
    assert cli.REPORT_UNCACHED - {"command"} <= dests
    assert dests - cli.REPORT_UNCACHED >= {"convention", "dtype", "format", "units", "depth", "top", "batch", "fold_bn"}


def test_bounds_match_the_loader():
    from calc.yamlload import MAX_BYTES

    assert cli.STDIN_MAX_BYTES == MAX_BYTES == cache.MAX_SPEC_BYTES


def test_cache_folder(monkeypatch, tmp_path):
    monkeypatch.delenv(cache.DIR_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache.directory() == str(tmp_path / "flopcalc")
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")  # not absolute: ignored, as the spec says
    if sys.platform.startswith("linux"):
        monkeypatch.setenv("HOME", str(tmp_path / "home"))
        assert cache.directory() == str(tmp_path / "home" / ".cache" / "flopcalc")
    monkeypatch.setenv(cache.DIR_ENV, str(tmp_path / "mine"))
    assert cache.directory() == str(tmp_path / "mine")


def test_clear(cache_dir):
    for i in range(3):
        cache.store(f"{i:064x}", "t")
    assert cache.clear() == 3 and entries(cache_dir) == []


def test_a_hit_imports_neither_pydantic_nor_yaml(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in (cache.NO_CACHE_ENV, "PYTHONPATH")}
    env |= {cache.DIR_ENV: str(tmp_path / "cache"), "PYTHONPATH": str(ROOT)}
    for spec in ("specs/resnet18.yaml", "resnet18"):
        miss = subprocess.run([sys.executable, "-m", "calc", "report", spec], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=60)
        assert miss.returncode == 0
        probe = ("import io, sys, contextlib\nfrom calc.cli import main\nout = io.StringIO()\n"
                 f"with contextlib.redirect_stdout(out): assert main(['report', {spec!r}]) == 0\n"
                 "import calc.cli as c\n"
                 "real = [m for m, v in sys.modules.items() if not isinstance(v, c._NoPluginLoader)]\n"
                 "loaded = sorted({m.split('.')[0] for m in real} & {'pydantic', 'pydantic_core', 'yaml', 'sympy'})\n"
                 "assert not loaded, loaded\nassert 'calc.layers' not in sys.modules\n"
                 "sys.stdout.write(out.getvalue())\n")
        hit = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert hit.returncode == 0, hit.stderr
        assert hit.stdout == miss.stdout


SPELLINGS = [
    (("--format", "md"), ("--format=md",), ("--form", "md"), ("--format", "csv", "--format", "md")),
    (("--input", "3x64x64"), ("--input", "3,64,64"), ("--input", "+3x64X64"), ("--input=3x64x64",)),
    (("--top", "5", "--units"), ("--top", "05", "--units"), ("--units", "--top=5"), ("--units", "--top", "+5")),
]


@pytest.mark.parametrize("spellings", SPELLINGS, ids=["format", "input", "top"])
def test_every_spelling_finds_the_one_entry(capsys, cache_dir, monkeypatch, spellings):
    """Plain arguments are answered before argparse runs (cli.cached_report), others after it
    (cli._report_cache): both make the same key from the same options."""
    spec = str(ROOT / "specs" / "resnet18.yaml")
    expected = run(capsys, ["report", spec, *spellings[0], "--no-cache"])
    assert expected[0] == 0
    for argv in spellings:
        assert run(capsys, ["report", spec, *argv]) == expected, argv
    assert len(entries(cache_dir)) == 1
    with monkeypatch.context() as m:
        no_load(m)
        for argv in spellings:
            assert run(capsys, ["report", spec, *argv]) == expected, argv


PLAIN = [
    [], ["--format", "json"], ["--units", "--fold-bn"], ["--depth", "2", "--top=3"], ["--batch", "4"],
    ["--input", "3x99x101"], ["--input", "7"], ["--dtype", "int8", "--convention", "thop"], ["--convention="],
    ["--top", "0"],
]
NOT_PLAIN = [
    ["-"], ["--no-cache"], ["-o", "x"], ["--output=x"], ["--help"], ["-h"], ["--form", "md"], ["--top", "1", "--top", "2"],
    ["--top", "-1"], ["--top", "+1"], ["--input", "3x"], ["--input", "1x2x3x4x5"], ["--", "x"], ["extra"], ["--top"],
    ["--units=1"], ["--depth", "1e3"], ["--depth", "\u0663"], ["--input", "3x0x4"],
]


@pytest.mark.parametrize("args", PLAIN, ids=str)
def test_plain_arguments_make_argparses_options(args):
    spec = "specs/resnet18.yaml"
    plain = cli._plain_report_args([spec, *args])
    assert plain is not None and plain[0] == spec
    parsed = cli.build_parser(False, command="report").parse_args(["report", spec, *args])
    try:
        sample = cli._sample_and_batch(parsed)
    except Exception:  # an error the command reports: nothing is ever stored under it
        return
    full = [(k, v) for k, v in vars(parsed).items() if k not in cli.REPORT_UNCACHED] + [("input", sample)]
    assert sorted(plain[1]) == sorted(full)


@pytest.mark.parametrize("args", NOT_PLAIN, ids=str)
def test_other_arguments_go_to_argparse(args):
    assert cli._plain_report_args(["specs/resnet18.yaml", *args]) is None


def test_report_defaults_are_the_parsers():
    parsed = cli.build_parser(False, command="report").parse_args(["report", "x.yaml"])
    keyed = {k: v for k, v in vars(parsed).items() if k not in cli.REPORT_UNCACHED}
    assert keyed == cli.REPORT_DEFAULTS
