/**
 * The data the report page embeds (one JSON block) and draws its plots from, built from the
 * report inputs. Pure: no I/O, no HTML. Everything the page script needs is precomputed here
 * (cluster orders, down-sampled breakdowns, prediction matrices, study scatter), so the page
 * only draws.
 */
import type { MetricFamily, MetricMatrix, MetricsReport, PairIndex, Prediction, PredictorFile, StudyDataset } from '../types.js';
import { clusterOrder } from './cluster.js';
import { roundSignificant } from './format.js';
import { compactBreakdown, DEFAULT_DOWNSAMPLE, type CompactBreakdown, type DownsampleOptions } from './downsample.js';
import { lowerIsSimilar } from './metric-direction.js';
import { studyScatter, type ScatterSeries } from './study-view.js';
import { orderBreakdown } from '../metrics/layer-order.js';
import type { Curve } from '../sweep/curve.js';
import type { SearchViewModel } from './search-view.js';

export interface ReportInput {
  metrics: MetricsReport;
  predictor?: PredictorFile;
  study?: StudyDataset;
  /** Predictions for the metrics' pairs (e.g. from predictPairs). */
  predictions?: Prediction[];
  /** Pre-flight check warnings to show in the summary. */
  preflight?: string[];
  /** Same as preflight (name used by some callers); both are shown. */
  warnings?: string[];
  title?: string;
  /** Down-sampling of per-layer/per-tensor data; defaults in DEFAULT_DOWNSAMPLE. */
  downsample?: Partial<DownsampleOptions>;
  /** Budgeted-sweep learning curve of the study (src/sweep/curve.ts), shown as a table in the study section. */
  curve?: Curve;
  /** Merge-recipe search logs (search-view.ts): adds the search section. */
  search?: SearchViewModel;
  /** Predictors fitted on one study and validated on another (the transformer study): adds the transfer section. */
  transfer?: TransferRow[];
}

/** A predictor fitted on study `from`, validated on every row of study `to`. */
export interface TransferRow {
  from: string;
  to: string;
  rows: number;
  /** Mean over methods of the per-method Pearson r, and pooled over every method's rows. */
  meanMethodR: number | null;
  r: number | null;
  rmse: number;
  /** RMSE of predicting the source study's mean outcome. */
  baselineRmse: number;
  /** The target study's own leave-one-task-out figures, for comparison. */
  ownR: number | null;
  ownRmse: number | null;
  ownBaselineRmse: number | null;
  /** Share of the target's pairs the source predictor's domain guard accepts. */
  inDomain: number | null;
}

export const FAMILY_ORDER: MetricFamily[] = ['task_vector', 'sign', 'rank', 'subspace', 'gradient', 'activation'];

export interface MetricInfo {
  label: string;
  family: string;
  unit: string;
  description: string;
  aggregation: string;
  /** True when lower values mean the experts are more alike (colour scale is flipped). */
  lowerIsSimilar: boolean;
}

export interface PredictionMatrix {
  methods: string[];
  /** Pairs as expert names, in metrics pair order (then any others in prediction order). */
  pairs: [string, string][];
  /** [pair][method], null where no prediction. */
  predicted: (number | null)[][];
  lo: (number | null)[][];
  hi: (number | null)[][];
}

export interface Fingerprints {
  methods: string[];
  /** Union of all methods' features, in first-seen order. */
  features: string[];
  /** [method][feature]; null where the method does not use the feature. */
  paper: (number | null)[][];
  calibrated: (number | null)[][];
  /** Bootstrap interval of the calibrated coefficients, when fitted. */
  calibratedLo: (number | null)[][] | null;
  calibratedHi: (number | null)[][] | null;
  /** [method][method] */
  top5Overlap: (number | null)[][];
  signAgreement: (number | null)[][];
}

export interface ReportModel {
  experts: string[];
  /** Metrics with at least one value, ordered by family. */
  metricIds: string[];
  defaultMetric: string;
  definitions: Record<string, MetricInfo>;
  matrices: Record<string, MetricMatrix>;
  /** metric → expert order (average-linkage leaf order). */
  orders: Record<string, number[]>;
  pairs: PairIndex[];
  layer: CompactBreakdown;
  tensor: CompactBreakdown;
  predictions: PredictionMatrix | null;
  scatter: ScatterSeries[] | null;
  /** Study outcomes per method (shown when a study is given without a predictor). */
  outcomes: { method: string; values: number[]; labels: string[] }[] | null;
  fingerprints: Fingerprints | null;
  outcomeName: string | null;
}

