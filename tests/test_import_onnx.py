"""`calc import onnx`: calc.importers.onnx on the ONNX files of tests/fixtures/onnx (written by
tools/onnx_fixtures.py: torch 2.14.1's TorchScript exporter, weights stripped) and on small
graphs built here with onnx.helper.

Needs the optional `onnx` package (the `flopcalc[onnx]` extra); without it every test here is
skipped with that reason, except the two that check the missing-package message and that other
commands never import it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from calc.errors import CalcError, SpecError, UsageError
from calc.network import load_network, network_from_text

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "onnx"


@pytest.fixture(scope="module")
def onnx():
    return pytest.importorskip("onnx", reason="the onnx package (flopcalc[onnx] extra) is not installed")


@pytest.fixture(scope="module")
def importer(onnx):
    from calc.importers import onnx as module

    return module


def totals(net):
    return net.evaluate().totals


# -- the CNN fixtures against the hand-written specs ---------------------------------------------------
# BN channels: ResNet-18 has 20 batch norms: bn1 (64), layer1 4 x 64, then per stage 4 in the blocks
# plus the downsample's, 5 x 128, 5 x 256, 5 x 512.
RESNET18_BN_CHANNELS = 64 + 4 * 64 + 5 * 128 + 5 * 256 + 5 * 512
# MobileNetV2 (torchvision): features.0 (32), features.1 (32, 16), then per inverted residual the
# expansion (cin*6), depthwise (cin*6) and projection (cout) BNs, then features.18 (1280).
MOBILENET_V2_BLOCKS = [(16, 24), (24, 24), (24, 32), (32, 32), (32, 32), (32, 64), (64, 64), (64, 64),
                       (64, 64), (64, 96), (96, 96), (96, 96), (96, 160), (160, 160), (160, 160), (160, 320)]
MOBILENET_V2_BN_CHANNELS = 32 + 32 + 16 + sum(2 * 6 * cin + cout for cin, cout in MOBILENET_V2_BLOCKS) + 1280


def test_bn_channel_sums_are_the_hand_written_specs_batch_norms():
    """The channel sums above, read off the hand-written specs: a batch norm has 2C params."""
    for spec, channels in (("resnet18", RESNET18_BN_CHANNELS), ("mobilenet_v2", MOBILENET_V2_BN_CHANNELS)):
        report = load_network(ROOT / "specs" / f"{spec}.yaml").evaluate()
        bn = sum(row.params for row in report.rows if row.kind == "batchnorm")
        assert bn == 2 * channels


@pytest.mark.parametrize("fixture, spec, channels", [
    ("resnet18", "resnet18", RESNET18_BN_CHANNELS),
    ("mobilenet_v2", "mobilenet_v2", MOBILENET_V2_BN_CHANNELS),
])
def test_folded_cnn_reproduces_the_hand_written_spec(importer, fixture, spec, channels):
    """Batch norms folded by the exporter: MACs equal; params are the folded count, i.e. the
    spec's minus each batch norm's 2C plus the C-entry bias the fold gives its conv; the importer
    says so and gives the unfolded count, which is the spec's."""
    imported = importer.convert(FIXTURES / f"{fixture}.onnx")
    ours = totals(network_from_text(imported.text))
    hand = totals(load_network(ROOT / "specs" / f"{spec}.yaml"))
    assert ours.macs == hand.macs
    assert ours.params == imported.params == hand.params - 2 * channels + channels
    assert imported.unfolded_params == hand.params
    assert "FOLDED" in imported.text and f"{hand.params:,}" in imported.text


def test_dynamo_export_folds_and_is_recognised(importer):
    """The dynamo exporter's optimizer folds too, naming each new bias '<weight>_bias'; its
    global pooling is a ReduceMean over H and W."""
    imported = importer.convert(FIXTURES / "resnet18_dynamo.onnx")
    ours = totals(network_from_text(imported.text))
    assert ours.macs == 1_814_073_344
    assert imported.folded_convs == 20 and imported.unfolded_params == 11_689_512
    assert ours.params == 11_689_512 - RESNET18_BN_CHANNELS
    assert "{type: global_avgpool, name: node_mean}" in imported.text


def test_resnet18_with_batchnorms_kept_is_exact(importer):
    """do_constant_folding=False keeps the BatchNormalization nodes: params, MACs and FLOPs are
    the hand-written spec's, and nothing is said to be folded."""
    imported = importer.convert(FIXTURES / "resnet18_bn.onnx")
    ours = totals(network_from_text(imported.text))
    hand = totals(load_network(ROOT / "specs" / "resnet18.yaml"))
    assert (ours.params, ours.macs, ours.flops) == (hand.params, hand.macs, hand.flops) == (
        11_689_512, 1_814_073_344, hand.flops)
    assert imported.batchnorms == 20 and imported.unfolded_params is None
    assert "FOLDED" not in imported.text


