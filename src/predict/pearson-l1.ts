/**
 * The paper's per-method model ("Demystifying Mergeability", arXiv 2601.22285; reference code
 * scripts/linear_optimization_loto_l1.py): features min-max scaled to [−1, 1] on the training
 * fold, score = Xβ with no intercept, β maximising  r(Xβ, y) − λ‖β‖₁, and |β_j| < 1e-3 set to 0.
 *
 * Why not run gradient descent on that objective directly: r is invariant to scaling β, so
 * −r(tβ) + λt‖β‖₁ keeps falling as t → 0 and the objective has no minimiser. The reference code
 * (Adam, lr 0.01, β₀ ~ N(0, 0.1²), stop after 100 iterations without a 1e-5 improvement, at most
 * 2000) only returns coefficients because it stops early: its published ViT-B/16 folds end at
 * ‖β‖₂ = 0.02–0.09 (mean ≈ 0.04), a scale — and so a set of survivors of the 1e-3 cut — set by
 * the learning rate and patience rather than by the data.
 *
 * mergelens makes the problem well posed by fixing the scale the paper leaves free: the score must
 * have the outcome's spread, sd(Xβ) = sd(y). On that set r = cov(Xβ, y)/sd(y)², which is linear
 * in β, so the problem
 *     maximise r(Xβ, y) − λ‖β‖₁   subject to  sd(Xβ) = sd(y)
 * is concave-over-ellipsoid once the constraint is relaxed to ≤ (the relaxation is tight whenever
 * the answer is non-zero). Its KKT conditions are those of a lasso, so the *global* optimum is:
 *   1. centre X and y; solve  min (1/2n)‖y − Xb‖² + λ·sd(y)²·‖b‖₁  by coordinate descent (cold
 *      start b = 0 — the problem is convex, so the start does not change the answer);
 *   2. rescale β = b · sd(y)/sd(Xb)   (b = 0 means no feature has |cov(x_j, y)| > λ·var(y): all 0);
 *   3. zero |β_j| < 1e-3 (the paper's cut-off).
 * `paperKktResidual` verifies a solution against the original objective with the analytic
 * Pearson gradient. Because β is in outcome units per scaled-feature unit, λ = 1 is the paper's
 * setting for outcomes that are fractions (accuracy in [0, 1]); for percentages use λ = 0.01.
 */
import type { Design } from './design.js';
import { applyMinMax, fitMinMax, linearCombination, minMaxValue } from './design.js';
import { centre, coordinateDescent } from './coordinate-descent.js';
import { std } from './stats.js';

export const PAPER_ZERO_THRESHOLD = 1e-3;

export interface PaperModel {
  lambda: number;
  min: number[];
  max: number[];
  coef: number[];
}

export interface PaperFitDetail extends PaperModel {
  /** Coefficients before the 1e-3 cut (what the KKT check applies to). */
  rawCoef: number[];
  sweeps: number;
}

/**
 * Solve the scale-fixed paper problem on an already-scaled design Z (any scaling).
 * Returns β (before thresholding) and the coordinate-descent sweep count.
 */
export function solvePearsonL1(Z: Design, y: ArrayLike<number>, lambda: number): { beta: Float64Array; sweeps: number } {
  const p = Z.cols.length;
  const sy = std(y);
  if (!(sy > 0) || Z.n < 2) return { beta: new Float64Array(p), sweeps: 0 };
  const c = centre(Z, y);
  const { beta, sweeps } = coordinateDescent(c.X, c.y, { l1: lambda * sy * sy });
  const pred = linearCombination(c.X, beta);
  const sp = std(pred);
  if (!(sp > 0)) return { beta: new Float64Array(p), sweeps };
  const scale = sy / sp;
  for (let j = 0; j < p; j++) beta[j] *= scale;
  return { beta, sweeps };
}

