import { describe, expect, it } from 'vitest';
import { bootstrapIntervals, compareFingerprints, rankCoefficients, signAgreement, topKOverlap } from '../../src/predict/fingerprint.js';

const F = ['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7'];

describe('fingerprints', () => {
  it('ranks non-zero coefficients by |β| with sign', () => {
    expect(rankCoefficients(F, [0.1, 0, -0.5, 0.3, 0, 0, -0.05])).toEqual([
      { metric: 'm3', coef: -0.5 },
      { metric: 'm4', coef: 0.3 },
      { metric: 'm1', coef: 0.1 },
      { metric: 'm7', coef: -0.05 },
    ]);
  });

  it('top-5 overlap and sign agreement on hand-made coefficient sets', () => {
    // top5(a) = m1..m5 ; top5(b) = m3,m4,m5,m6,m7 (m1 is 6th in b) → overlap 3/5
    const a = rankCoefficients(F, [0.9, 0.8, 0.7, -0.6, 0.5, 0, 0]);
    const b = rankCoefficients(F, [0.01, 0, -0.7, -0.6, 0.5, 0.4, 0.3]);
    expect(topKOverlap(a, b)).toBeCloseTo(3 / 5, 15);
    // shared non-zero metrics: m1 (+,+), m3 (+,−), m4 (−,−), m5 (+,+) → 3/4
    expect(signAgreement(a, b)).toBeCloseTo(3 / 4, 15);
    const c = rankCoefficients(F, [0, 0, 0, 0, 0, 1, 0]);
    expect(signAgreement(a, c)).toBeNull();
    expect(topKOverlap(a, c)).toBe(0);
  });

  it('means over method pairs (null sign agreements skipped)', () => {
    const fp = compareFingerprints({
      x: { features: F, coef: [0.9, 0.8, 0.7, -0.6, 0.5, 0, 0] },
      y: { features: F, coef: [0.01, 0, -0.7, -0.6, 0.5, 0.4, 0.3] },
      z: { features: F, coef: [0, 0, 0, 0, 0, 1, 0] },
    });
    // x–y: 3/5, 3/4 ; x–z: 0, null ; y–z: 1/5 (m6 shared), 1/1
    expect(fp.top5Overlap.x.y).toBeCloseTo(0.6, 15);
    expect(fp.top5Overlap.y.x).toBeCloseTo(0.6, 15);
    expect(fp.signAgreement.x.z).toBeNull();
    expect(fp.top5Overlap.y.z).toBeCloseTo(0.2, 15);
    expect(fp.signAgreement.y.z).toBe(1);
    expect(fp.meanTop5Overlap).toBeCloseTo((0.6 + 0 + 0.2) / 3, 15);
    expect(fp.meanSignAgreement).toBeCloseTo((0.75 + 1) / 2, 15);
  });

  it('bootstrap intervals are seeded percentiles of refits', () => {
    // "coefficient" = mean of the resampled values: interval must bracket the sample mean
    const data = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    const fit = (idx: number[]) => [idx.reduce((s, i) => s + data[i], 0) / idx.length];
    const a = bootstrapIntervals(data.length, fit, { samples: 400, seed: 5, stream: 't' });
    const b = bootstrapIntervals(data.length, fit, { samples: 400, seed: 5, stream: 't' });
    expect(a).toEqual(b);
    expect(a.samples).toBe(400);
    expect(a.lo[0]).toBeLessThan(5.5);
    expect(a.hi[0]).toBeGreaterThan(5.5);
    // standard error of the mean = σ/√n ≈ 2.87/√10 ≈ 0.91 → 95% width ≈ 3.6
    expect(a.hi[0] - a.lo[0]).toBeGreaterThan(2.5);
    expect(a.hi[0] - a.lo[0]).toBeLessThan(4.5);
  });
});
