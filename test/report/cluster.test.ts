import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { averageLinkage, clusterOrder, metricDistance } from '../../src/report/cluster.js';
import { lowerIsSimilar } from '../../src/report/metric-direction.js';
import type { MetricMatrix } from '../../src/types.js';

/** Mean of dist over left × right, straight from the definition of average linkage. */
const meanBetween = (d: number[][], a: number[], b: number[]) => a.reduce((s, i) => s + b.reduce((t, j) => t + d[i][j], 0), 0) / (a.length * b.length);

const symmetric = (n: number, f: (i: number, j: number) => number) => {
  const d = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) d[i][j] = d[j][i] = f(i, j);
  return d;
};

describe('averageLinkage', () => {
  it('hand case: two tight pairs listed interleaved come out grouped', () => {
    // experts in input order A, C, B, D; A~B (0.1), C~D (0.2), everything else far.
    const d = [
      [0, 0.8, 0.1, 0.9],
      [0.8, 0, 0.7, 0.2],
      [0.1, 0.7, 0, 0.6],
      [0.9, 0.2, 0.6, 0],
    ];
    const l = averageLinkage(d);
    expect(l.steps).toEqual([
      { left: [0], right: [2], height: 0.1 },
      { left: [1], right: [3], height: 0.2 },
      // (0.8 + 0.9 + 0.7 + 0.6) / 4
      { left: [0, 2], right: [1, 3], height: expect.closeTo(0.75, 12) },
    ]);
    expect(l.order).toEqual([0, 2, 1, 3]);
  });

  it('hand case: average (not single/complete) linkage decides the join', () => {
    // After {0,1} join at 1: d({0,1},2) = (2+6)/2 = 4 < d(2,3) = 4.5 → 2 joins {0,1}, not 3.
    // Single linkage would use min = 2, complete max = 6 (> 4.5: 2 would join 3).
    const d = [
      [0, 1, 2, 9],
      [1, 0, 6, 9],
      [2, 6, 0, 4.5],
      [9, 9, 4.5, 0],
    ];
    const l = averageLinkage(d);
    expect(l.steps[1]).toEqual({ left: [0, 1], right: [2], height: 4 });
    expect(l.steps[2].height).toBeCloseTo((9 + 9 + 4.5) / 3, 12);
    expect(l.order).toEqual([0, 1, 2, 3]);
  });

  it('every step joins the closest clusters by mean distance, heights never decrease, order is a permutation', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 1e6 }), (n, seed) => {
        let s = seed;
        const rand = () => ((s = (s * 16807) % 2147483647) / 2147483647);
        const d = symmetric(n, () => rand());
        const l = averageLinkage(d);
        let clusters = Array.from({ length: n }, (_, i) => [i]);
        let prev = -Infinity;
        for (const step of l.steps) {
          // brute force the closest pair of current clusters
          let best = Infinity;
          for (let a = 0; a < clusters.length; a++) for (let b = a + 1; b < clusters.length; b++) best = Math.min(best, meanBetween(d, clusters[a], clusters[b]));
          expect(step.height).toBeCloseTo(meanBetween(d, step.left, step.right), 10);
          expect(step.height).toBeCloseTo(best, 10);
          expect(step.height).toBeGreaterThanOrEqual(prev - 1e-12); // UPGMA is monotone
          prev = step.height;
          const key = (c: number[]) => [...c].sort((x, y) => x - y).join(',');
          clusters = clusters.filter((c) => key(c) !== key(step.left) && key(c) !== key(step.right)).concat([[...step.left, ...step.right]]);
        }
        expect(l.steps.length).toBe(n - 1);
        expect([...l.order].sort((x, y) => x - y)).toEqual(Array.from({ length: n }, (_, i) => i));
      }),
      { numRuns: 60 },
    );
  });

  it('rejects a non-square matrix', () => {
    expect(() => averageLinkage([[0, 1], [1]])).toThrow(/not square/);
  });
});

describe('metricDistance / clusterOrder', () => {
  it('cosine hand case: distance is 1 − cosine rescaled to [0,1]', () => {
    const cos: MetricMatrix = [
      [null, 0.9, 0.1],
      [0.9, null, 0.3],
      [0.1, 0.3, null],
    ];
    const d = metricDistance(cos, false);
    // min 0.1, max 0.9: d = 1 − (v − 0.1)/0.8
    expect(d[0][1]).toBeCloseTo(0, 12);
    expect(d[0][2]).toBeCloseTo(1, 12);
    expect(d[1][2]).toBeCloseTo(0.75, 12);
    expect(d[0][0]).toBe(0);
    expect(clusterOrder(cos, 'tv_cosine')).toEqual([0, 1, 2]);
  });

  it('orders exactly as average linkage on 1 − cos (affine invariance)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 8 }), fc.integer({ min: 1, max: 1e6 }), (n, seed) => {
        let s = seed;
        const rand = () => ((s = (s * 48271) % 2147483647) / 2147483647);
        const cos = symmetric(n, () => rand() * 2 - 1) as MetricMatrix;
        for (let i = 0; i < n; i++) cos[i][i] = null;
        const oneMinus = symmetric(n, (i, j) => 1 - (cos[i][j] as number));
        expect(clusterOrder(cos, 'tv_cosine')).toEqual(averageLinkage(oneMinus).order);
      }),
      { numRuns: 60 },
    );
  });

  it('distance-type metrics are not flipped: small L2 = close', () => {
    expect(lowerIsSimilar('tv_l2')).toBe(true);
    expect(lowerIsSimilar('tv_cosine')).toBe(false);
    const l2: MetricMatrix = [
      [null, 9, 1, 8],
      [9, null, 7, 2],
      [1, 7, null, 6],
      [8, 2, 6, null],
    ];
    expect(clusterOrder(l2, 'tv_l2')).toEqual([0, 2, 1, 3]);
    // Read as a similarity, the same numbers pair 0 with 1 (the largest value).
    expect(clusterOrder(l2, 'tv_cosine').slice(0, 2)).toEqual([0, 1]);
  });

  it('missing values get the mean known distance; an all-null matrix keeps input order', () => {
    const m: MetricMatrix = [
      [null, 1, null],
      [1, null, 0],
      [null, 0, null],
    ];
    const d = metricDistance(m, true);
    // known: d(0,1) = 1, d(1,2) = 0 → fill 0.5
    expect(d[0][2]).toBeCloseTo(0.5, 12);
    expect(d[2][0]).toBeCloseTo(0.5, 12);
    const empty: MetricMatrix = [[null, null], [null, null]];
    expect(clusterOrder(empty, 'tv_cosine')).toEqual([0, 1]);
  });
});