def test_resnet18_spec_reads_as_residual_blocks(importer):
    text = importer.import_onnx(FIXTURES / "resnet18.onnx")
    assert text.count("type: residual") == 8
    assert text.count("shortcut:") == 3  # the downsampling blocks of layers 2-4
    assert "{type: conv, name: conv1, K: 7, Cout: 64, stride: 2, padding: 3, bias: true}" in text


def test_network_from_onnx_and_batch_dim(importer):
    """The symbolic batch is 1 unless --dim gives it; the network is the spec's."""
    one = importer.network_from_onnx(FIXTURES / "resnet18.onnx")
    four = importer.network_from_onnx(str(FIXTURES / "resnet18.onnx"), {"batch": 4})
    assert one.input_shape == (1, 3, 224, 224) and four.input_shape == (4, 3, 224, 224)
    assert totals(four).macs == 4 * totals(one).macs


# -- transformer fixtures --------------------------------------------------------------------------------
D, HEADS, FF = 64, 4, 256


def encoder_macs(N, T):
    """Post-norm encoder layer: q, k, v, out projections 4*T*d^2, scores and context 2*T^2*d,
    feed-forward 2*T*d*ff products per sample (layer norms and GELU have no products)."""
    return N * (4 * T * D * D + 2 * T * T * D + 2 * T * D * FF)


ENCODER_PARAMS = 4 * (D * D + D) + 2 * 2 * D + (D * FF + FF) + (FF * D + D)


def test_encoder_fuses_attention_and_gives_the_layer_macs(importer):
    imported = importer.convert(FIXTURES / "encoder.onnx", {"batch": 2, "sequence": 16})
    assert "{type: attention, name: attention, heads: 4, qkv_bias: true, out_bias: true, fused: eager}" in imported.text
    t = totals(network_from_text(imported.text))
    assert t.macs == encoder_macs(2, 16) == 1_638_400
    assert t.params == imported.params == ENCODER_PARAMS == 49_984


def test_encoder_equals_the_hand_written_bert_layer(importer):
    """The same as specs/bert_base_uncased.yaml's bert_layer block at d = 64, 4 heads, 256."""
    hand = network_from_text(f"""
name: bert_layer_small
input: {{T: 16, d: {D}}}
batch: 2
blocks:
  bert_layer:
    params: {{d: 768, heads: 12, intermediate: 3072}}
    layers:
      - type: residual
        name: attention
        body: [{{type: attention, name: self, heads: heads}}]
      - {{type: layernorm, name: ln1}}
      - type: residual
        name: ffn
        body: [{{type: linear, Cout: intermediate}}, {{type: gelu}}, {{type: linear, Cout: d}}]
      - {{type: layernorm, name: ln2}}
layers:
  - {{type: block, block: bert_layer, with: {{d: {D}, heads: {HEADS}, intermediate: {FF}}}}}
""")
    ours = importer.network_from_onnx(FIXTURES / "encoder.onnx", {"batch": 2, "sequence": 16})
    a, b = totals(ours), totals(hand)
    assert (a.macs, a.params, a.flops) == (b.macs, b.params, b.flops)


def test_encoder_unfused_core_is_matmul_softmax_matmul(importer):
    """Without fusion the attention's core is the graph's own matmul, softmax, matmul; its
    scaling (Div by sqrt(h)) has no kind and is only kept, at zero cost, with allow_unknown."""
    with pytest.raises(SpecError, match=r"node '/attention/Div' \(Div\): cannot be imported.*--allow-unknown"):
        importer.convert(FIXTURES / "encoder.onnx", {"sequence": 16}, fuse_attention=False)
    imported = importer.convert(FIXTURES / "encoder.onnx", {"batch": 2, "sequence": 16}, True,
                                fuse_attention=False)
    assert imported.unknown and "'/attention/Div'" in imported.unknown[0]
    assert "# UNKNOWN: ONNX Div '/attention/Div'" in imported.text
    net = network_from_text(imported.text)
    kinds = [op.kind for op in net.ops]
    assert kinds.count("matmul") == 2 and "softmax" in kinds and "attention" not in "".join(kinds)
    assert totals(net).macs == encoder_macs(2, 16)


