"""calc.roofline: the model's formulas, what is counted (bytes, fused epilogues, the KV dtype,
blocks), the batch sweep and the symbolic time, the transformer step's figures checked against
published ones, and the command's output and errors."""

from __future__ import annotations

import csv
import io
import json
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calc.errors import CalcError, UsageError
from calc.library import library_path
from calc.network import load_network, network_from_text
from calc.roofline import Device, analyse, roofline, sweep_batch, symbolic_time
from calc.roofline.analysis import EPILOGUE_OPS
from calc.roofline.model import (
    COMPUTE, INFINITE, MEMORY, NONE, attainable, bound, efficient_time, efficiency, intensity, roof_time,
)

# NVIDIA A100 80 GB SXM: 312 TFLOPS bf16 dense, 2,039 GB/s (NVIDIA A100 datasheet 1758950-r4, p. 2,
# column 'A100 80GB SXM'); the figures the published decode floor below is computed with.
A100 = Device("a100-test", "A100 80GB (test)", "bf16", peak=312 * 10**12, bandwidth=2039 * 10**9,
              compute_efficiency=Fraction(1, 2), memory_efficiency=Fraction(4, 5))
TOY = Device("toy", "toy", "fp32", peak=10**14, bandwidth=10**12)  # ridge 100 FLOP/B


@pytest.fixture(scope="module")
def llama():
    return load_network(library_path("llama2_7b"))


@pytest.fixture(scope="module")
def resnet():
    return load_network(library_path("resnet50"))


def _net(layers: str, inp: str = "[1024]") -> object:
    return network_from_text(f"name: t\ninput: {inp}\nlayers:\n{layers}")


# ---- the model --------------------------------------------------------------------------------


def test_formulas_on_a_worked_example():
    # 1,000 FLOPs over 40 bytes: 25 FLOP/B, below the toy ridge of 100: memory-bound,
    # attainable 10^12 x 25 FLOP/s, time 40 B / 10^12 B/s
    assert intensity(1000, 40) == 25
    assert bound(1000, 40, TOY.peak, TOY.bandwidth) == MEMORY
    assert attainable(TOY.peak, TOY.bandwidth, Fraction(25)) == 25 * 10**12
    assert roof_time(1000, 40, TOY.peak, TOY.bandwidth) == Fraction(40, 10**12)
    # with half the peak and 4/5 of the bandwidth: max(1000 / (0.5e14), 40 / (0.8e12))
    assert efficient_time(1000, 40, TOY.peak, TOY.bandwidth, Fraction(1, 2), Fraction(4, 5)) == Fraction(40 * 5, 4 * 10**12)
    assert TOY.ridge == 100 and A100.ridge == Fraction(312000, 2039)


def test_zero_flops_or_zero_bytes_never_divide_by_zero():
    assert intensity(0, 0) == 0 and bound(0, 0, 1, 1) == NONE and roof_time(0, 0, 1, 1) == 0
    assert intensity(0, 8) == 0 and bound(0, 8, 1, 1) == MEMORY
    assert intensity(8, 0) == INFINITE and bound(8, 0, 1, 1) == COMPUTE
    assert attainable(10**14, 10**12, INFINITE) == 10**14
    assert attainable(10**14, 10**12, Fraction(0)) == 0


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 10**15), st.integers(0, 10**12), st.integers(1, 10**16), st.integers(1, 10**13))
def test_attainable_is_flops_over_time(flops, nbytes, peak, bandwidth):
    """The two readings of the roofline agree: attainable throughput = FLOPs / time bound, and
    the bound names the larger roof (checked with the roofs computed here, not the module's)."""
    t = roof_time(flops, nbytes, peak, bandwidth)
    compute, memory = Fraction(flops, peak), Fraction(nbytes, bandwidth)
    assert t == max(compute, memory)
    b = bound(flops, nbytes, peak, bandwidth)
    if flops == nbytes == 0:
        assert b == NONE and t == 0
        return
    assert b == (COMPUTE if compute >= memory else MEMORY)
    if flops:
        assert attainable(peak, bandwidth, intensity(flops, nbytes)) == Fraction(flops) / t


