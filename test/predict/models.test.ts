import { describe, expect, it } from 'vitest';
import { Matrix, solve } from 'ml-matrix';
import { fitElasticNet, lambdaMax, predictElasticNet } from '../../src/predict/elastic-net.js';
import {
  fitPaperModel,
  paperKktResidual,
  paperObjective,
  paperScore,
  pearsonWithGradient,
  solvePearsonL1,
} from '../../src/predict/pearson-l1.js';
import { applyMinMax, applyStandardizer, fitMinMax, fitStandardizer, linearCombination } from '../../src/predict/design.js';
import { centre } from '../../src/predict/coordinate-descent.js';
import { pearson, std } from '../../src/predict/stats.js';
import { tensorRandom } from '../../src/merge/random.js';
import { gaussian, linearData } from './synthetic.js';

/** Ordinary least squares with intercept via the normal equations (ml-matrix), raw units. */
function ols(X: { n: number; cols: Float64Array[] }, y: Float64Array): number[] {
  const A = new Matrix(X.n, X.cols.length + 1);
  for (let i = 0; i < X.n; i++) {
    A.set(i, 0, 1);
    X.cols.forEach((c, j) => A.set(i, j + 1, c[i]));
  }
  const At = A.transpose();
  return solve(At.mmul(A), At.mmul(Matrix.columnVector(Array.from(y)))).to1DArray();
}

describe('elastic net (calibrated model)', () => {
  it('with λ = 0 equals ordinary least squares', () => {
    const { X, y } = linearData({ n: 60, p: 4, w: [1, -2, 0.5, 0], b0: 3, noise: 0.3, scale: [1, 2, 0.5, 3], offset: [5, -1, 0, 2] });
    const m = fitElasticNet(X, y, { lambda: 0, l1Ratio: 0.5 });
    const ref = ols(X, y);
    // back to raw units: β_raw = β_z/std, intercept_raw = intercept − Σ β_z·mean/std
    const raw = m.coef.map((b, j) => b / m.std[j]);
    const b0 = m.intercept - m.coef.reduce((s, b, j) => s + (b * m.mean[j]) / m.std[j], 0);
    expect(b0).toBeCloseTo(ref[0], 6);
    raw.forEach((b, j) => expect(b).toBeCloseTo(ref[j + 1], 6));
  });

  it('recovers a known linear rule (CV-chosen λ) and beats the mean on held-out rows', () => {
    const w = [1.5, -0.8, 0, 0, 0.4, 0];
    const { X, y } = linearData({ n: 300, p: 6, w, b0: 2, noise: 0.1, seed: 7 });
    const m = fitElasticNet(X, y, { seed: 1 });
    const raw = m.coef.map((b, j) => b / m.std[j]);
    raw.forEach((b, j) => expect(Math.abs(b - w[j])).toBeLessThan(0.05));
    // residual std (cross-validated RMSE) ≈ noise level
    expect(m.residualStd).toBeGreaterThan(0.08);
    expect(m.residualStd).toBeLessThan(0.13);
    const test = linearData({ n: 200, p: 6, w, b0: 2, noise: 0.1, seed: 8 });
    const pred = predictElasticNet(m, test.X);
    const meanY = y.reduce((s, v) => s + v, 0) / y.length;
    let errModel = 0;
    let errMean = 0;
    for (let i = 0; i < test.X.n; i++) {
      errModel += (pred[i] - test.y[i]) ** 2;
      errMean += (meanY - test.y[i]) ** 2;
    }
    expect(errModel).toBeLessThan(0.05 * errMean);
  });

  it('λ ≥ λ_max gives all-zero coefficients and the mean as intercept', () => {
    const { X, y } = linearData({ n: 50, p: 3, w: [1, 1, 1], noise: 0.5, seed: 3 });
    const Z = applyStandardizer(X, fitStandardizer(X));
    const c = centre(Z, y);
    const lmax = lambdaMax(c.X, c.y, 0.5);
    const m = fitElasticNet(X, y, { lambda: lmax * 1.0001, l1Ratio: 0.5 });
    expect(m.coef.every((b) => b === 0)).toBe(true);
    expect(m.intercept).toBeCloseTo(c.yMean, 12);
    const m2 = fitElasticNet(X, y, { lambda: lmax * 0.9, l1Ratio: 0.5 });
    expect(m2.coef.some((b) => b !== 0)).toBe(true);
  });
});

