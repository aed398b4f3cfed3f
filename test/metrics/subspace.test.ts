import { describe, expect, it } from 'vitest';
import { Matrix, SVD } from 'ml-matrix';
import { exactSvd, randomizedSvd } from '../../src/numerics/linalg/rsvd.js';
import { DEFAULT_SUBSPACE, loraSpectralFactors, spectralFactors, subspacePair, SUBSPACE_METRICS } from '../../src/metrics/subspace.js';
import { denseDelta, randomDelta, rng } from './helpers.js';

/** Reference: full SVD (ml-matrix) of a row-major m×n matrix; columns of U/V as arrays, σ descending. */
function fullSvd(A: ArrayLike<number>, m: number, n: number) {
  const rows = Array.from({ length: m }, (_, i) => Array.from({ length: n }, (_, c) => A[i * n + c]));
  const svd = new SVD(new Matrix(rows), { autoTranspose: true });
  const d = Math.min(m, n);
  const order = svd.diagonal.map((_, i) => i).sort((a, b) => svd.diagonal[b] - svd.diagonal[a]).slice(0, d);
  return {
    sigma: order.map((i) => svd.diagonal[i]),
    U: order.map((i) => svd.leftSingularVectors.getColumn(i)),
    V: order.map((i) => svd.rightSingularVectors.getColumn(i)),
  };
}

const dot = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * b[i], 0);
/** ‖XᵀY‖²_F / k for lists of k unit vectors. */
const overlap = (X: number[][], Y: number[][]) => X.reduce((s, x) => s + Y.reduce((t, y) => t + dot(x, y) ** 2, 0), 0) / X.length;
const interaction = (X: number[][], sx: number[], Y: number[][], sy: number[]) => {
  let num = 0;
  X.forEach((x, a) => Y.forEach((y, b) => (num += sx[a] ** 2 * sy[b] ** 2 * dot(x, y) ** 2)));
  return num / Math.sqrt(sx.reduce((s, v) => s + v ** 4, 0) * sy.reduce((s, v) => s + v ** 4, 0));
};
const cosine = (a: number[], b: number[]) => {
  const L = Math.max(a.length, b.length);
  const pa = Array.from({ length: L }, (_, i) => a[i] ?? 0);
  const pb = Array.from({ length: L }, (_, i) => b[i] ?? 0);
  return dot(pa, pb) / Math.sqrt(dot(pa, pa) * dot(pb, pb));
};

function referencePair(A: ArrayLike<number>, B: ArrayLike<number>, m: number, n: number, k: number, spectrumK: number) {
  const a = fullSvd(A, m, n);
  const b = fullSvd(B, m, n);
  const kk = Math.min(k, m, n);
  return {
    sv_overlap: cosine(a.sigma.slice(0, spectrumK), b.sigma.slice(0, spectrumK)),
    left_subspace_overlap: overlap(a.U.slice(0, kk), b.U.slice(0, kk)),
    right_subspace_overlap_top: overlap(a.V.slice(0, kk), b.V.slice(0, kk)),
    right_subspace_overlap_bottom: overlap(a.V.slice(-kk), b.V.slice(-kk)),
    interaction_overlap_top: interaction(a.V.slice(0, kk), a.sigma.slice(0, kk), b.V.slice(0, kk), b.sigma.slice(0, kk)),
    interaction_overlap_bottom: interaction(a.V.slice(-kk), a.sigma.slice(-kk), b.V.slice(-kk), b.sigma.slice(-kk)),
  };
}

/** A matrix with correlated structure between the two experts so overlaps are not all ~k/n. */
function pairOfMatrices(m: number, n: number, seed: number): [Float32Array, Float32Array] {
  const r = rng(seed);
  const shared = Float64Array.from({ length: m * n }, r);
  const A = Float32Array.from(shared, (v) => v + 0.7 * r());
  const B = Float32Array.from(shared, (v) => v + 0.7 * r());
  return [A, B];
}

describe('subspace metrics against the full SVD (exact path)', () => {
  for (const [m, n] of [[30, 20], [20, 30], [25, 25]]) {
    it(`${m}×${n}: every overlap equals the ml-matrix reference`, () => {
      const [A, B] = pairOfMatrices(m, n, m * 100 + n);
      const opts = { ...DEFAULT_SUBSPACE, k: 5, spectrumK: 12 };
      const got = subspacePair(spectralFactors(A, m, n, opts), spectralFactors(B, m, n, opts));
      const ref = referencePair(A, B, m, n, 5, 12);
      for (const id of SUBSPACE_METRICS) {
        expect(got[id], id).not.toBeNull();
        expect(got[id]!, id).toBeCloseTo(ref[id], 8);
        expect(got[id]!).toBeGreaterThanOrEqual(0);
        expect(got[id]!).toBeLessThanOrEqual(1 + 1e-12);
      }
    });
  }

  it('identical Δ → every overlap 1', () => {
    const [A] = pairOfMatrices(20, 15, 3);
    const f = spectralFactors(A, 20, 15, DEFAULT_SUBSPACE);
    const v = subspacePair(f, f);
    for (const id of SUBSPACE_METRICS) expect(v[id]!).toBeCloseTo(1, 10);
  });

  it('Δ living in orthogonal row/column blocks → overlaps 0', () => {
    const m = 8, n = 6;
    const A = new Float32Array(m * n);
    const B = new Float32Array(m * n);
    const r = rng(9);
    for (let i = 0; i < 4; i++) for (let c = 0; c < 3; c++) A[i * n + c] = r();
    for (let i = 4; i < 8; i++) for (let c = 3; c < 6; c++) B[i * n + c] = r();
    const opts = { ...DEFAULT_SUBSPACE, k: 3 };
    const v = subspacePair(spectralFactors(A, m, n, opts), spectralFactors(B, m, n, opts));
    expect(v.left_subspace_overlap).toBeCloseTo(0, 12);
    expect(v.right_subspace_overlap_top).toBeCloseTo(0, 12);
    expect(v.interaction_overlap_top).toBeCloseTo(0, 12);
  });
});

