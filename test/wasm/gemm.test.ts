import { describe, expect, it } from 'vitest';
import { kernels } from '../../src/wasm/kernels.js';
import { KernelPool } from '../../src/wasm/pool.js';
import { mulPanel, mulTPanel, orthonormalise, panelCross, panelGram } from '../../src/numerics/linalg/panel.js';
import { rng } from '../metrics/helpers.js';

/** Float64 reference products (plain loops). */
function refPanel(A: ArrayLike<number>, m: number, n: number, X: Float64Array, count: number): Float64Array {
  const Y = new Float64Array(count * m);
  for (let j = 0; j < count; j++) for (let i = 0; i < m; i++) {
    let s = 0;
    for (let c = 0; c < n; c++) s += A[i * n + c] * X[j * n + c];
    Y[j * m + i] = s;
  }
  return Y;
}
function refTPanel(A: ArrayLike<number>, m: number, n: number, Q: Float64Array, count: number): Float64Array {
  const Z = new Float64Array(count * n);
  for (let j = 0; j < count; j++) for (let c = 0; c < n; c++) {
    let s = 0;
    for (let i = 0; i < m; i++) s += A[i * n + c] * Q[j * m + i];
    Z[j * n + c] = s;
  }
  return Z;
}
const close = (a: Float64Array, b: Float64Array, tol: number) => {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / (1 + Math.abs(b[i])));
  expect(worst).toBeLessThan(tol);
};

describe('panel products (WebAssembly) against float64 loops', () => {
  const r = rng(5);
  // odd sizes exercise every tail: rows, columns not a multiple of 4, vector counts not a multiple of 4
  for (const [m, n, count] of [[7, 5, 3], [33, 130, 6], [64, 64, 4], [129, 257, 11], [1, 9, 1]]) {
    it(`${m}×${n}, ${count} vectors, float32 and float64 A`, () => {
      const A32 = Float32Array.from({ length: m * n }, r);
      const A64 = Float64Array.from({ length: m * n }, r);
      const X = Float64Array.from({ length: count * n }, r);
      const Q = Float64Array.from({ length: count * m }, r);
      for (const A of [A32, A64]) {
        close(mulPanel(A, m, n, X, count), refPanel(A, m, n, X, count), 1e-13);
        close(mulTPanel(A, m, n, Q, count), refTPanel(A, m, n, Q, count), 1e-13);
      }
    });
  }

  it('panelGram / panelCross are the panel products of the vectors', () => {
    const P = Float64Array.from({ length: 5 * 40 }, r);
    const Q = Float64Array.from({ length: 3 * 40 }, r);
    const G = panelGram(P, 5, 40);
    const C = panelCross(P, 5, Q, 3, 40);
    const dot = (a: Float64Array, i: number, b: Float64Array, j: number) => Array.from({ length: 40 }, (_, e) => a[i * 40 + e] * b[j * 40 + e]).reduce((s, v) => s + v, 0);
    for (let a = 0; a < 5; a++) {
      for (let b = 0; b < 5; b++) expect(G[a * 5 + b]).toBeCloseTo(dot(P, a, P, b), 12);
      for (let b = 0; b < 3; b++) expect(C[a * 3 + b]).toBeCloseTo(dot(P, a, Q, b), 12);
    }
  });

  it('orthonormalise: QᵀQ = I to 1e-14, spans kept, dependent vectors dropped', () => {
    const len = 300;
    const P = Float64Array.from({ length: 4 * len }, r);
    for (let e = 0; e < len; e++) P[2 * len + e] = 2 * P[e] - P[len + e]; // vector 2 depends on 0 and 1
    const orig = P.slice();
    const kept = orthonormalise(P, 4, len);
    expect(kept).toBe(3);
    const G = panelGram(P.subarray(0, 3 * len), 3, len);
    for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) expect(Math.abs(G[a * 3 + b] - (a === b ? 1 : 0))).toBeLessThan(1e-14);
    // vector 3 of the input lies in the span of the three kept ones
    const coef = panelCross(P.subarray(0, 3 * len), 3, orig.subarray(3 * len), 1, len);
    let resid = 0;
    for (let e = 0; e < len; e++) resid += (orig[3 * len + e] - coef[0] * P[e] - coef[1] * P[len + e] - coef[2] * P[2 * len + e]) ** 2;
    expect(Math.sqrt(resid)).toBeLessThan(1e-12);
  });

  it('split over a kernel pool (helper threads on the shared memory) gives the same bits as one thread', () => {
    const { exports, heap } = kernels();
    const pool = new KernelPool(3);
    heap.scoped(() => {
      const m = 301, n = 203, count = 7;
      const a = heap.place(Float32Array.from({ length: m * n }, r));
      const x = heap.place(Float64Array.from({ length: count * n }, r));
      const q = heap.place(Float64Array.from({ length: count * m }, r));
      const y1 = heap.alloc(count * m * 8), y2 = heap.alloc(count * m * 8);
      const z1 = heap.alloc(count * n * 8), z2 = heap.alloc(count * n * 8);
      exports.mulPanelF32(a, m, n, x, count, y1, m);
      pool.run('mulPanelF32', pool.split(m, 2).map(([r0, r1]) => [a + r0 * n * 4, r1 - r0, n, x, count, y2 + r0 * 8, m]));
      exports.mulTPanelF32(a, m, n, n, q, count, z1, n);
      pool.run('mulTPanelF32', pool.split(n, 4).map(([c0, c1]) => [a + c0 * 4, m, c1 - c0, n, q, count, z2 + c0 * 8, n]));
      expect(Array.from(heap.f64(y2, count * m))).toEqual(Array.from(heap.f64(y1, count * m)));
      expect(Array.from(heap.f64(z2, count * n))).toEqual(Array.from(heap.f64(z1, count * n)));
      expect(pool.split(m, 2).length).toBe(3);
    });
  });
});
