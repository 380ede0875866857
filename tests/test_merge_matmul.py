"""`parallel` with `merge: matmul` / `merge: einsum`: the branch outputs are the operands of one
matmul (two branches, a @ b) or einsum (one operand per branch), so attention's q @ k^T and
softmax(scores) @ v are written in a spec.  Totals derived by hand; bad merges are located errors."""

import pytest

from calc import conventions
from calc.errors import SpecError
from calc.network import network_from_text

T, D = 4, 8  # N = 1 (the default batch), an (N, T, d) input
LINEAR_MACS = T * D * D  # T rows, d outputs of d products
LINEAR_PARAMS = D * D + D

SCORES = """
  - type: parallel
    name: scores
    merge: matmul
    branches:
      q: {type: linear, Cout: 8}
      k: [{type: linear, name: proj, Cout: 8}, {type: transpose, dim0: 1, dim1: 2}]
"""


def net(layers: str, head: str = "name: att\ninput: [4, 8]\nlayers:\n"):
    return network_from_text(head + layers, "att.yaml")


def test_single_head_scores_by_hand():
    report = net(SCORES).evaluate("exact")
    rows = {row.path: row for row in report.rows}
    assert list(rows) == ["scores.q", "scores.k.proj", "scores.k.1", "scores.matmul"]
    assert rows["scores.k.1"].output_shape == (1, D, T)  # k^T
    assert rows["scores.matmul"].output_shape == (1, T, T)
    assert rows["scores.matmul"].op == "matmul"  # torch.matmul, the default merge_form
    assert rows["scores.matmul"].macs == T * T * D  # (4, 8) @ (8, 4): 16 outputs of 8 products
    assert rows["scores.matmul"].flops == 2 * T * T * D - T * T  # 7 adds per output
    assert report.totals.macs == 2 * LINEAR_MACS + T * T * D == 640
    assert report.totals.params == 2 * LINEAR_PARAMS == 144


@pytest.mark.parametrize(("form", "op"), [("operator", "matmul_operator"), ("bmm", "bmm")])
def test_merge_form_names_the_call(form, op):
    report = net(SCORES.replace("merge: matmul", f"merge: matmul\n    merge_form: {form}")).evaluate("exact")
    assert report.rows[-1].op == op and report.rows[-1].macs == T * T * D


def test_einsum_merge_needs_no_transpose():
    spec = SCORES.replace("merge: matmul", "merge: einsum\n    equation: 'btd,bsd->bts'").replace(
        "[{type: linear, name: proj, Cout: 8}, {type: transpose, dim0: 1, dim1: 2}]", "{type: linear, Cout: 8}")
    report = net(spec).evaluate("exact")
    assert report.rows[-1].path == "scores.einsum" and report.rows[-1].output_shape == (1, T, T)
    assert report.rows[-1].macs == 1 * T * T * D  # index space b t s d, one product per point


FULL = """
  - type: parallel
    name: attn
    merge: matmul
    branches:
      weights:
        - type: parallel
          name: scores
          merge: matmul
          branches:
            q: {type: linear, Cout: 8}
            k: [{type: linear, name: proj, Cout: 8}, {type: transpose, dim0: 1, dim1: 2}]
        - {type: softmax, name: softmax, dim: 2}
      v: {type: linear, Cout: 8}
  - {type: linear, name: out, Cout: 8}
"""


def test_full_single_head_attention_by_hand():
    """q, k, v, out projections: 4 * T*d*d = 4 * 256 = 1024 MACs, 4 * (64 + 8) = 288 params;
    scores q @ k^T (T, d) @ (d, T): T*T*d = 128; weighted sum (T, T) @ (T, d): T*T*d = 128.
    Total 1024 + 256 = 1280 MACs; softmax over the last axis of (1, T, T): 0 MACs."""
    report = net(FULL).evaluate("exact")
    rows = {row.path: row for row in report.rows}
    assert rows["attn.weights.softmax"].output_shape == (1, T, T)
    assert rows["attn.matmul"].output_shape == (1, T, D) and rows["attn.matmul"].macs == T * T * D
    assert rows["out"].output_shape == (1, T, D)
    assert report.totals.params == 4 * LINEAR_PARAMS == 288
    assert report.totals.macs == 4 * LINEAR_MACS + 2 * T * T * D == 1280
    # exact FLOPs: projections 2*macs (d - 1 adds + 1 bias add per output), matmuls 2*macs - outputs
    softmax = rows["attn.weights.softmax"].flops
    assert report.totals.flops == 4 * 2 * LINEAR_MACS + 2 * (2 * T * T * D) - T * T - T * D + softmax


@pytest.mark.parametrize("name", sorted(conventions.CONVENTIONS))
def test_every_convention_prices_the_attention(name):
    report = net(FULL).evaluate(name)
    assert report.totals.params == 288
    assert sum(row.flops for row in report.rows) == report.totals.flops


@pytest.mark.parametrize(("extra", "words"), [
    ("merge: matmul\n    branches: {a: [], b: [], c: []}", "exactly two branches, got 3"),
    ("merge: matmul\n    merge_form: mm\n    branches: {a: [], b: []}", "unknown merge_form 'mm'"),
    ("merge: concat\n    merge_form: bmm\n    branches: {a: [], b: []}", "merge_form applies to merge: matmul"),
    ("merge: add\n    equation: 'ab,ab->ab'\n    branches: {a: [], b: []}", "equation applies to merge: einsum"),
    ("merge: einsum\n    branches: {a: [], b: []}", "needs equation"),
    ("merge: einsum\n    equation: 'ab,bc,cd->ad'\n    branches: {a: [], b: []}", "3 operand(s), the operation 2"),
    ("merge: einsum\n    equation: 'a..b'\n    branches: {a: [], b: []}", "equation"),
    ("merge: max\n    branches: {a: [], b: []}", "concat, add, mul, matmul or einsum"),
])
def test_bad_product_merges_are_located(extra, words):
    with pytest.raises(SpecError) as err:
        net(f"  - type: parallel\n    name: p\n    {extra}\n").evaluate()
    line = err.value.one_line()
    assert line.startswith("att.yaml:") and "p" in line and words in line, line


def test_operands_that_do_not_multiply_are_located():
    spec = SCORES.replace("{type: transpose, dim0: 1, dim1: 2}", "{type: linear, Cout: 3}")
    with pytest.raises(SpecError) as err:
        net(spec).evaluate()
    assert "att.yaml:" in err.value.one_line() and "do not multiply" in err.value.one_line()


def test_softmax_over_the_last_axis_by_a_negative_dim():
    """Attention's softmax is over the last axis: dim -1 is dim 2 of an (N, T, T) map, as in
    PyTorch; out of range either way is a located error."""
    from calc.errors import ShapeError
    from calc.network import network_from_text

    def spec(dim: int) -> str:
        return f"name: t\ninput: [4, 6]\nlayers:\n  - {{type: softmax, dim: {dim}}}\n"

    last = network_from_text(spec(-1), "s.yaml").evaluate()
    assert last.rows[0].flops == network_from_text(spec(2), "s.yaml").evaluate().rows[0].flops
    assert last.rows[0].flops != network_from_text(spec(1), "s.yaml").evaluate().rows[0].flops  # rows of 6, not 4
    with pytest.raises(ShapeError) as info:
        network_from_text(spec(-4), "s.yaml").evaluate()
    assert info.value.one_line().startswith("s.yaml:4:21: 0.dim: dim -4 is out of range for a 3-d input")