def test_a_device_refuses_what_would_divide_by_zero():
    with pytest.raises(UsageError, match="bandwidth is 0, not a positive int"):
        Device("x", "x", "fp32", peak=1, bandwidth=0)
    with pytest.raises(UsageError, match="peak is -5"):
        Device("x", "x", "fp32", peak=-5, bandwidth=1)
    with pytest.raises(UsageError, match="compute_efficiency"):
        Device("x", "x", "fp32", peak=1, bandwidth=1, compute_efficiency=Fraction(0))
    assert efficiency("0.7", "e") == Fraction(7, 10) and efficiency(0.7, "e") == Fraction(7, 10)
    for bad in ("0", "1.5", "x", True, None):
        with pytest.raises(UsageError):
            efficiency(bad, "e")


# ---- what is counted ----------------------------------------------------------------------------


def test_a_linear_layer_by_hand():
    net = _net("  - {type: linear, Cout: 1024, bias: false}")
    r = roofline(net, TOY, batch=8)
    (row,) = r.rows
    flops = 2 * 8 * 1024 * 1024  # 2mac: two FLOPs per multiply-accumulate
    nbytes = 4 * (8 * 1024 + 1024 * 1024 + 8 * 1024)  # fp32: input + weight + output
    assert (row.flops, row.bytes, row.intensity) == (flops, nbytes, Fraction(flops, nbytes))
    assert row.bound == MEMORY  # about 4 FLOP/B, far below the ridge of 100
    assert row.time == Fraction(nbytes, 10**12) and r.totals.time == row.time
    assert r.convention == "2mac" and r.totals.memory_share == 1


def test_totals_are_the_rows_sums(resnet):
    r = roofline(resnet, A100, dtype="bf16", batch=4)
    report = resnet.evaluate("2mac", "bf16", batch=4)
    assert r.totals.flops == report.totals.flops and r.totals.bytes == report.totals.mem_bytes
    assert r.totals.time == sum(x.time for x in r.rows)
    assert r.totals.memory_time == sum(x.time for x in r.rows if x.bound == MEMORY)
    assert r.totals.network_time == max(Fraction(r.totals.flops, A100.peak), Fraction(r.totals.bytes, A100.bandwidth))
    assert r.totals.network_time <= r.totals.time  # one kernel is the weaker bound
    flatten = next(x for x in r.rows if x.path == "flatten")  # a view: no FLOP, no byte
    assert (flatten.bound, flatten.time, flatten.intensity) == (NONE, 0, 0)


def test_blocks_keep_the_totals(resnet):
    ops = roofline(resnet, A100, dtype="bf16", batch=4)
    blocks = roofline(resnet, A100, dtype="bf16", batch=4, depth=1)
    assert [b.path for b in blocks.rows][:5] == ["conv1", "bn1", "relu", "maxpool", "layer1"]
    layer1 = next(b for b in blocks.rows if b.path == "layer1")
    members = [x for x in ops.rows if x.path.startswith("layer1.")]
    assert layer1.ops == len(members) and layer1.time == sum(x.time for x in members)
    assert layer1.flops == sum(x.flops for x in members) and layer1.bytes == sum(x.bytes for x in members)
    assert sum(b.time for b in blocks.rows) == ops.totals.time and blocks.totals == ops.totals


FUSE_SPEC = """\
  - {type: conv, name: c1, K: 3, Cout: 8, padding: 1, bias: false}
  - {type: batchnorm, name: bn1}
  - {type: relu, name: r1}
  - {type: residual, name: res, body: [{type: conv, name: c2, K: 3, Cout: 8, padding: 1, bias: false},
                                       {type: batchnorm, name: bn2}]}
  - {type: relu, name: r2}
  - {type: maxpool, name: pool, K: 2}
  - {type: relu, name: r3}
"""


