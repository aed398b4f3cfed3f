/**
 * Extrapolation guard: where a method's training rows lie, and how far a new pair is from them.
 *
 * Everything is in the calibrated model's standardised units, z = (x − mean)/std. Two checks:
 *  - per feature: z outside [zMin − margin, zMax + margin], margin = RANGE_MARGIN × the training
 *    range of z — a gross extrapolation of one metric, reported by name;
 *  - multivariate: ridge leverage h(z) = 1/n + zᵀ(ZᵀZ + δI)⁻¹z with δ = RIDGE·n (the metrics come
 *    in near-collinear families, so ZᵀZ alone is singular). The threshold is calibrated on the
 *    training rows themselves: the 99th percentile of their leave-one-out leverage
 *    1/(n−1) + g/(1−g), g = zᵢᵀ(ZᵀZ + δI)⁻¹zᵢ (exact by Sherman–Morrison for a fixed scaling).
 * A pair is in domain when both pass. Pure (no I/O).
 */
import type { MethodDomain, MethodPredictor, PredictionDomain, PredictorFile, StudyDataset, StudyRow } from '../types.js';
import { cholesky, choleskySolve } from '../numerics/linalg/cholesky.js';
import { zValue } from './design.js';
import { mean, quantile } from './stats.js';

/** δ = RIDGE · n: 1% of each standardised column's sum of squares (which is n). */
export const RIDGE = 0.01;
/** Leave-one-out leverage quantile used as the multivariate threshold. */
export const LEVERAGE_QUANTILE = 0.99;
/** Allowed excess beyond a feature's training range, as a fraction of that range. */
export const RANGE_MARGIN = 0.5;

/**
 * The outcome's possible range, read from its description: raw accuracy lies in [0, 1]; a
 * normalised accuracy (merged ÷ expert) is ≥ 0 but may exceed 1; anything else is unknown.
 */
export function outcomeBounds(description: string): { bounds: [number | null, number | null]; why: string } {
  const d = description.toLowerCase();
  if (/accuracy|\bacc\b/.test(d)) {
    if (/normali[sz]ed|÷|ratio|relative/.test(d)) return { bounds: [0, null], why: 'a normalised accuracy is ≥ 0 (a merge may beat its expert, so no upper bound)' };
    return { bounds: [0, 1], why: 'an accuracy lies in [0, 1]' };
  }
  return { bounds: [null, null], why: 'no known bound for this outcome' };
}

/** Inverse of a symmetric positive-definite p × p matrix (row-major) by Cholesky; null if not SPD. */
export function inverseSpd(A: Float64Array, p: number): Float64Array | null {
  const L = Float64Array.from(A);
  if (!cholesky(L, p)) return null;
  const inv = new Float64Array(p * p);
  const col = new Float64Array(p);
  for (let c = 0; c < p; c++) {
    col.fill(0);
    col[c] = 1;
    choleskySolve(L, p, col);
    for (let i = 0; i < p; i++) inv[i * p + c] = col[i];
  }
  return inv;
}

/** zᵀ·M·z for a symmetric M given as rows. */
function quadForm(M: ArrayLike<number>[], z: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < z.length; i++) {
    const row = M[i];
    let t = 0;
    for (let k = 0; k < z.length; k++) t += row[k] * z[k];
    s += z[i] * t;
  }
  return s;
}

/**
 * Describe one method's training rows. `rows[i][j]` is feature j of training row i in raw
 * units; `scale` is the calibrated model's standardiser (the one predictions use).
 */
export function fitDomain(rows: ArrayLike<number>[], outcomes: ArrayLike<number>, scale: { mean: number[]; std: number[] }, outcomeDescription: string): MethodDomain {
  const n = rows.length;
  const p = scale.mean.length;
  const Z = rows.map((r) => Float64Array.from({ length: p }, (_, j) => zValue(r[j], scale.mean[j], scale.std[j])));
  const zMin = Array.from({ length: p }, (_, j) => Math.min(...Z.map((z) => z[j])));
  const zMax = Array.from({ length: p }, (_, j) => Math.max(...Z.map((z) => z[j])));
  const ridge = RIDGE * n;
  const G = new Float64Array(p * p);
  for (const z of Z) for (let i = 0; i < p; i++) for (let k = 0; k < p; k++) G[i * p + k] += z[i] * z[k];
  for (let i = 0; i < p; i++) G[i * p + i] += ridge;
  // δ > 0 makes G positive definite; null only for non-finite input.
  const inv = inverseSpd(G, p) ?? new Float64Array(p * p).fill(NaN);
  const inverseGram = Array.from({ length: p }, (_, i) => Array.from(inv.subarray(i * p, (i + 1) * p)));
  const loo = Z.map((z) => {
    const g = quadForm(inverseGram, z);
    return 1 / (n - 1) + g / (1 - g);
  });
  const ys = Array.from(outcomes);
  const { bounds, why } = outcomeBounds(outcomeDescription);
  return {
    n,
    zMin,
    zMax,
    margin: zMin.map((lo, j) => RANGE_MARGIN * (zMax[j] - lo)),
    ridge,
    inverseGram,
    threshold: quantile(loo, LEVERAGE_QUANTILE),
    meanLeverage: mean(loo),
    outcome: { min: Math.min(...ys), max: Math.max(...ys), bounds, boundsWhy: why },
  };
}

