// The metrics pass's per-element work for N experts at once: every pair's float64 sums (Gram
// entry, min-magnitude-weighted sign sums, Σ(τᵢ−τⱼ)²) and, from bit-packed masks, its sign
// counts (agree / disagree, untrimmed and after trimming) plus each expert's trimmed support.
// Layout and meaning of the sums: see src/metrics/sign-agreement.ts (PAIR_FIELDS); thresholds: src/numerics/select/threshold.ts.
import { decodePadded, tauBlock } from './dtype';

/** Positions per block: N float32 + N float64 copies of a block stay in L2 while all pairs run. */
export const BLOCK: usize = 512;
const WORDS: usize = BLOCK >> 6;
export const PAIR_FIELDS: i32 = 7;

/** Bytes of scratch `accumulate` needs for N experts. */
export function accumulateScratch(N: i32): usize {
  return (BLOCK << 2) + <usize>N * BLOCK * 12 + <usize>N * WORDS * 24;
}

// @ts-ignore: decorator
@inline function hsum(v: v128): f64 {
  return f64x2.extract_lane(v, 0) + f64x2.extract_lane(v, 1);
}

// @ts-ignore: decorator
@inline function pairIndex(N: i32, i: i32, j: i32): i32 {
  return i * N - ((i * (i + 1)) >> 1) + (j - i - 1);
}

/** Gram diagonal, and for every pair i < j the Gram entry and the float pair sums over [0, L). */
function floatSums(tau64: usize, N: i32, L: usize, gram: usize, pairs: usize): void {
  const stride = BLOCK << 3;
  const zero = f64x2.splat(0);
  for (let i = 0; i < N; i++) {
    const pi = tau64 + <usize>i * stride;
    let s0 = zero, s1 = zero;
    for (let o: usize = 0; o < L << 3; o += 32) {
      const a = v128.load(pi + o);
      const b = v128.load(pi + o, 16);
      s0 = f64x2.add(s0, f64x2.mul(a, a));
      s1 = f64x2.add(s1, f64x2.mul(b, b));
    }
    const g = gram + <usize>(i * N + i) * 8;
    store<f64>(g, load<f64>(g) + hsum(f64x2.add(s0, s1)));
  }
  // Per pair and element: p = τᵢτⱼ (exact for float32 inputs, no underflow) feeds the Gram entry
  // and, by its sign, the conflict test; v = min(|τᵢ|, |τⱼ|) is 0 unless both are non-zero.
  for (let i = 0; i < N; i++) {
    const pi = tau64 + <usize>i * stride;
    let j = i + 1;
    for (; j + 1 < N; j += 2) {
      const pj = tau64 + <usize>j * stride;
      const pk = pj + stride;
      let gj = zero, wj = zero, nj = zero, dj = zero;
      let gk = zero, wk = zero, nk = zero, dk = zero;
      for (let o: usize = 0; o < L << 3; o += 16) {
        const xi = v128.load(pi + o);
        const ai = f64x2.abs(xi);
        const xj = v128.load(pj + o);
        const p = f64x2.mul(xi, xj);
        gj = f64x2.add(gj, p);
        const v = f64x2.pmin(ai, f64x2.abs(xj));
        wj = f64x2.add(wj, v);
        nj = f64x2.add(nj, v128.and(v, f64x2.lt(p, zero)));
        const d = f64x2.sub(xi, xj);
        dj = f64x2.add(dj, f64x2.mul(d, d));
        const xk = v128.load(pk + o);
        const q = f64x2.mul(xi, xk);
        gk = f64x2.add(gk, q);
        const w = f64x2.pmin(ai, f64x2.abs(xk));
        wk = f64x2.add(wk, w);
        nk = f64x2.add(nk, v128.and(w, f64x2.lt(q, zero)));
        const e = f64x2.sub(xi, xk);
        dk = f64x2.add(dk, f64x2.mul(e, e));
      }
      flushPair(N, i, j, gram, pairs, hsum(gj), hsum(wj), hsum(nj), hsum(dj));
      flushPair(N, i, j + 1, gram, pairs, hsum(gk), hsum(wk), hsum(nk), hsum(dk));
    }
    if (j < N) {
      const pj = tau64 + <usize>j * stride;
      let gj = zero, wj = zero, nj = zero, dj = zero;
      for (let o: usize = 0; o < L << 3; o += 16) {
        const xi = v128.load(pi + o);
        const xj = v128.load(pj + o);
        const p = f64x2.mul(xi, xj);
        gj = f64x2.add(gj, p);
        const v = f64x2.pmin(f64x2.abs(xi), f64x2.abs(xj));
        wj = f64x2.add(wj, v);
        nj = f64x2.add(nj, v128.and(v, f64x2.lt(p, zero)));
        const d = f64x2.sub(xi, xj);
        dj = f64x2.add(dj, f64x2.mul(d, d));
      }
      flushPair(N, i, j, gram, pairs, hsum(gj), hsum(wj), hsum(nj), hsum(dj));
    }
  }
}

