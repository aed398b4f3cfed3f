/**
 * Cyclic coordinate descent for penalised least squares (the glmnet algorithm):
 *
 *   minimise  (1/2n)·‖y − Xβ‖²  +  l1·‖β‖₁  +  (l2/2)·‖β‖²
 *
 * X's columns and y must already be centred by the caller (the intercept is handled by
 * centring, so it is never penalised). The objective is convex, so coordinate descent with
 * exact soft-thresholded coordinate updates converges to the global minimum.
 *
 * Stopping rule: a full sweep in which no coefficient moves the fitted values by more than
 * `tol` relative to the spread of y, i.e. max_j |Δβ_j|·‖x_j‖/√n ≤ tol·sd(y); or `maxSweeps`.
 */
import type { Design } from './design.js';

export interface CdOptions {
  l1: number;
  l2?: number;
  /** Warm start (modified in place and returned). */
  beta?: Float64Array;
  tol?: number;
  maxSweeps?: number;
}

export interface CdResult {
  beta: Float64Array;
  sweeps: number;
  converged: boolean;
}

export function softThreshold(z: number, t: number): number {
  return z > t ? z - t : z < -t ? z + t : 0;
}

export function coordinateDescent(X: Design, y: Float64Array, opts: CdOptions): CdResult {
  const { n, cols } = X;
  const p = cols.length;
  const l1 = opts.l1;
  const l2 = opts.l2 ?? 0;
  const tol = opts.tol ?? 1e-10;
  const maxSweeps = opts.maxSweeps ?? 100_000;
  const beta = opts.beta ?? new Float64Array(p);
  // Column energies ‖x_j‖²/n: the curvature of each coordinate's quadratic.
  const energy = new Float64Array(p);
  let ySS = 0;
  for (let i = 0; i < n; i++) ySS += y[i] * y[i];
  const ySd = Math.sqrt(ySS / Math.max(1, n));
  for (let j = 0; j < p; j++) {
    let s = 0;
    const c = cols[j];
    for (let i = 0; i < n; i++) s += c[i] * c[i];
    energy[j] = s / n;
  }
  // Residual r = y − Xβ, updated incrementally (O(n) per coordinate).
  const r = Float64Array.from(y);
  for (let j = 0; j < p; j++) {
    if (beta[j] === 0) continue;
    const c = cols[j];
    for (let i = 0; i < n; i++) r[i] -= beta[j] * c[i];
  }
  const threshold = tol * (ySd > 0 ? ySd : 1);
  let sweeps = 0;
  let converged = false;
  while (sweeps < maxSweeps) {
    sweeps++;
    let maxMove = 0;
    for (let j = 0; j < p; j++) {
      if (energy[j] === 0) {
        beta[j] = 0;
        continue;
      }
      const c = cols[j];
      const old = beta[j];
      let rho = 0;
      for (let i = 0; i < n; i++) rho += c[i] * r[i];
      rho = rho / n + energy[j] * old;
      const next = softThreshold(rho, l1) / (energy[j] + l2);
      if (next !== old) {
        const d = next - old;
        for (let i = 0; i < n; i++) r[i] -= d * c[i];
        beta[j] = next;
        const move = Math.abs(d) * Math.sqrt(energy[j]);
        if (move > maxMove) maxMove = move;
      }
    }
    if (maxMove <= threshold) {
      converged = true;
      break;
    }
  }
  return { beta, sweeps, converged };
}

/** Centre each column and y in place-free fashion; returns the centred copies and the means. */
export function centre(X: Design, y: ArrayLike<number>): { X: Design; y: Float64Array; xMean: number[]; yMean: number } {
  const n = X.n;
  const xMean: number[] = [];
  const cols = X.cols.map((c) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += c[i];
    const m = n > 0 ? s / n : 0;
    xMean.push(m);
    return c.map((v) => v - m);
  });
  let s = 0;
  for (let i = 0; i < n; i++) s += y[i];
  const yMean = n > 0 ? s / n : 0;
  const yc = new Float64Array(n);
  for (let i = 0; i < n; i++) yc[i] = y[i] - yMean;
  return { X: { n, cols }, y: yc, xMean, yMean };
}
