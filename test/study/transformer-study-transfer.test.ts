import { describe, expect, it } from 'vitest';
import type { MethodPredictor, PredictorFile, StudyDataset } from '../../src/types.js';
import { compareKinds, transfer } from '../../src/study/transformer/transfer.js';

/** A one-feature predictor: calibrated ŷ = 0.5 + 0.1·(x − 2)/2 (mean 2, std 2), paper score = x mapped to [−1, 1] over [0, 4]. */
function predictor(): PredictorFile {
  const m: MethodPredictor = {
    method: 'ties',
    features: ['x'],
    paper: { lambda: 0, min: [0], max: [4], coef: [1] },
    calibrated: { intercept: 0.5, mean: [2], std: [2], coef: [0.1], lambda: 0, l1Ratio: 0.5, residualStd: 0.05 },
    validation: [],
    trainRows: 10,
  };
  return { format: 'mergelens.predictor', version: 1, createdAt: '', fittedOn: 'hand', outcome: 'normalized accuracy', methods: { ties: m }, fingerprints: { top5Overlap: {}, signAgreement: {}, meanTop5Overlap: 0, meanSignAgreement: 0 } };
}

const study = (rows: [string, string, string, number, number | undefined][]): StudyDataset => ({
  format: 'mergelens.study',
  version: 1,
  createdAt: '',
  description: 'hand',
  outcome: 'normalized accuracy',
  experts: ['a', 'b', 'c'],
  methods: [...new Set(rows.map((r) => r[2]))],
  metricIds: ['x'],
  rows: rows.map(([a, b, method, outcome, x]) => ({ a, b, method, outcome, metrics: (x === undefined ? {} : { x }) as Record<string, number> })),
});

describe('transfer between studies', () => {
  it('scores the source predictor on the target rows (hand-computed r and RMSE), skipping rows without its features', () => {
    // x = 0, 2, 4 → ŷ = 0.4, 0.5, 0.6; outcomes 0.45, 0.5, 0.7.
    const target = study([
      ['a', 'b', 'ties', 0.45, 0],
      ['a', 'c', 'ties', 0.5, 2],
      ['b', 'c', 'ties', 0.7, 4],
      ['b', 'c', 'weight_avg', 0.9, 4],
      ['a', 'c', 'ties', 0.2, undefined],
    ]);
    const t = transfer({ name: 'src', value: predictor() }, { name: 'dst', value: target });
    expect(t.cells).toHaveLength(1); // weight_avg: the source has no model for it
    const c = t.cells[0];
    expect([c.rows, c.skipped]).toEqual([3, 1]);
    // residuals 0.05, 0, −0.1 → RMSE √(0.0125/3); source mean 0.5 → residuals 0.05, 0, −0.2.
    expect(c.rmse).toBeCloseTo(Math.sqrt(0.0125 / 3), 12);
    expect(c.baselineRmse).toBeCloseTo(Math.sqrt(0.0425 / 3), 12);
    // r(ŷ, y): ŷ centred (−0.1, 0, 0.1), y centred (−0.1167, −0.0667, 0.1833) → 0.03/(√0.02·√0.05167).
    const yc = [0.45 - 0.55, 0.5 - 0.55, 0.7 - 0.55];
    const r = (0.1 * (yc[2] - yc[0])) / (Math.sqrt(0.02) * Math.sqrt(yc.reduce((s, v) => s + v * v, 0)));
    expect(c.r).toBeCloseTo(r, 12);
    expect(c.paperR).toBeCloseTo(r, 12); // the paper score is affine in x too
    expect(t.pooled.rows).toBe(3);
    expect(c.inDomain).toBeNull(); // this predictor carries no domain
  });

  it('compares LoRA and full merges of the same pairs per method', () => {
    const full = study([
      ['a', 'b', 'ties', 0.8, 1],
      ['a', 'c', 'ties', 0.6, 1],
      ['b', 'c', 'ties', 0.7, 1],
    ]);
    const lora = study([
      ['b', 'c', 'ties', 0.9, 1],
      ['a', 'b', 'ties', 0.85, 1],
      ['a', 'c', 'ties', 0.55, 1],
    ]);
    const [c] = compareKinds(full, lora);
    expect(c.pairs).toBe(3);
    expect(c.full.mean).toBeCloseTo(0.7, 12);
    expect(c.lora.mean).toBeCloseTo(0.7666666666666667, 12);
    // LoRA − full per pair: +0.05, −0.05, +0.2.
    expect(c.diff.mean).toBeCloseTo(0.2 / 3, 12);
    expect(c.loraBetter).toBeCloseTo(2 / 3, 12);
    const d = [0.05, -0.05, 0.2];
    const md = 0.2 / 3;
    expect(c.diff.se).toBeCloseTo(Math.sqrt(d.reduce((s, v) => s + (v - md) ** 2, 0) / 2) / Math.sqrt(3), 12);
  });
});
