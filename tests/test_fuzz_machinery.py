"""Fuzzing below the YAML text: block parameters, `repeat`, `overrides`, `when` and the integer
expressions of specs, and the Python API.

(a) Blocks and expressions, against an oracle.  Expressions are drawn as trees; the test
    computes each tree's value itself (no `eval`, no calc code) and renders the tree as the
    text a spec would hold.  A spec that uses a block with parameters, repeated, must cost
    exactly what the same network written out by hand costs (the block inlined, every
    expression replaced by its value), or be refused with one located error exactly when the
    hand-written one cannot exist (a size below 1, a division by zero, a value over the
    digit bound).
(b) The Python API with arguments of every type: a result, or a `CalcError` in one line;
    never another exception, never a change to process-wide state.

Budgets follow the hypothesis profile (tests/conftest.py); `python3 bench/run.py --fuzz-long`
runs this file with a large budget, randomized.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from calc.errors import CalcError
from calc.expr import MAX_LENGTH
from calc.limits import int_too_big
from calc.network import load_network, network_from_text
from test_fuzz import FUZZ, budget, check_error, check_report, watchdog

# -- expression trees with an independent evaluator -------------------------------------------


class Undefined(Exception):
    """The expression has no value (division by zero, a value over the bound)."""


@dataclass(frozen=True)
class Node:
    op: str  # 'int', 'name', '+', '-', '*', '//', '%', 'neg'
    value: int | str | None = None
    left: "Node | None" = None
    right: "Node | None" = None

    def text(self) -> str:
        if self.op == "int":
            return str(self.value)
        if self.op == "name":
            return str(self.value)
        if self.op == "neg":
            return f"-({self.left.text()})"
        return f"({self.left.text()} {self.op} {self.right.text()})"

    def value_in(self, scope: dict[str, int]) -> int:
        if self.op == "int":
            return self.value
        if self.op == "name":
            return scope[self.value]
        if self.op == "neg":
            result = -self.left.value_in(scope)
        else:
            a, b = self.left.value_in(scope), self.right.value_in(scope)
            if self.op in ("//", "%") and b == 0:
                raise Undefined("division by zero")
            result = {"+": a + b, "-": a - b, "*": a * b}.get(self.op) if self.op in "+-*" else (
                a // b if self.op == "//" else a % b)
        if int_too_big(result):
            raise Undefined("over the digit bound")
        return result


def expressions(names: tuple[str, ...], max_leaves: int = 6) -> st.SearchStrategy[Node]:
    small = st.integers(1, 12).map(lambda v: Node("int", v))
    named = st.sampled_from(names).map(lambda n: Node("name", n)) if names else small
    edge = st.sampled_from([0, 10**30, 10**99, 10**100 - 1]).map(lambda v: Node("int", v))
    leaves = st.one_of(small, small, named, named, named, edge)  # edge cases one draw in six
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.tuples(st.sampled_from(["+", "+", "*", "*", "-", "//", "%"]), inner, inner).map(
                lambda t: Node(t[0], None, t[1], t[2])),
            inner.map(lambda n: Node("neg", None, n)),
        ),
        max_leaves=max_leaves,
    )


# -- (a) block machinery against the written-out network --------------------------------------


@st.composite
def block_cases(draw):
    """A block `b` with parameters p and q whose layers use expressions in p and q, used with
    values, repeated, with an override; and the expected hand-expanded layer list (or None
    when the spec must be refused)."""
    p_default = draw(st.integers(1, 8))
    exprs = draw(st.lists(expressions(("p", "q")).flatmap(
        lambda e: st.sampled_from([e, Node("+", None, Node("*", None, e, e), Node("int", 1))])),  # e*e + 1 >= 1
        min_size=1, max_size=3))
    when = draw(st.none() | expressions(("p", "q"), max_leaves=3).flatmap(
        lambda e: st.sampled_from([e, Node("%", None, e, Node("int", 2))])))  # e % 2 is 0 or 1
    repeat = draw(st.integers(1, 4))
    given_q = draw(st.integers(1, 9) | st.sampled_from([0, -2, 10**99]))
    override = draw(st.none() | st.tuples(st.integers(0, repeat - 1), st.integers(1, 9)))
    body = []
    for i, e in enumerate(exprs):
        body.append({"type": "conv", "name": f"c{i}", "K": 1, "Cout": f"({e.text()})"})
        body.append({"type": "relu", "name": f"r{i}"})
    if when is not None:
        body.insert(0, {"type": "batchnorm", "name": "bn", "when": f"({when.text()})"})
    spec = {
        "name": "fuzz",
        "input": [3, 4, 4],
        "blocks": {"b": {"params": {"p": p_default, "q": None}, "layers": body}},
        "layers": [{"type": "block", "name": "blk", "block": "b", "with": {"q": given_q}, "repeat": repeat}],
    }
    if override is not None:
        spec["layers"][0]["overrides"] = {override[0]: {"p": override[1]}}
    # The oracle: write the network out by hand.
    layers: list[dict] = []
    try:
        texts = [item.get("Cout", "") for item in body] + [item.get("when", "") for item in body]
        if any(len(t) > MAX_LENGTH for t in texts):
            raise Undefined("an expression longer than the documented bound")
        for i in range(repeat):
            scope = {"p": p_default, "q": given_q}
            if override is not None and override[0] == i:
                scope["p"] = override[1]
            if int_too_big(given_q):
                raise Undefined("parameter over the bound")
            if when is not None:
                w = when.value_in(scope)
                if w < 0:
                    raise Undefined("negative when")
                if w:
                    layers.append({"type": "batchnorm", "name": f"blk_{i}_bn"})
            for j, e in enumerate(exprs):
                cout = e.value_in(scope)
                if cout < 1:
                    raise Undefined("a size below 1")
                layers.append({"type": "conv", "name": f"blk_{i}_c{j}", "K": 1, "Cout": cout})
                layers.append({"type": "relu", "name": f"blk_{i}_r{j}"})
    except Undefined:
        return spec, None
    return spec, {"name": "fuzz", "input": [3, 4, 4], "layers": layers}


def evaluated(spec: dict, file: str, seconds: float):
    """The spec's report, or the error line (checked: located, one line) if it is refused."""
    with watchdog(seconds):
        try:
            return network_from_text(yaml.safe_dump(spec, sort_keys=False), file).evaluate()
        except CalcError as exc:
            return check_error(exc, file)


