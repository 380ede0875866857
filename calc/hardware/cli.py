"""`calc hardware [NAME | --hw FILE | --all] [--format text|md|json] [-o FILE]`.

- `calc hardware` lists the shipped profiles: title, memory, bandwidth, the dense peak per dtype
  and the ridge point per dtype (peak / bandwidth, FLOP per byte; int8: OP per byte).
- `calc hardware NAME` (or `--hw FILE`, a profile of one's own) shows one profile: every figure
  as written, its exact value and its source.
- `--all` shows the list and then every profile; `calc hardware --all --format md` is
  docs/hardware.md (tests/test_hardware.py checks that the file is up to date).

An unknown name is a usage error (exit 2, listing the names); a bad profile file is a located
one-line error (exit 1).
"""

from __future__ import annotations

import argparse
from fractions import Fraction
from typing import Any

from calc.errors import UsageError
from calc.files import check_output, emit

HELP = "hardware profiles: peaks, bandwidth, memory, ridge points, with sources (calc hardware NAME)"
FORMATS = ("text", "md", "json")
DOC = "docs/hardware.md"
UNIT = {"peak": ("TFLOPS", 10**12), "bandwidth": ("GB/s", 10**9), "memory": ("GB", 10**9),
        "cache": ("MiB", 2**20)}
