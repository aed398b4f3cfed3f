/**
 * Trim thresholds: the float32 bit pattern of a threshold, how many coordinates a trim fraction
 * keeps, and the exact threshold of an in-memory τ. Shared by the metrics' trimmed signs and the
 * TIES merge (both keep the top `density`/`trim` fraction of |τ| per tensor).
 */

import { kthLargestAbs } from '../../wasm/arrays.js';

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