/** Fit the paper model on raw (unscaled) features. */
export function fitPaperModel(X: Design, y: ArrayLike<number>, lambda = 1): PaperFitDetail {
  const mm = fitMinMax(X);
  const Z = applyMinMax(X, mm);
  const { beta, sweeps } = solvePearsonL1(Z, y, lambda);
  const rawCoef = Array.from(beta);
  const coef = rawCoef.map((b) => (Math.abs(b) < PAPER_ZERO_THRESHOLD ? 0 : b));
  return { lambda, min: mm.min, max: mm.max, coef, rawCoef, sweeps };
}

/** Paper score of one pair: Σ β_j · minmax(x_j), no intercept. */
export function paperScore(model: Pick<PaperModel, 'min' | 'max' | 'coef'>, x: ArrayLike<number>): number {
  let s = 0;
  for (let j = 0; j < model.coef.length; j++) {
    if (model.coef[j] !== 0) s += model.coef[j] * minMaxValue(x[j], model.min[j], model.max[j]);
  }
  return s;
}

/**
 * r(Xβ, y) and its analytic gradient: with p = Xβ centred, ŷ = y centred,
 *   ∂r/∂β_j = (x̃_jᵀŷ)/√(S_pp S_yy) − r · (x̃_jᵀp̃)/S_pp.
 * NaN value/gradient when Xβ or y is constant.
 */
export function pearsonWithGradient(Z: Design, y: ArrayLike<number>, beta: ArrayLike<number>): { r: number; grad: Float64Array } {
  const c = centre(Z, y);
  const p = linearCombination(c.X, beta);
  let spp = 0;
  let spy = 0;
  let syy = 0;
  for (let i = 0; i < c.X.n; i++) {
    spp += p[i] * p[i];
    spy += p[i] * c.y[i];
    syy += c.y[i] * c.y[i];
  }
  const grad = new Float64Array(Z.cols.length);
  if (spp === 0 || syy === 0) return { r: NaN, grad: grad.fill(NaN) };
  const denom = Math.sqrt(spp * syy);
  const r = spy / denom;
  for (let j = 0; j < Z.cols.length; j++) {
    const col = c.X.cols[j];
    let xy = 0;
    let xp = 0;
    for (let i = 0; i < c.X.n; i++) {
      xy += col[i] * c.y[i];
      xp += col[i] * p[i];
    }
    grad[j] = xy / denom - (r * xp) / spp;
  }
  return { r, grad };
}

/** The paper's objective (to maximise): r(Xβ, y) − λ‖β‖₁. */
export function paperObjective(Z: Design, y: ArrayLike<number>, beta: ArrayLike<number>, lambda: number): number {
  let l1 = 0;
  for (let j = 0; j < beta.length; j++) l1 += Math.abs(beta[j]);
  return pearsonWithGradient(Z, y, beta).r - lambda * l1;
}

/**
 * Largest violation of the KKT conditions of  max r(β) − λ‖β‖₁  s.t. sd(Zβ) = sd(y), using the
 * Pearson gradient. With s(β) = sd(Zβ), ∇s = Σβ/s and multiplier ν = −λ‖β‖₁/s (from Euler's
 * identity βᵀ∇r = 0):  active j: ∂_j r − λ·sign β_j − ν ∂_j s = 0;  inactive j: |∂_j r − ν ∂_j s| ≤ λ.
 */
export function paperKktResidual(Z: Design, y: ArrayLike<number>, beta: ArrayLike<number>, lambda: number): number {
  const { grad } = pearsonWithGradient(Z, y, beta);
  const c = centre(Z, y);
  const p = linearCombination(c.X, beta);
  const s = std(p);
  let l1 = 0;
  for (let j = 0; j < beta.length; j++) l1 += Math.abs(beta[j]);
  const nu = (-lambda * l1) / s;
  let worst = 0;
  for (let j = 0; j < beta.length; j++) {
    const col = c.X.cols[j];
    let xp = 0;
    for (let i = 0; i < c.X.n; i++) xp += col[i] * p[i];
    const ds = xp / c.X.n / s;
    const g = grad[j] - nu * ds;
    const v = beta[j] !== 0 ? Math.abs(g - lambda * Math.sign(beta[j])) : Math.max(0, Math.abs(g) - lambda);
    if (v > worst) worst = v;
  }
  return worst;
}