def test_fused_epilogues_skip_the_intermediate_round_trip():
    """conv-bn-relu fuses into one row (its two intermediates, each 8x16x16 elements, neither
    written nor read back); r1's output is read by c2 and by the residual's add, so c2 starts a
    new group and fuses bn2, add and r2; the relu after a maxpool stays alone."""
    net = network_from_text(f"name: t\ninput: [3, 16, 16]\nlayers:\n{FUSE_SPEC}")
    plain = roofline(net, TOY)
    fused = roofline(net, TOY, fuse=True)
    by = {r.path: r for r in plain.rows}
    assert [r.path for r in fused.rows] == ["c1", "res.c2", "pool", "r3"]
    c1, c2 = fused.rows[0], fused.rows[1]
    act = 8 * 16 * 16 * 4  # one intermediate at fp32
    assert c1.kind == "conv+batchnorm+relu" and c1.fused == ("bn1", "r1")
    assert c1.bytes == by["c1"].bytes + by["bn1"].bytes + by["r1"].bytes - 2 * 2 * act
    assert c1.flops == by["c1"].flops + by["bn1"].flops + by["r1"].flops
    assert c2.fused == ("res.bn2", "res.add", "r2")
    assert c2.bytes == sum(by[p].bytes for p in ("res.c2", "res.bn2", "res.add", "r2")) - 3 * 2 * act
    assert fused.rows[3].fused == () and fused.totals.flops == plain.totals.flops
    assert plain.totals.bytes - fused.totals.bytes == 5 * 2 * act


def test_an_epilogue_whose_input_has_another_reader_is_not_fused():
    # x + conv(x): the add reads the conv's output (its only reader) and fuses; x is still read
    net = network_from_text("name: t\ninput: [4, 8, 8]\nlayers:\n"
                            "  - {type: residual, name: res, body: [{type: conv, name: c, K: 1, Cout: 4, bias: false}]}\n")
    fused = roofline(net, TOY, fuse=True)
    assert [r.path for r in fused.rows] == ["res.c"] and fused.rows[0].fused == ("res.add",)
    # the conv's output feeds the relu and the add: it must be written, so the relu stays alone
    net2 = network_from_text("name: t\ninput: [4, 8, 8]\nlayers:\n"
                             "  - {type: conv, name: c, K: 1, Cout: 4, bias: false}\n"
                             "  - {type: residual, name: res, body: [{type: relu, name: r}]}\n")
    assert [r.path for r in roofline(net2, TOY, fuse=True).rows] == ["c", "res.r", "res.add"]
    assert "softmax" not in EPILOGUE_OPS and {"batchnorm", "add", "relu", "gelu", "silu"} <= EPILOGUE_OPS


def test_fusing_needs_the_network():
    net = _net("  - {type: linear, Cout: 8}\n  - {type: relu}")
    with pytest.raises(UsageError, match="need the network"):
        analyse(net.evaluate("2mac"), TOY, fuse=True)


def test_the_kv_dtype_prices_the_cache_entries_only(llama):
    bf16 = roofline(llama, A100, dtype="bf16", phase="decode", context=4095)
    fp8 = roofline(llama, A100, dtype="bf16", phase="decode", context=4095, kv_dtype="fp8")
    entries = 2 * 32 * 4096 * 4096  # K and V, 32 layers, 4,096 keys (4,095 cached + the new one), d 4096
    assert bf16.step.kv_entries == fp8.step.kv_entries == entries
    assert bf16.totals.bytes - fp8.totals.bytes == entries * (2 - 1)
    assert (bf16.step.kv_bytes, fp8.step.kv_bytes) == (2 * entries, entries)
    changed = {a.path for a, b in zip(bf16.rows, fp8.rows) if a.bytes != b.bytes}
    assert changed == {f"model.layers.{i}.attn_residual.self_attn.{p}" for i in range(32) for p in ("scores", "context")}


# ---- checks against published figures ----------------------------------------------------------


def test_llama2_7b_decode_floor_on_a100(llama):
    """The published floor: 6,738,415,616 params x 2 B (bf16) = 13,476,831,232 weight bytes,
    / 2,039 GB/s = 6.61 ms per decode step (e.g. the 'memory-bound decode' arithmetic of
    Pope et al., 'Efficiently Scaling Transformer Inference', 2022, sec. 2, with the A100 80 GB
    datasheet's 2,039 GB/s).  That rule reads every parameter, the embedding table whole; a
    decode step looks up one row per token, which calc's weights_read counts: the difference
    is the table less one row, (32,000 - 1) x 4,096 x 2 B."""
    r = roofline(llama, A100, dtype="bf16", phase="decode", context=0)
    s = r.step
    assert s.params_bytes == 13_476_831_232 == 6_738_415_616 * 2
    published = Fraction(s.params_bytes, A100.bandwidth)
    assert round(float(published) * 1e3, 2) == 6.61
    assert s.params_bytes - s.weights_bytes == (32000 - 1) * 4096 * 2
    assert round(float(Fraction(s.weights_bytes, A100.bandwidth)) * 1e3, 3) == 6.481
    # the floor adds the KV cache read: 1 token (the new one), K and V, 32 layers of 4,096
    assert s.kv_bytes == 2 * 32 * 4096 * 2
    assert s.floor_time == Fraction(s.weights_bytes + s.kv_bytes, A100.bandwidth)
    # the per-operation roofline adds the activations' round trips: above the floor, by < 1%
    assert s.floor_time < r.totals.time < s.floor_time * Fraction(101, 100)
    assert s.tokens == 1 and s.tokens_per_second == 1 / r.totals.time


