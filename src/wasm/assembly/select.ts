// Exact trim thresholds (k-th largest |τ| per expert) without sorting: a stride sample gives a
// bracket [lo, hi] around the k-th value, one sweep counts the elements above hi and collects
// those inside it, and the k-th is then selected among the few collected (src/numerics/select/trim.ts).
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

/** Bytes of one expert's entry in a `bracketSweep` spec. */
const BRACKET_SPEC: usize = 48;
export function bracketSpecBytes(): usize {
  return BRACKET_SPEC;
}

/**
 * One sweep over elements [e0, e0 + count) for every expert i with a bracket [lo, hi] of |τᵢ|
 * (float32 bit patterns; spec entry of BRACKET_SPEC bytes: hi u32, lo u32, out ptr u32,
 * capacity u32, collected u32, equal-hi u32, equal-lo u32, pad, above f64; hi < 0 skips the
 * expert). It adds #{|τᵢ| > hi} to above, counts |τᵢ| = hi and |τᵢ| = lo (a tie at either end
 * costs nothing, however many: BF16 task vectors take few distinct values), and appends the bit
 * patterns strictly between lo and hi at out (collected counts them all, also beyond the
 * capacity, so the caller can tell an overflow). Returns 0, or i + 1 when τᵢ has a NaN/Inf.
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
      const sp = spec + <usize>i * BRACKET_SPEC;
      const hiBits = load<i32>(sp);
      if (hiBits < 0) continue;
      const d = src + (<usize>(i + 1) << 3);
      if (tauBlock(load<u32>(d), load<u32>(d, 4), e0 + b0, len, L, base32, tau32, 0)) return i + 1;
      const loBits = load<i32>(sp, 4);
      const hi = i32x4.splat(hiBits), lo = i32x4.splat(loBits);
      const out = <usize>load<u32>(sp, 8), cap = load<u32>(sp, 12);
      let n = load<u32>(sp, 16);
      let above = i32x4.splat(0), eqHi = i32x4.splat(0), eqLo = i32x4.splat(0);
      // padding lanes are |τ| = 0: they can only meet a bracket whose lo is 0, corrected below
      for (let e: usize = 0; e < L; e += 4) {
        const a = v128.and(v128.load(tau32 + (e << 2)), absMask);
        above = i32x4.sub(above, i32x4.gt_s(a, hi));
        eqHi = i32x4.sub(eqHi, i32x4.eq(a, hi));
        eqLo = i32x4.sub(eqLo, i32x4.eq(a, lo));
        if (v128.any_true(v128.and(i32x4.gt_s(a, lo), i32x4.lt_s(a, hi)))) {
          for (let l: usize = 0; l < 4; l++) {
            const x = load<i32>(tau32 + ((e + l) << 2)) & 0x7fffffff;
            if (x > loBits && x < hiBits) {
              if (n < cap) store<i32>(out + (<usize>n << 2), x);
              n++;
            }
          }
        }
      }
      const pad = <i32>(L - len);
      store<u32>(sp, n, 16);
      store<i32>(sp, load<i32>(sp, 20) + sum4(eqHi) - (hiBits == 0 ? pad : 0), 20);
      store<i32>(sp, load<i32>(sp, 24) + sum4(eqLo) - (loBits == 0 ? pad : 0), 24);
      store<f64>(sp, load<f64>(sp, 32) + <f64>sum4(above), 32);
    }
  }
  return 0;
}

// @ts-ignore: decorator
@inline function sum4(v: v128): i32 {
  return i32x4.extract_lane(v, 0) + i32x4.extract_lane(v, 1) + i32x4.extract_lane(v, 2) + i32x4.extract_lane(v, 3);
}

/**
 * Radix histogram of expert i's |τ| over elements [e0, e0 + count): with hiBin < 0, hist
 * (32768 u32) counts bits 16..30 of |τ|'s pattern; otherwise hist (65536 u32) counts the low
 * 16 bits of the elements whose bits 16..30 equal hiBin. Returns 1 on a NaN/Inf, else 0.
 */
