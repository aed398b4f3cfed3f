/**
 * The native eigensolver (src/native/eigen.c) against symmetric-eigen.ts's JavaScript solver:
 * the same eigenvalues and eigenvectors to the last bit, on spectra that exercise every branch
 * (random, low rank with an exactly-zero block, repeated and clustered eigenvalues, diagonal,
 * all zeros, entries over many binades) and on sizes around the four-row blocks (n mod 4 = 0…3,
 * a block cut short by the active size). symmetric-eigen.test.ts checks the results themselves
 * (AV = VΛ, VᵀV = I, ml-matrix's eigenvalues) on whichever solver the machine runs. Skipped
 * where the native kernels are not built.
 */
import { describe, expect, it } from 'vitest';
import { nativeKernels } from '../../../src/native/load.js';
import { symmetricEigen } from '../../../src/numerics/linalg/symmetric-eigen.js';
import { randomSymmetric, withSpectrum } from './helpers.js';
import { mulberry32 } from '../../../src/util/mulberry32.js';

const native = nativeKernels();

/** Index of the first element whose bits differ (−1: identical); toEqual on 0.5 MB of bytes takes seconds. */
function firstDifference(a: Float64Array, b: Float64Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  const x = new BigUint64Array(a.buffer, a.byteOffset, a.length), y = new BigUint64Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return i;
  return -1;
}

/** Rank-r Gram matrix X·Xᵀ of n random r-vectors: n − r eigenvalues at the rounding floor. */
function lowRank(n: number, r: number, seed: number): Float64Array {
  const rng = mulberry32(seed);
  const X = Float64Array.from({ length: n * r }, () => rng() - 0.5);
  const A = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = 0; k < r; k++) s += X[i * r + k] * X[j * r + k];
      A[i * n + j] = A[j * n + i] = s;
    }
  }
  return A;
}

/** Random symmetric entries scaled by 2^(−20…20) per row and column: every binade in one matrix. */
function graded(n: number, seed: number): Float64Array {
  const A = randomSymmetric(n, seed);
  const rng = mulberry32(seed + 1);
  const scale = Float64Array.from({ length: n }, () => 2 ** Math.floor(rng() * 41 - 20));
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) A[i * n + j] *= scale[i] * scale[j];
  return A;
}

const cases: [string, number, () => Float64Array][] = [];
for (const n of [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 31, 64, 65, 66, 67, 130]) cases.push([`random n=${n}`, n, () => randomSymmetric(n, 500 + n)]);
for (const n of [8, 33, 96]) cases.push([`rank ${n >> 3} of n=${n}`, n, () => lowRank(n, n >> 3, n)]);
cases.push(['repeated eigenvalues (1, 1, 1, 2, 2, 5, …)', 24, () => withSpectrum(Array.from({ length: 24 }, (_, i) => [1, 1, 1, 2, 2, 5][i % 6]), 9)]);
cases.push(['clustered within 1e-13', 20, () => withSpectrum(Array.from({ length: 20 }, (_, i) => 1 + (i % 4) * 1e-13 + Math.floor(i / 4)), 10)]);
cases.push(['diagonal with zeros', 15, () => Float64Array.from({ length: 225 }, (_, k) => (k % 16 === 0 ? (k / 16) % 3 : 0))]);
cases.push(['all zeros', 9, () => new Float64Array(81)]);
cases.push(['graded over 2^±20', 41, () => graded(41, 77)]);
cases.push(['rank 1 of n=257', 257, () => lowRank(257, 1, 3)]);

describe.skipIf(!native)('native symmetricEigen: the same bytes as the JavaScript solver', () => {
  it.each(cases)('%s', (_, n, make) => {
    const A = make();
    const js = symmetricEigen(A, n, { native: false });
    const c = symmetricEigen(A, n);
    expect(firstDifference(c.values, js.values)).toBe(-1);
    expect(firstDifference(c.vectors, js.vectors)).toBe(-1);
  });

  it('refuses arguments that are not Float64Arrays of n×n, n, n', () => {
    const k = native!;
    expect(() => k.symmetricEigen(new Float32Array(4) as unknown as Float64Array, new Float64Array(2), new Float64Array(2))).toThrow(/T, d and e must be Float64Arrays/);
    expect(() => k.symmetricEigen(new Float64Array(3), new Float64Array(2), new Float64Array(2))).toThrow(/T shorter than n×n/);
    expect(() => k.symmetricEigen(new Float64Array(4), new Float64Array(2), new Float64Array(1))).toThrow(/e shorter than n/);
  });
});
