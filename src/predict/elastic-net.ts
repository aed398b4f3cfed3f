/**
 * The calibrated model: predicts the outcome in its own units.
 *
 *   ŷ = intercept + Σ_j coef_j · z_j,   z_j = (x_j − mean_j)/std_j  (training-fold mean/std)
 *
 * coef minimises the glmnet elastic-net objective
 *   (1/2n)‖y − ȳ − Zβ‖² + λ·(α‖β‖₁ + (1−α)/2·‖β‖²)
 * by coordinate descent (coordinate-descent.ts). α = l1Ratio, default 0.5: the metrics come in
 * near-collinear families (the rank metrics are functions of the same Gram matrix, interaction
 * overlap ≈ right overlap²), where a pure lasso picks one member arbitrarily per resample and a
 * half-ridge penalty shares the weight and keeps bootstrap intervals meaningful.
 *
 * λ is chosen by inner cross-validation (seeded 5-fold over the training rows) over a 40-point
 * log grid from λ_max (the smallest λ with β = 0: max_j |z_jᵀ(y−ȳ)|/(n·α)) down to λ_max/100,
 * with the one-standard-error rule: the largest λ whose pooled validation MSE is within one
 * standard error (over folds) of the minimum — with a few dozen pairs that share experts the
 * minimum is noisy and overfits. residualStd is the cross-validated RMSE at the chosen λ, so a
 * ±1.96·residualStd interval reflects out-of-sample error, not the optimistic training residuals.
 */
import type { Design } from './design.js';
import { applyStandardizer, fitStandardizer, linearCombination, subsetRows, subsetVec } from './design.js';
import { centre, coordinateDescent, coordinateDescentGram, gramProblem } from './coordinate-descent.js';
import type { Fold } from './folds.js';
import { kfoldFolds } from './folds.js';
import type { ElasticNetModel } from '../types.js';

const PATH_TOL = 1e-6;

export type { ElasticNetModel };

export interface ElasticNetOptions {
  l1Ratio?: number;
  /** Fixed λ: skip the inner cross-validation (residualStd is then the training RMSE). */
  lambda?: number;
  nLambda?: number;
  lambdaMinRatio?: number;
  /** λ choice: lowest CV error ('min') or the largest λ within one standard error of it ('1se', default). */
  rule?: 'min' | '1se';
  /** Inner validation folds over the rows; default 5-fold (seeded). */
  folds?: Fold[];
  seed?: number;
}

/** Smallest λ at which every coefficient is zero, for standardised Z and centred y. */
export function lambdaMax(Z: Design, yc: Float64Array, l1Ratio: number): number {
  let m = 0;
  for (const c of Z.cols) {
    let s = 0;
    for (let i = 0; i < Z.n; i++) s += c[i] * yc[i];
    m = Math.max(m, Math.abs(s));
  }
  return m / (Z.n * Math.max(l1Ratio, 1e-3));
}

export function lambdaGrid(max: number, count: number, minRatio: number): number[] {
  if (!(max > 0)) return [0];
  const out: number[] = [];
  for (let k = 0; k < count; k++) out.push(max * Math.pow(minRatio, count > 1 ? k / (count - 1) : 0));
  return out;
}

/** Standardise, centre and fit along a λ path with warm starts. Coefficients per λ, in z units. */
function fitPath(X: Design, y: ArrayLike<number>, lambdas: number[], l1Ratio: number) {
  const st = fitStandardizer(X);
  const Z = applyStandardizer(X, st);
  const c = centre(Z, y);
  const problem = gramProblem(c.X, c.y);
  const beta = new Float64Array(Z.cols.length);
  const path: { lambda: number; coef: Float64Array; intercept: number }[] = [];
  for (const lambda of lambdas) {
    // Validation only needs predictions to ~1e-6 of sd(y); the final refit is solved tightly.
    coordinateDescentGram(problem, { l1: lambda * l1Ratio, l2: lambda * (1 - l1Ratio), beta, tol: PATH_TOL });
    let off = c.yMean;
    for (let j = 0; j < beta.length; j++) off -= beta[j] * c.xMean[j];
    path.push({ lambda, coef: Float64Array.from(beta), intercept: off });
  }
  return { st, path };
}

