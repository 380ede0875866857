"""Issue 10 ("Trust"), the spec builder's part: the batch stated one way, bools kept out of
arithmetic, merges and groups refused alike, and every blow-up bounded (work, ints, paths).

Each test is a regression test: it failed (or hung) before the fix it names."""

from __future__ import annotations

import os
import textwrap
import time

import pytest

from calc import conventions
from calc.cli import main
from calc.errors import CalcError, SpecError
from calc.limits import MAX_INT, MAX_INT_DIGITS
from calc.network import builder, network_from_text
from calc.parse import parse_layer
from calc.report import evaluate_layer
from calc.yamlload import loads

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXACT = conventions.get("exact")


def net(text: str):
    return network_from_text(textwrap.dedent(text), "t.yaml")


def error_of(text: str) -> CalcError:
    text = textwrap.dedent(text)
    with pytest.raises(CalcError) as err:
        network_from_text(text, "t.yaml").evaluate()
    assert err.value.location is not None and err.value.location.file == "t.yaml", err.value.one_line()
    assert err.value.location.line is not None, err.value.one_line()
    assert "\n" not in err.value.one_line()
    return err.value


def at(text: str, line: int, word: str) -> str:
    """file:line:col of `word` on (1-based) `line` of `text`."""
    return f"t.yaml:{line}:{textwrap.dedent(text).splitlines()[line - 1].index(word) + 1}"


def quick(seconds: float):
    """Context: the block must finish within `seconds` of CPU time (CPU time, not wall time: a
    loaded CI machine must not make a bounded computation look like a hang)."""
    class _Timer:
        def __enter__(self):
            self.start = time.process_time()

        def __exit__(self, *exc):
            elapsed = time.process_time() - self.start
            assert elapsed < seconds, f"took {elapsed:.2f} s (limit {seconds} s)"
    return _Timer()


CONV = "  - {type: conv, K: 3, Cout: 4, padding: 1}\n"


# -- input and batch: the per-sample shape, the batch on its own --------------------------------


def test_four_entry_input_is_ambiguous_and_names_both_fixes():
    """Was: [1, 3, 224, 224] read as a 3-d input (ResNet-50: 48.20M params, exit 0)."""
    text = open(os.path.join(ROOT, "specs", "resnet50.yaml"), encoding="utf-8").read()
    text = text.replace("input: [3, 224, 224]", "input: [1, 3, 224, 224]")
    line = 1 + text.splitlines().index("input: [1, 3, 224, 224]")
    with pytest.raises(SpecError) as err:
        network_from_text(text, "r50.yaml")
    e = err.value
    assert str(e.location) == f"r50.yaml:{line}:1" and e.field == "input"
    assert "[1, 3, 224, 224] is ambiguous: [N, C, H, W]" in e.message and "[C, D, H, W]" in e.message
    assert e.expected == "input: [3, 224, 224] with batch: 1, or the named form input: {C: 1, D: 3, H: 224, W: 224}"


@pytest.mark.parametrize("dims", ["[]", "[3, 8, 8, 8, 8]"])
def test_input_of_no_or_five_sizes(dims):
    e = error_of(f"name: t\ninput: {dims}\nlayers:\n  - {{type: relu}}\n")
    assert e.field == "input" and "input lists" in e.message and "batch: N" in e.expected


def test_batch_is_its_own_key():
    """input is per sample; batch: 2 doubles every count that scales with N (here all MACs)."""
    one = net("name: t\ninput: [3, 8, 8]\nlayers:\n" + CONV)
    two = net("name: t\ninput: [3, 8, 8]\nbatch: 2\nlayers:\n" + CONV)
    assert one.input_shape == (1, 3, 8, 8) and two.input_shape == (2, 3, 8, 8)
    assert two.evaluate(EXACT).totals.macs == 2 * one.evaluate(EXACT).totals.macs == 2 * 4 * 8 * 8 * 3 * 3 * 3


