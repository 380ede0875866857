"""The HTML report in a real browser: headless Chromium (Debian's `chromium` package) opens the
reports of ResNet-50, DenseNet-121 and Llama-2-7B with every network request refused, runs
their script, and the DOM it dumps must hold the three charts drawn (plotly's SVG with bars in
it), the table turned collapsible and sortable, and no console message (an uncaught error is
one); then it takes a screenshot (kept in $FLOPCALC_SCREENSHOTS when set, for CI to keep).
The charts follow the colour scheme, and a name written as markup stays text.

Skipped, saying why, when no Chromium is installed or the `plot` extra (plotly) is missing.
Each page takes Chromium two runs of 1-3 s (the DOM, the screenshot).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from calc.compare import compare
from calc.library import library_path
from calc.network import load_network, network_from_text
from calc.render.charts import block_tree, default_depth, frontier

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM = next((path for path in map(shutil.which, BROWSERS) if path), None)

pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium to open the HTML report in "
                       "(Debian: apt-get install chromium)"),
]


@pytest.fixture(scope="module")
def render_html():
    pytest.importorskip("plotly", reason="the HTML report needs the plot extra: pip install 'flopcalc[plot]'")
    from calc.render.html import render_html

    return render_html


def _chromium(tmp_path: Path, page: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CHROMIUM, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run", "--hide-scrollbars",
         f"--user-data-dir={tmp_path / 'profile'}", "--host-resolver-rules=MAP * ~NOTFOUND",
         "--enable-logging=stderr", "--v=0", "--virtual-time-budget=10000", *args, page.as_uri()],
        capture_output=True, text=True, timeout=120,
    )


def _console(stderr: str) -> list[str]:
    """The page's console messages (Chromium logs each as 'INFO:CONSOLE...')."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


