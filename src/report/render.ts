/**
 * The self-contained HTML compatibility report: one file with plotly.js inlined once, all data
 * embedded as a JSON block, no external URLs (opens offline from disk). Static parts (summary,
 * tables, glossary) are rendered here with every user string escaped; plots are drawn in the
 * page from the embedded model (see page.ts, model.ts).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { InputFingerprint, MetricsReport, PredictorFile, Prediction } from '../types.js';
import { isMergelensError, MergelensError } from '../errors.js';
import { predictPairs } from '../predict/predict.js';
import { writeFileAtomic } from '../util/atomic.js';
import { formatBytes } from '../util/progress.js';
import { escapeAttr, escapeHtml, inlineScript, jsonScriptBlock } from './escape.js';
import { formatCount, formatNumber } from './format.js';
import { buildReportModel, FAMILY_ORDER, metricInfo, type ReportInput, type ReportModel, type TransferRow } from './model.js';
import { PAGE_CSS, PAGE_JS } from './page.js';
import { recommend, type PairVerdict, type Recommendations } from './recommend.js';
import { renderTable, type Cell, type Column } from './table.js';
import type { Curve, Score } from '../sweep/curve.js';
import { renderSearchSection } from './search-section.js';
import { groupSection } from './group-section.js';

export type { ReportInput } from './model.js';

/** Path of the minified plotly.js bundle that every report inlines. */
export function plotlyBundlePath(): string {
  try {
    return createRequire(import.meta.url).resolve('plotly.js-dist-min/plotly.min.js');
  } catch {
    throw new MergelensError('NOT_FOUND', 'plotly.js-dist-min is not installed', { file: 'node_modules/plotly.js-dist-min/plotly.min.js', hint: 'run npm ci' });
  }
}

const FAMILY_HINT: Record<string, string> = {
  gradient: 'needs per-expert gradient files (--grads)',
  activation: 'needs per-expert activation files (--acts)',
};

const h = escapeHtml;
const pairText = (a: string, b: string) => `${a} × ${b}`;

function card(key: string, value: string, detail = ''): string {
  return `<div class="card"><div class="k">${h(key)}</div><div class="v">${value}</div>${detail ? `<div class="d">${detail}</div>` : ''}</div>`;
}

function summaryCards(m: MetricsReport): string {
  const s = m.settings;
  const filters = [s.include?.length ? `include ${s.include.join(', ')}` : '', s.exclude?.length ? `exclude ${s.exclude.join(', ')}` : ''].filter(Boolean).join('; ');
  return `<div class="cards">
${card('Experts', String(m.experts.length), `<ul class="experts">${m.experts.map((e) => `<li>${h(e)}</li>`).join('')}</ul>`)}
${card('Base model', h(m.base?.name ?? '—'), `<code>${h(m.base?.path ?? '')}</code>`)}
${card('Parameters compared', h(formatCount(m.stats?.parameters ?? 0)), `${h(m.stats?.tensors ?? 0)} tensors · ${h(m.pairs.length)} pairs`)}
${card('Data read', h(formatBytes(m.stats?.bytesRead ?? 0)), `in ${h(formatNumber(m.stats?.seconds ?? 0))} s · ${h(m.createdAt)}`)}
${card('Settings', `shard ${h(s.shard ?? '1/1')}`, `trim fraction ${h(s.trimFraction)} · subspace k ${h(s.subspaceK)} · spectrum k ${h(s.spectrumK)}${filters ? ` · ${h(filters)}` : ''}`)}
</div>`;
}

function computedSection(metrics: MetricsReport, model: ReportModel): string {
  const all = Object.keys(metrics.metrics);
  const families = [...FAMILY_ORDER, ...new Set(all.map((id) => metricInfo(metrics, id).family).filter((f) => !(FAMILY_ORDER as string[]).includes(f)))];
  const rows = families.map((fam) => {
    const ids = all.filter((id) => metricInfo(metrics, id).family === fam);
    const on = ids.filter((id) => model.metricIds.includes(id));
    const off = ids.filter((id) => !model.metricIds.includes(id));
    const chips = [
      ...on.map((id) => `<a class="chip" href="#metric-${escapeAttr(id)}" title="${escapeAttr(metricInfo(metrics, id).description)}">${h(metricInfo(metrics, id).label)}</a>`),
      ...off.map((id) => `<span class="chip off" title="no values in the metrics file">${h(metricInfo(metrics, id).label)}: not computed</span>`),
    ];
    if (!ids.length) chips.push(`<span class="chip off">not computed${FAMILY_HINT[fam] ? ` (${h(FAMILY_HINT[fam])})` : ''}</span>`);
    return `<div><b>${h(fam.replace('_', '-'))}</b><div class="family">${chips.join(' ')}</div></div>`;
  });
  return `<h3>What was computed</h3>${rows.join('\n')}`;
}

