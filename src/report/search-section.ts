/**
 * The report's merge-recipe search section (from search-view.ts): best-so-far against
 * evaluations (every run side by side, with a seed comparison table when several logs are
 * given), the best recipe's weights, the Pareto front over tasks (scatter for 2 tasks, parallel
 * coordinates for more) and tables of the front and the top candidates. Static parts are
 * rendered here with every user string escaped; the plots are drawn by SEARCH_JS from its own
 * data block, registered with the page script (page.ts) so it shares its helpers.
 */
import { escapeHtml, inlineScript, jsonScriptBlock } from './escape.js';
import { formatNumber } from './format.js';
import type { SearchCandidateView, SearchRunView, SearchViewModel } from './search-view.js';
import { renderTable, type Cell, type Column } from './table.js';

const h = escapeHtml;
const pm = (s: { mean: number | null; sd: number | null }): Cell =>
  s.mean === null ? null : { text: s.sd === null ? formatNumber(s.mean) : `${formatNumber(s.mean)} ± ${formatNumber(s.sd)}`, sort: s.mean };

/** The data SEARCH_JS draws from: per run only what the plots need. */
export function searchPageData(vm: SearchViewModel) {
  const groupOf = new Map<string, [number, number]>();
  vm.comparison?.groups.forEach((g, gi) => g.runs.forEach((r, m) => groupOf.set(r, [gi, m])));
  return {
    runs: vm.runs.map((r, k) => {
      const [group, member] = groupOf.get(r.label) ?? [k, 0];
      const pick = (c: SearchCandidateView | null) => c && { id: c.id, weights: c.weights, params: c.params, groupWeights: c.groupWeights ?? null, scores: c.scores, objective: c.objective };
      return {
        label: r.label,
        group,
        member,
        objective: r.objective,
        experts: r.experts,
        tasks: r.tasks,
        params: r.params,
        groups: r.groups,
        ids: r.points.map((c) => c.id),
        evaluations: r.points.map((c) => c.evaluation),
        objectives: r.objectives,
        bestSoFar: r.bestSoFar,
        start: pick(r.startCandidate),
        best: pick(r.best),
        points: r.points.map((c) => ({ id: c.id, e: c.evaluation, s: c.scores, o: c.objective, p: c.pareto })),
      };
    }),
  };
}

function runsTable(vm: SearchViewModel): string {
  const columns: Column[] = [
    { label: 'Run', title: 'the folder of the search.json' },
    { label: 'Method' },
    { label: 'Objective', title: 'what the search maximised over the per-task scores' },
    { label: 'Start', title: '--start: the first evaluated point' },
    { label: 'Seed', numeric: true },
    { label: 'Evaluations', numeric: true, title: 'the start point plus CMA-ES candidates (failed ones in brackets)' },
    { label: 'Start objective', numeric: true },
    { label: 'Best objective', numeric: true },
    { label: 'Gain', numeric: true, title: 'best minus start, in objective units' },
    { label: 'Best found at', numeric: true, title: 'evaluation number of the best candidate' },
    { label: 'Worst task (best)', numeric: true, title: 'the lowest per-task score of the best candidate' },
    { label: 'Pareto front', numeric: true, title: 'candidates no other candidate beats on every task' },
  ];
  const rows: Cell[][] = vm.runs.map((r) => [
    r.label,
    r.methods.length > 1 ? r.methods.join(', ') : r.method,
    r.objective,
    r.start,
    r.seed,
    { text: r.failed ? `${r.evaluations} (${r.failed} failed)` : String(r.evaluations), sort: r.evaluations },
    r.startCandidate?.objective ?? null,
    r.best?.objective ?? null,
    r.gain,
    r.best?.evaluation ?? null,
    r.best?.worst ?? null,
    r.pareto.length,
  ]);
  return renderTable('search-runs-table', columns, rows);
}

