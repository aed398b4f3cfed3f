/**
 * Predictor-guided starting weights: the pairwise metrics of the experts (one pass of the
 * metrics engine) fed to a fitted predictor give, for every pair, the predicted outcome of
 * merging it with the search's method; an expert's start weight is the uniform value scaled by
 * how well it is predicted to merge with the others (mean predicted outcome of its pairs ÷ the
 * mean over all experts), clipped to the bounds. Experts predicted to interfere start low;
 * CMA-ES is free to move them. Pure arithmetic apart from the metrics pass.
 */
import type { Checkpoint, Prediction, PredictorFile, ProgressSink } from '../types.js';
import { MergelensError } from '../errors.js';
import { computeMetrics } from '../metrics/engine.js';
import { predictPairs } from '../predict/predict.js';

export interface GuidedStart {
  weights: number[];
  /** Expert → mean predicted pair outcome. */
  affinity: Record<string, number>;
}

/** Start weights from per-pair predictions (names in expert order). */
export function weightsFromPairs(names: string[], pairs: { a: string; b: string; predicted: number }[], uniform: number, bounds: [number, number]): GuidedStart {
  const sum = new Map<string, { s: number; k: number }>(names.map((n) => [n, { s: 0, k: 0 }]));
  for (const p of pairs) {
    if (!Number.isFinite(p.predicted)) continue;
    for (const e of [p.a, p.b]) {
      const v = sum.get(e);
      if (v) {
        v.s += p.predicted;
        v.k++;
      }
    }
  }
  const affinity = Object.fromEntries(names.map((n) => [n, sum.get(n)!.k ? sum.get(n)!.s / sum.get(n)!.k : NaN]));
  const vals = names.map((n) => affinity[n]);
  if (vals.some((v) => !Number.isFinite(v) || v <= 0)) throw new MergelensError('BAD_INPUT', 'the predictor gave no usable (positive, finite) prediction for some expert; cannot guide the start', { hint: 'use --start uniform' });
  const mean = vals.reduce((a, b) => a + b, 0) / vals.length;
  return { weights: vals.map((v) => Math.min(bounds[1], Math.max(bounds[0], (uniform * v) / mean))), affinity };
}

/**
 * Every pair × method prediction for the pool (one metrics pass), experts named as the search
 * names them (the report names them by file; mapped back by position).
 */
export async function poolPredictions(base: Checkpoint, experts: Checkpoint[], names: string[], predictor: PredictorFile, onProgress?: ProgressSink): Promise<Prediction[]> {
  const report = await computeMetrics(base, experts, { onProgress });
  const byReport = new Map(report.experts.map((e, i) => [e, names[i]]));
  return predictPairs(predictor, report).map((p) => ({ ...p, a: byReport.get(p.a) ?? p.a, b: byReport.get(p.b) ?? p.b }));
}