function warningsSection(input: ReportInput, extra: [source: string, text: string][]): string {
  const items = [
    ...[...(input.preflight ?? []), ...(input.warnings ?? [])].map((w) => ['pre-flight', w]),
    ...(input.metrics.warnings ?? []).map((w) => ['metrics', w]),
    ...extra,
  ];
  if (!items.length) return `<h3>Warnings</h3><p class="note">None: the pre-flight checks and the metrics run reported no problems.</p>`;
  return `<h3>Warnings (${items.length})</h3><ul class="warnings">${items.map(([src, w]) => `<li><span class="src">${h(src)}</span>${h(w)}</li>`).join('')}</ul>`;
}

function verdictLine(v: PairVerdict, recs: Recommendations, metrics: MetricsReport): string {
  if (recs.basis === 'predictions') {
    const ood = v.domain && v.domain !== 'in' ? ` <span class="bad" title="${escapeAttr(v.domainWhy ?? 'domain unknown')}">${h(v.domain === '?' ? 'domain unknown' : v.domain)}</span>` : '';
    const method = v.bestText && v.bestText !== v.bestMethod ? `${h(v.bestText)}; highest <b>${h(v.bestMethod ?? '')}</b>` : `best with <b>${h(v.bestMethod ?? '')}</b>`;
    return `<li><b>${h(pairText(v.a, v.b))}</b> — ${method}: ${h(formatNumber(v.value))} [${h(formatNumber(v.lo))}, ${h(formatNumber(v.hi))}]${ood}</li>`;
  }
  return `<li><b>${h(pairText(v.a, v.b))}</b> — ${h(metricInfo(metrics, recs.metric!).label)} ${h(formatNumber(v.value))}</li>`;
}

/** Worst first, at most AVOID_SHOWN; the rest are in the per-pair table. */
const AVOID_SHOWN = 5;
function avoidList(recs: Recommendations, metrics: MetricsReport): string {
  if (!recs.avoid.length) return '<p class="note">None stands out as clearly worse than the best pair.</p>';
  const more = recs.avoid.length - AVOID_SHOWN;
  const why = recs.basis === 'predictions' ? '<p class="note">Even their best method\'s 95% interval lies entirely below the best pair\'s.</p>' : '';
  return `${why}<ol class="recs" id="avoid-pairs">${recs.avoid.slice(0, AVOID_SHOWN).map((v) => verdictLine(v, recs, metrics)).join('')}</ol>${more > 0 ? `<p class="note">…and ${more} more (see the table below).</p>` : ''}`;
}

/** The verdict's notes and the predictor's out-of-fold quality: printed with every verdict (verdict.ts). */
function verdictHead(recs: Recommendations): string {
  const v = recs.verdict;
  if (!v) return '';
  const notes = v.notes.length ? `<div id="verdict-notes">${v.notes.map((n) => `<p class="note"><b>${h(n)}</b></p>`).join('')}</div>` : '';
  const q = Object.values(v.quality);
  if (!q.length) return notes;
  const columns: Column[] = [
    { label: 'Method' },
    { label: 'Out-of-fold r', numeric: true, title: 'Pearson r of the calibrated model\'s out-of-fold predictions' },
    { label: 'RMSE', numeric: true },
    { label: 'Mean RMSE', numeric: true, title: 'predicting the training-fold mean' },
    { label: 'Beats the mean' },
  ];
  const rows: Cell[][] = q.map((x) => [x.method, x.r, x.rmse, x.baselineRmse, x.beatsMean === null ? 'unknown' : x.beatsMean ? 'yes' : 'no: withheld']);
  const scheme = q[0].scheme === 'loto' ? 'leave-one-task-out (new experts)' : (q[0].scheme ?? 'none');
  return `${notes}<h3>How good is this predictor? (out of fold, ${h(scheme)})</h3>${renderTable('oof-quality-table', columns, rows)}`;
}

