import { describe, expect, it } from 'vitest';
import type { MetricsReport, PredictorFile } from '../../src/types.js';
import { isMergelensError } from '../../src/errors.js';
import { pairMetricsFromReport, predictPairs, predictorCovers, rankPairs } from '../../src/predict/predict.js';

/** A hand-made predictor: one method, two features. */
function predictor(): PredictorFile {
  return {
    format: 'mergelens.predictor',
    version: 1,
    createdAt: '',
    fittedOn: 'hand-made',
    outcome: 'acc',
    methods: {
      ties: {
        method: 'ties',
        features: ['tv_cosine', 'enc_grad_l2'],
        paper: { lambda: 1, min: [0, 0], max: [1, 10], coef: [0.2, -0.1] },
        calibrated: { intercept: 0.8, mean: [0.5, 4], std: [0.25, 2], coef: [0.1, -0.05], lambda: 0.01, l1Ratio: 0.5, residualStd: 0.02 },
        validation: [],
        trainRows: 10,
      },
      linear: {
        method: 'linear',
        features: ['tv_cosine'],
        paper: { lambda: 1, min: [0], max: [1], coef: [0.1] },
        calibrated: { intercept: 0.7, mean: [0.5], std: [0.25], coef: [0.2], lambda: 0.01, l1Ratio: 0.5, residualStd: 0.05 },
        validation: [],
        trainRows: 10,
      },
    },
    fingerprints: { top5Overlap: {}, signAgreement: {}, meanTop5Overlap: 0, meanSignAgreement: 0 },
  };
}

describe('predictPairs', () => {
  it('computes prediction, interval, paper score and drivers by hand', () => {
    const [ties, linear] = predictPairs(predictor(), [{ a: 'x', b: 'y', values: { tv_cosine: 0.75, enc_grad_l2: 8 } }]);
    // z = (0.75−0.5)/0.25 = 1, (8−4)/2 = 2 → 0.8 + 0.1·1 − 0.05·2 = 0.8
    expect(ties.method).toBe('ties');
    expect(ties.predicted).toBeCloseTo(0.8, 14);
    expect(ties.lo).toBeCloseTo(0.8 - 1.96 * 0.02, 14);
    expect(ties.hi).toBeCloseTo(0.8 + 1.96 * 0.02, 14);
    // min-max: 0.75 → 0.5, 8 → 0.6 → 0.2·0.5 − 0.1·0.6 = 0.04
    expect(ties.score).toBeCloseTo(0.04, 14);
    expect(ties.drivers).toEqual([
      { metric: 'tv_cosine', contribution: expect.closeTo(0.1, 14) },
      { metric: 'enc_grad_l2', contribution: expect.closeTo(-0.1, 14) },
    ]);
    expect(linear.predicted).toBeCloseTo(0.9, 14);
  });

  it('orders drivers by |contribution|', () => {
    const [ties] = predictPairs(predictor(), [{ a: 'x', b: 'y', values: { tv_cosine: 0.5, enc_grad_l2: 0 } }]);
    expect(ties.drivers.map((d) => d.metric)).toEqual(['enc_grad_l2', 'tv_cosine']);
    expect(ties.drivers[0].contribution).toBeCloseTo(0.1, 14);
    expect(ties.drivers[1].contribution).toBe(0);
  });

  it('reads a MetricsReport (pairs i<j of N×N matrices)', () => {
    const report = {
      format: 'mergelens.metrics',
      experts: ['p', 'q', 'r'],
      pairs: [[0, 1], [0, 2], [1, 2]],
      metrics: {
        tv_cosine: [[null, 0.75, 0.5], [0.75, null, 0.25], [0.5, 0.25, null]],
        enc_grad_l2: [[null, 8, 4], [8, null, 2], [4, 2, null]],
      },
      definitions: {},
    } as unknown as MetricsReport;
    expect(pairMetricsFromReport(report)[2]).toEqual({ a: 'q', b: 'r', values: { tv_cosine: 0.25, enc_grad_l2: 2 } });
    const preds = predictPairs(predictor(), report);
    expect(preds).toHaveLength(6);
    const r = rankPairs(preds);
    // best per pair: p–q: ties 0.8 vs linear 0.9 → linear; p–r: ties 0.8, linear 0.7 → ties
    expect(r.pairs.map((p) => [p.a, p.b, p.best.method])).toEqual([
      ['p', 'q', 'linear'],
      ['p', 'r', 'ties'],
      ['q', 'r', 'ties'],
    ]);
    // q–r: ties = 0.8 − 0.1 + 0.05 = 0.75, linear = 0.5 → ties 0.75
    expect(r.pairs[2].best.predicted).toBeCloseTo(0.75, 14);
    // Avoid = the verdict's rule (verdict.ts): interval entirely below the best pair's.
    // best p–q 0.9 by linear (σ 0.05): [0.802, 0.998]; p–r ties 0.8 ± 0.0392 = [0.761, 0.839]
    // overlaps it → tied; q–r ties 0.75 ± 0.0392 = [0.711, 0.789] lies below 0.802 → avoid.
    expect(r.avoid.map((p) => `${p.a}-${p.b}`)).toEqual(['q-r']);
    // with a wide interval (σ = 0.2) the same gap is noise: nothing to avoid
    const wide = preds.map((p) => ({ ...p, lo: p.predicted - 1.96 * 0.2, hi: p.predicted + 1.96 * 0.2 }));
    expect(rankPairs(wide).avoid).toEqual([]);
    // σ = 0.01 everywhere: best lo 0.9 − 0.0196 = 0.8804; p–r hi 0.8196 and q–r hi 0.7696 lie below → both, worst first
    const narrow = preds.map((p) => ({ ...p, lo: p.predicted - 1.96 * 0.01, hi: p.predicted + 1.96 * 0.01 }));
    expect(rankPairs(narrow).avoid.map((p) => `${p.a}-${p.b}`)).toEqual(['q-r', 'p-r']);
  });

  it('MISSING_METRICS names the missing metrics and suggests excluding their family', () => {
    let err: unknown;
    try {
      predictPairs(predictor(), [{ a: 'x', b: 'y', values: { tv_cosine: 0.5 } }], { file: 'm.json' });
    } catch (e) {
      err = e;
    }
    expect(isMergelensError(err)).toBe(true);
    const e = err as Error & { code: string; hint?: string };
    expect(e.code).toBe('MISSING_METRICS');
    expect(e.message).toContain('enc_grad_l2');
    expect(e.message).not.toContain('tv_cosine,');
    expect(e.message).toContain('m.json');
    expect(e.hint).toContain('--exclude gradient');
    expect(predictorCovers(predictor(), new Set(['tv_cosine']))).toBe(false);
    expect(predictorCovers(predictor(), new Set(['tv_cosine', 'enc_grad_l2']))).toBe(true);
    // a method subset that needs only available metrics works
    expect(predictPairs(predictor(), [{ a: 'x', b: 'y', values: { tv_cosine: 0.5 } }], { methods: ['linear'] })).toHaveLength(1);
  });
});
