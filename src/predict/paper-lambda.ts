/**
 * λ for the paper model on a scale that means the same on any data, and its automatic choice.
 *
 * The paper model (pearson-l1.ts) keeps metric j only when |cov(z_j, y)| > λ·var(y) at the start of
 * the path, so the paper-scale λ that zeroes every coefficient is
 *     λ_max = max_j |cov(z_j, y)| / var(y)      (z = features min-max scaled to [−1, 1]).
 * On the paper's data λ_max is ≈ 0.1–0.3, so the paper's "λ = 1" (on its own Adam/early-stopping
 * scale) has no fixed meaning here; mergelens states λ relative to λ_max instead:
 *     ρ = λ / λ_max ∈ [0, 1]:  ρ = 1 → every coefficient 0;  ρ → 0 → the unpenalised least-squares direction.
 *
 * Automatic ρ (the default): a log grid from 1 down to `minRatio`, solved with warm starts along the
 * path; each ρ scored by leave-one-task-out cross-validation *inside the training rows only* (mean
 * per-fold Pearson r, the quantity the paper reports); the best ρ is taken, ties going to the larger
 * (sparser) ρ. Outer validation folds never see their own validation rows.
 */
import type { Design } from './design.js';
import { applyMinMax, fitMinMax, linearCombination, subsetRows, subsetVec } from './design.js';
import { centre, coordinateDescentGram, gramProblem, type GramProblem } from './coordinate-descent.js';
import { PAPER_ZERO_THRESHOLD, type PaperModel } from './pearson-l1.js';
import type { LambdaSelection } from '../types.js';
import type { Fold } from './folds.js';
import { lotoFolds } from './folds.js';
import { pearson, std } from './stats.js';

export const DEFAULT_RHO_GRID_POINTS = 30;
export const DEFAULT_RHO_MIN = 1e-3;
/** Path solves only need scores to ~1e-7 of sd(y) to compare ρ; the final model is solved tightly. */
const PATH_TOL = 1e-5;

/** Log grid of ρ from 1 down to minRatio. */
export function rhoGrid(points = DEFAULT_RHO_GRID_POINTS, minRatio = DEFAULT_RHO_MIN): number[] {
  const out: number[] = [];
  for (let k = 0; k < points; k++) out.push(Math.pow(minRatio, points > 1 ? k / (points - 1) : 0));
  return out;
}

/** Paper-scale λ_max for min-max scaled Z: max_j |cov(z_j, y)| / var(y) (0 when y is constant). */
export function paperLambdaMax(Z: Design, y: ArrayLike<number>): number {
  const sy = std(y);
  if (!(sy > 0) || Z.n < 2) return 0;
  const c = centre(Z, y);
  let m = 0;
  for (const col of c.X.cols) {
    let s = 0;
    for (let i = 0; i < Z.n; i++) s += col[i] * c.y[i];
    m = Math.max(m, Math.abs(s / Z.n));
  }
  return m / (sy * sy);
}

/**
 * Paper-model coefficients along a path of paper-scale λs (descending, warm starts), each
 * rescaled to sd(Zβ) = sd(y) and cut at |β| < 1e-3 as the paper does.
 */
export function paperPath(Z: Design, y: ArrayLike<number>, lambdas: readonly number[], tol = PATH_TOL): Float64Array[] {
  const p = Z.cols.length;
  const sy = std(y);
  if (!(sy > 0) || Z.n < 2) return lambdas.map(() => new Float64Array(p));
  const c = centre(Z, y);
  const problem = gramProblem(c.X, c.y);
  const l2 = collinearityRidge(problem);
  const beta = new Float64Array(p);
  return lambdas.map((lambda) => {
    coordinateDescentGram(problem, { l1: lambda * sy * sy, l2, beta, tol });
    return rescaleAndCut(c.X, beta, sy);
  });
}

/**
 * A ridge of 1e-6 × the mean feature variance. Some metrics are exact linear functions of others
 * (the paper's effective_rank_mergeability_score = 2 − effective_rank), which makes the lasso
 * solution non-unique and coordinate descent crawl; this tiny ridge picks the even split and lets
 * the exact active-set finish succeed, while moving scores by ~1e-6 relative.
 */
export function collinearityRidge(P: GramProblem): number {
  let tr = 0;
  for (let j = 0; j < P.p; j++) tr += P.G[j * P.p + j];
  return P.p > 0 ? (1e-6 * tr) / P.p : 0;
}

function rescaleAndCut(Xc: Design, beta: Float64Array, sy: number): Float64Array {
  const out = new Float64Array(beta.length);
  const sp = std(linearCombination(Xc, beta));
  if (!(sp > 0)) return out;
  const scale = sy / sp;
  for (let j = 0; j < beta.length; j++) {
    const b = beta[j] * scale;
    out[j] = Math.abs(b) < PAPER_ZERO_THRESHOLD ? 0 : b;
  }
  return out;
}

/** Pearson r of a fold's scores; constant scores rank nothing (0); undefined (NaN) for < 3 rows or constant y. */
export function foldR(score: ArrayLike<number>, truth: ArrayLike<number>): number {
  if (truth.length < 3 || !(std(truth) > 0)) return NaN;
  if (!(std(score) > 0)) return 0;
  return pearson(score, truth);
}