function recommendationsSection(metrics: MetricsReport, recs: Recommendations | null, outcome: string | null): string {
  if (!recs) return `<h3>Recommendations</h3><p class="note">Nothing to rank: no predictions and none of the ranking metrics have values.</p>`;
  const basis =
    recs.basis === 'predictions'
      ? `Ranked by the best method's predicted ${h(outcome ?? 'outcome')} (calibrated predictor; brackets: prediction interval).`
      : `No predictions given: pairs ranked by <b>${h(metricInfo(metrics, recs.metric!).label)}</b> alone — a heuristic, not a performance prediction. Pass <code>--predictor</code> for predicted performance per method.`;
  const v = recs.verdict;
  const bestTitle = v && v.lead.length > 1 ? `No clear winner among these ${v.lead.length} pairs` : 'Best pairs';
  const leadMore = v && v.lead.length > recs.best.length ? `<p class="note">…and ${v.lead.length - recs.best.length} more tied pair(s) (intervals overlap the best's; see the table below).</p>` : '';
  const lists = `${verdictHead(recs)}<div class="two">
<div><h3 class="good">${h(bestTitle)}</h3><ol class="recs" id="best-pairs">${recs.best.map((v) => verdictLine(v, recs, metrics)).join('')}</ol>${leadMore}</div>
<div><h3 class="bad">Pairs to avoid</h3>${avoidList(recs, metrics)}</div>
</div>`;
  let perPair = '';
  if (recs.basis === 'predictions') {
    const columns: Column[] = [{ label: 'Pair' }, { label: 'Best method', title: 'named only where it beats the runner-up beyond the error (intervals separate)' }, { label: 'Predicted', numeric: true }, { label: 'Low', numeric: true }, { label: 'High', numeric: true }, { label: 'Domain', title: 'in: within the predictor\'s training data; OOD ×d: out of domain, d = distance in thresholds' }, { label: 'Runner-up' }, { label: 'Margin', numeric: true, title: 'best minus runner-up prediction' }];
    const rows: Cell[][] = recs.ranked.map((v) => {
      const second = v.methods![1];
      return [pairText(v.a, v.b), v.bestText ?? v.bestMethod ?? '', v.value, v.lo ?? null, v.hi ?? null, v.domain ?? '?', second?.method ?? '—', second ? v.value - second.predicted : null];
    });
    perPair = `<h3>Best method per pair</h3>${renderTable('best-method-table', columns, rows)}`;
  }
  return `<h3>Recommendations</h3><p class="note">${basis}</p>${lists}${perPair}`;
}

function heatmapSection(model: ReportModel): string {
  if (!model.metricIds.length) return `<section id="heatmap-section"><h2>Pairwise metrics</h2><p class="note">The metrics file has no metric values.</p></section>`;
  return `<section id="heatmap-section"><h2>Pairwise metrics</h2>
<div class="controls"><label for="metric-select">Metric <select id="metric-select"></select></label></div>
<div id="heatmap" class="plot"></div>
<p class="caption" id="metric-caption"></p>
<p class="note">Experts are ordered by average-linkage clustering on a distance from the selected metric (values min–max scaled to [0,1], distance = 1 − similarity), so mutually compatible experts sit together.</p>
</section>`;
}