@pytest.mark.parametrize("listed, named", [
    ("[16]", "{C: 16}"),
    ("[3, 20]", "{L: 20, C: 3}"),
    ("[3, 8, 8]", "{C: 3, H: 8, W: 8}"),
])
def test_named_input_axes_equal_the_list(listed, named):
    a = net(f"name: t\ninput: {listed}\nlayers:\n  - {{type: relu}}\n")
    b = net(f"name: t\ninput: {named}\nlayers:\n  - {{type: relu}}\n")
    assert a.input_shape == b.input_shape


def test_three_d_input_by_name_and_batch_as_n():
    n = net("name: t\ninput: {N: 2, C: 1, D: 4, H: 6, W: 6}\nlayers:\n  - {type: conv, K: 3, Cout: 2}\n")
    assert n.input_shape == (2, 1, 4, 6, 6)
    assert n.shapes()["0"] == (2, 2, 2, 4, 4)
    assert n.evaluate(EXACT).totals.macs == 2 * 2 * (2 * 4 * 4) * 1 * 27  # N*Cout*out*Cin*K^3


def test_batch_given_twice():
    text = "name: t\ninput: {N: 2, C: 3, H: 8, W: 8}\nbatch: 2\nlayers:\n  - {type: relu}\n"
    e = error_of(text)
    assert "batch is given twice" in e.message and str(e.location) == at(text, 3, "batch")


@pytest.mark.parametrize("dims, fragment, word", [
    ("{C: 3, H: 8}", "input axes C, H do not name a shape", "input"),
    ("{C: 3, X: 8}", "unknown axis 'X' in input", "X"),
    ("{C: 3, H: 8, W: true}", "input.W must be a positive int, got True", "W:"),
    ("[3, 8, 8.0]", "input must be a positive int, got 8.0", "8.0"),
    ("[3, 8, -8]", "input must be a positive int, got -8", "-8"),
    ("3", "input must be a list or a mapping", "input"),
])
def test_bad_input_is_located(dims, fragment, word):
    text = f"name: t\ninput: {dims}\nlayers:\n  - {{type: relu}}\n"
    e = error_of(text)
    assert fragment in e.message and str(e.location) == at(text, 2, word)


@pytest.mark.parametrize("batch", ["0", "true", "1.5", "'2'"])
def test_bad_batch(batch):
    text = f"name: t\ninput: [3, 8, 8]\nbatch: {batch}\nlayers:\n  - {{type: relu}}\n"
    e = error_of(text)
    assert e.field == "batch" and "batch must be a positive int" in e.message
    assert str(e.location) == at(text, 3, "batch")


@pytest.mark.parametrize("input_, layer, wanted", [
    ("[3, 8, 8]", "{type: conv, K: [3, 3, 3], Cout: 4}", 3),
    ("{C: 3, D: 8, H: 8, W: 8}", "{type: conv, K: [3, 3], Cout: 4}", 2),
    ("{C: 3, D: 8, H: 8, W: 8}", "{type: conv, K: 3, Cout: 4, Cin: 3, H: 8, W: 8}", 2),
    ("[3, 16]", "{type: maxpool, K: 2, stride: [2, 2]}", 2),
])
def test_input_rank_must_fit_the_first_layer_that_fixes_one(input_, layer, wanted):
    """Was: a stated H and W on a 3-d input passed unchecked (check_inputs compares only the
    fields stated), and a list of the wrong length was blamed on the layer, not the input."""
    text = f"name: t\ninput: {input_}\nlayers:\n  - {{type: relu}}\n  - {layer}\n"
    e = error_of(text)
    assert e.field == "input" and str(e.location) == at(text, 2, "input")
    assert f"but layer '1' takes {wanted}" in e.message and "t.yaml:5:" in e.message


def test_rank_is_checked_only_before_a_flatten():
    """After a flatten the input's rank no longer reaches the layers: no rank to compare."""
    n = net("""\
    name: t
    input: [3, 4, 4]
    layers:
      - {type: conv, K: [1, 1], Cout: 2}
      - {type: flatten}
      - {type: linear, Cout: 5}
    """)
    assert n.shapes()["2"] == (1, 5)


