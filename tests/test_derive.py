"""`calc derive`: every topic builds (each step proved by sympy) and renders in every format;
the library steps really compare with the calculator's formulas (a broken formula breaks the
derivation); a wrong step is refused with its number and justification; the CLI; the generated
docs/derivations.md is current."""

import dataclasses
import pathlib
import subprocess
import sys

import pytest
import sympy

from calc import derive
from calc.cli import main
from calc.derive import cli as derive_cli
from calc.derive import render as derive_render
from calc.derive.core import Derivation, DerivationError, Section, Step, Table, equal, grouped, release
from calc.closed_form import layer_costs

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "derivations.md"
TOPICS = list(derive.TOPICS)
FORMATS = ("text", "md", "latex")


@pytest.fixture(scope="module")
def built():
    return {t: derive.build(t) for t in TOPICS}


def sym(names):
    return sympy.symbols(names, integer=True, positive=True)


# -- every topic ---------------------------------------------------------------------------------


def test_the_required_topics_exist():
    required = {"conv", "linear", "separable", "bn-fold", "mac-bound", "pool", "global-pool", "activation"}
    assert required <= set(TOPICS)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("topic", TOPICS)
def test_every_topic_renders_in_every_format(built, topic, fmt):
    out = derive_render.render(built[topic], fmt)
    assert topic in out and out.endswith("\n")
    numbers = [s.number for s in built[topic].steps]
    assert numbers == list(range(1, len(numbers) + 1))
    if fmt == "latex":
        assert out.count(r"\begin{align*}") == out.count(r"\end{align*}") >= 1
        assert rf"\tag{{{numbers[-1]}}}" in out
    if fmt == "md":
        assert f"\n{numbers[-1]}. `" in out


@pytest.mark.parametrize("topic", TOPICS)
def test_every_topic_ends_on_the_library(built, topic):
    d = built[topic]
    library = [s for s in d.steps if s.kind == "library"]
    assert library or d.checked, "a topic must compare with the calculator's own values"
    for step in library:  # re-prove, independently of the build
        assert equal(d.expand(step.lhs), d.expand(step.rhs)), step


def test_derivation_formats_agree_with_the_cli():
    assert derive_cli.FORMATS == derive_render.FORMATS


# -- the final results, restated here and compared with the library directly ---------------------


def last_library(d, section_word):
    section, found = None, None
    for item in d.items:
        if isinstance(item, Section):
            section = item.title
        elif isinstance(item, Step) and item.kind == "library" and section_word in (section or ""):
            found = item
    return found.rhs


def test_conv_ends_on_the_library_flops_with_and_without_bias_and_grouped(built):
    K, Cin, Cout, Ho, Wo, g = sym("K C_in C_out H_out W_out g")
    d = built["conv"]
    fields = dict(K=K, Cin=Cin, Cout=Cout, H=Ho + K - 1, W=Wo + K - 1)
    cases = {
        "Without bias": ((2 * Cin * K**2 - 1) * Ho * Wo * Cout, dict(bias=False)),
        "With bias": (2 * Cin * K**2 * Ho * Wo * Cout, dict(bias=True)),
    }
    for section, (formula, extra) in cases.items():
        library = layer_costs("conv", {**fields, **extra})["flops"]
        assert sympy.expand(last_library(d, section) - library) == 0
        assert sympy.expand(formula - library) == 0
    grouped_steps = [s for s in d.steps if s.kind == "library" and "groups=g" in s.why]
    assert len(grouped_steps) == 2
    no_bias = layer_costs("conv", {**fields, "groups": g, "bias": False})["flops"]
    assert sympy.simplify(grouped_steps[0].rhs - no_bias) == 0
    assert sympy.simplify(no_bias - (2 * Cin / g * K**2 - 1) * Ho * Wo * Cout) == 0


def test_conv_states_which_seed_statements_hold(built):
    text = derive_render.render(built["conv"], "text")
    assert "seed 000 holds" in text and "seed 002 holds, bias=True" in text
    assert "seed 002 holds, bias=False" in text
    wrong = [s for s in built["conv"].steps if s.relation == "!="]
    assert wrong and "without a conv bias" in wrong[0].why
    assert "seed 002's conv + BN" in text