function layerSection(model: ReportModel): string {
  const { layer, tensor } = model;
  if (!model.pairs.length || (!layer.groups.length && !tensor.groups.length)) {
    return `<section id="layers-section"><h2>Per layer</h2><p class="note">No per-layer or per-tensor breakdown in the metrics file.</p></section>`;
  }
  const level = (value: string, text: string, n: number) => `<option value="${value}"${n ? '' : ' disabled'}>${h(text)} (${h(n)})</option>`;
  return `<section id="layers-section"><h2>Per layer: where do two experts conflict?</h2>
<div class="controls">
<label for="pair-select">Pair <select id="pair-select"></select></label>
<label for="layer-metric">Metric <select id="layer-metric"></select></label>
<label for="layer-level">Level <select id="layer-level">${layer.groups.length ? level('layer', 'layers', layer.originalGroups) + level('tensor', 'tensors', tensor.originalGroups) : level('tensor', 'tensors', tensor.originalGroups) + level('layer', 'layers', 0)}</select></label>
<label for="layer-kind">Chart <select id="layer-kind"><option value="line">line</option><option value="bar">bar</option></select></label>
</div>
<div id="layer-plot" class="plot"></div>
<p class="caption" id="layer-caption"></p>
<p class="note" id="layer-note"></p>
<p class="note">The dashed line is the whole-model value of the same metric. Only metrics with values at the chosen level are listed (gradient and activation metrics are usually whole-model only).</p>
</section>`;
}

function predictionsSection(model: ReportModel, predictions: Prediction[]): string {
  if (!model.predictions) return '';
  const columns: Column[] = [
    { label: 'Pair' },
    { label: 'Method' },
    { label: 'Predicted', numeric: true, title: `calibrated prediction of ${model.outcomeName ?? 'the outcome'}` },
    { label: 'Low', numeric: true, title: 'lower end of the prediction interval' },
    { label: 'High', numeric: true, title: 'upper end of the prediction interval' },
    { label: 'Score', numeric: true, title: 'paper-model score: ranks pairs, no units' },
    { label: 'Main drivers', title: 'metric contributions to the calibrated prediction, largest first' },
  ];
  // A sweep's predictions.json carries the measured outcome of every merge it evaluated.
  const measured = (p: Prediction) => (p as Prediction & { measured?: number }).measured;
  const evaluated = predictions.filter((p) => typeof measured(p) === 'number').length;
  if (evaluated) columns.splice(2, 0, { label: 'Measured', numeric: true, title: 'evaluated by the sweep; empty: predicted only' });
  const rows: Cell[][] = predictions.map((p) => [
    pairText(p.a, p.b),
    p.method,
    ...(evaluated ? [measured(p) ?? null] : []),
    p.predicted,
    p.lo,
    p.hi,
    p.score,
    (p.drivers ?? []).slice(0, 3).map((d) => `${d.metric} ${d.contribution >= 0 ? '+' : '−'}${formatNumber(Math.abs(d.contribution))}`).join(', '),
  ]);
  return `<section id="predictions-section"><h2>Predicted post-merge ${h(model.outcomeName ?? 'performance')} per method</h2>
<p class="note">Each cell: calibrated prediction and its interval [low, high] for merging the pair with the method. Brighter = better.</p>
${evaluated ? `<p class="note">Sweep: ${evaluated} of ${predictions.length} merges were evaluated (column Measured); the other ${predictions.length - evaluated} are predicted only.</p>` : ''}
<div id="pred-heatmap" class="plot"></div>
<h3>All predictions</h3>${renderTable('predictions-table', columns, rows)}
</section>`;
}

function studySection(model: ReportModel): string {
  if (model.scatter) {
    const rows: Cell[][] = model.scatter.map((s) => [s.method, s.n, s.r]);
    return `<section id="study-section"><h2>Study: predicted vs actual</h2>
<p class="note">Every merge measured in the study, its actual ${h(model.outcomeName ?? 'outcome')} against the predictor's calibrated prediction from the same pair's metrics (in-sample: the predictor was fitted on these rows unless it was fitted elsewhere). r = Pearson correlation.</p>
<div id="scatter-plot" class="plot"></div>
${renderTable('study-table', [{ label: 'Method' }, { label: 'n', numeric: true }, { label: 'r', numeric: true, title: 'Pearson correlation of predicted and actual' }], rows)}
</section>`;
  }
  if (model.outcomes) {
    return `<section id="study-section"><h2>Study outcomes per method</h2>
<p class="note">Measured ${h(model.outcomeName ?? 'outcome')} of every merge in the study. Pass <code>--predictor</code> to compare with predictions.</p>
<div id="outcome-plot" class="plot"></div></section>`;
  }
  return '';
}

