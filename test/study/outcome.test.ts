import { describe, expect, it } from 'vitest';
import { heldOutRatio, normalizedAccuracies, normalizedAccuracy } from '../../src/study/outcome.js';

describe('normalized accuracy', () => {
  it('is the mean of merged/expert accuracy over the two tasks', () => {
    // task a: 0.45 merged vs 0.9 expert → 0.5; task b: 0.8 vs 0.8 → 1; mean 0.75
    const r = normalizedAccuracy([0.45, 0.8], [0.9, 0.8]);
    expect(r.a).toBeCloseTo(0.5, 12);
    expect(r.b).toBeCloseTo(1, 12);
    expect(r.mean).toBeCloseTo(0.75, 12);
    // a merge better than the expert gives > 1
    expect(normalizedAccuracy([0.99, 0.5], [0.9, 0.5]).mean).toBeCloseTo((1.1 + 1) / 2, 12);
  });

  it('refuses a zero expert accuracy', () => {
    expect(() => normalizedAccuracy([0.5, 0.5], [0, 0.9])).toThrow(/expert accuracy must be > 0/);
  });
});

describe('group outcomes', () => {
  it('normalizedAccuracies: per task merged/expert and their mean over k tasks', () => {
    const r = normalizedAccuracies([0.45, 0.8, 0.3], [0.9, 0.8, 0.6]);
    expect(r.ratios[0]).toBeCloseTo(0.5, 14);
    expect(r.ratios[1]).toBeCloseTo(1, 14);
    expect(r.ratios[2]).toBeCloseTo(0.5, 14);
    expect(r.mean).toBeCloseTo(2 / 3, 14);
    expect(() => normalizedAccuracies([0.5], [0.5, 0.5])).toThrow();
  });

  it('heldOutRatio: mean over held-out tasks of merged ÷ base probe accuracy', () => {
    // 0.9/0.8 = 1.125 and 0.6/0.75 = 0.8 → 0.9625
    expect(heldOutRatio([0.9, 0.6], [0.8, 0.75])).toBeCloseTo(0.9625, 14);
    expect(() => heldOutRatio([0.5], [0])).toThrow(/base probe accuracy must be > 0/);
  });
});
