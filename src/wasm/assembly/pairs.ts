// The metrics pass's per-element work for N experts at once: every pair's float64 sums (Gram
// entry, min-magnitude-weighted sign sums, Σ(τᵢ−τⱼ)²) and, from bit-packed masks, its sign
// counts (agree / disagree, untrimmed and after trimming) plus each expert's trimmed support.
// Layout and meaning of the sums: see src/metrics/sign-agreement.ts (PAIR_FIELDS); thresholds: src/numerics/select/threshold.ts.
import { CODE_BF16, decodePadded, tauBlock } from './dtype';

/** Positions per block: N float32 + N float64 copies of a block stay in L2 while all pairs run. */
export const BLOCK: usize = 512;
const WORDS: usize = BLOCK >> 6;
export const PAIR_FIELDS: i32 = 7;

/** Bytes of scratch `accumulate` needs for N experts (base, τ float32 and float64, masks, per-expert block sums). */
export function accumulateScratch(N: i32): usize {
  return (BLOCK << 2) + <usize>N * BLOCK * 12 + <usize>N * WORDS * 24 + (<usize>N << 4);
}

// @ts-ignore: decorator
@inline function hsum(v: v128): f64 {
  return f64x2.extract_lane(v, 0) + f64x2.extract_lane(v, 1);
}

// @ts-ignore: decorator
@inline function pairIndex(N: i32, i: i32, j: i32): i32 {
  return i * N - ((i * (i + 1)) >> 1) + (j - i - 1);
}

/**
 * For every pair i < j the Gram entry and the float pair sums over [0, L), two pairs (i, j),
 * (i, j + 1) a sweep: τᵢ loaded once for both, 8 accumulators — the most V8 keeps in registers
 * (measured: 3 or 4 pairs a sweep, |τ| precomputed per expert, or the abs mask held in a
 * register all ran slower; the loop is bound by instruction throughput, not latency).
 */
