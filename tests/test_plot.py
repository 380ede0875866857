"""Static pictures (calc.plot): every kind in every format is a valid file (the SVG parses as
XML and names the blocks it draws, the PNG and PDF start with their magic bytes), SVG and PDF
are the same bytes on every run, bad requests are one-line usage errors, and without
matplotlib the error says what to install.  Skipped, saying so, without the `plot` extra."""

from __future__ import annotations

import struct
import sys
import xml.etree.ElementTree as ET

import pytest

from calc.compare import compare
from calc.errors import UsageError
from calc.library import library_path
from calc.network import load_network, network_from_text
from calc.render.charts import block_tree, frontier
from calc.report import collapse

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def resnet50():
    net = load_network(library_path("resnet50"))
    return net, net.evaluate(), compare(net)


@pytest.fixture(scope="module")
def plot_bytes():
    pytest.importorskip("matplotlib", reason="plots need the plot extra: pip install 'flopcalc[plot]'")
    from calc.plot import plot_bytes

    return plot_bytes


def _svg_texts(data: bytes) -> list[str]:
    root = ET.fromstring(data)
    assert root.tag == SVG + "svg"
    return ["".join(t.itertext()) for t in root.iter(SVG + "text")]


@pytest.mark.parametrize("kind", ["layers", "memory", "conventions"])
def test_every_kind_is_a_valid_svg_png_and_pdf(plot_bytes, resnet50, kind):
    net, report, cmp = resnet50
    svg = plot_bytes(report, kind, "svg", network=net, comparison=cmp)
    texts = _svg_texts(svg)
    assert len(ET.fromstring(svg).findall(f".//{SVG}path")) > 10  # bars, axes, ticks
    png = plot_bytes(report, kind, "png", network=net, comparison=cmp)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    assert width >= 800 and height >= 300
    pdf = plot_bytes(report, kind, "pdf", network=net, comparison=cmp)
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    if kind == "conventions":
        assert set(cmp.flops) <= set(texts)
    if kind == "memory":
        assert any(t.startswith("peak 9.63MB") for t in texts)  # 2,408,448 elements x 4 bytes


def test_the_layers_plot_names_every_bar_it_draws(plot_bytes, resnet50):
    _, report, _ = resnet50
    nodes = block_tree(report)
    texts = _svg_texts(plot_bytes(report, "layers", "svg"))
    shown = [nodes[i].path for i in frontier(nodes, 2)]
    assert len(shown) == 23 and set(shown) <= set(texts)
    # each bar labelled with its FLOPs in K/M/G (calc.render.numbers.with_units): layer1.0's
    (row,) = [r for r in collapse(report, 2).rows if r.path == "layer1.0"]
    assert row.flops == 466_436_096 and "466.44M" in texts
    deeper = _svg_texts(plot_bytes(report, "layers", "svg", depth=3, metric="params"))
    assert "layer1.0.conv1" in deeper and "params" in deeper


def test_svg_and_pdf_are_the_same_bytes_on_every_run(plot_bytes, resnet50):
    _, report, _ = resnet50
    for fmt in ("svg", "pdf"):
        assert plot_bytes(report, "layers", fmt) == plot_bytes(report, "layers", fmt)


def test_plot_writes_the_file_its_suffix_names(plot_bytes, resnet50, tmp_path):
    from calc.plot import plot

    net, report, _ = resnet50
    plot(report, "memory", tmp_path / "m.PNG", network=net)
    assert (tmp_path / "m.PNG").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(UsageError) as err:
        plot(report, "memory", tmp_path / "m.jpg")
    assert err.value.one_line() == ("cannot tell a picture's format from "
                                    f"'{tmp_path / 'm.jpg'}' (expected a file name ending in .svg, .png, .pdf)")
    assert not (tmp_path / "m.jpg").exists()


def test_bad_requests_are_one_line_usage_errors(plot_bytes, resnet50):
    net, report, _ = resnet50
    cases = [
        (dict(kind="heatmap"), "unknown kind of plot 'heatmap' (expected one of layers, memory, conventions, roofline)"),
        (dict(kind="roofline"), "the roofline plot needs a device"),
        (dict(kind="conventions"), "the conventions plot needs a comparison"),
        (dict(kind="layers", metric="watts"), "unknown metric 'watts'"),
        (dict(kind="layers", depth=9), "depth 9 is not a block level of resnet50 (expected an int from 1 to 4)"),
        (dict(kind="memory", network=load_network(library_path("resnet18"))), "the network does not match"),
    ]
    for kwargs, message in cases:
        kind = kwargs.pop("kind")
        with pytest.raises(UsageError) as err:
            plot_bytes(report, kind, "svg", **kwargs)
        assert err.value.one_line().startswith(message) and "\n" not in err.value.one_line()


def test_a_tiny_network_without_blocks_still_plots(plot_bytes):
    net = network_from_text("name: tiny\ninput: [4]\nlayers:\n  - {type: linear, name: a, Cout: 8}\n"
                            "  - {type: relu, name: r}\n")
    report = net.evaluate()
    assert {"a", "r"} <= set(_svg_texts(plot_bytes(report, "layers", "svg")))
    # the peak, at r: a's output (8 elements) and r's (8), 4 bytes each
    assert f"peak {(8 + 8) * 4}B" in _svg_texts(plot_bytes(report, "memory", "svg", network=net))


def test_without_matplotlib_plotting_is_a_one_line_usage_error(monkeypatch, resnet50):
    from calc.plot import plot_bytes

    _, report, _ = resnet50
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now raises ImportError
    with pytest.raises(UsageError) as err:
        plot_bytes(report, "layers", "png")
    assert err.value.one_line() == ("plotting needs matplotlib, which is not installed "
                                    "(expected pip install 'flopcalc[plot]')")


def test_a_figure_beyond_a_float_is_a_one_line_usage_error(plot_bytes):
    big = 10**99  # 100 digits, the most a size may have
    net = network_from_text(f"name: huge\ninput: [1, {big}, {big}]\nlayers:\n"
                            "  - {type: conv, name: c, K: 1, Cout: 1000000000000, bias: false}\n")
    report = net.evaluate(batch=big)
    assert report.totals.macs == big * big * big * 10**12 > 2**1024  # N x H x W x Cout x Cin(1)
    for kind in ("layers", "memory"):
        with pytest.raises(UsageError) as err:
            plot_bytes(report, kind, "svg", network=net)
        assert err.value.one_line().startswith("a figure is too large to draw")
