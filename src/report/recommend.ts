/**
 * The report's top recommendations: best pairs, the best method per pair, pairs to avoid.
 * From predictions when there are any — the verdict of src/predict/verdict.ts, the one
 * definition screen and the dashboard use — else from one compatibility metric as a clearly
 * labelled heuristic.
 */
import type { MetricsReport, Prediction, PredictorFile } from '../types.js';
import { buildVerdict, type PairDecision, type Verdict } from '../predict/verdict.js';
import { bestMethodText, domainReason, domainTag } from '../predict/format.js';
import { lowerIsSimilar } from './metric-direction.js';

export interface PairVerdict {
  a: string;
  b: string;
  /** Ranking value: best predicted outcome, or the heuristic metric's value. */
  value: number;
  /** With predictions: the pair's highest usable method (verdict.ts) and its interval. */
  bestMethod?: string;
  /** With predictions: the verdict in words — the method, or "no clear best (tsv ≈ ties …)". */
  bestText?: string;
  lo?: number;
  hi?: number;
  /** With predictions: "in", "OOD ×28", "?" (domain-guard.ts), and why when out of domain. */
  domain?: string;
  domainWhy?: string;
  /** With predictions: every method's prediction for this pair, best first. */
  methods?: { method: string; predicted: number; lo: number; hi: number }[];
}

export interface Recommendations {
  basis: 'predictions' | 'metric';
  /** The metric used when basis is 'metric'. */
  metric?: string;
  /** All pairs, most promising first. */
  ranked: PairVerdict[];
  /** With predictions: the first pairs of the leading group (tied with the best; verdict.ts). */
  best: PairVerdict[];
  avoid: PairVerdict[];
  /** With predictions: the whole verdict — the same object screen and the dashboard build. */
  verdict?: Verdict;
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

/** Leading pairs listed by name in the summary; the rest are counted. */
export const LEAD_SHOWN = 5;

/**
 * From predictions: the verdict (verdict.ts) — pairs ranked by their best usable method, the
 * leading group tied with the best, pairs to avoid where the intervals separate, and the
 * predictor's out-of-fold quality.
 */
export function recommendFromPredictions(predictions: Prediction[], predictor?: PredictorFile): Recommendations | null {
  const verdict = buildVerdict(predictions, predictor);
  if (!verdict.pairs.length) return null;
  const toView = (r: PairDecision): PairVerdict => ({
    a: r.a,
    b: r.b,
    value: r.best.predicted,
    bestMethod: r.best.method,
    bestText: bestMethodText(r),
    lo: r.best.lo,
    hi: r.best.hi,
    domain: domainTag(r.best),
    domainWhy: domainReason(r.best),
    methods: r.methods.map((p) => ({ method: p.method, predicted: p.predicted, lo: p.lo, hi: p.hi })),
  });
  return { basis: 'predictions', ranked: verdict.pairs.map(toView), best: verdict.lead.slice(0, LEAD_SHOWN).map(toView), avoid: verdict.avoid.map(toView), verdict };
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
export function recommend(metrics: MetricsReport, predictions?: Prediction[], predictor?: PredictorFile): Recommendations | null {
  return (predictions?.length ? recommendFromPredictions(predictions, predictor) : null) ?? recommendFromMetric(metrics);
}