def test_linear_ends_on_the_library(built):
    M, N = sym("M N")
    d = built["linear"]
    assert sympy.expand(last_library(d, "Without bias") - (2 * M - 1) * N) == 0
    assert sympy.expand(last_library(d, "With bias") - 2 * M * N) == 0
    assert sympy.expand(layer_costs("linear", dict(Cin=M, Cout=N, bias=False))["flops"] - (2 * M - 1) * N) == 0


def test_separable_ratio_and_the_seeds_numbers(built):
    K, Cout = sym("K C_out")
    text = derive_render.render(built["separable"], "text")
    assert "924,844,032 / 109,985,792 = 8.41" in text
    for figure in ("7,225,344", "102,760,448", "109,985,792", "924,844,032", "~ 8.41", "1152/137"):
        assert figure in text
    d = built["separable"]
    general = K**2 * Cout / (K**2 + Cout)
    proved = [s for s in d.steps if s.kind != "def" and release(s.rhs).free_symbols == {K, Cout}
              and equal(release(s.rhs), general)]
    assert len(proved) >= 3  # K^2*Cout/(K^2 + Cout), 1/(1/Cout + 1/K^2), and for parameters
    assert sympy.Rational(924_844_032, 109_985_792) == general.subs({K: 3, Cout: 128})


def test_mac_bound_proves_the_inequality_and_checks_mem_access(built):
    h, w, c1, c2 = sym("h w c1 c2")
    d = built["mac-bound"]
    relations = [s.relation for s in d.steps]
    assert ">=" in relations and "<=>" in relations
    mem = layer_costs("pointwise", dict(Cin=c1, Cout=c2, H=h, W=w, bias=False))["mem_access"]
    assert sympy.expand(mem - (h * w * (c1 + c2) + c1 * c2)) == 0
    assert any(s.kind == "library" and sympy.expand(s.rhs - mem) == 0 for s in d.steps)


def test_bn_fold_counterexample_is_exact(built):
    d = built["bn-fold"]
    text = derive_render.render(d, "text")
    assert "conv -> ReLU -> BN does not fold" in text
    differs = [s for s in d.steps if s.relation == "!="]
    assert differs
    z1 = sympy.Symbol("z_1", real=True)
    assert d.expand(z1) == -2


def test_activation_table_has_every_activation_and_convention(built):
    from calc import conventions
    from calc.layers.activation import ActivationKind

    d = built["activation"]
    (table,) = [i for i in d.items if isinstance(i, Table)]
    # every convention of a CNN's activations: not 'needed' (= exact without a mask) nor the LLM ones
    assert table.headers[1:] == tuple(conventions.distinct_for({"relu"}))
    assert {"exact", "2mac", "thop", "torch", "calflops"} <= set(table.headers)
    assert [r[0] for r in table.rows] == [k.value for k in ActivationKind]
    assert d.checked >= len(ActivationKind) * 2
    row = dict(zip(table.headers, next(r for r in table.rows if r[0] == "relu")))
    assert row["exact"] == "1" and row["2mac"] == "0"


# -- a wrong step -------------------------------------------------------------------------------


def test_a_wrong_step_names_itself():
    K, Cin = sym("K C_in")
    d = Derivation("demo", "a demo", "tests")
    d.define("f", K**2 + grouped(K**2 - 1), "K^2 multiplies and K^2 - 1 adds")
    d.equals(2 * K**2 - 1, "collect terms")
    with pytest.raises(DerivationError, match=r"derivation 'demo': step 3 \('seed says 2K\^2'\) does not hold"):
        d.equals(2 * K**2, "seed says 2K^2")
    assert len(d.steps) == 2