const f3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : '—');
/** A number to 3 decimals (the precision of docs/sweep.md), sorting on its value. */
const c3 = (x: number): Cell => ({ text: f3(x), sort: Number.isFinite(x) ? x : null });
/** mean ± sd over random seeds, sorting on the mean. */
const pm3 = (s: { mean: number; sd: number }): Cell => ({ text: `${f3(s.mean)} ± ${f3(s.sd)}`, sort: Number.isFinite(s.mean) ? s.mean : null });

/**
 * The budgeted sweep's learning curve (src/sweep/curve.ts, `mergelens sweep-curve`): held-out r
 * and RMSE against the number of evaluated merges, informative selection vs random selection.
 */
function curveSection(curve: Curve | undefined): string {
  if (!curve?.points.length) return '';
  const runs = curve.points[0].random.runs;
  const columns: Column[] = [
    { label: 'Evaluated merges', numeric: true },
    { label: 'Share', numeric: true },
    { label: 'Predicted merges', numeric: true, title: 'merges not evaluated, scored against their measured outcome' },
    { label: 'r selected', numeric: true, title: 'pooled Pearson r of predicted vs measured, informative design' },
    { label: 'r random', numeric: true, title: `random selection, mean ± sd over ${runs} seeds` },
    { label: 'RMSE selected', numeric: true },
    { label: 'RMSE random', numeric: true },
    { label: 'Within-method r selected', numeric: true, title: 'mean over methods of the Pearson r within one method' },
    { label: 'Within-method r random', numeric: true },
  ];
  const rows: Cell[][] = curve.points.map((p) => [
    p.budget,
    { text: `${(p.fraction * 100).toFixed(0)}%`, sort: p.fraction },
    p.heldOut,
    c3(p.selected.r),
    pm3({ mean: p.random.mean.r, sd: p.random.sd.r }),
    c3(p.selected.rmse),
    pm3({ mean: p.random.mean.rmse, sd: p.random.sd.rmse }),
    c3(p.selected.methodR),
    pm3({ mean: p.random.mean.methodR, sd: p.random.sd.methodR }),
  ]);
  const all = (label: string, s: Score): Cell[] => [{ text: `all ${curve.total}, ${label}`, sort: curve.total }, { text: '100%', sort: 1 }, null, c3(s.r), null, c3(s.rmse), null, c3(s.methodR), null];
  rows.push(all('5-fold out-of-fold', curve.all.kfold), all('leave-one-task-out', curve.all.loto));
  return `<section id="curve-section"><h2>Budgeted sweep: learning curve</h2>
<p class="note">If only some of the study's ${h(curve.total)} merges (${h(curve.pairs)} pairs × ${h(curve.methods.length)} methods) had been evaluated — chosen by <code>sweep --budget</code>'s informative design, or at random (${h(runs)} seeds, mean ± sd) — how well would predictors fitted on them (on ${h(curve.features.length)} metric features) predict the merges left out? Pooled Pearson r and RMSE over the predicted merges; the last two rows are out-of-fold predictions with every merge evaluated. <code>mergelens sweep-curve</code> prints the same numbers.</p>
${renderTable('curve-table', columns, rows)}
</section>`;
}

const n3 = (x: number | null): Cell => (x === null ? null : c3(x));

/** Predictors carried from one study to another: how they predict the other study's merges, against its own LOTO. */
function transferSection(rows: TransferRow[] | undefined): string {
  if (!rows?.length) return '';
  const columns: Column[] = [
    { label: 'Fitted on' },
    { label: 'Validated on' },
    { label: 'Rows', numeric: true },
    { label: 'Mean r per method', numeric: true },
    { label: 'Pooled r', numeric: true, title: 'Pearson r of calibrated predictions vs measured outcome, every method pooled' },
    { label: 'RMSE', numeric: true },
    { label: 'Source-mean RMSE', numeric: true, title: 'predicting the source study\'s mean outcome' },
    { label: 'Own LOTO r', numeric: true, title: 'the target study\'s own predictor, leave-one-task-out, calibrated pooled r' },
    { label: 'Own LOTO RMSE', numeric: true },
    { label: 'Own mean-baseline RMSE', numeric: true },
    { label: 'In domain', numeric: true, title: 'share of the target\'s pairs inside the source predictor\'s training domain' },
  ];
  const body: Cell[][] = rows.map((t) => [t.from, t.to, t.rows, n3(t.meanMethodR), n3(t.r), c3(t.rmse), c3(t.baselineRmse), n3(t.ownR), n3(t.ownRmse), n3(t.ownBaselineRmse), t.inDomain === null ? null : { text: `${(t.inDomain * 100).toFixed(0)}%`, sort: t.inDomain }]);
  return `<section id="transfer-section"><h2>Transfer between studies</h2>
<p class="note">A predictor fitted on one study, used unchanged on every merge of another: does what it learned carry over to another architecture or expert kind? Compare its r and RMSE with the target study's own leave-one-task-out figures, and with predicting the source's mean. "In domain" is the share of the target's pairs the source predictor's domain guard accepts.</p>
${renderTable('transfer-table', columns, body)}
</section>`;
}

