"""A KV cache per evaluation: `Network.evaluate(context=P)` has self attention's T new tokens
attend to the P cached ones as well (decode: T = 1), and `closed_form` keeps C (the context) as a
variable.  The foundation of issue 12's prefill and decode."""

import pytest

from calc import conventions
from calc.closed_form import closed_form
from calc.errors import CalcError, ShapeError
from calc.library import library_path
from calc.network import load_network, network_from_text
from calc.symbolic import sympy

LAYER = """\
name: a
input: {{T: {T}, d: 16}}
layers:
  - {{type: attention, name: attn, heads: 4, kv_heads: 2, causal: true{extra}}}
"""


@pytest.mark.parametrize("T, P", [(1, 0), (1, 7), (3, 5), (4, 4)])
@pytest.mark.parametrize("convention", ["exact", "needed", "2mac", "fvcore", "torch", "calflops"])
def test_context_is_a_cache_of_p_tokens(T, P, convention):
    """A context of P prices as a layer that states kv_len = P + T (its K/V projections run on
    the T new tokens only, its scores span P + T keys); only the memory traffic differs, as the
    cached keys and values are read."""
    cached = network_from_text(LAYER.format(T=T, extra="")).evaluate(convention, context=P or None)
    stated = network_from_text(LAYER.format(T=T, extra=f", kv_len: {P + T}")).evaluate(convention)
    assert cached.totals.flops == stated.totals.flops and cached.totals.macs == stated.totals.macs
    assert cached.totals.params == stated.totals.params
    reads = 2 * P * 2 * 4  # K and V: P cached tokens of kv_heads * head_dim = 2 * 4 entries
    assert cached.totals.mem_access - stated.totals.mem_access == reads
    assert cached.options.get("context") == (P or None)


def test_llama_decode_step():
    """One new token after 4,095 cached: every weight once (6,607,077,376 products outside the
    attention products, as at T = 1 with no cache) + 32 layers x (scores + context) over 4,096
    keys of d = 4096: 2 x 4096 x 4096 each."""
    net = load_network(library_path("llama2_7b"))
    weights = 32 * (4 * 4096 * 4096 + 3 * 4096 * 11008) + 4096 * 32000  # q, k, v, o, gate, up, down; head
    assert weights == 6_607_077_376
    alone = net.evaluate(input_shape=(1, 1)).totals.macs
    step = net.evaluate(input_shape=(1, 1), context=4095).totals.macs
    assert alone == 6_607_077_376 + 32 * 2 * 4096
    assert step == 6_607_077_376 + 32 * 2 * 4096 * 4096


def test_closed_form_in_T_and_C():
    """MACs = 6,607,077,376 T (weights) + 2 L d T^2 (dense causal scores and context over the new
    tokens) + 2 L d C T (over the cached ones), L = 32, d = 4096: 2 L d = 262,144."""
    form = closed_form(load_network(library_path("llama2_7b")), conventions.get("2mac"), ("T", "C"))
    T, C = sympy.Symbol("T", integer=True, positive=True), sympy.Symbol("C", integer=True, nonnegative=True)
    assert sympy.expand(form.totals["macs"] - (6_607_077_376 * T + 262_144 * T**2 + 262_144 * C * T)) == 0
    assert len(form.verified_at) >= 5


@pytest.mark.parametrize("context, words", [
    (-1, "context must be a count of cached tokens"),
    (True, "context must be a count of cached tokens"),
    ("7", "context is a str"),
    (10**101, "context must be a count"),
])
def test_bad_context(context, words):
    with pytest.raises(ShapeError) as err:
        network_from_text(LAYER.format(T=2, extra="")).evaluate(context=context)
    assert words in err.value.message and err.value.field == "context"


def test_context_needs_self_attention_and_no_fixed_keys():
    with pytest.raises(ShapeError, match="no attention for a KV cache to feed"):
        load_network(library_path("resnet50")).evaluate(context=4)
    with pytest.raises(CalcError) as err:
        network_from_text(LAYER.format(T=2, extra=", kv_len: 6"), "a.yaml").evaluate(context=4)
    assert "kv_len=6 fixes the keys" in err.value.one_line() and "attn" in err.value.one_line()


def test_a_position_table_bounds_the_context():
    """GPT-2's 1024 learned positions: a decode step after 1023 cached tokens fits, after 1024 it
    would look up position 1024, which the table has not: a located error, not a number."""
    net = load_network(library_path("gpt2"))
    assert net.evaluate(input_shape=(1, 1), context=1023).totals.params == 124_439_808
    with pytest.raises(ShapeError) as err:
        net.evaluate(input_shape=(1, 1), context=1024)
    assert "a table of 1024 positions cannot cover 1 tokens after 1024 cached" in err.value.one_line()
    assert "transformer.wpe.rows" in err.value.one_line()
