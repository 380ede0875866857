"""One test per class of bad spec: the message, the layer path and the file:line:col."""

import textwrap

import pytest

from calc.errors import CalcError, YamlError
from calc.network import network_from_text


def error_of(text: str) -> CalcError:
    with pytest.raises(CalcError) as err:
        network_from_text(textwrap.dedent(text), "bad.yaml").evaluate()
    err.value.text = textwrap.dedent(text)
    return err.value


def at(e: CalcError, line: int, word: str) -> str:
    """file:line:col of `word` on (1-based) `line` of the spec the error came from."""
    return f"bad.yaml:{line}:{e.text.splitlines()[line - 1].index(word) + 1}"


HEAD = """\
name: t
input: [3, 32, 32]
layers:
"""


def test_unknown_kind_suggests():
    e = error_of(HEAD + "  - {type: conv, K: 3, Cout: 8}\n  - {type: rellu}\n")
    assert "unknown layer kind 'rellu'; did you mean 'relu'?" in e.one_line()
    assert e.one_line().startswith("bad.yaml:5:")
    assert e.path == "1"


def test_unknown_field_suggests():
    e = error_of(HEAD + "  - {type: conv, K: 3, Cout: 8, strid: 2}\n")
    assert "unknown field 'strid' for 'conv'; did you mean 'stride'?" in e.message
    assert str(e.location) == at(e, 4, "strid")
    assert e.path == "0" and e.field == "strid"


def test_channel_mismatch_names_both():
    e = error_of(HEAD + "  - {type: conv, K: 3, Cout: 8}\n  - {type: conv, name: c2, K: 3, Cin: 16, Cout: 8}\n")
    assert "states Cin=16 but its input has Cin=8" in e.message
    assert e.path == "c2" and e.field == "Cin"
    assert str(e.location) == at(e, 5, "Cin")


def test_non_dividing_groups_at_shape_time():
    e = error_of(HEAD + "  - {type: conv, K: 3, Cout: 8, groups: 2}\n")
    assert "groups=2 does not divide the 3 input channels" in e.message
    assert e.path == "0" and str(e.location) == at(e, 4, "groups")


def test_kernel_larger_than_padded_input():
    e = error_of("name: t\ninput: [3, 4, 4]\nlayers:\n  - {type: conv, name: big, K: 7, Cout: 8, padding: 1}\n")
    assert "kernel 7 (spanning 7 with dilation 1) is larger than the padded input 4 + 2" in e.message
    assert e.path == "big" and e.field == "K" and str(e.location) == at(e, 4, "K:")


@pytest.mark.parametrize("value", ["0", "-2"])
def test_zero_or_negative_sizes(value):
    e = error_of(HEAD + f"  - {{type: conv, K: 3, Cout: {value}}}\n")
    assert e.field == "Cout" and "positive int" in e.one_line()
    assert str(e.location).startswith("bad.yaml:4:")


def test_zero_input_size():
    e = error_of("name: t\ninput: [3, 0, 32]\nlayers:\n  - {type: relu}\n")
    assert e.field == "input" and "must be a positive int, got 0" in e.message
    assert str(e.location) == at(e, 2, "0")


BLOCK = """\
name: t
input: [8, 16, 16]
blocks:
  b:
    params: {width: null}
    layers:
      - {type: conv, K: 1, Cout: %s}
layers:
  - {type: block, name: stage, block: b, with: {width: 4}}
"""


def test_bad_arithmetic_in_block():
    e = error_of(BLOCK % '"width * / 2"')
    assert "bad arithmetic in 'width * / 2'" in e.message
    assert e.path == "stage.0" and e.field == "Cout" and str(e.location) == at(e, 7, "Cout")


def test_unknown_name_in_block_expression():
    e = error_of(BLOCK % '"widht * 2"')
    assert "unknown name 'widht'" in e.message and "width" in e.message


def test_recursion_between_blocks():
    e = error_of("""\
name: t
input: [8, 16, 16]
blocks:
  a:
    layers: [{type: block, block: b}]
  b:
    layers: [{type: block, block: a}]
layers:
  - {type: block, name: x, block: a}
""")
    assert "blocks use each other recursively: a -> b -> a" in e.message
    assert str(e.location) == at(e, 7, "block: a")


def test_duplicate_names():
    e = error_of(HEAD + "  - {type: relu, name: act}\n  - {type: relu, name: act}\n")
    assert "duplicate layer path 'act' (first at bad.yaml:4:5)" in e.message
    assert str(e.location) == at(e, 5, "name")


def test_duplicate_yaml_keys():
    e = error_of(HEAD + "  - {type: relu, name: a, name: b}\n")
    assert isinstance(e, YamlError) and "duplicate key 'name'" in e.message


def test_unknown_block_parameter_suggests():
    e = error_of(BLOCK.replace("with: {width: 4}", "with: {widht: 4}") % "width")
    assert "block 'b' has no parameter 'widht'; did you mean 'width'?" in e.message


def test_missing_block_parameter():
    e = error_of(BLOCK.replace("with: {width: 4}", "with: {}") % "width")
    assert "block 'b' needs parameter 'width'" in e.message


def test_residual_shape_mismatch():
    e = error_of(HEAD + "  - type: residual\n    name: r\n    body: [{type: conv, K: 1, Cout: 5}]\n")
    assert "inputs do not broadcast: 1x5x32x32, 1x3x32x32" in e.message and e.path == "r.add"


def test_object_constructing_tag_refused():
    e = error_of(HEAD + "  - !!python/object/apply:os.system ['true']\n")
    assert isinstance(e, YamlError) and "not allowed" in e.message and str(e.location) == "bad.yaml:4:5"