function predictorSection(model: ReportModel, predictor: PredictorFile | undefined): string {
  if (!model.fingerprints || !predictor) return '';
  const columns: Column[] = [
    { label: 'Method' },
    { label: 'Train rows', numeric: true },
    { label: 'Validation' },
    { label: 'Mean fold r', numeric: true, title: 'paper model: mean per-fold Pearson r on held-out pairs' },
    { label: 'Pooled r', numeric: true, title: 'paper model: Pearson r of all out-of-fold predictions' },
    { label: 'Calibrated r', numeric: true, title: 'calibrated model: pooled out-of-fold Pearson r' },
    { label: 'Calibrated MAE', numeric: true },
    { label: 'Baseline MAE', numeric: true, title: 'predicting the training mean' },
    { label: 'Calibrated RMSE', numeric: true },
    { label: 'Baseline RMSE', numeric: true, title: 'predicting the training mean' },
  ];
  const rows: Cell[][] = Object.values(predictor.methods).map((mp) => {
    const v = mp.validation?.[0];
    return [mp.method, mp.trainRows, v ? `${v.scheme}, ${v.folds} folds` : '—', v?.meanFoldR ?? null, v?.pooledR ?? null, v?.calibrated.pooledR ?? null, v?.calibrated.mae ?? null, v?.baseline.mae ?? null, v?.calibrated.rmse ?? null, v?.baseline.rmse ?? null];
  });
  const fp = predictor.fingerprints;
  return `<section id="predictor-section"><h2>Predictor fingerprints</h2>
<p class="note">Fitted on: ${h(predictor.fittedOn)}. Which metrics each method's predictor relies on (its "fingerprint"), and how much the fingerprints of different methods agree.</p>
<div class="controls">
<label for="fp-method">Method <select id="fp-method"></select></label>
<label for="fp-kind">Coefficients <select id="fp-kind"><option value="calibrated">calibrated (with bootstrap interval)</option><option value="paper">paper (Pearson objective)</option></select></label>
</div>
<div id="fp-plot" class="plot"></div>
<p class="note" id="fp-caption"><b>Calibrated</b> coefficients: change in the predicted outcome (its units) per one standard deviation of the metric, with a 95 % bootstrap interval. <b>Paper</b> coefficients: weights of the Pearson-objective fit on features min–max scaled to [−1, 1]. Blue bars raise the prediction as the metric grows, orange bars lower it; metrics the fit left at exactly zero are not drawn.</p>
<div class="two"><div id="overlap-plot" class="plot"></div><div id="sign-plot" class="plot"></div></div>
<p class="note">Mean top-5 overlap across methods: ${h(formatNumber(fp?.meanTop5Overlap ?? null))}; mean sign agreement: ${h(formatNumber(fp?.meanSignAgreement ?? null))}.</p>
<h3>Validation</h3>${renderTable('validation-table', columns, rows)}
</section>`;
}

