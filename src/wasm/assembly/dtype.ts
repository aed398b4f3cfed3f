// Source codes: how a block of elements is turned into float32. Dense dtypes are checkpoint
// weights (θ, minus the base's for a task vector); TAU is an already-formed float32 task vector
// (a LoRA delta made dense, or an in-memory τ); ZERO is an expert that leaves a tensor alone.
export const CODE_F32: u32 = 0;
export const CODE_F16: u32 = 1;
export const CODE_BF16: u32 = 2;
export const CODE_F64: u32 = 3;
export const CODE_TAU: u32 = 4;
export const CODE_ZERO: u32 = 5;
/** float32 ΔW of a LoRA expert: the weight is fround(θ₀ + ΔW) (merge kernels only: src/wasm/assembly/merge.ts). */
export const CODE_DELTA: u32 = 6;

/** Weights θ (base subtracted to form τ), as opposed to TAU / ZERO sources. */
// @ts-ignore: decorator
@inline export function isDense(code: u32): bool {
  return code <= CODE_F64;
}

/** 2^112: rescales an f16 exponent/mantissa placed at the f32 position (normals and subnormals alike). */
const F16_SCALE: f32 = 5.192296858534828e33;

// @ts-ignore: decorator
@inline function f16Bits(h: u32): u32 {
  const s = (h & 0x8000) << 16;
  const em = h & 0x7fff;
  if (em >= 0x7c00) return s | 0x7f800000 | ((em & 0x3ff) << 13);
  return s | reinterpret<u32>(reinterpret<f32>(em << 13) * F16_SCALE);
}

/** Four f16 (as i32 lanes) → four f32, exactly (subnormals, ±Inf and NaN included). */
// @ts-ignore: decorator
@inline function f16x4(h: v128): v128 {
  const s = i32x4.shl(v128.and(h, i32x4.splat(0x8000)), 16);
  const em = v128.and(h, i32x4.splat(0x7fff));
  const sh = i32x4.shl(em, 13);
  const f = f32x4.mul(sh, f32x4.splat(F16_SCALE));
  const special = i32x4.gt_s(em, i32x4.splat(0x7bff));
  return v128.or(v128.bitselect(v128.or(sh, i32x4.splat(0x7f800000)), f, special), s);
}

/** One element e of a source as float32 (exact for F32/F16/BF16; F64 rounds to nearest). */
// @ts-ignore: decorator
@inline export function valueAt(src: usize, code: u32, e: usize): f32 {
  if (code == CODE_F32 || code == CODE_TAU) return load<f32>(src + (e << 2));
  if (code == CODE_BF16) return reinterpret<f32>(<u32>load<u16>(src + (e << 1)) << 16);
  if (code == CODE_F16) return reinterpret<f32>(f16Bits(<u32>load<u16>(src + (e << 1))));
  if (code == CODE_F64) return <f32>load<f64>(src + (e << 3));
  return 0;
}

/** out[0, len) = elements [e0, e0 + len) of a source as float32. */
export function decodeBlock(src: usize, code: u32, e0: usize, len: usize, out: usize): void {
  let i: usize = 0;
  if (code == CODE_F32 || code == CODE_TAU) {
    memory.copy(out, src + (e0 << 2), len << 2);
  } else if (code == CODE_BF16) {
    const p = src + (e0 << 1);
    for (; i + 8 <= len; i += 8) {
      const v = v128.load(p + (i << 1));
      v128.store(out + (i << 2), i32x4.shl(i32x4.extend_low_i16x8_u(v), 16));
      v128.store(out + (i << 2), i32x4.shl(i32x4.extend_high_i16x8_u(v), 16), 16);
    }
    for (; i < len; i++) store<u32>(out + (i << 2), <u32>load<u16>(p + (i << 1)) << 16);
  } else if (code == CODE_F16) {
    const p = src + (e0 << 1);
    for (; i + 8 <= len; i += 8) {
      const v = v128.load(p + (i << 1));
      v128.store(out + (i << 2), f16x4(i32x4.extend_low_i16x8_u(v)));
      v128.store(out + (i << 2), f16x4(i32x4.extend_high_i16x8_u(v)), 16);
    }
    for (; i < len; i++) store<u32>(out + (i << 2), f16Bits(<u32>load<u16>(p + (i << 1))));
  } else if (code == CODE_F64) {
    const p = src + (e0 << 3);
    for (; i < len; i++) store<f32>(out + (i << 2), <f32>load<f64>(p + (i << 3)));
  } else {
    memory.fill(out, 0, len << 2);
  }
}

/** decodeBlock, then zeros from len up to L (blocks are padded to whole SIMD groups / mask words). */
export function decodePadded(src: usize, code: u32, e0: usize, len: usize, L: usize, out: usize): void {
  decodeBlock(src, code, e0, len, out);
  if (L > len) memory.fill(out + (len << 2), 0, (L - len) << 2);
}

const EXP_MASK: i32 = 0x7f800000;

/**
 * τ for one block: out32[0, L) = decode(src)[e0, e0 + len) − base32 (dense sources; TAU as is,
 * ZERO zeros), zero-padded from len to L (L a multiple of 4, base32 padded likewise); with
 * out64 ≠ 0 also the float64 copy. Returns true when τ has a NaN/Inf in [0, len).
 */
export function tauBlock(src: usize, code: u32, e0: usize, len: usize, L: usize, base32: usize, out32: usize, out64: usize): bool {
  // BF16 in whole groups of 8: decode, subtract and store in one loop (no float32 round trip)
  let i: usize = 0;
  let bad = i32x4.splat(0);
  if (code == CODE_BF16) {
    const p = src + (e0 << 1);
    for (; i + 8 <= len; i += 8) {
      const v = v128.load(p + (i << 1));
      bad = v128.or(bad, tauStore(f32x4.sub(i32x4.shl(i32x4.extend_low_i16x8_u(v), 16), v128.load(base32 + (i << 2))), i, out32, out64));
      bad = v128.or(bad, tauStore(f32x4.sub(i32x4.shl(i32x4.extend_high_i16x8_u(v), 16), v128.load(base32 + (i << 2), 16)), i + 4, out32, out64));
    }
  }
  // the rest (other dtypes, tails): decode to float32 first
  if (i < L) {
    decodePadded(src, code, e0 + i, len - i, L - i, out32 + (i << 2));
    const dense = isDense(code);
    for (; i < L; i += 4) {
      let x = v128.load(out32 + (i << 2));
      if (dense) x = f32x4.sub(x, v128.load(base32 + (i << 2)));
      bad = v128.or(bad, tauStore(x, i, out32, out64));
    }
  }
  return v128.any_true(bad);
}

/** Store four τ values at element i (float32, and float64 when out64 ≠ 0); their NaN/Inf lanes. */
// @ts-ignore: decorator
@inline function tauStore(x: v128, i: usize, out32: usize, out64: usize): v128 {
  v128.store(out32 + (i << 2), x);
  if (out64) {
    v128.store(out64 + (i << 3), f64x2.promote_low_f32x4(x));
    v128.store(out64 + (i << 3), f64x2.promote_low_f32x4(v128.shuffle<i32>(x, x, 2, 3, 2, 3)), 16);
  }
  const em = i32x4.splat(EXP_MASK);
  return i32x4.eq(v128.and(x, em), em);
}
