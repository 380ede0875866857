"""calc.memory: liveness against a brute-force simulation, training's per-parameter and
per-layer rules (ZeRO's 16 bytes, Hugging Face's 18, Korthikanti's per-layer formula), the
largest-batch search, KV cache bytes, torchinfo's summary, errors, and the `calc memory` command."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calc.cli import load_spec
from calc.cost import VIEW_OPS
from calc.errors import CalcError, UsageError
from calc.memory import inference_memory, live_activations, training_memory
from calc.memory.fit import largest
from calc.memory.saved import SAVED, TrainingError
from calc.memory.training import Optimizer, Precision, segments, state_bytes_per_param
from calc.network import network_from_text

# ---- liveness: an independent simulation with reference counts ------------------------------

def simulate(report, network) -> list[int]:
    """Step through the operations: allocate each output (a view allocates nothing and holds
    its base), count the live bytes, then drop one reference per value read; a tensor is freed
    when no value holding it has readers left (the network's output is never freed)."""
    ops = network.ops
    n = len(ops)
    readers = [0] * (n + 1)
    for op in ops:
        for v in op.inputs:
            readers[v] += 1
    readers[n] += 1  # the output is read at the end
    holds: dict[int, set[int]] = {}  # storage -> values holding it
    storage_of: dict[int, int] = {}
    size: dict[int, int] = {}
    first = 1
    for d in report.input_shapes[0]:
        first *= d
    storage_of[0], size[0], holds[0] = 0, first, {0}
    live = []
    for i, (op, row) in enumerate(zip(ops, report.rows)):
        v = i + 1
        if row.op in VIEW_OPS and op.inputs:
            storage_of[v] = storage_of[op.inputs[0]]
        else:
            storage_of[v], size[v] = v, row.activations
            holds[v] = set()
        holds[storage_of[v]].add(v)
        live.append(sum(size[s] for s in holds if holds[s]))
        released = [v] if readers[v] == 0 else []
        for u in op.inputs:
            readers[u] -= 1
            if readers[u] == 0:
                released.append(u)
        for u in released:
            holds[storage_of[u]].discard(u)
    return live


@st.composite
def dag_specs(draw) -> str:
    """Specs whose values fan out and join: residuals, parallel branches (concat or add, empty
    identity branches), views (identity, dropout), nested; every item named (unique paths)."""
    c = draw(st.integers(1, 4))
    size = draw(st.integers(2, 6))
    count = iter(range(10**6))

    def name() -> str:
        return f"n{next(count)}"

    def items(d: int, n: int) -> list[str]:
        out = []
        for _ in range(n):
            kind = draw(st.sampled_from(["conv", "relu", "identity", "dropout", "residual",
                                         "parallel", "add_parallel", "bn"] if d < 2 else
                                        ["conv", "relu", "identity", "bn"]))
            if kind == "conv":
                out.append(f"{{type: conv, name: {name()}, K: 1, Cout: {c}}}")
            elif kind in ("relu", "identity", "dropout"):
                out.append(f"{{type: {kind}, name: {name()}}}")
            elif kind == "bn":
                out.append(f"{{type: batchnorm, name: {name()}}}")
            elif kind == "residual":
                body = ", ".join(items(d + 1, draw(st.integers(1, 3))))
                out.append(f"{{type: residual, name: {name()}, body: [{body}]}}")
            else:
                branches = []
                for _b in range(draw(st.integers(2, 3))):
                    body = items(d + 1, draw(st.integers(0, 2)))
                    branches.append("[" + ", ".join(body) + "]")
                merge = "add" if kind == "add_parallel" else "concat"
                out.append(f"{{type: parallel, name: {name()}, merge: {merge}, branches: [{', '.join(branches)}]}}")
                if merge == "concat":
                    out.append(f"{{type: conv, name: {name()}, K: 1, Cout: {c}}}")  # back to c channels
        return out

    layers = [f"{{type: conv, name: {name()}, K: 1, Cout: {c}}}", *items(0, draw(st.integers(1, 5)))]
    return f"name: dag\ninput: [{c}, {size}, {size}]\nlayers: [{', '.join(layers)}]\n"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dag_specs(), st.integers(1, 3))
def test_liveness_equals_a_reference_counting_simulation(spec, batch):
    net = network_from_text(spec)
    report = net.evaluate(batch=batch)
    mem = live_activations(report, net)
    assert list(mem.elements) == simulate(report, net)
    assert mem.peak == max(mem.elements)


