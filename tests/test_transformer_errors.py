"""Issue 11's bad input: each a one-line error naming file, line, layer path and field, through
a spec and through `calc layer` (exit 1, no traceback)."""

import re

import pytest

from calc.cli import main
from calc.errors import CalcError
from calc.network import network_from_text

SPEC = """\
name: t
input: {{T: 8, d: 12}}
layers:
  - {{type: layernorm, name: ln}}
  - {item}
"""

CASES = [  # (layer item, field, words of the message)
    ("{type: attention, name: attn, heads: 5}", "heads", "heads=5 does not divide d=12"),
    ("{type: attention, name: attn, heads: 4, kv_heads: 3}", "kv_heads", "kv_heads=3 does not divide heads=4"),
    ("{type: attention, name: attn, heads: 4, window: 4}", "window", "a sliding window applies to causal attention"),
    ("{type: attention, name: attn, heads: 4, kv_len: 5}", "kv_len", "kv_len=5 is less than the T=8 new tokens"),
    ("{type: attention, name: attn, heads: 4, cross: true}", "kv_len", "cross attention needs kv_len"),
    ("{type: attention, name: attn, heads: 4, fused: mha, kv_heads: 2}", "kv_heads",
     "nn.MultiheadAttention has all heads"),
    ("{type: attention, name: attn, heads: 4, rotary: true, head_dim: 3}", "head_dim",
     "head_dim=3 is odd"),
    ("{type: moe, name: moe, experts: 4, top_k: 5, hidden: 8}", "top_k", "top_k=5 is more than the 4 experts"),
    ("{type: position_embedding, name: wpe, rows: 4, lookup: true}", "rows",
     "a table of 4 positions cannot cover 8 tokens"),
    ("{type: select, name: cls, dim: 1, index: 8}", "index", "8 is out of range for an axis of 8"),
    ("{type: class_token, name: cls, tokens: 0}", "tokens", "greater than 0"),
]


@pytest.mark.parametrize("item, field, words", CASES, ids=[c[1] + "-" + c[2][:20] for c in CASES])
def test_spec_error_is_located(item, field, words):
    with pytest.raises(CalcError) as err:
        network_from_text(SPEC.format(item=item), "t.yaml").evaluate()
    line = err.value.one_line()
    assert words in line, line
    name = re.search(r"name: (\w+)", item).group(1)
    assert line.startswith("t.yaml:5:") and f" {name}.{field}: " in line, line
    assert "\n" not in line


def test_layer_command_refuses_in_one_line(capsys):
    assert main(["layer", "attention", "--heads", "5", "--input", "8,12"]) == 2  # a bad option value
    err = capsys.readouterr().err
    assert err == "error: --heads: heads=5 does not divide d=12 (expected a divisor of d, or head_dim stated)\n"


def test_a_window_of_at_least_the_keys_is_full_causal():
    """Not an error: a prompt shorter than the window (Mistral's 4096 on 8 tokens) is full causal."""
    windowed = network_from_text(SPEC.format(item="{type: attention, heads: 4, causal: true, window: 9}"))
    plain = network_from_text(SPEC.format(item="{type: attention, heads: 4, causal: true}"))
    for convention in ("exact", "needed", "torch"):
        assert windowed.evaluate(convention).totals == plain.evaluate(convention).totals


def test_tied_weight_of_another_shape_is_located():
    text = ("name: t\ninput: {T: 4}\nlayers:\n"
            "  - {type: embedding, name: wte, num_embeddings: 10, embedding_dim: 8}\n"
            "  - {type: linear, name: head, Cout: 9, bias: false, tie: wte}\n")
    with pytest.raises(CalcError) as err:
        network_from_text(text, "t.yaml").evaluate()
    line = err.value.one_line()
    assert line.startswith("t.yaml:5:") and "head.tie" in line and "9 x 8" in line and "10 x 8" in line, line


def test_rotary_with_an_odd_head_width_from_d_is_refused_at_its_place():
    """head_dim = d / heads may be odd although not stated: rotate_half needs pairs (the tally
    used to fail with a bare ArithmeticError on an odd N*T*d)."""
    from calc.errors import ShapeError
    from calc.network import network_from_text

    net = network_from_text("name: t\ninput: {T: 3}\nlayers:\n  - {type: embedding, num_embeddings: 10, "
                            "embedding_dim: 3}\n  - {type: attention, heads: 1, rotary: true}\n", "t.yaml")
    with pytest.raises(ShapeError) as info:
        net.evaluate()
    assert info.value.one_line() == ("t.yaml:5:33: 1.rotary: rotary embedding rotates pairs: head_dim=3 "
                                     "(d=3 / heads=1) is odd (expected an even d / heads, or rotary: false)")