describe('paper model (Pearson − λ‖β‖₁, scale fixed)', () => {
  it('analytic Pearson gradient matches central finite differences', () => {
    const { X, y } = linearData({ n: 40, p: 5, w: [0.3, -0.2, 0.1, 0, 0], noise: 0.2, seed: 11 });
    const Z = applyMinMax(X, fitMinMax(X));
    const beta = [0.4, -0.1, 0.25, 0.05, -0.3];
    const { r, grad } = pearsonWithGradient(Z, y, beta);
    expect(r).toBeCloseTo(pearson(linearCombination(Z, beta), y), 12);
    const h = 1e-6;
    for (let j = 0; j < beta.length; j++) {
      const up = [...beta];
      const dn = [...beta];
      up[j] += h;
      dn[j] -= h;
      const fd = (pearsonWithGradient(Z, y, up).r - pearsonWithGradient(Z, y, dn).r) / (2 * h);
      expect(Math.abs(grad[j] - fd)).toBeLessThan(1e-7);
    }
    // Euler: r is scale-invariant, so βᵀ∇r = 0
    expect(Math.abs(beta.reduce((s, b, j) => s + b * grad[j], 0))).toBeLessThan(1e-12);
  });

  it('recovers the support and signs of a linear rule with high r', () => {
    // outcome in accuracy-like units (sd ≈ 0.1), 2 informative features of 8
    const w = [0.06, -0.04, 0, 0, 0, 0, 0, 0];
    const { X, y } = linearData({ n: 190, p: 8, w, b0: 0.7, noise: 0.01, seed: 5 });
    const m = fitPaperModel(X, y, 1);
    expect(m.coef[0]).toBeGreaterThan(0);
    expect(m.coef[1]).toBeLessThan(0);
    for (let j = 2; j < 8; j++) expect(m.coef[j]).toBe(0);
    const scores = Array.from({ length: X.n }, (_, i) => paperScore(m, X.cols.map((c) => c[i])));
    expect(pearson(scores, y)).toBeGreaterThan(0.95);
    // the scale constraint: the score has the outcome's spread (before the 1e-3 cut nothing moved here)
    expect(std(scores)).toBeCloseTo(std(y), 6);
  });

  it('the solution satisfies the KKT conditions of the constrained Pearson problem', () => {
    const { X, y } = linearData({ n: 120, p: 6, w: [0.05, -0.03, 0.02, 0.0, 0.01, 0], noise: 0.03, seed: 9 });
    const Z = applyMinMax(X, fitMinMax(X));
    for (const lambda of [0.1, 0.5, 1]) {
      const { beta } = solvePearsonL1(Z, y, lambda);
      expect(beta.some((b) => b !== 0)).toBe(true);
      expect(paperKktResidual(Z, y, beta, lambda)).toBeLessThan(1e-6);
    }
  });

  it('no feasible direction (sd(Xβ) = sd(y)) beats the solution on r − λ‖β‖₁', () => {
    const { X, y } = linearData({ n: 80, p: 5, w: [0.05, -0.03, 0.02, 0, 0], noise: 0.03, seed: 13 });
    const Z = applyMinMax(X, fitMinMax(X));
    const lambda = 0.5;
    const { beta } = solvePearsonL1(Z, y, lambda);
    const best = paperObjective(Z, y, beta, lambda);
    const g = gaussian(tensorRandom(99, 'dirs'));
    const sy = std(y);
    for (let t = 0; t < 300; t++) {
      // random perturbations of the optimum, rescaled onto the constraint set
      const d = Array.from(beta, (b) => b + 0.02 * g() * (t % 2 ? 1 : 0.1));
      const s = std(linearCombination(Z, d));
      const feasible = d.map((v) => (v * sy) / s);
      expect(paperObjective(Z, y, feasible, lambda)).toBeLessThanOrEqual(best + 1e-9);
    }
  });

  it('gives all-zero coefficients when no feature clears λ (|cov(z_j, y)| ≤ λ·var(y))', () => {
    const { X, y } = linearData({ n: 100, p: 3, w: [0.001, 0, 0], noise: 0.1, seed: 17 });
    const m = fitPaperModel(X, y, 1);
    expect(m.coef).toEqual([0, 0, 0]);
  });
});