function comparisonTable(vm: SearchViewModel): string {
  const c = vm.comparison;
  if (!c) return '';
  const columns: Column[] = [
    { label: 'Runs' },
    { label: 'n', numeric: true, title: 'runs (seeds) in the group' },
    { label: 'Seeds' },
    ...c.checkpoints.map((k) => ({ label: `after ${k}`, numeric: true, title: `best objective after ${k} evaluations, mean ± sd over the group's runs` })),
    { label: 'Final best', numeric: true, title: 'each run\'s best, mean ± sd' },
    { label: 'Best found at', title: 'evaluation of each run\'s best' },
  ];
  const rows: Cell[][] = c.groups.map((g) => [
    { text: g.label, title: g.runs.join(', ') },
    g.runs.length,
    g.seeds.map((s) => (s === null ? '?' : String(s))).join(', '),
    ...g.mean.map((m, k) => pm({ mean: m, sd: g.sd[k] })),
    pm(g.final),
    g.bestAt.map((e) => (e === null ? '—' : String(e))).join(', '),
  ]);
  return `<h3>Runs side by side</h3>
<p class="note">Best objective so far after k evaluations, mean ± sample standard deviation over the runs of each group (same method, objective, experts and start; different seeds). Compare groups (e.g. a predictor-guided start against a uniform one) only where the difference is larger than the spread. A group of one run has no spread.</p>
${renderTable('search-comparison-table', columns, rows)}`;
}

function candidateColumns(vm: SearchViewModel): { columns: Column[]; row: (r: SearchRunView, c: SearchCandidateView) => Cell[] } {
  const many = vm.runs.length > 1;
  const tasks = [...new Set(vm.runs.flatMap((r) => r.tasks))];
  const experts = [...new Set(vm.runs.flatMap((r) => r.experts))];
  const params = [...new Set(vm.runs.flatMap((r) => r.params))];
  const methods = vm.runs.some((r) => r.methods.length > 1);
  const normalized = vm.runs.some((r) => r.normalized);
  const columns: Column[] = [
    ...(many ? [{ label: 'Run' }] : []),
    { label: 'Candidate', title: 'start, or g<generation>-<index>' },
    { label: 'Evaluation', numeric: true },
    ...(methods ? [{ label: 'Method' }] : []),
    { label: 'Objective', numeric: true },
    { label: 'Worst task', numeric: true },
    ...tasks.map((t) => ({ label: t, numeric: true, title: normalized ? `score on ${t}, normalised (hover a cell for the raw score)` : `score on ${t}` })),
    ...experts.map((e) => ({ label: `w ${e}`, numeric: true, title: `merge weight of ${e}` })),
    ...params.map((p) => ({ label: p, numeric: true, title: `searched method parameter ${p}` })),
    { label: 'Pareto', title: '✓: on the Pareto front over tasks' },
  ];
  const row = (r: SearchRunView, c: SearchCandidateView): Cell[] => [
    ...(many ? [r.label] : []),
    c.id,
    c.evaluation,
    ...(methods ? [c.method ?? r.method] : []),
    c.objective,
    c.worst,
    ...tasks.map((t): Cell => {
      const k = r.tasks.indexOf(t);
      const v = k < 0 ? null : c.scores[k];
      if (v === null || !r.normalized) return v;
      return { text: formatNumber(v), sort: v, title: `raw score ${formatNumber(c.raw[k])}` };
    }),
    ...experts.map((e) => {
      const k = r.experts.indexOf(e);
      return k < 0 ? null : c.weights[k];
    }),
    ...params.map((p) => c.params[p] ?? null),
    c.pareto ? { text: '✓', sort: 1 } : { text: '', sort: 0 },
  ];
  return { columns, row };
}

function guideNote(r: SearchRunView): string {
  const g = r.guide;
  if (!g) return '';
  const method = g.given === 'auto' && g.chosen ? `method chosen by the predictor: <b>${h(g.chosen)}</b>` : '';
  const dropped = g.dropped.length ? `experts dropped before the search (predicted to merge worse than the others): ${h(g.dropped.join(', '))}` : 'no expert dropped';
  return `<p class="note"><b>${h(r.label)}</b> predictor guidance: ${[method, dropped].filter(Boolean).join('; ')}.</p>`;
}

