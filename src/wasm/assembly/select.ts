// Exact trim thresholds (k-th largest |τ| per expert) without sorting: a stride sample gives a
// bracket [lo, hi] around the k-th value, one sweep counts the elements above hi and collects
// those inside it, and the k-th is then selected among the few collected (src/metrics/trim.ts).
// Radix histograms are the fallback when a bracket misses.
import { BLOCK } from './pairs';
import { decodePadded, tauBlock, valueAt, isDense } from './dtype';

/** Contiguous elements per sample run: one or two cache lines per source, decoded with SIMD. */
const RUN: usize = 16;

/**
 * out[i·s + k] = |τᵢ| at s elements (s a multiple of 16, ≤ count) in s/16 runs of 16
 * contiguous elements spread evenly over [0, count), for every expert i (sources as in
 * `accumulate`; with s = count, every element in order). Returns 0, or i + 1 when a sampled τᵢ
 * is NaN/Inf.
 */
export function sampleAbs(src: usize, N: i32, count: usize, s: usize, out: usize, scratch: usize): i32 {
  const basePtr = load<u32>(src), baseCode = load<u32>(src, 4);
  const base32 = scratch, tau32 = scratch + (RUN << 2);
  const runs = s / RUN;
  const step = <f64>count / <f64>runs;
  const absMask = i32x4.splat(0x7fffffff);
  for (let j: usize = 0; j < runs; j++) {
    const e0 = min(<usize>(<f64>j * step), count - RUN);
    decodePadded(basePtr, baseCode, e0, RUN, RUN, base32);
    for (let i = 0; i < N; i++) {
      const d = src + (<usize>(i + 1) << 3);
      if (tauBlock(load<u32>(d), load<u32>(d, 4), e0, RUN, RUN, base32, tau32, 0)) return i + 1;
      const row = out + ((<usize>i * s + j * RUN) << 2);
      for (let l: usize = 0; l < RUN << 2; l += 16) v128.store(row + l, v128.and(v128.load(tau32 + l), absMask));
    }
  }
  return 0;
}

/** Bytes of scratch `bracketSweep` / `histogramSweep` need. */
export function sweepScratch(): usize {
  return BLOCK << 3;
}

/**
 * One sweep over elements [e0, e0 + count) for every expert i with a bracket (spec entry of
 * 32 bytes: hi u32, lo u32, collect ptr u32, capacity u32, collected u32, pad u32, above f64;
 * hi < 0 skips the expert): above += #{|τᵢ| > hi}, and the bit patterns of |τᵢ| within
 * [lo, hi] are appended at the collect pointer (collected counts them all, also beyond the
 * capacity, so the caller can tell an overflow). Bounds are float32 bit patterns of |τ|.
 * Returns 0, or i + 1 when τᵢ has a NaN/Inf in the range.
 */
export function bracketSweep(src: usize, N: i32, e0: usize, count: usize, spec: usize, scratch: usize): i32 {
  const base32 = scratch;
  const tau32 = scratch + (BLOCK << 2);
  const basePtr = load<u32>(src), baseCode = load<u32>(src, 4);
  const absMask = i32x4.splat(0x7fffffff);
  for (let b0: usize = 0; b0 < count; b0 += BLOCK) {
    const len = min(BLOCK, count - b0);
    const L = (len + 3) & ~3;
    decodePadded(basePtr, baseCode, e0 + b0, len, L, base32);
    for (let i = 0; i < N; i++) {
      const sp = spec + (<usize>i << 5);
      const hiBits = load<i32>(sp);
      if (hiBits < 0) continue;
      const d = src + (<usize>(i + 1) << 3);
      if (tauBlock(load<u32>(d), load<u32>(d, 4), e0 + b0, len, L, base32, tau32, 0)) return i + 1;
      const hi = i32x4.splat(hiBits), lo = i32x4.splat(load<i32>(sp, 4));
      const col = <usize>load<u32>(sp, 8), cap = load<u32>(sp, 12);
      let n = load<u32>(sp, 16);
      let above = i32x4.splat(0);
      for (let e: usize = 0; e < L; e += 4) {
        const a = v128.and(v128.load(tau32 + (e << 2)), absMask);
        const gt = i32x4.gt_s(a, hi);
        above = i32x4.sub(above, gt);
        const inside = v128.andnot(i32x4.ge_s(a, lo), gt);
        if (v128.any_true(inside)) {
          for (let l: usize = 0; l < 4 && e + l < len; l++) {
            const x = load<i32>(tau32 + ((e + l) << 2)) & 0x7fffffff;
            if (x >= load<i32>(sp, 4) && x <= hiBits) {
              if (n < cap) store<i32>(col + (<usize>n << 2), x);
              n++;
            }
          }
        }
      }
      store<u32>(sp, n, 16);
      const ab = i32x4.extract_lane(above, 0) + i32x4.extract_lane(above, 1) + i32x4.extract_lane(above, 2) + i32x4.extract_lane(above, 3);
      store<f64>(sp, load<f64>(sp, 24) + <f64>ab, 24);
    }
  }
  return 0;
}

/**
 * Radix histogram of expert i's |τ| over elements [e0, e0 + count): with hiBin < 0, hist
 * (32768 u32) counts bits 16..30 of |τ|'s pattern; otherwise hist (65536 u32) counts the low
 * 16 bits of the elements whose bits 16..30 equal hiBin. Returns 1 on a NaN/Inf, else 0.
 */