const hasValue = (m: MetricMatrix) => m.some((row, i) => row.some((v, j) => i !== j && v !== null && Number.isFinite(v)));

/** Metric ids with at least one off-diagonal value, family order first, then input order. */
export function orderedMetricIds(metrics: MetricsReport): string[] {
  const ids = Object.keys(metrics.metrics).filter((id) => hasValue(metrics.metrics[id]));
  const rank = (id: string) => {
    const f = FAMILY_ORDER.indexOf(metrics.definitions[id]?.family as MetricFamily);
    return f < 0 ? FAMILY_ORDER.length : f;
  };
  return ids.map((id, k) => ({ id, k })).sort((x, y) => rank(x.id) - rank(y.id) || x.k - y.k).map((x) => x.id);
}

export function metricInfo(metrics: MetricsReport, id: string): MetricInfo {
  const d = metrics.definitions[id];
  return {
    label: d?.label ?? id,
    family: d?.family ?? 'other',
    unit: d?.unit ?? '',
    description: d?.description ?? 'No definition in the metrics file.',
    aggregation: d?.aggregation ?? '',
    lowerIsSimilar: lowerIsSimilar(id),
  };
}

/** Pair × method matrix of predictions (with intervals). */
export function predictionMatrix(metrics: MetricsReport, predictions: Prediction[]): PredictionMatrix | null {
  if (!predictions.length) return null;
  const methods = [...new Set(predictions.map((p) => p.method))];
  const keyOf = (a: string, b: string) => JSON.stringify([a, b]);
  const pairs: [string, string][] = [];
  const index = new Map<string, number>();
  const addPair = (a: string, b: string) => {
    if (!index.has(keyOf(a, b)) && !index.has(keyOf(b, a))) {
      index.set(keyOf(a, b), pairs.length);
      pairs.push([a, b]);
    }
  };
  const predictedPairs = new Set(predictions.map((p) => keyOf(p.a, p.b)));
  for (const [i, j] of metrics.pairs) {
    const [a, b] = [metrics.experts[i], metrics.experts[j]];
    if (predictedPairs.has(keyOf(a, b)) || predictedPairs.has(keyOf(b, a))) addPair(a, b);
  }
  for (const p of predictions) addPair(p.a, p.b);
  const blank = () => pairs.map(() => methods.map((): number | null => null));
  const out: PredictionMatrix = { methods, pairs, predicted: blank(), lo: blank(), hi: blank() };
  for (const p of predictions) {
    const r = index.get(keyOf(p.a, p.b)) ?? index.get(keyOf(p.b, p.a))!;
    const c = methods.indexOf(p.method);
    const fin = (v: number) => (Number.isFinite(v) ? v : null);
    out.predicted[r][c] = fin(p.predicted);
    out.lo[r][c] = fin(p.lo);
    out.hi[r][c] = fin(p.hi);
  }
  return out;
}

export function fingerprints(predictor: PredictorFile): Fingerprints | null {
  const methods = Object.keys(predictor.methods);
  if (!methods.length) return null;
  const features = [...new Set(methods.flatMap((m) => predictor.methods[m].features))];
  const byFeature = (m: string, coef: number[] | undefined) =>
    features.map((f) => {
      const k = predictor.methods[m].features.indexOf(f);
      const v = k >= 0 && coef ? coef[k] : undefined;
      return v === undefined || !Number.isFinite(v) ? null : v;
    });
  const hasBootstrap = methods.some((m) => predictor.methods[m].bootstrap);
  const cross = (t: Record<string, Record<string, number | null>> | undefined) =>
    methods.map((a) => methods.map((b) => {
      const v = t?.[a]?.[b] ?? t?.[b]?.[a];
      return v === undefined || v === null || !Number.isFinite(v) ? null : v;
    }));
  return {
    methods,
    features,
    paper: methods.map((m) => byFeature(m, predictor.methods[m].paper.coef)),
    calibrated: methods.map((m) => byFeature(m, predictor.methods[m].calibrated.coef)),
    calibratedLo: hasBootstrap ? methods.map((m) => byFeature(m, predictor.methods[m].bootstrap?.lo)) : null,
    calibratedHi: hasBootstrap ? methods.map((m) => byFeature(m, predictor.methods[m].bootstrap?.hi)) : null,
    top5Overlap: cross(predictor.fingerprints?.top5Overlap),
    signAgreement: cross(predictor.fingerprints?.signAgreement),
  };
}