@pytest.mark.parametrize("name", ["resnet50", "densenet121", "gpt2"])
def test_liveness_equals_the_simulation_on_library_networks(name):
    net = load_spec(name)
    report = net.evaluate()
    assert list(live_activations(report, net).elements) == simulate(report, net)


def test_charts_reexport_the_liveness():
    from calc.memory import liveness
    from calc.render import charts

    assert charts.live_activations is liveness.live_activations
    assert charts.LiveMemory is liveness.LiveMemory


# ---- inference ---------------------------------------------------------------------------------

def test_resnet50_inference_items():
    net = load_spec("resnet50")
    m = inference_memory(net, batch=2, dtype="fp16")
    # torchvision's ResNet-50: 25,557,032 params, 53,120 batch-norm running stats
    assert m.weights == (25_557_032 + 53_120) * 2
    # the peak: layer1.0's shortcut batch norm (3 tensors of 256x56x56, see test_html)
    assert m.activations == 2 * 3 * 256 * 56 * 56 * 2 and m.peak_path == "layer1.0.downsample.1"
    assert m.kv_bytes == 0 and m.total == m.weights + m.activations


def test_torchinfo_summary_is_tree_size_summary():
    from calc.render.tree import size_summary

    net = load_spec("resnet50")
    m = inference_memory(net)
    assert m.torchinfo == tuple(size_summary(net.evaluate()))
    assert dict(m.torchinfo)["Params size"] == 25_557_032 * 4  # torchinfo leaves out buffers


def test_llama2_kv_cache_bytes():
    net = load_spec("llama2_7b")
    m = inference_memory(net, input_shape=(1, 1), context=4095, dtype="bf16", kv_dtype="fp8")
    # 32 layers x K and V x 4096 tokens x 32 kv heads x 128 = 2 x 4096 x 4096 entries per layer
    assert len(m.kv_cache) == 32
    assert m.kv_bytes == 32 * 2 * 4096 * 32 * 128 * 1
    # Llama-2-7B's weights at bf16: 13,476,831,232 bytes (the decode-floor figure)
    assert m.weights == 13_476_831_232


# ---- training: the per-parameter rules -------------------------------------------------------

def test_mixed_adam_is_16_bytes_per_param_zero():
    # ZeRO (Rajbhandari et al. 2020), sec. 3.1: 2 + 2 + 4 + 4 + 4
    rows = dict(state_bytes_per_param(Optimizer.ADAM, Precision.MIXED, 2))
    assert rows == {"weights": 2, "gradients": 2, "master weights": 4, "optimizer states": 8}
    assert sum(rows.values()) == 16


def test_mixed_adamw_with_fp32_grads_is_18_bytes_hf():
    # Hugging Face "Model training anatomy": 6 (fp32 + fp16 weights) + 4 (grads) + 8 (AdamW)
    rows = state_bytes_per_param(Optimizer.ADAMW, Precision.MIXED, 2, fp32_grads=True)
    assert sum(b for _l, b in rows) == 2 + 4 + 4 + 8 == 18


@pytest.mark.parametrize("opt, per", [("sgd", 8), ("momentum", 12), ("adam", 16), ("adamw", 16)])
def test_fp32_bytes_per_param(opt, per):
    net = load_spec("resnet18")
    t = training_memory(net, optimizer=opt)
    assert t.per_param == per
    assert sum(i.bytes for i in t.items if i.label != "activations saved for backward" and i.label != "buffers") \
        == per * 11_689_512


# ---- training: saved activations per layer ---------------------------------------------------

GPT_LAYER = """\
name: gpt_layer
input: {{T: {s}, d: {h}}}
layers:
  - type: residual
    name: attn_residual
    body:
      - {{type: layernorm, name: ln_1}}
      - {{type: attention, name: attn, heads: {a}, qkv: packed, causal: true, fused: eager}}
      - {{type: dropout, name: resid_dropout, p: 0.1}}
  - type: residual
    name: mlp_residual
    body:
      - {{type: layernorm, name: ln_2}}
      - {{type: linear, name: c_fc, Cout: {h4}}}
      - {{type: gelu, name: act}}
      - {{type: linear, name: c_proj, Cout: {h}}}
      - {{type: dropout, name: dropout, p: 0.1}}
"""


