/**
 * Sign-agreement sums (TIES-style; the paper has no such metric). For a pair (τᵢ, τⱼ) and
 * per-expert trim thresholds tᵢ, tⱼ, over elements e of one tensor:
 *   agree / disagree     : τᵢ·τⱼ > 0 / < 0 (i.e. both non-zero, same / opposite sign)
 *   wAgree / wDisagree   : the same, each coordinate weighted by min(|τᵢ|, |τⱼ|) — a coordinate
 *                          counts only as much as the weaker update, so a large-vs-negligible pair
 *                          is not a strong conflict and tiny noisy entries barely count
 *   tAgree / tDisagree   : the same after trimming: coordinate kept by τ iff τ ≠ 0 and |τ| ≥ t
 *   kept[i]              : number of coordinates kept by τᵢ (its trimmed support size)
 *   diff2                : Σ(τᵢ−τⱼ)², accumulated here (same pair loop) so the L2 distance avoids the
 *                          cancellation of ‖τᵢ‖²+‖τⱼ‖²−2τᵢ·τⱼ for near-identical experts
 * Metrics then are agree/(agree+disagree), etc.; the TIES conflict fraction is
 * tDisagree / |keptᵢ ∪ keptⱼ| with |∪| = keptᵢ + keptⱼ − (tAgree + tDisagree).
 *
 * The trim threshold t is the k-th largest |τ| of the tensor, k = max(1, ⌊trim·numel⌋) (TIES /
 * mergekit keep the top `density` fraction per tensor), found exactly (src/numerics/select/trim.ts, threshold.ts).
 *
 * The per-element work runs in the fused WebAssembly kernel (src/wasm/assembly/pairs.ts): float
 * sums in float64 SIMD lanes (τᵢτⱼ and (τᵢ−τⱼ)² are exact products of float32 values), counts
 * from bit-packed masks with popcount. This module keeps the definitions.
 */

/** Number of per-pair sums, laid out [agree, disagree, wAgree, wDisagree, tAgree, tDisagree, diff2]. */
export const PAIR_FIELDS = 7;