function bestWeightsNote(r: SearchRunView): string {
  const b = r.best;
  if (!b) return `<p class="note">${h(r.label)}: no candidate succeeded.</p>`;
  const w = r.experts.map((e, k) => `${e} ${formatNumber(b.weights[k])}`).join(', ');
  const p = Object.entries(b.params).map(([k, v]) => `${k} ${formatNumber(v)}`).join(', ');
  return `<p class="note" data-run="${h(r.label)}"><b>${h(r.label)}</b> best <code>${h(b.id)}</code> (evaluation ${h(b.evaluation)}, objective ${h(formatNumber(b.objective))}): ${h(w)}${p ? ` · ${h(p)}` : ''}${b.method ? ` · method ${h(b.method)}` : ''}</p>`;
}

/** The section's HTML and its scripts (data block + SEARCH_JS), to go before the page script. */
export function renderSearchSection(vm: SearchViewModel): { html: string; scripts: string } {
  const r0 = vm.runs[0];
  const many = vm.runs.length > 1;
  const { columns, row } = candidateColumns(vm);
  const paretoRows = vm.runs.flatMap((r) => r.pareto.map((c) => row(r, c)));
  const topRows = vm.runs.flatMap((r) => r.top.map((c) => row(r, c)));
  const topN = Math.max(...vm.runs.map((r) => r.top.length));
  const normalisations = [...new Set(vm.runs.map((r) => r.normalization).filter(Boolean))];
  const tasksCounts = new Set(vm.runs.map((r) => r.tasks.length));
  const groupWeights = vm.runs.some((r) => r.best?.groupWeights);
  const runSelect = many
    ? `<div class="controls"><label for="search-run">Run <select id="search-run">${vm.runs.map((r, k) => `<option value="${k}">${h(r.label)}</option>`).join('')}</select></label></div>`
    : '';
  const html = `<section id="search-section"><h2>Merge-recipe search</h2>
<p class="note">${h(vm.runs.length)} search log${many ? 's' : ''} (<code>mergelens search</code>): ${h(r0.method)} over ${h(r0.experts.length)} experts, objective <b>${h(r0.objective)}</b> over ${h(r0.tasks.length)} task${r0.tasks.length === 1 ? '' : 's'}. Every candidate was evaluated once: the log carries no per-score uncertainty, so the seed-to-seed spread (several logs, one per seed) is the error bar to compare with.</p>
${normalisations.map((n) => `<p class="note">Scores: ${h(n)}.</p>`).join('')}
${runsTable(vm)}
${vm.runs.map(guideNote).join('\n')}
<h3>Best objective so far</h3>
<div id="search-curve" class="plot"></div>
<p class="note">${many ? 'One line per run (colour: start and method; dash: seed).' : 'Line: the best objective after each evaluation; dots: each candidate\'s own objective (failed candidates are left out).'} Evaluation 1 is the start point; CMA-ES generations follow.</p>
${comparisonTable(vm)}
<h3>Weights of the best recipe</h3>
<div id="search-weights" class="plot"></div>
${vm.runs.map(bestWeightsNote).join('\n')}
${many ? `<h3>Per run</h3>${runSelect}` : ''}
${groupWeights ? `<h3>Per-layer-group weights of the best recipe</h3>${many ? '<p class="note">For the run chosen above.</p>' : ''}<div id="search-group-weights" class="plot"></div><p class="note">The bars above show each expert's weight averaged over the layer groups (weighted by their parameter counts); here, one weight per expert and layer group.</p>` : ''}
<h3>Trade-offs: the Pareto front over tasks</h3>
<div id="search-pareto" class="plot"></div>
<p class="note" id="search-pareto-note">${tasksCounts.has(1) && tasksCounts.size === 1 ? 'One task: the front is the best candidate alone.' : 'A candidate is on the front when no other candidate scores at least as well on every task and better on one: what was gained on one task at what cost on another.'}</p>
${renderTable('search-pareto-table', columns, paretoRows)}
<h3>Top ${h(topN)} candidates${many ? ' per run' : ''}</h3>
${renderTable('search-top-table', columns, topRows)}
</section>`;
  return { html, scripts: `${jsonScriptBlock('mergelens-search-data', searchPageData(vm))}\n${inlineScript(SEARCH_JS)}` };
}

export const SEARCH_JS = String.raw`
(window.mergelensSections = window.mergelensSections || []).push(function (K) {
  'use strict';
  var S = JSON.parse(document.getElementById('mergelens-search-data').textContent);
  var $ = K.$, fmt = K.fmt, pt = K.pt, layout = K.layout, CONFIG = K.CONFIG, COLORS = K.COLORS, DASHES = K.DASHES, SYMBOLS = K.SYMBOLS;
  if (!$('search-curve') || !S.runs.length) return;
  var many = S.runs.length > 1;
  function seq(n) { var a = []; for (var i = 1; i <= n; i++) a.push(i); return a; }

  function drawCurve() {
    var traces = [];
    S.runs.forEach(function (r) {
      var color = COLORS[r.group % COLORS.length];
      traces.push({ type: 'scatter', mode: 'lines', name: pt(r.label) + (many ? '' : ' · best so far'), x: seq(r.bestSoFar.length), y: r.bestSoFar,
        line: { color: color, width: 2, shape: 'hv', dash: DASHES[r.member % DASHES.length] },
        hovertemplate: pt(r.label) + '<br>after %{x} evaluations: %{y:.4g}<extra></extra>' });
      if (!many) {
        traces.push({ type: 'scatter', mode: 'markers', name: 'each candidate', x: r.evaluations, y: r.points.map(function (p) { return p.o; }),
          text: r.ids.map(pt), marker: { color: '#9aa3af', size: 6, symbol: 'circle-open' },
          hovertemplate: '%{text} (evaluation %{x}): %{y:.4g}<extra></extra>' });
      }
    });
    Plotly.react('search-curve', traces, layout({
      height: 380, margin: { l: 70, r: 20, t: 30, b: 50 },
      xaxis: { title: { text: 'evaluations' }, rangemode: 'tozero', dtick: Math.max.apply(null, S.runs.map(function (r) { return r.bestSoFar.length; })) <= 20 ? 1 : undefined },
      yaxis: { title: { text: 'objective (' + pt(S.runs[0].objective) + ')' } },
      legend: { orientation: 'h', x: 0, y: 1.02, yanchor: 'bottom' }
    }), CONFIG);
  }

  function drawWeights() {
    var traces = [];
    function bars(r, c, name, color) {
      var x = r.experts.concat(r.params.map(function (p) { return p + ' (param)'; })).map(pt);
      var y = c.weights.concat(r.params.map(function (p) { return c.params[p] === undefined ? null : c.params[p]; }));
      traces.push({ type: 'bar', name: name, x: x, y: y, marker: { color: color, line: { color: '#333', width: 0.5 } },
        text: y.map(fmt), textposition: 'outside', cliponaxis: false,
        hovertemplate: '%{x}: %{y:.4g}<extra>' + name + '</extra>' });
    }
    // one colour per run here (the curve colours by start group and dashes by seed instead)
    S.runs.forEach(function (r, k) {
      if (r.best) bars(r, r.best, pt(r.label) + ' · best (' + pt(r.best.id) + ')', COLORS[k % COLORS.length]);
      if (!many && r.start) bars(r, r.start, 'start', '#c5ccd6');
    });
    Plotly.react('search-weights', traces, layout({
      height: 360, barmode: 'group', margin: { l: 60, r: 20, t: 30, b: 80 },
      xaxis: { type: 'category', tickangle: -30, automargin: true }, yaxis: { title: { text: 'weight' }, zeroline: true, zerolinecolor: '#333' },
      legend: { orientation: 'h', x: 0, y: 1.02, yanchor: 'bottom' }
    }), CONFIG);
  }

  // Per-layer-group weights: rows experts, columns layer groups (groupWeights is [expert][group]).
  function drawGroupWeights(r) {
    if (!$('search-group-weights')) return;
    var g = r.best && r.best.groupWeights;
    if (!g) { Plotly.purge('search-group-weights'); return; }
    var groups = (r.groups || g[0].map(function (_, i) { return 'group ' + (i + 1); })).map(pt);
    Plotly.react('search-group-weights', [{ type: 'heatmap', z: g, x: groups, y: r.experts.map(pt), colorscale: 'Viridis',
      text: g.map(function (row) { return row.map(fmt); }), texttemplate: g.length * groups.length <= 200 ? '%{text}' : '',
      hovertemplate: '%{y} · %{x}: %{z:.4g}<extra></extra>', colorbar: { title: { text: 'weight', side: 'right' }, thickness: 14 } }],
      layout({ height: Math.max(300, Math.min(900, 120 + 30 * r.experts.length)), margin: { l: 140, r: 20, t: 20, b: 100 },
        xaxis: { type: 'category', tickangle: -30, automargin: true }, yaxis: { type: 'category', autorange: 'reversed', automargin: true } }), CONFIG);
  }

  function drawPareto() {
    var r = S.runs[$('search-run') ? Number($('search-run').value) : 0];
    drawGroupWeights(r);
    var ok = r.points.filter(function (p) { return p.s.every(function (v) { return v !== null; }); });
    var front = ok.filter(function (p) { return p.p; });
    if (r.tasks.length === 2) {
      // sorted by the first task; drawn as the staircase bounding what the front dominates
      var sorted = front.slice().sort(function (a, b) { return a.s[0] - b.s[0]; });
      var traces = [
        { type: 'scatter', mode: 'markers', name: 'all candidates', x: ok.map(function (p) { return p.s[0]; }), y: ok.map(function (p) { return p.s[1]; }),
          text: ok.map(function (p) { return pt(p.id) + ' (objective ' + fmt(p.o) + ')'; }), marker: { color: '#9aa3af', size: 7 },
          hovertemplate: '%{text}<br>%{x:.4g}, %{y:.4g}<extra></extra>' },
        { type: 'scatter', mode: 'lines+markers', name: 'Pareto front', x: sorted.map(function (p) { return p.s[0]; }), y: sorted.map(function (p) { return p.s[1]; }),
          text: sorted.map(function (p) { return pt(p.id) + ' (objective ' + fmt(p.o) + ')'; }), line: { color: COLORS[0], width: 1.5, shape: 'vh' },
          marker: { color: COLORS[0], size: 9, symbol: 'diamond' }, hovertemplate: '%{text}<br>%{x:.4g}, %{y:.4g}<extra>front</extra>' }
      ];
      if (r.best && r.best.scores.every(function (v) { return v !== null; })) {
        traces.push({ type: 'scatter', mode: 'markers', name: 'best (' + pt(r.best.id) + ')', x: [r.best.scores[0]], y: [r.best.scores[1]],
          marker: { color: COLORS[1], size: 16, symbol: 'star', line: { color: '#333', width: 1 } }, hovertemplate: 'best: %{x:.4g}, %{y:.4g}<extra></extra>' });
      }
      Plotly.react('search-pareto', traces, layout({ height: 440, margin: { l: 70, r: 20, t: 30, b: 60 },
        xaxis: { title: { text: pt(r.tasks[0]) } }, yaxis: { title: { text: pt(r.tasks[1]) } },
        legend: { orientation: 'h', x: 0, y: 1.02, yanchor: 'bottom' } }), CONFIG);
    } else if (r.tasks.length > 2) {
      var dims = r.tasks.map(function (t, k) { return { label: pt(t), values: front.map(function (p) { return p.s[k]; }) }; });
      dims.push({ label: 'objective', values: front.map(function (p) { return p.o; }) });
      Plotly.react('search-pareto', [{ type: 'parcoords', dimensions: dims,
        line: { color: front.map(function (p) { return p.o; }), colorscale: 'Viridis', showscale: true, colorbar: { title: { text: 'objective', side: 'right' }, thickness: 14 } } }],
        layout({ height: 420, margin: { l: 70, r: 70, t: 60, b: 30 } }), CONFIG);
    } else {
      Plotly.purge('search-pareto');
    }
  }

  drawCurve();
  drawWeights();
  if ($('search-run')) $('search-run').addEventListener('change', drawPareto);
  drawPareto();
});
`;