def test_decoder_with_kv_inputs(importer):
    """One decode step (T = 1) with 15 cached keys: an attention of kv_len 16; projections
    4*d^2, scores and context 2*S*d, MLP 2*d*ff products."""
    imported = importer.convert(FIXTURES / "decoder_kv.onnx")
    assert "kv_len: 16" in imported.text and "input: {T: 1, d: 64}" in imported.text
    hand = network_from_text(f"""
name: gpt2_block_decode
input: {{T: 1, d: {D}}}
layers:
  - type: residual
    name: attn
    body: [{{type: layernorm}}, {{type: attention, heads: {HEADS}, kv_len: 16}}]
  - type: residual
    name: mlp
    body: [{{type: layernorm}}, {{type: linear, Cout: {FF}}}, {{type: gelu}}, {{type: linear, Cout: {D}}}]
""")
    a, b = totals(network_from_text(imported.text)), totals(hand)
    assert a.macs == b.macs == 4 * D * D + 2 * 16 * D + 2 * D * FF
    assert a.params == b.params == ENCODER_PARAMS


def test_weights_are_never_loaded(onnx, importer):
    """The fixtures' weights point at a file that does not exist: loading them would fail."""
    model = onnx.load(str(FIXTURES / "resnet18.onnx"), load_external_data=False)
    stripped = [t for t in model.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL]
    assert len(stripped) >= 20 and not (FIXTURES / "stripped.weights").exists()
    with pytest.raises(onnx.checker.ValidationError, match="stripped.weights"):
        onnx.load(str(FIXTURES / "resnet18.onnx"))
    assert importer.convert(FIXTURES / "resnet18.onnx").params == 11_684_712


def test_fixtures_are_small():
    sizes = {p.name: p.stat().st_size for p in FIXTURES.glob("*")}
    assert len(sizes) == 11 and sum(sizes.values()) < 1_000_000


# -- Hugging Face exports: BertModel and GPT2LMHeadModel --------------------------------------------------
HF = json.loads((FIXTURES / "hf_models.json").read_text())["models"]


# -- bad input ---------------------------------------------------------------------------------------------
def one_line(exc: CalcError) -> str:
    text = str(exc)
    assert "\n" not in text
    return text


def test_truncated_file(importer, tmp_path):
    bad = tmp_path / "half.onnx"
    data = (FIXTURES / "resnet18.onnx").read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(SpecError) as info:
        importer.import_onnx(bad)
    assert one_line(info.value).startswith(f"{bad}: not a readable ONNX model")


def test_not_onnx(importer, tmp_path):
    for name, data in (("spec.onnx", b"name: tiny\ninput: [3, 32, 32]\n"), ("empty.onnx", b""),
                       ("noise.onnx", bytes(range(256)) * 3)):
        bad = tmp_path / name
        bad.write_bytes(data)
        with pytest.raises(SpecError) as info:
            importer.import_onnx(bad)
        text = one_line(info.value)
        assert text.startswith(f"{bad}: not ") and "ONNX model" in text


def test_missing_file_and_bad_arguments(importer, tmp_path):
    with pytest.raises(SpecError, match="no such file"):
        importer.import_onnx(tmp_path / "nope.onnx")
    with pytest.raises(UsageError, match="path"):
        importer.import_onnx(3)
    with pytest.raises(UsageError, match="positive int"):
        importer.import_onnx(FIXTURES / "encoder.onnx", {"sequence": 0})
    with pytest.raises(UsageError, match="no symbolic dim 'seq'.*batch, sequence"):
        importer.import_onnx(FIXTURES / "encoder.onnx", {"seq": 16})
    with pytest.raises(UsageError, match="bool"):
        importer.import_onnx(FIXTURES / "resnet18.onnx", None, "yes")


def test_unresolved_dynamic_dim(importer):
    with pytest.raises(SpecError) as info:
        importer.import_onnx(FIXTURES / "encoder.onnx")
    text = one_line(info.value)
    assert text.startswith(f"{FIXTURES / 'encoder.onnx'}: node '")
    assert "symbolic dim 'sequence'" in text and text.endswith("(expected --dim sequence=VALUE)")


def save(onnx, tmp_path, nodes, inputs, outputs, initializers=(), name="g.onnx"):
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in outputs],
        initializer=list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / name
    path.write_bytes(model.SerializeToString())
    return path


def test_unknown_op_fails_or_is_kept_and_listed(onnx, importer, tmp_path):
    from onnx import helper

    path = save(onnx, tmp_path, [helper.make_node("Relu", ["x"], ["a"], name="act"),
                                 helper.make_node("Erf", ["a"], ["b"], name="mystery"),
                                 helper.make_node("Relu", ["b"], ["y"], name="act2")],
                [("x", [1, 8, 4, 4])], [("y", [1, 8, 4, 4])])
    with pytest.raises(SpecError) as info:
        importer.import_onnx(path)
    assert one_line(info.value) == (
        f"{path}: node 'mystery' (Erf): cannot be imported: no rule for ONNX op Erf "
        "(expected --allow-unknown to keep it as a zero-cost identity)")
    imported = importer.convert(path, allow_unknown=True)
    assert imported.unknown == ["ONNX Erf 'mystery' kept at zero cost (--allow-unknown): no rule for ONNX op Erf"]
    report = network_from_text(imported.text).evaluate()
    row = next(r for r in report.rows if r.path == "mystery")
    assert row.kind == "identity" and row.flops == 0
    assert [r.path for r in report.rows] == ["act", "mystery", "act2"]


