"""Attention under the real profilers: every profiler convention reproduces each tool's total on
the attention fixtures (tests/fixtures/profilers/attention/, written by tools/oracle/attention.py
with torch 2.14.1, thop 0.1.1, fvcore 0.1.5, ptflops 0.7.5, torchinfo 1.8.0, calflops 0.3.2,
transformers 5.24.0; the per-part formulas and their source lines are in
docs/notes/attention-oracle.md, the rules in docs/profilers.md).  And the 'exact' count of an
attention record equals a walk of its loop nest (and the 'needed' count, masked entries skipped,
equals the walk's visible entries), masked products and visible pairs included.

How each fixture is expressed:
  * a module calc's `attention` record states whole (nn.MultiheadAttention, eager q/k/v/o
    attention, Hugging Face Llama/Mistral attention): the record, from the fixture's `op`;
  * a module with parts around the attention (BertAttention: + residual and LayerNorm;
    nn.TransformerEncoderLayer: + norms and feed-forward): a small network spec;
  * bare F.scaled_dot_product_attention (no projections): the sdpa_* rows of the matching
    record, which are exactly the SDPA call;
  * GPT-2 attention: not expressed (its transformers Conv1D projections, see NOT_EXPRESSED).
"""

import itertools
import json
from pathlib import Path

import bruteforce as bf
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tool_totals import TOOLS

from calc import conventions
from calc.errors import SpecError
from calc.layers.attention import Attention, visible_pairs
from calc.network import network_from_text
from calc.parse import parse_layer
from calc.report import evaluate_layer

FIXTURES = Path(__file__).parent / "fixtures" / "profilers" / "attention"
CASES = {c["id"]: c for c in (json.loads(p.read_text()) for p in sorted(FIXTURES.glob("*.json")))}
EXACT = conventions.get("exact")


def record(case: dict, **extra) -> Attention:
    """The fixture's attention as calc's record: its `op` fields, (N, T, d) from the first input
    (bare SDPA: q is (N, H, T, h), so d = H*h), need_weights from op_notes, and fast_path: false
    where nn.MultiheadAttention cannot take its fast path for a reason the record does not
    otherwise state (training mode, a float mask)."""
    fields = {k: v for k, v in case["op"].items() if v is not None}
    notes = case["op_notes"]
    if notes.get("proj_module") == "transformers.pytorch_utils.Conv1D":  # GPT-2's c_attn, c_proj
        fields["projection"] = "conv1d"
    first = case["input_shapes"][0]
    N, T, d = (first[0], first[2], first[1] * first[3]) if len(first) == 4 else first
    if fields["fused"] == "mha":
        fields["need_weights"] = notes.get("need_weights", False)  # nn.TransformerEncoderLayer: False
        if case["mode"] == "train" or notes.get("mask") == "float":
            fields["fast_path"] = False
    return parse_layer({**fields, "N": N, "input": [T, d], **extra})


def tool_total(case: dict, convention: str) -> int:
    tool, total = TOOLS[convention]
    return total(case["tools"][tool])


# -- which fixtures are what ---------------------------------------------------------------------
def _spec(case_id: str) -> str:
    """A network spec for a fixture whose module has parts around the attention.  Batch 2,
    T = 5, d = 16, 4 heads, FFN 32 (the fixtures' sizes, `sizes`)."""
    case = CASES[case_id]
    if case_id.startswith("hf_bert"):
        # BertAttention (transformers/models/bert/modeling_bert.py): BertSelfAttention (q, k, v,
        # scores, softmax, context) + BertSelfOutput: dense (the output projection), dropout,
        # LayerNorm(hidden + input)
        fused = case["op"]["fused"]
        return f"""
name: {case_id}
batch: 2
input: [5, 16]
layers:
  - type: residual
    body:
      - {{type: attention, name: self, heads: 4, fused: {fused}}}
      - {{type: dropout}}
  - {{type: layernorm, name: LayerNorm}}
"""
    # nn.TransformerEncoderLayer(16, 4, dim_feedforward=32, batch_first=True)
    # (torch/nn/modules/transformer.py:840-921): self_attn called with need_weights=False, then
    # x = norm1(x + sa(x)); x = norm2(x + ff(x)), or with norm_first x = x + sa(norm1(x)); ...
    # ff = linear2(dropout(activation(linear1(x)))).  The activation is F.relu kept as a
    # function reference at construction (self.activation), which the tools that patch F.relu
    # (ptflops, calflops) never replace, so no tool counts it: `call: method` says exactly that
    # (a call none of these tools prices).
    fast = "false" if case["mode"] == "train" else "null"
    attention = ("{type: attention, name: self_attn, heads: 4, qkv: packed, fused: mha, "
                 f"need_weights: false, fast_path: {fast}}}")
    ff = """      - {type: linear, name: linear1, Cout: 32}
      - {type: relu, name: activation, call: method}
      - {type: dropout}
      - {type: linear, name: linear2, Cout: 16}
      - {type: dropout, name: dropout2}"""
    if case["op_notes"].get("norm_first"):
        return f"""
name: {case_id}
batch: 2
input: [5, 16]
layers:
  - type: residual
    name: sa_block
    body:
      - {{type: layernorm, name: norm1}}
      - {attention}
      - {{type: dropout, name: dropout1}}
  - type: residual
    name: ff_block
    body:
      - {{type: layernorm, name: norm2}}
{ff}
"""
    return f"""
name: {case_id}
batch: 2
input: [5, 16]
layers:
  - type: residual
    name: sa_block
    body:
      - {attention}
      - {{type: dropout, name: dropout1}}
  - {{type: layernorm, name: norm1}}
  - type: residual
    name: ff_block
    body:
{ff}
  - {{type: layernorm, name: norm2}}
"""