"""How the tables show each quantity: the unit and its size in base units (FLOP/s, B/s, B)."""
BASE = {"peak": "FLOP/s", "bandwidth": "B/s", "memory": "B", "cache": "B"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", help="a shipped profile to show (see `calc hardware`)")
    parser.add_argument("--hw", metavar="FILE", help="show the profile in this YAML file")
    parser.add_argument("--all", action="store_true", help="the list, then every profile (md: docs/hardware.md)")
    parser.add_argument("--format", default="text", choices=FORMATS, help="output format")
    parser.add_argument("-o", "--output", metavar="FILE", help="write to FILE (atomically) instead of stdout")


def run(args: Any) -> int:
    from calc.hardware import load_profile, profile_names

    name, hw, show_all = getattr(args, "name", None), getattr(args, "hw", None), getattr(args, "all", False)
    fmt = getattr(args, "format", "text")
    if fmt not in FORMATS:
        raise UsageError(f"calc hardware: unknown format {fmt!r}", expected=f"one of {', '.join(FORMATS)}")
    if sum(x is not None and x is not False for x in (name, hw, show_all or None)) > 1:
        raise UsageError("calc hardware: give one of NAME, --hw FILE and --all",
                         expected="calc hardware, calc hardware NAME, calc hardware --hw FILE or calc hardware --all")
    output = getattr(args, "output", None)
    inputs = [hw] if hw else []
    if output:
        check_output(output, inputs)
    if name is not None and name not in profile_names():
        raise UsageError(f"calc hardware: unknown hardware profile '{name}'",
                         expected=f"one of {', '.join(profile_names())}, or --hw FILE for a profile file")
    if name is not None or hw is not None:
        text = render_profile(load_profile(hw if hw is not None else name), fmt)
    elif show_all:
        text = document() if fmt == "md" else render_all([load_profile(n) for n in profile_names()], fmt)
    else:
        text = render_list([load_profile(n) for n in profile_names()], fmt)
    emit(text, output, inputs)
    return 0


# -- numbers -----------------------------------------------------------------------------------


def decimal(value: Fraction | int, places: int | None = None) -> str:
    """`value` (>= 0) as decimal text with thousands separators, rounded half up to `places`
    decimal places; with `places` None, exact if it terminates within 12 places (989.4, 0.1536),
    else rounded to 12."""
    value = Fraction(value)
    if places is None:
        for p in range(13):
            if (value * 10**p).denominator == 1:
                places = p
                break
        else:
            places = 12
    scaled = value * 10**places
    q, r = divmod(scaled.numerator, scaled.denominator)
    if 2 * r >= scaled.denominator:  # round half up
        q += 1
    if places == 0:
        return f"{q:,}"
    digits = str(q).rjust(places + 1, "0")
    return f"{int(digits[:-places]):,}.{digits[-places:]}"


def shown(value: int, quantity: str) -> str:
    """A quantity in the tables' unit, exact: 989_400_000_000_000 FLOP/s -> '989.4'."""
    return decimal(Fraction(value, UNIT[quantity][1]))


def ridge_text(ridge: Fraction) -> str:
    return decimal(ridge, 1)


# -- the list ----------------------------------------------------------------------------------


def _dtypes(profiles: list[Any]) -> list[str]:
    from calc.hardware import PEAK_DTYPES

    return [d for d in PEAK_DTYPES if any(d in p.peak for p in profiles)]


def list_tables(profiles: list[Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    """The list as (caption, header, rows) tables: devices; peaks; ridge points."""
    from calc.render.escape import text as plain

    dtypes = _dtypes(profiles)
    devices = [[p.name, plain(p.title), p.kind, shown(p.memory, "memory"), shown(p.bandwidth, "bandwidth"),
                shown(p.cache, "cache") if p.cache is not None else "-",
                decimal(p.compute_efficiency), decimal(p.memory_efficiency)] for p in profiles]
    peaks = [[p.name, *(shown(p.peak[d], "peak") if d in p.peak else "-" for d in dtypes)] for p in profiles]
    ridges = [[p.name, *(ridge_text(p.ridge(d)) if d in p.peak else "-" for d in dtypes)] for p in profiles]
    return [
        ("Devices (memory and bandwidth in decimal GB; cache in MiB; efficiency factors: achievable "
         "share of peak compute and of bandwidth)",
         ["name", "title", "kind", "memory (GB)", "bandwidth (GB/s)", "cache (MiB)", "compute eff.", "memory eff."],
         devices),
        ("Dense peak (TFLOPS; int8: TOPS); never the sparsity figures", ["name", *dtypes], peaks),
        ("Ridge point = peak / bandwidth (FLOP per byte; int8: OP per byte): a layer of lower arithmetic "
         "intensity is memory-bound", ["name", *dtypes], ridges),
    ]


def _text_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    numeric = [i > 0 and all(_is_number(r[i]) for r in rows) for i in range(len(header))]
    lines = []
    for row in [header, *rows]:
        cells = [c.rjust(w) if numeric[i] else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


def _is_number(cell: str) -> bool:
    return cell == "-" or cell.replace(",", "").replace(".", "", 1).isdigit()


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    from calc.render.escape import markdown

    numeric = [i > 0 and all(_is_number(r[i]) for r in rows) for i in range(len(header))]
    lines = ["| " + " | ".join(markdown(h) for h in header) + " |",
             "|" + "|".join("---:" if n else "---" for n in numeric) + "|"]
    lines += ["| " + " | ".join(markdown(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def render_list(profiles: list[Any], fmt: str) -> str:
    if fmt == "json":
        from calc.render.json_format import dumps

        return dumps({"profiles": [profile_dict(p) for p in profiles]}) + "\n"
    parts = []
    for caption, header, rows in list_tables(profiles):
        if fmt == "md":
            parts.append(f"{caption}.\n\n{_md_table(header, rows)}")
        else:
            parts.append(f"{caption}\n{_text_table(header, rows)}")
    return "\n".join(parts)


# -- one profile -------------------------------------------------------------------------------


def profile_rows(p: Any) -> list[tuple[str, str, str, str]]:
    """(field, as written, exact value, source) for every figure of the profile."""
    rows = []
    for d, value in p.peak.items():
        base = "OP/s" if d == "int8" else "FLOP/s"
        rows.append((f"peak.{d}", p.figures.get(f"peak.{d}", ""), f"{value:,} {base}", p.sources.get(f"peak.{d}", "")))
    for field in ("bandwidth", "memory", "cache"):
        value = getattr(p, field)
        if value is not None:
            rows.append((field, p.figures.get(field, ""), f"{value:,} {BASE[field]}", p.sources.get(field, "")))
    for field in ("compute_efficiency", "memory_efficiency"):
        value = getattr(p, field)
        rows.append((field, p.figures.get(field, ""), str(value), p.sources.get(field, "")))
    return rows


def render_profile(p: Any, fmt: str) -> str:
    from calc.render.escape import markdown, text as plain

    if fmt == "json":
        from calc.render.json_format import dumps

        return dumps(profile_dict(p)) + "\n"
    ridges = [(d, p.ridge(d)) for d in p.peak]
    if fmt == "md":
        lines = [f"### {p.name}: {markdown(p.title)}", "", f"Kind: {p.kind}. File: `{_file_shown(p.file)}`.", "",
                 "| field | as written | exact | source |", "|---|---|---:|---|"]
        lines += ["| " + " | ".join(markdown(c) for c in row) + " |" for row in profile_rows(p)]
        lines += ["", "Ridge points (peak / bandwidth, FLOP per byte; int8: OP per byte): "
                  + ", ".join(f"{d} {ridge_text(r)} (= {r.numerator:,}/{r.denominator:,})" for d, r in ridges) + ".", ""]
        return "\n".join(lines) + "\n"
    lines = [f"{p.name}: {plain(p.title)} ({p.kind})", f"file: {plain(p.file)}", ""]
    width = max(len(r[0]) for r in profile_rows(p))
    for field, written, exact, source in profile_rows(p):
        lines.append(f"{field:<{width}}  {plain(written)} = {exact}")
        lines.append(f"{'':<{width}}  source: {plain(source)}")
    lines.append("")
    lines.append("ridge points (peak / bandwidth, FLOP per byte; int8: OP per byte):")
    lines += [f"  {d:<5} {ridge_text(r):>8}  = {r.numerator:,}/{r.denominator:,}" for d, r in ridges]
    return "\n".join(lines) + "\n"


def _file_shown(file: str) -> str:
    """A shipped profile's file relative to the package (the same in a checkout and a wheel)."""
    marker = "calc/hardware/profiles/"
    return file[file.index(marker):] if marker in file.replace("\\", "/") else file


def profile_dict(p: Any) -> dict[str, Any]:
    """The JSON form of a profile: exact ints, efficiency factors and ridge points as
    'numerator/denominator' text (and a float beside each), sources per field."""
    return {
        "name": p.name, "title": p.title, "kind": p.kind, "file": _file_shown(p.file),
        "peak": dict(p.peak), "bandwidth": p.bandwidth, "memory": p.memory, "cache": p.cache,
        "compute_efficiency": str(p.compute_efficiency), "memory_efficiency": str(p.memory_efficiency),
        "ridge": {d: {"exact": str(p.ridge(d)), "approx": float(p.ridge(d))} for d in p.peak},
        "written": dict(p.figures), "sources": dict(p.sources),
    }


def render_all(profiles: list[Any], fmt: str) -> str:
    if fmt == "json":
        return render_list(profiles, fmt)
    return render_list(profiles, fmt) + "\n" + "\n".join(render_profile(p, fmt) for p in profiles)


def document() -> str:
    """docs/hardware.md: how profiles are written, the list, and every profile with its sources."""
    from calc.hardware import load_profile, profile_names

    profiles = [load_profile(n) for n in profile_names()]
    head = f"""# Hardware profiles

<!-- Generated by `calc hardware --all --format md -o {DOC}`; tests/test_hardware.py checks it. -->

One YAML file per device in `calc/hardware/profiles/`, read by `calc.hardware.load_profile` into
exact ints (FLOP/s, B/s, B) and exact fractions (efficiency factors). Every figure is written with
its unit (`989.4 TFLOPS`, `3.35 TB/s`, `80 GB`, `64 GiB`: decimal and binary prefixes read
exactly) and names its source (`source:`, an entry of the file's `sources:` with title, URL and
table or page); a figure the vendor does not print is derived in `arithmetic:`, whose factors
must multiply to the value. A figure without a source, with the wrong unit, zero or negative, or
an unknown key is refused with its file, line and field. Your own device: copy a file, edit it,
and pass it with `--hw FILE`.

**Dense figures only.** NVIDIA datasheets print tensor-core throughput *with sparsity*, marked
with an asterisk, at twice the dense rate: the H100 SXM's bf16 peak is 989.4 TFLOPS, not the
datasheet's 1,979. Published tools have taken the sparse figure: LLM-Viewer's
`hardwares/hardware_params.py` (hahnyuan/LLM-Viewer) had `"nvidia_H100_SXM": {{"FP16": 1979e12}}`
at commit 0e78452 (at commit f307ca5 it divides by 2), and gives the H100 SXM 3,072 GB/s at both
where the datasheet prints 3.35 TB/s; a spec aggregator (codesota.com/hardware/mi300x) lists the
MI300X's 2,615 TFLOPS, AMD's figure with sparsity, as its dense fp16 (AMD's dense: 1,307.4).
GeForce cards (RTX 4090) run fp16/bf16 with FP32 accumulation at half the FP16-accumulate rate:
the FP32-accumulate figure is the peak here, as frameworks accumulate in FP32.

**Efficiency factors** (compute, memory) are the achievable share of the peak, in (0, 1]. Where a
measurement is published it is cited (Megatron-LM's 52% of peak on A100, Llama 3's 38-43% BF16
MFU on H100, taken at the low end); elsewhere the file says "chosen" and the value is kept
conservative. A roofline time with them is an estimate; without them it is a bound.

**Memory** is the capacity as printed, read as decimal GB: the memory holds at least that (HBM
and DRAM come in GiB), so a "fits" check errs on the safe side.

"""
    return head + "## The profiles\n\n" + render_list(profiles, "md") + "\n" + "\n".join(
        render_profile(p, "md") for p in profiles)