class _Dom(HTMLParser):
    """Per chart: plotly's SVGs and its drawn bars (a path with a non-empty outline in a
    g.point); the table's classes, rows hidden, and sort buttons; the title."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, str, str]] = []  # tag, id, class
        self.charts: dict[str, dict[str, int]] = {}
        self.root: dict[str, str] = {}
        self.table_class = ""
        self.hidden_rows = 0
        self.rows = 0
        self.sort_buttons = 0
        self.imgs = 0
        self.title = ""
        self.fills: set[str] = set()

    def _chart(self) -> str | None:
        return next((i for _, i, _ in self.stack if i.startswith("chart-")), None)

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        if tag == "html":
            self.root = a
        chart = self._chart()
        if chart is not None:
            c = self.charts.setdefault(chart, {"svg": 0, "bars": 0})
            if tag == "svg" and "main-svg" in a.get("class", ""):
                c["svg"] += 1
            parent = self.stack[-1][2] if self.stack else ""
            if tag == "path" and "point" in parent.split() and len(a.get("d", "")) > 8 and a["d"] != "M0,0Z":
                c["bars"] += 1
            if tag == "text":
                self.fills.update(re.findall(r"fill: (rgb\([^)]*\))", a.get("style", "")))
        if a.get("id", "").startswith("chart-"):
            self.charts.setdefault(a["id"], {"svg": 0, "bars": 0})
        if tag == "table" and a.get("id") == "layer-table":
            self.table_class = a.get("class", "")
        if tag == "tr" and any(i == "layer-table" for _, i, _ in self.stack) and any(t == "tbody" for t, _, _ in self.stack):
            self.rows += 1
            self.hidden_rows += "hidden" in a
        if tag == "button" and a.get("class") == "sort":
            self.sort_buttons += 1
        if tag == "img":
            self.imgs += 1
        if tag not in ("path", "rect", "circle", "line", "img", "input", "br", "meta", "stop", "use"):
            self.stack.append((tag, a.get("id", ""), a.get("class", "")))

    def handle_endtag(self, tag):
        for k in range(len(self.stack) - 1, -1, -1):
            if self.stack[k][0] == tag:
                del self.stack[k:]
                break

    def handle_data(self, data):
        if self.stack and self.stack[-1][0] == "title":
            self.title += data


def _dom(text: str) -> _Dom:
    dom = _Dom()
    dom.feed(text)
    dom.close()
    return dom


def _shots() -> Path | None:
    folder = os.environ.get("FLOPCALC_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        return Path(folder)
    return None


@pytest.mark.parametrize("name", ["resnet50", "densenet121", "llama2_7b"])
def test_the_report_renders_in_chromium(render_html, tmp_path, name):
    net = load_network(library_path(name))
    report = net.evaluate()
    page = tmp_path / f"{name}.html"
    page.write_text(render_html(report, network=net, comparison=compare(net)), encoding="utf-8")

    run = _chromium(tmp_path, page, "--dump-dom")
    assert run.returncode == 0, run.stderr[-2000:]
    assert _console(run.stderr) == []
    dom = _dom(run.stdout)
    assert dom.root.get("data-charts") == "3"  # the script ran to its end
    nodes = block_tree(report)
    layers = dom.charts["chart-layers"]
    assert layers["svg"] >= 1 and layers["bars"] == len(frontier(nodes, default_depth(nodes)))
    assert dom.charts["chart-memory"]["svg"] >= 1 and dom.charts["chart-memory"]["bars"] > len(report.rows) // 2
    assert dom.charts["chart-conventions"]["svg"] >= 1 and dom.charts["chart-conventions"]["bars"] >= 13
    assert dom.table_class == "layers tree" and dom.sort_buttons == 9
    assert dom.rows == len(nodes) and 0 < dom.hidden_rows < dom.rows  # opened to the charts' level

    shot = (_shots() or tmp_path) / f"{name}.png"
    run = _chromium(tmp_path, page, f"--screenshot={shot}", "--window-size=1280,2000")
    assert run.returncode == 0, run.stderr[-2000:]
    assert _console(run.stderr) == []
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000  # a drawn page, not a blank one


def test_the_charts_follow_the_colour_scheme(render_html, tmp_path):
    net = load_network(library_path("resnet18"))
    page = tmp_path / "resnet18.html"
    page.write_text(render_html(net.evaluate(), network=net), encoding="utf-8")
    light = _dom(_chromium(tmp_path, page, "--dump-dom").stdout)
    dark = _dom(_chromium(tmp_path, page, "--dump-dom", "--force-dark-mode",
                          "--blink-settings=preferredColorScheme=0").stdout)
    assert "rgb(27, 31, 36)" in light.fills and "rgb(230, 232, 235)" not in light.fills  # --fg
    assert "rgb(230, 232, 235)" in dark.fills and "rgb(27, 31, 36)" not in dark.fills


def test_a_name_written_as_markup_stays_text_in_the_browser(render_html, tmp_path):
    attack = "<img src=x onerror=\"document['title']='pwned'\">"  # a name has no dots
    net = network_from_text(f"name: {json.dumps(attack)}\ninput: [4]\nlayers:\n"
                            f"  - {{type: linear, name: {json.dumps(attack)}, Cout: 8}}\n"
                            f"  - {{type: relu, name: {json.dumps('<b>bold</b>')}}}\n")
    page = tmp_path / "attack.html"
    page.write_text(render_html(net.evaluate(), network=net), encoding="utf-8")
    run = _chromium(tmp_path, page, "--dump-dom")
    assert _console(run.stderr) == []
    dom = _dom(run.stdout)
    assert dom.imgs == 0 and dom.title == f"{attack}: cost report"  # not 'pwned': no handler ran
    assert dom.root.get("data-charts") == "2"
    assert "&lt;b&gt;bold&lt;/b&gt;" in run.stdout  # plotly's tick label, as text


DRIVER = """
<script>
/* test driver: works the page as a reader would, then writes what it saw into the DOM */
window.addEventListener("load", function () {
  var out = {}, table = document.getElementById("layer-table"), body = table.tBodies[0];
  function shown() { return Array.prototype.filter.call(body.rows, function (r) { return !r.hidden; }); }
  function first() { return shown()[0].cells[0].textContent.replace(/^\\s+/, ""); }
  var layers = document.getElementById("chart-layers");
  out.opened = shown().length;
  document.getElementById("flat").click();
  out.flat = shown().length;
  table.tHead.rows[0].cells[6].querySelector("button").click();   /* FLOPs, largest first */
  out.flatTop = first();
  table.tHead.rows[0].cells[6].querySelector("button").click();   /* smallest first */
  out.flatBottom = first();
  table.tHead.rows[0].cells[6].querySelector("button").click();   /* network order */
  document.getElementById("flat").click();
  document.getElementById("expand-all").click();
  out.all = shown().length;
  document.getElementById("collapse-all").click();
  out.closed = shown().length;
  out.bars = layers.data[0].y.length;
  layers.emit("plotly_click", { points: [{ customdata: +layers.data[0].customdata[4] }] });  /* layer1.0 */
  out.opened1 = layers.data[0].y.length;
  out.child = layers.data[0].customdata[4];
  layers.emit("plotly_click", { points: [{ customdata: out.child }] });  /* fold it back */
  out.folded = layers.data[0].y.length;
  var depth = document.getElementById("depth");
  depth.value = "3"; depth.dispatchEvent(new Event("change"));
  out.depth3 = layers.data[0].y.length;
  var metric = document.getElementById("metric");
  metric.value = "2"; metric.dispatchEvent(new Event("change"));
  out.metricLabel = layers.layout.xaxis.title.text;
  document.body.setAttribute("data-test", JSON.stringify(out));
});
</script>
"""


def test_the_table_and_chart_respond_to_the_reader(render_html, tmp_path):
    """Opening, closing and sorting the table, opening and folding a block's bar, changing the
    chart's level and metric: a driver script appended to the page does each and records what
    the page shows."""
    net = load_network(library_path("resnet50"))
    report = net.evaluate()
    page = tmp_path / "driven.html"
    page.write_text(render_html(report).replace("</body>", DRIVER + "</body>"), encoding="utf-8")
    run = _chromium(tmp_path, page, "--dump-dom")
    assert _console(run.stderr) == []
    found = re.search(r'data-test="([^"]*)"', run.stdout)
    assert found, run.stdout[-2000:]
    seen = json.loads(found.group(1).replace("&quot;", '"'))
    nodes = block_tree(report)
    level2 = frontier(nodes, 2)
    flops = sorted(report.rows, key=lambda r: r.flops)
    biggest = max(report.rows, key=lambda r: r.flops).path  # first among equals: network order
    assert seen["flatTop"] == biggest == "conv1"  # 7x7x3 at 112x112: 235,225,088
    assert seen["flatBottom"] == next(r.path for r in report.rows if r.flops == flops[0].flops)
    assert seen["flat"] == len(report.rows)
    assert seen["all"] == len(nodes)
    # opened to level 2: the top level and its children; closed: the top level only
    assert seen["opened"] == sum(1 for n in nodes if n.depth <= 2)
    assert seen["closed"] == sum(1 for n in nodes if n.depth == 1)
    layer10 = nodes[level2[4]]
    assert layer10.path == "layer1.0"
    assert seen["bars"] == len(level2) == 23
    assert seen["opened1"] == 23 - 1 + len(layer10.children)
    assert seen["child"] == layer10.children[0] and seen["folded"] == 23
    assert seen["depth3"] == len(frontier(nodes, 3))
    assert seen["metricLabel"] == "params"