describe('coordinate descent', () => {
  it('meets the elastic-net KKT conditions on near-collinear features, at every λ of a path', async () => {
    const { coordinateDescent, centre } = await import('../../src/predict/coordinate-descent.js');
    // pairs of features with correlation ≈ 0.999 — the regime where plain CD crawls
    const base = linearData({ n: 60, p: 4, w: [0.5, -0.3, 0.2, 0], noise: 0.1, seed: 31 });
    const g = gaussian(tensorRandom(5, 'collinear'));
    const cols = base.X.cols.flatMap((c) => [c, c.map((v) => v + 0.03 * g())]);
    const c = centre({ n: 60, cols }, base.y);
    const n = c.X.n;
    for (const [l1, l2] of [[0.05, 0.05], [1e-3, 1e-3], [1e-4, 0], [1e-5, 1e-5]]) {
      const { beta, converged } = coordinateDescent(c.X, c.y, { l1, l2 });
      expect(converged).toBe(true);
      // residual correlations from the raw rows, independent of the Gram matrix used by the solver
      for (let j = 0; j < cols.length; j++) {
        let rc = 0;
        for (let i = 0; i < n; i++) {
          let fit = 0;
          for (let k = 0; k < cols.length; k++) fit += c.X.cols[k][i] * beta[k];
          rc += c.X.cols[j][i] * (c.y[i] - fit);
        }
        rc /= n;
        if (beta[j] !== 0) expect(Math.abs(rc - l2 * beta[j] - l1 * Math.sign(beta[j]))).toBeLessThan(1e-9);
        else expect(Math.abs(rc)).toBeLessThanOrEqual(l1 + 1e-9);
      }
    }
  });
});

describe('active-set finish', () => {
  it('accepts only a support that satisfies KKT; an orthonormal design gives soft-thresholding', async () => {
    const { activeSetSolve, gramProblem, coordinateDescent } = await import('../../src/predict/coordinate-descent.js');
    // orthonormal centred columns: G = XᵀX/n = I, so the lasso solution is soft(c, l1)/(1 + l2)
    const X = { n: 4, cols: [Float64Array.from([1, 1, -1, -1]), Float64Array.from([1, -1, 1, -1])] };
    const y = Float64Array.from([3, 1, -1, -3]); // c = Xᵀy/n = (2, 1)
    const P = gramProblem(X, y);
    expect(Array.from(P.c)).toEqual([2, 1]);
    const l1 = 0.5;
    const l2 = 0.25;
    // support {0} only: the exact solve on it is β0 = (2 − 0.5)/1.25, but |c1| = 1 > l1 → rejected
    const beta = Float64Array.from([1, 0]);
    const grad = Float64Array.from([0, 0]);
    expect(activeSetSolve(P, l1, l2, beta, grad)).toBe(false);
    expect(beta[0]).toBeCloseTo(1.5 / 1.25, 14);
    // full support with the right signs: accepted, equals soft-thresholding
    const b2 = Float64Array.from([1, 1]);
    expect(activeSetSolve(P, l1, l2, b2, Float64Array.from([0, 0]))).toBe(true);
    expect(b2[0]).toBeCloseTo(1.5 / 1.25, 14);
    expect(b2[1]).toBeCloseTo(0.5 / 1.25, 14);
    // a wrong sign is not accepted: the step stops at the zero crossing
    const b3 = Float64Array.from([1, -0.1]);
    expect(activeSetSolve(P, l1, l2, b3, Float64Array.from([0, 0]))).toBe(false);
    expect(b3[1]).toBe(0);
    expect(Array.from(coordinateDescent(X, y, { l1, l2 }).beta).map((v) => +v.toFixed(12))).toEqual([1.2, 0.4]);
  });
});
