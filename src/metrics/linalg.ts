/**
 * Plain Float64Array linear-algebra kernels for the subspace metrics. A "panel" is a set of
 * `count` vectors of length `len`, stored contiguously (vector j at [j*len, (j+1)*len)), so
 * every hot loop runs over contiguous memory. Matrices (tensors) are row-major m×n
 * Float32Array/Float64Array. Symmetric eigenproblems go to src/linalg/symmetric-eigen.ts;
 * only the small LoRA core SVD (`smallSvd`, ≤ a few hundred) still uses ml-matrix.
 */
import { Matrix, SVD } from 'ml-matrix';
import { mulberry32 } from '../util/mulberry32.js';

export type Vec = Float32Array | Float64Array;

/** Σ a[i]·b[i] over [0, n), 4 independent accumulators (lets the JIT pipeline the adds). */
export function dot(a: Vec, aOff: number, b: Vec, bOff: number, n: number): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  let i = 0;
  const n4 = n - (n % 4);
  for (; i < n4; i += 4) {
    s0 += a[aOff + i] * b[bOff + i];
    s1 += a[aOff + i + 1] * b[bOff + i + 1];
    s2 += a[aOff + i + 2] * b[bOff + i + 2];
    s3 += a[aOff + i + 3] * b[bOff + i + 3];
  }
  for (; i < n; i++) s0 += a[aOff + i] * b[bOff + i];
  return s0 + s1 + s2 + s3;
}

/** y[yOff..] += alpha · x[xOff..] over n elements. */
export function axpy(alpha: number, x: Vec, xOff: number, y: Float64Array, yOff: number, n: number): void {
  for (let i = 0; i < n; i++) y[yOff + i] += alpha * x[xOff + i];
}

/** Column block of the panel products: a 256-wide slice of ~100 panel vectors stays in L2. */
const CB = 256;

/**
 * Panel Y (count vectors of length m) = A · X for X a panel of vectors of length n.
 * Blocked over columns (X slice cache-resident across all rows) with a 4-row × 2-vector
 * register block: each loaded A element feeds two products and each X element four, 8
 * accumulators stay in registers. Measured on 4096² × 20 (float32 A): 4.3 GFLOP/s against
 * 1.9 for the 1-row × 4-vector form (tried 2×4, 4×3, 4×4, 6×2, 8×1, 8×2, 3×3 and column
 * blocks 256/512/1024: 4×2 with 256 was best or tied). Each Y entry is summed over c in order
 * within a block, the same arithmetic as a plain dot product up to float64 rounding.
 */
export function mulPanel(A: Vec, m: number, n: number, X: Float64Array, count: number): Float64Array {
  const Y = new Float64Array(count * m);
  for (let c0 = 0; c0 < n; c0 += CB) {
    const c1 = Math.min(n, c0 + CB);
    let i = 0;
    for (; i + 4 <= m; i += 4) {
      const r0 = i * n, r1 = r0 + n, r2 = r1 + n, r3 = r2 + n;
      let j = 0;
      for (; j + 2 <= count; j += 2) {
        const x0 = j * n, x1 = x0 + n;
        let s00 = 0, s01 = 0, s10 = 0, s11 = 0, s20 = 0, s21 = 0, s30 = 0, s31 = 0;
        for (let c = c0; c < c1; c++) {
          const v0 = X[x0 + c], v1 = X[x1 + c];
          const a0 = A[r0 + c], a1 = A[r1 + c], a2 = A[r2 + c], a3 = A[r3 + c];
          s00 += a0 * v0; s01 += a0 * v1;
          s10 += a1 * v0; s11 += a1 * v1;
          s20 += a2 * v0; s21 += a2 * v1;
          s30 += a3 * v0; s31 += a3 * v1;
        }
        const y0 = j * m + i, y1 = y0 + m;
        Y[y0] += s00; Y[y0 + 1] += s10; Y[y0 + 2] += s20; Y[y0 + 3] += s30;
        Y[y1] += s01; Y[y1 + 1] += s11; Y[y1 + 2] += s21; Y[y1 + 3] += s31;
      }
      for (; j < count; j++) {
        const x = j * n;
        let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (let c = c0; c < c1; c++) {
          const v = X[x + c];
          s0 += A[r0 + c] * v;
          s1 += A[r1 + c] * v;
          s2 += A[r2 + c] * v;
          s3 += A[r3 + c] * v;
        }
        const y = j * m + i;
        Y[y] += s0; Y[y + 1] += s1; Y[y + 2] += s2; Y[y + 3] += s3;
      }
    }
    for (; i < m; i++) for (let j = 0; j < count; j++) Y[j * m + i] += dot(A, i * n + c0, X, j * n + c0, c1 - c0);
  }
  return Y;
}

