import { describe, expect, it } from 'vitest';
import { crossValidate, kfoldFolds, lotoFolds } from '../../src/predict/cv.js';
import { fitPaperModel, paperScore } from '../../src/predict/pearson-l1.js';
import { subsetRows, subsetVec } from '../../src/predict/design.js';
import { pearson } from '../../src/predict/stats.js';
import { linearData } from './synthetic.js';

const TASKS = ['A', 'B', 'C', 'D'];
const PAIRS = [
  { a: 'A', b: 'B' }, // 0
  { a: 'A', b: 'C' }, // 1
  { a: 'A', b: 'D' }, // 2
  { a: 'B', b: 'C' }, // 3
  { a: 'B', b: 'D' }, // 4
  { a: 'C', b: 'D' }, // 5
];

describe('folds', () => {
  it('leave-one-task-out: train on pairs without the task, validate on pairs with it', () => {
    const folds = lotoFolds(PAIRS);
    expect(folds.map((f) => f.label)).toEqual(TASKS);
    expect(folds.map((f) => [f.train, f.val])).toEqual([
      [[3, 4, 5], [0, 1, 2]],
      [[1, 2, 5], [0, 3, 4]],
      [[0, 2, 4], [1, 3, 5]],
      [[0, 1, 3], [2, 4, 5]],
    ]);
    // every pair is validated exactly twice (once per expert)
    const counts = new Array(PAIRS.length).fill(0);
    for (const f of folds) for (const i of f.val) counts[i]++;
    expect(counts).toEqual([2, 2, 2, 2, 2, 2]);
  });

  it('k-fold covers every pair exactly once, is seeded and disjoint from its training set', () => {
    const n = 23;
    const folds = kfoldFolds(n, 5, 42);
    expect(folds).toHaveLength(5);
    const seen = folds.flatMap((f) => f.val).sort((x, y) => x - y);
    expect(seen).toEqual(Array.from({ length: n }, (_, i) => i));
    for (const f of folds) {
      expect(f.val.length === 4 || f.val.length === 5).toBe(true);
      expect(f.train.length + f.val.length).toBe(n);
      expect(f.train.some((i) => f.val.includes(i))).toBe(false);
    }
    expect(kfoldFolds(n, 5, 42)).toEqual(folds);
    expect(kfoldFolds(n, 5, 43).map((f) => f.val)).not.toEqual(folds.map((f) => f.val));
  });
});

describe('crossValidate', () => {
  // 8 experts → 28 pairs; the outcome is a linear rule of 3 features + noise.
  const experts = Array.from({ length: 8 }, (_, i) => `e${i}`);
  const pairs = experts.flatMap((a, i) => experts.slice(i + 1).map((b) => ({ a, b })));
  const { X, y } = linearData({ n: pairs.length, p: 5, w: [0.05, -0.04, 0.02, 0, 0], b0: 0.7, noise: 0.005, seed: 21 });

  it('LOTO: per-fold r equals a refit on the fold, pooled over all validation pairs', () => {
    const res = crossValidate(X, y, pairs, { scheme: 'loto', seed: 1, lambda: { mode: 'paper', value: 1 } });
    expect(res.summary.folds).toBe(8);
    expect(res.summary.validated).toBe(2 * pairs.length);
    // independent recomputation of fold 'e0'
    const f = lotoFolds(pairs)[0];
    const m = fitPaperModel(subsetRows(X, f.train), subsetVec(y, f.train), 1);
    const scores = f.val.map((i) => paperScore(m, X.cols.map((c) => c[i])));
    expect(res.foldR[0].fold).toBe('e0');
    // crossValidate reaches the same problem by warm starts with a 1e-6 collinearity ridge (paper-lambda.ts)
    expect(res.foldR[0].r).toBeCloseTo(pearson(scores, subsetVec(y, f.val)), 6);
    const defined = res.foldR.map((x) => x.r);
    expect(res.summary.meanFoldR).toBeCloseTo(defined.reduce((s, r) => s + r, 0) / defined.length, 12);
    // the rule is linear and nearly noiseless: the calibrated model must beat the mean baseline
    expect(res.summary.calibrated.rmse).toBeLessThan(0.5 * res.summary.baseline.rmse);
    expect(res.summary.calibrated.pooledR).toBeGreaterThan(0.8);
    expect(res.summary.meanFoldR).toBeGreaterThan(0.8);
    // baseline per prediction = the mean of that fold's training outcomes
    const p0 = res.predictions[0];
    expect(p0.baseline).toBeCloseTo(subsetVec(y, f.train).reduce((s, v) => s + v, 0) / f.train.length, 12);
  });

  it('k-fold validates each row once', () => {
    const res = crossValidate(X, y, pairs, { scheme: 'kfold', k: 4, seed: 3 });
    expect(res.summary.folds).toBe(4);
    expect(res.predictions.map((p) => p.row).sort((a, b) => a - b)).toEqual(pairs.map((_, i) => i));
    expect(res.summary.calibrated.mae).toBeLessThan(res.summary.baseline.mae);
  });
});
