"""Counts stay exact integers at any size, in every output format.

Channels and spatial sizes up to 10**10 make products of 10**30 to 10**45: the calculator must
give them digit for digit (Python ints; no float, no exponent notation, no rounding) in text,
Markdown, CSV, JSON and LaTeX, and JSON parsed back must give ints equal to the report's.  Every
figure is compared with an independent computation written out here (the formulas of PyTorch's
Conv2d/MaxPool2d/Linear docs and the ShuffleNet V2 memory access cost), not with calc's.
"""

from __future__ import annotations

import csv
import io
import json
import re
from contextlib import redirect_stderr, redirect_stdout
from decimal import ROUND_HALF_UP, Decimal, localcontext

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calc import conventions
from calc.cli import main
from calc.cost import Dtype
from calc.network import network_from_text
from calc.render import render
from calc.render.numbers import with_units
from calc.render.tables import read_csv
from calc.report import collapse, top

BYTES = {"fp64": 8, "fp32": 4, "fp16": 2, "bf16": 2, "int8": 1}
COLUMNS = ("params", "buffers", "macs", "flops", "mem_access", "mem_bytes")
FORMATS = ("text", "md", "csv", "json", "latex")
GROUPED = re.compile(r"\d{1,3}(,\d{3})*")
PLAIN = re.compile(r"\d+")

big = st.integers(1, 10**10) | st.sampled_from([1, 2, 10**10, 10**10 - 1, 2**33 + 1, 999_999_937])


@st.composite
def cases(draw):
    k = draw(st.integers(1, 7))
    case = {
        "cin": draw(big), "cout": draw(big), "n": draw(big), "k": k,
        "stride": draw(st.integers(1, 4)), "pad": draw(st.integers(0, k)), "bias": draw(st.booleans()),
        "dtype": draw(st.sampled_from(sorted(BYTES))), "convention": draw(st.sampled_from(["exact", "2mac"])),
    }
    low = max(1, k - 2 * case["pad"])
    case["h"] = max(low, draw(big))
    case["w"] = max(low, draw(big))
    return case


def spec(c: dict) -> str:
    return f"""\
name: big
input: [{c['cin']}, {c['h']}, {c['w']}]
layers:
  - {{type: conv, name: conv, K: {c['k']}, Cout: {c['cout']}, stride: {c['stride']}, padding: {c['pad']}, bias: {str(c['bias']).lower()}}}
  - {{type: batchnorm, name: bn}}
  - {{type: relu, name: relu}}
  - {{type: maxpool, name: pool, K: 3, stride: 2, padding: 1}}
  - {{type: global_avgpool, name: gap}}
  - {{type: flatten, name: flat}}
  - {{type: linear, name: fc, Cout: {c['n']}}}
"""


def expected(c: dict) -> dict[str, dict[str, int]]:
    """Every row's figures, computed here from first principles."""
    cin, cout, n, k, s, p, b = c["cin"], c["cout"], c["n"], c["k"], c["stride"], c["pad"], int(c["bias"])
    ho = (c["h"] + 2 * p - k) // s + 1
    wo = (c["w"] + 2 * p - k) // s + 1
    hp, wp = (ho + 2 - 3) // 2 + 1, (wo + 2 - 3) // 2 + 1
    conv_params = cout * cin * k * k + b * cout
    conv_macs = cout * ho * wo * cin * k * k
    fc_params = cout * n + n
    fc_macs = cout * n
    fmap, pooled = cout * ho * wo, cout * hp * wp
    rows = {
        "conv": dict(params=conv_params, buffers=0, macs=conv_macs,
                     mem_access=cin * c["h"] * c["w"] + conv_params + fmap),
        "bn": dict(params=2 * cout, buffers=2 * cout, macs=0, mem_access=2 * fmap + 4 * cout),
        "relu": dict(params=0, buffers=0, macs=0, mem_access=2 * fmap),
        "pool": dict(params=0, buffers=0, macs=0, mem_access=fmap + pooled),
        "gap": dict(params=0, buffers=0, macs=0, mem_access=pooled + cout),
        "flat": dict(params=0, buffers=0, macs=0, mem_access=0),
        "fc": dict(params=fc_params, buffers=0, macs=fc_macs, mem_access=cout + fc_params + n),
    }
    for name, row in rows.items():
        row["mem_bytes"] = row["mem_access"] * BYTES[c["dtype"]]
        if c["convention"] == "2mac":
            row["flops"] = 2 * row["macs"]
    if c["convention"] == "exact":  # every multiply and every add (conv: (2*Cin*K^2 - 1 + bias) per output)
        rows["conv"]["flops"] = (2 * cin * k * k - 1 + b) * ho * wo * cout
        rows["fc"]["flops"] = 2 * cout * n  # (2M - 1)N + N bias adds
    rows["total"] = {f: sum(r[f] for r in rows.values() if f in r) for f in COLUMNS if f != "flops"}
    if c["convention"] == "2mac":
        rows["total"]["flops"] = 2 * rows["total"]["macs"]
    return rows


