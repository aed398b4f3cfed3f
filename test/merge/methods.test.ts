import { describe, expect, it } from 'vitest';
import type { ParamValue } from '../../src/types.js';
import { getMethod, resolveParams } from '../../src/merge/registry.js';
import { tensorRandom } from '../../src/merge/random.js';
import { magnitudeTrim, randomDrop } from '../../src/merge/sparsify.js';
import {
  f64,
  maxAbsDiff,
  randn,
  refGta,
  refIsoDelta,
  refSlerp,
  refTopK,
  refTsvDelta,
  refWeightAvg,
  singularValues,
  taskVectors,
  testRng,
} from './reference.js';

interface Case {
  base?: number[] | Float32Array | null;
  experts: (number[] | Float32Array)[];
  weights?: number[];
  params?: Record<string, ParamValue>;
  shape?: number[];
  seed?: number;
  name?: string;
  random?: () => number;
}

function run(id: string, c: Case): Float32Array {
  const method = getMethod(id);
  const experts = c.experts.map((e) => Float32Array.from(e));
  const name = c.name ?? 't';
  return method.mergeTensor({
    name,
    shape: c.shape ?? [experts[0].length],
    base: c.base ? Float32Array.from(c.base) : null,
    experts,
    weights: c.weights ?? experts.map(() => 1),
    params: resolveParams(method, c.params ?? {}),
    random: c.random ?? tensorRandom(c.seed ?? 0, name),
  });
}

const close = (got: ArrayLike<number>, want: ArrayLike<number>, tol = 1e-5) => {
  expect(got.length).toBe(want.length);
  expect(maxAbsDiff(got, want)).toBeLessThan(tol);
};

/** Random fixture: base ~ N(0,1), experts = base + N(0, 0.1). */
function fixture(seed: number, n: number, N: number) {
  const rng = testRng(seed);
  const base = randn(rng, n);
  const experts = Array.from({ length: N }, () => {
    const d = randn(rng, n, 0.1);
    return base.map((b, i) => b + d[i]);
  });
  return { base, experts, baseV: f64(base), expertV: experts.map(f64) };
}

describe('weight_avg / linear', () => {
  it('hand case: weighted mean, and weighted sum when normalize=false', () => {
    close(run('weight_avg', { experts: [[1, 2], [3, 6]], weights: [1, 3] }), [2.5, 5]);
    close(run('linear', { experts: [[1, 2], [3, 6]], weights: [1, 3], params: { normalize: false } }), [10, 20]);
  });
  it('matches the float64 reference on random data', () => {
    const { experts, expertV } = fixture(1, 500, 3);
    close(run('weight_avg', { experts, weights: [0.2, 0.5, 1.3] }), refWeightAvg(expertV, [0.2, 0.5, 1.3]));
  });
});

describe('task_arithmetic', () => {
  it('hand case: θ₀ + λ·Σ wᵢτᵢ with the default λ = 0.3', () => {
    close(run('task_arithmetic', { base: [1, 1], experts: [[2, 0], [1, 3]] }), [1.3, 1.3]);
    close(run('task_arithmetic', { base: [1, 1], experts: [[2, 0], [1, 3]], weights: [2, 1], params: { lambda: 1 } }), [3, 1]);
    close(run('task_arithmetic', { base: [1, 1], experts: [[2, 0], [1, 3]], weights: [2, 1], params: { lambda: 1, normalize: true } }), [1 + 2 / 3, 1]);
  });
  it('matches the float64 reference on random data', () => {
    const { base, experts, baseV, expertV } = fixture(2, 400, 3);
    const w = [0.5, 1, 2];
    const want = refGta(baseV, taskVectors(baseV, expertV), w, { consensus: false, normalize: false, lambda: 0.7 });
    close(run('task_arithmetic', { base, experts, weights: w, params: { lambda: 0.7 } }), want);
  });
});

