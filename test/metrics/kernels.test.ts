import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Matrix, SVD } from 'ml-matrix';
import { pairList } from '../../src/metrics/gram.js';
import { PAIR_FIELDS } from '../../src/metrics/sign-agreement.js';
import { keepCount, kthLargestAbs, trimThreshold } from '../../src/numerics/select/threshold.js';
import { rankFromGram, stackSingularValues } from '../../src/metrics/rank.js';
import { accumulateTensor, newSums } from '../../src/metrics/accumulators.js';
import { valuesFromSums } from '../../src/metrics/finalize.js';
import { rng } from './helpers.js';

const f32 = (xs: number[]) => Float32Array.from(xs);

/** The fused kernel's sums of τ chunks (thresholds per expert). */
function sumsOf(tau: Float32Array[], thresholds: number[] = tau.map(() => 0)) {
  const s = newSums(tau.length);
  accumulateTensor(tau, Float64Array.from(thresholds), s);
  return s;
}

/** Naive float64 reference of every pair field and trimmed support (branchy, element order). */
function naive(tau: Float32Array[], th: number[]) {
  const N = tau.length;
  const pairs = new Float64Array(((N * (N - 1)) / 2) * PAIR_FIELDS);
  const kept = th.map((t, i) => tau[i].filter((x) => x !== 0 && Math.abs(x) >= t).length);
  let p = 0;
  for (let i = 0; i < N; i++) {
    for (let j = i + 1; j < N; j++, p++) {
      const o = p * PAIR_FIELDS;
      for (let e = 0; e < tau[i].length; e++) {
        const x = tau[i][e], y = tau[j][e];
        pairs[o + 6] += (x - y) ** 2;
        if (x === 0 || y === 0) continue;
        const same = x > 0 === y > 0;
        const w = Math.min(Math.abs(x), Math.abs(y));
        pairs[o + (same ? 0 : 1)]++;
        pairs[o + (same ? 2 : 3)] += w;
        if (Math.abs(x) >= th[i] && Math.abs(y) >= th[j]) pairs[o + (same ? 4 : 5)]++;
      }
    }
  }
  return { pairs, kept };
}

describe('fused pair kernel (WebAssembly)', () => {
  it('Gram entries equal direct float64 dot products for 2–9 experts, chunks split off-block', () => {
    const r = rng(1);
    for (const N of [2, 3, 4, 5, 8, 9]) {
      const len = 1003;
      const tau = Array.from({ length: N }, () => Float32Array.from({ length: len }, () => r() - 0.5));
      const g = newSums(N);
      // additive over chunks: [0, 517) then [517, len)
      accumulateTensor(tau.map((t) => t.subarray(0, 517)), new Float64Array(N), g);
      accumulateTensor(tau.map((t) => t.subarray(517)), new Float64Array(N), g);
      for (let i = 0; i < N; i++) {
        for (let j = i; j < N; j++) {
          let ref = 0;
          for (let e = 0; e < len; e++) ref += tau[i][e] * tau[j][e];
          // float64 sums of exact float32 products: round-off only (relative, ~1e-15 per 1000 terms)
          expect(Math.abs(g.gram[i * N + j] - ref)).toBeLessThanOrEqual(1e-13 * Math.max(1, Math.abs(ref)));
        }
      }
    }
  });

  it('lists pairs lexicographically', () => {
    expect(pairList(4)).toEqual([[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]]);
  });
});

