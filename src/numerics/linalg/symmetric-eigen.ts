/**
 * Symmetric eigensolver on Float64Array: Householder tridiagonalisation (tred2) followed by
 * the implicit QL algorithm with Wilkinson-type shifts (tql2), as in EISPACK/JAMA — the same
 * algorithm ml-matrix's EVD runs, laid out for cache: the solver works on Vᵀ in a flat
 * row-major buffer, so every inner loop (Householder updates, accumulation, and the Givens
 * rotations of tql2, which touch two eigenvectors at a time) runs over contiguous memory,
 * and nothing is allocated per element. Cost ≈ 9n³ flops; measured ≈2× faster than
 * ml-matrix's EVD at n = 256–512, with bit-identical eigenvalues in our checks (README
 * "## Performance"). Tried and dropped: applying a QL sweep's rotations chunk-wise with a
 * carried row (15% slower in V8). Where the native kernels are built, src/native/eigen.c runs
 * the same arithmetic in the same order (the same bytes), SIMD-wide where the order is free.
 */
import { nativeKernels } from '../../native/load.js';

export interface SymmetricEigen {
  /** Eigenvalues, descending. */
  values: Float64Array;
  /** Eigenvectors as a panel: vector j (for values[j]) at [j·n, (j+1)·n), orthonormal. */
  vectors: Float64Array;
}

const EPS = 2 ** -52;

/** √(a² + b²) without overflow; Math.hypot is several times slower in V8. */
function hypot(a: number, b: number): number {
  const x = Math.abs(a), y = Math.abs(b);
  if (x > y) { const r = y / x; return x * Math.sqrt(1 + r * r); }
  if (y === 0) return 0;
  const r = x / y;
  return y * Math.sqrt(1 + r * r);
}

/**
 * Eigen-decomposition of the symmetric n×n matrix A (row-major; only symmetry is assumed,
 * the lower triangle is what is read). A is not modified. `native: false` runs the JavaScript
 * solver even where the native one is built (the same bytes; for tests and the bench's A/B).
 */
export function symmetricEigen(A: Float64Array, n: number, options: { native?: boolean } = {}): SymmetricEigen {
  if (A.length < n * n) throw new Error(`symmetricEigen: buffer of ${A.length} < ${n}×${n}`);
  if (n === 0) return { values: new Float64Array(0), vectors: new Float64Array(0) };
  // T holds Vᵀ: T[b·n + a] = V[a][b]. A symmetric input is its own transpose.
  const T = Float64Array.from(A.subarray(0, n * n));
  // NaN compares false everywhere in tql2's tests, so it would come back as silent NaN output.
  for (let i = 0; i < T.length; i++) if (!Number.isFinite(T[i])) throw new Error(`symmetricEigen: non-finite entry at (${Math.floor(i / n)}, ${i % n})`);
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  const native = options.native === false ? null : nativeKernels();
  if (native) {
    if (native.symmetricEigen(T, d, e) !== 0) throw noConvergence(n);
  } else {
    tred2(T, n, d, e);
    tql2(T, n, d, e);
  }
  // tql2 leaves eigenvalues in arbitrary order: sort descending, eigenvectors with them.
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => d[b] - d[a]);
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  for (let dst = 0; dst < n; dst++) {
    const src = order[dst];
    values[dst] = d[src];
    vectors.set(T.subarray(src * n, (src + 1) * n), dst * n);
  }
  return { values, vectors };
}

const noConvergence = (n: number) => new Error(`symmetricEigen: no convergence (n=${n})`);

