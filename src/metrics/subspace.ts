/**
 * Subspace metrics of one 2-D tensor for a pair of experts (the paper's "subspace family").
 *
 * Per expert, once per tensor, `spectralFactors` finds: the top `spectrumK` singular values,
 * the numerical rank ρ (σ > σ₁·max(m,n)·2⁻²³), the top-k left/right singular vectors and the
 * bottom-k right singular vectors (the k smallest *non-zero* of the rank-min(m,n) spectrum: for a
 * full-rank Δ — every dense fine-tune in practice — that is exactly the paper's V[-k:]; for a
 * rank-deficient Δ such as LoRA the paper's V[-k:] spans an arbitrary basis of the null space,
 * so we take the lowest directions that are actually used). Pairs then cost k²·(m+n).
 *
 * Normalisation (one rule for all, ∈ [0,1]): overlap(X, Y) = ‖XᵀY‖²_F / k with k = min(kᵢ, kⱼ)
 * orthonormal columns each = mean squared cosine of the principal angles. The paper divides
 * ‖·‖_F by k (left) or √k (right); our value is (paper right)² and k·(paper left)².
 *
 * Interaction overlap: the paper's mean σ²(VᵢᵀVⱼ) is identical to our right overlap, so it would
 * carry no information; we use the energy-weighted form: the cosine between the rank-k
 * "interaction matrices" Gᵢ = Vᵢ Σᵢ² Vᵢᵀ (= ΔWᵢ,ₖᵀΔWᵢ,ₖ, how the delta acts on input directions):
 * ⟨Gᵢ, Gⱼ⟩_F / (‖Gᵢ‖_F‖Gⱼ‖_F) = Σ_ab σᵢₐ²σⱼᵦ²(vᵢₐ·vⱼᵦ)² / √(Σσᵢₐ⁴ Σσⱼᵦ⁴) ∈ [0,1].
 */
import type { LowRankDelta } from '../types.js';
import { orthonormalise, panelCross, smallSvd, type Vec } from '../numerics/linalg/panel.js';
import { exactSvd, randomizedSvd, rankTolerance, type RsvdOptions } from '../numerics/linalg/rsvd.js';

export interface SubspaceOptions {
  /** k for the subspace overlaps (default 10). */
  k: number;
  /** Number of top singular values compared by sv_overlap (default 100). */
  spectrumK: number;
  /** min(m,n) up to which the exact (Gram eigen) SVD is used (default 512). */
  exactMaxDim: number;
  /**
   * min(m,n) up to which bottom-k is computed (needs the exact SVD; default 512). Above it the
   * bottom-k metrics of that tensor are null (left out of the average) and a warning says so.
   */
  bottomMaxDim: number;
  rsvd?: RsvdOptions;
}

export { DEFAULT_SUBSPACE, SUBSPACE_METRICS } from './subspace-defaults.js';

/** What one expert's Δ contributes to every pair's subspace metrics for one tensor. */
export interface SpectralFactors {
  m: number;
  n: number;
  /** Top singular values (≤ spectrumK), descending. */
  spectrum: Float64Array;
  /** Numerical rank (of the part computed, for the randomised path: ≤ sketch size). */
  rank: number;
  /** Top-k (k = min(K, ρ)) singular values, U (k×m panel), V (k×n panel). */
  topSigma: Float64Array;
  U: Float64Array;
  V: Float64Array;
  kTop: number;
  /** Bottom-k right singular vectors (σ-descending order, i.e. the last is the smallest), or null. */
  bottomSigma: Float64Array | null;
  Vb: Float64Array | null;
  kBottom: number;
  method: 'exact' | 'randomized' | 'lora';
}

/** Factors of an all-zero Δ: every metric involving it is undefined (null). */
export function emptyFactors(m: number, n: number): SpectralFactors {
  return {
    m, n, spectrum: new Float64Array(0), rank: 0, topSigma: new Float64Array(0), U: new Float64Array(0), V: new Float64Array(0),
    kTop: 0, bottomSigma: null, Vb: null, kBottom: 0, method: 'exact',
  };
}

const topIdx = (k: number) => Array.from({ length: k }, (_, i) => i);
const bottomIdx = (rank: number, k: number) => Array.from({ length: Math.min(k, rank) }, (_, i) => rank - Math.min(k, rank) + i);

