/**
 * Linear-algebra kernels for the subspace metrics. A "panel" is a set of `count` vectors of
 * length `len`, stored contiguously (vector j at [j*len, (j+1)*len)), so every hot loop runs
 * over contiguous memory. Matrices (tensors) are row-major m×n Float32Array/Float64Array. The
 * heavy products run on the WebAssembly kernels (src/wasm/assembly/gemm.ts); symmetric
 * eigenproblems go to src/numerics/linalg/symmetric-eigen.ts; only the small LoRA core SVD (`smallSvd`,
 * ≤ a few hundred) still uses ml-matrix.
 */
import { Matrix, SVD } from 'ml-matrix';
import { kernels } from '../../wasm/kernels.js';
import { kernelPool } from '../../wasm/pool.js';
import { mulberry32 } from '../../util/mulberry32.js';

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

/** Products below this many multiply-adds run on one thread (a helper round trip costs ~0.1 ms). */
const PARALLEL_MIN = 1 << 24;

/**
 * Panel Y (count vectors of length m) = A · X for X a panel of vectors of length n, on the
 * WebAssembly kernel (2-row × 4-vector register tile, float64 lanes; float32 A promoted
 * exactly), split by rows over the kernel pool when it is big. A is copied into the kernels'
 * heap unless it already lives there (callers that use one A several times place it once: see
 * `withPlaced`).
 */
export function mulPanel(A: Vec, m: number, n: number, X: Float64Array, count: number): Float64Array {
  return panelProduct(A, m, n, X, count, false);
}

/**
 * Panel Z (count vectors of length n) = Aᵀ · Q for Q a panel of vectors of length m
 * (WebAssembly, 4×4 tile over 128-row strips), split by columns over the kernel pool when big.
 */
export function mulTPanel(A: Vec, m: number, n: number, Q: Float64Array, count: number): Float64Array {
  return panelProduct(A, m, n, Q, count, true);
}

function panelProduct(A: Vec, m: number, n: number, P: Float64Array, count: number, transposed: boolean): Float64Array {
  const { exports, heap } = kernels();
  return heap.scoped(() => {
    const a = heap.place(A);
    const p = heap.place(P);
    const len = transposed ? n : m;
    const out = heap.alloc(count * len * 8);
    const es = A.BYTES_PER_ELEMENT;
    const f32 = A instanceof Float32Array;
    const pool = m * n * count >= PARALLEL_MIN ? kernelPool() : null;
    // rows of A·X, or columns of Aᵀ·Q (aligned to the register tiles), one range per thread
    const ranges = pool ? pool.split(len, transposed ? 4 : 2) : [[0, len]];
    const calls = transposed
      ? ranges.map(([c0, c1]) => [a + c0 * es, m, c1 - c0, n, p, count, out + c0 * 8, n])
      : ranges.map(([r0, r1]) => [a + r0 * n * es, r1 - r0, n, p, count, out + r0 * 8, m]);
    const fn = transposed ? (f32 ? 'mulTPanelF32' : 'mulTPanelF64') : f32 ? 'mulPanelF32' : 'mulPanelF64';
    if (pool) pool.run(fn, calls);
    else (exports[fn] as (...args: number[]) => void)(...calls[0]);
    return heap.f64(out, count * len).slice();
  });
}

/**
 * Run `fn` with A in the kernels' heap (a view of it there: products on it then copy nothing),
 * freeing it afterwards.
 */
export function withPlaced<T>(A: Vec, fn: (placed: Vec) => T): T {
  const { heap } = kernels();
  return heap.scoped(() => {
    const at = heap.place(A);
    return fn(A instanceof Float32Array ? heap.f32(at, A.length) : heap.f64(at, A.length));
  });
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
 * The dots and updates run on the WebAssembly kernels (a 110-vector panel of length 4096 is
 * ~0.2 GFLOP).
 */
export function orthonormalise(P: Float64Array, count: number, len: number, relTol = 1e-10): number {
  const { exports, heap } = kernels();
  return heap.scoped(() => {
    const base = heap.place(P);
    const at = (j: number) => base + j * len * 8;
    let kept = 0;
    for (let j = 0; j < count; j++) {
      const v = at(j);
      const norm0 = Math.sqrt(exports.dot64(v, v, len));
      if (norm0 === 0) continue;
      for (let pass = 0; pass < 2; pass++) {
        for (let q = 0; q < kept; q++) exports.axpy64(-exports.dot64(at(q), v, len), at(q), v, len);
      }
      const norm = Math.sqrt(exports.dot64(v, v, len));
      if (norm <= relTol * norm0 || norm === 0) continue;
      const dst = heap.f64(at(kept), len);
      const src = heap.f64(v, len);
      const inv = 1 / norm;
      for (let i = 0; i < len; i++) dst[i] = src[i] * inv;
      kept++;
    }
    if (heap.offsetOf(P) < 0) P.set(heap.f64(base, count * len));
    return kept;
  });
}

/** Symmetric count×count Gram matrix of a panel: G[a][b] = ⟨P_a, P_b⟩ (one panel product). */
export function panelGram(P: Float64Array, count: number, len: number): Float64Array {
  const G = mulPanel(P, count, len, P, count);
  for (let a = 0; a < count; a++) {
    for (let b = a + 1; b < count; b++) G[b * count + a] = G[a * count + b];
  }
  return G;
}

/** Cross products C[a][b] = ⟨P_a, Q_b⟩ (P: ca vectors, Q: cb vectors, both length len): the panel product Q·P. */
export function panelCross(P: Float64Array, ca: number, Q: Float64Array, cb: number, len: number): Float64Array {
  return mulPanel(Q, cb, len, P, ca);
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