# -- bools are not numbers in block arithmetic ----------------------------------------------------

BOOL_BLOCK = """\
name: t
input: [3, 8, 8]
blocks:
  b:
    params: {p: null}
    layers: [{type: conv, K: 1, Cout: %s, when: p}]
layers:
  - {type: block, block: b, with: {p: true}}
"""


@pytest.mark.parametrize("cout", ['"p + p"', '"p * 4"', '"(p)"', '"-p"'])
def test_bool_operand_refused(cout):
    """Was: with: {p: true}, Cout: "p + p" gave Cout = 2."""
    text = BOOL_BLOCK % cout
    e = error_of(text)
    assert "'p' is true, a bool: arithmetic takes ints only" in e.message
    assert e.field == "Cout" and str(e.location) == at(text, 6, "Cout")


def test_bool_still_works_as_when():
    n = net(BOOL_BLOCK % "4")
    assert n.shapes()["0"] == (1, 4, 8, 8)


def test_non_int_parameter_in_arithmetic_says_what_it_is():
    text = BOOL_BLOCK.replace("{p: true}", "{p: same}").replace(", when: p", "") % '"p * 2"'
    assert "'p' is the string 'same', not an int" in error_of(text).message


# -- grouped pointwise, single-input concat --------------------------------------------------------


def test_pointwise_groups_must_divide_cout():
    """Was: pointwise Cout 5, groups 2 accepted (15 params)."""
    text = "name: t\ninput: [4, 8, 8]\nlayers:\n  - {type: pointwise, Cout: 5, groups: 2}\n"
    e = error_of(text)
    assert "groups=2 does not divide Cout=5" in e.message and str(e.location) == at(text, 4, "groups")
    with pytest.raises(SpecError, match="does not divide Cout"):
        parse_layer({"type": "pointwise", "Cout": 5, "groups": 2})
    assert parse_layer({"type": "pointwise", "Cout": 6, "groups": 2}).groups == 2


@pytest.mark.parametrize("kind, fragment", [
    ("concat", "'concat' needs at least two inputs, got 1"),
    ("add", "'add' needs at least two inputs, got 1"),
])
def test_single_input_merge_refused_like_add(kind, fragment):
    """Was: a lone concat passed its input through (exit 0) where add was refused."""
    text = f"name: t\ninput: [4, 8, 8]\nlayers:\n  - {{type: relu}}\n  - {{type: {kind}}}\n"
    e = error_of(text)
    assert fragment in e.message and e.path == "1" and str(e.location).startswith("t.yaml:5:")
    if kind == "concat":
        assert "type: sequential" in e.expected


def test_one_branch_parallel_suggests_sequential():
    text = "name: t\ninput: [4, 8, 8]\nlayers:\n  - {type: parallel, branches: [[{type: relu}]]}\n"
    e = error_of(text)
    assert "parallel needs at least two branches, got 1" in e.message and "type: sequential" in e.expected


# -- hangs: work bounded, not only operations --------------------------------------------------------


@pytest.mark.parametrize("body", ["[]", "[{type: relu, when: 0}]", "[{type: block, block: c, when: 0}]"])
def test_block_adding_nothing_repeated_a_billion_times(body):
    """Was: the op limit was checked only after an iteration that added something: a hang."""
    text = (f"name: t\ninput: [3, 8, 8]\nblocks:\n  b: {{layers: {body}}}\n  c: {{layers: [{{type: relu}}]}}\n"
            "layers:\n  - {type: relu}\n  - {type: block, block: b, repeat: 1000000000}\n")
    with quick(1.0):
        e = error_of(text)
    assert "1,000,000,000 repeats of block 'b'" in e.message and "would exceed" in e.message
    assert e.field == "repeat" and str(e.location) == at(text, 8, "repeat")