def test_odd_names_stay_inside_the_yaml(onnx, importer, tmp_path):
    """Node names are the model's: line breaks, quotes, YAML words and digits cannot break the
    spec's YAML or its comments."""
    from onnx import helper

    names = ["true", "0", "a\nname: x", '"q"/Relu', "# c"]
    nodes, value = [], "x"
    for i, name in enumerate(names):
        nodes.append(helper.make_node("Relu" if i != 2 else "Erf", [value], [f"v{i}"], name=name))
        value = f"v{i}"
    path = save(onnx, tmp_path, nodes, [("x", [1, 4])], [(value, [1, 4])])
    text = importer.import_onnx(path, allow_unknown=True)
    report = network_from_text(text).evaluate()
    assert [r.kind for r in report.rows] == ["relu", "relu", "identity", "relu", "relu"]
    assert len({r.path for r in report.rows}) == 5


def test_unknown_op_that_changes_the_shape_is_never_kept(onnx, importer, tmp_path):
    """An identity passes its input's shape on: an op that changes the shape cannot be kept as
    one (the costs after it would be of the wrong shape), --allow-unknown or not."""
    from onnx import helper

    path = save(onnx, tmp_path, [helper.make_node("Transpose", ["x"], ["y"], name="swap", perm=[1, 0, 2])],
                [("x", [2, 4, 8])], [("y", [4, 2, 8])])
    with pytest.raises(SpecError) as info:
        importer.import_onnx(path, allow_unknown=True)
    assert one_line(info.value) == (
        f"{path}: node 'swap' (Transpose): cannot be imported: perm [1, 0, 2] moves the batch axis "
        "(expected a model without this op (it changes its input's shape, so it cannot be kept as an identity))")


def test_graph_that_is_not_series_parallel(onnx, importer, tmp_path):
    """a = relu(x) is read by sigmoid inside the branch of x + sigmoid(a) and again by the
    last add: no nesting of composites writes it once."""
    from onnx import helper

    path = save(onnx, tmp_path, [helper.make_node("Relu", ["x"], ["a"], name="a"),
                                 helper.make_node("Sigmoid", ["a"], ["b"], name="b"),
                                 helper.make_node("Add", ["x", "b"], ["c"], name="c"),
                                 helper.make_node("Add", ["c", "a"], ["y"], name="y")],
                [("x", [1, 8])], [("y", [1, 8])])
    with pytest.raises(SpecError, match=r"node 'a' \(Relu\): .*not series-parallel"):
        importer.import_onnx(path)


def test_second_input_that_is_no_kv_cache(onnx, importer, tmp_path):
    from onnx import helper

    path = save(onnx, tmp_path, [helper.make_node("Add", ["x", "z"], ["y"], name="sum")],
                [("x", [1, 8]), ("z", [1, 8])], [("y", [1, 8])])
    with pytest.raises(SpecError, match=r"node 'sum' \(Add\): reads graph input 'z'"):
        importer.import_onnx(path)


def test_silu_pattern_and_bias_fold(onnx, importer, tmp_path):
    """x * sigmoid(x) is one silu; MatMul by a (K, N) weight then Add of an N-vector is a linear
    with bias; parameters from the initializers' dims."""
    from onnx import TensorProto, helper

    w = helper.make_tensor("w", TensorProto.FLOAT, [8, 16], [0.0] * 128)
    b = helper.make_tensor("b", TensorProto.FLOAT, [16], [0.0] * 16)
    path = save(onnx, tmp_path, [helper.make_node("MatMul", ["x", "w"], ["m"], name="/fc/MatMul"),
                                 helper.make_node("Add", ["m", "b"], ["l"], name="/fc/Add"),
                                 helper.make_node("Sigmoid", ["l"], ["s"], name="/act/Sigmoid"),
                                 helper.make_node("Mul", ["l", "s"], ["y"], name="/act/Mul")],
                [("x", [2, 8])], [("y", [2, 16])], [w, b])
    text = importer.import_onnx(path)
    assert "{type: linear, name: fc, Cout: 16, bias: true}" in text and "{type: silu, name: act}" in text
    t = totals(network_from_text(text))
    assert (t.params, t.macs) == (8 * 16 + 16, 2 * 8 * 16)


