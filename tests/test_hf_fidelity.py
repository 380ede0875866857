"""Whole Hugging Face models under the real profilers: a calc spec of each tiny model of
tests/fixtures/profilers/hf/ (tests/fixtures/hf_specs/<fixture>.yaml) has the model's exact
parameters, leaf by leaf, and its exact products (nn.Linear / Conv1D MACs, the attention
matmuls, the experts' products from the recorded routing), and every profiler convention
reproduces each tool's total, and its per-module figures where the tool reports them.

The fixtures were written by tools/oracle/hf_models.py with torch 2.14.1, transformers 5.24.0,
thop 0.1.1, fvcore 0.1.5, ptflops 0.7.5, torchinfo 1.8.0, calflops 0.3.2: tiny GPT-2, BERT, Llama,
Mistral and Mixtral built from configs with seeded random weights, attn_implementation eager and
sdpa, eval mode, token ids (2, 8).  The rules these totals rest on and their sources are in
docs/profilers.md ("Hugging Face models").

PENDING lists what calc cannot express yet, each with the change it needs in a file this test's
author does not own; those cases are strict xfails: they fail the day the change lands, so that
the entry is removed and the figures are checked from then on.
"""

import json
import re
from pathlib import Path

import pytest
from tool_totals import TOOLS

from calc import conventions
from calc.errors import CalcError, SpecError
from calc.network import load_network
from calc.parse import parse_layer

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures" / "profilers" / "hf"
SPECS = HERE / "fixtures" / "hf_specs"
CASES = {p.stem: json.loads(p.read_text()) for p in sorted(FIXTURES.glob("*.json"))}

PENDING: dict[str, tuple[type, str]] = {}
"""fixture -> (what is raised today, the change it needs); every (fixture, tool) case is pending.
Empty since attention's `projection: conv1d` and moe's router and experts_implementation landed."""

PENDING_TOOLS: dict[tuple[str, str], str] = {}
"""(fixture, convention) -> why calc's figure still differs from the tool's."""

# calc row path -> Hugging Face module name (residual segments and the attention/moe rows renamed)
ALIASES = {
    "gpt2": [(r"\.(attn|mlp)_residual\.", "."), (r"\.attn\.qkv$", ".attn.c_attn"),
             (r"\.attn\.out$", ".attn.c_proj")],
    "bert": [(r"\.attention\.self\.q$", ".attention.self.query"),
             (r"\.attention\.self\.k$", ".attention.self.key"),
             (r"\.attention\.self\.v$", ".attention.self.value"),
             (r"\.attention\.self\.out$", ".attention.output.dense"),
             (r"(layer\.\d+)\.attention\.LayerNorm$", r"\1.attention.output.LayerNorm"),
             (r"(layer\.\d+)\.LayerNorm$", r"\1.output.LayerNorm")],
    "llama": [(r"\.(attn|mlp)_residual\.", "."), (r"\.self_attn\.(q|k|v|o)$", r".self_attn.\1_proj"),
              (r"\.self_attn\.out$", ".self_attn.o_proj"), (r"\.mlp\.gate_proj\.act$", ".mlp.act_fn"),
              (r"\.mlp\.(up|gate|act|down)$", r".mlp.experts.\1"), (r"\.mlp\.(router|gating)$", ".mlp.gate")],
}
ALIASES["mistral"] = ALIASES["mixtral"] = ALIASES["llama"]


def family(fid: str) -> str:
    return fid.split("_")[0]


def hf_name(fid: str, path: str) -> str:
    for pattern, repl in ALIASES[family(fid)]:
        path = re.sub(pattern, repl, path)
    return path


def by_module(fid: str, rows, attr: str) -> dict[str, int]:
    """Hugging Face module name -> the sum of `attr` over the calc rows that are that module (the
    router and the gating are both MixtralTopKRouter's work)."""
    out: dict[str, int] = {}
    for r in rows:
        name = hf_name(fid, r.path)
        out[name] = out.get(name, 0) + getattr(r, attr)
    return out


def network(fid: str):
    return load_network(str(SPECS / f"{fid}.yaml"))


def tool_total(fid: str, convention: str) -> int:
    tool, total = TOOLS[convention]
    return total(CASES[fid]["tools"][tool])


