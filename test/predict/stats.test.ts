import { describe, expect, it } from 'vitest';
import { mae, mean, pearson, quantile, ranks, rmse, spearman, std } from '../../src/predict/stats.js';

describe('stats', () => {
  it('mean and std (population and sample) match hand values', () => {
    const x = [2, 4, 4, 4, 5, 5, 7, 9];
    expect(mean(x)).toBe(5);
    expect(std(x)).toBeCloseTo(2, 14); // the textbook example: σ = 2
    expect(std(x, 1)).toBeCloseTo(Math.sqrt(32 / 7), 14);
    expect(mean([])).toBeNaN();
  });

  it('pearson matches a hand computation and is NaN for constant input', () => {
    // dx = (−1,0,1), dy = (−4/3,−1/3,5/3): Sxy = 3, Sxx = 2, Syy = 42/9 → r = 9/√84
    expect(pearson([1, 2, 3], [1, 2, 4])).toBeCloseTo(9 / Math.sqrt(84), 14);
    expect(pearson([1, 2, 3], [6, 4, 2])).toBeCloseTo(-1, 14);
    expect(pearson([1, 1, 1], [1, 2, 3])).toBeNaN();
    expect(() => pearson([1, 2], [1])).toThrow(RangeError);
  });

  it('ranks average ties; spearman uses them', () => {
    expect(Array.from(ranks([10, 20, 20, 30]))).toEqual([1, 2.5, 2.5, 4]);
    expect(Array.from(ranks([3, 1, 3, 3]))).toEqual([3, 1, 3, 3]);
    // ranks (1,2.5,2.5,4) vs (1,2,3,4): Sxy = 4.5, Sxx = 4.5, Syy = 5 → ρ = 4.5/√22.5
    expect(spearman([10, 20, 20, 30], [1, 2, 3, 4])).toBeCloseTo(4.5 / Math.sqrt(22.5), 14);
    // monotone but non-linear → ρ = 1 while r < 1
    const x = [1, 2, 3, 4, 5];
    const y = x.map((v) => Math.exp(v));
    expect(spearman(x, y)).toBeCloseTo(1, 14);
    expect(pearson(x, y)).toBeLessThan(0.95);
  });

  it('mae, rmse and quantile match hand values', () => {
    expect(mae([1, 2, 3], [2, 2, 5])).toBeCloseTo(1, 14);
    expect(rmse([1, 2, 3], [2, 2, 5])).toBeCloseTo(Math.sqrt(5 / 3), 14);
    expect(quantile([4, 1, 3, 2], 0.5)).toBeCloseTo(2.5, 14);
    expect(quantile([0, 10], 0.025)).toBeCloseTo(0.25, 14);
  });
});