describe('sign agreement sums (hand-computed)', () => {
  // a = [ 1, -2,  3, 0,  5, -0.5]
  // b = [ 2,  1, -1, 4,  6, -0.25]
  // both non-zero: idx 0,1,2,4,5 → same sign at 0,4,5 (3), opposite at 1,2 (2)
  // weights min(|a|,|b|): 0:1, 1:1, 2:1, 4:5, 5:0.25 → agree 6.25, disagree 2
  const a = f32([1, -2, 3, 0, 5, -0.5]);
  const b = f32([2, 1, -1, 4, 6, -0.25]);

  it('counts agreement, disagreement and min-magnitude weights exactly', () => {
    const { pairs, kept } = sumsOf([a, b]);
    expect(Array.from(pairs.subarray(0, 4))).toEqual([3, 2, 6.25, 2]);
    // threshold 0: every non-zero coordinate is kept
    expect(Array.from(pairs.subarray(4, 6))).toEqual([3, 2]);
    expect(Array.from(kept)).toEqual([5, 6]);
    // diff² = 1 + 9 + 16 + 16 + 1 + 0.0625
    expect(pairs[6]).toBe(43.0625);
  });

  it('trims each τ to its top-k magnitudes (k = ⌊0.5·6⌋ = 3)', () => {
    // |a| sorted desc 5,3,2,1,0.5,0 → t_a = 2 → kept idx 1,2,4; |b| 6,4,2,1,1,0.25 → t_b = 2 → kept idx 0,3,4
    const ta = trimThreshold(a, 0.5);
    const tb = trimThreshold(b, 0.5);
    expect([ta, tb]).toEqual([2, 2]);
    const s = sumsOf([a, b], [ta, tb]);
    // both kept: only idx 4 (5, 6) → agree
    expect(Array.from(s.pairs.subarray(4, 6))).toEqual([1, 0]);
    expect(Array.from(s.kept)).toEqual([3, 3]);
    // union = 3 + 3 − 1 = 5 → conflict 0/5; untrimmed agreement 3/5
    const v = valuesFromSums(s.gram, s.pairs, s.kept, 2, 0, 1, 0);
    expect(v.sign_agreement).toBe(3 / 5);
    expect(v.sign_agreement_trimmed).toBe(1);
    expect(v.sign_conflict).toBe(0);
    expect(v.sign_agreement_weighted).toBe(6.25 / 8.25);
  });

  it('sign conflict counts opposite-sign coordinates among the union of kept sets', () => {
    const x = f32([4, -4, 1, 0]);
    const y = f32([-3, -5, 0, 2]);
    // trim 0.5 → k = 2: x keeps idx 0,1 (t=4); y keeps idx 0,1 (t=3)
    const s = sumsOf([x, y], [trimThreshold(x, 0.5), trimThreshold(y, 0.5)]);
    const v = valuesFromSums(new Float64Array([1, 0, 0, 1]), s.pairs, s.kept, 2, 0, 1, 0);
    // idx 0 conflicts, idx 1 agrees; union = {0,1} → conflict 1/2
    expect(v.sign_conflict).toBe(0.5);
    expect(v.sign_agreement_trimmed).toBe(0.5);
  });

  it('equals a naive branchy count (property: zeros, −0, ties, subnormals, any thresholds)', () => {
    const value = fc.oneof(fc.constant(0), fc.constant(-0), fc.constant(1), fc.constant(-1), fc.constant(1e-40), fc.float({ noNaN: true, noDefaultInfinity: true, min: -100, max: 100 }));
    fc.assert(
      fc.property(fc.array(fc.tuple(value, value), { minLength: 1, maxLength: 150 }), fc.float({ min: 0, max: 2, noNaN: true }), fc.float({ min: 0, max: 2, noNaN: true }), (xs, ta, tb) => {
        const tau = [Float32Array.from(xs.map((p) => p[0])), Float32Array.from(xs.map((p) => p[1]))];
        const got = sumsOf(tau, [ta, tb]);
        const ref = naive(tau, [ta, tb]);
        // counts are exact; float sums agree to float64 round-off (the kernel sums in SIMD lanes)
        [0, 1, 4, 5].forEach((f) => expect(got.pairs[f]).toBe(ref.pairs[f]));
        [2, 3, 6].forEach((f) => expect(got.pairs[f]).toBeCloseTo(ref.pairs[f], 9));
        expect(Array.from(got.kept)).toEqual(ref.kept);
      }),
      { numRuns: 300 },
    );
  });

  it('equals the naive count across 64-bit mask words and 512-element blocks (3–6 experts, 60–1300 elements)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1e9 }), fc.integer({ min: 3, max: 6 }), fc.integer({ min: 60, max: 1300 }), (seed, N, len) => {
        let st = seed;
        const r = () => ((st = (Math.imul(st, 1664525) + 1013904223) >>> 0) / 2 ** 32);
        const taus = Array.from({ length: N }, () => Float32Array.from({ length: len }, () => (r() < 0.2 ? 0 : r() - 0.5)));
        const th = taus.map((t) => trimThreshold(t, 0.3));
        const got = sumsOf(taus, th);
        const ref = naive(taus, th);
        expect(Array.from(got.kept)).toEqual(ref.kept);
        for (let p = 0; p < (N * (N - 1)) / 2; p++) {
          for (const f of [0, 1, 4, 5]) expect(got.pairs[p * PAIR_FIELDS + f]).toBe(ref.pairs[p * PAIR_FIELDS + f]);
          for (const f of [2, 3, 6]) expect(got.pairs[p * PAIR_FIELDS + f]).toBeCloseTo(ref.pairs[p * PAIR_FIELDS + f], 10);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('rejects NaN/Inf in a task vector, naming the expert', () => {
    const ok = f32([1, 2, 3]);
    expect(() => sumsOf([ok, f32([1, NaN, 3]), ok])).toThrow(/expert #2 contains NaN or Inf/);
    expect(() => sumsOf([f32([Infinity, 0, 0]), ok])).toThrow(/expert #1/);
  });

  it('kthLargestAbs equals sorting (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.float({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }), { minLength: 1, maxLength: 300 }), fc.nat(), (xs, kk) => {
        const v = Float32Array.from(xs);
        const k = 1 + (kk % v.length);
        const sorted = Array.from(v, Math.abs).sort((p, q) => q - p);
        expect(kthLargestAbs(v, k)).toBe(sorted[k - 1]);
      }),
      { numRuns: 200 },
    );
  });

  it('keeps max(1, ⌊trim·n⌋) coordinates', () => {
    expect(keepCount(10, 0.2)).toBe(2);
    expect(keepCount(3, 0.2)).toBe(1);
  });
});

