import { describe, expect, it } from 'vitest';
import { gramSvd, REORTH_BELOW } from '../../../src/numerics/linalg/gram-svd.js';
import { gaussianRng } from '../../../src/numerics/linalg/panel.js';
import { absInner, orthogonalityError, randomOrthonormal, referenceSvd } from './helpers.js';

/** m×n row-major A = Σ σ_k u_k v_kᵀ with random orthonormal u, v and the given σ. */
function planted(m: number, n: number, sigma: number[], seed: number): Float64Array {
  const U = randomOrthonormal(m, seed), V = randomOrthonormal(n, seed + 1);
  const A = new Float64Array(m * n);
  sigma.forEach((s, k) => {
    for (let i = 0; i < m; i++) {
      const a = s * U[k * m + i];
      for (let j = 0; j < n; j++) A[i * n + j] += a * V[k * n + j];
    }
  });
  return A;
}

function reconstructionError(A: ArrayLike<number>, m: number, n: number, r: ReturnType<typeof gramSvd>): number {
  let worst = 0, scale = 0;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      r.indices.forEach((src, k) => (s += r.U[k * m + i] * r.sigma[src] * r.V[k * n + j]));
      worst = Math.max(worst, Math.abs(s - A[i * n + j]));
      scale = Math.max(scale, Math.abs(A[i * n + j]));
    }
  }
  return worst / scale;
}

describe('gramSvd', () => {
  it.each([
    [30, 12],
    [12, 30],
    [25, 25],
  ])('%i×%i with a separated spectrum: σ, singular subspaces and reconstruction vs ml-matrix SVD', (m, n) => {
    const d = Math.min(m, n);
    const sigma = Array.from({ length: d }, (_, i) => 2 ** (-i / 3)); // σ_d/σ₁ ≈ 0.06, gaps ≥ 20%
    const A = planted(m, n, sigma, 100 + m);
    const r = gramSvd(A, m, n);
    const ref = referenceSvd(A, m, n);
    expect(r.count).toBe(d);
    for (let i = 0; i < d; i++) {
      expect(Math.abs(r.sigma[i] - ref.sigma[i])).toBeLessThan(1e-12 * ref.sigma[0]);
      expect(Math.abs(r.sigma[i] - sigma[i])).toBeLessThan(1e-12);
      // Same singular vectors up to sign: |u_iᵀ u_ref,i| = 1.
      expect(absInner(r.U, i, ref.U, i, m)).toBeGreaterThan(1 - 1e-9);
      expect(absInner(r.V, i, ref.V, i, n)).toBeGreaterThan(1 - 1e-9);
    }
    expect(orthogonalityError(r.U, d, m)).toBeLessThan(1e-10);
    expect(orthogonalityError(r.V, d, n)).toBeLessThan(1e-10);
    expect(reconstructionError(A, m, n, r)).toBeLessThan(1e-12);
  });

  it('random Gaussian float32 matrix (the tensors it is used on): σ within 1e-12·σ₁ of ml-matrix, A = UΣVᵀ', () => {
    const [m, n] = [40, 64];
    const g = gaussianRng(5);
    const A = Float32Array.from({ length: m * n }, g);
    const r = gramSvd(A, m, n);
    const ref = referenceSvd(A, m, n);
    for (let i = 0; i < m; i++) expect(Math.abs(r.sigma[i] - ref.sigma[i])).toBeLessThan(1e-12 * ref.sigma[0]);
    expect(reconstructionError(A, m, n, r)).toBeLessThan(1e-12);
    expect(orthogonalityError(r.U, m, m)).toBeLessThan(1e-10);
    expect(orthogonalityError(r.V, m, n)).toBeLessThan(1e-10);
  });

  it('rank-deficient: zero σ at the Gram noise floor; selecting the top-k gives exactly k vectors', () => {
    const [m, n] = [20, 35];
    const A = planted(m, n, [5, 4, 3, 2, 1], 9);
    const r = gramSvd(A, m, n, () => [0, 1, 2]);
    expect(r.indices).toEqual([0, 1, 2]);
    expect(Array.from(r.sigma.slice(0, 5))).toEqual([5, 4, 3, 2, 1].map((s, i) => expect.closeTo(s, 12) && r.sigma[i]));
    for (let i = 0; i < 5; i++) expect(r.sigma[i]).toBeCloseTo(5 - i, 12);
    // Noise floor of the squared problem: √(ε·σ₁²·d) ≈ 1e-7·σ₁.
    for (let i = 5; i < m; i++) expect(r.sigma[i]).toBeLessThan(1e-6);
    const ref = referenceSvd(A, m, n);
    for (let k = 0; k < 3; k++) expect(absInner(r.V, k, ref.V, k, n)).toBeGreaterThan(1 - 1e-10);
  });

  it(`vectors for σ < ${REORTH_BELOW}·σ₁ are re-orthonormalised; σ itself stays accurate to ≈ ε·σ₁²/σ`, () => {
    const [m, n] = [60, 16];
    const sigma = Array.from({ length: n }, (_, i) => (i < 8 ? 1 - i * 0.05 : 10 ** (-4 - (i - 8) * 0.25)));
    const A = planted(m, n, sigma, 21);
    const r = gramSvd(A, m, n);
    expect(orthogonalityError(r.U, n, m)).toBeLessThan(1e-10);
    expect(orthogonalityError(r.V, n, n)).toBeLessThan(1e-10);
    for (let i = 0; i < n; i++) expect(Math.abs(r.sigma[i] - sigma[i])).toBeLessThan((1e-14 * 16) / sigma[i]);
    // The well-conditioned part is the exact singular subspace.
    const ref = referenceSvd(A, m, n);
    for (let k = 0; k < 8; k++) expect(absInner(r.U, k, ref.U, k, m)).toBeGreaterThan(1 - 1e-10);
  });

  it('zero matrix: all σ = 0 and no vectors', () => {
    const r = gramSvd(new Float64Array(12), 3, 4);
    expect(Array.from(r.sigma)).toEqual([0, 0, 0]);
    expect(r.count).toBe(0);
  });
});
