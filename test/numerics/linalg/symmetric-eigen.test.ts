import { describe, expect, it } from 'vitest';
import { symmetricEigen } from '../../../src/numerics/linalg/symmetric-eigen.js';
import { orthogonalityError, randomSymmetric, referenceEigenvalues, withSpectrum } from './helpers.js';

/** max over j of ‖A·v_j − λ_j·v_j‖∞, relative to max |λ|. */
function residual(A: Float64Array, n: number, values: Float64Array, vectors: Float64Array): number {
  let worst = 0;
  for (let j = 0; j < n; j++) {
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += A[i * n + k] * vectors[j * n + k];
      worst = Math.max(worst, Math.abs(s - values[j] * vectors[j * n + i]));
    }
  }
  const scale = Math.max(...Array.from(values, Math.abs), Number.MIN_VALUE);
  return worst / scale;
}

function check(A: Float64Array, n: number) {
  const copy = A.slice();
  const { values, vectors } = symmetricEigen(A, n);
  expect(A).toEqual(copy); // input untouched
  for (let j = 1; j < n; j++) expect(values[j]).toBeLessThanOrEqual(values[j - 1]);
  expect(residual(A, n, values, vectors)).toBeLessThan(1e-10);
  expect(orthogonalityError(vectors, n, n)).toBeLessThan(1e-10);
  return { values, vectors };
}

describe('symmetricEigen (tred2 + tql2)', () => {
  it.each([1, 2, 3, 17, 64, 150])('random symmetric n = %i: eigenvalues match ml-matrix EVD, AV = VΛ, VᵀV = I', (n) => {
    const A = randomSymmetric(n, 1000 + n);
    const { values } = check(A, n);
    const ref = referenceEigenvalues(A, n);
    const scale = Math.max(...ref.map(Math.abs));
    for (let j = 0; j < n; j++) expect(Math.abs(values[j] - ref[j])).toBeLessThan(1e-12 * scale);
  });

  it('recovers a planted spectrum and its eigenvectors up to sign', () => {
    const n = 40;
    const lambda = Array.from({ length: n }, (_, i) => 10 - i * 0.37);
    const A = withSpectrum(lambda, 7);
    const { values } = check(A, n);
    for (let j = 0; j < n; j++) expect(values[j]).toBeCloseTo(lambda[j], 12);
  });

  it('diagonal matrix: eigenvalues are the sorted diagonal, eigenvectors unit vectors', () => {
    const d = [3, -1, 7, 0, 2.5];
    const n = d.length;
    const A = new Float64Array(n * n);
    d.forEach((v, i) => (A[i * n + i] = v));
    const { values, vectors } = check(A, n);
    expect(Array.from(values)).toEqual([7, 3, 2.5, 0, -1]);
    const src = [2, 0, 4, 3, 1]; // diagonal position of each sorted eigenvalue
    src.forEach((i, j) => expect(Math.abs(vectors[j * n + i])).toBeCloseTo(1, 14));
  });

  it('repeated eigenvalues: values exact, eigenvectors an orthonormal basis of the eigenspace', () => {
    const n = 30;
    const lambda = Array.from({ length: n }, (_, i) => (i < 10 ? 5 : i < 25 ? 2 : -1));
    const A = withSpectrum(lambda, 11);
    const { values } = check(A, n);
    for (let j = 0; j < n; j++) expect(Math.abs(values[j] - lambda[j])).toBeLessThan(1e-12 * 5);
  });

  it('rank-deficient PSD matrix: zero eigenvalues at round-off, residual and orthogonality still hold', () => {
    const n = 50;
    const lambda = Array.from({ length: n }, (_, i) => (i < 8 ? 8 - i : 0));
    const A = withSpectrum(lambda, 13);
    const { values } = check(A, n);
    for (let j = 0; j < 8; j++) expect(values[j]).toBeCloseTo(8 - j, 12);
    for (let j = 8; j < n; j++) expect(Math.abs(values[j])).toBeLessThan(1e-13 * 8);
  });

  it('2×2 by hand: [[2,1],[1,2]] → 3, 1 with (1,1)/√2, (1,−1)/√2', () => {
    const { values, vectors } = check(Float64Array.from([2, 1, 1, 2]), 2);
    expect(values[0]).toBeCloseTo(3, 14);
    expect(values[1]).toBeCloseTo(1, 14);
    expect(Math.abs(vectors[0])).toBeCloseTo(Math.SQRT1_2, 14);
    expect(vectors[0] * vectors[1]).toBeGreaterThan(0);
    expect(vectors[2] * vectors[3]).toBeLessThan(0);
  });

  it('zero matrix and empty input', () => {
    const { values } = check(new Float64Array(16), 4);
    expect(Array.from(values)).toEqual([0, 0, 0, 0]);
    expect(symmetricEigen(new Float64Array(0), 0).values.length).toBe(0);
  });

  it('non-finite input is an error, not silent NaN output', () => {
    const A = randomSymmetric(6, 3);
    A[7] = NaN;
    expect(() => symmetricEigen(A, 6)).toThrow(/non-finite entry at \(1, 1\)/);
  });
});
