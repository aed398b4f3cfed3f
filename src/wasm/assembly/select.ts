// Exact trim thresholds (k-th largest |τ| per expert) without sorting: a stride sample gives a
// bracket [lo, hi] around the k-th value, one sweep counts the elements above hi and collects
// those inside it, and the k-th is then selected among the few collected (src/metrics/trim.ts).
// Radix histograms are the fallback when a bracket misses.
import { BLOCK } from './pairs';
import { decodePadded, tauBlock, valueAt, isDense } from './dtype';

/**
 * out[i·s + k] = |τᵢ| at element ⌊k·count/s⌋ for k < s, every expert i (sources as in
 * `accumulate`). Returns 0, or i + 1 when a sampled τᵢ is NaN/Inf.
 */
export function sampleAbs(src: usize, N: i32, count: usize, s: usize, out: usize): i32 {
  const basePtr = load<u32>(src), baseCode = load<u32>(src, 4);
  for (let i = 0; i < N; i++) {
    const d = src + (<usize>(i + 1) << 3);
    const p = load<u32>(d), code = load<u32>(d, 4);
    const dense = isDense(code);
    for (let k: usize = 0; k < s; k++) {
      const e = <usize>((<u64>k * <u64>count) / <u64>s);
      let v = valueAt(p, code, e);
      if (dense) v -= valueAt(basePtr, baseCode, e);
      if (!isFinite(v)) return i + 1;
      store<f32>(out + ((<usize>i * s + k) << 2), abs(v));
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
