/**
 * The report page's own stylesheet and script (vanilla JS, no framework, no network). The
 * script reads the embedded JSON model (see model.ts) and draws every plot with plotly.js;
 * it inserts user strings only via textContent or as escaped plotly text, never as HTML.
 * Kept as source text here so the build needs no asset copying.
 */

export const PAGE_CSS = String.raw`
:root { --fg:#1d2430; --muted:#5b6472; --line:#d9dee5; --bg:#f5f7fa; --card:#fff; --accent:#2b5ea7; --warn:#8a5a00; --warnbg:#fff6e0; --bad:#9b1c1c; --good:#176b3a; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif; color:var(--fg); background:var(--bg); }
header { background:#1d2430; color:#fff; padding:18px 28px 12px; }
header h1 { margin:0 0 2px; font-size:22px; font-weight:600; overflow-wrap:anywhere; }
header .sub { margin:0; color:#c5ccd6; font-size:13px; }
nav { margin-top:10px; display:flex; flex-wrap:wrap; gap:4px 16px; font-size:13px; }
nav a { color:#cfe0ff; text-decoration:none; }
nav a:hover { text-decoration:underline; }
main { max-width:1280px; margin:0 auto; padding:18px 24px 40px; }
section { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:16px 20px 18px; margin:0 0 18px; }
section > h2 { margin:0 0 10px; font-size:18px; }
h3 { font-size:14px; margin:16px 0 6px; }
p.note, .note { color:var(--muted); font-size:12.5px; margin:6px 0; }
.cards { display:grid; grid-template-columns:repeat(auto-fit,minmax(190px,1fr)); gap:10px; }
.card { border:1px solid var(--line); border-radius:6px; padding:8px 12px; background:#fbfcfd; min-width:0; }
.card .k { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.04em; }
.card .v { font-size:17px; font-weight:600; overflow-wrap:anywhere; }
.card .d { font-size:12px; color:var(--muted); overflow-wrap:anywhere; }
.two { display:grid; grid-template-columns:1fr 1fr; gap:18px; }
@media (max-width:900px) { .two { grid-template-columns:1fr; } }
ul.experts { margin:4px 0 0; padding-left:18px; max-height:190px; overflow:auto; }
ul.warnings { margin:4px 0; padding:0; list-style:none; }
ul.warnings li { background:var(--warnbg); color:var(--warn); border-left:3px solid #d69e2e; padding:4px 10px; margin:4px 0; overflow-wrap:anywhere; }
ul.warnings li .src { font-weight:600; margin-right:6px; }
ol.recs { margin:4px 0; padding-left:22px; }
ol.recs li { margin:2px 0; }
.good { color:var(--good); } .bad { color:var(--bad); }
.family { display:flex; flex-wrap:wrap; gap:6px; margin:4px 0; }
.chip { display:inline-block; border:1px solid var(--line); border-radius:12px; padding:1px 9px; font-size:12px; background:#fff; }
.chip.off { color:var(--muted); background:#f0f1f3; border-style:dashed; }
.controls { display:flex; flex-wrap:wrap; gap:10px 18px; align-items:center; margin:0 0 8px; }
.controls label { font-size:13px; color:var(--muted); display:flex; gap:6px; align-items:center; }
select { font:inherit; padding:3px 6px; border:1px solid #b8c0cc; border-radius:4px; background:#fff; color:var(--fg); max-width:420px; }
.plot { width:100%; min-height:320px; }
.caption { font-size:13px; margin:6px 0 0; overflow-wrap:anywhere; }
.caption b { font-weight:600; }
table { border-collapse:collapse; width:100%; font-size:13px; }
.table-wrap { overflow:auto; max-height:520px; border:1px solid var(--line); border-radius:6px; }
th, td { padding:4px 10px; border-bottom:1px solid #eceff3; text-align:left; vertical-align:top; overflow-wrap:break-word; }
td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; }
td.num { white-space:nowrap; }
tbody td:first-child { min-width:160px; }
thead th { position:sticky; top:0; background:#eef1f5; z-index:1; }
thead th button { all:unset; cursor:pointer; font-weight:600; display:inline-flex; gap:4px; align-items:center; }
thead th button:focus-visible { outline:2px solid var(--accent); }
thead th button::after { content:"↕"; color:#9aa3af; font-size:11px; }
thead th[aria-sort=ascending] button::after { content:"▲"; color:var(--fg); }
thead th[aria-sort=descending] button::after { content:"▼"; color:var(--fg); }
tbody tr:hover { background:#f6f9ff; }
code { font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; font-size:12px; overflow-wrap:anywhere; }
dfn { font-style:normal; border-bottom:1px dotted var(--muted); cursor:help; }
footer { text-align:center; color:var(--muted); font-size:12px; padding:0 0 24px; }
`;