/** Householder reduction to tridiagonal form (d diagonal, e sub-diagonal), accumulating Vᵀ in T. */
function tred2(T: Float64Array, n: number, d: Float64Array, e: Float64Array): void {
  for (let j = 0; j < n; j++) d[j] = T[j * n + n - 1];
  for (let i = n - 1; i > 0; i--) {
    let scale = 0;
    let h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k]);
    if (scale === 0) {
      e[i] = d[i - 1];
      for (let j = 0; j < i; j++) {
        d[j] = T[j * n + i - 1];
        T[j * n + i] = 0;
        T[i * n + j] = 0;
      }
    } else {
      for (let k = 0; k < i; k++) {
        d[k] /= scale;
        h += d[k] * d[k];
      }
      let f = d[i - 1];
      let g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      // e = A·u over the active block, reading the stored triangle once per row.
      for (let j = 0; j < i; j++) {
        f = d[j];
        const row = j * n;
        T[i * n + j] = f;
        g = e[j] + T[row + j] * f;
        for (let k = j + 1; k < i; k++) {
          const t = T[row + k];
          g += t * d[k];
          e[k] += t * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j] /= h;
        f += e[j] * d[j];
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j] -= hh * d[j];
      for (let j = 0; j < i; j++) {
        f = d[j];
        g = e[j];
        const row = j * n;
        for (let k = j; k < i; k++) T[row + k] -= f * e[k] + g * d[k];
        d[j] = T[row + i - 1];
        T[row + i] = 0;
      }
    }
    d[i] = h;
  }
  // Accumulate the Householder transformations.
  for (let i = 0; i < n - 1; i++) {
    T[i * n + n - 1] = T[i * n + i];
    T[i * n + i] = 1;
    const h = d[i + 1];
    const next = (i + 1) * n;
    if (h !== 0) {
      for (let k = 0; k <= i; k++) d[k] = T[next + k] / h;
      for (let j = 0; j <= i; j++) {
        const row = j * n;
        let g = 0;
        for (let k = 0; k <= i; k++) g += T[next + k] * T[row + k];
        for (let k = 0; k <= i; k++) T[row + k] -= g * d[k];
      }
    }
    for (let k = 0; k <= i; k++) T[next + k] = 0;
  }
  for (let j = 0; j < n; j++) {
    d[j] = T[j * n + n - 1];
    T[j * n + n - 1] = 0;
  }
  T[(n - 1) * n + n - 1] = 1;
  e[0] = 0;
}

/** Implicit QL with shifts on the tridiagonal (d, e), applying the rotations to the rows of T. */
function tql2(T: Float64Array, n: number, d: Float64Array, e: Float64Array): void {
  for (let i = 1; i < n; i++) e[i - 1] = e[i];
  e[n - 1] = 0;
  let f = 0;
  let tst1 = 0;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]) + Math.abs(e[l]));
    let m = l;
    while (m < n - 1 && Math.abs(e[m]) > EPS * tst1) m++;
    if (m > l) {
      let iter = 0;
      do {
        // Converges in 1–3 sweeps per eigenvalue in practice; the cap guards against a pathological loop.
        if (++iter > 60) throw noConvergence(n);
        let g = d[l];
        let p = (d[l + 1] - g) / (2 * e[l]);
        let r = hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l] / (p + r);
        d[l + 1] = e[l] * (p + r);
        const dl1 = d[l + 1];
        let h = g - d[l];
        for (let i = l + 2; i < n; i++) d[i] -= h;
        f += h;
        p = d[m];
        let c = 1, c2 = 1, c3 = 1, s = 0, s2 = 0;
        const el1 = e[l + 1];
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i];
          h = c * p;
          r = hypot(p, e[i]);
          e[i + 1] = s * r;
          s = e[i] / r;
          c = p / r;
          p = c * d[i] - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]);
          // Rotate eigenvectors i and i+1 (two contiguous rows of T).
          const ri = i * n, rj = ri + n;
          for (let k = 0; k < n; k++) {
            const t = T[rj + k];
            const u = T[ri + k];
            T[rj + k] = s * u + c * t;
            T[ri + k] = c * u - s * t;
          }
        }
        p = (-s * s2 * c3 * el1 * e[l]) / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l]) > EPS * tst1);
    }
    d[l] += f;
    e[l] = 0;
  }
}