def test_blocks_doubling_without_repeat_are_bounded():
    """No `repeat` at all: 24 blocks each using the next twice is 2**24 visits of a `when: 0`
    item; the expansion steps are bounded, not only the operations."""
    blocks = "".join(f"  b{i}: {{layers: [{{type: block, block: b{i + 1}}}, {{type: block, block: b{i + 1}}}]}}\n"
                     for i in range(24))
    text = ("name: t\ninput: [3, 8, 8]\nblocks:\n" + blocks + "  b24: {layers: [{type: relu, when: 0}]}\n"
            "layers:\n  - {type: relu}\n  - {type: block, block: b0}\n")
    with quick(2.0):
        e = error_of(text)
    assert f"more than {builder.MAX_STEPS:,} steps" in e.message


def test_long_list_parameter_is_bounded_work():
    """Was: the memo key repr'd every value on every use (a 60,000-entry list, 1,000 times)."""
    cin = "[" + ", ".join(["1"] * 60_000) + "]"
    text = ("name: t\ninput: [3, 8, 8]\nblocks:\n  b: {params: {c: null}, layers: [{type: concat, Cin: c}]}\n"
            f"layers:\n  - {{type: block, block: b, repeat: 1000, with: {{c: {cin}}}}}\n")
    located = loads(text, "t.yaml")  # (reading 60,000 YAML nodes is not what is timed)
    with quick(1.0):
        with pytest.raises(SpecError) as err:
            builder.build(located)
    # each use of c resolves 60,000 entries, 59,997 of them past a per-axis list's 3, + 1 item, + 1 repeat
    assert f"(1 operation and 59,999 expansion steps each) would exceed {builder.MAX_STEPS:,} steps" in err.value.message
    assert str(err.value.location).startswith("t.yaml:6:")


def test_long_name_is_refused_before_it_is_copied_into_every_path():
    name = "n" * 5000
    text = (f"name: t\ninput: [3, 8, 8]\nblocks:\n  b: {{layers: [{{type: relu, name: {name}}}]}}\n"
            "layers:\n  - {type: block, block: b, repeat: 10}\n")
    e = error_of(text)
    assert f"more than {builder.MAX_PATH:,}" in e.message and len(e.one_line()) < 400


@pytest.mark.parametrize("where", ["network", "layer", "cli", "claims"])
def test_deconv_huge_kernel_is_closed_form(where, tmp_path, capsys):
    """Was: a loop over the kernel taps (K = 10**8 never finished)."""
    k = 10**8
    # stride 1, no padding: every product lands in the output, every output position is reached
    macs = 1 * 4 * 3 * 8 * 8 * k * k  # N * Cout * Cin * H * W * K^2
    with quick(1.5):
        if where == "network":
            n = net(f"name: t\ninput: [3, 8, 8]\nlayers:\n  - {{type: deconv, K: {k}, Cout: 4}}\n")
            assert n.evaluate(EXACT).totals.macs == macs
        elif where == "layer":
            layer = parse_layer({"type": "deconv", "K": k, "Cout": 4, "Cin": 3, "H": 8, "W": 8})
            row = evaluate_layer(layer, EXACT).rows[0]
            assert row.macs == macs and row.output_shape == (1, 4, 8 + k - 1, 8 + k - 1)
        elif where == "cli":
            assert main(["layer", "deconv", "--K", str(k), "--Cin", "3", "--H", "8", "--W", "8",
                         "--Cout", "4", "--format", "json"]) == 0
        else:
            claims = tmp_path / "c.yaml"
            claims.write_text(textwrap.dedent(f"""\
                title: t
                claims:
                  - id: big-k
                    source: {{file: x.txt, quote: "q"}}
                    claim: deconv MACs at a huge kernel
                    formula: K*K*Cin*H*W*Cout
                    against: deconv.macs
                    set: {{K: {k}}}
                    expected: holds
                """))
            assert main(["check", "--claims", str(claims)]) == 0
    capsys.readouterr()


# -- ints bounded: block parameters, expressions, record fields -------------------------------------