# -- parsing every format back into ints ------------------------------------------------------


def _int(cell: str, grouped: bool) -> int:
    cell = cell.strip().strip("*")
    assert (GROUPED if grouped else PLAIN).fullmatch(cell), f"not an exact integer: {cell!r}"
    return int(cell.replace(",", ""))


def parse(fmt: str, text: str) -> dict[str, list[int]]:
    """path -> the six numeric columns, from a rendered report."""
    if fmt == "json":
        def no_float(x):
            raise AssertionError(f"float in JSON: {x}")
        data = json.loads(text, parse_float=no_float, parse_constant=no_float)
        rows = {r["path"]: [r[f] for r in [r] for f in COLUMNS] for r in data["layers"]}
        rows["total"] = [data["totals"][f] for f in COLUMNS]
        for values in rows.values():
            assert all(type(v) is int for v in values), values
        return rows
    rows = {}
    if fmt == "csv":
        for cells in read_csv(text)[1][1:]:  # after the '# key: value' header block
            rows[cells[0]] = [_int(x, False) for x in cells[-6:]]
        return rows
    if fmt == "text":  # caption, blank, header, rule, rows, rule, total
        lines = text.splitlines()
        rules = [i for i, line in enumerate(lines) if line and set(line) <= {"-", " "}]
        assert len(rules) == 2, text[:300]
        for line in lines[rules[0] + 1:rules[1]] + [lines[rules[1] + 1]]:
            cells = line.split()
            rows[cells[0]] = [_int(x, True) for x in cells[-6:]]
        return rows
    for line in text.splitlines():
        if fmt == "md":
            cells = [x.strip() for x in line.strip().strip("|").split("|")]
            if len(cells) == 9 and cells[0] not in ("path", "---") and not cells[0].startswith("---"):
                rows[cells[0].strip("*")] = [_int(x, True) for x in cells[-6:]]
        elif fmt == "latex":
            if line.count("&") == 8 and not line.startswith("path"):
                cells = [x.strip() for x in line.rstrip("\\ ").split("&")]
                rows[cells[0].replace("\\_", "_")] = [_int(x.replace("{,}", ","), True) for x in cells[-6:]]
    return rows


def no_float_text(text: str, fmt: str) -> None:
    """No exponent or inf/nan anywhere; the caption's largest activation an exact integer too
    (the numeric cells are checked one by one by `parse`)."""
    assert not re.search(r"\d[eE][+-]?\d|\binf\b|\bnan\b", text), text[:500]
    if fmt != "csv":
        m = re.search(r"largest activation (\d+(?:(?:,|\{,\})\d+)*)", text)
        assert m and GROUPED.fullmatch(m.group(1).replace("{,}", ",")), text[:300]


def cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


# -- properties -----------------------------------------------------------------------------------