def test_llm_analysis_llama_7b_figures(llama):
    """llm-analysis 0.2.2 (github.com/cli99/llm-analysis, commit d841e40), file
    examples/llama/outputs_infer_ideal/decapoda-research_llama-7b-hf-a100-sxm-80gb-w16a16e16-
    tp1-pp1-dp1-sp1-fe1-hbme1-summary-readable.txt: LLaMA-7B (vocab 32,000, d 4,096, 32 layers
    and heads, as Llama-2-7B), batch 1, seq_len 512, 32 tokens generated, fp16, A100 SXM 80 GB
    at 2,039 GB/s (llm_analysis/gpu_configs/a100-sxm-80gb.json), efficiencies 1:
        embedding_memory_per_gpu: 262.14 MB
        kv_cache_memory_per_gpu: 285.21 MB
        kv_cache_latency: 279.76 us
        decode_latency_fwd_input_embedding: 128.56 us
    Reproduced here by their rules, then set beside calc's."""
    # the cache after the last generated token: 512 + 32 tokens (context 543 + the new one)
    r = roofline(llama, A100, dtype="fp16", math="bf16", phase="decode", context=512 + 32 - 1)
    s = r.step
    assert s.kv_bytes == 285_212_672 and round(s.kv_bytes / 1e6, 2) == 285.21
    # their rule: 'load and store kv cache' (analysis.py, kv_cache_latency = 2 x cache / bandwidth)
    assert round(float(Fraction(2 * s.kv_bytes, A100.bandwidth)) * 1e6, 2) == 279.76
    # calc reads the cache once per step (the scores read K, the context reads V)
    assert round(float(Fraction(s.kv_bytes, A100.bandwidth)) * 1e6, 2) == 139.88
    # their input embedding reads the whole table (vocab x d x 2 B); calc reads one row
    table = 32000 * 4096 * 2
    assert round(table / 1e6, 2) == 262.14
    assert round(float(Fraction(table, A100.bandwidth)) * 1e6, 2) == 128.56
    embed = next(x for x in r.rows if x.path == "model.embed_tokens")
    assert embed.bytes == (4096 + 1 + 4096) * 2  # one row read, one id read, one row written


# ---- the batch sweep and the symbolic time ---------------------------------------------------


def test_sweep_finds_the_smallest_compute_bound_batch_of_a_linear_layer():
    """A 1024x1024 linear in fp32 on the toy device (ridge 100): F(N) = 2 N 1024^2 FLOPs,
    B(N) = 4 (2 N 1024 + 1024^2) bytes; the answer is found by brute force over N here."""
    net = _net("  - {type: linear, Cout: 1024, bias: false}")
    s = sweep_batch(net, TOY, limit=4096)
    k = 1024
    brute = next(n for n in range(1, 4097) if 2 * n * k * k * TOY.bandwidth >= 4 * (2 * n * k + k * k) * TOY.peak)
    assert s.batch == brute
    tried = {p.batch: p for p in s.points}
    assert tried[brute].compute_bound and not tried[brute - 1].compute_bound
    assert len(s.points) <= 2 * 12 + 1  # doubling, then bisection


def test_sweep_reports_never_with_the_limit_intensity():
    # intensity 2 N k^2 / (4 (2 N k + k^2)) tends to k / 4 = 16 for k = 64 < ridge 100: never
    net = _net("  - {type: linear, Cout: 64, bias: false}", "[64]")
    s = sweep_batch(net, TOY, limit=1000)
    assert s.batch is None and s.slope_intensity == 16 and s.points[-1].batch == 1000
    with pytest.raises(UsageError, match="limit"):
        sweep_batch(net, TOY, limit=0)