def _marks(fid: str, convention: str | None = None) -> list:
    if fid in PENDING:
        raises, why = PENDING[fid]
        return [pytest.mark.xfail(strict=True, raises=raises, reason=why)]
    why = PENDING_TOOLS.get((fid, convention))
    return [pytest.mark.xfail(strict=True, raises=AssertionError, reason=why)] if why else []


def _by_fixture():
    return [pytest.param(fid, id=fid, marks=_marks(fid)) for fid in CASES]


def _by_tool(conventions_: tuple[str, ...] | None = None):
    chosen = sorted(TOOLS) if conventions_ is None else conventions_
    return [pytest.param(fid, c, id=f"{fid}-{c}", marks=_marks(fid, c)) for fid in CASES for c in chosen]


def test_every_fixture_has_a_spec_of_its_input():
    assert len(CASES) == 11
    assert sorted(p.stem for p in SPECS.glob("*.yaml")) == sorted(CASES)
    for fid, case in CASES.items():
        text = (SPECS / f"{fid}.yaml").read_text()
        assert case["input"]["shape"] == [2, 8] and "batch: 2\ninput: [8]\n" in text, fid
        assert f"tests/fixtures/profilers/hf/{fid}.json" in text, fid
        for convention in TOOLS:  # every tool ran (no error, no traceback)
            assert "error" not in case["tools"][TOOLS[convention][0]], (fid, convention)
    assert set(PENDING) | {f for f, _ in PENDING_TOOLS} < set(CASES)


# -- the ground truth: params and products ----------------------------------------------------
@pytest.mark.parametrize("fid", _by_fixture())
def test_params_and_products_equal_the_model(fid):
    case = CASES[fid]
    report = network(fid).evaluate(conventions.get("exact"))
    assert report.totals.params == case["total_params"]
    params, macs = by_module(fid, report.rows, "params"), by_module(fid, report.rows, "macs")
    checked = 0
    for name, leaf in case["leaves"].items():
        if leaf["params"]:
            own = leaf.get("params_not_tied", leaf["params"])  # a tied weight is counted once
            assert params[name] == own, name
            checked += 1
    assert checked >= 10
    # nn.Linear and Conv1D leaves: their products, bias excluded (the fixture's linear_macs; a MoE
    # router is no nn.Linear: MixtralTopKRouter, checked below)
    dense = [r for r in report.rows if r.kind in ("linear", "conv1d") and not r.path.endswith(".router")]
    assert sum(r.macs for r in dense) == case["linear_macs"]
    for name, leaf in case["leaves"].items():
        if "macs" in leaf:
            assert macs[name] == leaf["macs"], name
    # the attention: q k^T and p v, N*H*T*S*h products each (eager: the torch.matmul calls)
    attention = sum(r.macs for r in report.rows if r.kind in ("matmul", "sdpa_scores", "sdpa_context"))
    calls = [c for c in case["functional_calls"] if c["op"] == "torch.matmul"]
    if calls:
        assert attention == sum(c["calls"] * _prod(c["output_shape"]) * c["input_shapes"][0][-1] for c in calls)
    else:
        sdpa = case["sdpa_calls"]
        assert len(sdpa) == 2 and attention == sum(2 * _prod(c["q"]) * c["k"][-2] for c in sdpa)
    if family(fid) == "mixtral":
        _check_experts(case, report)


def _check_experts(case: dict, report) -> None:
    """The experts' products from the recorded routing: each layer's tokens_per_expert (every
    token visits top_k distinct experts, so they add up to tokens * top_k whatever the routing)
    times 3 d f; the router's tokens * d * E."""
    cfg = case["config"]
    d, f, E, k = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_local_experts"], cfg["num_experts_per_tok"]
    tokens = _prod(case["input"]["shape"])
    routed = 0
    for layer in case["moe_routing"].values():
        assert sum(layer["tokens_per_expert"]) == tokens * k
        assert all(len(set(e)) == k for e in layer["experts_per_token"])
        routed += sum(n * 3 * d * f for n in layer["tokens_per_expert"])
    experts = sum(r.macs for r in report.rows if r.kind in ("moe_linear", "moe_expert_linear"))
    assert experts == routed
    layers = len(case["moe_routing"])
    assert sum(r.macs for r in report.rows if r.path.endswith(".mlp.router")) == layers * tokens * d * E
    # MixtralExperts holds gate_up_proj (E, 2f, d) and down_proj (E, d, f) itself (no leaf)
    stored = case["non_leaf_modules_with_params"]
    assert sum(_prod(s) for m in stored.values() for s in m.values()) == sum(
        r.params for r in report.rows if r.kind in ("moe_linear", "moe_expert_linear")) == layers * E * 3 * d * f
    assert report.totals.active_params == case["total_params"] - layers * (E - k) * 3 * d * f