export function histogramSweep(src: usize, i: i32, e0: usize, count: usize, hiBin: i32, hist: usize, scratch: usize): i32 {
  const base32 = scratch;
  const tau32 = scratch + (BLOCK << 2);
  const basePtr = load<u32>(src), baseCode = load<u32>(src, 4);
  const d = src + (<usize>(i + 1) << 3);
  for (let b0: usize = 0; b0 < count; b0 += BLOCK) {
    const len = min(BLOCK, count - b0);
    const L = (len + 3) & ~3;
    decodePadded(basePtr, baseCode, e0 + b0, len, L, base32);
    if (tauBlock(load<u32>(d), load<u32>(d, 4), e0 + b0, len, L, base32, tau32, 0)) return 1;
    for (let e: usize = 0; e < len; e++) {
      const x = load<u32>(tau32 + (e << 2)) & 0x7fffffff;
      const h = x >>> 16;
      if (hiBin < 0) {
        const p = hist + (<usize>h << 2);
        store<u32>(p, load<u32>(p) + 1);
      } else if (<i32>h == hiBin) {
        const p = hist + (<usize>(x & 0xffff) << 2);
        store<u32>(p, load<u32>(p) + 1);
      }
    }
  }
  return 0;
}

/**
 * τᵢ over elements [e0, e0 + count) into out (float32; out must hold count rounded up to a
 * multiple of 4). Returns 1 on a NaN/Inf, else 0.
 */
export function tauRange(src: usize, i: i32, e0: usize, count: usize, out: usize, scratch: usize): i32 {
  const base32 = scratch;
  const basePtr = load<u32>(src), baseCode = load<u32>(src, 4);
  const d = src + (<usize>(i + 1) << 3);
  for (let b0: usize = 0; b0 < count; b0 += BLOCK) {
    const len = min(BLOCK, count - b0);
    const L = (len + 3) & ~3;
    decodePadded(basePtr, baseCode, e0 + b0, len, L, base32);
    if (tauBlock(load<u32>(d), load<u32>(d, 4), e0 + b0, len, L, base32, out + (b0 << 2), 0)) return 1;
  }
  return 0;
}

const HI_BINS: usize = 1 << 15;
const LO_BINS: usize = 1 << 16;

/** Histogram of bits 16..30 of n non-negative float32 bit patterns (hist: HI_BINS u32, cleared here). */
function histHi(ptr: usize, n: usize, hist: usize): void {
  memory.fill(hist, 0, HI_BINS << 2);
  for (let e: usize = 0; e < n; e++) {
    const h = hist + (<usize>(load<u32>(ptr + (e << 2)) >>> 16) << 2);
    store<u32>(h, load<u32>(h) + 1);
  }
}

/**
 * The k-th largest (1-based, clamped to [1, n]) of n non-negative float32 values given as bit
 * patterns, exactly: radix select on bits 16..30, then on the low 16 bits inside that bin.
 * hist: LO_BINS u32 of scratch. Returns the bit pattern (0 for n = 0).
 */
export function selectAbs(ptr: usize, n: usize, k: usize, hist: usize): u32 {
  if (n == 0) return 0;
  let rank = min(max(k, 1), n);
  histHi(ptr, n, hist);
  let hi = HI_BINS - 1;
  for (;;) {
    const c = <usize>load<u32>(hist + (hi << 2));
    if (c >= rank) break;
    rank -= c;
    hi--;
  }
  memory.fill(hist, 0, LO_BINS << 2);
  for (let e: usize = 0; e < n; e++) {
    const b = load<u32>(ptr + (e << 2));
    if (<usize>(b >>> 16) == hi) {
      const h = hist + (<usize>(b & 0xffff) << 2);
      store<u32>(h, load<u32>(h) + 1);
    }
  }
  let lo = LO_BINS - 1;
  for (;;) {
    const c = <usize>load<u32>(hist + (lo << 2));
    if (c >= rank) break;
    rank -= c;
    lo--;
  }
  return <u32>((hi << 16) | lo);
}

/**
 * A bracket around ranks rHi ≤ rLo (1-based, from the top) of n non-negative float32 bit
 * patterns, at the resolution of bits 16..30 (bins 1/128 of an octave wide): out[0] = the
 * largest pattern of the bin holding rank rHi (fewer than rHi values lie above it), out[1] = the
 * smallest pattern of the bin holding rank rLo (at least rLo values lie at or above it); u32 each.
 */
export function bracketBins(ptr: usize, n: usize, rHi: usize, rLo: usize, hist: usize, out: usize): void {
  histHi(ptr, n, hist);
  let seen: usize = 0;
  let b = <isize>HI_BINS - 1;
  while (b >= 0 && seen + <usize>load<u32>(hist + (<usize>b << 2)) < rHi) seen += <usize>load<u32>(hist + (<usize>(b--) << 2));
  store<u32>(out, b < 0 ? 0 : (<u32>b << 16) | 0xffff);
  while (b >= 0 && seen + <usize>load<u32>(hist + (<usize>b << 2)) < rLo) seen += <usize>load<u32>(hist + (<usize>(b--) << 2));
  store<u32>(out, b < 0 ? 0 : <u32>b << 16, 4);
}
