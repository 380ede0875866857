"""Tensor operations (permute, transpose, reshape/view, split, chunk, matmul, einsum, scale):
every profiler convention reproduces the real tools' figures (tests/fixtures/profilers/tensor/,
written by tools/oracle/tensor.py), the exact count equals a brute-force walk, the symbolic path
equals the numeric one, bad fields are located errors, and a spec chaining them adds up."""

import json
from pathlib import Path

import bruteforce as bf
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st
from tool_totals import TOOLS

from calc import conventions
from calc.errors import CalcError, ShapeError, SpecError
from calc.layers import Chunk, Einsum, Matmul, Permute, Reshape, Scale, Split, Transpose
from calc.layers.tensor import einsum_exact_flops, matmul_exact_flops, parse_equation
from calc.network import load_network
from calc.parse import parse_layer
from calc.report import evaluate_layer
from calc.tally import Tally

FIXTURES = Path(__file__).parent / "fixtures"
CASES = [json.loads(p.read_text()) for p in sorted((FIXTURES / "profilers" / "tensor").glob("*.json"))]
EXACT = conventions.get("exact")



def record(case):
    """The fixture's operation as a standalone record: the first input is (N, *input), a second
    one (two-input matmul or einsum) its whole shape."""
    fields = dict(case["op"])
    kind = fields.pop("kind")
    first, *rest = case["input_shapes"]
    if rest and kind == "matmul":
        fields["other"] = rest[0]
    elif rest:
        fields["others"] = rest
    return parse_layer({"type": kind, **fields, "N": first[0], "input": first[1:]})


def fixture(case_id):
    return next(c for c in CASES if c["id"] == case_id)


def test_fixtures_cover_every_kind_and_tool():
    kinds = {c["op"]["kind"] for c in CASES}
    assert kinds == {"permute", "transpose", "reshape", "view", "split", "chunk", "matmul", "einsum", "scale"}
    for case in CASES:
        for tool, _ in TOOLS.values():
            assert "error" not in case["tools"][tool], (case["id"], tool)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_shape_params_and_buffers_match_pytorch(case):
    report = evaluate_layer(record(case), EXACT)
    assert report.output_shape == tuple(case["output_shape"])
    assert report.totals.params == case["params"]
    assert report.totals.buffers == case["buffers"]


@pytest.mark.parametrize("convention", sorted(TOOLS))
@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_every_profiler_convention_reproduces_the_tool(case, convention):
    tool, total = TOOLS[convention]
    assert evaluate_layer(record(case), conventions.get(convention)).totals.flops == total(case["tools"][tool])


def test_known_tool_traps_are_reproduced():
    """Where the tools disagree, and why (read from their sources; see docs/profilers.md)."""
    two = fixture("matmul_two_inputs")  # (2, 5, 8) @ (2, 8, 3): 240 products
    assert two["tools"]["fvcore"]["total"] == two["tools"]["ptflops_pytorch"]["macs"] == 240
    assert two["tools"]["torch_flop_counter"]["total_flops"] == two["tools"]["calflops"]["flops"] == 2 * 240
    assert two["tools"]["thop"]["total_ops"]["value"] == two["tools"]["torchinfo"]["total_mult_adds"] == 0
    op = fixture("matmul_operator")  # x @ y: calflops and ptflops patch torch.matmul, not the operator
    assert op["tools"]["calflops"]["flops"] == op["tools"]["ptflops_pytorch"]["macs"] == 0
    assert op["tools"]["fvcore"]["total"] == 240  # traced: @ is aten::matmul
    bc = fixture("matmul_broadcast")  # (2, 1, 5, 8) @ (3, 8, 4): 2*3*5*8*4 = 960 products
    assert bc["tools"]["ptflops_aten"]["macs"] == 960 and bc["tools"]["torch_flop_counter"]["total_flops"] == 1920
    assert bc["tools"]["fvcore"]["total"] == 2 * 5 * 8 * 4  # prod(first operand) * m: short by 3
    assert bc["tools"]["calflops"]["flops"] == 2 * 2 * 5 * 8 * 4
    assert fixture("bmm")["tools"]["calflops"]["flops"] == 0  # the torch.bmm patch is commented out
    es = fixture("einsum_scores")  # P = 2*2*5*6*4 = 480
    assert es["tools"]["calflops"]["flops"] == 2 * 480 + 1  # numpy's einsum_path count, +1
    assert es["tools"]["fvcore"]["total"] == 480  # floor(961 / 2), a float
    assert es["tools"]["ptflops_pytorch"]["macs"] == 0  # torch.einsum not patched
    for case in ("scale_last", "scale_channels_first"):  # x * gamma: an operator, gamma not 'weight'
        assert all(total(fixture(case)["tools"][tool]) == 0 for tool, total in TOOLS.values())


