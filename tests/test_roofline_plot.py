"""The roofline's pictures: the chart data (calc.roofline.chart: no plotting library), the static
plot (calc.plot, kind 'roofline': matplotlib) and the HTML report's roofline section (plotly),
and the page in headless Chromium.  The picture tests are skipped, saying so, without the `plot`
extra or without Chromium, as tests/test_plot.py, test_html.py and test_browser.py are."""

from __future__ import annotations

import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from fractions import Fraction
from html.parser import HTMLParser

import pytest

from calc.errors import UsageError
from calc.library import library_path
from calc.network import load_network
from calc.roofline import Device, analyse
from calc.roofline.chart import BADGE, TOP, badge_offsets, chart_data, x_range, y_range

SVG = "{http://www.w3.org/2000/svg}"
# NVIDIA A100 80 GB SXM, bf16 dense 312 TFLOPS, 2,039 GB/s (datasheet 1758950-r4, p. 2)
A100 = Device("a100-test", "A100 80GB (test)", "bf16", peak=312 * 10**12, bandwidth=2039 * 10**9,
              compute_efficiency=Fraction(1, 2), memory_efficiency=Fraction(4, 5))


@pytest.fixture(scope="module")
def resnet50():
    net = load_network(library_path("resnet50"))
    report = net.evaluate("2mac", "bf16", batch=8)
    return net, report, analyse(report, A100, network=net)


@pytest.fixture(scope="module")
def llama():
    net = load_network(library_path("llama2_7b"))
    report = net.evaluate("2mac", "bf16", (1, 1), context=4095)
    return net, report, analyse(report, A100, network=net)


# ---- chart data (no plotting library) ---------------------------------------------------------


def test_every_operation_is_a_point_or_counted_as_not_drawn(resnet50):
    _, report, r = resnet50
    c = chart_data(r)
    drawn = sum(p.count for p in c.points)
    hidden = sum(n for _, n, _ in c.not_drawn)
    views = sum(1 for x in r.rows if x.bound == "none")  # flatten: no FLOP, no byte, no time
    assert drawn + hidden + views == len(report.rows)
    assert sum(p.time for p in c.points) + sum(x.time for x in r.rows if x.intensity == 0) == r.totals.time
    assert abs(sum(p.share for p in c.points) + sum(s for _, _, s in c.not_drawn) - 1) < 1e-9
    assert [p.time for p in c.points] == sorted((p.time for p in c.points), reverse=True)
    for p in c.points:  # on the roof: attainable = min(peak, bandwidth x intensity)
        assert p.attainable == pytest.approx(min(A100.peak, A100.bandwidth * p.intensity), rel=1e-12)
    (x0, x1), (y0, y1) = x_range(c), y_range(c)
    assert all(x0 < p.intensity < x1 and y0 < p.attainable < y1 for p in c.points) and x0 < c.ridge < x1


def test_identical_operations_share_a_point(llama):
    _, _, r = llama
    c = chart_data(r)
    q = next(p for p in c.points if p.label.startswith("model.layers.0.attn_residual.self_attn.q"))
    # q, k, v and out projections of 32 layers: 4,096 x 4,096 each, the same FLOPs and bytes
    assert q.count == 128 and q.label.endswith("(x128)") and q.flops == 2 * 4096 * 4096
    assert q.time == 128 * next(x.time for x in r.rows if x.path == "model.layers.0.attn_residual.self_attn.q")


def test_number_badges_never_overlap(resnet50, llama):
    for _, _, r in (resnet50, llama):
        c = chart_data(r)
        size = (600.0, 300.0)
        offsets = badge_offsets(c, size)
        assert len(offsets) == min(TOP, len(c.points))
        import math

        (x0, x1), (y0, y1) = x_range(c), y_range(c)
        boxes = []
        for p, (dx, dy) in zip(c.points, offsets):
            px = (math.log10(p.intensity) - math.log10(x0)) / (math.log10(x1) - math.log10(x0)) * size[0]
            py = (math.log10(p.attainable) - math.log10(y0)) / (math.log10(y1) - math.log10(y0)) * size[1]
            boxes.append((px + dx, py + dy))
        for i, (ax, ay) in enumerate(boxes):
            for bx, by in boxes[:i]:
                assert abs(ax - bx) >= BADGE[0] or abs(ay - by) >= BADGE[1]


# ---- the static plot ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def plot_bytes():
    pytest.importorskip("matplotlib", reason="plots need the plot extra: pip install 'flopcalc[plot]'")
    from calc.plot import plot_bytes

    return plot_bytes


