"""The HTML report (calc.render.html) and the chart data behind it (calc.render.charts).

The page is read back with the standard library's HTML parser: every operation and block of
the report is in its table with the report's exact figures, the totals are the report's, names
from the spec come back as written (escaped, never markup), and nothing is loaded from the
network.  The data tests (tree, live activations, convention stacks) need no plotting library;
the page tests need plotly (the `plot` extra) and are skipped, saying so, without it.  The
text, JSON and CSV reports import no plotting library (a fresh interpreter checks it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from calc.compare import compare
from calc.errors import UsageError
from calc.library import library_path
from calc.network import load_network, network_from_text
from calc.render import escape
from calc.render.charts import (
    AGREED, block_tree, convention_stack, default_depth, frontier, live_activations,
)
from calc.render.numbers import int_text
from calc.report import collapse, top

ROOT = Path(__file__).resolve().parents[1]
FIGURES = ("params", "buffers", "macs", "flops", "mem_access", "mem_bytes")
"""The table's numeric columns, in order (calc.render.tables.HEADER)."""

TINY = """\
name: tiny
input: [4]
layers:
  - {type: linear, name: a, Cout: 8}
  - type: residual
    name: res
    body:
      - {type: linear, name: b, Cout: 8}
      - {type: relu, name: r}
  - {type: flatten, name: f}
  - {type: linear, name: c, Cout: 2}
"""


def _net(name: str):
    return load_network(library_path(name))


@pytest.fixture(scope="module")
def resnet50():
    net = _net("resnet50")
    return net, net.evaluate()


# ---- the data the charts draw (no plotting library) -------------------------------------------

def test_live_activations_follow_the_stated_rule():
    net = network_from_text(TINY)
    report = net.evaluate()
    assert [r.path for r in report.rows] == ["a", "res.b", "res.r", "res.add", "f", "c"]
    mem = live_activations(report, net)
    # input 4 (read by a); a 8 (read by b and by the residual add); b 8; r 8; add 8; f a view of
    # add (0 of its own, keeps add alive until c reads it); c 2 (the output)
    assert mem.own == (8, 8, 8, 8, 0, 2)
    assert mem.elements == (
        4 + 8,          # a: its input and its output
        8 + 8,          # b: a (still needed by the add) and b
        8 + 8 + 8,      # r: a, b (read now), r
        8 + 8 + 8,      # add: a and r (read now), add
        8,              # f: add, viewed
        8 + 2,          # c: add (through the view) and c
    )
    assert (mem.peak, mem.peak_index) == (24, 2)


def test_live_activations_peak_is_at_least_the_largest_activation(resnet50):
    net, report = resnet50
    mem = live_activations(report, net)
    assert len(mem.elements) == len(report.rows)
    assert mem.peak == max(mem.elements) >= report.totals.largest_activation
    # ResNet-50's peak: layer1.0's shortcut batch norm writes 256x56x56 while the body's output
    # (256x56x56, waiting for the add) and its own input (256x56x56) are alive; the block's
    # input (64x56x56) died when the shortcut conv read it
    assert report.rows[mem.peak_index].path == "layer1.0.downsample.1"
    assert mem.peak == 3 * 256 * 56 * 56


def test_live_activations_refuse_a_network_that_is_not_the_reports(resnet50):
    net, report = resnet50
    with pytest.raises(UsageError) as err:
        live_activations(collapse(report, 2), net)
    assert "before collapse or top" in err.value.one_line() and "\n" not in err.value.one_line()
    with pytest.raises(UsageError):
        live_activations(report, object())


def test_the_tree_takes_each_blocks_figures_from_collapse(resnet50):
    _, report = resnet50
    nodes = block_tree(report)
    leaves = [n for n in nodes if not n.block]
    assert [n.path for n in leaves] == [r.path for r in report.rows]
    assert all(n.row == r for n, r in zip(leaves, report.rows))
    for n in nodes:
        if n.block:
            (row,) = [r for r in collapse(report, n.depth).rows if r.path == n.path]
            assert n.row == row
            assert n.ops == sum(1 for r in report.rows if r.path.startswith(n.path + "."))
            assert all(nodes[c].parent == n.index and nodes[c].depth == n.depth + 1 for c in n.children)
    # 4 stages, 16 bottlenecks, and the projection shortcut of each stage's first bottleneck
    assert sum(1 for n in nodes if n.block) == 4 + (3 + 4 + 6 + 3) + 4


