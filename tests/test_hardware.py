"""Hardware profiles (issue 13): the shipped YAML files, exact unit parsing, dense-not-sparse
peaks, ridge points as exact Fractions, one-line located errors, and `calc hardware`."""

from __future__ import annotations

import argparse
import json
import os
import re
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calc.errors import CalcError, SpecError, UsageError, YamlError
from calc.hardware import PEAK_DTYPES, Profile, load_profile, profile_names
from calc.hardware import cli as hw_cli
from calc.hardware.profile import PREFIXES, arithmetic_product, parse_figure, parse_share

ROOT = Path(__file__).resolve().parent.parent
T = 10**12
G = 10**9

REQUIRED = {
    "a100-sxm-40gb", "a100-sxm-80gb", "h100-sxm", "h100-pcie", "h200-sxm", "l4", "rtx-4090", "mi300x",
    "jetson-agx-orin-64gb", "apple-m1-max", "raspberry-pi-5", "epyc-9654",
}


def _wired() -> bool:
    from calc.cli import EXTENSIONS

    return EXTENSIONS.get("hardware") == "calc.hardware.cli"


# -- the shipped profiles ----------------------------------------------------------------------


def test_the_issue_s_devices_ship_and_every_profile_validates():
    names = profile_names()
    assert REQUIRED <= set(names) and list(names) == sorted(names)
    for name in names:
        p = load_profile(name)
        assert isinstance(p, Profile) and p.name == name
        assert Path(p.file).name == f"{name}.yaml" and Path(p.file).parent == ROOT / "calc/hardware/profiles"
        assert p.kind in ("gpu", "cpu", "soc")
        assert set(p.peak) <= set(PEAK_DTYPES) and p.peak
        for value in (*p.peak.values(), p.bandwidth, p.memory):
            assert type(value) is int and value > 0
        assert p.cache is None or (type(p.cache) is int and p.cache > 0)
        assert 0 < p.compute_efficiency <= 1 and 0 < p.memory_efficiency <= 1
        # every figure has its source (a URL) and its text as written
        fields = [f"peak.{d}" for d in p.peak] + ["bandwidth", "memory", "compute_efficiency", "memory_efficiency"]
        fields += ["cache"] if p.cache is not None else []
        assert set(p.sources) == set(fields) == set(p.figures)
        assert all(re.search(r"https?://\S+", p.sources[f]) for f in fields), name


def test_profiles_are_frozen():
    p = load_profile("h100-sxm")
    with pytest.raises(Exception):
        p.bandwidth = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        p.peak["bf16"] = 1  # type: ignore[index]
    assert load_profile("h100-sxm") is p  # shipped profiles are read once
    import copy
    import pickle

    assert copy.deepcopy(p) == p == pickle.loads(pickle.dumps(p)) and hash(p.peak) == hash(copy.copy(p.peak))


def test_ridge_points_are_exact_fractions():
    h100 = load_profile("h100-sxm")
    r = h100.ridge("bf16")
    assert type(r) is Fraction and r == Fraction(989_400_000_000_000, 3_350_000_000_000) == Fraction(19788, 67)
    for name in profile_names():
        p = load_profile(name)
        for d in p.peak:
            assert p.ridge(d) == Fraction(p.peak[d], p.bandwidth) and type(p.ridge(d)) is Fraction
    assert load_profile("a100-sxm-80gb").ridge("fp16") == Fraction(312 * T, 2039 * G)


def test_llama2_7b_decode_floor_on_a100_80gb_is_6_61_ms():
    """Issue 13: 13,476,831,232 weight bytes / 2,039 GB/s = 6.61 ms."""
    bandwidth = load_profile("a100-sxm-80gb").bandwidth
    assert bandwidth == 2_039_000_000_000
    seconds = Fraction(13_476_831_232, bandwidth)
    assert round(seconds * 1000, 2) == Fraction(661, 100)


# -- dense, never sparse -----------------------------------------------------------------------