/** Where one pair (raw feature values in the method's feature order) lies relative to the training rows. */
export function assessPair(m: Pick<MethodPredictor, 'domain' | 'calibrated' | 'features'>, x: ArrayLike<number>, predicted: number): PredictionDomain | undefined {
  const d = m.domain;
  if (!d) return undefined;
  const c = m.calibrated;
  const p = m.features.length;
  const z = Float64Array.from({ length: p }, (_, j) => zValue(x[j], c.mean[j], c.std[j]));
  const leverage = 1 / d.n + quadForm(d.inverseGram, z);
  const outOfRange: PredictionDomain['outOfRange'] = [];
  for (let j = 0; j < p; j++) {
    if (z[j] < d.zMin[j] - d.margin[j] || z[j] > d.zMax[j] + d.margin[j]) {
      outOfRange.push({ metric: m.features[j], value: x[j], min: c.mean[j] + d.zMin[j] * c.std[j], max: c.mean[j] + d.zMax[j] * c.std[j] });
    }
  }
  const distance = leverage / d.threshold;
  const [lo, hi] = d.outcome.bounds;
  return {
    leverage,
    distance,
    outOfRange,
    inDomain: distance <= 1 && outOfRange.length === 0,
    beyondTrainingOutcomes: predicted < d.outcome.min || predicted > d.outcome.max,
    beyondPossible: (lo !== null && predicted < lo) || (hi !== null && predicted > hi),
  };
}

/**
 * Interval widening for a pair at leverage h: sqrt((1 + h)/(1 + h̄)), h̄ the mean leave-one-out
 * leverage of the training rows. The out-of-fold RMSE describes an average held-out row
 * (variance σ²(1 + h̄)); a prediction interval at h has variance σ²(1 + h). ≥ 1 beyond h̄.
 */
export function widening(d: MethodDomain, leverage: number): number {
  return Math.sqrt((1 + leverage) / (1 + d.meanLeverage));
}

/**
 * A fitted method's domain from its training rows: the study's rows of that method with every
 * feature present (the rows the fit used). What `fit` stores with each method.
 */
export function methodDomain(m: MethodPredictor, rows: StudyRow[], outcomeDescription: string): MethodDomain {
  const used = rows.filter((r) => r.method === m.method && m.features.every((f) => Number.isFinite(r.metrics[f])));
  return fitDomain(used.map((r) => m.features.map((f) => r.metrics[f])), used.map((r) => r.outcome), m.calibrated, outcomeDescription);
}

/**
 * Give a predictor written before the guard existed its `domain` blocks, from the study it was
 * fitted on. A method gets one only when the study's complete rows for it reproduce the stored
 * standardiser (same row count, same feature means) — otherwise it is not the training data.
 * Returns the methods that got a domain.
 */
export function attachDomains(pf: PredictorFile, study: StudyDataset): string[] {
  const done: string[] = [];
  for (const m of Object.values(pf.methods)) {
    if (m.domain) continue;
    const rows = study.rows.filter((r) => r.method === m.method && m.features.every((f) => Number.isFinite(r.metrics[f])));
    if (rows.length !== m.trainRows || rows.length < 3) continue;
    const same = m.features.every((f, j) => {
      const mu = mean(rows.map((r) => r.metrics[f]));
      return Math.abs(mu - m.calibrated.mean[j]) <= 1e-9 * Math.max(1, Math.abs(mu));
    });
    if (!same) continue;
    m.domain = methodDomain(m, rows, pf.outcome);
    done.push(m.method);
  }
  return done;
}

/** What is wrong with a method's stored domain (shape, non-finite threshold), or null when it is usable. */
export function domainProblem(m: Pick<MethodPredictor, 'domain' | 'features'>): string | null {
  const d = m.domain;
  if (!d) return null;
  const p = m.features.length;
  const vec = (v: unknown) => Array.isArray(v) && v.length === p && v.every((x) => typeof x === 'number');
  if (!vec(d.zMin) || !vec(d.zMax) || !vec(d.margin)) return `domain.zMin/zMax/margin must hold ${p} numbers (one per feature)`;
  if (!Array.isArray(d.inverseGram) || d.inverseGram.length !== p || !d.inverseGram.every(vec)) return `domain.inverseGram must be ${p} × ${p}`;
  if (!(d.threshold > 0) || !(d.n >= 2) || !Number.isFinite(d.meanLeverage)) return 'domain.threshold, n and meanLeverage must be positive numbers';
  if (!d.outcome || !Array.isArray(d.outcome.bounds)) return 'domain.outcome is missing its range';
  return null;
}

/** True when every method of the predictor carries a domain. */
export function hasDomains(pf: PredictorFile): boolean {
  return Object.values(pf.methods).every((m) => m.domain !== undefined);
}