P64 = "*".join(["p"] * 64)
NESTED = f"""\
name: t
input: [3, 8, 8]
blocks:
  b0: {{params: {{p: null}}, layers: [{{type: conv, K: 1, Cout: "p % 7 + 1"}}]}}
  b1: {{params: {{p: null}}, layers: [{{type: block, block: b0, with: {{p: "{P64}"}}}}]}}
  b2: {{params: {{p: null}}, layers: [{{type: block, block: b1, with: {{p: "{P64}"}}}}]}}
  b3: {{params: {{p: null}}, layers: [{{type: block, block: b2, with: {{p: "{P64}"}}}}]}}
  b4: {{params: {{p: null}}, layers: [{{type: block, block: b3, with: {{p: "{P64}"}}}}]}}
layers:
  - {{type: block, block: b4, with: {{p: 12345}}}}
"""


def test_parameter_growing_through_nested_blocks():
    """Was: p**(64**4) built digit by digit (a hang)."""
    with quick(1.0):
        e = error_of(NESTED)
    # b4, the first to multiply, takes p = 12345 to a power left to right: 12345**24 has 99
    # digits (24 * log10(12345) = 98.2), 12345**25 has 103: the 25th factor is refused
    assert f"a result of '*' has 103 digits, more than {MAX_INT_DIGITS}" in e.message
    assert e.field == "p" and str(e.location) == at(NESTED, 8, "p: \"")
    assert e.expected == f"ints of at most {MAX_INT_DIGITS} digits"


@pytest.mark.parametrize("expr", [
    "*".join(["99999999"] * 28),  # 224 digits by repeated multiplication, in 251 characters
    "1" + "0" * 101 + " - 1",     # a literal past the bound
    "(p*p*p*p*p*p*p*p)*(p*p*p*p*p*p*p*p)*(p*p*p*p*p*p*p*p)*(p*p*p*p*p*p*p*p)*p*p*p",  # 10**105
])
def test_expression_value_bounded(expr):
    text = (f"name: t\ninput: [3, 8, 8]\nblocks:\n  b: {{params: {{p: 1000}}, layers: [{{type: relu, when: \"{expr}\"}}]}}\n"
            "layers:\n  - {type: block, block: b}\n")
    with quick(1.0):
        e = error_of(text)
    assert f"more than {MAX_INT_DIGITS}" in e.message and e.field == "when"


def test_values_at_the_bound_are_fine():
    big = str(MAX_INT)
    n = net(f"name: t\ninput: [3, 8, 8]\nblocks:\n  b: {{params: {{p: {big}}}, layers: [{{type: linear, name: fc, Cout: \"p - {big} + 7\"}}]}}\n"
            "layers:\n  - {type: flatten}\n  - {type: block, block: b}\n")
    assert n.shapes()["fc"] == (1, 7)


@pytest.mark.parametrize("data, field", [
    ({"type": "conv", "K": 3, "Cout": 10**MAX_INT_DIGITS}, "Cout"),
    ({"type": "conv", "K": [3, 10**200], "Cout": 4}, "K.1"),
    ({"type": "conv", "K": 3, "Cout": 4, "H": 10**5000, "W": 8, "Cin": 3}, "H"),
    ({"type": "concat", "Cin": [4, 10**MAX_INT_DIGITS]}, "Cin.1"),
    ({"type": "add", "inputs": 10**150}, "inputs"),
    ({"type": "linear", "Cout": 10**(10**5)}, "Cout"),
])
def test_record_ints_bounded_in_the_api(data, field):
    """Was: PositiveInt fields took ints of any size (10**5000: ValueError from repr)."""
    with quick(1.0):
        with pytest.raises(SpecError) as err:
            parse_layer(data)
    e = err.value
    assert e.field == field and f"digits, more than {MAX_INT_DIGITS}" in e.message
    assert e.expected == f"an int of at most {MAX_INT_DIGITS} digits"
    assert len(e.one_line()) < 200


def test_record_int_at_the_bound_accepted():
    assert parse_layer({"type": "linear", "Cout": MAX_INT}).Cout == MAX_INT


# -- the operation limit: the real count, checked before repeats run --------------------------------