def test_gelu_erf_form(onnx, importer, tmp_path):
    """Below opset 20 torch writes GELU as x * (1 + erf(x / sqrt(2))) * 0.5: one gelu; with
    other constants it is not GELU, and the Erf is reported."""
    from onnx import TensorProto, helper

    def model(root2, half):
        consts = [helper.make_node("Constant", [], [n], name=n, value=helper.make_tensor(n, TensorProto.FLOAT, [], [v]))
                  for n, v in (("c_sqrt2", root2), ("c_one", 1.0), ("c_half", half))]
        return save(onnx, tmp_path, [*consts,
                                     helper.make_node("Div", ["x", "c_sqrt2"], ["d"], name="/g/Div"),
                                     helper.make_node("Erf", ["d"], ["e"], name="/g/Erf"),
                                     helper.make_node("Add", ["e", "c_one"], ["a"], name="/g/Add"),
                                     helper.make_node("Mul", ["x", "a"], ["m"], name="/g/Mul"),
                                     helper.make_node("Mul", ["m", "c_half"], ["y"], name="/g/Mul_1")],
                    [("x", [1, 8])], [("y", [1, 8])], name=f"g{root2}{half}.onnx")

    text = importer.import_onnx(model(1.4142135381698608, 0.5))
    assert "layers:\n  - {type: gelu, name: g}\n" in text
    with pytest.raises(SpecError, match=r"node '/g/Div' \(Div\)"):
        importer.import_onnx(model(1.4142135381698608, 0.25))


# -- hypothesis: convolutions against the loop-nest count ------------------------------------------------
def test_conv_macs_property(onnx, importer, tmp_path_factory):
    from hypothesis import given, settings
    from hypothesis import strategies as st
    from onnx import TensorProto, helper

    @settings(max_examples=20, deadline=None)
    @given(g=st.integers(1, 3), cin_g=st.integers(1, 3), cout_g=st.integers(1, 3), k=st.integers(1, 4),
           s=st.integers(1, 3), p=st.integers(0, 2), size=st.integers(5, 12), bias=st.booleans())
    def check(g, cin_g, cout_g, k, s, p, size, bias):
        cin, cout = g * cin_g, g * cout_g
        p = min(p, k - 1)
        inits = [helper.make_tensor("w", TensorProto.FLOAT, [cout, cin_g, k, k],
                                    b"\0" * (4 * cout * cin_g * k * k), raw=True)]
        inputs = ["x", "w"]
        if bias:
            inits.append(helper.make_tensor("b", TensorProto.FLOAT, [cout], [0.0] * cout))
            inputs.append("b")
        node = helper.make_node("Conv", inputs, ["y"], name="conv", kernel_shape=[k, k], strides=[s, s],
                                pads=[p] * 4, group=g)
        out = (size + 2 * p - k) // s + 1
        path = save(onnx, tmp_path_factory.mktemp("c"), [node], [("x", [1, cin, size, size])],
                    [("y", [1, cout, out, out])], inits)
        t = totals(importer.network_from_onnx(path))
        macs = sum(1 for _co in range(cout) for _y in range(out) for _x in range(out)
                   for _ci in range(cin_g) for _i in range(k) for _j in range(k))
        assert t.macs == macs
        assert t.params == cout * cin_g * k * k + bias * cout

    check()


# -- without the package, and never loaded by other commands -------------------------------------------
def test_missing_onnx_package_is_one_line(monkeypatch):
    from calc.importers import onnx as module

    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now raises ImportError
    with pytest.raises(UsageError) as info:
        module.import_onnx(FIXTURES / "resnet18.onnx")
    assert str(info.value) == "calc import onnx needs the onnx package: pip install 'flopcalc[onnx]'"


