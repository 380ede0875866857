"""Sequence inputs: `input: {T: ...}` (token ids, (N, T)) and `{T: ..., d: ...}` ((N, T, d)),
whose T `calc symbolic` keeps as a variable (issue 11: totals as polynomials in the sequence
length, linear for the projections, quadratic for the attention products)."""

import pytest

from calc.cli import main
from calc.closed_form import closed_form
from calc.errors import SpecError, UsageError
from calc import conventions
from calc.library import library_path
from calc.network import load_network, network_from_text
from calc.symbolic import sympy

TINY = """\
name: tiny
input: {T: 8, d: 16}
layers:
  - {type: attention, heads: 4, causal: true}
"""


def test_named_sequence_axes():
    net = network_from_text(TINY)
    assert net.input_shape == (1, 8, 16) and net.axis_names() == ("N", "T", "d")
    ids = network_from_text("name: ids\ninput: {T: 5, N: 2}\nlayers: [{type: embedding, num_embeddings: 10, "
                            "embedding_dim: 4}]\n")
    assert ids.input_shape == (2, 5) and ids.axis_names() == ("N", "T")
    # the list form keeps its names by rank
    assert network_from_text(TINY.replace("{T: 8, d: 16}", "[8, 16]")).axis_names() == ("N", "C", "L")


@pytest.mark.parametrize("axes, words", [
    ("{T: 8, H: 3}", "do not name a shape"),
    ("{T: 8, q: 3}", "unknown axis 'q'"),
    ("{d: 8}", "do not name a shape"),
])
def test_bad_sequence_axes_are_located(axes, words):
    with pytest.raises(SpecError) as err:
        network_from_text(TINY.replace("{T: 8, d: 16}", axes), "s.yaml")
    assert words in err.value.message and err.value.one_line().startswith("s.yaml:2:")


def test_gpt2_totals_are_polynomials_in_T():
    """GPT-2 small, per token: 12 layers x 12 d^2 (q, k, v, out 4d^2 + MLP 8d^2) + the lm_head
    d x 50257 MACs, linear in T; per layer 2 d T^2 (scores and context), quadratic."""
    T = sympy.Symbol("T", integer=True, positive=True)
    d, layers, vocab = 768, 12, 50257
    form = closed_form(load_network(library_path("gpt2")), conventions.get("exact"), ("T",))
    assert sympy.expand(form.totals["macs"] - (layers * 2 * d * T**2 + (layers * 12 * d * d + d * vocab) * T)) == 0
    assert form.input_shape == (1, "T")


def test_symbolic_defaults_to_T_for_a_sequence(capsys):
    assert main(["symbolic", "gpt2"]) == 0
    out = capsys.readouterr().out
    assert "macs       = 18432*T**2 + 123532032*T" in out
    assert main(["symbolic", "gpt2", "--vars", "H"]) == 2
    assert "'H' is not an input size of gpt2 (expected some of N, T, C)" in capsys.readouterr().err


def test_a_sliding_window_is_piecewise_and_says_so():
    """Under 'needed', Mistral's window makes the count min(w - 1, T)-shaped: no one polynomial."""
    net = network_from_text("name: w\ninput: {T: 64, d: 8}\nlayers:\n"
                            "  - {type: attention, heads: 2, causal: true, window: 16}\n")
    with pytest.raises(UsageError) as err:
        closed_form(net, conventions.get("needed"), ("T",), max_divisor=8)
    assert "piecewise in T" in err.value.message
    dense = closed_form(net, conventions.get("exact"), ("T",))  # the dense count is a polynomial
    assert dense.totals["macs"].is_polynomial()