/** Spectral factors of a dense m×n Δ (row-major). */
export function spectralFactors(A: Vec, m: number, n: number, opts: SubspaceOptions): SpectralFactors {
  const d = Math.min(m, n);
  const K = opts.k;
  if (d <= opts.exactMaxDim || d <= opts.bottomMaxDim) {
    const wantBottom = d <= opts.bottomMaxDim;
    const r = exactSvd(A, m, n, (rank) => {
      const idx = new Set(topIdx(Math.min(K, rank)));
      if (wantBottom) for (const i of bottomIdx(rank, K)) idx.add(i);
      return [...idx].sort((a, b) => a - b);
    });
    const kTop = Math.min(K, r.rank);
    const pick = (positions: number[], panel: Float64Array, len: number) => {
      const out = new Float64Array(positions.length * len);
      positions.forEach((p, dst) => {
        const src = r.indices.indexOf(p);
        out.set(panel.subarray(src * len, (src + 1) * len), dst * len);
      });
      return out;
    };
    const top = topIdx(kTop);
    const bottom = wantBottom ? bottomIdx(r.rank, K) : [];
    return {
      m, n,
      spectrum: r.sigma.slice(0, Math.min(opts.spectrumK, r.rank)),
      rank: r.rank,
      topSigma: Float64Array.from(top, (i) => r.sigma[i]),
      U: pick(top, r.U, m),
      V: pick(top, r.V, n),
      kTop,
      bottomSigma: wantBottom ? Float64Array.from(bottom, (i) => r.sigma[i]) : null,
      Vb: wantBottom ? pick(bottom, r.V, n) : null,
      kBottom: bottom.length,
      method: 'exact',
    };
  }
  const want = Math.max(K, opts.spectrumK);
  const r = randomizedSvd(A, m, n, want, opts.rsvd);
  const tol = rankTolerance(r.sigma[0] ?? 0, m, n);
  let rank = 0;
  while (rank < r.count && r.sigma[rank] > tol && r.sigma[rank] > 0) rank++;
  const kTop = Math.min(K, rank);
  return {
    m, n,
    spectrum: r.sigma.slice(0, Math.min(opts.spectrumK, rank)),
    rank,
    topSigma: r.sigma.slice(0, kTop),
    U: r.U.slice(0, kTop * m),
    V: r.V.slice(0, kTop * n),
    kTop,
    bottomSigma: null,
    Vb: null,
    kBottom: 0,
    method: 'randomized',
  };
}

/**
 * Spectral factors of ΔW = s·B·A straight from the factors: B = Q_B R_B, Aᵀ = Q_A R_A, then the
 * SVD of the small core C = s·R_B·R_Aᵀ (r×r) gives U = Q_B·U_C, V = Q_A·V_C, σ(ΔW) = σ(C).
 */
export function loraSpectralFactors(d: LowRankDelta, opts: SubspaceOptions): SpectralFactors {
  const [m, n] = d.shape;
  const r = d.rank;
  const Bc = new Float64Array(r * m);
  for (let i = 0; i < m; i++) for (let q = 0; q < r; q++) Bc[q * m + i] = d.B[i * r + q];
  const Ar = Float64Array.from(d.A);
  const QB = Bc.slice();
  const rb = orthonormalise(QB, r, m);
  const QA = Ar.slice();
  const ra = orthonormalise(QA, r, n);
  const RB = panelCross(QB, rb, Bc, r, m); // rb×r: Q_Bᵀ B
  const AQ = panelCross(Ar, r, QA, ra, n); // r×ra: A Q_A
  const C = new Float64Array(rb * ra);
  for (let a = 0; a < rb; a++) {
    for (let b = 0; b < ra; b++) {
      let s = 0;
      for (let q = 0; q < r; q++) s += RB[a * r + q] * AQ[q * ra + b];
      C[a * ra + b] = d.scale * s;
    }
  }
  if (rb === 0 || ra === 0) return emptyFactors(m, n);
  const svd = smallSvd(C, rb, ra);
  const tol = rankTolerance(svd.sigma[0], m, n);
  let rank = 0;
  while (rank < svd.rank && svd.sigma[rank] > tol && svd.sigma[rank] > 0) rank++;
  if (rank === 0) return emptyFactors(m, n);
  const lift = (positions: number[], coef: Float64Array, dim: number, Q: Float64Array, len: number) => {
    const out = new Float64Array(positions.length * len);
    positions.forEach((p, dst) => {
      for (let a = 0; a < dim; a++) {
        const w = coef[p * dim + a];
        if (w === 0) continue;
        for (let i = 0; i < len; i++) out[dst * len + i] += w * Q[a * len + i];
      }
    });
    return out;
  };
  const top = topIdx(Math.min(opts.k, rank));
  const bottom = bottomIdx(rank, opts.k);
  return {
    m, n,
    spectrum: svd.sigma.slice(0, Math.min(opts.spectrumK, rank)),
    rank,
    topSigma: Float64Array.from(top, (i) => svd.sigma[i]),
    U: lift(top, svd.U, rb, QB, m),
    V: lift(top, svd.V, ra, QA, n),
    kTop: top.length,
    bottomSigma: Float64Array.from(bottom, (i) => svd.sigma[i]),
    Vb: lift(bottom, svd.V, ra, QA, n),
    kBottom: bottom.length,
    method: 'lora',
  };
}