describe('randomised SVD accuracy', () => {
  /** A = Σ σᵢ uᵢvᵢᵀ with σᵢ = 0.7^i and random orthonormal u, v (QR of Gaussian via ml-matrix SVD). */
  function decaying(m: number, n: number, seed: number): Float32Array {
    const r = rng(seed);
    const G1 = fullSvd(Float64Array.from({ length: m * m }, r), m, m).U;
    const G2 = fullSvd(Float64Array.from({ length: n * n }, r), n, n).U;
    const A = new Float32Array(m * n);
    for (let q = 0; q < Math.min(m, n); q++) {
      const s = 0.7 ** q;
      for (let i = 0; i < m; i++) for (let c = 0; c < n; c++) A[i * n + c] += s * G1[q][i] * G2[q][c];
    }
    return A;
  }

  it('top-10 singular values within 1e-5 relative and subspaces within 1e-6 of the full SVD (p=10, q=2)', () => {
    const m = 120, n = 90;
    const A = decaying(m, n, 4);
    const ref = fullSvd(A, m, n);
    const r = randomizedSvd(A, m, n, 10, { oversample: 10, powerIterations: 2 });
    for (let i = 0; i < 10; i++) expect(Math.abs(r.sigma[i] - ref.sigma[i]) / ref.sigma[i]).toBeLessThan(1e-5);
    const U = Array.from({ length: 10 }, (_, k) => Array.from(r.U.subarray(k * m, (k + 1) * m)));
    const V = Array.from({ length: 10 }, (_, k) => Array.from(r.V.subarray(k * n, (k + 1) * n)));
    expect(overlap(U, ref.U.slice(0, 10))).toBeGreaterThan(1 - 1e-6);
    expect(overlap(V, ref.V.slice(0, 10))).toBeGreaterThan(1 - 1e-6);
  });

  it('randomised-path overlaps agree with the exact path within 1e-4 on decaying spectra', () => {
    const m = 100, n = 80;
    const A = decaying(m, n, 5);
    const B = Float32Array.from(decaying(m, n, 6), (v, i) => v + 0.5 * A[i]);
    const exact = { ...DEFAULT_SUBSPACE, k: 5, spectrumK: 20 };
    const rand = { ...exact, exactMaxDim: 10, bottomMaxDim: 10 };
    const e = subspacePair(spectralFactors(A, m, n, exact), spectralFactors(B, m, n, exact));
    const fa = spectralFactors(A, m, n, rand);
    expect(fa.method).toBe('randomized');
    const r = subspacePair(fa, spectralFactors(B, m, n, rand));
    for (const id of ['sv_overlap', 'left_subspace_overlap', 'right_subspace_overlap_top', 'interaction_overlap_top'] as const) {
      expect(Math.abs(r[id]! - e[id]!), id).toBeLessThan(1e-4);
    }
    // bottom-k needs the exact SVD: null on the randomised path
    expect(r.right_subspace_overlap_bottom).toBeNull();
  });

  it('exactSvd singular values equal the full SVD', () => {
    const [A] = pairOfMatrices(40, 25, 11);
    const r = exactSvd(A, 40, 25, () => []);
    const ref = fullSvd(A, 40, 25);
    ref.sigma.forEach((s, i) => expect(r.sigma[i]).toBeCloseTo(s, 9));
    expect(r.rank).toBe(25);
  });
});

describe('LoRA factored subspace metrics', () => {
  it('equal the dense ΔW metrics (r = 4 < k, and r = 12 > k)', () => {
    for (const [r1, r2] of [[4, 4], [12, 12], [6, 12]]) {
      const m = 40, n = 30;
      const d1 = randomDelta(m, n, r1, 21 + r1);
      const d2 = randomDelta(m, n, r2, 37 + r2);
      const opts = { ...DEFAULT_SUBSPACE, k: 8, spectrumK: 20 };
      const lora = subspacePair(loraSpectralFactors(d1, opts), loraSpectralFactors(d2, opts));
      const dense = subspacePair(
        spectralFactors(Float64Array.from(denseDelta(d1)), m, n, opts),
        spectralFactors(Float64Array.from(denseDelta(d2)), m, n, opts),
      );
      for (const id of SUBSPACE_METRICS) {
        expect(lora[id], `${id} r=${r1},${r2}`).not.toBeNull();
        expect(lora[id]!, `${id} r=${r1},${r2}`).toBeCloseTo(dense[id]!, 6);
      }
      // numerical rank of the dense path found the LoRA rank
      expect(spectralFactors(Float64Array.from(denseDelta(d1)), m, n, opts).rank).toBe(r1);
    }
  });
});
