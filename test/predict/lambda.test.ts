/**
 * The paper model's λ on a scale that means the same on any data (λ/λ_max), its automatic choice
 * by inner LOTO on training rows only, the beats-the-mean verdict and fingerprint pair counts.
 */
import { describe, expect, it } from 'vitest';
import { applyMinMax, fitMinMax, subsetRows, subsetVec } from '../../src/predict/design.js';
import { fitPaperModel } from '../../src/predict/pearson-l1.js';
import { fitPaperWithSetting, paperLambdaMax, paperFitAtRho, selectRho, rhoGrid } from '../../src/predict/paper-lambda.js';
import { crossValidate, lotoFolds } from '../../src/predict/cv.js';
import { compareToBaseline } from '../../src/predict/baseline.js';
import { compareFingerprints } from '../../src/predict/fingerprint.js';
import { fitPredictors } from '../../src/predict/fit.js';
import { linearData, syntheticStudy } from './synthetic.js';
import { std } from '../../src/predict/stats.js';

const experts = Array.from({ length: 9 }, (_, i) => `e${i}`);
const pairs = experts.flatMap((a, i) => experts.slice(i + 1).map((b) => ({ a, b })));
// outcome on the scale of raw accuracy (sd ≈ 0.01), as in the paper's data
const { X, y } = linearData({ n: pairs.length, p: 6, w: [0.01, -0.008, 0.004, 0, 0, 0], b0: 0.7, noise: 0.004, seed: 7 });

describe('λ relative to λ_max', () => {
  const Z = applyMinMax(X, fitMinMax(X));

  it('λ_max = max_j |cov(z_j, y)| / var(y), computed independently', () => {
    const my = y.reduce((s, v) => s + v, 0) / y.length;
    const vy = std(y) ** 2;
    const covs = Z.cols.map((c) => {
      const mc = c.reduce((s, v) => s + v, 0) / c.length;
      return Math.abs(c.reduce((s, v, i) => s + (v - mc) * (y[i] - my), 0) / c.length);
    });
    expect(paperLambdaMax(Z, y)).toBeCloseTo(Math.max(...covs) / vy, 12);
  });

  it('ρ = 1 zeroes every coefficient; just below, exactly the most correlated metric enters', () => {
    const lmax = paperLambdaMax(Z, y);
    expect(Array.from(paperFitAtRho(Z, y, lmax, 1)).every((b) => b === 0)).toBe(true);
    const near = Array.from(paperFitAtRho(Z, y, lmax, 1 - 1e-9));
    expect(near.filter((b) => b !== 0)).toHaveLength(1);
    // rescaled so that sd(score) = sd(y): β = ±sd(y)/sd(z_j) for the single metric
    const j = near.findIndex((b) => b !== 0);
    expect(Math.abs(near[j])).toBeCloseTo(std(y) / std(Z.cols[j]), 6);
  });

  it('the paper scale is the same problem as fitPaperModel (to the 1e-6 collinearity ridge)', () => {
    const lmax = paperLambdaMax(Z, y);
    for (const rho of [0.5, 0.1, 0.02]) {
      const viaPath = fitPaperWithSetting(X, y, pairs, { mode: 'paper', value: rho * lmax });
      const direct = fitPaperModel(X, y, rho * lmax);
      viaPath.coef.forEach((b, j) => expect(b).toBeCloseTo(direct.coef[j], 5));
      expect(viaPath.selection).toMatchObject({ mode: 'paper', value: rho * lmax, paperLambda: rho * lmax });
      const rel = fitPaperWithSetting(X, y, pairs, { mode: 'relative', value: rho });
      rel.coef.forEach((b, j) => expect(b).toBeCloseTo(direct.coef[j], 5));
    }
  });

  it('means the same after rescaling the outcome (the paper-scale λ does not)', () => {
    const y100 = y.map((v) => 100 * v);
    const a = fitPaperWithSetting(X, y, pairs, { mode: 'relative', value: 0.1 });
    const b = fitPaperWithSetting(X, y100, pairs, { mode: 'relative', value: 0.1 });
    // identical up to the paper's |β| < 1e-3 cut, which is in outcome units (docs/predictors.md)
    b.coef.forEach((c, j) => {
      if (Math.abs(a.coef[j]) > 0) expect(c / 100).toBeCloseTo(a.coef[j], 6);
      else expect(Math.abs(c / 100)).toBeLessThan(1e-3);
    });
    // paper scale λ = 1: var(y) grows 10⁴×, cov 10²×, so a metric needs 100× the correlation to enter
    expect(b.selection.lambdaMax).toBeCloseTo(a.selection.lambdaMax / 100, 8);
  });
});

describe('automatic λ: inner LOTO on the training rows only', () => {
  it('a fold’s choice does not depend on its validation rows', () => {
    const f = lotoFolds(pairs)[0];
    const Xt = subsetRows(X, f.train);
    const yt = subsetVec(y, f.train);
    const sel = selectRho(Xt, yt, f.train.map((i) => pairs[i]));
    // changing the held-out outcomes changes nothing about the training-fold selection
    const y2 = Float64Array.from(y);
    for (const i of f.val) y2[i] = 0.1 * Math.sin(i);
    const res1 = crossValidate(X, y, pairs, { scheme: 'loto' });
    const res2 = crossValidate(X, y2, pairs, { scheme: 'loto' });
    expect(res1.summary.perFold![0].rho).toBe(sel.rho);
    expect(res2.summary.perFold![0].rho).toBe(sel.rho);
    expect(sel.grid[0]).toBe(1);
    expect(sel.score.length).toBe(sel.grid.length);
    // the selected ρ maximises the mean inner fold r over the grid walked
    const best = Math.max(...sel.score.filter(Number.isFinite));
    expect(sel.score[sel.grid.indexOf(sel.rho)]).toBe(best);
  });

  it('recovers the rule’s support on clean data and keeps noise metrics out', () => {
    const m = fitPaperWithSetting(X, y, pairs);
    expect(m.selection.mode).toBe('auto');
    expect(m.coef[0]).toBeGreaterThan(0);
    expect(m.coef[1]).toBeLessThan(0);
    expect(rhoGrid()).toHaveLength(30);
  });
});

