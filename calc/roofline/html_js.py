"""The HTML report's roofline chart script (calc.render.html adds it after the page's own
script when the report is given a device).  It draws `#chart-roofline` with plotly.js (bundled
in the page) from the page's data block ('roofline': calc.render.html._roofline), follows the
colour scheme and printing as the page's other charts do, and adds itself to the count of drawn
charts the page keeps in <html data-charts>.  Names reach it HTML-escaped from Python.
"""

JS = r"""
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("flopcalc-data").textContent).roofline;
  var el = document.getElementById("chart-roofline");
  if (!D || !el || typeof Plotly === "undefined") return;
  var root = document.documentElement;
  function css(name) { return getComputedStyle(root).getPropertyValue(name).trim(); }
  function axis(extra) {
    var a = { type: "log", gridcolor: css("--grid"), linecolor: css("--line"), automargin: true,
      tickfont: { family: css("--mono"), size: 11 }, exponentformat: "SI" };
    for (var k in extra) a[k] = extra[k];
    return a;
  }
  function build() {
    var fg = css("--fg"), muted = css("--muted");
    var data = [
      { type: "scatter", mode: "lines", x: D.roof.x, y: D.roof.y, name: D.roof.name, hoverinfo: "name",
        line: { color: fg, width: 2 } }];
    if (D.effRoof) data.push({ type: "scatter", mode: "lines", x: D.effRoof.x, y: D.effRoof.y, name: D.effRoof.name,
      hoverinfo: "name", line: { color: fg, width: 1, dash: "dash" } });
    data.push({ type: "scatter", mode: "markers", x: D.x, y: D.y, name: "operations", hovertext: D.hover,
      hoverinfo: "text", showlegend: false,
      marker: { size: D.size, color: D.share, colorscale: "Viridis", cmin: 0, cmax: D.maxShare, opacity: 0.9,
        line: { color: css("--bg") || "#fff", width: 0.5 },
        colorbar: { title: { text: "share of the time" }, tickformat: ".1%", outlinewidth: 0,
          tickfont: { family: css("--mono"), size: 10 } } } });
    var notes = D.badges.map(function (b) {
      return { x: Math.log10(b.x), y: Math.log10(b.y), text: "<b>" + b.n + "</b>", ax: b.dx, ay: b.dy,
        showarrow: true, arrowhead: 0, arrowwidth: 0.5, arrowcolor: muted, bgcolor: css("--panel"),
        bordercolor: muted, borderwidth: 0.5, font: { size: 11, color: fg } };
    });
    notes.push({ x: Math.log10(D.ridge), y: 0, yref: "paper", yanchor: "bottom", text: "ridge " + D.ridgeText,
      showarrow: false, textangle: -90, xanchor: "left", font: { size: 10, color: muted } });
    /* the ridge as a trace (data units), not a shape: a shape's place on a log axis is read
       differently by plotly versions */
    data.splice(1, 0, { type: "scatter", mode: "lines", x: [D.ridge, D.ridge], y: D.ridgeY, hoverinfo: "skip",
      showlegend: false, line: { color: muted, width: 1, dash: "dot" } });
    return [data, { paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)", height: 480,
      font: { family: css("--font"), color: fg, size: 12 }, margin: { l: 10, r: 10, t: 20, b: 40 },
      hoverlabel: { font: { family: css("--mono") } }, annotations: notes,
      legend: { x: 0.01, y: 0.99, xanchor: "left", yanchor: "top", bgcolor: "rgba(0,0,0,0)" },
      xaxis: axis({ title: { text: "arithmetic intensity (FLOP per byte)" }, range: D.xRange, dtick: 1 }),
      yaxis: axis({ title: { text: "attainable (FLOP/s)" }, range: D.yRange, dtick: 1, tickformat: "~s" }) }];
  }
  var config = { displaylogo: false, responsive: true, toImageButtonOptions: { format: "svg" },
    modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d", "toggleSpikelines"] };
  function draw() { var f = build(); return Plotly.react(el, f[0], f[1], config); }
  draw();
  if (window.matchMedia) {
    var mq = window.matchMedia("(prefers-color-scheme: dark)");
    if (mq.addEventListener) mq.addEventListener("change", draw);
  }
  window.addEventListener("beforeprint", function () { Plotly.relayout(el, { width: 680 }); });
  window.addEventListener("afterprint", function () { Plotly.relayout(el, { width: null, autosize: true }); });
  root.setAttribute("data-charts", String((+root.getAttribute("data-charts") || 0) + 1));
})();
"""