# -- exact convention: closed form against a walk of the loop nest -----------------------------
def dims(lo=1, hi=3):
    return st.integers(lo, hi)


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_matmul_exact_equals_walk(data):
    """Random ranks and broadcasting: the first operand (N, *a_batch, n, k), the second either a
    stored vector (k,) or matrix, or (b_batch..., k, m) broadcasting against it."""
    n, k, m, batch = data.draw(dims()), data.draw(dims()), data.draw(dims()), data.draw(dims(1, 2))
    extra = data.draw(st.lists(dims(1, 2), max_size=1))
    a = (batch, *extra, n, k)
    kind = data.draw(st.sampled_from(["vector", "matrix", "batched"]))
    if kind == "vector":
        b = (k,)
    elif kind == "matrix":
        b = (k, m)
    else:
        b_batch = tuple(data.draw(st.sampled_from([1, s])) for s in a[:-2])
        b = (*b_batch[data.draw(st.integers(0, len(b_batch) - 1)):], k, m)
    buffer = kind != "batched"
    layer = Matmul(N=a[0], input=list(a[1:]), other=list(b), other_is="buffer" if buffer else "input")
    report = evaluate_layer(layer, EXACT)
    ref = bf.matmul(a, b)
    assert report.output_shape == ref.out_shape
    assert report.totals.macs == ref.mults
    assert report.totals.flops == ref.mults + ref.adds
    outputs = bf.prod(ref.out_shape)
    batch_size = outputs // (n * (1 if kind == "vector" else m))
    assert report.totals.flops == matmul_exact_flops((batch_size,), n, k, 1 if kind == "vector" else m)
    assert report.totals.buffers == (bf.prod(b) if buffer else 0)


EQUATIONS = [  # (equation, operands) with the batch index first in the output
    ("bij,bjk->bik", 2), ("bhid,bhjd->bhij", 2), ("bi,bj->bij", 2), ("bij->bj", 1), ("bij->bji", 1),
    ("bi,ij,jk->bk", 3), ("bij,jk", 2), ("bij,jk,bk->bi", 3),
]


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(EQUATIONS), st.data())
def test_einsum_exact_equals_walk(case, data):
    equation, operands = case
    terms, out = parse_equation(equation)
    assert len(terms) == operands
    sizes = {ch: data.draw(dims()) for ch in sorted(set("".join(terms)))}
    shapes = [tuple(sizes[ch] for ch in t) for t in terms]
    layer = Einsum(equation=equation, N=shapes[0][0], input=list(shapes[0][1:]),
                   others=[list(s) for s in shapes[1:]] if operands > 1 else None)
    report = evaluate_layer(layer, EXACT)
    ref = bf.einsum(terms, out, shapes)
    assert report.output_shape == ref.out_shape
    assert report.totals.flops == ref.mults + ref.adds
    assert report.totals.macs == ref.mults
    space = bf.prod(sizes.values())
    assert report.totals.flops == einsum_exact_flops(operands, space, bf.prod(ref.out_shape))


@settings(max_examples=30, deadline=None)
@given(st.lists(dims(1, 4), min_size=2, max_size=4), st.data())
def test_scale_exact_equals_walk(shape, data):
    dim = data.draw(st.integers(1, len(shape) - 1))
    negative = data.draw(st.booleans())
    layer = Scale(N=shape[0], input=shape[1:], dim=dim - len(shape) if negative else dim)
    report = evaluate_layer(layer, EXACT)
    ref = bf.layer_scale(tuple(shape), dim)
    assert (report.output_shape, report.totals.params, report.totals.flops) == (ref.out_shape, ref.params, ref.mults)
    assert report.totals.macs == 0


@settings(max_examples=30, deadline=None)
@given(st.lists(dims(1, 3), min_size=2, max_size=4), st.data())
def test_permute_and_transpose_move_elements_only(shape, data):
    rest = data.draw(st.permutations(range(1, len(shape))))
    order = [0, *rest]
    report = evaluate_layer(Permute(N=shape[0], input=shape[1:], dims=order), EXACT)
    assert report.output_shape == bf.permuted(tuple(shape), order)
    assert (report.totals.flops, report.totals.macs, report.totals.params) == (0, 0, 0)
    if len(shape) >= 3:
        a, b = data.draw(st.integers(1, len(shape) - 1)), data.draw(st.integers(1, len(shape) - 1))
        swap = list(range(len(shape)))
        swap[a], swap[b] = swap[b], swap[a]
        t = evaluate_layer(Transpose(N=shape[0], input=shape[1:], dim0=a, dim1=b - len(shape)), EXACT)
        assert t.output_shape == bf.permuted(tuple(shape), swap)


