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
 * mergekit keep the top `density` fraction per tensor), found exactly (trim.ts).
 *
 * The per-element work runs in the fused WebAssembly kernel (src/wasm/assembly/pairs.ts): float
 * sums in float64 SIMD lanes (τᵢτⱼ and (τᵢ−τⱼ)² are exact products of float32 values), counts
 * from bit-packed masks with popcount. This module keeps the definitions and scalar helpers.
 */

import { kthLargestAbs } from '../wasm/arrays.js';

/** Number of per-pair sums, laid out [agree, disagree, wAgree, wDisagree, tAgree, tDisagree, diff2]. */
export const PAIR_FIELDS = 7;

const F32 = new Float32Array(1);
const I32 = new Int32Array(F32.buffer);

/**
 * The float32 bit pattern b such that, for any float32 v, |v| ≥ t ⇔ (bits(v) & 0x7fffffff) ≥ b
 * (non-negative float32 values order like their bit patterns). t = 0 maps to 1, so exact zeros
 * are never "kept".
 */
export function thresholdBits(t: number): number {
  F32[0] = t;
  let b = I32[0] & 0x7fffffff;
  if (F32[0] < t) b++; // t not a float32: round the threshold up, never down
  return Math.max(1, b);
}

/** How many coordinates a trim fraction keeps in a tensor of `numel` elements. */
export function keepCount(numel: number, trim: number): number {
  return Math.max(1, Math.floor(trim * numel));
}

/** The k-th largest |v| (1-based k, clamped), exactly: two-pass radix selection in the kernels. */
export { kthLargestAbs };

/**
 * Trim threshold of one τ: k-th largest |τ| with k = keepCount(length, trim). Given a row
 * sample of a huge tensor instead of the whole tensor, this is the sample's quantile.
 */
export function trimThreshold(tau: Float32Array, trim: number): number {
  if (trim >= 1) return 0;
  return kthLargestAbs(tau, keepCount(tau.length, trim));
}
