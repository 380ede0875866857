"""Embedding (nn.Embedding): a table lookup.  Shapes and params against PyTorch and a
brute-force gather; every profiler convention reproduces the real tools' figures
(tests/fixtures/profilers/embedding/, written by tools/oracle/embedding.py); the symbolic path
equals the numeric one; bad fields are located errors."""

import json
from pathlib import Path

import bruteforce as bf
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st
from tool_totals import TOOLS

from calc import conventions
from calc.errors import SpecError
from calc.layers import Embedding
from calc.network import network_from_text
from calc.parse import parse_layer
from calc.report import evaluate_layer

FIXTURES = Path(__file__).parent / "fixtures" / "profilers" / "embedding"
CASES = {p.stem: json.loads(p.read_text()) for p in sorted(FIXTURES.glob("*.json"))}
SINGLE = [c for c in CASES.values() if c["op"]["kind"] == "embedding"]



def record(case):
    fields = dict(case["op"])
    del fields["kind"]
    (ids,) = case["input_shapes"]
    return parse_layer({"type": "embedding", **fields, "N": ids[0], "input": ids[1:]})


def test_fixtures_are_complete():
    assert {c["id"] for c in SINGLE} == {"embedding", "embedding_padding_max_norm"}
    for case in CASES.values():
        assert case["input_dtype"] == "int64"
        for tool, _ in TOOLS.values():
            assert "error" not in case["tools"][tool], (case["id"], tool)


@pytest.mark.parametrize("case", SINGLE, ids=[c["id"] for c in SINGLE])
def test_shape_and_params_match_pytorch(case):
    report = evaluate_layer(record(case), conventions.get("exact"))
    assert report.output_shape == tuple(case["output_shape"]) == (2, 5, 8)
    assert report.totals.params == case["params"] == 10 * 8
    assert report.totals.macs == 0 and report.totals.flops == 0


@pytest.mark.parametrize("convention", sorted(TOOLS))
@pytest.mark.parametrize("case", SINGLE, ids=[c["id"] for c in SINGLE])
def test_every_profiler_convention_reproduces_the_tool(case, convention):
    tool, total = TOOLS[convention]
    assert evaluate_layer(record(case), conventions.get(convention)).totals.flops == total(case["tools"][tool])


def test_only_torchinfo_charges_the_lookup():
    """torchinfo's calculate_macs charges every module's `weight` N times: N * num * dim = 2 * 80;
    the others see no arithmetic (fvcore lists aten::embedding as unsupported)."""
    case = CASES["embedding"]
    assert TOOLS["torchinfo"][1](case["tools"]["torchinfo"]) == 2 * 10 * 8
    assert case["tools"]["fvcore"]["unsupported_ops"] == {"aten::embedding": 1}
    for name in ("thop", "fvcore", "ptflops", "ptflops-aten", "torch", "calflops"):
        tool, total = TOOLS[name]
        assert total(case["tools"][tool]) == 0, name
    # padding_idx and max_norm change no tool's figure
    for tool, total in TOOLS.values():
        assert total(CASES["embedding_padding_max_norm"]["tools"][tool]) == total(case["tools"][tool])


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(1, 4), min_size=1, max_size=3), st.integers(1, 6), st.integers(1, 5))
def test_exact_equals_the_gather_walk(ids, num, dim):
    walk = bf.embedding(tuple(ids), num, dim)
    layer = Embedding(N=ids[0], input=ids[1:], num_embeddings=num, embedding_dim=dim)
    report = evaluate_layer(layer, conventions.get("exact"))
    assert report.output_shape == walk.out_shape
    assert report.totals.params == walk.params
    assert report.totals.flops == walk.mults + walk.adds == 0


@pytest.mark.parametrize("convention", sorted(conventions.CONVENTIONS))
def test_symbolic_equals_numeric(convention):
    n, t, v, d = sympy.symbols("N T V d", integer=True, positive=True)
    conv = conventions.get(convention)

    def make(n_, t_, v_, d_):
        return Embedding.model_construct(type="embedding", N=n_, input=[t_], num_embeddings=v_,
                                         embedding_dim=d_, padding_idx=None, max_norm=None, name=None,
                                         call="module")
    sym = make(n, t, v, d)
    tally = sym.tally(sym.stated_inputs())
    numeric = evaluate_layer(make(2, 5, 10, 8), conv).totals
    point = {n: 2, t: 5, v: 10, d: 8}
    assert sympy.sympify(conv.flops(tally)).subs(point) == numeric.flops
    assert sympy.sympify(tally.params).subs(point) == numeric.params == 80
    assert tally.output == (n, t, d)


