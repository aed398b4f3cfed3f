/**
 * Thin SVD of a dense m×n matrix (row-major float32/float64) from the eigen-decomposition of
 * the smaller Gram matrix G (AᵀA if m ≥ n, else AAᵀ; d = min(m, n), meant for d ≲ 1024):
 * G = W·Λ·Wᵀ gives σᵢ = √λᵢ and one side's singular vectors (W) directly; the other side's are
 * recovered as A·wᵢ/σᵢ (or Aᵀ·wᵢ/σᵢ).
 *
 * Accuracy trade-off. Forming G squares the condition number: an eigenvalue error of
 * ≈ ε·λ₁ means σᵢ is accurate to ≈ ε·σ₁²/σᵢ absolute, and the recovered vector for σᵢ loses
 * orthogonality to the others at ≈ ε·(σ₁/σᵢ)². For σᵢ ≥ 1e-3·σ₁ this is ≤ 1e-10; for the
 * smaller ones the recovered vectors are re-orthonormalised (Gram–Schmidt, twice) against the
 * earlier ones, which restores orthogonality but not their accuracy as singular vectors. σ
 * below ≈ 1e-8·σ₁ is at the float64 noise floor of G and cannot be resolved at all. That is
 * fine for what mergelens uses it for (top-k subspaces, spectra of float32 tensors whose own
 * noise is 1e-7 relative). Verified in test/numerics/linalg/gram-svd.test.ts against ml-matrix's
 * Golub–Kahan SVD: σ within 1e-12·σ₁, |UᵢᵀU_refᵢ| and |VᵢᵀV_refᵢ| within 1e-9 of 1 on
 * well-separated spectra, and ‖A − UΣVᵀ‖ ≤ 1e-12·‖A‖ at full rank.
 */
import { mulPanel, mulTPanel, transpose, dot, axpy, type Vec } from './panel.js';
import { symmetricEigen } from './symmetric-eigen.js';

export interface GramSvd {
  /** All d = min(m, n) singular values, descending (√ of clamped Gram eigenvalues). */
  sigma: Float64Array;
  /** Left singular vectors for `indices`: panel of count vectors of length m. */
  U: Float64Array;
  /** Right singular vectors for `indices`: panel of count vectors of length n. */
  V: Float64Array;
  /** σ-descending positions the vectors belong to (the requested ones with σ > 0). */
  indices: number[];
  count: number;
}

/** Recovered vectors for σ below this fraction of σ₁ are re-orthonormalised (see header). */
export const REORTH_BELOW = 1e-3;

/**
 * G = R·Rᵀ (p×p, float64) for the p rows of R (row-major p×q), on the blocked panel product,
 * then symmetrised (the two triangles differ only in summation order).
 */
export function rowGram(R: Vec, p: number, q: number): Float64Array {
  const G = mulPanel(R, p, q, Float64Array.from(R), p);
  for (let a = 0; a < p; a++) {
    for (let b = a + 1; b < p; b++) {
      const v = (G[a * p + b] + G[b * p + a]) / 2;
      G[a * p + b] = v;
      G[b * p + a] = v;
    }
  }
  return G;
}

/** Gram matrix of the smaller side, d×d: AᵀA if tall (rows of Aᵀ via a tiled transpose), else AAᵀ. */
export function smallGram(A: Vec, m: number, n: number): Float64Array {
  return m >= n ? rowGram(transpose(A, m, n), n, m) : rowGram(A, m, n);
}

/**
 * SVD of A via its Gram matrix. `select(sigma)` returns the σ-descending positions whose
 * singular vectors are wanted (default: all); positions with σ = 0 are dropped (their vectors
 * are not determined by G).
 */
export function gramSvd(A: Vec, m: number, n: number, select?: (sigma: Float64Array) => number[]): GramSvd {
  const tall = m >= n;
  const d = tall ? n : m;
  const { values, vectors } = symmetricEigen(smallGram(A, m, n), d);
  const sigma = new Float64Array(d);
  for (let i = 0; i < d; i++) sigma[i] = Math.sqrt(Math.max(values[i], 0));
  const wanted = select ? select(sigma) : Array.from({ length: d }, (_, i) => i);
  const indices = wanted.filter((i) => i >= 0 && i < d && sigma[i] > 0);
  const count = indices.length;
  const side = new Float64Array(count * d);
  indices.forEach((src, dst) => side.set(vectors.subarray(src * d, (src + 1) * d), dst * d));
  const other = tall ? mulPanel(A, m, n, side, count) : mulTPanel(A, m, n, side, count);
  const len = tall ? m : n;
  const floor = REORTH_BELOW * sigma[0];
  indices.forEach((src, dst) => {
    const off = dst * len;
    if (sigma[src] >= floor) {
      const inv = 1 / sigma[src];
      for (let i = 0; i < len; i++) other[off + i] *= inv;
      return;
    }
    // Small σ: A·w/σ is dominated by the Gram round-off; project out the earlier vectors twice.
    for (let pass = 0; pass < 2; pass++) {
      for (let q = 0; q < dst; q++) axpy(-dot(other, q * len, other, off, len), other, q * len, other, off, len);
    }
    const norm = Math.sqrt(dot(other, off, other, off, len));
    const inv = norm > 0 ? 1 / norm : 0;
    for (let i = 0; i < len; i++) other[off + i] *= inv;
  });
  return tall ? { sigma, U: other, V: side, indices, count } : { sigma, U: side, V: other, indices, count };
}