function predictStd(X: Design, st: { mean: number[]; std: number[] }, coef: ArrayLike<number>, intercept: number): Float64Array {
  return linearCombination(applyStandardizer(X, st), coef, intercept);
}

export function fitElasticNet(X: Design, y: ArrayLike<number>, opts: ElasticNetOptions = {}): ElasticNetModel {
  const l1Ratio = opts.l1Ratio ?? 0.5;
  const st = fitStandardizer(X);
  const Z = applyStandardizer(X, st);
  const c = centre(Z, y);
  let lambda: number;
  let residualStd: number;
  if (opts.lambda !== undefined) {
    lambda = opts.lambda;
    residualStd = NaN;
  } else {
    const grid = lambdaGrid(lambdaMax(Z, c.y, l1Ratio), opts.nLambda ?? 40, opts.lambdaMinRatio ?? 1e-2);
    const folds = (opts.folds ?? kfoldFolds(X.n, Math.min(5, X.n), opts.seed ?? 0)).filter((f) => f.train.length >= 2 && f.val.length > 0);
    if (folds.length === 0) {
      // Too few rows to validate anything: the honest model is the mean.
      lambda = grid[0];
      residualStd = NaN;
    } else {
      // Per-fold MSE along the path (for the one-standard-error rule) and pooled SSE.
      const sse = new Float64Array(grid.length);
      const foldMse: Float64Array[] = [];
      let count = 0;
      for (const f of folds) {
        const { st: fst, path } = fitPath(subsetRows(X, f.train), subsetVec(y, f.train), grid, l1Ratio);
        const Xv = subsetRows(X, f.val);
        const yv = subsetVec(y, f.val);
        const mse = new Float64Array(grid.length);
        for (let k = 0; k < grid.length; k++) {
          const pred = predictStd(Xv, fst, path[k].coef, path[k].intercept);
          let e = 0;
          for (let i = 0; i < yv.length; i++) e += (pred[i] - yv[i]) ** 2;
          sse[k] += e;
          mse[k] = e / yv.length;
        }
        foldMse.push(mse);
        count += yv.length;
      }
      let best = 0;
      for (let k = 1; k < grid.length; k++) if (sse[k] < sse[best]) best = k;
      if ((opts.rule ?? '1se') === '1se' && foldMse.length > 1) {
        // The largest λ whose error is within one standard error of the minimum (glmnet's
        // lambda.1se): with few, correlated pairs the minimum is noisy and overfits.
        const K = foldMse.length;
        const m = foldMse.reduce((acc, f) => acc + f[best], 0) / K;
        const se = Math.sqrt(foldMse.reduce((acc, f) => acc + (f[best] - m) ** 2, 0) / (K - 1) / K);
        const limit = sse[best] / count + se;
        let k1 = best;
        while (k1 > 0 && sse[k1 - 1] / count <= limit) k1--;
        best = k1;
      }
      lambda = grid[best];
      residualStd = Math.sqrt(sse[best] / count);
    }
  }
  const beta = coordinateDescent(c.X, c.y, { l1: lambda * l1Ratio, l2: lambda * (1 - l1Ratio) }).beta;
  let intercept = c.yMean;
  for (let j = 0; j < beta.length; j++) intercept -= beta[j] * c.xMean[j];
  if (!Number.isFinite(residualStd)) {
    const pred = linearCombination(Z, beta, intercept);
    let ss = 0;
    for (let i = 0; i < X.n; i++) ss += (pred[i] - y[i]) ** 2;
    residualStd = Math.sqrt(ss / Math.max(1, X.n));
  }
  return { intercept, mean: st.mean, std: st.std, coef: Array.from(beta), lambda, l1Ratio, residualStd };
}

/** Calibrated prediction for raw feature rows. */
export function predictElasticNet(m: Pick<ElasticNetModel, 'intercept' | 'mean' | 'std' | 'coef'>, X: Design): Float64Array {
  return predictStd(X, m, m.coef, m.intercept);
}