def test_token_ids_input_in_a_spec():
    """`input: [T]` is (N, T) token ids; the embedding appends the model width."""
    report = network_from_text("name: e\ninput: [7]\nbatch: 3\nlayers:\n"
                               "  - {type: embedding, name: wte, num_embeddings: 50, embedding_dim: 16}\n"
                               "  - {type: linear, name: proj, Cout: 4}\n").evaluate("exact")
    assert [row.output_shape for row in report.rows] == [(3, 7, 16), (3, 7, 4)]
    assert report.totals.params == 50 * 16 + (16 * 4 + 4)
    assert report.rows[0].macs == 0 and report.totals.macs == 3 * 7 * 16 * 4


@pytest.mark.parametrize(("fields", "words"), [
    ("num_embeddings: 10, embedding_dim: 8, padding_idx: 10", "padding_idx: 10 is not a row of a 10-row table"),
    ("num_embeddings: 10, embedding_dim: 8, padding_idx: -11", "padding_idx: -11 is not a row"),
    ("num_embeddings: 10, embedding_dim: 8, max_norm: 0", "max_norm"),
    ("num_embeddings: 0, embedding_dim: 8", "num_embeddings"),
    ("embedding_dim: 8", "num_embeddings"),
])
def test_bad_fields_are_located(fields, words):
    with pytest.raises(SpecError) as err:
        network_from_text(f"name: e\ninput: [5]\nlayers:\n  - {{type: embedding, {fields}}}\n", "e.yaml").evaluate()
    line = err.value.one_line()
    assert line.startswith("e.yaml:4:") and words in line, line


def test_negative_padding_idx_in_range_is_accepted():
    layer = Embedding(num_embeddings=10, embedding_dim=8, padding_idx=-10, N=1, input=[5])
    assert evaluate_layer(layer, conventions.get("exact")).totals.params == 80


# -- tied weights ---------------------------------------------------------------------------------
TIED = """name: tied
input: [5]
batch: 2
layers:
  - {type: embedding, name: wte, num_embeddings: 10, embedding_dim: 8}
  - {type: linear, name: lm_head, Cout: 10, bias: false, tie: wte}
"""


def test_tied_lm_head_counts_the_table_once():
    """PyTorch's parameters() gives 80 for Embedding(10, 8) + Linear(8, 10) sharing the weight
    (fixture tied_lm_head); untied it would be 80 + 80.  The tied matmul still costs its
    2 * 5 * 8 * 10 = 800 MACs."""
    from test_fuzz import check_report

    case = CASES["tied_lm_head"]
    report = network_from_text(TIED, "t.yaml").evaluate("exact")
    assert report.totals.params == case["params"] == 10 * 8
    assert [(r.path, r.params) for r in report.rows] == [("wte", 80), ("lm_head", 0)]
    assert report.rows[1].macs == 2 * 5 * 8 * 10 and report.output_shape == tuple(case["output_shape"])
    assert report.rows[1].mem_access == 2 * 5 * 8 + 80 + 2 * 5 * 10  # the shared weight is still read
    check_report(report)  # rows add up to the totals
    untied = network_from_text(TIED.replace(", tie: wte", ""), "t.yaml").evaluate("exact")
    assert untied.totals.params == 80 + 80 and untied.totals.macs == report.totals.macs


@pytest.mark.parametrize("convention", sorted(TOOLS))
def test_tied_model_reproduces_every_tool(convention):
    """thop 800 = fvcore = ptflops-aten (the Linear's macs), ptflops 800 / N = 400, torchinfo
    2 * 80 for each module's weight = 320 (a tie changes no tool's FLOPs), torch and calflops 2 * 800."""
    tool, total = TOOLS[convention]
    report = network_from_text(TIED, "t.yaml").evaluate(convention)
    assert report.totals.flops == total(CASES["tied_lm_head"]["tools"][tool])
    assert report.totals.params == 80