@settings(max_examples=30, deadline=None)
@given(st.lists(dims(1, 4), min_size=2, max_size=4), st.data())
def test_reshape_split_and_chunk_against_dealing_positions(shape, data):
    n, per = shape[0], bf.prod(shape[1:])
    divisors = [d for d in range(1, per + 1) if per % d == 0]
    first = data.draw(st.sampled_from(divisors))
    for kind in ("reshape", "view"):
        r = evaluate_layer(Reshape(type=kind, N=n, input=shape[1:], shape=[first, -1]), EXACT)
        assert r.output_shape == (n, first, per // first) and r.totals.flops == 0
    d = data.draw(st.integers(1, len(shape) - 1))
    length = shape[d]
    chunks = data.draw(st.integers(1, 5))
    dealt = bf.pieces(length, chunks=chunks)
    index = data.draw(st.integers(0, len(dealt) - 1))
    c = evaluate_layer(Chunk(N=n, input=shape[1:], chunks=chunks, dim=d, index=index), EXACT)
    assert c.output_shape == (*shape[:d], dealt[index], *shape[d + 1:])
    size = data.draw(st.integers(1, 4))
    dealt = bf.pieces(length, size=size)
    index = data.draw(st.integers(0, len(dealt) - 1))
    s = evaluate_layer(Split(N=n, input=shape[1:], sizes=size, dim=d, index=index), EXACT)
    assert s.output_shape == (*shape[:d], dealt[index], *shape[d + 1:])
    sizes = bf.pieces(length, size=data.draw(st.integers(1, 4)))
    index = data.draw(st.integers(0, len(sizes) - 1))
    s = evaluate_layer(Split(N=n, input=shape[1:], sizes=sizes, dim=d - len(shape), index=index), EXACT)
    assert s.output_shape == (*shape[:d], sizes[index], *shape[d + 1:])


def test_exact_counts_by_hand():
    # (2, 5, 8) @ (2, 8, 3): 30 outputs, each 8 products and 7 adds
    assert evaluate_layer(Matmul(N=2, input=[5, 8], other=[2, 8, 3]), EXACT).totals.flops == 30 * (8 + 7)
    # 'bhid,bhjd->bhij' on (2, 2, 5, 4), (2, 2, 6, 4): 120 outputs, each 4 products and 3 adds
    e = Einsum(equation="bhid,bhjd->bhij", N=2, input=[2, 5, 4], others=[[2, 2, 6, 4]])
    assert evaluate_layer(e, EXACT).totals.flops == 120 * (4 + 3)
    # ConvNeXt layer scale on (1, 3, 4, 4), channels first: 3 params, 48 multiplies
    s = evaluate_layer(Scale(N=1, input=[3, 4, 4], dim=1), EXACT).totals
    assert (s.params, s.flops, s.macs) == (3, 48, 0)


def test_seed_conventions():
    layer = Matmul(N=2, input=[5, 8], other=[2, 8, 3])  # 240 products
    assert evaluate_layer(layer, conventions.get("2mac")).totals.flops == 480
    assert evaluate_layer(layer, conventions.get("macc")).totals.flops == 240
    assert evaluate_layer(layer, conventions.get("params-x-pixels")).totals.flops == 0  # conv, linear only
    scale = Scale(N=1, input=[3, 4, 4], dim=1)
    assert evaluate_layer(scale, conventions.get("macc")).totals.flops == 0  # folds like batch norm
    assert evaluate_layer(scale, EXACT).totals.flops == 48


def test_einsum_with_three_operands_is_refused_by_path_based_tools():
    layer = Einsum(equation="bi,ij,jk->bk", N=2, input=[3], others=[[3, 4], [4, 5]])
    for name in ("fvcore", "calflops", "torch", "ptflops-aten"):
        with pytest.raises(CalcError) as err:
            evaluate_layer(layer, conventions.get(name))
        assert "not emulated" in err.value.message
    assert evaluate_layer(layer, conventions.get("thop")).totals.flops == 0


def test_calls_counter_is_one_per_operation():
    t = Tally(op="einsum", inputs=((2, 3),), output=(2, 3))
    assert t.calls == 1


# -- symbolic path -------------------------------------------------------------------------------
N, T, D, K = sympy.symbols("N T D K", integer=True, positive=True)


@pytest.mark.parametrize("convention", sorted(conventions.CONVENTIONS))
def test_symbolic_equals_numeric(convention):
    conv = conventions.get(convention)
    point = {N: 2, T: 5, D: 8, K: 3}
    layers = [
        lambda n, t, d, k: Matmul.model_construct(type="matmul", N=n, input=[t, d], other=[d, k],
                                                   other_is="buffer", form="matmul", name=None, call="module"),
        lambda n, t, d, k: Einsum.model_construct(type="einsum", equation="btd,dk->btk", N=n, input=[t, d],
                                                   others=[[d, k]], others_are="buffer", name=None, call="module"),
        lambda n, t, d, k: Scale.model_construct(type="scale", N=n, input=[t, d], dim=-1, name=None, call="module"),
        lambda n, t, d, k: Reshape.model_construct(type="reshape", N=n, input=[t, d], shape=[t, 2, -1],
                                                    name=None, call="module"),
    ]
    for make in layers:
        sym = make(N, T, D, K)
        (shape,) = sym.stated_inputs()
        tally = sym.tally(sym.stated_inputs())
        numeric = evaluate_layer(make(2, 5, 8, 3), conv).totals
        try:
            flops = conv.flops(tally)
        except CalcError:
            with pytest.raises(CalcError):
                evaluate_layer(make(2, 5, 8, 3), conv)
            continue
        assert sympy.sympify(flops).subs(point) == numeric.flops
        assert sympy.sympify(tally.macs).subs(point) == numeric.macs
        assert sympy.sympify(tally.params).subs(point) == numeric.params


def test_symbolic_matmul_reads_like_the_formula():
    m = Matmul.model_construct(type="matmul", N=N, input=[T, D], other=[D, K], other_is="buffer",
                               form="matmul", name=None, call="module")
    tally = m.tally(m.stated_inputs())
    assert sympy.expand(EXACT.flops(tally) - (2 * N * T * D * K - N * T * K)) == 0


# -- bad input -----------------------------------------------------------------------------------
@pytest.mark.parametrize("data, field, words", [
    ({"type": "permute", "dims": [0, 1], "N": 1, "input": [5, 8]}, "dims", "has 2 entries for a 3-d input"),
    ({"type": "permute", "dims": [0, 1, 1], "N": 1, "input": [5, 8]}, "dims", "is not a permutation"),
    ({"type": "permute", "dims": [1, 0, 2], "N": 1, "input": [5, 8]}, "dims", "moves the batch axis 0"),
    ({"type": "transpose", "dim0": 0, "dim1": 2, "N": 1, "input": [5, 8]}, "dim0", "swaps the batch axis"),
    ({"type": "transpose", "dim0": 1, "dim1": 3, "N": 1, "input": [5, 8]}, "dim1", "3 is out of range"),
    ({"type": "reshape", "shape": [3, -1], "N": 1, "input": [5, 8]}, "shape", "3 does not divide them"),
    ({"type": "view", "shape": [5, 7], "N": 1, "input": [5, 8]}, "shape", "holds 35 elements per sample"),
    ({"type": "reshape", "shape": [-1, -1], "N": 1, "input": [5, 8]}, "shape", "neither positive nor a single -1"),
    ({"type": "split", "sizes": [3, 4], "index": 0, "N": 1, "input": [5, 8]}, "sizes", "adds up to 7"),
    ({"type": "split", "sizes": 3, "index": 3, "N": 1, "input": [5, 8]}, "index", "makes 3 pieces"),
    ({"type": "chunk", "chunks": 3, "index": 3, "N": 1, "input": [5, 8]}, "index", "out of range"),
    ({"type": "chunk", "chunks": 2, "dim": 0, "index": 0, "N": 1, "input": [5, 8]}, "dim", "splits the batch"),
    ({"type": "matmul", "other": [2, 7, 3], "N": 2, "input": [5, 8]}, "other", "do not multiply"),
    ({"type": "matmul", "other": [3, 8, 2], "N": 2, "input": [5, 8]}, "other", "do not broadcast"),
    ({"type": "matmul", "other": [2, 8, 3], "form": "bmm", "N": 2, "input": [1, 5, 8]}, "form", "two 3-d operands"),
    ({"type": "einsum", "equation": "bij,bjk->bik", "others": [[2, 7, 3]], "N": 2, "input": [5, 8]},
     "equation", "index 'j'"),
    ({"type": "einsum", "equation": "bij,bjk->bik", "others": [[2, 3]], "N": 2, "input": [5, 8]},
     "equation", "operand 2 of 'bij,bjk->bik' has 3 indices"),
    ({"type": "einsum", "equation": "bij->ji", "N": 2, "input": [5, 8]}, "equation", "batch"),
    ({"type": "scale", "dim": 3, "N": 2, "input": [5, 8]}, "dim", "out of range"),
])
def test_bad_fields_are_located_shape_errors(data, field, words):
    with pytest.raises(ShapeError) as err:
        evaluate_layer(parse_layer(data), EXACT)
    assert err.value.field == field
    assert words in err.value.message, err.value.message


@pytest.mark.parametrize("equation, words", [
    ("bij,bjk->bik->x", "malformed"), ("b...i,bi", "'.'"), ("bij,,bjk", "empty operand"),
    ("a,b,c,d", "4 operands"), ("bij->bb", "repeats an index"), ("bii->b", "diagonal"),
    ("bij->bz", "no operand has"), ("bi-j", "malformed"),
])
def test_malformed_equations_are_refused_when_read(equation, words):
    with pytest.raises(SpecError) as err:
        parse_layer({"type": "einsum", "equation": equation, "N": 1, "input": [3, 3]})
    assert "equation" in err.value.one_line() and words in err.value.one_line()


def test_stated_input_is_checked_in_a_network(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text("name: bad\ninput: [5, 8]\nlayers:\n  - {type: transpose, dim0: 1, dim1: 2, input: [5, 9]}\n")
    with pytest.raises(ShapeError) as err:
        load_network(spec).evaluate()
    line = err.value.one_line()
    assert "bad.yaml:4:" in line and "input" in line and "[5, 9]" in line


def test_one_input_matmul_in_a_network_needs_a_buffer(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text("name: bad\ninput: [5, 8]\nlayers:\n  - {type: matmul, other: [8, 3]}\n")
    with pytest.raises(ShapeError) as err:
        load_network(spec).evaluate()
    assert "bad.yaml:4:" in err.value.one_line() and "other_is: buffer" in err.value.one_line()


# -- a network spec chaining them -----------------------------------------------------------------
def test_example_spec_totals_by_hand():
    """tests/fixtures/tensor_net.yaml: batch 2, input (T, d) = (5, 8)."""
    report = load_network(FIXTURES / "tensor_net.yaml").evaluate("exact")
    shapes = [row.output_shape for row in report.rows]
    assert shapes == [(2, 5, 8), (2, 5, 2, 4), (2, 2, 5, 4), (2, 2, 5, 5), (2, 2, 5, 3), (2, 5, 2, 3),
                      (2, 5, 6), (2, 5, 3), (2, 5, 2), (2, 5, 2)]
    linear = 2 * (10 * 8 * 8)  # 10 rows, 8 outputs of 8 products: 7 adds + 1 bias add each
    scores = 2 * (2 * 2 * 5 * 4 * 5) - 2 * 2 * 5 * 5  # k = 4 products, 3 adds per output
    mix = 2 * (2 * 2 * 5 * 5 * 3) - 2 * 2 * 5 * 3  # index space a b c d e, d summed
    scale = 2 * 5 * 2
    assert [row.flops for row in report.rows] == [linear, 0, 0, scores, mix, 0, 0, 0, 0, scale]
    assert report.totals.params == 8 * 8 + 8 + 2
    assert report.totals.buffers == 4 * 5 + 5 * 3
    assert [row.op for row in report.rows][3:5] == ["matmul_operator", "einsum"]


def test_einsum_equation_with_an_arrow_in_a_spec():
    """'->' in an equation is text, not arithmetic (the builder read it as a bad expression):
    the explicit form costs what the implicit one does, written directly and passed to a block."""
    from calc.network import network_from_text

    def spec(equation: str) -> str:
        return (
            "name: t\ninput: [2, 4, 3]\n"
            "blocks:\n  mix:\n    params: {eq: null}\n"
            "    layers: [{type: einsum, name: e, equation: eq, others: [[5, 7]], others_are: buffer}]\n"
            f"layers:\n  - {{type: einsum, name: first, equation: '{equation}', others: [[3, 5]], others_are: buffer}}\n"
            f"  - {{type: block, name: second, block: mix, with: {{eq: '{equation}'}}}}\n"
        )

    a = network_from_text(spec("abcd,de")).evaluate()
    b = network_from_text(spec("abcd,de->abce")).evaluate()
    # (1, 2, 4, 3) x (3, 5) -> (1, 2, 4, 5), then x (5, 7) -> (1, 2, 4, 7)
    assert [r.output_shape for r in a.rows] == [r.output_shape for r in b.rows] == [(1, 2, 4, 5), (1, 2, 4, 7)]
    assert [r.macs for r in b.rows] == [1 * 2 * 4 * 3 * 5, 1 * 2 * 4 * 5 * 7]
    assert a.totals == b.totals