def test_repeats_counted_exactly_with_overrides(monkeypatch):
    """Was: an override that empties iteration 0 got past the up-front check (0 * repeats)."""
    monkeypatch.setattr(builder, "MAX_OPS", 20)
    spec = """\
    name: t
    input: [3, 8, 8]
    blocks: {{b: {{params: {{x: 1}}, layers: [{{type: relu, when: x}}, {{type: relu}}]}}}}
    layers:
      - {{type: block, block: b, repeat: {n}, overrides: {{0: {{x: 0}}}}}}
    """
    # iteration 0 adds 1 operation, the others 2: 1 + 2 * 9 = 19, 1 + 2 * 10 = 21
    assert len(net(spec.format(n=10)).ops) == 19
    with quick(1.0):
        e = error_of(spec.format(n=11))
    assert "11 repeats of block 'b' (2 operations each) would exceed 20 operations" in e.message


def test_override_growing_a_later_iteration_is_counted(monkeypatch):
    monkeypatch.setattr(builder, "MAX_OPS", 20)
    spec = """\
    name: t
    input: [3, 8, 8]
    blocks: {{b: {{params: {{x: 0}}, layers: [{{type: relu, when: x}}, {{type: relu}}]}}}}
    layers:
      - {{type: block, block: b, repeat: {n}, overrides: {{{i}: {{x: 1}}}}}}
    """
    assert len(net(spec.format(n=19, i=18)).ops) == 20
    e = error_of(spec.format(n=20, i=19))
    assert "network has more than 20 operations" in e.message


def test_repeat_near_the_operation_limit_refused_up_front():
    """Was: repeat: 999990 took > 10 s and 1.2 GB before the limit (then 1,000,000) fired."""
    text = ("name: t\ninput: [3, 8, 8]\nblocks: {b: {layers: [{type: relu}]}}\n"
            "layers: [{type: block, block: b, repeat: 999990}]\n")
    with quick(1.0):
        e = error_of(text)
    assert f"would exceed {builder.MAX_OPS:,} operations" in e.message


# -- the JSON Schema says the same -----------------------------------------------------------------


def test_schema_describes_input_batch_and_the_int_bound():
    from calc.schema import spec_schema

    schema = spec_schema()
    forms = schema["properties"]["input"]["anyOf"]
    assert forms[0]["maxItems"] == 3 and forms[0]["items"]["maximum"] == MAX_INT
    assert [sorted(f["required"]) for f in forms[1:]] == [["C"], ["C", "L"], ["C", "H", "W"], ["C", "D", "H", "W"],
                                                       ["T"], ["T", "d"]]
    assert schema["properties"]["batch"]["minimum"] == 1
    cout = schema["$defs"]["Linear"]["properties"]["Cout"]["anyOf"][0]
    assert cout["maximum"] == MAX_INT


def test_schema_validates_input_forms():
    from calc.schema import spec_schema

    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(spec_schema())
    for input_, ok in [([3, 8, 8], True), ([1, 3, 8, 8], False), ({"C": 3, "H": 8, "W": 8}, True),
                       ({"N": 2, "C": 1, "D": 2, "H": 8, "W": 8}, True), ({"C": 3, "H": 8}, False)]:
        errors = list(validator.iter_errors({"name": "t", "input": input_, "layers": [{"type": "relu"}]}))
        assert (not errors) == ok, input_


def test_a_block_parameter_must_be_a_name():
    """A YAML key that is no name (null, a number; the fuzzer's '&' edit made one) is a located
    error, not a crash while suggesting a close name (difflib on None)."""
    text = ("name: t\ninput: [3, 8, 8]\nblocks:\n  b:\n    params: {null: 1, ch: 2}\n"
            "    layers: [{type: relu}]\nlayers:\n  - {type: block, block: b, with: {c: 3}}\n")
    e = error_of(text)
    assert "parameter name None is not a name" in e.message and e.field == "blocks.b.params"
    assert str(e.location).startswith("t.yaml:5:")