@settings(max_examples=budget(4), **FUZZ)
@given(block_cases())
def test_blocks_cost_what_the_written_out_network_costs(case):
    spec, written_out = case
    report = evaluated(spec, "block.yaml", 10)
    if isinstance(report, str):
        assert written_out is None, f"refused, but the network exists: {report}"
        return
    assert written_out is not None, "accepted, but the written-out network cannot exist"
    check_report(report)
    expected = network_from_text(yaml.safe_dump(written_out, sort_keys=False), "flat.yaml").evaluate()
    assert len(report.rows) == len(expected.rows)
    for got, want in zip(report.rows, expected.rows):
        assert (got.kind, got.params, got.macs, got.flops, got.output_shape) == (
            want.kind, want.params, want.macs, want.flops, want.output_shape), got.path
    assert report.totals == expected.totals


@st.composite
def nested_blocks(draw):
    """Blocks passing parameters down several levels (b0 uses b1 uses ... with `p: EXPR`),
    each level possibly repeated: the builder must give an answer or a located refusal, fast,
    whatever the values grow to."""
    levels = draw(st.integers(1, 6))
    blocks = {}
    for level in range(levels):
        inner = (
            [{"type": "block", "block": f"b{level + 1}", "with": {"p": "(%s)" % draw(expressions(("p",), 4)).text()},
              "repeat": draw(st.integers(1, 3) | st.sampled_from(["p", "p * p", "p // 2"]))}]
            if level + 1 < levels
            else [{"type": "conv", "K": 1, "Cout": "(%s)" % draw(expressions(("p",), 4)).text()}]
        )
        if draw(st.booleans()):
            inner.append({"type": "relu", "when": "(%s)" % draw(expressions(("p",), 3)).text()})
        blocks[f"b{level}"] = {"params": {"p": draw(st.integers(1, 6))}, "layers": inner}
    return {"name": "nest", "input": [2, 3, 3], "blocks": blocks,
            "layers": [{"type": "block", "block": "b0", "repeat": draw(st.integers(1, 3))}]}