describe('ties', () => {
  // τ₁ = [3,−1,0.5,−4,2], τ₂ = [−2,2,0.1,1,−3], τ₃ = [1,0,0,−2,5], density 0.4 → k = 2 per expert:
  // trimmed τ̂₁ = [3,0,0,−4,0], τ̂₂ = [−2,0,0,0,−3] (|−2| = |2| tie → lower index), τ̂₃ = [0,0,0,−2,5].
  const base = [10, 10, 10, 10, 10];
  const taus = [[3, -1, 0.5, -4, 2], [-2, 2, 0.1, 1, -3], [1, 0, 0, -2, 5]];
  const experts = taus.map((t) => t.map((x) => x + 10));

  it('trim keeps exactly k entries by magnitude, lower index first on ties', () => {
    expect(f64(magnitudeTrim(Float32Array.from(taus[0]), 0.4))).toEqual([3, 0, 0, -4, 0]);
    expect(f64(magnitudeTrim(Float32Array.from(taus[1]), 0.4))).toEqual([-2, 0, 0, 0, -3]);
    expect(f64(magnitudeTrim(Float32Array.from(taus[2]), 0.4))).toEqual([0, 0, 0, -2, 5]);
    // k = max(1, ⌊0.1·5⌋) = 1: one entry survives even when density·n < 1
    expect(f64(magnitudeTrim(Float32Array.from(taus[0]), 0.1))).toEqual([0, 0, 0, -4, 0]);
  });

  it('hand case: elect by mass (sum 0 → +), disjoint mean of agreeing entries', () => {
    // Σ = [1,0,0,−6,2] → signs [+,+,+,−,+]; entry 3: (−4−2)/2 = −3; entry 4: only τ̂₃ agrees → 5.
    close(run('ties', { base, experts, params: { density: 0.4 } }), [13, 10, 10, 7, 15]);
    // weights [1,1,2], λ = 0.5: weighted Σ = [1,0,0,−8,7]; entry 3: (−4−4)/(1+2); entry 4: 10/2
    close(run('ties', { base, experts, weights: [1, 1, 2], params: { density: 0.4, lambda: 0.5 } }), [11.5, 10, 10, 10 - 4 / 3, 12.5]);
    // an exact tie of the weighted sum elects +: only the positive entry survives
    close(run('ties', { base: [0], experts: [[2], [-2]], params: { density: 1 } }), [2]);
    // normalize=false: disjoint sum
    close(run('ties', { base, experts, params: { density: 0.4, normalize: false } }), [13, 10, 10, 4, 15]);
  });

  it('matches the float64 reference on random data (several densities and weights)', () => {
    const { base, experts, baseV, expertV } = fixture(3, 777, 3);
    for (const [density, w] of [[0.2, [1, 1, 1]], [0.5, [0.3, 1, 2]], [1, [1, 2, 3]]] as const) {
      const trimmed = taskVectors(baseV, expertV).map((t) => refTopK(t, density));
      const want = refGta(baseV, trimmed, [...w], { consensus: true, normalize: true, lambda: 1 });
      close(run('ties', { base, experts, weights: [...w], params: { density } }), want);
    }
  });
});