@settings(max_examples=max(20, settings().max_examples * 6), deadline=None)
@given(cases())
def test_report_exact_in_every_format(c):
    want = expected(c)
    net = network_from_text(spec(c), "big.yaml")
    report = net.evaluate(conventions.get(c["convention"]), Dtype(c["dtype"]))
    got = {r.path: r for r in report.rows}
    assert list(got) == [p for p in want if p != "total"]
    for path, row in want.items():
        source = report.totals if path == "total" else got[path]
        for f, value in row.items():
            actual = getattr(source, f)
            assert type(actual) is int and actual == value, (path, f, actual, value)
    assert report.totals.flops == sum(r.flops for r in report.rows)
    numeric = {p: [getattr(r, f) for f in COLUMNS] for p, r in got.items()}
    numeric["total"] = [getattr(report.totals, f) for f in COLUMNS]
    assert_every_format_reads_back(report, numeric)


def assert_every_format_reads_back(report, numeric):
    """Every format renders the exact integers (no float text) and parses back to them."""
    for fmt in FORMATS:
        text = render(report, fmt)
        if fmt != "json":
            no_float_text(text, fmt)
        assert parse(fmt, text) == numeric, fmt


@settings(max_examples=max(10, settings().max_examples * 3), deadline=None)
@given(cases(), st.sampled_from(FORMATS))
def test_cli_report_exact(tmp_path_factory, c, fmt):
    path = tmp_path_factory.mktemp("exact") / "big.yaml"
    path.write_text(spec(c))
    code, out, err = cli(["report", str(path), "--format", fmt, "--dtype", c["dtype"],
                          "--convention", c["convention"]])
    assert code == 0 and not err, err
    want = expected(c)
    parsed = parse(fmt, out)
    for path_, row in want.items():
        for i, f in enumerate(COLUMNS):
            if f in row:
                assert parsed[path_][i] == row[f], (fmt, path_, f)


@settings(max_examples=max(10, settings().max_examples * 3), deadline=None)
@given(cases(), st.sampled_from(FORMATS))
def test_cli_layer_exact(c, fmt):
    code, out, err = cli([
        "layer", "conv", "--K", str(c["k"]), "--Cin", str(c["cin"]), "--Cout", str(c["cout"]),
        "--H", str(c["h"]), "--W", str(c["w"]), "--stride", str(c["stride"]), "--padding", str(c["pad"]),
        "--bias" if c["bias"] else "--no-bias", "--format", fmt, "--convention", c["convention"],
        "--dtype", c["dtype"],
    ])
    assert code == 0 and not err, err
    conv = expected(c)["conv"]
    (row,) = [v for k, v in parse(fmt, out).items() if k != "total"]
    for i, f in enumerate(COLUMNS):
        if f in conv:
            assert row[i] == conv[f], (fmt, f, row[i], conv[f])
    if fmt != "json":
        no_float_text(out, fmt)


@settings(max_examples=max(10, settings().max_examples), deadline=None)
@given(cases(), st.integers(1, 3), st.integers(1, 7))
def test_collapse_and_top_keep_exact_totals(c, depth, n):
    report = network_from_text(spec(c), "big.yaml").evaluate(conventions.get("2mac"))
    for view in (collapse(report, depth), top(report, n)):
        assert view.totals == report.totals
        json_totals = json.loads(render(view, "json"))["totals"]
        assert json_totals["macs"] == expected(c)["total"]["macs"]