@settings(max_examples=budget(4), **FUZZ)
@given(nested_blocks())
def test_nested_blocks_answer_or_refuse_quickly(spec):
    report = evaluated(spec, "nest.yaml", 5)
    if not isinstance(report, str):
        check_report(report)


# -- (b) the Python API with arguments of every type ------------------------------------------

SPEC = Path(__file__).resolve().parent.parent / "specs" / "resnet18.yaml"
ANYTHING = (
    st.none() | st.booleans() | st.integers(-3, 10) | st.sampled_from([10**200, 2**63, -(10**40)])
    | st.floats(allow_nan=True) | st.text(max_size=12) | st.binary(max_size=8)
    | st.sampled_from(["exact", "2mac", "thop", "fp16", "fp8", "bf16", "int8", str(SPEC), SPEC,
                       "name: t\ninput: [3, 8, 8]\nlayers: [{type: relu}]\n", b"name: t\n", [], {}, ()])
)
SHAPES = (
    st.lists(st.integers(-2, 40) | st.sampled_from([True, 2.5, "3", 10**200, None]), max_size=6).map(tuple)
    | st.tuples(st.integers(1, 4), st.just(3), st.integers(1, 64), st.integers(1, 64))
    | ANYTHING
)


def api_outcome(call) -> object:
    """The call's result, or None after checking its error is the library's, in one line."""
    limit = sys.get_int_max_str_digits()
    with watchdog(10):
        try:
            return call()
        except CalcError as exc:
            line = exc.one_line()
            assert line and "\n" not in line and "\r" not in line
            return None
        finally:
            assert sys.get_int_max_str_digits() == limit, "the API changed the int-str digit limit"


@pytest.fixture(scope="module")
def resnet18():
    return load_network(SPEC)


@settings(max_examples=budget(4), **FUZZ)
@given(convention=ANYTHING, dtype=ANYTHING, shape=SHAPES, batch=st.none() | ANYTHING)
def test_evaluate_with_any_arguments(resnet18, convention, dtype, shape, batch):
    kwargs = {} if batch is None else {"batch": batch}
    report = api_outcome(lambda: resnet18.evaluate(convention, dtype, shape, **kwargs))
    if report is not None:
        check_report(report)
        assert all(type(d) is int and d >= 1 for d in report.rows[-1].output_shape)


@settings(max_examples=budget(4), **FUZZ)
@given(source=ANYTHING, file=st.none() | ANYTHING)
def test_loading_any_object(source, file):
    api_outcome(lambda: load_network(source))
    api_outcome(lambda: network_from_text(source) if file is None else network_from_text(source, file))


@settings(max_examples=budget(4), **FUZZ)
@given(data=st.dictionaries(st.sampled_from(["type", "K", "Cin", "Cout", "H", "W", "L", "groups", "bias",
                                             "stride", "padding", "N", "act", "features", "name"]),
                            ANYTHING | st.sampled_from(["conv", "deconv", "linear", "relu", "maxpool"]),
                            max_size=8)
       | ANYTHING,
       convention=ANYTHING)
def test_parse_and_evaluate_layer_with_any_data(data, convention):
    from calc import evaluate_layer, parse_layer

    layer = api_outcome(lambda: parse_layer(data))
    if layer is not None:
        report = api_outcome(lambda: evaluate_layer(layer))
        if report is not None:
            check_report(report)
        api_outcome(lambda: evaluate_layer(layer, convention))