export const PAGE_JS = String.raw`
(function () {
  'use strict';
  var D = JSON.parse(document.getElementById('mergelens-data').textContent);
  var CONFIG = { displaylogo: false, responsive: true };
  // Okabe–Ito colours plus distinct marker symbols, so series stay apart in grey-scale too.
  var COLORS = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#000000', '#F0E442'];
  var SYMBOLS = ['circle', 'square', 'diamond', 'triangle-up', 'x', 'cross', 'star', 'triangle-down'];
  var DASHES = ['solid', 'dash', 'dot', 'dashdot', 'longdash', 'longdashdot'];

  function $(id) { return document.getElementById(id); }
  function fmt(v) {
    if (v === null || v === undefined || (typeof v === 'number' && isNaN(v))) return '—';
    if (!isFinite(v)) return v > 0 ? '∞' : '−∞';
    if (v === 0) return '0';
    var a = Math.abs(v);
    var s = (a >= 1e5 || a < 1e-3) ? v.toExponential(2) : String(Number(v.toPrecision(4)));
    return s.replace('-', '−');
  }
  // plotly parses a small HTML subset in every text it draws: escape user strings for it.
  function pt(s) { return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;'); }
  // Axis titles stay short (a long one is cut off by plotly); definitions live in the captions.
  function shortTitle(s) { var t = String(s).split(/[:;(]/)[0].trim(); return t.length > 40 ? t.slice(0, 39) + '…' : t; }
  var OUTCOME_SHORT = shortTitle(D.outcomeName || '');
  function layout(extra) {
    var base = {
      font: { family: 'system-ui, -apple-system, Segoe UI, Roboto, Helvetica Neue, Arial, sans-serif', size: 12, color: '#1d2430' },
      paper_bgcolor: '#ffffff', plot_bgcolor: '#ffffff',
      margin: { l: 60, r: 20, t: 30, b: 50 },
      hoverlabel: { align: 'left' }
    };
    for (var k in extra) base[k] = extra[k];
    return base;
  }
  function fillSelect(sel, items, keep) {
    var previous = keep ? sel.value : null;
    while (sel.firstChild) sel.removeChild(sel.firstChild);
    items.forEach(function (it) {
      var o = document.createElement('option');
      o.value = String(it.value);
      o.textContent = it.text;
      if (it.title) o.title = it.title;
      sel.appendChild(o);
    });
    if (previous !== null && items.some(function (it) { return String(it.value) === previous; })) sel.value = previous;
  }
  function info(id) { return D.definitions[id] || { label: id, unit: '', description: '', family: 'other', lowerIsSimilar: false }; }
  function metricItems(ids) {
    return ids.map(function (id) { var d = info(id); return { value: id, text: d.label + ' (' + id + ')', title: d.description }; });
  }
  function setCaption(el, id) {
    var d = info(id);
    while (el.firstChild) el.removeChild(el.firstChild);
    var b = document.createElement('b');
    b.textContent = d.label + ': ';
    el.appendChild(b);
    el.appendChild(document.createTextNode(d.description + (d.unit ? ' Unit: ' + d.unit + '.' : '') + (d.aggregation ? ' Aggregation: ' + d.aggregation + '.' : '') +
      (d.lowerIsSimilar ? ' Lower = more alike (colour scale flipped: bright = alike).' : ' Higher = more alike (bright = alike).')));
  }
  function pairLabel(p) { return D.experts[D.pairs[p][0]] + ' × ' + D.experts[D.pairs[p][1]]; }

  // ── pairwise heatmap ──
  function drawHeatmap() {
    var id = $('metric-select').value;
    var d = info(id);
    var order = D.orders[id];
    var m = D.matrices[id];
    var names = order.map(function (i) { return pt(D.experts[i]); });
    var z = order.map(function (i) { return order.map(function (j) { var v = m[i][j]; return v === undefined ? null : v; }); });
    var text = z.map(function (row) { return row.map(function (v) { return v === null ? '' : fmt(v); }); });
    var hover = z.map(function (row) { return row.map(function (v) { return pt(d.label) + ': ' + fmt(v) + (d.unit ? ' (' + pt(d.unit) + ')' : ''); }); });
    var n = order.length;
    var trace = {
      type: 'heatmap', z: z, x: names, y: names, text: text, customdata: hover,
      texttemplate: n <= 12 ? '%{text}' : '', hovertemplate: '%{y} × %{x}<br>%{customdata}<extra></extra>',
      colorscale: 'Viridis', reversescale: !!d.lowerIsSimilar, xgap: 2, ygap: 2, hoverongaps: false,
      colorbar: { title: { text: pt(d.unit || d.label), side: 'right' }, thickness: 14 }
    };
    Plotly.react('heatmap', [trace], layout({
      height: Math.max(360, Math.min(820, 110 + 52 * n)),
      margin: { l: 150, r: 20, t: 20, b: 90 },
      xaxis: { tickangle: -35, automargin: true, type: 'category' },
      yaxis: { autorange: 'reversed', automargin: true, type: 'category' }
    }), CONFIG);
    setCaption($('metric-caption'), id);
  }

  // ── per-layer view ──
  function levelData() { return $('layer-level').value === 'tensor' ? D.tensor : D.layer; }
  function refreshLayerMetrics() {
    var b = levelData();
    var ids = Object.keys(b.values);
    var ordered = D.metricIds.filter(function (id) { return ids.indexOf(id) >= 0; }).concat(ids.filter(function (id) { return D.metricIds.indexOf(id) < 0; }));
    var sel = $('layer-metric');
    fillSelect(sel, metricItems(ordered), true);
    if (!sel.value && ordered.length) sel.value = ordered.indexOf(D.defaultMetric) >= 0 ? D.defaultMetric : ordered[0];
  }
  function drawLayer() {
    var b = levelData();
    var id = $('layer-metric').value;
    var p = Number($('pair-select').value);
    var kind = $('layer-kind').value;
    var d = info(id);
    var y = (b.values[id] && b.values[id][p]) || [];
    var x = b.groups.map(pt);
    var traces = [];
    var series = { name: pt(pairLabel(p)), x: x, y: y, customdata: b.numel.map(function (v) { return fmt(v); }),
      hovertemplate: '%{x}<br>' + pt(d.label) + ': %{y:.4g}<br>elements: %{customdata}<extra></extra>' };
    if (kind === 'bar') { series.type = 'bar'; series.marker = { color: '#2b5ea7' }; }
    else { series.type = 'scatter'; series.mode = b.groups.length > 60 ? 'lines' : 'lines+markers'; series.line = { color: '#2b5ea7', width: 2 }; series.marker = { size: 6 }; }
    traces.push(series);
    var whole = D.matrices[id] ? D.matrices[id][D.pairs[p][0]][D.pairs[p][1]] : null;
    if (whole !== null && whole !== undefined && x.length) {
      traces.push({ type: 'scatter', mode: 'lines', name: 'whole model', x: [x[0], x[x.length - 1]], y: [whole, whole],
        line: { color: '#555', dash: 'dash', width: 1.5 }, hovertemplate: 'whole model: %{y:.4g}<extra></extra>' });
    }
    var many = b.groups.length > 40;
    Plotly.react('layer-plot', traces, layout({
      height: 420,
      margin: { l: 70, r: 20, t: 20, b: 50 },
      xaxis: { type: 'category', tickangle: -45, automargin: true, showticklabels: !many, title: { text: many ? b.groups.length + ' groups in model order (hover for names)' : '' } },
      yaxis: { title: { text: pt(d.unit && (d.label + d.unit).length <= 45 ? d.label + ' (' + d.unit + ')' : d.label) }, zeroline: true, automargin: true },
      legend: { orientation: 'h', y: 1.08 }
    }), CONFIG);
    setCaption($('layer-caption'), id);
    var note = $('layer-note');
    note.textContent = b.bucketSize > 1
      ? 'Down-sampled: ' + b.originalGroups + ' groups shown as ' + b.groups.length + ' buckets of up to ' + b.bucketSize + ' consecutive groups (element-weighted mean).'
      : b.groups.length + ' groups, not down-sampled.';
    if (b.pairsEmbedded < b.pairsTotal) {
      note.textContent += ' Report size cap: per-' + ($('layer-level').value || 'layer') + ' values are embedded for ' + b.pairsEmbedded + ' of ' + b.pairsTotal +
        ' pairs (' + (D.predictions ? 'best predicted first' : 'in pair order') + ')' + (y.length ? '' : '; this pair is not among them — see the metrics JSON') + '.';
    }
  }

  // ── predictions ──
  function drawPredictions() {
    var P = D.predictions;
    // Rows sorted by their best prediction (highest first); every cell printed with its value,
    // the row's highest marked ★; the interval is in the hover.
    var rowMax = P.predicted.map(function (row) { return row.reduce(function (m, v) { return v !== null && v > m ? v : m; }, -Infinity); });
    var order = P.pairs.map(function (_, r) { return r; }).sort(function (u, v) { return rowMax[v] - rowMax[u] || u - v; });
    var ylab = order.map(function (r) { var q = P.pairs[r]; return pt(q[0] + ' × ' + q[1]); });
    var x = P.methods.map(pt);
    var z = order.map(function (r) { return P.predicted[r]; });
    var text = order.map(function (r) { return P.predicted[r].map(function (v) {
      return v === null ? '' : (v === rowMax[r] ? '★ ' : '') + fmt(v); }); });
    var hover = order.map(function (r) { return P.predicted[r].map(function (v, c) {
      return v === null ? '' : fmt(v) + ' [' + fmt(P.lo[r][c]) + ', ' + fmt(P.hi[r][c]) + ']' + (v === rowMax[r] ? ' (highest for this pair)' : ''); }); });
    Plotly.react('pred-heatmap', [{
      type: 'heatmap', z: z, x: x, y: ylab, text: text, customdata: hover, texttemplate: '%{text}', textfont: { size: P.pairs.length <= 30 ? 12 : 9 },
      hovertemplate: '%{y}<br>%{x}: %{customdata}<extra></extra>', colorscale: 'Cividis', xgap: 2, ygap: 2, hoverongaps: false,
      colorbar: { title: { text: pt(OUTCOME_SHORT || 'predicted'), side: 'right' }, thickness: 14 }
    }], layout({
      height: Math.max(320, Math.min(1400, 120 + 44 * P.pairs.length)),
      margin: { l: 220, r: 20, t: 20, b: 60 },
      xaxis: { type: 'category', side: 'top', automargin: true },
      yaxis: { type: 'category', autorange: 'reversed', automargin: true }
    }), CONFIG);
  }

  // ── study: predicted vs actual ──
  function drawScatter() {
    var lo = Infinity, hi = -Infinity;
    var traces = D.scatter.map(function (s, k) {
      s.actual.concat(s.predicted).forEach(function (v) { if (v < lo) lo = v; if (v > hi) hi = v; });
      return { type: 'scatter', mode: 'markers', name: pt(s.method + ' (r = ' + fmt(s.r) + ', n = ' + s.n + ')'),
        x: s.predicted, y: s.actual, text: s.labels.map(pt),
        marker: { color: COLORS[k % COLORS.length], symbol: SYMBOLS[k % SYMBOLS.length], size: 8, opacity: 0.8, line: { width: 0.5, color: '#333' } },
        hovertemplate: '%{text}<br>predicted %{x:.4g}<br>actual %{y:.4g}<extra>' + pt(s.method) + '</extra>' };
    });
    traces.push({ type: 'scatter', mode: 'lines', name: 'y = x', x: [lo, hi], y: [lo, hi], line: { color: '#888', dash: 'dash', width: 1 }, hoverinfo: 'skip' });
    Plotly.react('scatter-plot', traces, layout({
      height: 460, margin: { l: 70, r: 20, t: 20, b: 60 },
      xaxis: { title: { text: 'predicted ' + pt(OUTCOME_SHORT) }, zeroline: false },
      yaxis: { title: { text: 'actual ' + pt(OUTCOME_SHORT) }, zeroline: false },
      legend: { orientation: 'v', x: 1.02, y: 1 }
    }), CONFIG);
  }
  function drawOutcomes() {
    var traces = D.outcomes.map(function (s, k) {
      return { type: 'box', name: pt(s.method), y: s.values, text: s.labels.map(pt), boxpoints: 'all', jitter: 0.4, pointpos: 0,
        marker: { color: COLORS[k % COLORS.length], symbol: SYMBOLS[k % SYMBOLS.length] }, hovertemplate: '%{text}: %{y:.4g}<extra></extra>' };
    });
    Plotly.react('outcome-plot', traces, layout({ height: 420, showlegend: false, yaxis: { title: { text: pt(OUTCOME_SHORT || 'outcome') } } }), CONFIG);
  }

  // ── predictor fingerprints ──
  // Two bar traces, one per sign, so the legend explains the colours; exact zeros (metrics the
  // L1 fit dropped) are left out and counted in the axis title.
  var SIGNS = [{ name: 'raises the prediction (+)', color: '#1f4e8c', test: function (v) { return v > 0; } },
    { name: 'lowers it (−)', color: '#e3a33b', test: function (v) { return v < 0; } }];
  function drawFingerprint() {
    var F = D.fingerprints;
    var m = Number($('fp-method').value);
    var kind = $('fp-kind').value;
    var coef = (kind === 'paper' ? F.paper : F.calibrated)[m];
    var known = F.features.map(function (f, k) { return { f: f, k: k, v: coef[k] }; })
      .filter(function (r) { return r.v !== null; });
    var rows = known.filter(function (r) { return r.v !== 0; })
      .sort(function (a, b) { return Math.abs(a.v) - Math.abs(b.v); });
    var zeros = known.length - rows.length;
    var traces = SIGNS.map(function (sg) {
      var part = rows.filter(function (r) { return sg.test(r.v); });
      var t = {
        type: 'bar', orientation: 'h', name: sg.name, x: part.map(function (r) { return r.v; }),
        y: part.map(function (r) { return pt(info(r.f).label); }),
        customdata: part.map(function (r) { return pt(r.f); }),
        marker: { color: sg.color, line: { color: '#333', width: 0.5 } },
        hovertemplate: '%{y} (%{customdata})<br>coefficient %{x:.4g}<extra></extra>'
      };
      if (kind === 'calibrated' && F.calibratedLo && F.calibratedHi) {
        t.error_x = { type: 'data', symmetric: false, color: '#333',
          array: part.map(function (r) { var h = F.calibratedHi[m][r.k]; return h === null ? 0 : h - r.v; }),
          arrayminus: part.map(function (r) { var l = F.calibratedLo[m][r.k]; return l === null ? 0 : r.v - l; }) };
      }
      return t;
    });
    Plotly.react('fp-plot', traces, layout({
      height: Math.max(300, 110 + 26 * rows.length), margin: { l: 230, r: 20, t: 30, b: 50 },
      showlegend: true, legend: { orientation: 'h', x: 0, y: 1.02, yanchor: 'bottom' }, barmode: 'overlay',
      xaxis: { title: { text: (kind === 'paper' ? 'paper coefficient' : 'calibrated coefficient') + (zeros ? ' · ' + zeros + ' zero, not shown' : '') }, zeroline: true, zerolinecolor: '#333' },
      // one category order for both traces: largest |coefficient| on top
      yaxis: { automargin: true, categoryorder: 'array', categoryarray: rows.map(function (r) { return pt(info(r.f).label); }) }
    }), CONFIG);
  }
  function drawMethodMatrix(id, z, title) {
    var F = D.fingerprints;
    var x = F.methods.map(pt);
    Plotly.react(id, [{ type: 'heatmap', z: z, x: x, y: x, zmin: 0, zmax: 1, colorscale: 'Viridis', xgap: 2, ygap: 2, hoverongaps: false,
      text: z.map(function (row) { return row.map(function (v) { return v === null ? '' : fmt(v); }); }), texttemplate: '%{text}',
      hovertemplate: '%{y} vs %{x}: %{text}<extra></extra>', colorbar: { thickness: 12 } }],
      layout({ height: 360, title: { text: title, font: { size: 13 } }, margin: { l: 120, r: 10, t: 40, b: 100 },
        xaxis: { type: 'category', tickangle: -35 }, yaxis: { type: 'category', autorange: 'reversed' } }), CONFIG);
  }

  // ── sortable tables ──
  function sortKey(cell) {
    var s = cell.getAttribute('data-sort');
    if (s === null) return cell.textContent.trim().toLowerCase();
    if (s === '') return null;
    var n = Number(s);
    return isNaN(n) ? s.toLowerCase() : n;
  }
  function sortTable(table, col, th) {
    var dir = th.getAttribute('aria-sort') === 'ascending' ? 'descending' : 'ascending';
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (c) { c.removeAttribute('aria-sort'); });
    th.setAttribute('aria-sort', dir);
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows).map(function (r, i) { return { r: r, k: sortKey(r.cells[col]), i: i }; });
    rows.sort(function (a, b) {
      if (a.k === null || b.k === null) return a.k === null ? (b.k === null ? a.i - b.i : 1) : -1; // blanks last
      var c = (typeof a.k === 'number' && typeof b.k === 'number') ? a.k - b.k : String(a.k).localeCompare(String(b.k));
      return (dir === 'ascending' ? c : -c) || a.i - b.i;
    });
    rows.forEach(function (x) { body.appendChild(x.r); });
  }
  Array.prototype.forEach.call(document.querySelectorAll('table.sortable'), function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      var b = th.querySelector('button');
      if (b) b.addEventListener('click', function () { sortTable(table, col, th); });
    });
  });

  // ── wire up ──
  if ($('heatmap') && D.metricIds.length) {
    fillSelect($('metric-select'), metricItems(D.metricIds));
    $('metric-select').value = D.defaultMetric;
    $('metric-select').addEventListener('change', drawHeatmap);
    drawHeatmap();
  }
  if ($('layer-plot') && D.pairs.length) {
    fillSelect($('pair-select'), D.pairs.map(function (_, p) { return { value: p, text: pairLabel(p) }; }));
    refreshLayerMetrics();
    $('layer-level').addEventListener('change', function () { refreshLayerMetrics(); drawLayer(); });
    ['pair-select', 'layer-metric', 'layer-kind'].forEach(function (id) { $(id).addEventListener('change', drawLayer); });
    drawLayer();
  }
  if ($('pred-heatmap') && D.predictions) drawPredictions();
  if ($('scatter-plot') && D.scatter) drawScatter();
  if ($('outcome-plot') && D.outcomes) drawOutcomes();
  if ($('fp-plot') && D.fingerprints) {
    fillSelect($('fp-method'), D.fingerprints.methods.map(function (m, k) { return { value: k, text: m }; }));
    $('fp-method').addEventListener('change', drawFingerprint);
    $('fp-kind').addEventListener('change', drawFingerprint);
    drawFingerprint();
    drawMethodMatrix('overlap-plot', D.fingerprints.top5Overlap, 'Top-5 feature overlap');
    drawMethodMatrix('sign-plot', D.fingerprints.signAgreement, 'Coefficient sign agreement');
  }
  // Sections with their own script (e.g. search-section.ts) register a draw function on
  // window.mergelensSections before this script runs; they get the shared helpers.
  (window.mergelensSections || []).forEach(function (draw) {
    draw({ $: $, fmt: fmt, pt: pt, layout: layout, fillSelect: fillSelect, CONFIG: CONFIG, COLORS: COLORS, SYMBOLS: SYMBOLS, DASHES: DASHES });
  });
  document.documentElement.setAttribute('data-ready', '1');
})();
`;
