"""Composition on small specs whose figures are derived by hand."""

import textwrap

from calc import conventions
from calc.network import network_from_text
from calc.network.fold import fold_batchnorm


def net(text):
    return network_from_text(textwrap.dedent(text), "t.yaml")


def test_shufflenet_style_split_branch_concat_shuffle():
    n = net("""\
    name: unit
    input: [8, 4, 4]
    defaults: {conv: {bias: false}}
    layers:
      - type: parallel
        name: unit
        split: true
        branches:
          - []
          - [{type: conv, name: pw, K: 1, Cout: 4}]
      - {type: channel_shuffle, name: shuffle, groups: 2}
    """)
    shapes = n.shapes()
    assert shapes["unit.0.split"] == (1, 4, 4, 4)
    assert shapes["unit.1.pw"] == (1, 4, 4, 4)
    assert shapes["unit.concat"] == (1, 8, 4, 4)
    r = n.evaluate()
    assert r.totals.params == 4 * 4
    assert r.totals.macs == 4 * 4 * 4 * 4  # Cout * H * W * Cin


def test_squeeze_excitation_gate_broadcasts():
    n = net("""\
    name: se
    input: [16, 8, 8]
    layers:
      - type: gate
        name: se
        body:
          - {type: adaptive_avgpool, name: pool, output_size: 1}
          - {type: conv, name: fc1, K: 1, Cout: 4}
          - {type: relu}
          - {type: conv, name: fc2, K: 1, Cout: 16}
          - {type: hardsigmoid}
    """)
    r = n.evaluate(conventions.get("exact"))
    rows = {row.path: row for row in r.rows}
    assert rows["se.mul"].output_shape == (1, 16, 8, 8)
    assert rows["se.mul"].flops == 16 * 8 * 8
    assert r.totals.params == (16 * 4 + 4) + (4 * 16 + 16)


def test_dense_block_concat_grows_channels():
    n = net("""\
    name: dense
    input: [4, 6, 6]
    blocks:
      dense_layer:
        params: {growth: null}
        layers:
          - type: parallel
            branches:
              - []
              - [{type: conv, name: conv, K: 3, padding: 1, Cout: growth, bias: false}]
    layers:
      - {type: block, name: block1, block: dense_layer, repeat: 3, with: {growth: 2}}
    """)
    shapes = n.shapes()
    assert shapes["block1.2.concat"] == (1, 4 + 3 * 2, 6, 6)
    assert n.evaluate().totals.params == 9 * 2 * (4 + 6 + 8)


def test_inception_mapping_branches_and_repeat_overrides():
    n = net("""\
    name: inc
    input: [3, 8, 8]
    blocks:
      stage:
        params: {c: null, stride: 1}
        layers:
          - {type: conv, name: conv, K: 3, padding: 1, stride: stride, Cout: c}
    layers:
      - {type: block, name: s, block: stage, repeat: 2, with: {c: 4}, overrides: {0: {stride: 2}}}
      - type: parallel
        name: mix
        branches:
          branch1x1: [{type: conv, K: 1, Cout: 2}]
          branch_pool:
            - {type: maxpool, K: 3, stride: 1, padding: 1}
            - {type: conv, K: 1, Cout: 3}
    """)
    shapes = n.shapes()
    assert shapes["s.0.conv"] == (1, 4, 4, 4)
    assert shapes["s.1.conv"] == (1, 4, 4, 4)
    assert shapes["mix.branch_pool.1"] == (1, 3, 4, 4)
    assert shapes["mix.concat"] == (1, 5, 4, 4)


def test_defaults_global_and_per_kind_and_when():
    n = net("""\
    name: d
    input: [2, 4, 4]
    defaults:
      bias: false
      linear: {bias: true}
    layers:
      - {type: conv, K: 1, Cout: 3}
      - {type: relu, when: 0}
      - {type: flatten}
      - {type: linear, Cout: 5}
    """)
    rows = n.evaluate().rows
    assert [r.kind for r in rows] == ["conv", "flatten", "linear"]
    assert rows[0].params == 2 * 3
    assert rows[2].params == 48 * 5 + 5


def test_fold_bn_only_directly_after_conv():
    n = net("""\
    name: f
    input: [3, 8, 8]
    defaults: {conv: {bias: false}}
    layers:
      - {type: conv, name: a, K: 3, padding: 1, Cout: 4}
      - {type: batchnorm, name: a_bn}
      - {type: relu, name: a_act}
      - {type: conv, name: b, K: 3, padding: 1, Cout: 4}
      - {type: relu, name: b_act}
      - {type: batchnorm, name: b_bn}
    """)
    folded = fold_batchnorm(n).evaluate()
    paths = [r.path for r in folded.rows]
    assert "a_bn" not in paths and "b_bn" in paths
    before = n.evaluate().totals
    # a gains 4 biases and loses 8 BN params and 8 buffers
    assert folded.totals.params == before.params - 8 + 4
    assert folded.totals.buffers == before.buffers - 8


def test_single_layer_branch_takes_the_branch_name():
    n = net("""\
    name: fire
    input: [16, 8, 8]
    layers:
      - type: parallel
        name: fire
        branches:
          expand1x1: {type: conv, K: 1, Cout: 4}
          expand3x3: [{type: conv, K: 3, padding: 1, Cout: 4}]
    """)
    shapes = n.shapes()
    assert shapes["fire.expand1x1"] == (1, 4, 8, 8)
    assert shapes["fire.expand3x3.0"] == (1, 4, 8, 8)
    assert shapes["fire.concat"] == (1, 8, 8, 8)
