/**
 * Method fingerprints: which metrics a method's predictor relies on, and how similar two
 * methods' fingerprints are (the paper's cross-method comparison).
 *
 *  - ranked coefficients: the non-zero coefficients, largest |β| first, with sign;
 *  - top-5 overlap(a, b) = |top5(a) ∩ top5(b)| / 5, top5 = the ≤ 5 largest non-zero |β|;
 *  - sign agreement(a, b) = fraction of metrics non-zero in both whose signs agree
 *    (null when they share none);
 *  - the means of both over all unordered method pairs (null sign agreements skipped), with the
 *    number of method pairs each mean is over (sign agreement often averages fewer).
 *
 * Bootstrap intervals: refit on pairs resampled with replacement (seeded), percentile 2.5/97.5.
 */
import type { PredictorFile } from '../types.js';
import { tensorRandom } from '../merge/random.js';
import { quantile } from './stats.js';

export interface RankedCoefficient {
  metric: string;
  coef: number;
}

export function rankCoefficients(features: readonly string[], coef: readonly number[]): RankedCoefficient[] {
  return features
    .map((metric, j) => ({ metric, coef: coef[j] }))
    .filter((c) => c.coef !== 0 && Number.isFinite(c.coef))
    .sort((x, y) => Math.abs(y.coef) - Math.abs(x.coef) || x.metric.localeCompare(y.metric));
}

export function topK(ranked: readonly RankedCoefficient[], k = 5): string[] {
  return ranked.slice(0, k).map((c) => c.metric);
}

export function topKOverlap(a: readonly RankedCoefficient[], b: readonly RankedCoefficient[], k = 5): number {
  const sb = new Set(topK(b, k));
  return topK(a, k).filter((m) => sb.has(m)).length / k;
}

export function signAgreement(a: readonly RankedCoefficient[], b: readonly RankedCoefficient[]): number | null {
  const sb = new Map(b.map((c) => [c.metric, Math.sign(c.coef)]));
  let shared = 0;
  let agree = 0;
  for (const c of a) {
    const s = sb.get(c.metric);
    if (s === undefined) continue;
    shared++;
    if (s === Math.sign(c.coef)) agree++;
  }
  return shared === 0 ? null : agree / shared;
}

export function compareFingerprints(methods: Record<string, { features: readonly string[]; coef: readonly number[] }>): PredictorFile['fingerprints'] {
  const names = Object.keys(methods).sort();
  const ranked = Object.fromEntries(names.map((m) => [m, rankCoefficients(methods[m].features, methods[m].coef)]));
  const top5Overlap: Record<string, Record<string, number>> = {};
  const agreement: Record<string, Record<string, number | null>> = {};
  const overlaps: number[] = [];
  const signs: number[] = [];
  for (const a of names) {
    top5Overlap[a] = {};
    agreement[a] = {};
    for (const b of names) {
      if (a === b) continue;
      const o = topKOverlap(ranked[a], ranked[b]);
      const s = signAgreement(ranked[a], ranked[b]);
      top5Overlap[a][b] = o;
      agreement[a][b] = s;
      if (a < b) {
        overlaps.push(o);
        if (s !== null) signs.push(s);
      }
    }
  }
  const avg = (xs: number[]) => (xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : NaN);
  return {
    top5Overlap,
    signAgreement: agreement,
    meanTop5Overlap: avg(overlaps),
    meanSignAgreement: avg(signs),
    overlapPairs: overlaps.length,
    signPairs: signs.length,
    methodPairs: (names.length * (names.length - 1)) / 2,
  };
}

/**
 * Percentile bootstrap over rows: `fit(indices)` returns coefficients for a resample.
 * Deterministic for a given (seed, stream).
 */
export function bootstrapIntervals(
  n: number,
  fit: (idx: number[]) => ArrayLike<number>,
  opts: { samples: number; seed: number; stream: string; level?: number },
): { lo: number[]; hi: number[]; samples: number } {
  const rnd = tensorRandom(opts.seed, `bootstrap:${opts.stream}`);
  const draws: ArrayLike<number>[] = [];
  for (let s = 0; s < opts.samples; s++) {
    const idx = Array.from({ length: n }, () => Math.floor(rnd() * n));
    draws.push(fit(idx));
  }
  const p = draws.length ? draws[0].length : 0;
  const alpha = (1 - (opts.level ?? 0.95)) / 2;
  const lo: number[] = [];
  const hi: number[] = [];
  for (let j = 0; j < p; j++) {
    const col = draws.map((d) => d[j]);
    lo.push(quantile(col, alpha));
    hi.push(quantile(col, 1 - alpha));
  }
  return { lo, hi, samples: draws.length };
}