describe('dare / dare_ties', () => {
  it('hand case with a fixed random stream: keep iff u < density, then rescale', () => {
    const tau = Float32Array.from([1, 2, 3, 4]);
    const seq = () => {
      const u = [0.05, 0.5, 0.2, 0.01];
      let i = 0;
      return () => u[i++];
    };
    expect(f64(randomDrop(tau, 0.1, seq(), 'inverse'))).toEqual([10, 0, 0, 40].map((x) => Math.fround(x)));
    expect(f64(randomDrop(tau, 0.1, seq(), 'l1'))).toEqual([2, 0, 0, 8]); // ‖τ‖₁/‖τ̃‖₁ = 10/5
    expect(f64(randomDrop(tau, 0.1, seq(), 'none'))).toEqual([1, 0, 0, 4]);
    // through the method: θ₀ + λ·Σ τ̃
    close(run('dare', { base: [1, 1, 1, 1], experts: [[2, 3, 4, 5]], random: seq(), params: { lambda: 0.5 } }), [6, 1, 1, 21]);
  });

  it('density = 1 is task arithmetic with λ', () => {
    const { base, experts, baseV, expertV } = fixture(4, 300, 2);
    const want = refGta(baseV, taskVectors(baseV, expertV), [1, 2], { consensus: false, normalize: false, lambda: 0.8 });
    close(run('dare', { base, experts, weights: [1, 2], params: { density: 1, lambda: 0.8 } }), want);
  });

  it('dare and dare_ties match a float64 reference given the same masks', () => {
    const { base, experts, baseV, expertV } = fixture(5, 600, 3);
    const density = 0.3;
    // Reproduce the masks independently: same stream, consumed expert by expert in flat order.
    const rnd = tensorRandom(7, 'layer.w');
    const masked = taskVectors(baseV, expertV).map((t) => t.map((x) => (rnd() < density ? x / density : 0)));
    const w = [1, 0.5, 2];
    close(run('dare', { base, experts, weights: w, seed: 7, name: 'layer.w', params: { density } }), refGta(baseV, masked, w, { consensus: false, normalize: false, lambda: 1 }), 1e-4);
    close(
      run('dare_ties', { base, experts, weights: w, seed: 7, name: 'layer.w', params: { density, normalize: true } }),
      refGta(baseV, masked, w, { consensus: true, normalize: true, lambda: 1 }),
      1e-4,
    );
  });

  it('statistics: kept fraction ≈ density within a binomial bound, mean preserved, L1 rule exact', () => {
    const n = 50_000;
    const rng = testRng(11);
    const tau = randn(rng, n).map((x) => x + 0.5);
    for (const density of [0.1, 0.5]) {
      const out = randomDrop(tau, density, tensorRandom(0, 'stats'), 'inverse');
      let kept = 0;
      let sumIn = 0;
      let sumOut = 0;
      let sq = 0;
      for (let i = 0; i < n; i++) {
        if (out[i] !== 0) kept++;
        sumIn += tau[i];
        sumOut += out[i];
        sq += tau[i] * tau[i];
      }
      const sd = Math.sqrt((density * (1 - density)) / n);
      expect(Math.abs(kept / n - density)).toBeLessThan(4 * sd);
      // E[τ̃] = τ; Var(Σ τ̃) = Σ τ²·(1−d)/d
      expect(Math.abs(sumOut - sumIn)).toBeLessThan(4 * Math.sqrt((sq * (1 - density)) / density));
      const l1 = randomDrop(tau, density, tensorRandom(0, 'stats'), 'l1');
      let a = 0;
      let b = 0;
      for (let i = 0; i < n; i++) {
        a += Math.abs(tau[i]);
        b += Math.abs(l1[i]);
      }
      expect(Math.abs(a - b) / a).toBeLessThan(1e-5);
    }
  });

  it('same seed → identical output; different seed or tensor name → different', () => {
    const { base, experts } = fixture(6, 2000, 2);
    const a = run('dare', { base, experts, seed: 1, name: 'w' });
    const b = run('dare', { base, experts, seed: 1, name: 'w' });
    const c = run('dare', { base, experts, seed: 2, name: 'w' });
    const d = run('dare', { base, experts, seed: 1, name: 'w2' });
    expect(f64(a)).toEqual(f64(b));
    expect(maxAbsDiff(a, c)).toBeGreaterThan(0);
    expect(maxAbsDiff(a, d)).toBeGreaterThan(0);
  });
});

describe('slerp', () => {
  it('hand case: orthogonal unit vectors at t = 0.5, norms interpolated', () => {
    const h = Math.SQRT1_2;
    close(run('slerp', { experts: [[1, 0], [0, 1]] }), [h, h]);
    close(run('slerp', { experts: [[2, 0], [0, 1]], params: { t: 0.5 } }), [2 * h, h]);
    // base + one expert: t = 0 gives the base (mergekit convention)
    close(run('slerp', { base: [3, 4], experts: [[0, 1]], params: { t: 0 } }), [3, 4]);
  });
  it('endpoints: t = 0 → first model, t = 1 → second', () => {
    const { experts } = fixture(7, 256, 2);
    close(run('slerp', { experts, params: { t: 0 } }), experts[0]);
    close(run('slerp', { experts, params: { t: 1 } }), experts[1]);
  });
  it('nearly collinear tensors fall back to lerp (also anti-parallel)', () => {
    const a = [1, 2, 3];
    const b = [2, 4, 6.0001];
    close(run('slerp', { experts: [a, b], params: { t: 0.25 } }), a.map((x, i) => 0.75 * x + 0.25 * b[i]));
    close(run('slerp', { experts: [a, a.map((x) => -x)], params: { t: 0.25 } }), a.map((x) => 0.5 * x));
  });
  it('matches the float64 reference on random data', () => {
    const { experts, expertV } = fixture(8, 300, 2);
    close(run('slerp', { experts, params: { t: 0.3 } }), refSlerp(0.3, expertV[0], expertV[1]));
  });
});

