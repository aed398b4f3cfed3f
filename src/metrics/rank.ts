/**
 * The paper's "rank family" of a pair, from the singular values of the 2×D stack [τᵢ; τⱼ].
 * Those are the square roots of the eigenvalues of the 2×2 Gram matrix
 * [[‖τᵢ‖², τᵢ·τⱼ], [τᵢ·τⱼ, ‖τⱼ‖²]], so every value comes from streamed dot products — no SVD
 * over D dimensions.
 */

export interface RankValues {
  /** exp(H(p)), p = σ/Σσ, H = −Σ p log p (0·log 0 = 0) ∈ [1,2]. */
  effective_rank: number;
  /** (Σσ)²/Σσ² ∈ [1,2] — as the paper's code computes it (the textbook stable rank is Σσ²/σ₁²). */
  stable_rank: number;
  /** (σ₁−σ₂)/σ₁ ∈ [0,1]. */
  spectral_gap: number;
  /** σ₂/σ₁ ∈ [0,1]. */
  singular_ratio: number;
}

/** σ₁ ≥ σ₂ ≥ 0 of the 2×D stack with Gram [[aa, ab], [ab, bb]]. */
export function stackSingularValues(aa: number, bb: number, ab: number): [number, number] {
  const mean = (aa + bb) / 2;
  const half = (aa - bb) / 2;
  const disc = Math.sqrt(half * half + ab * ab);
  const l1 = mean + disc;
  // λ₂ = det/λ₁ avoids cancellation when the two vectors are nearly parallel.
  const l2 = l1 > 0 ? (aa * bb - ab * ab) / l1 : 0;
  return [Math.sqrt(Math.max(l1, 0)), Math.sqrt(Math.max(l2, 0))];
}

/** Rank-family values, or null when both vectors are zero. */
export function rankFromGram(aa: number, bb: number, ab: number): RankValues | null {
  const [s1, s2] = stackSingularValues(aa, bb, ab);
  if (!(s1 > 0)) return null;
  const sum = s1 + s2;
  let h = 0;
  for (const s of [s1, s2]) {
    const p = s / sum;
    if (p > 0) h -= p * Math.log(p);
  }
  return {
    effective_rank: Math.exp(h),
    stable_rank: (sum * sum) / (s1 * s1 + s2 * s2),
    spectral_gap: (s1 - s2) / s1,
    singular_ratio: s2 / s1,
  };
}
