/**
 * Pure functions that turn (data, state, terminal size) into what the dashboard shows: matrix
 * cells with colour buckets, the detail pane of the selected pair, the ranked list, the layout
 * budget, and the plain-text table used without a TTY. React components only draw these.
 */
import { MergelensError } from '../errors.js';
import type { MetricsReport, Prediction, PredictorFile } from '../types.js';
import { formatInterval, formatSigned, formatValue, padLeft, padRight, truncate } from './format.js';
import { activeFilter, type DashContext, type DashState, visibleExperts } from './state.js';
import { buildVerdict, type PairDecision, type Verdict } from '../predict/verdict.js';
import { domainReason, domainTag } from '../predict/format.js';
import { orderBreakdown } from '../metrics/layer-order.js';
import { recommendGroups } from '../predict/group-screen.js';

export interface DashboardInput {
  metrics: MetricsReport;
  predictions?: Prediction[];
  predictor?: PredictorFile;
}

export interface DashboardData {
  metrics: MetricsReport;
  experts: string[];
  metricIds: string[];
  methods: string[];
  /** What predicted values measure (predictor.outcome), for labels. */
  outcome: string;
  /** method → pair key → prediction. */
  byMethod: Map<string, Map<string, Prediction>>;
  /** pair key → index into metrics.pairs (for per-layer breakdowns). */
  pairSlot: Map<string, number>;
  /** The verdict over every prediction (verdict.ts: the same object screen and the report build); null without predictions. */
  verdict: Verdict | null;
  /** For verdicts over a filtered subset (out-of-fold quality, withheld methods). */
  predictor?: PredictorFile;
}

/** Unordered pair key over expert indices. */
export const pairKey = (i: number, j: number): string => (i < j ? `${i},${j}` : `${j},${i}`);

export function prepareData(input: DashboardInput): DashboardData {
  const { metrics } = input;
  const experts = metrics.experts;
  const index = new Map(experts.map((e, i) => [e, i]));
  const byMethod = new Map<string, Map<string, Prediction>>();
  // Method order: the predictor's, else first appearance in the predictions.
  for (const m of Object.keys(input.predictor?.methods ?? {})) byMethod.set(m, new Map());
  for (const p of input.predictions ?? []) {
    const i = index.get(p.a);
    const j = index.get(p.b);
    if (i === undefined || j === undefined || i === j) {
      throw new MergelensError('BAD_INPUT', `prediction for pair "${p.a}" × "${p.b}" (${p.method}) names an expert that is not in the metrics file`, {
        hint: `metrics experts: ${experts.join(', ')}`,
      });
    }
    if (!byMethod.has(p.method)) byMethod.set(p.method, new Map());
    byMethod.get(p.method)!.set(pairKey(i, j), p);
  }
  for (const [m, preds] of byMethod) if (preds.size === 0) byMethod.delete(m);
  const pairSlot = new Map<string, number>();
  metrics.pairs.forEach(([i, j], k) => pairSlot.set(pairKey(i, j), k));
  return {
    metrics,
    experts,
    metricIds: Object.keys(metrics.metrics),
    methods: [...byMethod.keys()],
    outcome: input.predictor?.outcome ?? 'outcome',
    byMethod,
    pairSlot,
    verdict: input.predictions?.length ? buildVerdict(input.predictions, input.predictor) : null,
    predictor: input.predictor,
  };
}

// ───────────────────────────── lens: what colours the matrix ─────────────────────────────

export interface LensInfo {
  kind: 'metric' | 'method';
  /** Metric id or method id. */
  id: string;
  label: string;
  unit: string;
}

export function currentMetric(data: DashboardData, s: DashState): string {
  return data.metricIds[s.metricIndex % Math.max(1, data.metricIds.length)] ?? '';
}

export function currentMethod(data: DashboardData, s: DashState): string | undefined {
  return data.methods.length ? data.methods[s.methodIndex % data.methods.length] : undefined;
}