def _prod(shape) -> int:
    out = 1
    for s in shape:
        out *= s
    return out


# -- the tools ------------------------------------------------------------------------------
@pytest.mark.parametrize(("fid", "convention"), _by_tool())
def test_spec_reproduces_the_tool(fid, convention):
    got = network(fid).evaluate(conventions.get(convention)).totals.flops
    assert got == tool_total(fid, convention)


PER_LEAF = {  # tools reporting a figure per module: module name -> figure
    "thop": ("thop", lambda f: {n: v["ops"] for n, v in f["per_leaf_total_ops"].items()}),
    "torchinfo": ("torchinfo", lambda f: {n: v["macs"] for n, v in f["per_leaf_macs"].items() if v["calls"] == 1}),
    "fvcore": ("fvcore", lambda f: {n: sum(v.values()) for n, v in f["leaf_by_operator"].items()}),
    "calflops": ("calflops", lambda f: {n: v["flops"] for n, v in f["per_module_own"].items()}),
}


@pytest.mark.parametrize(("fid", "convention"), _by_tool(tuple(PER_LEAF)))
def test_per_module_figures_match_the_tool(fid, convention):
    """Module by module where a calc row is that module (calflops' figures of a non-leaf module,
    its functional calls, have no row of their own: skipped)."""
    tool, figures = PER_LEAF[convention]
    figures = figures(CASES[fid]["tools"][tool])
    rows = by_module(fid, network(fid).evaluate(conventions.get(convention)).rows, "flops")
    compared = [name for name in figures if name in rows]
    for name in compared:
        assert rows[name] == figures[name], name
    assert len(compared) >= 6, compared


# -- the traps, by hand ----------------------------------------------------------------------
def test_conv1d_traps_on_gpt2_c_attn():
    """transformers' Conv1D c_attn (64 -> 192, bias) on (2, 8, 64), as gpt2_eager.json reports it:
    thop 0 (no hook); torchinfo prices it as a convolution by its class name, params * N * Cout;
    ptflops' torch.addmm hook and calflops add the bias tensor once; ptflops' aten backend per row."""
    leaf = CASES["gpt2_eager"]["leaves"]["transformer.h.0.attn.c_attn"]
    layer = parse_layer({"type": "linear", "form": "conv1d", "Cout": 192, "Cin": 64, "N": 16})
    tally = layer.tally(((2, 8, 64),))
    macs = 16 * 64 * 192
    assert (tally.op, tally.macs, tally.params) == ("conv1d", leaf["macs"], leaf["params"]) == ("conv1d", macs, 12480)
    tools = CASES["gpt2_eager"]["tools"]
    expected = {
        "thop": tools["thop"]["per_leaf_total_ops"]["transformer.h.0.attn.c_attn"]["ops"],
        "torchinfo": tools["torchinfo"]["per_leaf_macs"]["transformer.h.0.attn.c_attn"]["macs"],
        "fvcore": tools["fvcore"]["leaf_by_operator"]["transformer.h.0.attn.c_attn"]["addmm"],
        "calflops": tools["calflops"]["per_module_own"]["transformer.h.0.attn.c_attn"]["flops"],
    }
    assert expected == {"thop": 0, "torchinfo": 12480 * 2 * 192, "fvcore": macs, "calflops": 2 * macs + 192}
    for name, figure in expected.items():
        assert conventions.get(name).flops(tally) == figure, name
    assert conventions.get("ptflops").flops(tally) == macs + 192  # not divided by N: no module hook
    assert conventions.get("ptflops-aten").flops(tally) == macs + 16 * 192
    assert conventions.get("torch").flops(tally) == 2 * macs
    # the same layer as nn.Linear: every tool sees it otherwise
    linear = parse_layer({"type": "linear", "Cout": 192, "Cin": 64, "N": 16}).tally(((2, 8, 64),))
    assert [conventions.get(c).flops(linear) for c in ("thop", "torchinfo", "calflops")] == [
        macs, 2 * 12480, 2 * macs]
    assert conventions.get("exact").flops(tally) == conventions.get("exact").flops(linear)


