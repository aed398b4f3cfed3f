import { EVD, Matrix, SVD } from 'ml-matrix';
import { gaussianRng } from '../../../src/numerics/linalg/panel.js';

/** Random orthonormal n×n basis as a panel (Gram–Schmidt on Gaussian vectors). */
export function randomOrthonormal(n: number, seed: number): Float64Array {
  const g = gaussianRng(seed);
  const Q = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    const off = j * n;
    for (let i = 0; i < n; i++) Q[off + i] = g();
    for (let pass = 0; pass < 2; pass++) {
      for (let q = 0; q < j; q++) {
        let c = 0;
        for (let i = 0; i < n; i++) c += Q[q * n + i] * Q[off + i];
        for (let i = 0; i < n; i++) Q[off + i] -= c * Q[q * n + i];
      }
    }
    let s = 0;
    for (let i = 0; i < n; i++) s += Q[off + i] ** 2;
    for (let i = 0; i < n; i++) Q[off + i] /= Math.sqrt(s);
  }
  return Q;
}

/** Symmetric A = Q·diag(λ)·Qᵀ (row-major) with a known spectrum. */
export function withSpectrum(lambda: ArrayLike<number>, seed: number): Float64Array {
  const n = lambda.length;
  const Q = randomOrthonormal(n, seed);
  const A = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const l = lambda[k];
    for (let i = 0; i < n; i++) {
      const a = l * Q[k * n + i];
      for (let j = 0; j < n; j++) A[i * n + j] += a * Q[k * n + j];
    }
  }
  // Exact symmetry (the sums above differ in rounding between triangles).
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) A[j * n + i] = A[i * n + j];
  return A;
}

/** Random symmetric matrix with Gaussian entries. */
export function randomSymmetric(n: number, seed: number): Float64Array {
  const g = gaussianRng(seed);
  const A = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) { const v = g(); A[i * n + j] = v; A[j * n + i] = v; }
  return A;
}

export function toRows(A: ArrayLike<number>, m: number, n: number): number[][] {
  return Array.from({ length: m }, (_, i) => Array.from({ length: n }, (_, j) => A[i * n + j]));
}

/** ml-matrix reference eigenvalues, descending. */
export function referenceEigenvalues(A: Float64Array, n: number): number[] {
  return [...new EVD(new Matrix(toRows(A, n, n)), { assumeSymmetric: true }).realEigenvalues].sort((a, b) => b - a);
}

/** ml-matrix reference SVD: σ descending with U, V as panels. */
export function referenceSvd(A: ArrayLike<number>, m: number, n: number): { sigma: number[]; U: Float64Array; V: Float64Array } {
  const svd = new SVD(new Matrix(toRows(A, m, n)), { autoTranspose: true });
  const r = Math.min(m, n);
  const U = new Float64Array(r * m), V = new Float64Array(r * n);
  for (let j = 0; j < r; j++) {
    for (let i = 0; i < m; i++) U[j * m + i] = svd.leftSingularVectors.get(i, j);
    for (let i = 0; i < n; i++) V[j * n + i] = svd.rightSingularVectors.get(i, j);
  }
  return { sigma: svd.diagonal.slice(0, r), U, V };
}

/** max |⟨P_a, P_b⟩ − δ_ab| over a panel of count vectors of length len. */
export function orthogonalityError(P: Float64Array, count: number, len: number): number {
  let worst = 0;
  for (let a = 0; a < count; a++) {
    for (let b = a; b < count; b++) {
      let s = 0;
      for (let i = 0; i < len; i++) s += P[a * len + i] * P[b * len + i];
      worst = Math.max(worst, Math.abs(s - (a === b ? 1 : 0)));
    }
  }
  return worst;
}

/** |⟨P_a, Q_b⟩| for panel vectors a of P and b of Q. */
export function absInner(P: Float64Array, a: number, Q: Float64Array, b: number, len: number): number {
  let s = 0;
  for (let i = 0; i < len; i++) s += P[a * len + i] * Q[b * len + i];
  return Math.abs(s);
}
