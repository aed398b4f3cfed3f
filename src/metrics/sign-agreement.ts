/**
 * Sign-agreement kernels (TIES-style; the paper has no such metric). For a pair (τᵢ, τⱼ) and
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
 * mergekit keep the top `density` fraction per tensor); found exactly by quickselect on a copy.
 */

import { kthLargestAbsRadix } from './radix-select.js';

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

/**
 * counts[p*7 + f] += …, p = lexicographic pair index; kept[i] += trimmed support size.
 * Branch-free: signs of real task vectors are close to coin flips, so data-dependent branches
 * would mispredict about half the time (3× slower in V8). Signs, zero tests, trim tests and the
 * min(|x|,|y|) selection work on the float32 bit patterns with integer ops; the "disagree" sums are
 * derived as (all − agree).
 */
export function accumulateSigns(tau: Float32Array[], from: number, to: number, thresholds: Float64Array, counts: Float64Array, kept: Float64Array): void {
  const N = tau.length;
  const bits = tau.map((t) => new Int32Array(t.buffer, t.byteOffset, t.length));
  const th = Array.from(thresholds, thresholdBits);
  for (let i = 0; i < N; i++) {
    const ai = bits[i];
    const ta = th[i];
    let k = 0;
    for (let e = from; e < to; e++) k += (((ai[e] & 0x7fffffff) - ta) >>> 31) ^ 1;
    kept[i] += k;
  }
  let p = 0;
  for (let i = 0; i < N; i++) {
    const a = tau[i];
    const ai = bits[i];
    const ta = th[i];
    for (let j = i + 1; j < N; j++, p++) {
      const b = tau[j];
      const bi = bits[j];
      const tb = th[j];
      let ag = 0, nz = 0, wag = 0, wall = 0, tag = 0, tall = 0, d2 = 0;
      for (let e = from; e < to; e++) {
        const x = a[e];
        const y = b[e];
        const d = x - y;
        d2 += d * d;
        const bx = ai[e];
        const by = bi[e];
        const mx = bx & 0x7fffffff;
        const my = by & 0x7fffffff;
        // [x ≠ 0]·[y ≠ 0]; m + (2³¹−1) reaches bit 31 iff m ≥ 1
        const both = ((mx + 0x7fffffff) >>> 31) & ((my + 0x7fffffff) >>> 31);
        // same sign ⇔ sign bits equal
        const pos = both & (((bx ^ by) >>> 31) ^ 1);
        nz += both;
        ag += pos;
        // w = min(|x|, |y|), selected by the bit-pattern order; 0 unless both are non-zero
        const ax = Math.abs(x);
        const ay = Math.abs(y);
        const w = ay + ((mx - my) >>> 31) * (ax - ay);
        wall += w;
        wag += w * pos;
        // kept by both trimmed τ: |x| ≥ tₓ and |y| ≥ t_y (which implies both non-zero)
        const kb = (((mx - ta) >>> 31) ^ 1) & (((my - tb) >>> 31) ^ 1);
        tall += kb;
        tag += kb & pos;
      }
      const o = p * PAIR_FIELDS;
      counts[o] += ag;
      counts[o + 1] += nz - ag;
      counts[o + 2] += wag;
      counts[o + 3] += wall - wag;
      counts[o + 4] += tag;
      counts[o + 5] += tall - tag;
      counts[o + 6] += d2;
    }
  }
}

/** How many coordinates a trim fraction keeps in a tensor of `numel` elements. */
export function keepCount(numel: number, trim: number): number {
  return Math.max(1, Math.floor(trim * numel));
}

/**
 * The k-th largest |v| (1-based k), exactly: two-pass radix selection on the float bits, no
 * copy (radix-select.ts; ~8× faster than the quickselect it replaced on 16M elements).
 */
export function kthLargestAbs(v: Float32Array, k: number): number {
  return kthLargestAbsRadix(v, k);
}

/**
 * Trim threshold of one τ: k-th largest |τ| with k = keepCount(length, trim). Given a row
 * sample of a huge tensor instead of the whole tensor, this is the sample's quantile.
 */
export function trimThreshold(tau: Float32Array, trim: number): number {
  if (trim >= 1) return 0;
  return kthLargestAbs(tau, keepCount(tau.length, trim));
}