BLOCKS = ("hf_bert_eager", "hf_bert_sdpa", "encoder_layer_eval", "encoder_layer_norm_first_eval",
          "encoder_layer_train")
BARE_SDPA = tuple(i for i, c in CASES.items() if c["op_notes"].get("projections") is False)
NOT_EXPRESSED: dict[str, str] = {}
"""Fixtures no record states (none since GPT-2's Conv1D projections became `projection: conv1d`)."""
RECORDS = tuple(i for i in CASES if i not in (*BLOCKS, *BARE_SDPA, *NOT_EXPRESSED))

NOT_EMULATED = {  # (fixture, convention): why that tool's figure depends on what no record states
    **{(i, "torch"): "FlopCounterMode under no_grad on an eval nn.TransformerEncoderLayer: the whole "
                     "layer runs as torch._transformer_encoder_layer_fwd (transformer.py:840-921), no "
                     "formula: 0 for the feed-forward too; a layer is not one calc record (the "
                     "grad-enabled figure is checked in test_torch_grad_mode_variants)"
       for i in ("encoder_layer_eval", "encoder_layer_norm_first_eval")},
    ("encoder_layer_train", "torch"): "in training mode the layer's dropout (0.1) makes SDPA take "
                                      "the math backend, whose two bmm FlopCounterMode counts; calc's "
                                      "attention has no dropout field",
    **{(i, c): "sdpa_kernel(SDPBackend.MATH): the math backend's bmm are counted (dense); the "
               "sdpa_* rules emulate the default CPU kernel (checked in test_known_traps)"
       for i in ("sdpa_math", "sdpa_causal_math") for c in ("torch", "ptflops-aten")},
}


def _params(case_ids):
    out = []
    for case_id in case_ids:
        for convention in sorted(TOOLS):
            why = NOT_EMULATED.get((case_id, convention))
            marks = [pytest.mark.skip(reason=why)] if why else []
            out.append(pytest.param(case_id, convention, id=f"{case_id}-{convention}", marks=marks))
    return out


def test_every_fixture_is_classified_and_recorded_without_errors():
    assert len(CASES) == 37
    groups = [set(RECORDS), set(BLOCKS), set(BARE_SDPA), set(NOT_EXPRESSED)]
    assert sum(map(len, groups)) == len(CASES) and set().union(*groups) == set(CASES)
    assert len(RECORDS) == 24 and len(BARE_SDPA) == 8
    for case in CASES.values():
        for convention in TOOLS:
            tool, _ = TOOLS[convention]
            assert "error" not in case["tools"][tool], (case["id"], tool)