function studyOutcomes(study: StudyDataset): ReportModel['outcomes'] {
  const methods = [...new Set([...study.methods, ...study.rows.map((r) => r.method)])];
  const out = methods.map((method) => {
    const rows = study.rows.filter((r) => r.method === method && Number.isFinite(r.outcome));
    return { method, values: rows.map((r) => r.outcome), labels: rows.map((r) => `${r.a} × ${r.b}`) };
  });
  return out.filter((s) => s.values.length);
}

/** Beyond this many experts the embedded matrices are rounded (report size; see downsample.ts for breakdowns). */
const LARGE_REPORT_EXPERTS = 60;

/**
 * Which pairs keep their per-layer series when a report has too many pairs to embed them all
 * (downsample.ts): best predicted outcome first when there are predictions, else pair order.
 */
function breakdownPriority(metrics: MetricsReport, predictions: Prediction[] | undefined): number[] | undefined {
  if (!predictions?.length) return undefined;
  const best = new Map<string, number>();
  for (const p of predictions) {
    for (const key of [`${p.a}\u0000${p.b}`, `${p.b}\u0000${p.a}`]) best.set(key, Math.max(best.get(key) ?? -Infinity, p.predicted));
  }
  const score = (k: number) => best.get(`${metrics.experts[metrics.pairs[k][0]]}\u0000${metrics.experts[metrics.pairs[k][1]]}`) ?? -Infinity;
  return metrics.pairs.map((_, k) => k).sort((x, y) => score(y) - score(x) || x - y);
}

export function buildReportModel(input: ReportInput): ReportModel {
  const { metrics, predictor, study } = input;
  const metricIds = orderedMetricIds(metrics);
  const ds = { ...DEFAULT_DOWNSAMPLE, ...input.downsample };
  const definitions: Record<string, MetricInfo> = {};
  const matrices: Record<string, MetricMatrix> = {};
  const orders: Record<string, number[]> = {};
  for (const id of metricIds) {
    definitions[id] = metricInfo(metrics, id);
    // Many experts (N² values per metric): rounded to ds.digits significant digits, more than the page shows (4).
    matrices[id] = metrics.experts.length > LARGE_REPORT_EXPERTS ? metrics.metrics[id].map((row) => row.map((v) => roundSignificant(v, ds.digits))) : metrics.metrics[id];
    orders[id] = clusterOrder(metrics.metrics[id], id);
  }
  for (const id of Object.keys(metrics.perLayer?.values ?? {}).concat(Object.keys(metrics.perTensor?.values ?? {}))) {
    if (!definitions[id]) definitions[id] = metricInfo(metrics, id);
  }
  const priority = breakdownPriority(metrics, input.predictions);
  const emptyBreakdown = { groups: [], numel: [], values: {} };
  const scatter = study && predictor ? studyScatter(study, predictor) : null;
  return {
    experts: metrics.experts,
    metricIds,
    defaultMetric: metricIds.includes('tv_cosine') ? 'tv_cosine' : (metricIds[0] ?? ''),
    definitions,
    matrices,
    orders,
    pairs: metrics.pairs,
    layer: compactBreakdown(orderBreakdown(metrics.perLayer ?? emptyBreakdown), ds, priority),
    tensor: compactBreakdown(orderBreakdown(metrics.perTensor ?? emptyBreakdown), ds, priority),
    predictions: input.predictions?.length ? predictionMatrix(metrics, input.predictions) : null,
    scatter: scatter?.length ? scatter : null,
    outcomes: study && !scatter?.length ? studyOutcomes(study) : null,
    fingerprints: predictor ? fingerprints(predictor) : null,
    outcomeName: predictor?.outcome ?? study?.outcome ?? null,
  };
}