function pairsSection(metrics: MetricsReport, model: ReportModel, predictor: PredictorFile | undefined, recs: Recommendations | null): string {
  if (!metrics.pairs.length) return '';
  const preferred = predictor ? [...new Set(Object.values(predictor.methods).flatMap((m) => m.features))] : [];
  let ids = preferred.filter((id) => model.metricIds.includes(id));
  if (!ids.length) ids = FAMILY_ORDER.map((f) => model.metricIds.find((id) => model.definitions[id].family === f)).filter((id): id is string => !!id);
  ids = ids.slice(0, 8);
  const byPair = new Map((recs?.basis === 'predictions' ? recs.ranked : []).map((v) => [JSON.stringify([v.a, v.b]), v]));
  const columns: Column[] = [
    { label: 'Pair' },
    ...ids.map((id) => ({ label: model.definitions[id].label, title: `${id}: ${model.definitions[id].description}`, numeric: true })),
    ...(byPair.size ? [{ label: 'Best method' }, { label: 'Predicted', numeric: true }] : []),
  ];
  const rows: Cell[][] = metrics.pairs.map(([i, j]) => {
    const a = metrics.experts[i];
    const b = metrics.experts[j];
    const v = byPair.get(JSON.stringify([a, b])) ?? byPair.get(JSON.stringify([b, a]));
    return [pairText(a, b), ...ids.map((id) => model.matrices[id][i][j] ?? null), ...(byPair.size ? [v?.bestMethod ?? '—', v?.value ?? null] : [])];
  });
  return `<section id="pairs-section"><h2>All pairs</h2><p class="note">Click a column header to sort. Hover a header for the metric's definition.</p>${renderTable('pairs-table', columns, rows)}</section>`;
}

function glossarySection(metrics: MetricsReport, model: ReportModel): string {
  const ids = [...new Set([...model.metricIds, ...Object.keys(metrics.definitions ?? {})])];
  const rows: Cell[][] = ids.map((id) => {
    const d = metricInfo(metrics, id);
    return [
      { text: d.label, sort: d.label, html: `<span id="metric-${escapeAttr(id)}"><dfn title="${escapeAttr(d.description)}">${h(d.label)}</dfn></span><br><code>${h(id)}</code>` },
      d.family,
      d.unit,
      d.description,
      d.aggregation,
      d.lowerIsSimilar ? 'lower = more alike' : 'higher = more alike',
    ];
  });
  return `<section id="glossary"><h2>Glossary of metrics</h2>${renderTable('glossary-table', [{ label: 'Metric' }, { label: 'Family' }, { label: 'Unit' }, { label: 'Definition' }, { label: 'Aggregation' }, { label: 'Direction' }], rows)}</section>`;
}

function inputsSection(metrics: MetricsReport): string {
  const row = (role: string, f: InputFingerprint): Cell[] => [
    role,
    f.name,
    f.kind,
    { text: f.path, html: `<code>${h(f.path)}</code>` },
    f.files?.length ?? 0,
    { text: formatBytes((f.files ?? []).reduce((s, x) => s + x.bytes, 0)), sort: (f.files ?? []).reduce((s, x) => s + x.bytes, 0) },
    { text: (f.files ?? []).map((x) => x.headerSha256.slice(0, 12)).join(' '), html: `<code>${h((f.files ?? []).map((x) => x.headerSha256.slice(0, 12)).join(' '))}</code>` },
  ];
  const rows = [...(metrics.base ? [row('base', metrics.base)] : []), ...(metrics.inputs ?? []).map((f) => row('input', f))];
  const columns: Column[] = [{ label: 'Role' }, { label: 'Name' }, { label: 'Kind' }, { label: 'Path' }, { label: 'Files', numeric: true }, { label: 'Size', numeric: true }, { label: 'Header SHA-256', title: 'first 12 hex digits per file' }];
  return `<section id="inputs"><h2>Inputs</h2><p class="note">Exactly what the metrics were computed from (header hashes identify each safetensors file).</p>${renderTable('inputs-table', columns, rows)}</section>`;
}

/**
 * Predictions to show: the given ones, else the predictor's for the metrics' pairs. When the
 * predictor needs metrics the file lacks, the report still renders and says why there are none.
 */
export function resolvePredictions(input: ReportInput): { predictions: Prediction[] | undefined; problem?: string } {
  if (input.predictions || !input.predictor) return { predictions: input.predictions };
  try {
    return { predictions: predictPairs(input.predictor, input.metrics) };
  } catch (e) {
    if (!isMergelensError(e)) throw e;
    return { predictions: undefined, problem: `no predictions: ${e.message}` };
  }
}