/** Panel Z (count vectors of length n) = Aᵀ · Q for Q a panel of vectors of length m (blocked like mulPanel). */
export function mulTPanel(A: Vec, m: number, n: number, Q: Float64Array, count: number): Float64Array {
  const Z = new Float64Array(count * n);
  for (let c0 = 0; c0 < n; c0 += CB) {
    const c1 = Math.min(n, c0 + CB);
    for (let i = 0; i < m; i++) {
      const row = i * n;
      let j = 0;
      for (; j + 4 <= count; j += 4) {
        const q0 = Q[j * m + i], q1 = Q[(j + 1) * m + i], q2 = Q[(j + 2) * m + i], q3 = Q[(j + 3) * m + i];
        const z0 = j * n, z1 = z0 + n, z2 = z1 + n, z3 = z2 + n;
        for (let c = c0; c < c1; c++) {
          const a = A[row + c];
          Z[z0 + c] += q0 * a;
          Z[z1 + c] += q1 * a;
          Z[z2 + c] += q2 * a;
          Z[z3 + c] += q3 * a;
        }
      }
      for (; j < count; j++) {
        const q = Q[j * m + i];
        if (q !== 0) axpy(q, A, row + c0, Z, j * n + c0, c1 - c0);
      }
    }
  }
  return Z;
}

/**
 * Row-major m×n → n×m copy of the same element type (float32 stays float32: half the memory;
 * float64 stays exact), in 64×64 tiles (so Aᵀ·Q can run as the faster dot-form product).
 */
export function transpose<T extends Vec>(A: T, m: number, n: number): T {
  const T = (A instanceof Float64Array ? new Float64Array(m * n) : new Float32Array(m * n)) as T;
  const B = 64;
  for (let i0 = 0; i0 < m; i0 += B) {
    const i1 = Math.min(m, i0 + B);
    for (let c0 = 0; c0 < n; c0 += B) {
      const c1 = Math.min(n, c0 + B);
      for (let i = i0; i < i1; i++) for (let c = c0; c < c1; c++) T[c * m + i] = A[i * n + c];
    }
  }
  return T;
}

/**
 * Orthonormalise a panel in place by modified Gram–Schmidt run twice ("twice is enough"
 * keeps orthogonality at machine precision). Vectors that are (numerically) in the span of
 * the earlier ones are dropped. Returns the number of vectors kept (packed at the front).
 */
export function orthonormalise(P: Float64Array, count: number, len: number, relTol = 1e-10): number {
  let kept = 0;
  for (let j = 0; j < count; j++) {
    const off = j * len;
    const norm0 = Math.sqrt(dot(P, off, P, off, len));
    if (norm0 === 0) continue;
    for (let pass = 0; pass < 2; pass++) {
      for (let q = 0; q < kept; q++) {
        const c = dot(P, q * len, P, off, len);
        axpy(-c, P, q * len, P, off, len);
      }
    }
    const norm = Math.sqrt(dot(P, off, P, off, len));
    if (norm <= relTol * norm0 || norm === 0) continue;
    const dst = kept * len;
    const inv = 1 / norm;
    for (let i = 0; i < len; i++) P[dst + i] = P[off + i] * inv;
    kept++;
  }
  return kept;
}

/** Symmetric count×count Gram matrix of a panel: G[a][b] = ⟨P_a, P_b⟩. */
export function panelGram(P: Vec, count: number, len: number): Float64Array {
  const G = new Float64Array(count * count);
  for (let a = 0; a < count; a++) {
    for (let b = a; b < count; b++) {
      const v = dot(P, a * len, P, b * len, len);
      G[a * count + b] = v;
      G[b * count + a] = v;
    }
  }
  return G;
}

/** Cross products C[a][b] = ⟨P_a, Q_b⟩ (P: ca vectors, Q: cb vectors, both length len). */
export function panelCross(P: Float64Array, ca: number, Q: Float64Array, cb: number, len: number): Float64Array {
  const C = new Float64Array(ca * cb);
  for (let a = 0; a < ca; a++) for (let b = 0; b < cb; b++) C[a * cb + b] = dot(P, a * len, Q, b * len, len);
  return C;
}

/** Full SVD of a small dense rows×cols matrix (row-major): U, V as panels, σ descending. */
export function smallSvd(M: Float64Array, rows: number, cols: number): { sigma: Float64Array; U: Float64Array; V: Float64Array; rank: number } {
  const arr: number[][] = [];
  for (let i = 0; i < rows; i++) arr.push(Array.from(M.subarray(i * cols, (i + 1) * cols)));
  const svd = new SVD(new Matrix(arr), { autoTranspose: true, computeLeftSingularVectors: true, computeRightSingularVectors: true });
  const s = svd.diagonal;
  const r = Math.min(rows, cols);
  const order = s.map((_, i) => i).sort((a, b) => s[b] - s[a]).slice(0, r);
  const U = new Float64Array(r * rows);
  const V = new Float64Array(r * cols);
  const sigma = new Float64Array(r);
  const Um = svd.leftSingularVectors;
  const Vm = svd.rightSingularVectors;
  order.forEach((src, dst) => {
    sigma[dst] = s[src];
    for (let i = 0; i < rows; i++) U[dst * rows + i] = Um.get(i, src);
    for (let i = 0; i < cols; i++) V[dst * cols + i] = Vm.get(i, src);
  });
  return { sigma, U, V, rank: r };
}

/** Seeded standard-normal generator (mulberry32 + Box–Muller): reproducible sketches. */
export function gaussianRng(seed: number): () => number {
  const uniform = mulberry32(seed);
  return () => {
    const u = 1 - uniform();
    const v = uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
}