def test_symbolic_time_matches_the_numbers(resnet):
    """T(N) = max(F(N)/peak, B(N)/bandwidth) from a symbolic batch equals the network roof of
    numeric evaluations at several batches; its crossover's ceiling is the sweep's batch."""
    net = _net("  - {type: linear, Cout: 1024, bias: false}")
    st_ = symbolic_time(net, TOY)
    for n in (1, 7, 124, 125, 126, 1000):
        numeric = roofline(net, TOY, batch=n).totals.network_time
        assert st_.piecewise.subs(st_.symbol, n) == numeric == st_.time.subs(st_.symbol, n)
    import math

    assert math.ceil(st_.crossover) == sweep_batch(net, TOY, limit=4096).batch
    dev = Device("fast-memory", "x", "bf16", peak=312 * 10**12, bandwidth=8 * 10**12)  # ridge 39
    st_r = symbolic_time(resnet, dev, dtype="bf16", fuse=True)
    for n in (1, 3, 16):
        assert st_r.piecewise.subs(st_r.symbol, n) == roofline(resnet, dev, dtype="bf16", batch=n, fuse=True).totals.network_time
    assert math.ceil(st_r.crossover) == sweep_batch(resnet, dev, dtype="bf16", fuse=True, limit=64).batch


# ---- the API's and the command's errors -------------------------------------------------------


def test_api_errors_are_one_line(llama, resnet):
    with pytest.raises(UsageError, match="takes a calc.network.Network"):
        roofline("resnet50.yaml", A100)
    with pytest.raises(UsageError, match="takes a hardware profile"):
        roofline(resnet, object())
    with pytest.raises(UsageError, match="needs a context"):
        roofline(llama, A100, phase="decode")
    with pytest.raises(CalcError, match="batch"):
        roofline(resnet, A100, batch=0)
    with pytest.raises(UsageError, match="made for bf16"):
        roofline(resnet, A100, math="fp32")
    with pytest.raises(UsageError, match="depth"):
        roofline(resnet, A100, depth=0)
    with pytest.raises(UsageError, match="a training step"):
        analyse(resnet.evaluate("2mac", "bf16", mode="training"), A100)
    with pytest.raises(UsageError, match="not collapsed"):
        from calc.report import collapse

        analyse(collapse(resnet.evaluate("2mac", "bf16"), 1), A100)


def _main(argv, capsys, monkeypatch):
    from calc import cli

    monkeypatch.setitem(cli.EXTENSIONS, "roofline", "calc.roofline.cli")
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("argv, message", [
    (["resnet50", "--hw", "no-such-gpu"], "unknown hardware profile 'no-such-gpu' (expected one of a"),
    (["resnet50"], "needs a device: --hw NAME or --hw FILE (expected one of a"),
    (["resnet50", "--hw", "a100-sxm-80gb", "--dtype", "fp8"], "has no fp8 peak"),
    (["resnet50", "--hw", "a100-sxm-80gb", "--batch", "0"], "--batch must be a positive int, got 0"),
    (["resnet50", "--hw", "a100-sxm-80gb", "--batch", "x"], "invalid int value: 'x'"),
    (["llama2_7b", "--hw", "a100-sxm-80gb", "--phase", "decode"], "--phase decode needs --context"),
    (["resnet50", "--hw", "a100-sxm-80gb", "--efficiency", "0.5"], "is not two shares"),
    (["resnet50", "--hw", "a100-sxm-80gb", "--efficiency", "0.5,2"], "is not in (0, 1]"),
    (["resnet50", "--hw", "a100-sxm-80gb", "--kv-dtype", "fp8"], "has no attention with a KV cache"),
    (["resnet50", "--hw", "a100-sxm-80gb", "--sweep-batch", "--batch", "4"], "--batch has no place here"),
])
def test_command_errors_are_one_line(argv, message, capsys, monkeypatch):
    code, out, err = _main(["roofline", *argv], capsys, monkeypatch)
    assert code == 2 and out == "" and message in err and err.count("\n") == 1
    if "expected one of a" in message:  # the device names listed
        assert " a100-sxm-80gb," in err and " h100-sxm," in err


