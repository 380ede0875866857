"""The HTML report's style sheet and script (calc.render.html), kept out of the page builder.

The script draws the charts with plotly.js (bundled in the page) from the data block the page
carries (`<script type="application/json" id="flopcalc-data">`), and turns the plain layer
table into a collapsible, sortable one.  Without JavaScript the page shows every figure: the
table lists every block and operation, indented, and the charts' places say that they need it.
Names that reach plotly come HTML-escaped from Python (plotly reads tags in its text); the
script writes names to the page only as text (textContent), never as HTML.
"""

CSS = r"""
:root {
  color-scheme: light dark;
  --bg: #ffffff; --fg: #1b1f24; --muted: #57606a; --grid: #d8dee4; --panel: #f6f8fa;
  --line: #d0d7de; --block: #2f6fb3; --op: #86b5e3; --live: #c0392b; --peak: #c0392b;
  --accent: #0b5cad; --font: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  --mono: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0f1216; --fg: #e6e8eb; --muted: #9aa4ae; --grid: #2c333b; --panel: #161b22;
    --line: #30363d; --block: #6aa7e8; --op: #2f5f8f; --live: #ff7b72; --peak: #ff7b72;
    --accent: #79b8ff;
  }
}
* { box-sizing: border-box; }
html { background: var(--bg); color: var(--fg); }
body { font: 14px/1.45 var(--font); margin: 0 auto; padding: 1.25rem 1.5rem 3rem; max-width: 1240px; }
h1 { font-size: 1.6rem; margin: 0 0 .35rem; overflow-wrap: anywhere; }
h2 { font-size: 1.2rem; margin: 2rem 0 .5rem; padding-bottom: .2rem; border-bottom: 1px solid var(--line); }
p, li { max-width: 75ch; }
.muted, .note { color: var(--muted); }
.note { font-size: .92em; }
code, .num, .mono { font-family: var(--mono); font-size: .92em; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: .15rem 1rem; margin: .6rem 0 1rem; }
dl.meta dt { color: var(--muted); }
dl.meta dd { margin: 0; overflow-wrap: anywhere; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(190px, 1fr)); gap: .6rem; }
.card { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: .5rem .7rem; }
.card .k { color: var(--muted); font-size: .85em; }
.card .v { display: block; font: 600 1.05rem var(--mono); overflow-wrap: anywhere; }
.card .u { color: var(--muted); font-size: .85em; }
.controls { display: flex; flex-wrap: wrap; gap: .4rem 1rem; align-items: center; margin: .4rem 0; }
.controls label { color: var(--muted); }
.sw { display: inline-block; width: .8em; height: .8em; vertical-align: -.05em; border-radius: 2px; }
.sw.blk { background: var(--block); } .sw.op { background: var(--op); }
select, button { font: inherit; color: var(--fg); background: var(--panel); border: 1px solid var(--line);
  border-radius: 4px; padding: .1rem .45rem; }
button { cursor: pointer; }
button:focus-visible, select:focus-visible { outline: 2px solid var(--accent); outline-offset: 1px; }
.chart { width: 100%; min-height: 120px; }
.chart:empty::before { content: "(this chart needs JavaScript; the table below has every figure)"; color: var(--muted); }
.table-wrap { overflow-x: auto; }
table.layers { border-collapse: collapse; width: 100%; font-size: 12.5px; }
table.layers th, table.layers td { padding: .12rem .45rem; border-bottom: 1px solid var(--line); vertical-align: top; }
table.layers thead th { position: sticky; top: 0; background: var(--bg); text-align: left; font-weight: 600;
  border-bottom: 2px solid var(--line); white-space: nowrap; }
table.layers thead th.n { text-align: right; }
table.layers thead .unit { font-weight: normal; color: var(--muted); }
table.layers td.n { text-align: right; font-family: var(--mono); white-space: nowrap; }
table.layers th[scope=row] { font-weight: normal; text-align: left; font-family: var(--mono);
  padding-left: calc(.45rem + var(--d, 0) * 1.1em); overflow-wrap: anywhere; min-width: 14em; }
table.layers tr.blk > * { background: var(--panel); }
table.layers tr.blk th[scope=row] { font-weight: 600; }
table.layers tfoot td, table.layers tfoot th { font-weight: 600; border-top: 2px solid var(--line); }
table.layers td.kind { color: var(--muted); }
table.tree th[scope=row] .pre { display: none; }
table.layers .tg { border: 0; background: none; padding: 0 .25rem 0 0; width: 1.2em; color: var(--muted); }
table.layers .tg::before { content: "\25B8"; }
table.layers .tg[aria-expanded=true]::before { content: "\25BE"; }
table.layers th .sort { border: 0; background: none; padding: 0; font-weight: 600; color: var(--fg); }
table.layers th[aria-sort=ascending] .sort::after { content: " \25B2"; }
table.layers th[aria-sort=descending] .sort::after { content: " \25BC"; }
table.layers tr[hidden] { display: none; }
ul.spreads li { margin: .2rem 0; overflow-wrap: anywhere; }
footer { margin-top: 2.5rem; color: var(--muted); font-size: .85em; }
@page { size: A4; margin: 12mm; }
@media print {
  :root { --bg: #fff; --fg: #000; --muted: #444; --grid: #ccc; --panel: #f3f3f3; --line: #bbb;
    --block: #2f6fb3; --op: #86b5e3; --live: #c0392b; color-scheme: light; }
  body { max-width: none; padding: 0; font-size: 10pt; }
  .controls, .noprint, .modebar-container { display: none !important; }
  section { break-inside: auto; }
  h2 { break-after: avoid; }
  .chart { break-inside: avoid; }
  table.layers { font-size: 7.5pt; }
  table.layers thead th { position: static; }
  table.layers tr { break-inside: avoid; }
  .table-wrap { overflow: visible; }
}
"""