export interface RhoSelection {
  rho: number;
  /** Mean inner per-fold r at each grid ρ. */
  score: number[];
  grid: number[];
}

/** Grid points without improvement after which the path stops (a factor of ~6 in ρ on the default grid). */
export const RHO_PATIENCE = 8;

/**
 * Choose ρ by inner LOTO over `pairs` (the training rows' pairs). Each inner fold min-max scales on
 * its own training rows, as the outer fit does. All inner folds walk the grid together (warm
 * starts), so the path can stop once the mean inner r has not improved for RHO_PATIENCE points:
 * the small-ρ end, where near-collinear metrics make the solves slow, is reached only when the
 * data keep rewarding weaker penalties.
 */
export function selectRho(X: Design, y: ArrayLike<number>, pairs: readonly { a: string; b: string }[], grid: readonly number[] = rhoGrid(), folds?: Fold[]): RhoSelection {
  const inner = (folds ?? lotoFolds(pairs)).filter((f) => f.train.length >= 3 && f.val.length >= 3);
  const states = inner.flatMap((f) => {
    const Xt = subsetRows(X, f.train);
    const yt = subsetVec(y, f.train);
    const mm = fitMinMax(Xt);
    const Zt = applyMinMax(Xt, mm);
    const lmax = paperLambdaMax(Zt, yt);
    if (!(lmax > 0)) return [];
    const sy = std(yt);
    const c = centre(Zt, yt);
    const problem = gramProblem(c.X, c.y);
    return [{ c, problem, l2: collinearityRidge(problem), sy, lmax, beta: new Float64Array(X.cols.length), Zv: applyMinMax(subsetRows(X, f.val), mm), yv: subsetVec(y, f.val) }];
  });
  const score: number[] = [];
  let best = -1;
  for (let k = 0; k < grid.length; k++) {
    let sum = 0;
    let cnt = 0;
    for (const s of states) {
      coordinateDescentGram(s.problem, { l1: grid[k] * s.lmax * s.sy * s.sy, l2: s.l2, beta: s.beta, tol: PATH_TOL });
      const r = foldR(linearCombination(s.Zv, rescaleAndCut(s.c.X, s.beta, s.sy)), s.yv);
      if (Number.isFinite(r)) {
        sum += r;
        cnt++;
      }
    }
    score.push(cnt > 0 ? sum / cnt : NaN);
    if (Number.isFinite(score[k]) && (best < 0 || score[k] > score[best] + 1e-12)) best = k;
    if (best >= 0 && k - best >= RHO_PATIENCE) break;
  }
  return { rho: best < 0 ? grid[0] : grid[best], score, grid: grid.slice(0, score.length) };
}

/** How the paper model's λ is set (docs/predictors.md). */
export type LambdaSetting = { mode: 'auto'; grid?: readonly number[] } | { mode: 'relative'; value: number } | { mode: 'paper'; value: number };

export const DEFAULT_LAMBDA: LambdaSetting = { mode: 'auto' };

export interface PaperFitSelected extends PaperModel {
  selection: LambdaSelection;
}

/**
 * Fit the paper model on raw features with λ set as `setting`: auto (ρ by inner LOTO over
 * `pairs`), a fixed ρ = λ/λ_max, or a fixed paper-scale λ.
 */
export function fitPaperWithSetting(X: Design, y: ArrayLike<number>, pairs: readonly { a: string; b: string }[], setting: LambdaSetting = DEFAULT_LAMBDA): PaperFitSelected {
  const mm = fitMinMax(X);
  const Z = applyMinMax(X, mm);
  const lmax = paperLambdaMax(Z, y);
  if (setting.mode === 'paper') {
    // Same problem as fitPaperModel(X, y, λ), reached by warm starts down the path (fast at small λ).
    const coef = lmax > 0 ? paperFitAtRho(Z, y, lmax, setting.value / lmax) : new Float64Array(X.cols.length);
    return { lambda: setting.value, min: mm.min, max: mm.max, coef: Array.from(coef), selection: { mode: 'paper', value: setting.value, paperLambda: setting.value, lambdaMax: lmax } };
  }
  let rho: number;
  let grid: number[] | undefined;
  if (setting.mode === 'auto') {
    const sel = selectRho(X, y, pairs, setting.grid ?? rhoGrid());
    rho = sel.rho;
    grid = sel.grid;
  } else rho = setting.value;
  const coef = paperFitAtRho(Z, y, lmax, rho);
  return {
    lambda: rho * lmax,
    min: mm.min,
    max: mm.max,
    coef: Array.from(coef),
    selection: { mode: setting.mode, value: rho, paperLambda: rho * lmax, lambdaMax: lmax, ...(grid ? { grid } : {}) },
  };
}

/** Coefficients at ρ on min-max scaled Z: warm-started down the default grid to ρ, then solved tightly. */
export function paperFitAtRho(Z: Design, y: ArrayLike<number>, lmax: number, rho: number): Float64Array {
  if (!(lmax > 0) || rho >= 1) return new Float64Array(Z.cols.length);
  const steps = rhoGrid().filter((r) => r > rho);
  const path = paperPath(Z, y, [...steps, rho].map((r) => r * lmax), 1e-10);
  return path[path.length - 1];
}