// @ts-ignore: decorator
@inline function flushPair(N: i32, i: i32, j: i32, gram: usize, pairs: usize, g: f64, wall: f64, wdis: f64, d2: f64): void {
  const gp = gram + <usize>(i * N + j) * 8;
  store<f64>(gp, load<f64>(gp) + g);
  const o = pairs + <usize>(pairIndex(N, i, j) * PAIR_FIELDS) * 8;
  store<f64>(o + 16, load<f64>(o + 16) + (wall - wdis));
  store<f64>(o + 24, load<f64>(o + 24) + wdis);
  store<f64>(o + 48, load<f64>(o + 48) + d2);
}

/** 16 lanes' top bits (four i32x4 masks or raw values, lane order) as a 16-bit mask. */
// @ts-ignore: decorator
@inline function bits16(a: v128, b: v128, c: v128, d: v128): u64 {
  return <u64>i8x16.bitmask(i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(a, b), i16x8.narrow_i32x4_s(c, d)));
}

/**
 * Per expert, 64 positions a word: nz = [τ ≠ 0], sg = sign bit, kp = [|τ| ≥ t] (t as float32
 * bits ≥ 1, so kp implies nz). Then every pair's counts by AND/XOR + popcount, and each
 * expert's trimmed support.
 */
function signCounts(tau32: usize, N: i32, L: usize, thr: usize, masks: usize, pairs: usize, kept: usize): void {
  const W = L >> 6;
  const nzm = masks, sgm = masks + <usize>N * WORDS * 8, kpm = sgm + <usize>N * WORDS * 8;
  const abs = i32x4.splat(0x7fffffff);
  const zero = i32x4.splat(0);
  for (let i = 0; i < N; i++) {
    const t = i32x4.splat(load<i32>(thr + (<usize>i << 2)));
    const src = tau32 + <usize>i * (BLOCK << 2);
    let k: u64 = 0;
    for (let w: usize = 0; w < W; w++) {
      let nz: u64 = 0, sg: u64 = 0, kp: u64 = 0;
      for (let g: u64 = 0; g < 64; g += 16) {
        const p = src + ((w << 6) + <usize>g) * 4;
        const x0 = v128.load(p), x1 = v128.load(p, 16), x2 = v128.load(p, 32), x3 = v128.load(p, 48);
        const a0 = v128.and(x0, abs), a1 = v128.and(x1, abs), a2 = v128.and(x2, abs), a3 = v128.and(x3, abs);
        sg |= bits16(x0, x1, x2, x3) << g;
        nz |= bits16(i32x4.ne(a0, zero), i32x4.ne(a1, zero), i32x4.ne(a2, zero), i32x4.ne(a3, zero)) << g;
        kp |= bits16(i32x4.ge_s(a0, t), i32x4.ge_s(a1, t), i32x4.ge_s(a2, t), i32x4.ge_s(a3, t)) << g;
      }
      const o = (<usize>i * WORDS + w) << 3;
      store<u64>(nzm + o, nz);
      store<u64>(sgm + o, sg);
      store<u64>(kpm + o, kp);
      k += popcnt<u64>(kp);
    }
    const kd = kept + (<usize>i << 3);
    store<f64>(kd, load<f64>(kd) + <f64>k);
  }
  for (let i = 0; i < N; i++) {
    const oi = <usize>i * WORDS * 8;
    for (let j = i + 1; j < N; j++) {
      const oj = <usize>j * WORDS * 8;
      let ag: u64 = 0, nz: u64 = 0, tag: u64 = 0, tall: u64 = 0;
      for (let w: usize = 0; w < W; w++) {
        const o = w << 3;
        const both = load<u64>(nzm + oi + o) & load<u64>(nzm + oj + o);
        const pos = both & ~(load<u64>(sgm + oi + o) ^ load<u64>(sgm + oj + o));
        const kb = load<u64>(kpm + oi + o) & load<u64>(kpm + oj + o);
        nz += popcnt<u64>(both);
        ag += popcnt<u64>(pos);
        tall += popcnt<u64>(kb);
        tag += popcnt<u64>(kb & pos);
      }
      const p = pairs + <usize>(pairIndex(N, i, j) * PAIR_FIELDS) * 8;
      store<f64>(p, load<f64>(p) + <f64>ag);
      store<f64>(p + 8, load<f64>(p + 8) + <f64>(nz - ag));
      store<f64>(p + 32, load<f64>(p + 32) + <f64>tag);
      store<f64>(p + 40, load<f64>(p + 40) + <f64>(tall - tag));
    }
  }
}