def test_report_does_not_import_onnx():
    code = ("import sys, contextlib, io\n"
            "from calc.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    rc = main(['report', 'specs/resnet50.yaml'])\n"
            "assert rc == 0, rc\n"
            "print(sorted(m for m in sys.modules if m == 'onnx' or m.startswith(('onnx.', 'calc.importers.onnx'))))\n")
    out = subprocess.run([sys.executable, "-c", code], check=False, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_doc_quotes_the_real_error_and_counts(importer, monkeypatch):
    """docs/import-onnx.md shows the error for a missing --dim and the folded counts as the
    importer gives them."""
    doc = (ROOT / "docs" / "import-onnx.md").read_text()
    monkeypatch.chdir(ROOT)
    with pytest.raises(SpecError) as info:
        importer.import_onnx("tests/fixtures/onnx/encoder.onnx")
    assert str(info.value) in doc
    for fixture in ("resnet18", "mobilenet_v2"):
        found = importer.convert(FIXTURES / f"{fixture}.onnx")
        channels = found.unfolded_params - found.params
        assert (f"| {found.params:,} | {channels:,} ({found.folded_convs} convs) | "
                f"{found.unfolded_params:,} |") in doc


def test_report_takes_dim_for_an_onnx_model(onnx, capsys):
    """`calc report MODEL.onnx --dim sequence=16`: the error of an unsized dim asks for --dim, so
    every command that takes a model takes it; a spec that is not ONNX refuses it."""
    from calc.cli import main

    model = str(FIXTURES / "encoder.onnx")
    assert main(["report", model, "--no-cache"]) == 1
    assert "(expected --dim sequence=VALUE)" in capsys.readouterr().err
    assert main(["report", model, "--dim", "sequence=16", "--format", "json", "--no-cache"]) == 0
    assert '"input_shapes": [\n    [\n      1,\n      16,\n      64' in capsys.readouterr().out
    assert main(["report", "resnet50", "--dim", "x=1"]) == 2
    assert "--dim sizes an ONNX model's symbolic dimensions" in capsys.readouterr().err


# -- Hugging Face exports (tools/onnx_fixtures.py: transformers 5.24.0, torch 2.14.1, TorchScript exporter) ----
def hf_spec_network(tmp_path, fixture):
    """The network calc.importers.hf writes from the same config (its own expected figures)."""
    from calc.importers.hf import spec_text_from_config

    model = HF[fixture]
    config = {"model_type": "bert" if model["class"] == "BertModel" else "gpt2",
              "architectures": [model["class"]], **model["config"]}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return network_from_text(spec_text_from_config(path))


@pytest.mark.parametrize("fixture", ["bert.onnx", "bert_eager.onnx", "bert_inputs.onnx", "gpt2.onnx"])
@pytest.mark.parametrize("batch, sequence", [(1, 16), (3, 40)])
def test_hf_export_equals_the_hf_importers_spec(importer, tmp_path, fixture, batch, sequence):
    """Parameters: torch's sum(p.numel()) (tied weights once), recorded by the fixture script;
    MACs and FLOPs: those of the spec `calc import hf` writes from the same config, evaluated at
    the same batch and sequence (BertModel's pooler included in both; GPT-2's head tied in both)."""
    imported = importer.convert(FIXTURES / fixture, {"batch": batch, "sequence": sequence})
    ours = network_from_text(imported.text).evaluate().totals
    theirs = hf_spec_network(tmp_path, fixture).evaluate(input_shape=(batch, sequence)).totals
    assert imported.params == ours.params == theirs.params == HF[fixture]["params"]
    assert (ours.macs, ours.flops) == (theirs.macs, theirs.flops)
    assert imported.unknown == []


def test_bert_export_layers(importer):
    """Embeddings: word ids looked up, token types (ids built from the input's shape) as an
    embedding beside them, positions (a constant table gathered by constant ids) as
    position_embedding; the SDPA attention with its all-ones mask and NaN guard is one attention
    (no mask op: not causal); the pooler reads hidden_states[:, 0]."""
    text = importer.import_onnx(FIXTURES / "bert.onnx", {"sequence": 16})
    for line in ("{type: embedding, name: embeddings_word_embeddings, num_embeddings: 1000, embedding_dim: 64}",
                 "{type: embedding, name: embeddings_token_type_embeddings, num_embeddings: 2, embedding_dim: 64}",
                 "{type: position_embedding, name: embeddings_position_embeddings, rows: 64, lookup: true}",
                 "{type: attention, name: encoder_layer_0, heads: 4, qkv_bias: true, out_bias: true, fused: sdpa}",
                 "{type: gelu, name: encoder_layer_1_intermediate}",
                 "{type: select, name: pooler, dim: 1, index: 0}",
                 "{type: tanh, name: pooler_activation}"):
        assert line in text
    assert "Costed up to the graph output 'pooler_output'; the others ('last_hidden_state')" in text
    eager = importer.import_onnx(FIXTURES / "bert_eager.onnx", {"sequence": 16})
    assert "heads: 4, qkv_bias: true, out_bias: true, fused: eager}" in eager


def test_mask_and_token_type_inputs_are_given_values(importer):
    """attention_mask and token_type_ids as graph inputs (as Optimum exports BERT): taken as
    ones and zeros, said in the header; the spec is the one of the single-input export."""
    imported = importer.convert(FIXTURES / "bert_inputs.onnx", {"sequence": 16})
    assert "# Graph input 'attention_mask' [1, 16] taken as all ones (no padding" in imported.text
    assert "# Graph input 'token_type_ids' [1, 16] taken as all zeros (one segment)." in imported.text
    single = importer.convert(FIXTURES / "bert.onnx", {"sequence": 16})
    assert imported.text.split("layers:", 1)[1] == single.text.split("layers:", 1)[1]


def test_other_integer_inputs_are_refused(onnx, importer, tmp_path):
    from onnx import TensorProto, helper

    table = helper.make_tensor("table", TensorProto.FLOAT, [10, 4], [0.0] * 40)
    graph = helper.make_graph(
        [helper.make_node("Gather", ["table", "ids"], ["a"], name="emb"),
         helper.make_node("Gather", ["table", "segment_ids"], ["b"], name="seg"),
         helper.make_node("Add", ["a", "b"], ["y"], name="sum")], "g",
        [helper.make_tensor_value_info(n, TensorProto.INT64, [1, 5]) for n in ("ids", "segment_ids")],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5, 4])], initializer=[table])
    path = tmp_path / "two.onnx"
    path.write_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())
    with pytest.raises(SpecError, match=r"node 'seg' \(Gather\): reads graph input 'segment_ids'"):
        importer.import_onnx(path)


