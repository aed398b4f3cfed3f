/**
 * Truncated SVD of a dense m×n matrix (row-major float32/float64), two ways:
 *  - `exactSvd`: `gramSvd` (src/numerics/linalg/gram-svd.ts: eigen-decomposition of the smaller Gram
 *    matrix, min(m,n)² entries), exact to float64 round-off for the singular values that matter
 *    (σ ≥ ~1e-7·σ₁); used for small tensors and whenever bottom singular vectors are needed.
 *  - `randomizedSvd`: Halko–Martinsson–Tropp randomised range finder with oversampling p and
 *    q power iterations (re-orthonormalised each half-step), then an exact SVD of the small
 *    l×n projection. Error bound: σ_{k+1}·(1 + …)^{1/(2q+1)}; checked in test/metrics/subspace.test.ts:
 *    on a decaying spectrum the top-10 σ are within 1e-5 relative and the top-10 subspaces
 *    within 1e-6 (‖UᵀU_ref‖²_F/k) of the full SVD, and the overlaps within 1e-4 of the exact path.
 *    Cost: (2q+2)·m·n·l multiply-adds, l = rank + p, on the WebAssembly panel kernels (./linalg.ts);
 *    `npm run bench` prints the time for 4096×4096 beside numpy's.
 */
import { gaussianRng, mulPanel, mulTPanel, orthonormalise, panelGram, withPlaced, type Vec } from './panel.js';
import { gramSvd } from './gram-svd.js';
import { symmetricEigen } from './symmetric-eigen.js';

export interface SvdResult {
  /** Singular values found, descending (all min(m,n) for exact, `rank` top ones for randomised). */
  sigma: Float64Array;
  /** Left singular vectors: panel of `count` vectors of length m (σ-descending order). */
  U: Float64Array;
  /** Right singular vectors: panel of `count` vectors of length n. */
  V: Float64Array;
  /** Number of vectors in U and V. */
  count: number;
}

/** Numerical-rank threshold for float32 data (numpy.linalg.matrix_rank's rule): σ > σ₁·max(m,n)·2⁻²³. */
export function rankTolerance(sigma1: number, m: number, n: number): number {
  return sigma1 * Math.max(m, n) * 2 ** -23;
}

/**
 * Exact SVD from the eigen-decomposition of the smaller Gram matrix. Returns all min(m,n)
 * singular values, the numerical rank ρ (σ above `rankTolerance`), and singular vectors only for
 * the σ-descending positions `select(ρ)` returns, restricted to [0, ρ) (directions with σ≈0 are
 * not unique and cannot be recovered from the Gram matrix).
 */
export function exactSvd(A: Vec, m: number, n: number, select: (rank: number) => number[]): SvdResult & { indices: number[]; rank: number } {
  let rank = 0;
  const r = gramSvd(A, m, n, (sigma) => {
    const tol = rankTolerance(sigma[0], m, n);
    while (rank < sigma.length && sigma[rank] > tol && sigma[rank] > 0) rank++;
    return select(rank).filter((i) => i >= 0 && i < rank);
  });
  return { ...r, rank };
}

export interface RsvdOptions {
  /** Extra sketch columns beyond `rank` (default 10). */
  oversample?: number;
  /** Power iterations (default 1: with ≥10 oversampling columns the top-k subspaces are then accurate to ~1e-6 on decaying spectra). */
  powerIterations?: number;
  seed?: number;
}

/** Top-`rank` singular triplets of A by randomised SVD. */
export function randomizedSvd(A: Vec, m: number, n: number, rank: number, opts: RsvdOptions = {}): SvdResult {
  const l = Math.min(rank + (opts.oversample ?? 10), m, n);
  const q = opts.powerIterations ?? 1;
  const rng = gaussianRng(opts.seed ?? 0x5eed);
  const omega = new Float64Array(l * n);
  for (let i = 0; i < omega.length; i++) omega[i] = rng();
  const { Y, Bt, cols } = withPlaced(A, (Ah) => {
    let Y = mulPanel(Ah, m, n, omega, l);
    let cols = orthonormalise(Y, l, m);
    for (let it = 0; it < q; it++) {
      const Z = mulTPanel(Ah, m, n, Y, cols);
      cols = orthonormalise(Z, cols, n);
      Y = mulPanel(Ah, m, n, Z, cols);
      cols = orthonormalise(Y, cols, m);
    }
    // B = QᵀA, stored as Bᵀ's columns (cols vectors of length n); SVD of B from its cols×cols Gram.
    return { Y, Bt: mulTPanel(Ah, m, n, Y, cols), cols };
  });
  const { values, vectors } = symmetricEigen(panelGram(Bt, cols, n), cols);
  const count = Math.min(rank, cols);
  const sigma = new Float64Array(count);
  const U = new Float64Array(count * m);
  const V = new Float64Array(count * n);
  for (let k = 0; k < count; k++) {
    const s = Math.sqrt(Math.max(values[k], 0));
    sigma[k] = s;
    for (let j = 0; j < cols; j++) {
      const w = vectors[k * cols + j];
      if (w === 0) continue;
      for (let i = 0; i < m; i++) U[k * m + i] += w * Y[j * m + i];
      if (s > 0) for (let i = 0; i < n; i++) V[k * n + i] += (w / s) * Bt[j * n + i];
    }
  }
  return { sigma, U, V, count };
}