def test_h100_sxm_bf16_is_the_dense_989_4_tflops_not_the_datasheet_s_sparse_1979():
    p = load_profile("h100-sxm")
    assert p.peak_for("bf16") == 989_400_000_000_000 == p.peak_for("fp16")
    assert p.peak_for("bf16") != 1_979_000_000_000_000
    assert p.figures["peak.bf16"] == "989.4 TFLOPS"
    assert "'1,979 TFLOPS*') is with sparsity" in p.sources["peak.bf16"]
    assert "gtc22-whitepaper-hopper" in p.sources["peak.bf16"]
    assert p.peak_for("tf32") == 494_700_000_000_000 and p.peak_for("fp8") == 1_978_900_000_000_000


@pytest.mark.parametrize("name, dtype, dense, sparse", [
    ("a100-sxm-80gb", "bf16", 312 * T, 624 * T),
    ("a100-sxm-40gb", "tf32", 156 * T, 312 * T),
    ("a100-sxm-80gb", "int8", 624 * T, 1248 * T),
    ("h100-pcie", "bf16", 756_500 * G, 1513 * T),
    ("h200-sxm", "bf16", 989_400 * G, 1979 * T),
    ("l4", "fp8", 242_500 * G, 485 * T),
    ("rtx-4090", "bf16", 165_200 * G, 330_400 * G),
    ("mi300x", "fp16", 1_307_400 * G, 2_614_900 * G),
    ("jetson-agx-orin-64gb", "int8", 85_196_800_000_000, 170 * T),
])
def test_nvidia_and_amd_tensor_peaks_are_dense(name, dtype, dense, sparse):
    """The dense figure, about half the vendor's sparsity figure, whose source says which is which."""
    p = load_profile(name)
    assert p.peak_for(dtype) == dense
    assert abs(Fraction(sparse, 2 * dense) - 1) < Fraction(1, 200)  # the printed figures are rounded
    source = p.sources[f"peak.{dtype}"]
    assert "sparsity" in source or "sparse" in source, source


def test_the_derived_peaks_show_their_arithmetic():
    epyc = load_profile("epyc-9654")
    assert epyc.peak_for("fp32") == 96 * 3_550_000_000 * 32 == 10_905_600_000_000
    assert epyc.sources["peak.fp32"].startswith("96 cores x 3.55 GHz x 32 FLOP/clk")
    assert epyc.bandwidth == 12 * 4_800_000_000 * 8 and epyc.memory == 12 * 64 * 2**30
    pi = load_profile("raspberry-pi-5")
    assert pi.peak_for("fp32") == 4 * 2_400_000_000 * 16 and pi.bandwidth == 4 * 4_267_000_000
    orin = load_profile("jetson-agx-orin-64gb")
    assert orin.peak_for("fp16") == 64 * 512 * 1_300_000_000 and orin.peak_for("fp32") == 2048 * 2 * 1_300_000_000


# -- exact unit parsing ------------------------------------------------------------------------

KINDS_UNITS = {"flops": ("FLOPS", "FLOP/s"), "ops": ("OPS", "OP/s"), "bandwidth": ("B/s",), "bytes": ("B",)}


@settings(max_examples=300, deadline=None)
@given(mantissa=st.integers(1, 10**9), places=st.integers(0, 6), prefix=st.sampled_from(sorted(PREFIXES)),
       kind=st.sampled_from(sorted(KINDS_UNITS)), data=st.data())
def test_a_value_with_any_prefix_parses_to_the_exact_int(mantissa, places, prefix, kind, data):
    unit = data.draw(st.sampled_from(KINDS_UNITS[kind]))
    digits = str(mantissa).rjust(places + 1, "0")
    numeral = digits if places == 0 else f"{digits[:-places]}.{digits[-places:]}"
    text = f"{numeral} {prefix}{unit}"
    multiplier = {"": 1, "k": 1000, "Ki": 1024}.get(prefix) or (
        1000 ** ("kMGTPE".index(prefix) + 1) if len(prefix) == 1 else 1024 ** ("KMGTPE".index(prefix[0]) + 1))
    numerator = mantissa * multiplier
    if numerator % 10**places == 0:
        assert parse_figure(text, kind) == numerator // 10**places
        if len(digits[:-places or None]) > 3 and places == 0:  # with thousands separators too
            assert parse_figure(f"{int(numeral):,} {prefix}{unit}", kind) == numerator
    else:
        with pytest.raises(ValueError, match="not a whole number"):
            parse_figure(text, kind)