def test_tool_params_figures_for_a_tie_are_recorded():
    """calc reports PyTorch's parameters() (80) under every convention; torchinfo prints 160
    (the table under both modules), thop 80 (the hooked Linear's only): not emulated."""
    tools = CASES["tied_lm_head"]["tools"]
    assert tools["torchinfo"]["total_params"] == 2 * 80
    assert tools["thop"]["total_params"]["value"] == tools["ptflops_pytorch"]["params"] == 80
    assert tools["calflops"]["params"] == tools["ptflops_aten"]["params"] == 80


def test_tied_and_untied_twins_keep_their_own_params():
    """The builder shares identical records and evaluation caches figures by record and input:
    a tied layer must not hand its 0 params to an identical untied one (or take its 80)."""
    spec = TIED.replace("  - {type: linear, name: lm_head, Cout: 10, bias: false, tie: wte}\n", (
        "  - type: parallel\n    merge: add\n    branches:\n"
        "      free: {type: linear, Cout: 10, bias: false}\n"
        "      head: {type: linear, Cout: 10, bias: false, tie: wte}\n"))
    report = network_from_text(spec, "t.yaml").evaluate("exact")
    assert {r.path: r.params for r in report.rows} == {"wte": 80, "free": 80, "head": 0, "add": 0}
    assert report.totals.params == 80 + 80


def test_embedding_tied_to_a_linear():
    """The tie goes either way: Embedding (num, dim) = Linear (Cout, Cin) weight."""
    spec = ("name: t\ninput: [8]\nlayers:\n  - {type: linear, name: proj, Cout: 10}\n"
            "  - {type: embedding, name: emb, num_embeddings: 10, embedding_dim: 8, tie: proj}\n")
    report = network_from_text(spec, "t.yaml").evaluate()
    assert [r.params for r in report.rows] == [8 * 10 + 10, 0]


@pytest.mark.parametrize(("layers", "words"), [
    ("  - {type: linear, name: lm_head, Cout: 9, bias: false, tie: wte}\n",
     "lm_head.tie: its linear weight is 9 x 8 but the embedding weight of 'wte' it ties to is 10 x 8"),
    ("  - {type: linear, name: lm_head, Cout: 10, tie: wtx}\n", "tie names 'wtx', which is no layer; did you mean 'wte'?"),
    ("  - {type: linear, name: lm_head, Cout: 10, tie: later}\n  - {type: linear, name: later, Cout: 10}\n",
     "tie names 'later', which comes later"),
    ("  - {type: linear, name: lm_head, Cout: 10, tie: lm_head}\n", "'lm_head' ties to itself"),
    ("  - {type: relu, name: r}\n  - {type: linear, name: lm_head, Cout: 10, tie: r}\n",
     "tie names 'r', a 'relu', which has no weight to share"),
    ("  - {type: relu, name: r, tie: wte}\n", "a 'relu' cannot share a weight"),
    ("  - {type: linear, name: lm_head, Cout: 10, tie: 3}\n", "tie must be the path of an earlier layer, got 3"),
])
def test_bad_ties_are_located(layers, words):
    text = TIED.split("  - {type: linear")[0] + layers
    with pytest.raises(SpecError) as err:
        network_from_text(text, "t.yaml").evaluate()
    line = err.value.one_line()
    row = 7 if "name: r}" in layers else 6  # the line of the item that says `tie`
    assert line.startswith(f"t.yaml:{row}:") and "tie" in line and words in line, line


def test_compare_counts_a_tied_table_once():
    """`calc compare` gives the report's params: 80 for the tied model, not 80 + 80."""
    from calc.compare import compare

    tied = network_from_text(TIED, "t.yaml")
    cmp = compare(tied, ["exact", "torchinfo"])
    assert cmp.params == tied.evaluate("exact").totals.params == 10 * 8
    assert cmp.flops["torchinfo"] == tied.evaluate("torchinfo").totals.flops


def test_a_lookup_reads_the_rows_it_looks_up():
    """Memory access of an embedding: the ids, one row per id (not the whole table: a decode
    step of one token reads one row of Llama-2's 32000), and the output."""
    layer = parse_layer({"type": "embedding", "num_embeddings": 32000, "embedding_dim": 16, "N": 2, "input": [3]})
    row = evaluate_layer(layer).rows[0]
    assert row.params == 32000 * 16 and row.mem_access == 2 * 3 + 2 * 3 * 16 + 2 * 3 * 16
