/**
 * Using a fitted predictor on new pairs: calibrated prediction with a 95% interval that widens
 * with the pair's distance from the training rows, the pair's domain check, the paper score, and
 * the metrics that drive each prediction. Pure (no I/O).
 */
import type { MethodDomain, MethodPredictor, MetricsReport, PairMetrics, Prediction, PredictionDomain, PredictorFile } from '../types.js';
import { MergelensError } from '../errors.js';
import { METRIC_FAMILIES, metricFamily } from './families.js';
import { zValue } from './design.js';
import { paperScore } from './pearson-l1.js';
import { assessPair, widening } from './domain-guard.js';
import { buildVerdict, type PairDecision } from './verdict.js';

/** 95% normal interval half-width in units of the residual std. */
export const Z95 = 1.96;

/** Flatten a metrics report to one PairMetrics per pair (null matrix entries are left out). */
export function pairMetricsFromReport(report: MetricsReport): PairMetrics[] {
  return report.pairs.map(([i, j]) => {
    const values: Record<string, number> = {};
    for (const [id, m] of Object.entries(report.metrics)) {
      const v = m[i]?.[j] ?? m[j]?.[i];
      if (typeof v === 'number' && Number.isFinite(v)) values[id] = v;
    }
    return { a: report.experts[i], b: report.experts[j], values };
  });
}

function isReport(m: MetricsReport | PairMetrics[]): m is MetricsReport {
  return !Array.isArray(m) && (m as MetricsReport).format === 'mergelens.metrics';
}

/** Metric ids each method needs that are absent from at least one pair. */
export function missingMetrics(predictor: PredictorFile, pairs: PairMetrics[], methods?: string[]): string[] {
  const missing = new Set<string>();
  for (const [name, m] of Object.entries(predictor.methods)) {
    if (methods && !methods.includes(name)) continue;
    for (const id of m.features) if (pairs.some((p) => !Number.isFinite(p.values[id]))) missing.add(id);
  }
  return [...missing].sort();
}

/** True when every method of the predictor can be evaluated from `available` metric ids. */
export function predictorCovers(predictor: PredictorFile, available: ReadonlySet<string>): boolean {
  return Object.values(predictor.methods).every((m) => m.features.every((f) => available.has(f)));
}

/**
 * σ of a method's interval: the larger of the fit's cross-validated RMSE over pairs and the
 * leave-one-task-out RMSE — screening is about new experts, and that is the error LOTO measures.
 */
export function intervalSigma(m: MethodPredictor): number {
  const loto = m.validation.find((v) => v.scheme === 'loto')?.calibrated.rmse;
  return loto !== undefined && Number.isFinite(loto) ? Math.max(m.calibrated.residualStd, loto) : m.calibrated.residualStd;
}

/**
 * 95% prediction interval σ·sqrt(1 + h), relative to the average training row (domain-guard.ts),
 * cut at the outcome's possible range (marking `assessed.intervalClipped`). Shared by pair and
 * group predictions.
 */
export function predictionInterval(predicted: number, sigma: number, domain: MethodDomain | undefined, assessed: PredictionDomain | undefined): { lo: number; hi: number } {
  const half = Z95 * sigma * (domain && assessed ? widening(domain, assessed.leverage) : 1);
  let lo = predicted - half;
  let hi = predicted + half;
  // An interval never claims impossible outcomes: cut it at the possible range, and say so.
  const [bLo, bHi] = domain?.outcome.bounds ?? [null, null];
  if (assessed && ((bLo !== null && lo < bLo) || (bHi !== null && hi > bHi))) {
    if (bLo !== null) lo = Math.max(lo, Math.min(bLo, predicted));
    if (bHi !== null) hi = Math.min(hi, Math.max(bHi, predicted));
    assessed.intervalClipped = true;
  }
  return { lo, hi };
}

export function predictMethod(m: MethodPredictor, pair: PairMetrics): Prediction {
  const x = m.features.map((id) => pair.values[id]);
  const c = m.calibrated;
  let predicted = c.intercept;
  const drivers: Prediction['drivers'] = [];
  for (let j = 0; j < x.length; j++) {
    if (c.coef[j] === 0) continue;
    const contribution = c.coef[j] * zValue(x[j], c.mean[j], c.std[j]);
    predicted += contribution;
    drivers.push({ metric: m.features[j], contribution });
  }
  drivers.sort((u, v) => Math.abs(v.contribution) - Math.abs(u.contribution));
  const domain = assessPair(m, x, predicted);
  const { lo, hi } = predictionInterval(predicted, intervalSigma(m), m.domain, domain);
  return {
    a: pair.a,
    b: pair.b,
    method: m.method,
    predicted,
    lo,
    hi,
    score: paperScore(m.paper, x),
    drivers,
    ...(domain ? { domain } : {}),
  };
}

/**
 * Predict every pair × method. Throws MISSING_METRICS, naming the metrics, when the input
 * lacks any metric a method of the predictor uses.
 */
export function predictPairs(predictor: PredictorFile, metrics: MetricsReport | PairMetrics[], opts: { methods?: string[]; file?: string } = {}): Prediction[] {
  const pairs = isReport(metrics) ? pairMetricsFromReport(metrics) : metrics;
  const methods = Object.values(predictor.methods).filter((m) => !opts.methods || opts.methods.includes(m.method));
  if (opts.methods) {
    const unknown = opts.methods.filter((m) => !predictor.methods[m]);
    if (unknown.length) throw new MergelensError('UNKNOWN_METHOD', `predictor has no model for: ${unknown.join(', ')} (it has ${Object.keys(predictor.methods).join(', ')})`, { file: opts.file });
  }
  const missing = missingMetrics(predictor, pairs, opts.methods);
  if (missing.length) {
    const fams = new Set(missing.map((id) => metricFamily(id, isReport(metrics) ? metrics.definitions : undefined)));
    const families = METRIC_FAMILIES.filter((f) => fams.has(f));
    const hint = families.length
      ? `compute them (e.g. pass --grads/--acts for gradient/activation metrics) or use a predictor fitted without them: mergelens fit STUDY --exclude ${families.join(',')} -o predictor.json`
      : 'use a predictor fitted without them: mergelens fit STUDY --exclude <metric ids> -o predictor.json';
    throw new MergelensError('MISSING_METRICS', `the predictor needs metric(s) the input lacks: ${missing.join(', ')}`, { file: opts.file, hint });
  }
  const out: Prediction[] = [];
  for (const p of pairs) for (const m of methods) out.push(predictMethod(m, p));
  return out;
}

export interface PairRanking {
  a: string;
  b: string;
  /** The method with the highest predicted outcome for this pair. */
  best: Prediction;
  /** All methods for this pair, best first. */
  methods: Prediction[];
}

export interface Ranking {
  /** Pairs ordered by their best method's predicted outcome, best first. */
  pairs: PairRanking[];
  /** Pairs to avoid, worst first: the verdict's rule (verdict.ts) — their interval lies entirely below the best pair's. */
  avoid: PairRanking[];
}

/** The verdict's ranking without a predictor's out-of-fold quality (kept for the library API). */
export function rankPairs(predictions: Prediction[]): Ranking {
  const v = buildVerdict(predictions);
  const strip = (p: PairDecision): PairRanking => ({ a: p.a, b: p.b, best: p.best, methods: p.methods });
  return { pairs: v.pairs.map(strip), avoid: v.avoid.map(strip) };
}