def _units_reference(n: int) -> str:
    """K/M/G/T with two decimals, rounded half up, by decimal arithmetic: the smallest unit whose
    rounded value is below 1000 (999,995 -> 1.00M, not 1000.00K); T for anything larger."""
    if n < 1000:
        return str(n)
    for scale, suffix in ((10**3, "K"), (10**6, "M"), (10**9, "G"), (10**12, "T")):
        with localcontext() as ctx:
            ctx.prec = 200
            value = (Decimal(n) / Decimal(scale)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        if value < 1000 or suffix == "T":
            return f"{value:f}{suffix}"
    raise AssertionError("unreachable")


@settings(max_examples=max(50, settings().max_examples * 5), deadline=None)
@given(st.integers(0, 10**45) | st.integers(0, 10**7) | st.sampled_from([999, 999_995, 999_994_999, 10**30 + 5 * 10**9]))
def test_units_round_exactly(n):
    assert with_units(n) == _units_reference(n)


def test_units_report_has_no_exponent():
    c = dict(cin=10**10, cout=10**10, n=10**10, k=3, stride=1, pad=1, bias=True, dtype="fp32",
             convention="exact", h=10**10, w=10**10)
    report = network_from_text(spec(c), "big.yaml").evaluate()
    for fmt in ("text", "md", "csv", "latex"):
        text = render(report, fmt, units=True)
        assert not re.search(r"\d[eE][+-]?\d|\binf\b", text)
        assert "90000000000000000000000000000.00T" in text.replace("{,}", ",")  # conv MACs 9*10**40


def test_known_figure_at_10_to_the_30():
    """A hand-checked case: 1x1 conv, Cin = Cout = H = W = 10**10 -> 10**40 MACs exactly."""
    c = dict(cin=10**10, cout=10**10, n=1, k=1, stride=1, pad=0, bias=False, dtype="fp32",
             convention="2mac", h=10**10, w=10**10)
    report = network_from_text(spec(c), "big.yaml").evaluate(conventions.get("2mac"))
    conv = report.rows[0]
    assert conv.macs == 10**40 and conv.flops == 2 * 10**40 and conv.params == 10**20
    assert json.loads(render(report, "json"))["layers"][0]["macs"] == 10**40
    assert "10000000000000000000000000000000000000000" in render(report, "csv")


# -- every layer kind at 10**10 channels and sizes ----------------------------------------------

B = 10**10
FIELDS = {
    "adaptive_avgpool": "output_size: 7", "adaptive_maxpool": "output_size: 7", "avgpool": "K: 3",
    "maxpool": "K: 3, stride: 2", "channel_shuffle": "groups: 2", "groupnorm": "groups: 2", "conv": f"K: 3, Cout: {B}, padding: 1",
    "deconv": f"K: 3, Cout: {B}, stride: 2", "depthwise": "K: 3", "linear": f"Cout: {B}",
    "pointwise": f"Cout: {B}", "separable": f"K: 3, Cout: {B}", "upsample": "scale_factor: 3",
    "prelu": "num_parameters: channels", "softmax": "dim: 1",
    "permute": "dims: [0, 2, 3, 1]", "transpose": "dim0: 2, dim1: 3", "reshape": "shape: [-1]",
    "view": f"shape: [{B}, {B * B}]", "split": "sizes: 3, index: 1", "chunk": "chunks: 3, index: 2",
    "matmul": f"other: [{B}, 3], other_is: buffer",
    "einsum": f"equation: 'abcd,de', others: [[{B}, 2]], others_are: buffer", "scale": "dim: 1",
    "embedding": f"num_embeddings: {B}, embedding_dim: {B}",
    "attention": f"heads: {B}, kv_heads: {B // 10}, head_dim: 2, causal: true, window: {B // 2}, rotary: true",
    "moe": f"experts: {B}, top_k: {B // 2}, hidden: {B}, shared_experts: 3",
    "class_token": f"tokens: {B}", "position_embedding": f"rows: {B * 2}, lookup: true", "select": "index: -1",
}
SEQUENCE_KINDS = ("attention", "moe", "class_token", "position_embedding", "select")
MACS = {  # independent: Cout * Hout * Wout * (Cin/g) * K * K
    "conv": B * B * B * B * 9, "depthwise": B * (B - 2) ** 2 * 9, "pointwise": B**4,
    "separable": B * (B - 2) ** 2 * 9 + B * (B - 2) ** 2 * B, "linear": B**4,
    "deconv": B * B * (B * 3) ** 2,  # no padding: every product lands in the output
}


def _kind_spec(kind: str) -> str:
    if kind in ("add", "mul", "concat"):
        merge = {"add": "add", "mul": "add", "concat": "concat"}[kind]
        item = ("{type: gate, body: [{type: sigmoid}]}" if kind == "mul"
                else f"{{type: parallel, merge: {merge}, branches: [[{{type: identity}}], [{{type: relu}}]]}}")
    else:
        item = f"{{type: {kind}, {FIELDS.get(kind, '')}}}"
    shape = f"[{B}, {B}]" if kind in SEQUENCE_KINDS else f"[{B}, {B}, {B}]"  # (N, T, d)
    return f"name: t\ninput: {shape}\nlayers:\n  - {item}\n"


def _every_kind():
    from calc.layers import REGISTRY

    return sorted(REGISTRY)


@pytest.mark.parametrize("kind", _every_kind())
def test_every_kind_exact_at_huge_sizes(kind):
    import signal

    def fire(*_):
        raise TimeoutError("no result within 5 s")

    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, 5)
    try:
        report = network_from_text(_kind_spec(kind), "k.yaml").evaluate()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    for row in report.rows:
        for f in (*COLUMNS, "activations"):
            assert type(getattr(row, f)) is int and getattr(row, f) >= 0, (row.path, f)
        elements = 1
        for d in row.output_shape:
            elements *= d
        assert row.activations == elements
    if kind in MACS:
        assert report.totals.macs == MACS[kind]
    numeric = {r.path: [getattr(r, f) for f in COLUMNS] for r in report.rows}
    numeric["total"] = [getattr(report.totals, f) for f in COLUMNS]
    assert_every_format_reads_back(report, numeric)