def test_decimal_and_binary_prefixes_are_exact():
    assert parse_figure("80 GB", "bytes") == 80 * 10**9
    assert parse_figure("64 GiB", "bytes") == 64 * 2**30
    assert parse_figure("3.35 TB/s", "bandwidth") == 3_350_000_000_000
    assert parse_figure("2,039 GB/s", "bandwidth") == 2_039_000_000_000
    assert parse_figure("989.4 TFLOPS", "flops") == 989_400_000_000_000
    assert parse_figure("0.1 TFLOP/s", "flops") == 10**11  # 0.1 is not a binary float here
    assert parse_figure("1978.9 TOPS", "ops") == 1_978_900_000_000_000
    assert parse_figure("40960 KiB", "bytes") == 41_943_040


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30), st.sampled_from(sorted(KINDS_UNITS)))
def test_any_text_is_a_positive_int_or_a_one_line_value_error(text, kind):
    try:
        value = parse_figure(text, kind)
    except ValueError as exc:
        assert "\n" not in str(exc) or "\n" in text
    else:
        assert type(value) is int and value > 0


@pytest.mark.parametrize("text, kind, message", [
    ("3.35 TFLOPS", "bandwidth", "'TFLOPS' is not a unit of bandwidth"),
    ("3.35 TB/s", "flops", "'TB/s' is not a unit of flops"),
    ("80 KB", "bytes", "'KB' is ambiguous"),
    ("0 TB/s", "bandwidth", "is zero"),
    ("-3 TB/s", "bandwidth", "is negative"),
    ("fast", "bandwidth", "is not a number with a unit"),
    ("1.5 B", "bytes", "not a whole number"),
    ("1,23 GB", "bytes", "is not a number with a unit"),
])
def test_bad_figures(text, kind, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_figure(text, kind)
    with pytest.raises(ValueError, match="has no unit"):
        parse_figure(3.35, "bandwidth")


def test_shares_are_exact_and_in_range():
    assert parse_share(0.8) == Fraction(4, 5) and parse_share("4/5") == parse_share("80%") == Fraction(4, 5)
    assert parse_share(1) == 1 and parse_share(0.38) == Fraction(19, 50)
    for bad in (0, -0.5, 1.01, "120%", "x", True, None):
        with pytest.raises(ValueError):
            parse_share(bad)


def test_arithmetic_product():
    assert arithmetic_product("96 cores x 3.55 GHz x 32 FLOP/clk") == 10_905_600_000_000
    assert arithmetic_product("1513 TFLOPS x 0.5") == 756_500_000_000_000
    assert arithmetic_product("12 channels x 64 GiB") == 12 * 2**36
    assert arithmetic_product("4 B per transfer (32-bit bus) x 4267 MT/s = 17.068 GB/s") == 17_068_000_000
    with pytest.raises(ValueError, match="does not start with a number"):
        arithmetic_product("cores x 2 GHz")


# -- bad profile files: one line, file:line:col, field ------------------------------------------

GOOD = """\
name: mine
title: My device
kind: gpu
sources:
  sheet: {title: A datasheet, url: https://example.com/sheet.pdf, where: table 1}
peak:
  bf16: {value: 100 TFLOPS, source: sheet}
  fp32: {value: 50 TFLOPS, source: sheet, arithmetic: "100 SMs x 500 GFLOPS"}
bandwidth: {value: 1 TB/s, source: sheet}
memory: {value: 16 GiB, source: sheet}
compute_efficiency: {value: 0.5, source: sheet, note: chosen}
memory_efficiency: {value: 80%, source: sheet}
"""


def _write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "mine.yaml"
    path.write_text(text)
    return str(path)


def test_a_profile_of_one_s_own(tmp_path):
    path = _write(tmp_path, GOOD)
    p = load_profile(path)
    assert (p.name, p.peak_for("bf16"), p.bandwidth, p.memory) == ("mine", 100 * T, T, 16 * 2**30)
    assert p.memory_efficiency == Fraction(4, 5) and p.ridge("bf16") == 100
    assert load_profile(Path(path)) == p  # os.PathLike too


BAD = [  # (replace this, with that, line, field, words of the message)
    ("1 TB/s", "0 TB/s", 9, "bandwidth.value", "is zero"),
    ("1 TB/s", "-1 TB/s", 9, "bandwidth.value", "is negative"),
    ("1 TB/s", "lots", 9, "bandwidth.value", "is not a number with a unit"),
    ("1 TB/s", "3.35 TFLOPS", 9, "bandwidth.value", "'TFLOPS' is not a unit of bandwidth"),
    ("{value: 1 TB/s, source: sheet}", "{value: 1 TB/s}", 9, "bandwidth.source", "a figure without a source"),
    ("source: sheet}\nmemory", "source: nowhere}\nmemory", 9, "bandwidth.source", "'nowhere' names no entry"),
    ("100 TFLOPS", "0 TFLOPS", 7, "peak.bf16.value", "is zero"),
    ("100 TFLOPS", "100", 7, "peak.bf16.value", "has no unit"),
    ("  bf16:", "  bf17:", 7, "peak.bf17", "unknown key 'bf17'"),
    ("kind: gpu\n", "kind: gpu\ncolour: red\n", 4, "colour", "unknown key 'colour'"),
    ("source: sheet, note: chosen}", "source: sheet, note: chosen, sparse: yes}", 11,
     "compute_efficiency.sparse", "unknown key 'sparse'"),
    ("value: 0.5", "value: 1.5", 11, "compute_efficiency.value", "is not in (0, 1]"),
    ("value: 0.5", "value: high", 11, "compute_efficiency.value", "is not a number"),
    ("16 GiB", "16 KB", 10, "memory.value", "'KB' is ambiguous"),
    ("url: https://example.com/sheet.pdf, ", "", 5, "sources.sheet", "missing 'url'"),
    ("https://example.com/sheet.pdf", "example.com", 5, "sources.sheet.url", "is not a URL"),
    ('"100 SMs x 500 GFLOPS"', '"100 SMs x 400 GFLOPS"', 8, "peak.fp32.arithmetic", "multiply to 40,000,000,000,000"),
    ("kind: gpu", "kind: tpu", 3, "kind", "unknown kind 'tpu'"),
    ("name: mine", "name: My Device", 1, "name", "is not a profile name"),
    ("memory: {value: 16 GiB, source: sheet}\n", "", 1, "memory", "missing"),
    ("peak:\n  bf16: {value: 100 TFLOPS, source: sheet}\n  fp32: {value: 50 TFLOPS, source: sheet, "
     'arithmetic: "100 SMs x 500 GFLOPS"}\n', "peak: {}\n", 6, "peak", "no dtype"),
]


@pytest.mark.parametrize("old, new, line, field, words", BAD, ids=[b[3] + ":" + b[4] for b in BAD])
def test_a_bad_profile_file_is_one_located_line(tmp_path, old, new, line, field, words):
    assert old in GOOD
    path = _write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(SpecError) as info:
        load_profile(path)
    message = info.value.one_line()
    assert "\n" not in message
    assert message.startswith(f"{path}:{line}:"), message
    assert f": {field}: " in message and words in message, message
    # the command says the same, and exits 1
    with pytest.raises(SpecError) as again:
        hw_cli.run(_args(hw=path))
    assert again.value.one_line() == message and again.value.exit_code == 1


def test_not_a_file_or_not_yaml(tmp_path):
    with pytest.raises(YamlError, match="no such file"):
        load_profile(str(tmp_path / "none.yaml"))
    with pytest.raises(YamlError, match=r"bad\.yaml:2:1: YAML syntax"):
        load_profile(_write_named(tmp_path, "bad.yaml", "name: [unclosed\n"))
    with pytest.raises(SpecError, match="is not a mapping"):
        load_profile(_write_named(tmp_path, "list.yaml", "- 1\n"))


def _write_named(tmp_path: Path, name: str, text: str) -> str:
    (tmp_path / name).write_text(text)
    return str(tmp_path / name)


def test_unknown_device_name_lists_the_known_ones():
    with pytest.raises(UsageError) as info:
        load_profile("h100")
    message = info.value.one_line()
    assert message.startswith("unknown hardware profile 'h100' (expected one of a100-sxm-40gb, ")
    assert all(n in message for n in profile_names()) and info.value.exit_code == 2
    with pytest.raises(UsageError, match="must be a name or a path, not int"):
        load_profile(3)  # type: ignore[arg-type]


def test_a_dtype_the_profile_lacks():
    a100 = load_profile("a100-sxm-80gb")
    with pytest.raises(UsageError) as info:
        a100.peak_for("fp8")
    assert info.value.one_line() == (
        f"profile a100-sxm-80gb (file {a100.file}) has no fp8 peak "
        "(expected one of fp64, fp32, tf32, fp16, bf16, int8)")
    with pytest.raises(UsageError, match="unknown dtype 'fp12'"):
        a100.ridge("fp12")
    with pytest.raises(UsageError, match="has no bf16 peak"):
        load_profile("apple-m1-max").ridge("bf16")


def test_the_record_checks_what_it_is_given():
    good = dict(name="x", title="X", kind="gpu", file="<api>", peak={"bf16": 10}, bandwidth=5, memory=7,
                compute_efficiency=Fraction(1, 2), memory_efficiency=Fraction(1))
    assert Profile(**good).ridge("bf16") == 2
    for change, words in [({"bandwidth": 0}, "bandwidth: 0 is not > 0"), ({"bandwidth": -1}, "is not > 0"),
                          ({"bandwidth": 2.5}, "bandwidth"), ({"peak": {"bf16": 0}}, "is not an int > 0"),
                          ({"peak": {"fp4": 1}}, "unknown dtype 'fp4'"), ({"peak": {}}, "no peak"),
                          ({"compute_efficiency": Fraction(3, 2)}, "is not in (0, 1]"),
                          ({"memory_efficiency": 0.5}, "is not a Fraction"), ({"kind": "tpu"}, "kind"),
                          ({"colour": "red"}, "colour")]:
        with pytest.raises(SpecError) as info:
            Profile(**{**good, **change})
        assert words in info.value.one_line() and "\n" not in info.value.one_line(), (change, info.value)


# -- the command -------------------------------------------------------------------------------


def _args(**kw) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    hw_cli.add_arguments(parser)
    args = parser.parse_args([])
    for k, v in kw.items():
        setattr(args, k, v)
    return args


def test_calc_hardware_lists_every_profile_with_ridge_points(capsys):
    assert hw_cli.run(_args()) == 0
    out = capsys.readouterr().out
    for name in profile_names():
        p = load_profile(name)
        assert out.count(f"\n{name} ") == 3, name  # devices, peaks, ridge points
        assert p.title in out
    assert re.search(r"\nh100-sxm +66\.9 +66\.9 +494\.7 +989\.4 +989\.4 +1,978\.9 +1,978\.9\n", out)
    assert re.search(r"\nh100-sxm +20\.0 +20\.0 +147\.7 +295\.3 +295\.3 +590\.7 +590\.7\n", out)  # 989.4/3.35
    assert re.search(r"\na100-sxm-80gb +NVIDIA A100 SXM4 80 GB +gpu +80 +2,039 +40 +0\.5 +0\.8\n", out)


def test_calc_hardware_name_shows_every_number_and_its_source(capsys):
    assert hw_cli.run(_args(name="h100-sxm")) == 0
    out = capsys.readouterr().out
    assert "peak.bf16           989.4 TFLOPS = 989,400,000,000,000 FLOP/s\n" in out
    assert "bandwidth           3.35 TB/s = 3,350,000,000,000 B/s\n" in out
    assert out.count("source: ") == len(load_profile("h100-sxm").sources)
    assert "  bf16     295.3  = 19,788/67\n" in out


def test_json_is_exact(capsys):
    hw_cli.run(_args(name="h100-sxm", format="json"))
    data = json.loads(capsys.readouterr().out)
    assert data["peak"]["bf16"] == 989_400_000_000_000 and data["bandwidth"] == 3_350_000_000_000
    assert data["ridge"]["bf16"]["exact"] == "19788/67" and data["compute_efficiency"] == "19/50"
    hw_cli.run(_args(format="json"))
    listed = json.loads(capsys.readouterr().out)["profiles"]
    assert [p["name"] for p in listed] == list(profile_names())


def test_md_and_output_file(tmp_path, capsys):
    out = tmp_path / "hw.md"
    assert hw_cli.run(_args(name="mi300x", format="md", output=str(out))) == 0
    assert capsys.readouterr().out == ""
    text = out.read_text()
    assert text.startswith("### mi300x: AMD Instinct MI300X 192 GB\n")
    assert "| peak.fp16 | 1307.4 TFLOPS | 1,307,400,000,000,000 FLOP/s |" in text


def test_usage_errors_of_the_command(tmp_path):
    with pytest.raises(UsageError, match=r"unknown hardware profile 'h100' \(expected one of a100-sxm-40gb, "):
        hw_cli.run(_args(name="h100"))
    with pytest.raises(UsageError, match="give one of NAME, --hw FILE and --all"):
        hw_cli.run(_args(name="l4", all=True))
    path = _write(tmp_path, GOOD)
    with pytest.raises(UsageError, match="an input of this command"):
        hw_cli.run(_args(hw=path, output=path))


def test_docs_hardware_md_is_up_to_date():
    """Regenerate with: calc hardware --all --format md -o docs/hardware.md"""
    assert (ROOT / "docs/hardware.md").read_text() == hw_cli.document()


@pytest.mark.skipif(not _wired(), reason="calc hardware is not in calc.cli.EXTENSIONS yet")
def test_through_calc_cli_main(tmp_path, capsys):
    from calc.cli import main

    assert main(["hardware"]) == 0 and "jetson-agx-orin-64gb" in capsys.readouterr().out
    assert main(["hardware", "h100"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: calc hardware: unknown hardware profile 'h100' (expected one of ") and err.count("\n") == 1
    bad = _write(tmp_path, GOOD.replace("1 TB/s", "0 TB/s"))
    assert main(["hardware", "--hw", bad]) == 1
    err = capsys.readouterr().err
    assert err == f"{bad}:9:13: bandwidth.value: '0 TB/s' is zero (expected a figure > 0 in bytes per second, " \
                  "like '3.35 TB/s' or '100 GiB/s')\n"
    assert main(["hardware", "--hw", _write(tmp_path, GOOD.replace("1 TB/s", "3.35 TFLOPS"))]) == 1
    assert "bandwidth.value: '3.35 TFLOPS': 'TFLOPS' is not a unit of bandwidth" in capsys.readouterr().err
    assert main(["hardware", "--all", "--format", "md"]) == 0
    assert capsys.readouterr().out == (ROOT / "docs/hardware.md").read_text()


def test_profiles_ship_as_package_data():
    """load_profile finds the files through importlib.resources (a wheel has them in the package)."""
    from importlib import resources

    folder = resources.files("calc.hardware").joinpath("profiles")
    assert sorted(e.name[:-5] for e in folder.iterdir() if e.name.endswith(".yaml")) == list(profile_names())
    assert not any(name.startswith("_") for name in os.listdir(ROOT / "calc/hardware/profiles"))


def test_a_missing_profile_file_says_profile(tmp_path):
    """The YAML reader's 'no such file' names a spec; for --hw it names a hardware profile."""
    with pytest.raises(CalcError) as info:
        load_profile(tmp_path / "nothere.yaml")
    assert info.value.one_line().endswith(
        "nothere.yaml: no such file (expected a path to a YAML hardware profile, or a name from 'calc hardware')")