def test_gpt2_export_layers(importer):
    """Conv1D (Reshape, Gemm, Reshape) is one linear of form conv1d; c_attn split into q, k, v
    is the packed attention; the additive causal mask makes it causal; gelu_new's eight
    operators are one gelu; lm_head is tied to wte (the values in the file are equal)."""
    imported = importer.convert(FIXTURES / "gpt2.onnx", {"sequence": 16})
    text = imported.text
    assert ("{type: attention, name: transformer_h_1, heads: 4, causal: true, qkv: packed, qkv_bias: true, "
            "out_bias: true, projection: conv1d, fused: eager}") in text
    assert "{type: linear, name: transformer_h_0_mlp_c_fc, Cout: 256, bias: true, form: conv1d}" in text
    assert "{type: gelu, name: transformer_h_0_mlp}" in text
    assert "{type: position_embedding, name: transformer_wpe, rows: 64, lookup: true}" in text
    assert "{type: linear, name: lm_head, Cout: 256, bias: false, tie: transformer_wte}" in text
    assert "'lm_head' shares the weight of 'transformer_wte' (the same values, transposed)" in text
    report = network_from_text(text).evaluate()
    kinds = [r.kind for r in report.rows]
    assert kinds.count("attn_mask") == 2 and "unknown" not in kinds


def test_gpt2_tie_without_the_data_is_counted_apart(onnx, importer, tmp_path):
    """Weights in external data are never loaded: the head's weight cannot be compared with the
    table, so it is counted apart, and the header says how many parameters fewer a tie makes."""
    model = onnx.load(str(FIXTURES / "gpt2.onnx"), load_external_data=False)
    for tensor in model.graph.initializer:
        if tensor.data_location != onnx.TensorProto.EXTERNAL and len(tensor.dims) == 2:
            tensor.ClearField("raw_data")
            tensor.data_location = onnx.TensorProto.EXTERNAL
            entry = tensor.external_data.add()
            entry.key, entry.value = "location", "absent.weights"
    path = tmp_path / "gpt2_stripped.onnx"
    path.write_bytes(model.SerializeToString())
    imported = importer.convert(path, {"sequence": 16})
    assert imported.params == HF["gpt2.onnx"]["params"] + 64 * 256
    assert "tie:" not in imported.text
    assert ("'/lm_head/MatMul' has a weight of the shape of the table of '/transformer/wte/Gather' (transposed) "
            "whose values are not in the file: if the model ties them (a language model's head), it has "
            "16,384 parameters fewer than counted here.") in imported.text


def test_mask_patterns(onnx):
    """Causal (with cached keys: query i at position S - T + i), sliding window, all visible;
    anything else (padding, a bias that is neither 0 nor large negative) is no pattern."""
    import numpy as np

    from calc.importers.onnx_ops import mask_pattern

    def pattern(visible, shape):
        return mask_pattern(visible, ~visible, shape)

    i, j = np.arange(4)[:, None], np.arange(6)[None, :]
    assert pattern(j <= i + 2, (1, 2, 4, 6)) == ("causal", None)
    assert pattern((j <= i + 2) & (j > i + 2 - 3), (1, 2, 4, 6)) == ("window", 3)
    assert pattern(np.ones((1, 1, 1, 6), bool), (2, 2, 4, 6)) == ("full", None)
    padded = np.ones((1, 1, 4, 6), bool)
    padded[..., -1] = False
    assert pattern(padded, (1, 2, 4, 6)) is None
    additive = np.where(j <= i + 2, 0.0, -3.4e38)
    assert mask_pattern(additive == 0, additive <= -1e4, (1, 1, 4, 6)) == ("causal", None)
    biased = additive + 0.5
    assert mask_pattern(biased == 0, biased <= -1e4, (1, 1, 4, 6)) is None