describe('rank family from the 2×2 Gram matrix', () => {
  it('matches the SVD of the 2×D stack (ml-matrix)', () => {
    const r = rng(7);
    for (let t = 0; t < 5; t++) {
      const D = 50;
      const a = Array.from({ length: D }, r);
      const b = a.map((v) => (t / 4) * v + r());
      const svd = new SVD(new Matrix([a, b]), { autoTranspose: true });
      const [s1, s2] = svd.diagonal;
      const dot = (x: number[], y: number[]) => x.reduce((s, v, i) => s + v * y[i], 0);
      const got = stackSingularValues(dot(a, a), dot(b, b), dot(a, b));
      expect(got[0]).toBeCloseTo(s1, 10);
      expect(got[1]).toBeCloseTo(s2, 10);
      const v = rankFromGram(dot(a, a), dot(b, b), dot(a, b))!;
      const p = [s1 / (s1 + s2), s2 / (s1 + s2)];
      expect(v.effective_rank).toBeCloseTo(Math.exp(-p[0] * Math.log(p[0]) - p[1] * Math.log(p[1])), 10);
      expect(v.stable_rank).toBeCloseTo((s1 + s2) ** 2 / (s1 * s1 + s2 * s2), 10);
      expect(v.spectral_gap).toBeCloseTo((s1 - s2) / s1, 10);
      expect(v.singular_ratio).toBeCloseTo(s2 / s1, 10);
    }
  });

  it('hand cases: parallel → rank 1, orthogonal equal norms → rank 2, zero → null', () => {
    expect(rankFromGram(4, 16, 8)).toEqual({ effective_rank: 1, stable_rank: 1, spectral_gap: 1, singular_ratio: 0 });
    const o = rankFromGram(9, 9, 0)!;
    expect(o.effective_rank).toBeCloseTo(2, 14);
    expect(o.stable_rank).toBeCloseTo(2, 14);
    expect(o.spectral_gap).toBeCloseTo(0, 14);
    expect(rankFromGram(0, 0, 0)).toBeNull();
  });
});

describe('task-vector values (hand cases)', () => {
  const run = (a: number[], b: number[]) => {
    const sums = newSums(2);
    accumulateTensor([f32(a), f32(b)], new Float64Array([0, 0]), sums);
    return valuesFromSums(sums.gram, sums.pairs, sums.kept, 2, 0, 1, 0);
  };
  it('orthogonal → cos 0, angle 90', () => {
    const v = run([1, 0, 2], [0, 3, 0]);
    expect(v.tv_cosine).toBe(0);
    expect(v.tv_angle).toBe(90);
    expect(v.tv_dot).toBe(0);
    expect(v.tv_l2).toBeCloseTo(Math.sqrt(14), 14);
    expect(v.tv_magnitude_ratio).toBeCloseTo(Math.sqrt(5) / 3, 14);
  });
  it('identical → cos 1, L2 0; opposite → cos −1, angle 180', () => {
    const id = run([1, -2, 3], [1, -2, 3]);
    expect(id.tv_cosine).toBeCloseTo(1, 15);
    expect(id.tv_l2).toBe(0);
    expect(id.sign_agreement).toBe(1);
    const op = run([1, -2, 3], [-1, 2, -3]);
    expect(op.tv_cosine).toBeCloseTo(-1, 15);
    expect(op.tv_angle).toBeCloseTo(180, 6);
    expect(op.sign_agreement).toBe(0);
    expect(op.tv_l2).toBeCloseTo(2 * Math.sqrt(14), 14);
  });
});
