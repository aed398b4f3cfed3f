/**
 * The report's top recommendations: best pairs, the best method per pair, pairs to avoid.
 * From predictions when there are any (ranked by the best method's predicted outcome), else
 * from one compatibility metric as a clearly labelled heuristic.
 */
import type { MetricsReport, Prediction } from '../types.js';
import { rankPairs, type PairRanking } from '../predict/predict.js';
import { lowerIsSimilar } from './metric-direction.js';

export interface PairVerdict {
  a: string;
  b: string;
  /** Ranking value: best predicted outcome, or the heuristic metric's value. */
  value: number;
  /** With predictions: the method with the highest predicted outcome and its interval. */
  bestMethod?: string;
  lo?: number;
  hi?: number;
  /** With predictions: every method's prediction for this pair, best first. */
  methods?: { method: string; predicted: number; lo: number; hi: number }[];
}

export interface Recommendations {
  basis: 'predictions' | 'metric';
  /** The metric used when basis is 'metric'. */
  metric?: string;
  /** All pairs, most promising first. */
  ranked: PairVerdict[];
  best: PairVerdict[];
  avoid: PairVerdict[];
}

/** Metrics tried, in order, when ranking pairs without a predictor. */
export const HEURISTIC_METRICS = ['sign_agreement_trimmed', 'tv_cosine', 'sign_agreement', 'tv_cosine_layer_mean'];

/** How many pairs to list as best and as avoid: up to 3, never overlapping. */
export function listSize(nPairs: number): number {
  return Math.min(3, Math.floor(nPairs / 2));
}

function split(ranked: PairVerdict[]): { best: PairVerdict[]; avoid: PairVerdict[] } {
  const k = listSize(ranked.length);
  if (ranked.length === 1) return { best: ranked.slice(), avoid: [] };
  return { best: ranked.slice(0, k), avoid: ranked.slice(ranked.length - k).reverse() };
}

/**
 * From predictions: the predictor's own ranking (rankPairs: pairs by their best method's
 * predicted outcome, and its rule for pairs to avoid), with up to 3 best pairs not among those.
 */
export function recommendFromPredictions(predictions: Prediction[]): Recommendations | null {
  const ranking = rankPairs(predictions.filter((p) => Number.isFinite(p.predicted)));
  if (!ranking.pairs.length) return null;
  const verdict = (r: PairRanking): PairVerdict => ({
    a: r.a,
    b: r.b,
    value: r.best.predicted,
    bestMethod: r.best.method,
    lo: r.best.lo,
    hi: r.best.hi,
    methods: r.methods.map((p) => ({ method: p.method, predicted: p.predicted, lo: p.lo, hi: p.hi })),
  });
  const ranked = ranking.pairs.map(verdict);
  const avoid = ranking.avoid.map(verdict);
  return { basis: 'predictions', ranked, best: ranked.slice(0, Math.min(3, ranked.length - avoid.length)), avoid };
}

export function recommendFromMetric(metrics: MetricsReport): Recommendations | null {
  for (const id of HEURISTIC_METRICS) {
    const m = metrics.metrics[id];
    if (!m) continue;
    const ranked: PairVerdict[] = [];
    for (const [i, j] of metrics.pairs) {
      const v = m[i]?.[j] ?? m[j]?.[i];
      if (v !== null && v !== undefined && Number.isFinite(v)) ranked.push({ a: metrics.experts[i], b: metrics.experts[j], value: v });
    }
    if (!ranked.length) continue;
    const sign = lowerIsSimilar(id) ? 1 : -1;
    ranked.sort((x, y) => sign * (x.value - y.value));
    return { basis: 'metric', metric: id, ranked, ...split(ranked) };
  }
  return null;
}

/** Predictions when available, else the first heuristic metric the report has. */
export function recommend(metrics: MetricsReport, predictions?: Prediction[]): Recommendations | null {
  return (predictions?.length ? recommendFromPredictions(predictions) : null) ?? recommendFromMetric(metrics);
}