def test_conv1d_always_has_a_bias():
    with pytest.raises(SpecError) as err:
        parse_layer({"type": "linear", "form": "conv1d", "Cout": 4, "Cin": 2, "bias": False})
    assert err.value.field == "bias" and "\n" not in str(err.value)
    with pytest.raises(SpecError) as err:
        parse_layer({"type": "linear", "form": "conv2d", "Cout": 4, "Cin": 2})
    assert err.value.field == "form"


def test_position_ids_lookup_under_torchinfo():
    """nn.Embedding on position ids (1, T): torchinfo charges output[0] * params = the table once
    (bert_eager.json: position_embeddings 64 x 64 -> 4096), the token table N times."""
    per_leaf = CASES["bert_eager"]["tools"]["torchinfo"]["per_leaf_macs"]
    assert per_leaf["embeddings.position_embeddings"]["macs"] == 64 * 64
    assert per_leaf["embeddings.word_embeddings"]["macs"] == 2 * 1000 * 64
    rows = {r.path: r.flops for r in network("bert_eager").evaluate(conventions.get("torchinfo")).rows}
    assert rows["embeddings.position_embeddings"] == 64 * 64
    assert rows["embeddings.word_embeddings"] == 2 * 1000 * 64


def test_sliding_window_and_attention_kind_change_what_they_should():
    """Mistral = Llama under every tool (no tool sees the window); eager - sdpa = the attention
    matmuls and softmax the tool sees (SDPA is invisible to every tool on CPU; thop and torchinfo
    see neither)."""
    for c in TOOLS:
        for attn in ("eager", "sdpa"):
            assert tool_total(f"mistral_{attn}", c) == tool_total(f"llama_{attn}", c)
            assert (network(f"mistral_{attn}").evaluate(conventions.get(c)).totals.flops
                    == network(f"llama_{attn}").evaluate(conventions.get(c)).totals.flops)
    matmuls = 2 * 2 * (2 * 4 * 8 * 8 * 16)  # 2 layers x (scores + context)
    softmax = 2 * 2 * 4 * 8 * 8  # F.softmax's input, which ptflops and calflops patch
    seen = {"thop": 0, "torchinfo": 0, "fvcore": matmuls, "ptflops": matmuls + softmax,
            "ptflops-aten": matmuls, "torch": 2 * matmuls, "calflops": 2 * matmuls + softmax}
    for c, diff in seen.items():
        assert tool_total("llama_eager", c) - tool_total("llama_sdpa", c) == diff, c
    # 'needed' skips what the window masks: fewer products for Mistral than for Llama
    needed = conventions.get("needed")
    assert (network("mistral_eager").evaluate(needed).totals.flops
            < network("llama_eager").evaluate(needed).totals.flops)


def test_unexpressed_cases_fail_as_stated():
    """What PENDING says is raised today is raised, and says which field is missing."""
    for fid, (raises, _why) in PENDING.items():
        with pytest.raises(raises) as err:
            network(fid)
        assert "\n" not in str(err.value)
        assert ("projection" if family(fid) == "gpt2" else "experts_implementation") in str(err.value), fid
    assert issubclass(SpecError, CalcError)


def test_every_profiler_prices_the_new_ops_by_a_rule_of_its_own():
    """conv1d, moe_router, moe_expert_linear: a stated rule (with its source) in every profiler
    table, none left to a table's default; position_lookup's in torchinfo charges the table once."""
    from calc.conventions import profilers

    for convention in profilers.PROFILER_CONVENTIONS:
        for op in ("conv1d", "moe_router", "moe_expert_linear"):
            rule = convention.rules[op]
            assert rule.note and rule.note != convention.rules["dropout"].note, (convention.name, op)
    assert conventions.get("torchinfo").rules["position_lookup"].formula() == "params"