@pytest.mark.parametrize("s, b, h, a", [(16, 2, 64, 4), (128, 3, 96, 6), (2048, 1, 768, 12)])
def test_korthikanti_per_layer_formula(s, b, h, a):
    """Korthikanti et al. 2022, eq. 1: s*b*h*(34 + 5*a*s/h) bytes per layer at 16 bits, dropout
    masks 1 byte.  The spec's layer has no dropout on the attention probabilities (a spec cannot
    place one inside the attention): 3*a*s^2*b bytes less (its mask a*s^2*b and its output
    2*a*s^2*b, which the weighted sum would save instead of the softmax output); and calc counts
    the layer norms' fp32 statistics (mean and rstd per row, 2 x 2 x 4 bytes x s*b) that the
    formula leaves out."""
    net = network_from_text(GPT_LAYER.format(s=s, h=h, a=a, h4=4 * h))
    t = training_memory(net, input_shape=(b, s, h), precision="mixed", dtype="bf16")
    saved = next(i.bytes for i in t.items if i.label == "activations saved for backward")
    korthikanti = s * b * h * 34 + 5 * a * s * s * b
    assert saved == korthikanti - 3 * a * s * s * b + 16 * s * b
    # selective recompute: the score-shaped tensors go, 34*s*b*h stays (+ the statistics, - the
    # projection-output dropout difference is nil)
    sel = training_memory(net, input_shape=(b, s, h), precision="mixed", recompute="selective")
    saved_sel = next(i.bytes for i in sel.items if i.label == "activations saved for backward")
    assert saved_sel == 34 * s * b * h + 16 * s * b


def test_selective_equals_none_without_eager_attention():
    net = load_spec("gpt2")  # fused: sdpa stores no score-shaped tensor
    none = training_memory(net, input_shape=(1, 64))
    sel = training_memory(net, input_shape=(1, 64), recompute="selective")
    assert [i.bytes for i in none.items] == [i.bytes for i in sel.items]


def test_full_recompute_keeps_each_layers_input():
    net = load_spec("gpt2")
    t = training_memory(net, input_shape=(2, 64), recompute="full")
    assert t.segments == tuple(f"transformer.h.{i}" for i in range(12))
    saved = {r.path: r for r in t.saved}
    # each layer keeps its input, 2 x 64 x 768 fp32 values, and saves nothing else
    for i in range(12):
        assert saved[f"transformer.h.{i}.attn_residual.ln_1"].bytes == 2 * 64 * 768 * 4
    assert not any(p.startswith("transformer.h.") and not p.endswith("ln_1") for p in saved)
    resnet = training_memory(load_spec("resnet50"), recompute="full")
    assert resnet.segments == ("layer1", "layer2", "layer3", "layer4")


def test_a_network_without_blocks_cannot_recompute():
    net = network_from_text("name: flat\ninput: [3, 8, 8]\nlayers: [{type: conv, K: 3, Cout: 4}, {type: relu}]\n")
    assert segments(net.ops) == ()
    with pytest.raises(TrainingError) as err:
        training_memory(net, recompute="full")
    line = err.value.one_line()
    assert "checkpoint boundaries" in line and "block" in line and "\n" not in line


def test_every_op_kind_of_the_library_has_a_rule():
    kinds = set()
    for name in ["resnet50", "gpt2", "llama2_7b", "mixtral_8x7b", "vit_b_16", "convnext_tiny",
                 "bert_base_uncased", "inception_v3", "mobilenet_v3_large", "efficientnet_b0",
                 "shufflenet_v2_x1_0", "densenet121"]:
        kinds |= {r.op for r in load_spec(name).evaluate().rows}
    assert kinds - set(SAVED) == set()
    assert all(rule.source for rule in SAVED.values())


def test_an_op_kind_without_a_rule_is_an_error(monkeypatch):
    from calc.memory import saved

    monkeypatch.delitem(saved.SAVED, "relu")
    net = network_from_text("name: x\ninput: [3, 8, 8]\nlayers: [{type: conv, K: 3, Cout: 4}, {type: relu, name: act}]\n")
    with pytest.raises(TrainingError) as err:
        training_memory(net)
    assert "'relu'" in err.value.one_line() and "act" in err.value.one_line()


# ---- fits on a device ------------------------------------------------------------------------