# -- the totals ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("case_id", "convention"), _params(RECORDS))
def test_record_reproduces_the_tool(case_id, convention):
    case = CASES[case_id]
    got = evaluate_layer(record(case), conventions.get(convention)).totals.flops
    expected = tool_total(case, convention)
    fig = case["tools"]["ptflops_pytorch"]
    if convention == "ptflops" and fig["batch_counter"] != case["input_shapes"][0][0]:
        # The runner passed MHACross's two inputs by keyword, so ptflops' batch counter was 1
        # (pytorch_engine.py:267-277) and its module hook was not divided by N.  The convention
        # emulates a positional input (batch counter N): the same parts with the hook / N.
        assert fig["batch_counter"] == 1 and case["op"]["cross"]
        assert expected == fig["module_hook_flops"] + fig["functional_flops"] + fig["tensor_op_flops"]
        N = case["input_shapes"][0][0]
        expected = fig["module_hook_flops"] // N + fig["functional_flops"] + fig["tensor_op_flops"]
    assert got == expected


@pytest.mark.parametrize(("case_id", "convention"), _params(BLOCKS))
def test_block_spec_reproduces_the_tool(case_id, convention):
    case = CASES[case_id]
    net = network_from_text(_spec(case_id), f"{case_id}.yaml")
    report = net.evaluate(conventions.get(convention))
    assert report.totals.params == case["params"]
    assert report.totals.flops == tool_total(case, convention)


@pytest.mark.parametrize(("case_id", "convention"), _params(BARE_SDPA))
def test_sdpa_rows_reproduce_the_bare_sdpa_call(case_id, convention):
    case = CASES[case_id]
    report = evaluate_layer(record(case), conventions.get(convention))
    middle = [r for r in report.rows if r.kind.startswith("sdpa_")]
    mask = ["sdpa_mask"] if case["op"]["causal"] else []
    assert [r.kind for r in middle] == ["sdpa_scores", "sdpa_scale", *mask, "sdpa_softmax", "sdpa_context"]
    first = case["input_shapes"]
    assert middle[0].output_shape == (first[0][0], first[0][1], first[0][2], first[1][2])  # (N, H, T, S)
    assert sum(r.flops for r in middle) == tool_total(case, convention)


def test_torch_grad_mode_variants():
    """The fixtures also ran FlopCounterMode with grad enabled (no fast path) and under
    inference_mode (the fast path, like no_grad): the convention follows the first with
    fast_path: false and the second by default, for every nn.MultiheadAttention case."""
    torch = conventions.get("torch")
    checked = 0
    for case_id in RECORDS:
        case = CASES[case_id]
        if case["op"]["fused"] != "mha":
            continue
        variants = case["torch_flop_counter_variants"]
        slow = evaluate_layer(record(case, fast_path=False), torch).totals.flops
        assert slow == variants["grad_enabled"]["total_flops"], case_id
        default = evaluate_layer(record(case), torch).totals.flops
        if case["mode"] == "eval" and case["op_notes"].get("mask") != "float":
            assert default == variants["inference_mode"]["total_flops"], case_id
        fast = record(case).takes_fast_path()
        assert fast == (case["fast_path"]["torch_flop_counter"]["_native_multi_head_attention"] == 1), case_id
        checked += 1
    assert checked == 13
    for case_id in ("encoder_layer_eval", "encoder_layer_norm_first_eval"):
        text = _spec(case_id).replace("fast_path: null", "fast_path: false")
        net = network_from_text(text)
        grad = CASES[case_id]["torch_flop_counter_variants"]["grad_enabled"]["total_flops"]
        assert net.evaluate(torch).totals.flops == grad