/**
 * Add elements [e0, e0 + count) of N experts' task vectors into the sums.
 *   src:  (N+1) × [ptr u32, code u32], entry 0 the base (dense), then the experts
 *   thr:  N × u32 trim thresholds as float32 bit patterns (≥ 1)
 *   sums: gram N×N f64 (upper triangle and diagonal), then pairs (N(N−1)/2 × PAIR_FIELDS f64), then kept N f64
 * Returns 0, or i + 1 when expert i's task vector has a NaN/Inf in the range (nothing added
 * for that block).
 */
export function accumulate(src: usize, N: i32, e0: usize, count: usize, thr: usize, sums: usize, scratch: usize): i32 {
  return blocks(src, N, e0, count, thr, sums, scratch, true);
}

/**
 * `accumulate` with the pair arithmetic switched off: decode, form the task vectors (float32 and
 * float64 copies) and check them for NaN/Inf, block by block, exactly as `accumulate` does first.
 * The streaming front end alone, for `npm run bench`.
 */
export function streamTaus(src: usize, N: i32, e0: usize, count: usize, scratch: usize): i32 {
  return blocks(src, N, e0, count, 0, 0, scratch, false);
}

// @ts-ignore: decorator
@inline function blocks(src: usize, N: i32, e0: usize, count: usize, thr: usize, sums: usize, scratch: usize, pairSums: bool): i32 {
  const base32 = scratch;
  const tau32 = base32 + (BLOCK << 2);
  const tau64 = tau32 + <usize>N * (BLOCK << 2);
  const masks = tau64 + <usize>N * (BLOCK << 3);
  const gram = sums;
  const pairs = gram + <usize>(N * N) * 8;
  const kept = pairs + <usize>(((N * (N - 1)) >> 1) * PAIR_FIELDS) * 8;
  const basePtr = load<u32>(src), baseCode = load<u32>(src, 4);
  for (let b0: usize = 0; b0 < count; b0 += BLOCK) {
    const len = min(BLOCK, count - b0);
    const L = (len + 63) & ~63;
    decodePadded(basePtr, baseCode, e0 + b0, len, L, base32);
    for (let i = 0; i < N; i++) {
      const d = src + (<usize>(i + 1) << 3);
      if (tauBlock(load<u32>(d), load<u32>(d, 4), e0 + b0, len, L, base32, tau32 + <usize>i * (BLOCK << 2), tau64 + <usize>i * (BLOCK << 3))) return i + 1;
    }
    if (pairSums) {
      floatSums(tau64, N, L, gram, pairs);
      signCounts(tau32, N, L, thr, masks, pairs, kept);
    }
  }
  return 0;
}