def test_a_path_that_is_an_operation_and_a_block_holds_itself():
    report = _net("llama2_7b").evaluate()
    nodes = block_tree(report)
    gate = [n for n in nodes if n.path == "model.layers.0.mlp_residual.mlp.gate_proj"]
    block, op = gate
    assert block.block and not op.block and op.parent == block.index
    assert [nodes[c].path for c in block.children] == [op.path, op.path + ".act"]
    assert block.row.flops == op.row.flops + nodes[block.children[1]].row.flops


def test_charts_open_at_the_deepest_level_with_at_most_40_bars(resnet50):
    _, report = resnet50
    nodes = block_tree(report)
    assert default_depth(nodes) == 2
    shown = [nodes[i].path for i in frontier(nodes, 2)]
    assert shown == ["conv1", "bn1", "relu", "maxpool", *(f"layer{s}.{b}" for s, n in
                     ((1, 3), (2, 4), (3, 6), (4, 3)) for b in range(n)), "avgpool", "flatten", "fc"]
    llama = block_tree(_net("llama2_7b").evaluate())
    assert default_depth(llama) == 3 and len(frontier(llama, 3)) == 1 + 32 + 2


def test_a_report_cut_to_its_top_rows_has_no_blocks(resnet50):
    _, report = resnet50
    nodes = block_tree(top(report, 5))
    assert len(nodes) == 5 and not any(n.block for n in nodes)


def test_convention_stacks_add_up_to_the_comparisons_totals(resnet50):
    net, _ = resnet50
    cmp = compare(net)
    stack = convention_stack(cmp)
    assert stack.conventions == tuple(cmp.flops)
    for i, name in enumerate(stack.conventions):
        assert sum(values[i] or 0 for _, values in stack.parts) == cmp.flops[name]
    kinds = [label for label, _ in stack.parts if label != AGREED]
    assert kinds == [s.op for s in cmp.spreads]
    with pytest.raises(UsageError):
        convention_stack(net)


# ---- the page ------------------------------------------------------------------------------------