def test_known_traps():
    """The disagreements the fixtures show (docs/notes/attention-oracle.md section 4)."""
    mha = record(CASES["mha_self_eval_weights"])
    assert [r.kind for r in evaluate_layer(mha).rows] == [
        "mha", "mha_fast_in_proj", "split", "split", "split", "attn_scale", "mha_fast_bmm", "softmax",
        "mha_fast_bmm", "mha_fast_out_proj"]
    totals = {c: evaluate_layer(mha, conventions.get(c)).totals.flops for c in TOOLS}
    # FlopCounterMode under no_grad: 0 (fast path); thop and torchinfo: 0 (no rule, no leaf)
    assert totals["torch"] == totals["thop"] == totals["torchinfo"] == 0
    # ptflops: the module hook (/N) + the patched F.softmax and torch.bmm inside it, undivided
    assert totals["ptflops"] == 6420 + 200 + 1600
    # ptflops-aten: the in-projection is aten.mm + aten.add (bias not priced), out_proj addmm
    assert totals["ptflops-aten"] == 7680 + 2560 + 160 + 1600
    # calflops: the torch.bmm patch is commented out; fvcore: bmm counted, baddbmm not
    assert totals["calflops"] == 2 * (7680 + 2560) + 200
    masked = record(CASES["mha_causal_floatmask_eval_weights"])
    assert evaluate_layer(masked, conventions.get("fvcore")).totals.flops == 7680 + 2560 + 800
    calflops = evaluate_layer(masked, conventions.get("calflops")).totals.flops
    assert calflops == 2 * (7680 + 2560) + 2 * 800 + 25 + 200  # baddbmm: 2 * macs + the (1, T, S) mask
    # The @ operator: invisible to ptflops and calflops, aten::matmul / aten.bmm to the others
    op, mm = record(CASES["eager_operator"]), record(CASES["eager_matmul"])
    for name, seen in (("ptflops", False), ("calflops", False), ("fvcore", True), ("torch", True)):
        c = conventions.get(name)
        assert (evaluate_layer(op, c).totals.flops == evaluate_layer(mm, c).totals.flops) is seen, name
    # A sliding window or causal mask changes no tool's figure: Mistral = Llama exactly
    for c in TOOLS:
        assert tool_total(CASES["hf_mistral_eager"], c) == tool_total(CASES["hf_llama_eager"], c)
        assert (evaluate_layer(record(CASES["hf_mistral_eager"]), conventions.get(c)).totals.flops
                == evaluate_layer(record(CASES["hf_llama_eager"]), conventions.get(c)).totals.flops)
    # SDPA's math backend: its dense bmm counted by the aten tools (not emulated: the CPU kernel is)
    N, H, T, S, h = 2, 4, 5, 7, 4
    assert tool_total(CASES["sdpa_math"], "ptflops-aten") == 2 * N * H * T * S * h
    assert tool_total(CASES["sdpa_causal_math"], "torch") == 4 * N * H * T * T * h


def test_in_projection_bias_at_batch_one_against_vit_b_16():
    """nn.MultiheadAttention's in-projection reads (T, N, d), contiguous at N = 1: ATen's linear
    then runs addmm with the bias (priced by ptflops' aten backend), not mm + add as at N = 2
    (the attention fixtures).  torchvision vit_b_16 at batch 1 under ptflops-aten
    (tests/fixtures/profilers/ptflops_aten/vit_b_16.json, torch 2.14.1, torchvision 0.29.1,
    ptflops 0.7.5): every aten.addmm is 12 encoder blocks x (in_proj, out_proj, MLP 768 -> 3072
    -> 768) + the head 768 -> 1000, and there is no aten.mm."""
    fixture = json.loads((FIXTURES.parent / "ptflops_aten" / "vit_b_16.json").read_text())
    aten = conventions.get("ptflops-aten")
    T, d = 197, 768  # 14 x 14 patches + the class token

    block = network_from_text(f"""
name: vit_block_products
input: [{T}, {d}]
layers:
  - {{type: attention, heads: 12, fused: mha, need_weights: false}}
  - {{type: linear, Cout: 3072}}
  - {{type: linear, Cout: {d}}}
""").evaluate(aten).totals.flops
    head = evaluate_layer(parse_layer({"type": "linear", "Cin": d, "Cout": 1000, "N": 1}), aten).totals.flops
    assert set(fixture["by_operator"]) == {"aten.addmm", "aten.convolution"}
    assert 12 * block + head == fixture["by_operator"]["aten.addmm"]
    # the in-projection's bias counts at N = 1 and not at N = 2 (mha_self_eval_noweights: 10,400)
    one = evaluate_layer(record(CASES["mha_self_eval_noweights"], N=1), aten).totals.flops
    assert one == 5 * 16 * 48 + 5 * 48 + 5 * 16 * 16 + 5 * 16
    assert evaluate_layer(record(CASES["mha_self_eval_noweights"]), aten).totals.flops == 2 * (one - 5 * 48)


def test_fast_path_field_is_checked():
    base = {"type": "attention", "heads": 4, "N": 2, "input": [5, 16]}
    for bad in ({"fused": "eager", "fast_path": False},
                {"fused": "mha", "fast_path": True, "qkv_bias": False, "out_bias": False},
                {"fused": "mha", "fast_path": True, "cross": True, "kv_len": 7}):
        with pytest.raises(SpecError) as err:
            parse_layer({**base, **bad})
        assert err.value.field == "fast_path" and "\n" not in str(err.value)
    assert parse_layer({**base, "heads": 2, "input": [5, 6], "fused": "mha"}).takes_fast_path()
    # an odd head count (activation.py:1376), training mode or a float mask (fast_path: false)
    assert not parse_layer({**base, "heads": 3, "input": [5, 6], "fused": "mha"}).takes_fast_path()
    assert not parse_layer({**base, "fused": "mha", "fast_path": False}).takes_fast_path()
    with pytest.raises(SpecError):
        parse_layer({**base, "heads": 3, "input": [5, 6], "fused": "mha", "fast_path": True})