JS = r"""
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("flopcalc-data").textContent);
  var root = document.documentElement;
  function css(name) { return getComputedStyle(root).getPropertyValue(name).trim(); }
  var PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
    "#7f7f7f", "#bcbd22", "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5",
    "#c49c94", "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5"];
  var CONFIG = { displaylogo: false, responsive: true,
    modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d", "toggleSpikelines"],
    toImageButtonOptions: { format: "svg" } };
  function axis(extra) {
    var a = { gridcolor: css("--grid"), zerolinecolor: css("--line"), linecolor: css("--line"),
      automargin: true, tickfont: { family: css("--mono"), size: 11 } };
    for (var k in extra) a[k] = extra[k];
    return a;
  }
  function base(extra) {
    var l = { paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
      font: { family: css("--font"), color: css("--fg"), size: 12 },
      margin: { l: 10, r: 20, t: 34, b: 40 }, hoverlabel: { font: { family: css("--mono") } },
      colorway: PALETTE, legend: { orientation: "h", x: 0, y: 1, yanchor: "bottom", traceorder: "normal" } };
    for (var k in extra) l[k] = extra[k];
    return l;
  }
  function short(s, n) { return s.length > n ? "\u2026" + s.slice(s.length - n + 1) : s; }
  var charts = [];
  function draw(c) { var f = c.build(); return Plotly.react(c.el, f[0], f[1], CONFIG); }
  function chart(id, build) {
    var el = document.getElementById(id);
    if (!el || typeof Plotly === "undefined") return null;
    var c = { el: el, build: build };
    charts.push(c);
    draw(c);
    return c;
  }

  /* per-layer bars: a view of the block tree, opened to a depth; a click opens a block, or
     folds an operation back into its block */
  if (D.layers) (function (L) {
    var nodes = L.nodes, m = 0, view;
    var metricSel = document.getElementById("metric"), depthSel = document.getElementById("depth");
    function frontier(d) {
      var out = [];
      for (var i = 0; i < nodes.length; i++) {
        var n = nodes[i];
        if (n.d === d || (n.d < d && n.c.length === 0)) out.push(i);
      }
      return out;
    }
    function within(i, anc) {
      for (var u = nodes[i].u; u >= 0; u = nodes[u].u) if (u === anc) return true;
      return false;
    }
    view = frontier(L.depth);
    var c = chart("chart-layers", function () {
      var ys = [], xs = [], texts = [], colors = [], ticks = [], hover = [];
      var total = L.totals[m];
      view.forEach(function (i) {
        var n = nodes[i];
        ys.push(String(i)); xs.push(n.v[m]); ticks.push(short(n.p, 44));
        colors.push(n.c.length ? css("--block") : css("--op"));
        var share = (total && n.v[m] !== null) ? (100 * n.v[m] / total).toFixed(2) + "%" : "";
        hover.push("<b>" + n.p + "</b><br>" + (n.c.length ? n.n + " ops: " + short(n.k, 70) : n.k) +
          "<br>" + L.labels[m] + ": " + n.t[m] + (share ? " (" + share + ")" : "") +
          (n.c.length ? "<br><i>click to open</i>" : (n.u >= 0 ? "<br><i>click to fold into its block</i>" : "")));
      });
      var h = Math.max(240, 21 * view.length + 70);
      return [[{ type: "bar", orientation: "h", y: ys, x: xs, customdata: view, marker: { color: colors },
        hovertext: hover, hoverinfo: "text", name: L.labels[m] }],
        base({ height: h, bargap: 0.25, showlegend: false,
          xaxis: axis({ title: { text: L.labels[m] }, tickformat: "~s", rangemode: "tozero" }),
          yaxis: axis({ type: "category", autorange: "reversed", tickvals: ys, ticktext: ticks, showgrid: false }) })];
    });
    if (!c) return;
    c.el.on("plotly_click", function (ev) {
      var i = ev.points[0].customdata, n = nodes[i], at;
      if (n.c.length) {
        at = view.indexOf(i);
        view.splice.apply(view, [at, 1].concat(n.c));
      } else if (n.u >= 0) {
        var keep = [], placed = false;
        view.forEach(function (j) {
          if (within(j, n.u)) { if (!placed) { keep.push(n.u); placed = true; } }
          else keep.push(j);
        });
        view = keep;
      } else return;
      draw(c);
    });
    metricSel.addEventListener("change", function () { m = +metricSel.value; draw(c); });
    depthSel.addEventListener("change", function () { view = frontier(+depthSel.value); draw(c); });
  })(D.layers);

  /* memory over the network order */
  if (D.memory) (function (M) {
    chart("chart-memory", function () {
      var x = [], own = [], hover = [];
      for (var i = 0; i < M.paths.length; i++) {
        x.push(i + 1); own.push(M.own[i]);
        hover.push("#" + (i + 1) + " <b>" + M.paths[i] + "</b> (" + M.kinds[i] + ")<br>writes " + M.ownText[i] +
          (M.live ? "<br>live " + M.liveText[i] : ""));
      }
      var data = [{ type: "bar", x: x, y: own, name: "written by the operation", marker: { color: css("--op") },
        hovertext: hover, hoverinfo: "text" }];
      var shapes = [], notes = [];
      if (M.live) {
        data.push({ type: "scatter", mode: "lines", line: { shape: "hv", color: css("--live"), width: 1.5 },
          x: x, y: M.live, name: "live activations (estimate)", hovertext: hover, hoverinfo: "text" });
        data.push({ type: "scatter", mode: "markers", x: [M.peak.x], y: [M.peak.y], name: "peak",
          marker: { color: css("--peak"), size: 10, symbol: "diamond" }, hoverinfo: "text",
          hovertext: ["peak: " + M.peak.text + "<br>at #" + M.peak.x + " " + M.paths[M.peak.x - 1]] });
        notes.push({ x: M.peak.x, y: M.peak.y, text: "peak " + M.peak.short, showarrow: true, arrowhead: 0,
          ax: M.peak.x > M.paths.length / 2 ? -60 : 60, ay: -20, font: { color: css("--peak") } });
      }
      var top = Math.max.apply(null, (M.live || M.own).concat(M.own).map(function (v) { return v || 0; }));
      return [data, base({ height: 360, bargap: 0, annotations: notes, shapes: shapes,
        margin: { l: 10, r: 20, t: 40, b: 40 },
        xaxis: axis({ title: { text: "operation, in network order" }, rangemode: "tozero" }),
        yaxis: axis({ title: { text: "bytes (" + M.dtype + ")" }, tickformat: "~s", ticksuffix: "B",
          range: [0, 1.15 * (top || 1)] }) })];
    });
  })(D.memory);

  /* FLOPs per convention, stacked by the kinds where conventions differ */
  if (D.conventions) (function (C) {
    var c = chart("chart-conventions", function () {
      /* on a log scale the parts of a stack would not read as their sizes: totals only */
      var data = C.log ? [{ type: "bar", orientation: "h", name: "total", y: C.names, x: C.totals,
          marker: { color: css("--block") }, hoverinfo: "text",
          hovertext: C.names.map(function (n, j) { return n + ": " + C.totalTexts[j]; }) }]
        : C.parts.map(function (p) {
        return { type: "bar", orientation: "h", name: p.name, y: C.names, x: p.values,
          hovertext: p.texts.map(function (t, j) { return p.name + " under " + C.names[j] + ": " + t; }),
          hoverinfo: "text" };
      });
      var notes = C.refused.map(function (j) {
        return { xref: "paper", x: 0, y: C.names[j], text: "refuses: " + short(C.reasons[j], 80), showarrow: false,
          xanchor: "left", font: { color: css("--muted") } };
      });
      var legendRows = C.log ? 0 : Math.ceil(C.parts.length / 6);
      return [data, base({ barmode: "stack", height: Math.max(260, 24 * C.names.length + 70 + 22 * legendRows),
        annotations: notes, margin: { l: 10, r: 20, t: 34 + 22 * legendRows, b: 40 },
        showlegend: !C.log,
        xaxis: axis({ title: { text: C.log ? "FLOPs (log scale; totals only)" : "FLOPs" }, tickformat: "~s",
          type: C.log ? "log" : "linear" }),
        yaxis: axis({ type: "category", autorange: "reversed", tickvals: C.names, ticktext: C.ticks, showgrid: false }) })];
    });
    var box = document.getElementById("conventions-log");
    if (!c || !box) return;
    box.checked = C.log;
    box.addEventListener("change", function () { C.log = box.checked; draw(c); });
  })(D.conventions);

  function restyle() { charts.forEach(draw); }
  if (window.matchMedia) {
    var mq = window.matchMedia("(prefers-color-scheme: dark)");
    if (mq.addEventListener) mq.addEventListener("change", restyle);
  }
  window.addEventListener("beforeprint", function () {
    charts.forEach(function (c) { Plotly.relayout(c.el, { width: 680 }); });
  });
  window.addEventListener("afterprint", function () {
    charts.forEach(function (c) { Plotly.relayout(c.el, { width: null, autosize: true }); });
  });

  /* the table: blocks open and close, columns sort (siblings among siblings), or every
     operation alone ("operations only") */
  var table = document.getElementById("layer-table");
  if (!table) return;
  var body = table.tBodies[0], trs = Array.prototype.slice.call(body.rows);
  var info = trs.map(function (tr, i) {
    return { tr: tr, i: i, u: +tr.getAttribute("data-u"), d: +tr.getAttribute("data-d"), kids: [], open: false };
  });
  info.forEach(function (n) { if (n.u >= 0) info[n.u].kids.push(n); });
  var openTo = D.layers ? D.layers.depth : 1;
  var sortCol = -1, sortDir = 1, flat = false;
  table.classList.add("tree");
  info.forEach(function (n) {
    if (!n.kids.length) return;
    n.open = n.d < openTo;
    var b = document.createElement("button");
    b.type = "button"; b.className = "tg";
    b.setAttribute("aria-label", "open or close this block");
    b.addEventListener("click", function () { n.open = !n.open; render(); });
    n.button = b;
    var cell = n.tr.cells[0];
    cell.insertBefore(b, cell.firstChild);
  });
  function key(n) {
    var cell = n.tr.cells[sortCol], v = cell.getAttribute("data-v");
    return v === null ? cell.textContent : BigInt(v);
  }
  function cmp(a, b) {
    if (sortCol < 0) return a.i - b.i;
    var x = key(a), y = key(b);
    return (x < y ? -1 : x > y ? 1 : a.i - b.i) * sortDir;
  }
  function render() {
    var order = [];
    if (flat) {
      order = info.filter(function (n) { return !n.kids.length; }).sort(cmp);
      order.forEach(function (n) { n.tr.hidden = false; });
      info.forEach(function (n) { if (n.kids.length) n.tr.hidden = true; });
    } else {
      var walk = function (list, shown) {
        list.slice().sort(cmp).forEach(function (n) {
          order.push(n); n.tr.hidden = !shown;
          if (n.button) n.button.setAttribute("aria-expanded", n.open ? "true" : "false");
          if (n.kids.length) walk(n.kids, shown && n.open);
        });
      };
      walk(info.filter(function (n) { return n.u < 0; }), true);
    }
    table.classList.toggle("tree", !flat);
    var frag = document.createDocumentFragment(), placed = {};
    order.forEach(function (n) { frag.appendChild(n.tr); placed[n.i] = true; });
    info.forEach(function (n) { if (!placed[n.i]) frag.appendChild(n.tr); });
    body.appendChild(frag);
  }
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
    var b = document.createElement("button");
    b.type = "button"; b.className = "sort";
    while (th.firstChild) b.appendChild(th.firstChild);
    th.appendChild(b);
    b.addEventListener("click", function () {
      if (sortCol === col) {
        if (sortDir === (col >= 3 ? -1 : 1)) sortDir = -sortDir; else sortCol = -1;
      } else { sortCol = col; sortDir = col >= 3 ? -1 : 1; }
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h, j) {
        if (j === sortCol) h.setAttribute("aria-sort", sortDir > 0 ? "ascending" : "descending");
        else h.removeAttribute("aria-sort");
      });
      render();
    });
  });
  function setAll(open) { info.forEach(function (n) { if (n.kids.length) n.open = open; }); render(); }
  var ex = document.getElementById("expand-all"), co = document.getElementById("collapse-all"),
    fl = document.getElementById("flat");
  if (ex) ex.addEventListener("click", function () { setAll(true); });
  if (co) co.addEventListener("click", function () { setAll(false); });
  if (fl) fl.addEventListener("change", function () { flat = fl.checked; render(); });
  document.getElementById("table-controls").hidden = false;
  render();
  root.setAttribute("data-charts", String(charts.length));
})();
"""