function floatSums(tau64: usize, N: i32, L: usize, gram: usize, pairs: usize): void {
  const stride = BLOCK << 3;
  const zero = f64x2.splat(0);
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

/** Four float32 lanes stored as float64 at out (two f64x2); returns the lanes' squares summed pairwise. */
// @ts-ignore: decorator
@inline function widen(x: v128, out: usize): v128 {
  const lo = f64x2.promote_low_f32x4(x);
  const hi = f64x2.promote_low_f32x4(v128.shuffle<i32>(x, x, 2, 3, 2, 3));
  v128.store(out, lo);
  v128.store(out, hi, 16);
  return f64x2.add(f64x2.mul(lo, lo), f64x2.mul(hi, hi));
}

/**
 * Everything per expert for one block, in one pass over its τ: the float64 copy the pair loop
 * reads, Στ² (block diagonal, to diag[i]), and per 64 positions the masks nz = [τ ≠ 0], sg = sign
 * bit, kp = [|τ| ≥ t] (t as float32 bits ≥ 1, so kp implies nz) with the trimmed support count
 * (to kept[i]). τ comes from tau32, or — bf ≠ 0, a BF16 source at the block's first element —
 * is decoded and formed here from base32 without a float32 round trip (~8% of the kernel at 4
 * experts). Returns false when τ has a NaN/Inf: then Στ² is not finite (the square of a finite
 * float32 never overflows float64).
 */
// @ts-ignore: decorator
@inline function prepareExpert(bf: usize, base32: usize, tau32: usize, i: i32, N: i32, L: usize, t: v128, tau64: usize, masks: usize, diag: usize, kept: usize): bool {
  const nzm = masks, sgm = masks + <usize>N * WORDS * 8, kpm = sgm + <usize>N * WORDS * 8;
  const abs = i32x4.splat(0x7fffffff);
  const zero = i32x4.splat(0);
  let k: u64 = 0;
  let s0 = f64x2.splat(0), s1 = f64x2.splat(0);
  for (let w: usize = 0; w < L >> 6; w++) {
    let nz: u64 = 0, sg: u64 = 0, kp: u64 = 0;
    for (let g: u64 = 0; g < 64; g += 16) {
      const e = (w << 6) + <usize>g;
      let x0: v128, x1: v128, x2: v128, x3: v128;
      if (bf) {
        const p = bf + (e << 1), b = base32 + (e << 2);
        const u = v128.load(p), v = v128.load(p, 16);
        x0 = f32x4.sub(i32x4.shl(i32x4.extend_low_i16x8_u(u), 16), v128.load(b));
        x1 = f32x4.sub(i32x4.shl(i32x4.extend_high_i16x8_u(u), 16), v128.load(b, 16));
        x2 = f32x4.sub(i32x4.shl(i32x4.extend_low_i16x8_u(v), 16), v128.load(b, 32));
        x3 = f32x4.sub(i32x4.shl(i32x4.extend_high_i16x8_u(v), 16), v128.load(b, 48));
      } else {
        const p = tau32 + (e << 2);
        x0 = v128.load(p);
        x1 = v128.load(p, 16);
        x2 = v128.load(p, 32);
        x3 = v128.load(p, 48);
      }
      const a0 = v128.and(x0, abs), a1 = v128.and(x1, abs), a2 = v128.and(x2, abs), a3 = v128.and(x3, abs);
      sg |= bits16(x0, x1, x2, x3) << g;
      nz |= bits16(i32x4.ne(a0, zero), i32x4.ne(a1, zero), i32x4.ne(a2, zero), i32x4.ne(a3, zero)) << g;
      kp |= bits16(i32x4.ge_s(a0, t), i32x4.ge_s(a1, t), i32x4.ge_s(a2, t), i32x4.ge_s(a3, t)) << g;
      const q = tau64 + (e << 3);
      s0 = f64x2.add(s0, widen(x0, q));
      s1 = f64x2.add(s1, widen(x1, q + 32));
      s0 = f64x2.add(s0, widen(x2, q + 64));
      s1 = f64x2.add(s1, widen(x3, q + 96));
    }
    const o = (<usize>i * WORDS + w) << 3;
    store<u64>(nzm + o, nz);
    store<u64>(sgm + o, sg);
    store<u64>(kpm + o, kp);
    k += popcnt<u64>(kp);
  }
  const d = hsum(f64x2.add(s0, s1));
  store<f64>(diag + (<usize>i << 3), d);
  store<f64>(kept + (<usize>i << 3), <f64>k);
  return isFinite(d);
}

/** Every pair's sign counts from the masks `prepareExpert` built: AND/XOR + popcount, 64 positions a word. */
function signCounts(N: i32, L: usize, masks: usize, pairs: usize): void {
  const W = L >> 6;
  const nzm = masks, sgm = masks + <usize>N * WORDS * 8, kpm = sgm + <usize>N * WORDS * 8;
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
 * `accumulate` with the pair arithmetic switched off: decode, form the float32 task vectors and
 * check them for NaN/Inf, block by block. The streaming front end alone, for `npm run bench`.
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
  const diag = masks + <usize>N * WORDS * 24;
  const keptBlock = diag + (<usize>N << 3);
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
      const ptr = <usize>load<u32>(d), code = load<u32>(d, 4);
      const out32 = tau32 + <usize>i * (BLOCK << 2), out64 = tau64 + <usize>i * (BLOCK << 3);
      const t = i32x4.splat(pairSums ? load<i32>(thr + (<usize>i << 2)) : 0);
      if (pairSums && code == CODE_BF16 && len == BLOCK) {
        // whole BF16 blocks (nearly all work): τ formed inside the one per-expert pass
        if (!prepareExpert(ptr + ((e0 + b0) << 1), base32, 0, i, N, L, t, out64, masks, diag, keptBlock)) return i + 1;
      } else {
        if (tauBlock(ptr, code, e0 + b0, len, L, base32, out32, 0)) return i + 1;
        if (pairSums) prepareExpert(0, 0, out32, i, N, L, t, out64, masks, diag, keptBlock);
      }
    }
    if (pairSums) {
      // every expert's τ is finite: the block's sums go in
      for (let i = 0; i < N; i++) {
        const g = gram + <usize>(i * N + i) * 8;
        store<f64>(g, load<f64>(g) + load<f64>(diag + (<usize>i << 3)));
        const k = kept + (<usize>i << 3);
        store<f64>(k, load<f64>(k) + load<f64>(keptBlock + (<usize>i << 3)));
      }
      floatSums(tau64, N, L, gram, pairs);
      signCounts(N, L, masks, pairs);
    }
  }
  return 0;
}