def test_every_convention_prices_every_attention_op():
    """No new op falls through to a silent default: each has a rule of its own in every
    profiler table (the tables' per_op would otherwise give it the default)."""
    from calc.conventions import profilers
    new = ("baddbmm", "attn_scale", "attn_mask", "rotary", "mha", "sdpa_scores", "sdpa_scale",
           "sdpa_mask", "sdpa_softmax", "sdpa_context", "mha_in_proj", "mha_fast_in_proj",
           "mha_fast_out_proj", "mha_fast_bmm", "mha_fast_baddbmm")
    for convention in profilers.PROFILER_CONVENTIONS:
        for op in new:
            assert op in convention.rules, (convention.name, op)
            assert convention.rules[op].note, (convention.name, op)


# -- exact: a walk of the loop nest ------------------------------------------------------------------
def visible(i: int, j: int, T: int, S: int, causal: bool, window) -> bool:
    p = S - T + i  # the new queries come last
    return not causal or (j <= p and (window is None or j > p - window))


def walk(N, T, d, H, G, h, S, *, fused, causal, window, rotary, cross, kv_dim, bias, out_bias,
         need_weights=True):
    """Count every multiply, add, exp, divide and negation of the attention by walking its loops
    (dense: the masked scores are computed too, as every kernel here does); return (ops, masked
    products, visible pairs, needed ops: those of a kernel that skips the masked entries and so
    applies no mask)."""
    ops = 0
    kv_rows, kv_in = (S, kv_dim or d) if cross else (T, d)
    for rows, cin, cout, b in ((T, d, H * h, bias), (kv_rows, kv_in, G * h, bias),
                               (kv_rows, kv_in, G * h, bias), (T, H * h, d, out_bias)):
        c = bf.linear(N * rows, cin, cout, b)
        ops += c.mults + c.adds
    if rotary:  # x*cos + rotate_half(x)*sin on q and k: 2 multiplies, 1 add, half negated
        for heads in (H, G):
            ops += N * T * heads * h * 3 + N * T * heads * h // 2
    masked = pairs = 0
    mha = fused == "mha" and need_weights
    if mha:
        ops += N * T * H * h  # q * scale
    needed = ops
    for n, head, i in itertools.product(range(N), range(H), range(T)):
        kept = 0
        for j in range(S):
            seen = visible(i, j, T, S, causal, window)
            pairs += seen and n == 0 and head == 0
            kept += seen
            ops += h + (h - 1)  # q_i . k_j
            needed += (h + (h - 1) + (1 if not mha else 0)) if seen else 0
            masked += 0 if seen else h
            ops += 1 if not mha else 0  # * scale (eager, sdpa)
            ops += 1 if causal else 0  # + mask (baddbmm's added term under mha)
        ops += S + (S - 1) + S  # softmax: exps, sum, divides
        needed += kept + (kept - 1) + kept
        for _c in range(h):
            ops += S + (S - 1)  # sum_j p_ij v_jc
            needed += kept + (kept - 1)
            masked += sum(0 if visible(i, j, T, S, causal, window) else 1 for j in range(S))
    return ops, masked, pairs, needed


def tallies(layer: Attention):
    (x,) = layer.stated_inputs()
    outs, result = [], []
    for _suffix, op, refs in layer.graph():
        current = (x,) if refs == (-1,) else tuple(x if r < 0 else outs[r] for r in refs)
        t = op.tally(current)
        result.append(t)
        outs.append(t.output)
    return result