def test_the_roofline_plot_is_a_valid_svg(plot_bytes, resnet50):
    net, report, r = resnet50
    svg = plot_bytes(report, "roofline", "svg", network=net, hardware=A100)
    texts = ["".join(t.itertext()) for t in ET.fromstring(svg).iter(SVG + "text")]
    assert any(t.startswith("ridge 153.0 FLOP/B") for t in texts)
    assert any("roofs: 312.0 TFLOP/s (bf16), 2.039 TB/s" in t for t in texts)
    c = chart_data(r)
    key = "\n".join(texts)
    for i, p in enumerate(c.points[:TOP]):  # the numbered points are listed with their layer
        assert f"{i + 1}  {p.label}" in key
    assert [t for t in texts if t in {str(i + 1) for i in range(TOP)}]  # the badges
    assert "not drawn: 120 without FLOPs (intensity 0)" in key
    assert plot_bytes(report, "roofline", "svg", network=net, hardware=A100) == svg  # deterministic


def test_the_roofline_plot_is_a_valid_png(plot_bytes, resnet50):
    net, report, _ = resnet50
    png = plot_bytes(report, "roofline", "png", network=net, hardware=A100)  # (pdf: the same figure, test_plot.py)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_roofline_plot_refuses_without_a_device(plot_bytes, resnet50):
    net, report, _ = resnet50
    with pytest.raises(UsageError, match="needs a device"):
        plot_bytes(report, "roofline", "svg", network=net)
    from calc.hardware import load_profile

    with pytest.raises(UsageError, match="profile a100-sxm-80gb .* has no fp8 peak"):
        plot_bytes(net.evaluate("2mac", "fp8", batch=8), "roofline", "svg", network=net,
                   hardware=load_profile("a100-sxm-80gb"))


def test_the_roofline_plot_by_blocks(plot_bytes, resnet50):
    net, report, _ = resnet50
    svg = plot_bytes(report, "roofline", "svg", network=net, hardware=A100, depth=1)
    texts = ["".join(t.itertext()) for t in ET.fromstring(svg).iter(SVG + "text")]
    assert any("roofline of its blocks at depth 1" in t for t in texts)
    assert any(t.startswith("1  layer") for t in "\n".join(texts).split("\n"))


# ---- the HTML report's section ----------------------------------------------------------------


class _Ids(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.scripts = 0
        self.data = ""
        self._in_data = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if tag == "script":
            self.scripts += 1
            self._in_data = a.get("id") == "flopcalc-data"

    def handle_endtag(self, tag):
        self._in_data = False

    def handle_data(self, data):
        if self._in_data:
            self.data += data


@pytest.fixture(scope="module")
def render_html():
    pytest.importorskip("plotly", reason="the HTML report needs the plot extra: pip install 'flopcalc[plot]'")
    from calc.render.html import render_html

    return render_html


def test_the_html_roofline_section_carries_the_chart_data(render_html, resnet50):
    net, report, r = resnet50
    text = render_html(report, network=net, hardware=A100)
    page = _Ids()
    page.feed(text)
    assert {"roofline", "chart-roofline"} <= page.ids and page.scripts == 4  # data, plotly, page, roofline
    data = json.loads(page.data)["roofline"]
    c = chart_data(r)
    assert data["x"] == [p.intensity for p in c.points] and data["y"] == [p.attainable for p in c.points]
    assert data["ridge"] == float(Fraction(312000, 2039))
    assert data["hover"][0].startswith(f"<b>{c.points[0].label}</b><br>conv<br>FLOPs {c.points[0].flops:,}")
    assert [b["n"] for b in data["badges"]] == list(range(1, TOP + 1))
    assert f"{c.points[0].label}" in text and "Not drawn (a log scale has no 0): 120 operations" in text
    plain = render_html(report, network=net)
    assert 'id="roofline"' not in plain and "chart-roofline" not in plain  # only with a device


def test_names_in_the_roofline_are_escaped(render_html):
    from calc.network import network_from_text

    net = network_from_text("name: t\ninput: [3, 8, 8]\nlayers:\n"
                            "  - {type: conv, name: '<b>x</b>', K: 1, Cout: 4, bias: false}\n")
    report = net.evaluate("2mac", "bf16")
    text = render_html(report, network=net, hardware=A100)
    assert "<b>x</b>" not in text.split("<script")[0]
    assert "&lt;b&gt;x&lt;/b&gt;" in text


BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM = next((path for path in map(shutil.which, BROWSERS) if path), None)


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium to open the HTML report in (Debian: apt-get install chromium)")
def test_the_roofline_renders_in_chromium(render_html, llama, tmp_path):
    net, report, _ = llama
    page = tmp_path / "llama.html"
    page.write_text(render_html(report, network=net, hardware=A100), encoding="utf-8")
    run = subprocess.run(
        [CHROMIUM, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run", f"--user-data-dir={tmp_path / 'p'}",
         "--host-resolver-rules=MAP * ~NOTFOUND", "--enable-logging=stderr", "--v=0", "--virtual-time-budget=10000",
         "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert [line for line in run.stderr.splitlines() if ":CONSOLE" in line] == []
    assert 'data-charts="3"' in run.stdout  # layers, memory, roofline: every script ran to its end
    section = run.stdout.split('id="chart-roofline"', 1)[1].split("</section>", 1)[0]
    assert "main-svg" in section and section.count('class="point"') >= 5  # the points drawn
