import { describe, expect, it } from 'vitest';
import { normalizedAccuracy } from '../../src/study/outcome.js';

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