describe('beats the mean', () => {
  it('gain = RMSE(mean) − RMSE(calibrated) over the pooled folds; interval from resampled folds', () => {
    const folds = [
      { calibrated: [0.01, 0.04], baseline: [0.04, 0.09] },
      { calibrated: [0.09], baseline: [0.16] },
      { calibrated: [0.01, 0.01, 0.01], baseline: [0.01, 0.04, 0.01] },
    ];
    const c = compareToBaseline(folds, { resamples: 500, seed: 1 });
    const sc = 0.01 + 0.04 + 0.09 + 0.03;
    const sb = 0.04 + 0.09 + 0.16 + 0.06;
    expect(c.calibratedRmse).toBeCloseTo(Math.sqrt(sc / 6), 14);
    expect(c.baselineRmse).toBeCloseTo(Math.sqrt(sb / 6), 14);
    expect(c.gain).toBeCloseTo(Math.sqrt(sb / 6) - Math.sqrt(sc / 6), 14);
    expect(c.relativeGain).toBeCloseTo(c.gain / c.baselineRmse, 14);
    // every fold is at least as good as the mean, so every resample is too
    expect(c.lo).toBeGreaterThanOrEqual(0);
    expect(c.hi).toBeLessThanOrEqual(Math.sqrt(0.16) - Math.sqrt(0.09) + 1e-12);
    expect(c.resamples).toBe(500);
  });

  it('pure-noise outcomes do not beat the mean; a clean linear rule does', () => {
    const noise = linearData({ n: pairs.length, p: 4, w: [0, 0, 0, 0], b0: 0.7, noise: 0.01, seed: 3 });
    const n = crossValidate(noise.X, noise.y, pairs, { scheme: 'loto' }).summary.baselineComparison!;
    expect(n.beatsMean).toBe(false);
    expect(n.lo).toBeLessThanOrEqual(0);
    const s = crossValidate(X, y, pairs, { scheme: 'loto' }).summary.baselineComparison!;
    expect(s.beatsMean).toBe(true);
    expect(s.lo).toBeGreaterThan(0);
  });

  it('the predictor file carries methods[m].verdict from LOTO, and per-fold results', () => {
    const pf = fitPredictors(syntheticStudy(), { bootstrap: 0 });
    for (const m of Object.values(pf.methods)) {
      const loto = m.validation.find((v) => v.scheme === 'loto')!;
      expect(m.verdict).toEqual({ scheme: 'loto', ...loto.baselineComparison });
      expect(loto.perFold).toHaveLength(8);
      expect(loto.perFold!.map((f) => f.heldOut)).toEqual(['e0', 'e1', 'e2', 'e3', 'e4', 'e5', 'e6', 'e7']);
      for (const f of loto.perFold!) expect(f.trainRows + f.valRows).toBe(28);
      expect(m.lambdaSelection!.mode).toBe('auto');
    }
  });
});

describe('fingerprint summaries say how many method pairs they average', () => {
  it('sign agreement skips pairs sharing no metric and says so', () => {
    const fp = compareFingerprints({
      a: { features: ['x', 'y'], coef: [1, -1] },
      b: { features: ['x', 'y'], coef: [1, 1] },
      c: { features: ['z'], coef: [2] },
    });
    expect(fp.methodPairs).toBe(3);
    expect(fp.overlapPairs).toBe(3);
    expect(fp.signPairs).toBe(1);
    expect(fp.meanSignAgreement).toBe(0.5);
    expect(fp.meanTop5Overlap).toBeCloseTo((2 / 5 + 0 + 0) / 3, 14);
  });
});

describe('λ options', () => {
  const study = syntheticStudy();
  it('relative λ outside [0, 1] and auto on the paper scale are refused', () => {
    expect(() => fitPredictors(study, { lambda: 2, bootstrap: 0 })).toThrow(/fraction of λ_max in \[0, 1\]/);
    expect(() => fitPredictors(study, { lambda: 'auto', lambdaScale: 'paper', bootstrap: 0 })).toThrow(/no automatic choice/);
    const p = fitPredictors(study, { lambda: 1, lambdaScale: 'paper', bootstrap: 0, folds: ['loto'] });
    expect(p.methods.ties.lambdaSelection).toMatchObject({ mode: 'paper', value: 1, paperLambda: 1 });
    const r = fitPredictors(study, { lambda: 1, bootstrap: 0, folds: ['loto'] });
    expect(r.methods.ties.paper.coef.every((c) => c === 0)).toBe(true);
    expect(r.warnings!.join('\n')).toContain('λ/λ_max = 1 zeroes every paper-model coefficient');
    expect(r.warnings!.join('\n')).toContain('ties: every paper-model coefficient is zero at this λ');
  });
});