def test_each_relation_refuses_what_it_cannot_prove():
    a, b = sym("a b")
    d = Derivation("demo", "relations", "tests")
    d.section("checks")
    with pytest.raises(DerivationError, match="step 1 in 'checks'.*witness"):
        d.at_least(2 * a * b, "wrong witness", witness=a**2, lhs=(a + b) ** 2)
    with pytest.raises(DerivationError, match="not provably nonnegative"):
        d.at_least(0, "a - b can be negative", witness=a - b, lhs=a - b)
    with pytest.raises(DerivationError, match="step 1"):
        d.differs(a * (b + 1), "they are equal", lhs=a * b + a)
    with pytest.raises(DerivationError, match="differ by"):
        d.rounds_to("8.40", "wrong rounding", lhs=sympy.Rational(1152, 137))
    with pytest.raises(DerivationError, match="roots"):
        d.iff(a**2 - b**2 + 1, sympy.Eq(b, a), "not the root")
    with pytest.raises(DerivationError, match="nothing precedes"):
        d.equals(a, "no left side")
    d.at_least(4 * a * b, "AM-GM", witness=(a - b) ** 2, lhs=(a + b) ** 2)
    d.rounds_to("8.41", "1152/137", lhs=sympy.Rational(1152, 137))
    assert [s.number for s in d.steps] == [1, 2]


def test_a_broken_library_formula_breaks_the_derivation(monkeypatch):
    import calc.layers.conv as conv

    monkeypatch.setattr(conv, "conv_dot_outputs", lambda n, cout, out: 2 * n * cout * conv.prod(out))
    with pytest.raises(DerivationError, match="derivation 'conv': step 8 .*does not hold"):
        derive.build("conv")


def test_a_broken_convention_row_breaks_the_activation_table(monkeypatch):
    from calc import conventions
    from calc.conventions.base import rule

    exact = conventions.get("exact")
    wrong = dataclasses.replace(exact, rules=dict(exact.rules, relu=rule("wrong", out_elements=3)))
    monkeypatch.setitem(conventions.CONVENTIONS, "exact", wrong)
    with pytest.raises(DerivationError, match="step 2"):
        derive.build("activation")  # F_relu = C*H*W is the counting argument; the library now says 3x


# -- the command ---------------------------------------------------------------------------------


def test_cli_prints_a_topic(capsys):
    assert main(["derive", "conv"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("conv: ") and "2*C_in*K**2 - 1" in out and "[library]" in out


@pytest.mark.parametrize("fmt", FORMATS)
def test_cli_formats(capsys, fmt):
    assert main(["derive", "separable", "--format", fmt]) == 0
    assert "8.41" in capsys.readouterr().out


def test_cli_lists_topics(capsys):
    assert main(["derive", "--list"]) == 0
    out = capsys.readouterr().out
    assert [line.split()[0] for line in out.splitlines()] == TOPICS


def test_cli_unknown_topic_is_a_usage_error_listing_the_topics(capsys):
    assert main(["derive", "nonsense"]) == 2
    err = capsys.readouterr().err
    assert "unknown topic 'nonsense'" in err and ", ".join(TOPICS) in err
    assert len(err.strip().splitlines()) == 1


def test_cli_no_topic_is_a_usage_error(capsys):
    assert main(["derive"]) == 2
    assert "--list" in capsys.readouterr().err


def test_cli_failed_step_exits_1_with_one_line(capsys, monkeypatch):
    import calc.layers.linear as linear

    monkeypatch.setattr(linear, "linear_macs", lambda rows, cin, cout: rows * cin * cout + 1)
    assert main(["derive", "linear"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "derivation 'linear': step 5" in err


def test_cli_writes_a_file(tmp_path):
    target = tmp_path / "conv.tex"
    assert main(["derive", "conv", "--format", "latex", "-o", str(target)]) == 0
    assert target.read_text().startswith(r"\subsection*{conv:")


def test_registering_the_command_loads_no_sympy():
    code = ("import sys; from calc.cli import build_parser; build_parser(); "
            "assert 'calc.derive.core' not in sys.modules and 'calc.derive.render' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
    code = "import sys, calc.derive.cli, calc.derive; assert 'sympy' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


# -- the generated document ----------------------------------------------------------------------


def test_docs_derivations_md_is_current():
    expected = derive.document()
    actual = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
    assert actual == expected, (
        "docs/derivations.md is stale; regenerate it with:\n"
        "    python -m calc derive --all --format md -o docs/derivations.md"
    )
