"""`calc derive 6n`: the topic builds (every step proved), its symbolic results are restated here
and compared with the library directly, it ends on the library's GPT-2 figures, a wrong library
value breaks it, and docs/derivations.md carries it.

GPT-2 small (specs/gpt2.yaml: n_layer 12, n_embd 768, vocab_size 50257, n_positions 1024, from
huggingface.co/openai-community/gpt2 config.json).  Kaplan et al. 2020 (arXiv:2001.08361) sec.
2.1: C = 6N per training token, N = 12 n_layer d^2 = 84,934,656 for GPT-2 small; Megatron-LM
num_floating_point_operations (training.py, 2023-11 to 2025-03): 3 x every GEMM, attention dense.
"""

import pathlib

import pytest
import sympy

from calc import derive
from calc.derive import render as derive_render
from calc.derive import six_n
from calc.derive.core import DerivationError, Section, Step, equal
from calc.library import library_path
from calc.network import load_network

ROOT = pathlib.Path(__file__).resolve().parent.parent
L, D, V, T = 12, 768, 50257, 1024


@pytest.fixture(scope="module")
def built():
    return derive.build("6n")


def steps_in(d, word):
    section, found = None, []
    for item in d.items:
        if isinstance(item, Section):
            section = item.title
        elif isinstance(item, Step) and word in (section or ""):
            found.append(item)
    return found


def test_registered_and_every_step_reproved(built):
    assert derive.TOPICS["6n"] == "calc.derive.six_n"
    assert built.topic == "6n" and len(built.steps) >= 30
    for step in built.steps:
        if step.relation == "=" and step.kind != "def":
            assert equal(built.expand(step.lhs), built.expand(step.rhs)), step
    relations = {s.relation for s in built.steps}
    assert {">=", "!=", "~"} <= relations  # "when it holds" is proved, not asserted


def test_one_matrix_is_six_per_weight_and_token(built):
    a, b, t = sympy.symbols("a b t", positive=True, integer=True)
    step = six_n.training_costs("linear", "megatron-2023", Cin=a, Cout=b, bias=False)["flops"]
    assert sympy.expand(step - 6 * a * b) == 0
    kaplan = six_n.training_costs("linear", "kaplan", Cin=a, Cout=b, bias=False)["flops"]
    assert sympy.expand(kaplan - 6 * a * b) == 0
    first = steps_in(built, "One weight matrix")
    assert any(s.kind == "library" for s in first)


def test_the_attention_share_and_the_condition(built):
    texts = [s.why for s in built.steps]
    ratio = next(s for s in built.steps if "its share of 6N" in s.why)
    Ls, ds, Ts = sympy.symbols("L d T", positive=True, integer=True)
    assert sympy.simplify(built.expand(ratio.rhs) - Ts / (6 * ds)) == 0
    assert any("GPT-2 (d = 768): 6N is within 10% up to T = 512" in w for w in texts)
    # the stated bound, checked directly: at T = 512 attention is <= 10% of the dense count, at 513 not
    def share(t):
        attention, six = 12 * L * t * D, 6 * 12 * L * D**2
        return sympy.Rational(attention, six + attention)
    assert share(512) == sympy.Rational(1, 10) and share(513) > sympy.Rational(1, 10)


def test_ends_on_the_library_gpt2_figures(built):
    net = load_network(library_path("gpt2"))
    kaplan = net.evaluate("kaplan", mode="training").totals.flops
    mega = net.evaluate("megatron-2023", mode="training").totals.flops
    assert kaplan == 521_838_526_464 == 6 * 12 * L * D**2 * T
    assert mega == 874_944_921_600
    assert mega - kaplan == 12 * L * T * D * T + 6 * D * V * T
    library = [s for s in steps_in(built, "GPT-2 at T = 1024") if s.kind == "library"]
    assert {int(s.rhs) for s in library} == {kaplan, mega, 816_962_863_104}


def test_a_wrong_library_value_breaks_it(monkeypatch):
    real = six_n.gpt2_training_flops
    monkeypatch.setattr(six_n, "gpt2_training_flops", lambda c: real(c) + (1 if c == "megatron-2023" else 0))
    with pytest.raises(DerivationError, match="step 32"):
        six_n.build()


def test_renders_and_the_doc_carries_it(built):
    md = derive_render.render(built, "md")
    doc = (ROOT / "docs" / "derivations.md").read_text(encoding="utf-8")
    assert md in doc and "`6n`" in doc