export interface SubspacePairValues {
  sv_overlap: number | null;
  left_subspace_overlap: number | null;
  right_subspace_overlap_top: number | null;
  right_subspace_overlap_bottom: number | null;
  interaction_overlap_top: number | null;
  interaction_overlap_bottom: number | null;
}

/** cos of the two spectra, zero-padded (scale-free, so the paper's Σσ normalisation drops out). */
function spectrumCosine(a: Float64Array, b: Float64Array): number | null {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    ab += x * y;
    aa += x * x;
    bb += y * y;
  }
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : null;
}

/**
 * ‖XᵀY‖²_F / k and the σ²-weighted interaction cosine over k vectors, where X holds vectors
 * [xFrom, xFrom+k) of a panel and Y likewise.
 */
function overlaps(X: Float64Array, xFrom: number, sx: Float64Array, Y: Float64Array, yFrom: number, sy: Float64Array, k: number, len: number): [number, number] {
  const M = panelCross(X.subarray(xFrom * len, (xFrom + k) * len), k, Y.subarray(yFrom * len, (yFrom + k) * len), k, len);
  let fro = 0, inter = 0, nx = 0, ny = 0;
  for (let a = 0; a < k; a++) {
    const wa = sx[xFrom + a] ** 2;
    nx += wa * wa;
    for (let b = 0; b < k; b++) {
      const c2 = M[a * k + b] ** 2;
      fro += c2;
      inter += wa * sy[yFrom + b] ** 2 * c2;
    }
  }
  for (let b = 0; b < k; b++) ny += sy[yFrom + b] ** 4;
  // Clamp: both are ≤ 1 mathematically; round-off can exceed it by ~1e-15.
  return [Math.min(1, fro / k), nx > 0 && ny > 0 ? Math.min(1, inter / Math.sqrt(nx * ny)) : 0];
}

/** All subspace metrics of one tensor for one pair. */
export function subspacePair(fi: SpectralFactors, fj: SpectralFactors): SubspacePairValues {
  const out: SubspacePairValues = {
    sv_overlap: spectrumCosine(fi.spectrum, fj.spectrum),
    left_subspace_overlap: null,
    right_subspace_overlap_top: null,
    right_subspace_overlap_bottom: null,
    interaction_overlap_top: null,
    interaction_overlap_bottom: null,
  };
  const k = Math.min(fi.kTop, fj.kTop);
  if (k > 0) {
    out.left_subspace_overlap = overlaps(fi.U, 0, fi.topSigma, fj.U, 0, fj.topSigma, k, fi.m)[0];
    [out.right_subspace_overlap_top, out.interaction_overlap_top] = overlaps(fi.V, 0, fi.topSigma, fj.V, 0, fj.topSigma, k, fi.n);
  }
  const kb = Math.min(fi.kBottom, fj.kBottom);
  if (kb > 0 && fi.Vb && fj.Vb && fi.bottomSigma && fj.bottomSigma) {
    [out.right_subspace_overlap_bottom, out.interaction_overlap_bottom] = overlaps(
      fi.Vb, fi.kBottom - kb, fi.bottomSigma, fj.Vb, fj.kBottom - kb, fj.bottomSigma, kb, fi.n,
    );
  }
  return out;
}