def test_command_formats(capsys, monkeypatch):
    base = ["roofline", "resnet50", "--hw", "a100-sxm-80gb", "--dtype", "bf16", "--batch", "2", "--depth", "1"]
    code, text, _ = _main(base, capsys, monkeypatch)
    assert code == 0 and "ridge: 153.0 FLOP/B" in text and "convention 2mac" in text
    assert "time, sum of operations (ideal):" in text and "time, sum of operations (efficiency 0.5 compute, 0.8 memory)" in text
    code, out, _ = _main([*base, "--format", "json"], capsys, monkeypatch)
    data = json.loads(out)
    r = roofline(load_network(library_path("resnet50")), "a100-sxm-80gb", dtype="bf16", batch=2, depth=1)
    assert data["totals"]["time_exact"] == f"{r.totals.time.numerator}/{r.totals.time.denominator}"
    assert [row["path"] for row in data["rows"]] == [x.path for x in r.rows]
    assert data["device"]["peak_flop_s"] == 312 * 10**12 and data["device"]["bandwidth_byte_s"] == 2039 * 10**9
    code, out, _ = _main([*base, "--format", "csv"], capsys, monkeypatch)
    rows = list(csv.DictReader(line for line in io.StringIO(out) if not line.startswith("#")))
    assert rows[-1]["path"] == "total" and int(rows[-1]["flops"]) == r.totals.flops
    assert sum(int(x["bytes"]) for x in rows[:-1]) == r.totals.bytes
    code, out, _ = _main([*base, "--format", "md"], capsys, monkeypatch)
    assert code == 0 and "| path | kind | FLOPs |" in out


def test_command_decode_and_tf32(capsys, monkeypatch):
    code, out, _ = _main(["roofline", "llama2_7b", "--hw", "a100-sxm-80gb", "--dtype", "bf16", "--phase", "decode",
                          "--context", "0", "--depth", "1"], capsys, monkeypatch)
    assert code == 0 and "the published rule, every parameter / bandwidth: 6.610 ms" in out
    assert "every parameter: 13,476,831,232 B" in out
    code, out, _ = _main(["roofline", "resnet50", "--hw", "a100-sxm-80gb", "--math", "tf32", "--depth", "1"],
                         capsys, monkeypatch)
    assert code == 0 and "peak: 156,000,000,000,000 FLOP/s" in out and "tf32 (math mode on fp32 storage)" in out


def test_peak_dtypes_agree_with_the_hardware_module():
    from calc.hardware import PEAK_DTYPES
    from calc.roofline import cli

    assert cli.PEAK_DTYPES == PEAK_DTYPES


def test_symbolic_decode_with_an_fp8_cache_matches_the_numbers(llama):
    st_ = symbolic_time(llama, A100, dtype="bf16", phase="decode", context=1023, kv_dtype="fp8")
    for n in (1, 3, 40):
        r = roofline(llama, A100, dtype="bf16", phase="decode", context=1023, kv_dtype="fp8", batch=n)
        assert st_.piecewise.subs(st_.symbol, n) == r.totals.network_time
        assert st_.bytes.subs(st_.symbol, n) == r.totals.bytes


def test_command_sweep_and_symbolic(capsys, monkeypatch, llama):
    argv = ["roofline", "llama2_7b", "--hw", "a100-sxm-80gb", "--dtype", "bf16", "--phase", "decode", "--context", "0"]
    code, out, _ = _main([*argv, "--sweep-batch", "--max-batch", "1024"], capsys, monkeypatch)
    found = sweep_batch(llama, "a100-sxm-80gb", dtype="bf16", phase="decode", context=0, limit=1024).batch
    assert code == 0 and found is not None and f"compute-bound from batch {found}:" in out
    code, out, _ = _main([*argv, "--symbolic"], capsys, monkeypatch)
    import math

    st_ = symbolic_time(llama, "a100-sxm-80gb", dtype="bf16", phase="decode", context=0)
    assert code == 0 and math.ceil(st_.crossover) == found and "crossover: N = " in out
    code, out, _ = _main([*argv, "--sweep-batch", "--max-batch", "1024", "--format", "json"], capsys, monkeypatch)
    assert json.loads(out)["batch"] == found


def test_docstring_examples_run():
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module("calc.roofline.analysis"))
    assert result.failed == 0 and result.attempted > 0