describe('tsv', () => {
  it('hand case: tasks in orthogonal subspaces keep their own singular triplets', () => {
    // τ₁ = 3·e₁e₁ᵀ, τ₂ = 2·e₂e₂ᵀ, k = ⌊2/2⌋ = 1 each, concatenated U, V already orthonormal
    close(run('tsv', { base: [1, 1, 1, 1], experts: [[4, 1, 1, 1], [1, 1, 1, 3]], shape: [2, 2] }), [4, 1, 1, 3]);
    close(run('tsv', { base: [0, 0, 0, 0], experts: [[3, 0, 0, 0], [0, 0, 0, 2]], shape: [2, 2], params: { alpha: 0.5 } }), [1.5, 0, 0, 1]);
  });
  it('one expert reproduces it (k = r, Procrustes of an orthonormal U is U)', () => {
    const { base, experts } = fixture(9, 12 * 7, 1);
    close(run('tsv', { base, experts, shape: [12, 7] }), experts[0], 1e-5);
  });
  it('matches an ml-matrix SVD reference on random matrices (tall, wide, 3 experts, weights)', () => {
    for (const [m, n, N] of [[9, 6, 2], [5, 11, 3], [8, 8, 2]] as const) {
      const { base, experts, baseV, expertV } = fixture(10 + m, m * n, N);
      const w = Array.from({ length: N }, (_, i) => 1 + i * 0.5);
      const taus = taskVectors(baseV, expertV).map((t, i) => t.map((x) => w[i] * x));
      const delta = refTsvDelta(taus, m, n);
      close(run('tsv', { base, experts, weights: w, shape: [m, n] }), baseV.map((b, j) => b + delta[j]), 1e-5);
    }
  });
  it('1-D and ≥3-D tensors: mean task vector, and 2-D view (rows = first dim)', () => {
    close(run('tsv', { base: [1, 1], experts: [[3, 5], [1, 1]] }), [2, 3]);
    const { base, experts, baseV, expertV } = fixture(20, 4 * 3 * 2, 2);
    const delta = refTsvDelta(taskVectors(baseV, expertV), 4, 6);
    close(run('tsv', { base, experts, shape: [4, 3, 2] }), baseV.map((b, j) => b + delta[j]), 1e-5);
  });
});

describe('iso_c', () => {
  it('hand case: spectrum of Σ τᵢ flattened to its mean', () => {
    // Σ τ = diag(3, 1) → σ̄ = 2, UVᵀ = I
    close(run('iso_c', { base: [0, 0, 0, 0], experts: [[2, 0, 0, 1], [1, 0, 0, 0]], shape: [2, 2] }), [2, 0, 0, 2]);
    close(run('iso_c', { base: [1, 1, 1, 1], experts: [[3, 1, 1, 2], [2, 1, 1, 1]], shape: [2, 2], params: { alpha: 0.5 } }), [2, 1, 1, 2]);
    close(run('iso_c', { base: [1, 1], experts: [[3, 5], [1, 1]] }), [2, 3]); // 1-D: mean τ
  });
  it('matches an ml-matrix SVD reference, and the merged delta is isotropic', () => {
    for (const [m, n] of [[10, 6], [5, 12]] as const) {
      const { base, experts, baseV, expertV } = fixture(30 + m, m * n, 2);
      const w = [1, 0.7];
      const delta = refIsoDelta(taskVectors(baseV, expertV), w, m, n);
      const out = run('iso_c', { base, experts, weights: w, shape: [m, n], params: { alpha: 1.3 } });
      close(out, baseV.map((b, j) => b + 1.3 * delta[j]), 1e-5);
      const sv = singularValues(f64(out).map((x, j) => x - baseV[j]), m, n);
      const spread = Math.max(...sv) - Math.min(...sv);
      expect(spread / Math.max(...sv)).toBeLessThan(1e-4);
      // and σ̄ equals α × the mean singular value of Σ wᵢτᵢ
      const svSum = singularValues(taskVectors(baseV, expertV)[0].map((x, j) => x + 0.7 * taskVectors(baseV, expertV)[1][j]), m, n);
      expect(sv[0]).toBeCloseTo((1.3 * svSum.reduce((a, b) => a + b, 0)) / svSum.length, 4);
    }
  });
});
