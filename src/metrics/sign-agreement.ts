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

/** Bits set in a 32-bit word (SWAR; V8 has no popcount intrinsic). */
export function popcount32(v: number): number {
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
}

/** Per-expert bit masks of one block, 32 coordinates a word (grown on demand, reused). */
let maskWords = 0;
let nzMask = new Int32Array(0);
let sgMask = new Int32Array(0);
let kpMask = new Int32Array(0);

/**
 * Fill word-packed masks for τ[from, to): bit e−from of expert i's words is [τ ≠ 0] (nzMask),
 * the sign bit (sgMask) and [|τ| ≥ t] (kpMask, which implies τ ≠ 0). O(N·len), once per block,
 * so the O(N²·len) pair work on counts is word-wise AND/XOR + popcount.
 */
function buildMasks(bits: Int32Array[], from: number, to: number, th: number[], W: number): void {
  const N = bits.length;
  if (N * W > maskWords) {
    maskWords = N * W;
    nzMask = new Int32Array(maskWords);
    sgMask = new Int32Array(maskWords);
    kpMask = new Int32Array(maskWords);
  }
  for (let i = 0; i < N; i++) {
    const ai = bits[i];
    const ta = th[i];
    for (let w = 0; w < W; w++) {
      const e0 = from + w * 32;
      const e1 = Math.min(to, e0 + 32);
      let nz = 0, sg = 0, kp = 0;
      for (let e = e0, k = 0; e < e1; e++, k++) {
        const bx = ai[e];
        const mx = bx & 0x7fffffff;
        // m + (2³¹−1) reaches bit 31 iff m ≥ 1; m − t is negative iff m < t
        nz |= ((mx + 0x7fffffff) >>> 31) << k;
        sg |= (bx >>> 31) << k;
        kp |= ((((mx - ta) >>> 31) ^ 1) << k);
      }
      nzMask[i * W + w] = nz;
      sgMask[i * W + w] = sg;
      kpMask[i * W + w] = kp;
    }
  }
}

/** [Σ w·agree, Σ w, Σ (x−y)²] of the last `pairFloats` call. */
const floatSums = new Float64Array(3);

/**
 * The float sums of one pair over [from, to): one flat, branch-free loop in its own small
 * function (V8 optimises it ~2× better than the same loop inside the pair loop, and better than
 * a loop nested per mask word). Math.min is avoided: V8's NaN/−0-aware Float64Min made it ~3×
 * slower.
 */
function pairFloats(a: Float32Array, b: Float32Array, ai: Int32Array, bi: Int32Array, from: number, to: number): void {
  let wag = 0, wall = 0, d2 = 0;
  for (let e = from; e < to; e++) {
    const x = a[e];
    const y = b[e];
    const d = x - y;
    d2 += d * d;
    const bx = ai[e];
    const by = bi[e];
    // sel = [|x| < |y|] by the bit-pattern order; v = min(|x|, |y|) exactly (x·1 + y·0 = x),
    // which is 0 unless both are non-zero
    const sel = ((bx & 0x7fffffff) - (by & 0x7fffffff)) >>> 31;
    const v = Math.abs(x) * sel + Math.abs(y) * (1 - sel);
    wall += v;
    // v > 0 implies both non-zero, so "agree" reduces to equal sign bits
    wag += v * (((bx ^ by) >>> 31) ^ 1);
  }
  floatSums[0] = wag;
  floatSums[1] = wall;
  floatSums[2] = d2;
}

/**
 * counts[p*7 + f] += …, p = lexicographic pair index; kept[i] += trimmed support size.
 * Counts (agree, non-zero, trimmed) come from the packed masks, 32 coordinates per AND/XOR +
 * popcount. Only the float sums (weighted, diff2) need a per-element loop; it is branch-free
 * (signs of real task vectors are close to coin flips, so data-dependent branches would
 * mispredict about half the time) and works on the float32 bit patterns with integer ops.
 * Every float sum adds its terms in element order, so the result is the same, bit for bit, as
 * the plain definition summed in that order.
 */
export function accumulateSigns(tau: Float32Array[], from: number, to: number, thresholds: Float64Array, counts: Float64Array, kept: Float64Array): void {
  const N = tau.length;
  if (to <= from) return;
  const W = (to - from + 31) >>> 5;
  const bits = tau.map((t) => new Int32Array(t.buffer, t.byteOffset, t.length));
  const th = Array.from(thresholds, thresholdBits);
  buildMasks(bits, from, to, th, W);
  // locals, not the module-level lets: V8 reloads those from the context on every access
  const nzm = nzMask, sgm = sgMask, kpm = kpMask;
  for (let i = 0; i < N; i++) {
    let k = 0;
    for (let w = i * W, end = w + W; w < end; w++) k += popcount32(kpm[w]);
    kept[i] += k;
  }
  let p = 0;
  for (let i = 0; i < N; i++) {
    const a = tau[i];
    const ai = bits[i];
    const oi = i * W;
    for (let j = i + 1; j < N; j++, p++) {
      const b = tau[j];
      const bi = bits[j];
      const oj = j * W;
      let ag = 0, nz = 0, tag = 0, tall = 0;
      for (let w = 0; w < W; w++) {
        const both = nzm[oi + w] & nzm[oj + w];
        // same sign ⇔ sign bits equal
        const pos = both & ~(sgm[oi + w] ^ sgm[oj + w]);
        const kb = kpm[oi + w] & kpm[oj + w];
        nz += popcount32(both);
        ag += popcount32(pos);
        tall += popcount32(kb);
        tag += popcount32(kb & pos);
      }
      pairFloats(a, b, ai, bi, from, to);
      const wag = floatSums[0], wall = floatSums[1], d2 = floatSums[2];
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