def test_mask_patterns_property(onnx):
    import numpy as np
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from calc.importers.onnx_ops import mask_pattern

    @settings(max_examples=40, deadline=None)
    @given(t=st.integers(1, 6), past=st.integers(0, 4), w=st.integers(1, 12))
    def check(t, past, w):
        s = t + past
        p, j = np.arange(t)[:, None] + past, np.arange(s)[None, :]
        seen = (j <= p) & (j > p - w)
        got = mask_pattern(seen, ~seen, (1, 1, t, s))
        if seen.all():
            assert got == ("full", None)
        elif w >= s:
            assert got == ("causal", None)
        else:
            assert got in (("window", w), ("causal", None))
            assert got == ("causal", None) or np.array_equal(seen, (j <= p) & (j > p - got[1]))

    check()


def test_where_mask_outside_an_attention_is_named(onnx, importer, tmp_path):
    """Where(causal condition, scores, -inf) is read as a causal mask; outside an attention the
    importer recognises (here no projections) it fails with its node named, never dropped."""
    import numpy as np
    from onnx import TensorProto, helper

    keep = np.tril(np.ones((4, 4), bool))[None, None]
    consts = [helper.make_node("Constant", [], ["keep"], name="c1", value=onnx.numpy_helper.from_array(keep, "keep")),
              helper.make_node("Constant", [], ["fill"], name="c2",
                               value=helper.make_tensor("fill", TensorProto.FLOAT, [], [-np.inf]))]
    path = save(onnx, tmp_path, [*consts,
                                 helper.make_node("Relu", ["x"], ["s"], name="scores"),
                                 helper.make_node("Where", ["keep", "s", "fill"], ["m"], name="/attn/Where"),
                                 helper.make_node("Softmax", ["m"], ["y"], name="soft")],
                [("x", [1, 2, 4, 4])], [("y", [1, 2, 4, 4])])
    with pytest.raises(SpecError) as info:
        importer.import_onnx(path)
    assert one_line(info.value) == (
        f"{path}: node '/attn/Where' (Where): cannot be imported: a Where mask on attention scores "
        "(causal) outside an attention the importer recognises (expected --allow-unknown to keep it as a "
        "zero-cost identity)")


def test_gelu_tanh_form_constants_are_checked(onnx, importer, tmp_path):
    """0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))) is one gelu; with another constant
    the parts stay and the first that has no kind is named."""
    from onnx import TensorProto, helper

    def model(c):
        consts = [helper.make_node("Constant", [], [n], name=n, value=helper.make_tensor(n, TensorProto.FLOAT, [], [v]))
                  for n, v in (("half", 0.5), ("three", 3.0), ("c", c), ("root", 0.7978845608028654), ("one", 1.0))]
        return save(onnx, tmp_path, [*consts,
                                     helper.make_node("Mul", ["x", "half"], ["a"], name="/act/Mul"),
                                     helper.make_node("Pow", ["x", "three"], ["p"], name="/act/Pow"),
                                     helper.make_node("Mul", ["p", "c"], ["b"], name="/act/Mul_1"),
                                     helper.make_node("Add", ["x", "b"], ["s"], name="/act/Add"),
                                     helper.make_node("Mul", ["s", "root"], ["e"], name="/act/Mul_2"),
                                     helper.make_node("Tanh", ["e"], ["t"], name="/act/Tanh"),
                                     helper.make_node("Add", ["t", "one"], ["g"], name="/act/Add_1"),
                                     helper.make_node("Mul", ["a", "g"], ["y"], name="/act/Mul_3")],
                    [("x", [1, 8])], [("y", [1, 8])], name=f"gelu{c}.onnx")

    assert "layers:\n  - {type: gelu, name: act}\n" in importer.import_onnx(model(0.044715))
    with pytest.raises(SpecError, match=r"node '/act/Mul' \(Mul\): cannot be imported"):
        importer.import_onnx(model(0.05))


def test_sequence_longer_than_the_position_table(importer):
    """The position ids past the table's end are an error naming the Gather, not a guess."""
    with pytest.raises(SpecError) as info:
        importer.import_onnx(FIXTURES / "gpt2.onnx", {"sequence": 65})
    assert one_line(info.value) == (
        f"{FIXTURES / 'gpt2.onnx'}: node '/transformer/wpe/Gather' (Gather): gathers row 64 of a table of 64 "
        "rows: the sequence is longer than the model's table (expected a sequence of at most 64 tokens (--dim))")


def test_doc_quotes_the_hf_figures(importer):
    """docs/import-onnx.md's table of the Hugging Face exports is what the importer gives."""
    doc = (ROOT / "docs" / "import-onnx.md").read_text()
    for fixture in HF:
        for n, t in ((1, 16), (3, 40)):
            imported = importer.convert(FIXTURES / fixture, {"batch": n, "sequence": t})
            ours = network_from_text(imported.text).evaluate().totals
            assert f"| `{fixture}` | {n} x {t} | {imported.params:,} | {ours.macs:,} | {ours.flops:,} |" in doc