class _Page(HTMLParser):
    """The parts of the page the tests read: table rows, totals, scripts, links, text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.rows: list[dict] = []
        self.row: dict | None = None
        self.cell: dict | None = None
        self.totals: dict[str, str] = {}
        self.scripts: list[dict] = []
        self.urls: list[str] = []
        self.text: list[str] = []
        self.ids: set[str] = set()
        self.data_json = ""
        self._in_data = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        for key in ("src", "href"):
            if a.get(key):
                self.urls.append(a[key])
        if tag == "script":
            self.scripts.append(a)
            self._in_data = a.get("id") == "flopcalc-data"
        if tag == "tr" and self._inside_table("layer-table") and (self._inside("tbody") or self._inside("tfoot")):
            self.row = {"attrs": a, "cells": [], "foot": self._inside("tfoot")}
        elif tag in ("td", "th") and self.row is not None:
            self.cell = {"attrs": a, "text": ""}
        elif tag == "data" and "data-total" in a:
            self.totals[a["data-total"]] = a.get("value")
        self.stack.append((tag, a.get("id")))

    def _inside(self, tag: str) -> bool:
        return any(t == tag for t, _ in self.stack)

    def _inside_table(self, ident: str) -> bool:
        return any(t == "table" and i == ident for t, i in self.stack)

    def handle_endtag(self, tag):
        while self.stack:
            t, _ = self.stack.pop()
            if t == tag:
                break
        if tag in ("td", "th") and self.cell is not None and self.row is not None:
            self.row["cells"].append(self.cell)
            self.cell = None
        elif tag == "tr" and self.row is not None:
            self.rows.append(self.row)
            self.row = None
        elif tag == "script":
            self._in_data = False

    def handle_data(self, data):
        if self._in_data:
            self.data_json += data
            return
        if self.cell is not None:
            self.cell["text"] += data
        if not any(t in ("script", "style") for t, _ in self.stack):
            self.text.append(data)


def _page(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    page.close()
    return page


@pytest.fixture(scope="module")
def plotly():
    return pytest.importorskip("plotly", reason="the HTML report needs the plot extra: pip install 'flopcalc[plot]'")


@pytest.fixture(scope="module")
def resnet50_page(plotly, resnet50):
    from calc.render.html import render_html

    net, report = resnet50
    text = render_html(report, network=net, comparison=compare(net))
    return text, _page(text)


def test_the_table_holds_every_operation_with_the_reports_exact_figures(resnet50, resnet50_page):
    _, report = resnet50
    _, page = resnet50_page
    assert not any("hidden" in r["attrs"] for r in page.rows)  # without JavaScript every row shows
    ops = [r for r in page.rows if "blk" not in (r["attrs"].get("class") or "") and not r["foot"]]
    assert [r["cells"][0]["text"] for r in ops] == [r.path for r in report.rows]
    for html_row, row in zip(ops, report.rows):
        cells = html_row["cells"]
        assert cells[1]["text"] == row.kind
        assert cells[2]["text"] == "x".join(str(d) for d in row.output_shape)
        assert [c["attrs"]["data-v"] for c in cells[3:]] == [int_text(getattr(row, f)) for f in FIGURES]
        assert [c["text"] for c in cells[3:]] == [f"{getattr(row, f):,}" for f in FIGURES]


def test_each_blocks_row_is_its_collapsed_total(resnet50, resnet50_page):
    _, report = resnet50
    _, page = resnet50_page
    blocks = [r for r in page.rows if "blk" in (r["attrs"].get("class") or "")]
    assert [b["cells"][0]["text"] for b in blocks][:4] == ["layer1", "layer1.0", "layer1.0.downsample", "layer1.1"]
    for b in blocks:
        path = b["cells"][0]["text"]
        (row,) = [r for r in collapse(report, path.count(".") + 1).rows if r.path == path]
        assert [c["attrs"]["data-v"] for c in b["cells"][3:]] == [int_text(getattr(row, f)) for f in FIGURES]


def test_the_totals_are_the_reports(resnet50, resnet50_page):
    net, report = resnet50
    _, page = resnet50_page
    t = report.totals
    expected = {k: str(getattr(t, k)) for k in ("params", "buffers", "macs", "flops", "mem_access",
                                                "mem_bytes", "largest_activation")}
    expected["peak_live"] = str(live_activations(report, net).peak)
    assert page.totals == expected  # no active_params card: a dense network uses all its params
    assert page.totals["params"] == "25557032" and page.totals["macs"] == "4089184256"
    (footer,) = [r for r in page.rows if r["foot"]]  # in <tfoot>: the script reorders <tbody> only
    assert footer["cells"][0]["text"] == "total"
    assert [c["attrs"]["data-v"] for c in footer["cells"][3:]] == [str(getattr(t, f)) for f in FIGURES]


def test_a_mixture_of_experts_shows_its_active_params(plotly):
    from calc.render.html import render_html

    report = _net("mixtral_8x7b").evaluate()
    assert report.totals.active_params != report.totals.params
    page = _page(render_html(report))
    assert page.totals["active_params"] == str(report.totals.active_params)
    assert page.totals["params"] == str(report.totals.params)


def test_the_chart_data_are_the_reports_figures(resnet50, resnet50_page):
    _, report = resnet50
    _, page = resnet50_page
    data = json.loads(page.data_json)
    nodes = block_tree(report)
    assert [n["p"] for n in data["layers"]["nodes"]] == [n.path for n in nodes]
    for mine, node in zip(data["layers"]["nodes"], nodes):
        assert mine["t"][1] == f"{node.row.flops:,}" and mine["v"][1] == float(node.row.flops)
    assert data["layers"]["depth"] == 2
    assert data["memory"]["own"][0] == float(report.rows[0].activations * 4)  # fp32
    cmp = data["conventions"]
    assert cmp["totalTexts"][cmp["names"].index("exact")] == f"{report.totals.flops:,}"


def test_the_page_is_self_contained(resnet50_page):
    text, page = resnet50_page
    assert page.urls == []  # no src, no href: nothing to fetch
    assert all("src" not in s for s in page.scripts) and len(page.scripts) == 3
    assert "<link" not in text and "@import" not in text
    assert {"summary", "layers", "table", "memory", "conventions", "chart-layers", "chart-memory",
            "chart-conventions", "layer-table"} <= page.ids


def test_the_page_is_deterministic_and_states_its_rule(resnet50, resnet50_page):
    from calc.render.html import render_html

    net, report = resnet50
    text, page = resnet50_page
    assert render_html(report, network=net, comparison=compare(net)) == text
    body = " ".join(" ".join(page.text).split())
    assert "alive from the operation that writes it to the last one that reads it" in body
    assert "Peak live activations (an estimate): 2,408,448 elements (9,633,792 bytes at fp32)" in body


def test_without_a_network_the_memory_chart_has_no_live_estimate(plotly, resnet50):
    from calc.render.html import render_html

    _, report = resnet50
    page = _page(render_html(report))
    data = json.loads(page.data_json)
    assert data["memory"]["live"] is None and "peak_live" not in page.totals
    assert "conventions" not in data and "conventions" not in page.ids


def test_names_from_the_spec_are_text_never_markup(plotly):
    from calc.render.html import render_html

    name = "<script>alert(1)</script>"
    layer = "x<b>&\"y\u202e"
    net = network_from_text(f"name: {json.dumps(name)}\ninput: [4]\nlayers:\n"
                            f"  - {{type: linear, name: {json.dumps(layer)}, Cout: 8}}\n")
    report = net.evaluate()
    text = render_html(report, network=net, title="a </title> title")
    assert "<script>alert" not in text and "<b>&" not in text and "</title> title" not in text
    page = _page(text)
    assert page.rows[0]["cells"][0]["text"] == escape.text(layer)  # the parser unescapes: as written
    assert escape.text(name) in " ".join(page.text)
    data_block = text.split('id="flopcalc-data">', 1)[1].split("</script>", 1)[0]
    assert "<" not in data_block and ">" not in data_block
    # plotly reads tags in its text: the names reach it HTML-escaped
    assert json.loads(data_block)["layers"]["nodes"][0]["p"] == "x&lt;b&gt;&amp;&quot;y\\u202e"


def test_render_html_refuses_what_it_cannot_draw(plotly, resnet50):
    from calc.render.html import render_html

    net, report = resnet50
    with pytest.raises(UsageError):
        render_html(net)
    with pytest.raises(UsageError):
        render_html(collapse(report, 2), network=net)
    with pytest.raises(UsageError):
        render_html(report, comparison=report)


def test_without_plotly_the_page_is_a_one_line_usage_error(monkeypatch, resnet50):
    from calc.render.html import render_html

    _, report = resnet50
    monkeypatch.setitem(sys.modules, "plotly", None)  # `import plotly...` now raises ImportError
    monkeypatch.setitem(sys.modules, "plotly.offline", None)
    with pytest.raises(UsageError) as err:
        render_html(report)
    line = err.value.one_line()
    assert line == ("the HTML report needs plotly, which is not installed "
                    "(expected pip install 'flopcalc[plot]')")
    assert err.value.exit_code == 2


def test_text_json_and_csv_reports_import_no_plotting_library(tmp_path):
    code = (
        "import sys\n"
        "from calc.cli import main\n"
        "from calc.library import library_path\n"
        "from calc.network import load_network\n"
        "from calc.render import render\n"
        "report = load_network(library_path('resnet50')).evaluate()\n"
        "for fmt in ('text', 'json', 'csv'):\n"
        "    assert render(report, fmt)\n"
        f"    assert main(['report', 'resnet50', '--format', fmt, '-o', {str(tmp_path)!r} + '/r.' + fmt]) == 0\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('matplotlib', 'plotly', 'bokeh', 'PIL', 'numpy')\n"
        "               or m in ('calc.plot', 'calc.render.html', 'calc.render.charts'))\n"
        "print(heavy)\n"
    )
    env = {**os.environ, "FLOPCALC_NO_CACHE": "1", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                         env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
    assert (tmp_path / "r.json").stat().st_size > 0


def test_figures_beyond_a_float_are_exact_in_the_table_and_absent_from_the_charts(plotly):
    from calc.render.html import render_html

    big = 10**99  # 100 digits, the most a size may have
    net = network_from_text(f"name: huge\ninput: [1, {big}, {big}]\nlayers:\n"
                            "  - {type: conv, name: c, K: 1, Cout: 1000000000000, bias: false}\n")
    report = net.evaluate(batch=big)
    page = _page(render_html(report, network=net))
    (row,) = [r for r in page.rows if not r["foot"]]
    assert row["cells"][5]["attrs"]["data-v"] == str(big**3 * 10**12) == page.totals["macs"]
    data = json.loads(page.data_json)
    assert data["layers"]["nodes"][0]["v"][0] is None  # too large for a float: not drawn
    assert data["layers"]["nodes"][0]["t"][0] == f"{big**3 * 10**12:,}"