# -- transposed conv: products that land inside the output, at any size ------------------------


def deconv_axis_products(size: int, k: int, s: int, p: int, d: int, op: int) -> int:
    """Pairs (input i, tap j) with 0 <= i*s + j*d - p < out, counted per tap in O(K)."""
    out = (size - 1) * s - 2 * p + d * (k - 1) + op + 1
    total = 0
    for j in range(k):
        lo = max(0, -((j * d - p) // s))  # ceil((p - j*d) / s)
        hi = min(size - 1, (out - 1 + p - j * d) // s)
        total += max(0, hi - lo + 1)
    return total


def _brute(size, k, s, p, d, op):
    out = (size - 1) * s - 2 * p + d * (k - 1) + op + 1
    return sum(1 for i in range(size) for j in range(k) if 0 <= i * s + j * d - p < out)


@settings(max_examples=max(50, settings().max_examples * 5), deadline=None)
@given(st.integers(1, 30), st.integers(1, 6), st.integers(1, 4), st.integers(0, 4), st.integers(1, 3), st.integers(0, 3))
def test_deconv_reference_matches_brute_force(size, k, s, p, d, op):
    """The test's own O(K) count, checked against the definition on small sizes."""
    out = (size - 1) * s - 2 * p + d * (k - 1) + op + 1
    if out < 1 or op >= max(s, d):
        return
    assert deconv_axis_products(size, k, s, p, d, op) == _brute(size, k, s, p, d, op)


@settings(max_examples=max(30, settings().max_examples * 3), deadline=None)
@given(big, big, st.integers(1, 5), st.integers(1, 4), st.integers(0, 3), st.integers(0, 3), st.data())
def test_deconv_exact_at_huge_sizes(cin, h, k, s, p, op, data):
    op = op % s  # output_padding < stride (dilation 1)
    w = data.draw(big)
    cout = data.draw(big)
    out_h, out_w = (h - 1) * s - 2 * p + k + op, (w - 1) * s - 2 * p + k + op
    if min(out_h, out_w) < 1:
        return
    text = (f"name: t\ninput: [{cin}, {h}, {w}]\nlayers:\n  - {{type: deconv, K: {k}, stride: {s}, "
            f"padding: {p}, output_padding: {op}, Cout: {cout}, bias: false}}\n")
    report = network_from_text(text, "d.yaml").evaluate()
    (row,) = report.rows
    assert row.output_shape == (1, cout, out_h, out_w)
    assert row.params == cin * cout * k * k
    assert row.macs == cout * cin * deconv_axis_products(h, k, s, p, 1, op) * deconv_axis_products(w, k, s, p, 1, op)
    assert json.loads(render(report, "json"))["totals"]["macs"] == row.macs
