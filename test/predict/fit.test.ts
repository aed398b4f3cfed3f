import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fitPredictors, loadStudy } from '../../src/predict/fit.js';
import { predictPairs } from '../../src/predict/predict.js';
import { syntheticStudy } from './synthetic.js';
import { ROOT } from '../helpers/cli.js';

describe('fitPredictors', () => {
  const study = syntheticStudy();
  const pf = fitPredictors(study, { bootstrap: 50, seed: 3 });

  it('fits one predictor per method, dropping constant and missing features with a warning', () => {
    expect(Object.keys(pf.methods).sort()).toEqual(['linear', 'ties']);
    expect(pf.methods.ties.features).toEqual(['tv_cosine', 'enc_grad_l2', 'act_l2', 'sign_agreement']);
    expect(pf.warnings!.join('\n')).toMatch(/ties: dropped 1 feature\(s\) with missing values \(--missing drop-features; [^)]*\): gappy \(7 row\(s\)\)/);
    expect(pf.methods.ties.missing).toEqual({ policy: 'drop-features', rowsDropped: 0, featuresDropped: ['gappy'] });
    expect(pf.warnings!.join('\n')).toMatch(/ties: dropped 1 constant feature\(s\): constant_metric/);
    expect(pf.methods.ties.trainRows).toBe(28);
  });

  it('recovers each method’s rule: support and signs (paper), values (calibrated)', () => {
    const t = pf.methods.ties;
    const [cos, grad, act, sign] = t.paper.coef;
    expect(cos).toBeGreaterThan(0);
    expect(grad).toBeLessThan(0);
    expect(Math.abs(act) + Math.abs(sign)).toBeLessThan(0.1 * (Math.abs(cos) + Math.abs(grad)));
    // calibrated coefficients in raw units ≈ the rule (0.05, −0.04, 0, 0)
    const raw = t.calibrated.coef.map((b, j) => b / t.calibrated.std[j]);
    expect(raw[0]).toBeCloseTo(0.05, 2);
    expect(raw[1]).toBeCloseTo(-0.04, 2);
    expect(Math.abs(raw[2])).toBeLessThan(0.005);
    const l = pf.methods.linear;
    expect(l.paper.coef[0]).toBeGreaterThan(0);
    expect(l.paper.coef[2]).toBeLessThan(0);
    // bootstrap intervals bracket the fitted calibrated coefficients of the true features
    expect(t.bootstrap!.samples).toBe(50);
    expect(t.bootstrap!.lo[0]).toBeLessThan(t.calibrated.coef[0]);
    expect(t.bootstrap!.hi[0]).toBeGreaterThan(t.calibrated.coef[0]);
    expect(t.bootstrap!.hi[1]).toBeLessThan(0);
    expect(t.bootstrapPaper!.lo).toHaveLength(4);
  });

  it('validates with LOTO and k-fold; calibrated beats the mean baseline', () => {
    for (const m of Object.values(pf.methods)) {
      expect(m.validation.map((v) => v.scheme)).toEqual(['loto', 'kfold']);
      for (const v of m.validation) {
        expect(v.calibrated.rmse).toBeLessThan(v.baseline.rmse);
        expect(v.meanFoldR).toBeGreaterThan(0.7);
      }
    }
  });

  it('compares fingerprints: tv_cosine shared with the same sign', () => {
    // both methods' non-zero paper coefficients share tv_cosine (+); ties adds enc_grad_l2, linear act_l2
    expect(pf.fingerprints.signAgreement.ties.linear).toBe(1);
    expect(pf.fingerprints.meanSignAgreement).toBe(1);
    expect(pf.fingerprints.top5Overlap.ties.linear).toBeGreaterThanOrEqual(0.2);
  });

  it('exclude drops metrics by family; the result predicts from weight metrics only', () => {
    const w = fitPredictors(study, { exclude: ['gradient', 'activation'], bootstrap: 0, folds: ['loto'] });
    expect(w.methods.ties.features).toEqual(['tv_cosine', 'sign_agreement']);
    expect(w.excluded).toEqual(['gradient', 'activation']);
    const preds = predictPairs(w, [{ a: 'x', b: 'y', values: { tv_cosine: 0, sign_agreement: 0 } }]);
    expect(preds).toHaveLength(2);
    expect(() => fitPredictors(study, { features: ['nope'] })).toThrow(/not in the study: nope/);
  });
});

// The built-in study (written by `mergelens study`) — checked when it has been produced.
const STUDY_CANDIDATES = ['reports/study.json', 'fixtures/study/study.json'].map((p) => path.join(ROOT, p));
const studyFile = STUDY_CANDIDATES.find((p) => existsSync(p));

describe.skipIf(!studyFile)(`built-in study (${studyFile ?? 'missing: reports/study.json — run `npm run study` to produce it'})`, () => {
  it('calibrated model beats the training-mean baseline out of fold, for most methods', async () => {
    const study = await loadStudy(studyFile!);
    const pf = fitPredictors(study, { bootstrap: 0, folds: ['loto'], seed: 0 });
    const results = Object.values(pf.methods).map((m) => m.validation[0]);
    const better = results.filter((v) => v.calibrated.rmse < v.baseline.rmse).length;
    expect(results.length).toBeGreaterThan(0);
    expect(better).toBeGreaterThan(results.length / 2);
    const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(mean(results.map((v) => v.calibrated.rmse))).toBeLessThan(mean(results.map((v) => v.baseline.rmse)));
  });
});

describe('fitPredictors warnings', () => {
  it('flags features that are not mergelens metric ids', () => {
    const s = syntheticStudy(5);
    // constant_metric and gappy are not mergelens metrics (and are dropped anyway); rename one used feature
    const rows = s.rows.map((r) => ({ ...r, metrics: { ...r.metrics, acc_a: r.metrics.tv_cosine * 2 + 1 } }));
    const pf = fitPredictors({ ...s, rows, metricIds: [...s.metricIds, 'acc_a'] }, { bootstrap: 0, folds: ['kfold'] });
    expect(pf.warnings!.find((w) => w.startsWith('feature(s) not computed by mergelens'))).toContain('acc_a');
  });
});
