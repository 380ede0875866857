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


# -- names a new user types (issue 16) -----------------------------------------------------------


def test_unknown_kind_lists_layer_kinds_and_composites():
    """Not only the composites: the expected part names every layer kind as well."""
    from calc.layers import REGISTRY

    e = error_of(HEAD + "  - {type: convolution, K: 3, Cout: 8}\n")
    assert e.expected.startswith("a layer kind (adaptive_avgpool, ")
    assert all(kind in e.expected for kind in REGISTRY)
    assert "or a composite (block, gate, parallel, residual, sequential)" in e.expected


@pytest.mark.parametrize("torch_name, calc_name", [
    ("Conv2d", "conv"), ("Conv1d", "conv"), ("nn.Conv3d", "conv"), ("ConvTranspose2d", "deconv"),
    ("BatchNorm2d", "batchnorm"), ("BatchNorm1d", "batchnorm"), ("Linear", "linear"), ("ReLU", "relu"),
    ("ReLU6", "relu6"), ("LeakyReLU", "leaky_relu"), ("MaxPool2d", "maxpool"), ("AvgPool2d", "avgpool"),
    ("AdaptiveAvgPool2d", "adaptive_avgpool"), ("Dropout", "dropout"), ("Flatten", "flatten"),
    ("Upsample", "upsample"), ("SiLU", "silu"), ("GELU", "gelu"), ("Sigmoid", "sigmoid"),
    ("Sequential", "sequential"),
])
def test_pytorch_kind_gets_the_calc_name(torch_name, calc_name):
    e = error_of(HEAD + f"  - {{type: {torch_name}}}\n")
    assert e.message == f"unknown layer kind '{torch_name}'; calc calls it '{calc_name}'"
    assert str(e.location) == at(e, 4, "type")


@pytest.mark.parametrize("layer, torch_field, calc_field", [
    ("{type: conv, kernel_size: 3, Cout: 8}", "kernel_size", "K"),
    ("{type: conv, K: 3, out_channels: 8}", "out_channels", "Cout"),
    ("{type: conv, in_channels: 3, K: 3, Cout: 8}", "in_channels", "Cin"),
    ("{type: batchnorm, num_features: 3}", "num_features", "Cin"),
    ("{type: flatten}\n  - {type: linear, in_features: 3072, Cout: 10}", "in_features", "Cin"),
    ("{type: flatten}\n  - {type: linear, out_features: 10}", "out_features", "Cout"),
])
def test_pytorch_field_gets_the_calc_name_before_missing_fields(layer, torch_field, calc_field):
    """`kernel_size: 3` used to say only "missing required field 'K'": the unknown field is the
    cause, so it is reported first, with the name calc uses."""
    e = error_of(HEAD + f"  - {layer}\n")
    kind = layer.split("type: ")[-1].split(",")[0].rstrip("}")
    assert e.message == f"unknown field '{torch_field}' for '{kind}'; calc calls it '{calc_field}'"
    assert e.field.endswith(torch_field) and str(e.location).startswith("bad.yaml:")
    assert "missing" not in e.one_line()


@pytest.mark.parametrize("value, fix", [
    ('"(2, 2)"', "stride: [2, 2]"),      # a quoted Python tuple
    ('"2, 2"', "stride: [2, 2]"),        # a comma list in a string
    ("(2, 2)", "stride: [2, 2]"),        # unquoted in a flow mapping: YAML reads stride: '(2'
])
def test_tuple_syntax_gets_the_list_syntax(value, fix):
    e = error_of(HEAD + f"  - {{type: conv, K: 3, Cout: 8, stride: {value}}}\n")
    assert "is a string, not a list (YAML has no tuples)" in e.message
    assert e.expected == f"a list in brackets: {fix}"
    assert e.field.endswith("stride") and str(e.location) == at(e, 4, "stride")


def test_list_stride_is_fine():
    net = network_from_text(HEAD + "  - {type: conv, K: 3, Cout: 8, stride: [2, 2]}\n")
    assert net.evaluate().rows[0].output_shape[2:] == ((32 - 3) // 2 + 1,) * 2


def test_undefined_block_parameter_says_so():
    """Used to be "Input should be a valid integer, got 'ch'"."""
    e = error_of(BLOCK % "ch")
    assert e.message == "'ch' is not a parameter of block 'b' (parameters: width)"
    assert e.path == "stage.0" and e.field == "Cout" and str(e.location) == at(e, 7, "Cout")


def test_bare_word_outside_blocks_says_there_are_no_parameters():
    e = error_of(HEAD + "  - {type: conv, K: 3, Cout: ch}\n")
    assert e.message == "'ch' is not a number, and there are no block parameters here"
    assert str(e.location) == at(e, 4, "Cout")


def test_misspelt_word_where_words_are_taken_keeps_the_choices():
    """`act` takes words: a misspelt one is not taken for a block parameter."""
    e = error_of(HEAD + "  - {type: conv, K: 3, Cout: 8, act: rellu}\n")
    assert "not a parameter" not in e.message and "'relu'" in e.message


# -- defaults: a kind's reach only that kind, a field's every kind that has it (issue 16) --------

DEFAULTS = """\
name: t
input: [8, 8, 8]
defaults: %s
layers:
  - {type: conv, name: c, K: 3, Cout: 8, padding: 1}
  - {type: pointwise, name: pw, Cout: 8}
  - {type: depthwise, name: dw, K: 3, padding: 1}
"""


def params_by_path(defaults: str) -> dict[str, int]:
    report = network_from_text(DEFAULTS % defaults).evaluate()
    return {row.path: row.params for row in report.rows}


def test_kind_defaults_reach_that_kind_only():
    got = params_by_path("{conv: {bias: false}}")
    assert got == {"c": 3 * 3 * 8 * 8, "pw": 8 * 8 + 8, "dw": 3 * 3 * 8 + 8}


def test_field_defaults_reach_every_kind_with_the_field():
    got = params_by_path("{bias: false}")
    assert got == {"c": 3 * 3 * 8 * 8, "pw": 8 * 8, "dw": 3 * 3 * 8}


def test_kind_defaults_win_over_field_defaults_and_the_layer_over_both():
    got = params_by_path("{bias: false, pointwise: {bias: true}}")
    assert got == {"c": 3 * 3 * 8 * 8, "pw": 8 * 8 + 8, "dw": 3 * 3 * 8}


def test_bare_word_for_a_bool_keeps_true_or_false():
    e = error_of(HEAD + "  - {type: conv, K: 3, Cout: 8, bias: off}\n")
    assert "not a parameter" not in e.message and "not a number" not in e.message
    assert e.expected == "true or false"
