"""Invalid records are rejected with the field named and what was expected."""

import pytest

from calc.errors import CalcError, ShapeError, SpecError
from calc.parse import parse_layer
from calc.report import evaluate_layer


@pytest.mark.parametrize(
    "data, field, fragment",
    [
        ({"type": "convv", "K": 3, "Cout": 4}, "type", "did you mean 'conv'"),
        ({"type": "conv", "K": 3, "Cout": 4, "stide": 2}, "stide", "did you mean 'stride'"),
        ({"type": "conv", "Cout": 4}, "K", "missing required field"),
        ({"type": "conv", "K": 0, "Cout": 4}, "K", "positive int"),
        ({"type": "conv", "K": -3, "Cout": 4}, "K", "positive int"),
        ({"type": "conv", "K": "3", "Cout": 4}, "K", "invalid value"),
        ({"type": "conv", "K": 3.0, "Cout": 4}, "K", "invalid value"),
        ({"type": "conv", "K": 3, "Cout": 6, "groups": 4}, "groups", "does not divide Cout"),
        ({"type": "conv", "K": 3, "Cout": 6, "Cin": 4, "groups": 3}, "groups", "does not divide Cin"),
        ({"type": "conv", "K": [3, 3], "stride": [1, 1, 1], "Cout": 4}, "K", "differ in length"),
        ({"type": "conv", "K": 3, "Cout": 4, "padding": "samee"}, "padding", "'same', 'valid'"),
        ({"type": "linear", "Cout": True}, "Cout", "positive int"),
        ({"type": "relu", "dim": 1}, "dim", "only to softmax"),
        ({"type": "avgpool", "K": 2, "dilation": 2}, "dilation", "no dilation"),
        ({"type": "upsample"}, "scale_factor", "exactly one"),
        ({"type": "deconv", "K": 3, "Cout": 5, "groups": 2}, "groups", "does not divide"),
    ],
)
def test_invalid_record_names_field(data, field, fragment):
    with pytest.raises(SpecError) as err:
        parse_layer(data)
    assert err.value.field == field
    assert fragment in err.value.one_line()


@pytest.mark.parametrize(
    "data, field, fragment",
    [
        ({"type": "conv", "K": 7, "Cout": 4, "Cin": 3, "H": 5, "W": 5}, "K", "larger than the padded input"),
        ({"type": "conv", "K": 3, "Cout": 4, "Cin": 3, "H": 5}, "W", "incomplete"),
        ({"type": "conv", "K": 3, "Cout": 4, "H": 5, "W": 5}, "Cin", "not given"),
        ({"type": "conv", "K": [3, 3, 3], "Cout": 4, "Cin": 3, "H": 5, "W": 5}, "K", "3 entries for a 2-d"),
        ({"type": "maxpool", "K": 2, "padding": 2, "Cin": 3, "H": 5, "W": 5}, "padding", "half the kernel"),
        ({"type": "deconv", "K": 3, "Cout": 4, "Cin": 3, "H": 5, "W": 5, "stride": 2, "output_padding": 2},
         "output_padding", "smaller than stride"),
        ({"type": "prelu", "num_parameters": 5, "Cin": 3}, "num_parameters", "5 slopes for 3 channels"),
        ({"type": "concat", "Cin": [3]}, "Cin", "at least two"),
    ],
)
def test_unfit_shapes_name_field(data, field, fragment):
    with pytest.raises(CalcError) as err:
        evaluate_layer(parse_layer(data))
    assert err.value.field == field
    assert fragment in err.value.one_line()
    assert isinstance(err.value, (ShapeError, SpecError))