@given(st.integers(0, 10**6), st.integers(1, 1000), st.integers(0, 10**4), st.integers(1, 5))
def test_largest_matches_a_linear_scan(base, slope, capacity, lo):
    def total(x):
        return base + slope * x

    found, capped = largest(total, capacity, lo)
    scan = [x for x in range(lo, lo + capacity // slope + 2) if total(x) <= capacity]
    assert found == (max(scan) if scan else None) and not capped


def test_largest_stops_at_its_bound():
    found, capped = largest(lambda x: 0, 10)
    assert capped and found == 2**40


def test_largest_batch_fits_and_the_next_does_not():
    net = load_spec("resnet18")
    cap = 10**9
    b, _ = largest(lambda n: inference_memory(net, batch=n).total, cap)
    assert inference_memory(net, batch=b).total <= cap < inference_memory(net, batch=b + 1).total


# ---- argument checks ---------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, word", [
    ({"optimizer": "lion"}, "optimizer"), ({"precision": "fp8"}, "precision"),
    ({"recompute": "some"}, "recompute"), ({"dtype": "fp16"}, "fp32"),
    ({"precision": "mixed", "dtype": "fp32"}, "16-bit"), ({"fp32_grads": 1}, "fp32_grads"),
])
def test_training_argument_errors(kwargs, word):
    net = load_spec("resnet18")
    with pytest.raises(UsageError) as err:
        training_memory(net, **kwargs)
    assert word in err.value.one_line() and "\n" not in err.value.one_line()


def test_api_refuses_what_is_not_a_network():
    for fn in (inference_memory, training_memory):
        with pytest.raises(UsageError):
            fn("resnet50")
    with pytest.raises(CalcError):
        inference_memory(load_spec("resnet18"), batch=0)


# ---- the command --------------------------------------------------------------------------------

def run_cli(capsys, *argv):
    from calc import cli

    extensions = dict(cli.EXTENSIONS)
    cli.EXTENSIONS.setdefault("memory", "calc.memory.cli")
    try:
        code = cli.main(["memory", *argv])
    finally:
        cli.EXTENSIONS.clear()
        cli.EXTENSIONS.update(extensions)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_inference_fits(capsys):
    code, out, err = run_cli(capsys, "resnet50", "--hw", "h100-sxm")
    assert code == 0 and err == ""
    assert "layer1.0.downsample.1" in out and "Estimated total size (MB): 280.66" in out
    assert "fits on h100-sxm (80,000,000,000 bytes): yes" in out and "largest batch that fits" in out


def test_cli_training_json(capsys):
    code, out, _ = run_cli(capsys, "gpt2", "--mode", "training", "--precision", "mixed",
                           "--recompute", "selective", "--input", "128", "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["per_param"] == 16 and data["recompute"] == "selective"


def test_cli_does_not_fit_is_one_line_error(capsys):
    code, out, err = run_cli(capsys, "llama2_7b", "--mode", "training", "--hw", "h100-sxm")
    assert code == 1 and "no, " in out
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "more than h100-sxm" in lines[0] and "no batch fits" in lines[0]


@pytest.mark.parametrize("argv, word", [
    (["resnet50", "--optimizer", "adam"], "--optimizer applies to --mode training"),
    (["gpt2", "--mode", "training", "--context", "8"], "--context applies to --mode inference"),
    (["resnet50", "--mode", "training", "--recompute", "full", "--input", "3x32x32"], None),
])
def test_cli_option_errors(capsys, argv, word):
    code, _out, err = run_cli(capsys, *argv)
    if word is None:
        assert code == 0
    else:
        assert code == 2 and word in err and len(err.strip().splitlines()) == 1


def test_cli_unknown_choice_is_a_usage_error(capsys):
    code, _out, err = run_cli(capsys, "resnet50", "--mode", "training", "--optimizer", "lion")
    assert code == 2 and "lion" in err


def test_largest_context_fits_and_the_next_does_not(capsys):
    from calc.hardware import load_profile

    net = load_spec("llama2_7b")
    cap = load_profile("a100-sxm-80gb").memory

    def total(c):
        return inference_memory(net, input_shape=(8, 1), context=c, dtype="bf16").total

    c, capped = largest(total, cap, 0)
    assert not capped and total(c) <= cap < total(c + 1)
    code, out, _ = run_cli(capsys, "llama2_7b", "--dtype", "bf16", "--phase", "decode", "--context", "4095",
                           "--batch", "8", "--hw", "a100-sxm-80gb")
    assert code == 0 and f"largest context that fits: {c:,}" in out


def test_cli_markdown_to_a_file(capsys, tmp_path):
    target = tmp_path / "m.md"
    code, out, _ = run_cli(capsys, "resnet18", "--mode", "training", "--recompute", "full",
                           "--format", "md", "-o", str(target))
    text = target.read_text()
    assert code == 0 and out == ""
    assert "| activations saved for backward |" in text and "checkpointed segments (4): layer1" in text