export function histogramSweep(src: usize, i: i32, e0: usize, count: usize, hiBin: i32, hist: usize, scratch: usize): i32 {
  const tau32 = scratch + (BLOCK << 2);
  for (let b0: usize = 0; b0 < count; b0 += BLOCK) {
    const len = min(BLOCK, count - b0);
    if (expertTau(src, i, e0 + b0, len, scratch, tau32)) return 1;
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
  for (let b0: usize = 0; b0 < count; b0 += BLOCK) {
    if (expertTau(src, i, e0 + b0, min(BLOCK, count - b0), scratch, out + (b0 << 2))) return 1;
  }
  return 0;
}

/**
 * τᵢ (float32) of one block of len ≤ BLOCK elements from e into out32, padded with zeros to a
 * multiple of 4; the base is decoded into base32 first. Returns true on a NaN/Inf.
 */
// @ts-ignore: decorator
@inline function expertTau(src: usize, i: i32, e: usize, len: usize, base32: usize, out32: usize): bool {
  const L = (len + 3) & ~3;
  decodePadded(load<u32>(src), load<u32>(src, 4), e, len, L, base32);
  const d = src + (<usize>(i + 1) << 3);
  return tauBlock(load<u32>(d), load<u32>(d, 4), e, len, L, base32, out32, 0);
}

const HI_BINS: usize = 1 << 15;
const LO_BINS: usize = 1 << 16;

/** Bytes of scratch `selectAbs` / `select2Abs` need (a 65 536-bin histogram and a few words). */
export function selectScratch(): usize {
  return (LO_BINS << 2) + 16;
}

/** Histogram of bits 16..30 of n float32 bit patterns, sign ignored (hist: HI_BINS u32, cleared here). */
function histHi(ptr: usize, n: usize, hist: usize): void {
  memory.fill(hist, 0, HI_BINS << 2);
  for (let e: usize = 0; e < n; e++) {
    const h = hist + (<usize>((load<u32>(ptr + (e << 2)) & 0x7fffffff) >>> 16) << 2);
    store<u32>(h, load<u32>(h) + 1);
  }
}

/** Walk a histogram down from its top bin until `rank` is reached: the bin, and the rank left inside it. */
// @ts-ignore: decorator
@inline function walk(hist: usize, top: usize, rank: usize, out: usize): void {
  let b = top;
  for (;;) {
    const c = <usize>load<u32>(hist + (b << 2));
    if (c >= rank || b == 0) break;
    rank -= c;
    b--;
  }
  store<u32>(out, <u32>b);
  store<u32>(out, <u32>rank, 4);
}

/** The rank-th largest (1 ≤ rank ≤ count in the bin) of the patterns whose bits 16..30 are `bin`. */
function inBin(ptr: usize, n: usize, bin: usize, rank: usize, hist: usize, tmp: usize): u32 {
  memory.fill(hist, 0, LO_BINS << 2);
  for (let e: usize = 0; e < n; e++) {
    const b = load<u32>(ptr + (e << 2)) & 0x7fffffff;
    if (<usize>(b >>> 16) == bin) {
      const h = hist + (<usize>(b & 0xffff) << 2);
      store<u32>(h, load<u32>(h) + 1);
    }
  }
  walk(hist, LO_BINS - 1, rank, tmp);
  return <u32>((bin << 16) | <usize>load<u32>(tmp));
}

/**
 * The k-th largest |v| (1-based, clamped to [1, n]) of n float32 values given as bit patterns
 * (sign ignored), exactly: radix select on bits 16..30, then on the low 16 bits inside that bin.
 * hist: LO_BINS u32 of scratch, plus 16 bytes. Returns the bit pattern (0 for n = 0).
 */
export function selectAbs(ptr: usize, n: usize, k: usize, hist: usize): u32 {
  if (n == 0) return 0;
  const tmp = hist + (LO_BINS << 2);
  histHi(ptr, n, hist);
  walk(hist, HI_BINS - 1, min(max(k, 1), n), tmp);
  return inBin(ptr, n, <usize>load<u32>(tmp), <usize>load<u32>(tmp, 4), hist, tmp);
}

/**
 * A bracket around the k1-th and k2-th largest (k1 ≤ k2, both in [1, n]) of n float32 |v| bit
 * patterns from one histogram of their bits 16..30 (exponent and 7 mantissa bits: bins 0.8 %
 * wide): out[0] = hi, the largest value in the k1-th's bin; out[1] = lo, the smallest in the
 * k2-th's bin (values of the sample, so a heavy tie there is counted by the sweep, not
 * collected); out[2] = how many of the n lie in [lo, hi]. Only the bins are needed — the sweep
 * that uses the bracket counts exactly — so the two low-bit passes of an exact select are
 * skipped. Scratch as selectAbs.
 */
export function bracketAbs(ptr: usize, n: usize, k1: usize, k2: usize, hist: usize, out: usize): void {
  const tmp = hist + (LO_BINS << 2);
  histHi(ptr, n, hist);
  walk(hist, HI_BINS - 1, k1, tmp);
  const b1 = <usize>load<u32>(tmp);
  walk(hist, b1, k2 - k1 + <usize>load<u32>(tmp, 4), tmp);
  const b2 = <usize>load<u32>(tmp);
  let inside: u32 = 0;
  for (let b = b2; b <= b1; b++) inside += load<u32>(hist + (b << 2));
  // the extreme values inside the bins' range [b2 << 16, (b1 << 16) | 0xffff]
  const top = <i32>((b1 << 16) | 0xffff), bottom = <i32>(b2 << 16);
  const topV = i32x4.splat(top), bottomV = i32x4.splat(bottom), absMask = i32x4.splat(0x7fffffff);
  let hi = i32x4.splat(-1), lo = i32x4.splat(0x7fffffff);
  let e: usize = 0;
  for (; e + 4 <= n; e += 4) {
    const v = v128.and(v128.load(ptr + (e << 2)), absMask);
    const keep = v128.and(i32x4.ge_s(v, bottomV), i32x4.le_s(v, topV));
    hi = i32x4.max_s(hi, v128.bitselect(v, i32x4.splat(-1), keep));
    lo = i32x4.min_s(lo, v128.bitselect(v, absMask, keep));
  }
  let h = max(max(i32x4.extract_lane(hi, 0), i32x4.extract_lane(hi, 1)), max(i32x4.extract_lane(hi, 2), i32x4.extract_lane(hi, 3)));
  let l = min(min(i32x4.extract_lane(lo, 0), i32x4.extract_lane(lo, 1)), min(i32x4.extract_lane(lo, 2), i32x4.extract_lane(lo, 3)));
  for (; e < n; e++) {
    const v = load<i32>(ptr + (e << 2)) & 0x7fffffff;
    if (v >= bottom && v <= top) {
      h = max(h, v);
      l = min(l, v);
    }
  }
  store<u32>(out, <u32>h);
  store<u32>(out, <u32>l, 4);
  store<u32>(out, inside, 8);
}