/** Render the whole report as one self-contained HTML string. */
export function renderReport(reportInput: ReportInput): string {
  const resolved = resolvePredictions(reportInput);
  const input: ReportInput = { ...reportInput, predictions: resolved.predictions };
  const { metrics } = input;
  const model = buildReportModel(input);
  const recs = recommend(metrics, input.predictions, input.predictor);
  const title = input.title ?? `mergelens compatibility report: ${metrics.experts.length} experts on ${metrics.base?.name ?? 'base'}`;
  const search = input.search?.runs.length ? renderSearchSection(input.search) : null;
  const nav: [string, string][] = [
    ['summary', 'Summary'],
    ['heatmap-section', 'Pairwise metrics'],
    ['layers-section', 'Per layer'],
    ...(model.predictions ? ([['predictions-section', 'Predictions']] as [string, string][]) : []),
    ...(model.scatter || model.outcomes ? ([['study-section', 'Study']] as [string, string][]) : []),
    ...(input.curve?.points.length ? ([['curve-section', 'Learning curve']] as [string, string][]) : []),
    ...(model.fingerprints ? ([['predictor-section', 'Fingerprints']] as [string, string][]) : []),
    ['pairs-section', 'All pairs'],
    ...(input.predictor?.groups ? ([['groups-section', 'Groups']] as [string, string][]) : []),
    ...(search ? ([['search-section', 'Search']] as [string, string][]) : []),
    ['glossary', 'Glossary'],
    ['inputs', 'Inputs'],
  ];
  return htmlDocument({
    title,
    sub: `Metrics computed ${h(metrics.createdAt)} · ${h(metrics.experts.length)} experts · ${h(metrics.pairs.length)} pairs${input.predictor ? ` · predictor fitted on ${h(input.predictor.fittedOn)}` : ''}`,
    nav,
    main: `<section id="summary"><h2>Summary</h2>
${summaryCards(metrics)}
${recommendationsSection(metrics, recs, model.outcomeName)}
${warningsSection(input, resolved.problem ? [['predictor', resolved.problem]] : [])}
${computedSection(metrics, model)}
</section>
${heatmapSection(model)}
${layerSection(model)}
${predictionsSection(model, input.predictions ?? [])}
${studySection(model)}
${curveSection(input.curve)}
${transferSection(input.transfer)}
${predictorSection(model, input.predictor)}
${pairsSection(metrics, model, input.predictor, recs)}
${groupSection(metrics, input.predictor)}
${search ? search.html : ''}
${glossarySection(metrics, model)}
${inputsSection(metrics)}`,
    model,
    extra: search ? [search.scripts] : [],
  });
}

/**
 * The page around the sections: head with the stylesheet, header with title, subtitle and
 * navigation, the embedded model (`mergelens-data`), plotly.js, `extra` (sections' own data and
 * scripts, run before the page script so they can register with it) and the page script.
 * `sub` is trusted markup built from escaped parts; `title` and nav texts are escaped here.
 */
export function htmlDocument(p: { title: string; sub: string; nav: [string, string][]; main: string; model: unknown; extra?: string[] }): string {
  const plotly = readFileSync(plotlyBundlePath(), 'utf8');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="mergelens">
<title>${h(p.title)}</title>
<style>${PAGE_CSS}</style>
</head>
<body>
<header>
<h1>${h(p.title)}</h1>
<p class="sub">${p.sub}</p>
<nav>${p.nav.map(([id, text]) => `<a href="#${escapeAttr(id)}">${h(text)}</a>`).join('')}</nav>
</header>
<main>
${p.main}
</main>
<footer>Generated by mergelens · self-contained file: plotly.js and all data are embedded, nothing is loaded from the network.</footer>
${jsonScriptBlock('mergelens-data', p.model)}
${inlineScript(plotly)}
${(p.extra ?? []).join('\n')}
${inlineScript(PAGE_JS)}
</body>
</html>
`;
}

/** Render and write the report atomically; returns the number of bytes written. */
export async function writeReport(file: string, input: ReportInput): Promise<number> {
  const html = renderReport(input);
  await writeFileAtomic(file, html);
  return Buffer.byteLength(html);
}