export function lensInfo(data: DashboardData, s: DashState): LensInfo {
  const method = currentMethod(data, s);
  if (s.lens === 'method' && method) return { kind: 'method', id: method, label: `predicted ${data.outcome} · ${method}`, unit: data.outcome };
  const id = currentMetric(data, s);
  const def = data.metrics.definitions[id];
  return { kind: 'metric', id, label: def?.label ?? id, unit: def?.unit ?? '' };
}

export function metricValue(data: DashboardData, metric: string, i: number, j: number): number | null {
  const v = data.metrics.metrics[metric]?.[i]?.[j];
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

export function predictionFor(data: DashboardData, method: string, i: number, j: number): Prediction | undefined {
  return data.byMethod.get(method)?.get(pairKey(i, j));
}

/** Value of the current lens for a pair; null on the diagonal or where missing. */
export function lensValue(data: DashboardData, lens: LensInfo, i: number, j: number): number | null {
  if (i === j) return null;
  if (lens.kind === 'method') {
    // Loaded predictions may carry NaN for an unknown value: treat it as missing.
    const v = predictionFor(data, lens.id, i, j)?.predicted;
    return v !== undefined && Number.isFinite(v) ? v : null;
  }
  return metricValue(data, lens.id, i, j);
}

// ───────────────────────────────── colour buckets ─────────────────────────────────

export const BUCKETS = 5;
/**
 * Metrics have no universal "good" direction: a sequential scale, viridis at 0.2, 0.4, … 1
 * (its darkest fifth is unreadable as text on a dark terminal). Perceptually ordered and
 * readable with every common colour-vision deficiency, as is the report's Cividis.
 */
export const METRIC_PALETTE = ['#414487', '#2A788E', '#22A884', '#7AD151', '#FDE725'];
/**
 * Predictions: higher is better — a diverging orange → grey → blue ramp from the Okabe–Ito set
 * (vermillion, orange, grey, sky blue, blue), told apart without red–green discrimination.
 */
export const METHOD_PALETTE = ['#D55E00', '#E69F00', '#999999', '#56B4E9', '#0072B2'];

export interface ColourScale {
  min: number;
  max: number;
  palette: string[];
}

/** Scale over all pairs (not just filtered ones) so colours stay put while filtering. */
export function colourScale(data: DashboardData, lens: LensInfo): ColourScale | null {
  let min = Infinity;
  let max = -Infinity;
  for (const [i, j] of data.metrics.pairs) {
    const v = lensValue(data, lens, i, j);
    if (v === null) continue;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (min > max) return null;
  return { min, max, palette: lens.kind === 'method' ? METHOD_PALETTE : METRIC_PALETTE };
}

/** Equal-width bins over [min, max]; a constant scale puts everything in the middle bin. */
export function bucketOf(scale: ColourScale, v: number): number {
  if (scale.max === scale.min) return Math.floor(BUCKETS / 2);
  const b = Math.floor(((v - scale.min) / (scale.max - scale.min)) * BUCKETS);
  return Math.max(0, Math.min(BUCKETS - 1, b));
}

export interface LegendEntry {
  colour: string;
  lo: number;
  hi: number;
  text: string;
}

export function legend(scale: ColourScale): LegendEntry[] {
  const w = (scale.max - scale.min) / BUCKETS;
  return scale.palette.map((colour, b) => {
    const lo = scale.min + b * w;
    const hi = b === BUCKETS - 1 ? scale.max : scale.min + (b + 1) * w;
    return { colour, lo, hi, text: `${formatValue(lo)}…${formatValue(hi)}` };
  });
}

// ───────────────────────────────────── matrix ─────────────────────────────────────

export const CELL_WIDTH = 8;

export interface MatrixCell {
  text: string;
  value: number | null;
  bucket: number | null;
  selected: boolean;
  diagonal: boolean;
}

export interface MatrixRow {
  expert: number;
  label: string;
  selected: boolean;
  cells: MatrixCell[];
}

export interface MatrixVM {
  labelWidth: number;
  columns: { expert: number; header: string; selected: boolean }[];
  rows: MatrixRow[];
  hiddenLeft: number;
  hiddenRight: number;
  hiddenAbove: number;
  hiddenBelow: number;
  visibleCount: number;
}

/** First index of a window of `size` over `count` items that keeps `cursor` in view, centred. */
export function windowStart(cursor: number, count: number, size: number): number {
  if (count <= size) return 0;
  return Math.max(0, Math.min(count - size, cursor - Math.floor(size / 2)));
}

export function buildMatrix(data: DashboardData, s: DashState, width: number, maxRows: number): MatrixVM {
  const visible = visibleExperts(data.experts, activeFilter(s));
  const n = visible.length;
  const lens = lensInfo(data, s);
  const scale = colourScale(data, lens);
  const longest = Math.max(4, ...visible.map((e) => data.experts[e].length));
  // Names get at most a third of the width; the rest is cells.
  const labelWidth = Math.max(4, Math.min(longest, 16, Math.floor(width / 3)));
  const fitCols = Math.max(1, Math.floor((width - labelWidth - 1) / CELL_WIDTH));
  const fitRows = Math.max(1, maxRows);
  const c0 = windowStart(s.col, n, fitCols);
  const r0 = windowStart(s.row, n, fitRows);
  const colPos = visible.slice(c0, c0 + fitCols).map((_, k) => c0 + k);
  const rowPos = visible.slice(r0, r0 + fitRows).map((_, k) => r0 + k);
  return {
    labelWidth,
    columns: colPos.map((p) => ({ expert: visible[p], header: truncate(data.experts[visible[p]], CELL_WIDTH - 1), selected: p === s.col })),
    rows: rowPos.map((rp) => {
      const i = visible[rp];
      return {
        expert: i,
        label: truncate(data.experts[i], labelWidth),
        selected: rp === s.row,
        cells: colPos.map((cp) => {
          const j = visible[cp];
          const value = lensValue(data, lens, i, j);
          return {
            text: i === j ? '·' : formatValue(value),
            value,
            bucket: value === null || !scale ? null : bucketOf(scale, value),
            selected: rp === s.row && cp === s.col,
            diagonal: i === j,
          };
        }),
      };
    }),
    hiddenLeft: c0,
    hiddenRight: Math.max(0, n - c0 - colPos.length),
    hiddenAbove: r0,
    hiddenBelow: Math.max(0, n - r0 - rowPos.length),
    visibleCount: n,
  };
}

// ─────────────────────────────────── ranked list ───────────────────────────────────

export interface RankedEntry {
  i: number;
  j: number;
  a: string;
  b: string;
  value: number;
  prediction?: Prediction;
  /** 1 = best. */
  rank: number;
}

/** All visible pairs with a value under the current lens, best (highest) first; ties by name. */
export function rankPairs(data: DashboardData, s: DashState): RankedEntry[] {
  const lens = lensInfo(data, s);
  const visible = visibleExperts(data.experts, activeFilter(s));
  const out: RankedEntry[] = [];
  for (let x = 0; x < visible.length; x++) {
    for (let y = x + 1; y < visible.length; y++) {
      const i = Math.min(visible[x], visible[y]);
      const j = Math.max(visible[x], visible[y]);
      const value = lensValue(data, lens, i, j);
      if (value === null) continue;
      const prediction = lens.kind === 'method' ? predictionFor(data, lens.id, i, j) : undefined;
      out.push({ i, j, a: data.experts[i], b: data.experts[j], value, prediction, rank: 0 });
    }
  }
  out.sort((p, q) => q.value - p.value || p.a.localeCompare(q.a) || p.b.localeCompare(q.b));
  out.forEach((e, k) => (e.rank = k + 1));
  return out;
}

export interface RankedVM {
  lens: LensInfo;
  bestTitle: string;
  avoidTitle: string;
  best: RankedEntry[];
  /** Worst first. */
  avoid: RankedEntry[];
  /** best then avoid: what the list cursor walks over. */
  entries: RankedEntry[];
  total: number;
}

/** Predictions of the visible pairs (all methods, or one), for a verdict over what is on screen. */
function visiblePredictions(data: DashboardData, s: DashState, method?: string): Prediction[] {
  const visible = new Set(visibleExperts(data.experts, activeFilter(s)));
  const index = new Map(data.experts.map((e, i) => [e, i]));
  const out: Prediction[] = [];
  for (const [m, preds] of data.byMethod) {
    if (method !== undefined && m !== method) continue;
    for (const p of preds.values()) if (visible.has(index.get(p.a)!) && visible.has(index.get(p.b)!)) out.push(p);
  }
  return out;
}

/** The verdict over the visible pairs: data.verdict itself when nothing is filtered. */
export function visibleVerdict(data: DashboardData, s: DashState): Verdict | null {
  if (!data.verdict) return null;
  if (!activeFilter(s).trim()) return data.verdict;
  const preds = visiblePredictions(data, s);
  return preds.length ? buildVerdict(preds, data.predictor) : null;
}

/**
 * The ranked list. A metric has no known good direction: its list is the top half "highest" and
 * the bottom half "lowest". A method's list uses the verdict's rules (verdict.ts) on that
 * method's predictions: the pairs tied with the best, then the pairs to avoid (interval entirely
 * below the best's) — not "the bottom half". Each section capped at `perSection`.
 */
export function buildRanked(data: DashboardData, s: DashState, perSection: number): RankedVM {
  const lens = lensInfo(data, s);
  const all = rankPairs(data, s);
  const cap = Math.max(0, perSection);
  if (lens.kind === 'metric') {
    const k = Math.max(0, Math.min(Math.ceil(all.length / 2), perSection));
    const best = all.slice(0, k);
    const avoid = all.slice(k).reverse().slice(0, cap);
    return { lens, bestTitle: `Highest ${lens.id}`, avoidTitle: `Lowest ${lens.id}`, best, avoid, entries: [...best, ...avoid], total: all.length };
  }
  const v = buildVerdict(visiblePredictions(data, s, lens.id), data.predictor);
  const entryOf = new Map(all.map((e) => [JSON.stringify([e.a, e.b]), e]));
  const pick = (ps: PairDecision[]) => ps.map((p) => entryOf.get(JSON.stringify([p.a, p.b]))).filter((e): e is RankedEntry => e !== undefined);
  const best = pick(v.lead).slice(0, cap);
  const avoid = pick(v.avoid).slice(0, cap);
  return {
    lens,
    // Short titles: the list pane is about 40 columns wide.
    bestTitle: v.lead.length > 1 ? `No clear winner among ${v.lead.length}` : `Best pair for ${lens.id}`,
    avoidTitle: v.avoid.length ? `Avoid ${v.avoid.length}: interval below the best` : 'Avoid: none (all overlap the best)',
    best,
    avoid,
    entries: [...best, ...avoid],
    total: all.length,
  };
}

// ─────────────────────────────── best-method view (verdict) ───────────────────────────────

export interface VerdictRowVM {
  i: number;
  j: number;
  rank: number;
  pair: string;
  best: string;
  interval: string;
  domain: string;
  /** The domain check in words when out of domain. */
  why: string;
  group: 'lead' | 'avoid';
  inDomain: boolean | null;
}

export interface VerdictVM {
  notes: string[];
  /** Out-of-fold quality of every method, one paragraph (the pane wraps it). */
  quality: string;
  leadTitle: string;
  avoidTitle: string;
  lead: VerdictRowVM[];
  /** Worst first. */
  avoid: VerdictRowVM[];
  /** lead then avoid: what the cursor walks over. */
  entries: VerdictRowVM[];
  /** The recommended group per trained size k ≥ 3 (group models of the predictor), one line each; empty without them. */
  groups: string[];
}

export function buildVerdictView(data: DashboardData, s: DashState): VerdictVM | null {
  const v = visibleVerdict(data, s);
  if (!v) return null;
  const index = new Map(data.experts.map((e, i) => [e, i]));
  const row = (p: PairDecision): VerdictRowVM => ({
    i: index.get(p.a)!,
    j: index.get(p.b)!,
    rank: p.rank,
    pair: `${p.a} × ${p.b}`,
    // Short form for an 18-column cell; screen and the report list the tied methods by name.
    best: p.bestMethod ?? `no clear best (${p.tiedMethods.length})`,
    interval: formatInterval(p.best.predicted, p.best.lo, p.best.hi),
    domain: domainTag(p.best),
    why: domainReason(p.best, 2),
    group: p.group,
    inDomain: p.inDomain,
  });
  // One compact token per method, wrapped by the pane: "tsv r 0.36 ✓" (✗ = no better than the mean, withheld).
  const qs = Object.values(v.quality);
  const quality = qs.length
    ? `out-of-fold (${qs[0].scheme ?? 'none'}) r, ✓ beats the mean, ✗ withheld: ` + qs.map((q) => `${q.method} ${formatValue(q.r)}${q.beatsMean === null ? '?' : q.beatsMean ? '✓' : '✗'}`).join('  ')
    : 'out-of-fold quality unknown (predictions without their predictor)';
  const lead = v.lead.map(row);
  const avoid = v.avoid.map(row);
  return {
    notes: v.notes,
    quality,
    leadTitle: v.lead.length > 1 ? `No clear winner among these ${v.lead.length} pairs (intervals overlap the best's):` : 'Best pair (interval above every other pair):',
    avoidTitle: v.avoid.length ? `Pairs to avoid (${v.avoid.length}, interval below the best pair's):` : 'Pairs to avoid: none',
    lead,
    avoid,
    entries: [...lead, ...avoid],
    groups: groupLines(data),
  };
}

/** One line per group size: the best group, its method, interval and domain (group-screen.ts). */
function groupLines(data: DashboardData): string[] {
  const r = recommendGroups(data.metrics, data.predictor, 1);
  if (!r) return [];
  return r.sizes.flatMap((s) =>
    s.groups.slice(0, 1).map((g) => `groups of ${s.k}${s.search === 'beam' ? ' (beam)' : ''}: ${g.experts.join(' + ')}  ${g.bestMethod ?? `no clear best (${g.tiedMethods.length})`}  ${formatInterval(g.best.predicted, g.best.lo, g.best.hi)}  ${domainTag(g.best)}`),
  );
}

export function verdictLine(r: VerdictRowVM, pairWidth: number): string {
  return `${padLeft(String(r.rank), 3)}. ${padRight(truncate(r.pair, pairWidth), pairWidth)} ${padRight(truncate(r.best, 18), 18)} ${padRight(r.interval, 23)} ${r.domain}`;
}

export function rankedLine(e: RankedEntry, nameWidth: number): string {
  const v = e.prediction ? formatInterval(e.prediction.predicted, e.prediction.lo, e.prediction.hi) : formatValue(e.value);
  return `${padLeft(String(e.rank), 3)}. ${padRight(e.a, nameWidth)} × ${padRight(e.b, nameWidth)} ${v}`;
}

// ─────────────────────────────────── detail pane ───────────────────────────────────

/** Which pair the detail pane describes: the matrix cursor, or the ranked-list cursor. */
export function selectedPair(data: DashboardData, s: DashState, ranked?: RankedVM): [number, number] | null {
  if (s.view === 'list') {
    const e = ranked?.entries[Math.min(s.listCursor, (ranked?.entries.length ?? 1) - 1)];
    return e ? [e.i, e.j] : null;
  }
  if (s.view === 'verdict') {
    const entries = buildVerdictView(data, s)?.entries ?? [];
    const e = entries[Math.min(s.listCursor, entries.length - 1)];
    return e ? [e.i, e.j] : null;
  }
  const visible = visibleExperts(data.experts, activeFilter(s));
  const i = visible[s.row];
  const j = visible[s.col];
  return i === undefined || j === undefined ? null : [i, j];
}

export interface DetailMetric {
  id: string;
  label: string;
  unit: string;
  value: number | null;
  text: string;
  selected: boolean;
}

export interface DetailPrediction {
  method: string;
  prediction?: Prediction;
  text: string;
  drivers: string;
  selected: boolean;
}

export interface Sparkline {
  metric: string;
  text: string;
  min: number;
  max: number;
  groups: string[];
}

export interface DetailVM {
  title: string;
  /** Set when there is no pair to describe (diagonal, nothing visible). */
  note?: string;
  metrics: DetailMetric[];
  predictions: DetailPrediction[];
  sparkline: Sparkline | null;
  /** The selected metric's full definition. */
  description: string;
}

export const SPARK_BLOCKS = '▁▂▃▄▅▆▇█';

/**
 * Unicode sparkline of a series, rescaled to [min, max]; missing values are blanks. Series longer
 * than `width` are averaged into `width` bins so a 100-layer model still fits a line.
 */
export function sparkline(values: (number | null)[], width = values.length): { text: string; min: number; max: number } {
  let series = values;
  if (values.length > width && width > 0) {
    series = [];
    for (let b = 0; b < width; b++) {
      const from = Math.floor((b * values.length) / width);
      const to = Math.floor(((b + 1) * values.length) / width);
      let sum = 0;
      let cnt = 0;
      for (let k = from; k < to; k++) {
        const v = values[k];
        if (v !== null && Number.isFinite(v)) {
          sum += v;
          cnt++;
        }
      }
      series.push(cnt ? sum / cnt : null);
    }
  }
  let min = Infinity;
  let max = -Infinity;
  for (const v of series) {
    if (v === null || !Number.isFinite(v)) continue;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const top = SPARK_BLOCKS.length - 1;
  const text = series
    .map((v) => {
      if (v === null || !Number.isFinite(v)) return ' ';
      const level = max === min ? Math.floor(top / 2) : Math.round(((v - min) / (max - min)) * top);
      return SPARK_BLOCKS[level];
    })
    .join('');
  return { text, min, max };
}

export function buildDetail(data: DashboardData, s: DashState, pair: [number, number] | null, sparkWidth: number): DetailVM {
  const metricId = currentMetric(data, s);
  const def = data.metrics.definitions[metricId];
  const description = def ? `${def.label} (${def.unit}): ${def.description}` : metricId;
  const method = currentMethod(data, s);
  const empty = { metrics: [], predictions: [], sparkline: null, description };
  if (!pair) return { title: 'no pair selected', note: 'no experts match the filter', ...empty };
  const [i, j] = pair;
  if (i === j) return { title: data.experts[i], note: 'diagonal: move to a cell with two different experts', ...empty };
  const metrics = data.metricIds.map((id) => {
    const value = metricValue(data, id, i, j);
    const d = data.metrics.definitions[id];
    return { id, label: d?.label ?? id, unit: d?.unit ?? '', value, text: formatValue(value), selected: id === metricId };
  });
  const predictions = data.methods.map((m) => {
    const p = predictionFor(data, m, i, j);
    return {
      method: m,
      prediction: p,
      // Out-of-domain / beyond-possible predictions say so next to the number.
      text: p ? formatInterval(p.predicted, p.lo, p.hi) + (p.domain && (!p.domain.inDomain || p.domain.beyondPossible) ? ` ${domainTag(p)}` : '') : '—',
      drivers: p ? p.drivers.slice(0, 3).map((d) => `${d.metric} ${formatSigned(d.contribution)}`).join(', ') : '',
      selected: s.lens === 'method' && m === method,
    };
  });
  const slot = data.pairSlot.get(pairKey(i, j));
  const perLayer = data.metrics.perLayer ? orderBreakdown(data.metrics.perLayer) : undefined; // depth order, also for older files
  const layerValues = slot === undefined ? undefined : perLayer?.values?.[metricId]?.[slot];
  let spark: Sparkline | null = null;
  if (layerValues && layerValues.some((v) => v !== null)) {
    const sl = sparkline(layerValues, sparkWidth);
    spark = { metric: metricId, text: sl.text, min: sl.min, max: sl.max, groups: perLayer!.groups };
  }
  return { title: `${data.experts[i]} × ${data.experts[j]}`, metrics, predictions, sparkline: spark, description };
}

/** A window of `size` items around `selected`, with counts of what was cut. */
export function windowAround<T>(items: T[], selected: number, size: number): { items: T[]; before: number; after: number } {
  const start = windowStart(Math.max(0, selected), items.length, Math.max(0, size));
  const shown = items.slice(start, start + Math.max(0, size));
  return { items: shown, before: start, after: items.length - start - shown.length };
}

// ───────────────────────────────────── layout ─────────────────────────────────────

export interface Layout {
  width: number;
  height: number;
  /** Rows between the title line and the footer. */
  body: number;
  /** Expert rows of the matrix that fit. */
  matrixRows: number;
  /** Rows left for the detail pane under the matrix. */
  detailRows: number;
  leftWidth: number;
  rightWidth: number;
  /** Entries per ranked-list section. */
  perSection: number;
}

/** Smallest usable screen; below it we draw anyway and let lines be cut. */
export const MIN_WIDTH = 40;
export const MIN_HEIGHT = 12;

export function computeLayout(width: number, height: number, visibleCount: number): Layout {
  const w = Math.max(MIN_WIDTH, width);
  const h = Math.max(MIN_HEIGHT, height);
  const body = h - 2;
  // Matrix view: column header + rows + legend + pair title, leaving ≥ 8 rows of detail.
  const maxMatrixRows = Math.max(2, body - 3 - 8);
  const matrixRows = Math.max(1, Math.min(visibleCount, maxMatrixRows));
  const detailRows = Math.max(1, body - (matrixRows + 1) - 1 - 1);
  const leftWidth = Math.max(24, Math.floor(w * 0.52));
  const rightWidth = Math.max(10, w - leftWidth - 1);
  // Ranked view: two titles plus a blank separator.
  const perSection = Math.max(1, Math.floor((body - 3) / 2));
  return { width: w, height: h, body, matrixRows, detailRows, leftWidth, rightWidth, perSection };
}

/** Reducer context for the current state: the ranked list length depends on lens, filter and size. */
export function contextFor(data: DashboardData, s: DashState, layout: Layout): DashContext {
  return {
    experts: data.experts,
    metricIds: data.metricIds,
    methods: data.methods,
    listLength: s.view === 'verdict' ? (buildVerdictView(data, s)?.entries.length ?? 0) : buildRanked(data, s, layout.perSection).entries.length,
  };
}

// ────────────────────────────── plain table (no TTY) ──────────────────────────────

/**
 * Pairs × (selected metric, predicted outcome per method) as aligned text: what `dashboard`
 * prints when stdout is not a terminal (pipes, CI logs).
 */
export function plainTable(data: DashboardData, metricId: string): string {
  const header = ['expert a', 'expert b', metricId, ...data.methods];
  const rows = data.metrics.pairs.map(([i, j]) => [
    data.experts[i],
    data.experts[j],
    formatValue(metricValue(data, metricId, i, j)),
    ...data.methods.map((m) => {
      const p = predictionFor(data, m, i, j);
      return p ? formatInterval(p.predicted, p.lo, p.hi) + (p.domain && !p.domain.inDomain ? ' OOD' : '') : '—';
    }),
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (r: string[]) => r.map((cell, c) => (c < 2 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ').trimEnd();
  const def = data.metrics.definitions[metricId];
  const title = `mergelens dashboard: ${data.experts.length} experts, ${rows.length} pairs; ${metricId}${def ? ` = ${def.label} (${def.unit})` : ''}`;
  const predLine = data.methods.length ? [`per method: ${data.outcome} [lo, hi]`] : [];
  return [title, ...predLine, '', line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line), ''].join('\n');
}