@st.composite
def attentions(draw):
    fused = draw(st.sampled_from(["eager", "sdpa", "mha"]))
    N, T = draw(st.integers(1, 2)), draw(st.integers(1, 5))
    if fused == "mha":
        H = draw(st.integers(1, 3))
        h = draw(st.integers(1, 3))
        cross = draw(st.booleans())
        fields = dict(heads=H, qkv="separate" if cross else "packed",
                      need_weights=draw(st.booleans()), qkv_bias=draw(st.booleans()))
        fields["out_bias"] = fields["qkv_bias"]
        G, d, rotary, window = H, H * h, False, None
        causal = not cross and draw(st.booleans())
        S = draw(st.integers(1, 6)) if cross else T
        kv_dim = draw(st.sampled_from([None, 2, 5])) if cross else None
    else:
        G = draw(st.integers(1, 2))
        H = G * draw(st.integers(1, 2))
        h = draw(st.sampled_from([2, 4])) if draw(st.booleans()) else draw(st.integers(1, 3))
        rotary = draw(st.booleans()) and h % 2 == 0
        d = draw(st.integers(1, 6))
        cross = draw(st.booleans()) and not rotary
        causal = not cross and draw(st.booleans())
        S = draw(st.integers(1, 6)) if cross else T + draw(st.integers(0, 3)) if causal else T
        window = draw(st.integers(1, S)) if causal and draw(st.booleans()) else None
        kv_dim = draw(st.sampled_from([None, 3])) if cross else None
        fields = dict(heads=H, kv_heads=G, head_dim=h, rotary=rotary, window=window,
                      qkv_bias=draw(st.booleans()), out_bias=draw(st.booleans()),
                      qkv=draw(st.sampled_from(["separate", "packed"])) if not cross else "separate")
    if cross or S != T:
        fields["kv_len"] = S
    fields.update(type="attention", fused=fused, causal=causal, cross=cross, N=N, input=[T, d])
    if kv_dim is not None:
        fields["kv_dim"] = kv_dim
    sizes = dict(N=N, T=T, d=d, H=H, G=G, h=h, S=S, fused=fused, causal=causal, window=window,
                 rotary=rotary, cross=cross, kv_dim=kv_dim, bias=fields["qkv_bias"],
                 out_bias=fields["out_bias"], need_weights=fields.get("need_weights", True))
    return parse_layer(fields), sizes


@settings(max_examples=60, deadline=None)
@given(attentions())
def test_exact_equals_walk(case):
    layer, sizes = case
    ops, masked, pairs, needed = walk(**sizes)
    report = evaluate_layer(layer, EXACT)
    assert report.totals.flops == ops
    assert evaluate_layer(layer, conventions.get("needed")).totals.flops == needed
    ts = tallies(layer)
    assert sum(t.masked_macs for t in ts) == masked
    N, T, S, H = sizes["N"], sizes["T"], sizes["S"], sizes["H"]
    assert visible_pairs(T, S, sizes["causal"], sizes["window"]) == pairs
    for t in ts:  # every score-shaped part counts the discarded entries
        if len(t.output) == 4:
            assert t.masked_outputs == N * H * (T * S - pairs), t.op
    products = sum(t.macs for t in ts)
    assert report.totals.macs == products  # dense: masked products included


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 6), st.integers(0, 5), st.data())
def test_visible_pairs_against_a_direct_count(T, past, data):
    S = T + past  # a KV cache of `past` tokens, then T new queries
    causal = data.draw(st.booleans())
    window = data.draw(st.integers(1, S)) if causal and data.draw(st.booleans()) else None
    direct = sum(visible(i, j, T, S, causal, window) for i in range(T) for j in range(S))
    assert visible_pairs(T, S, causal, window) == direct


def test_masked_products_by_hand():
    # causal self attention, T = S = 4: 6 of the 16 pairs masked; h = 2, H = 1, N = 1
    layer = parse_layer({"type": "attention", "heads": 1, "head_dim": 2, "causal": True, "N": 1,
                         "input": [4, 2], "fused": "eager"})
    scores = next(t for t in tallies(layer) if t.op == "matmul" and len(t.output) == 4)
    assert (scores.masked_outputs, scores.masked_macs) == (6, 12)
    # a cache of 3 before 2 new queries, window 2: each query sees 2 keys of 5
    assert visible_pairs(2, 5, True, 2) == 4 and visible_pairs(2, 5, True) == 4 + 5
    # a window wider than the keys (6 > 4) has no effect yet: full causal attention
    wide = parse_layer({"type": "attention", "heads": 1, "causal": True, "window": 6, "N": 1, "input": [4, 2]})
    full = parse_layer({"type": "attention", "heads": 1, "causal": True, "N": 1, "input": [4, 2]})
    assert evaluate_layer(wide, "needed").totals == evaluate_layer(full, "needed").totals
    assert visible_pairs(4, 4, True, 6) == visible_pairs(4, 4, True) == 10
