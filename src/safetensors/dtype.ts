/**
 * safetensors dtypes: sizes, and exact little-endian decode/encode of the float dtypes
 * mergelens works with (F64, F32, F16, BF16). Pure functions, no I/O.
 *
 * Why hand-written: Node 20 has no Float16Array, so F16 decodes through a 65,536-entry
 * lookup table and encodes by bit manipulation (round-to-nearest-even, subnormals,
 * overflow → ±Inf, NaN kept as NaN). BF16 is the top half of a binary32.
 */
import type { FloatDType } from '../types.js';
import { MergelensError, type ErrorContext } from '../errors.js';

/** Bits per element of every dtype the safetensors spec defines (tensor.rs `Dtype`). */
export const DTYPE_BITS: Readonly<Record<string, number>> = Object.freeze({
  BOOL: 8,
  F4: 4,
  F6_E2M3: 6,
  F6_E3M2: 6,
  U8: 8,
  I8: 8,
  F8_E5M2: 8,
  F8_E4M3: 8,
  F8_E8M0: 8,
  F8_E4M3FNUZ: 8,
  F8_E5M2FNUZ: 8,
  I16: 16,
  U16: 16,
  F16: 16,
  BF16: 16,
  I32: 32,
  U32: 32,
  F32: 32,
  C64: 64,
  F64: 64,
  I64: 64,
  U64: 64,
});

export const FLOAT_DTYPES: readonly FloatDType[] = ['F64', 'F32', 'F16', 'BF16'];

/** Bytes per element of a float dtype. */
export const FLOAT_DTYPE_BYTES: Readonly<Record<FloatDType, number>> = Object.freeze({ F64: 8, F32: 4, F16: 2, BF16: 2 });

export function isKnownDType(dtype: string): boolean {
  return Object.prototype.hasOwnProperty.call(DTYPE_BITS, dtype);
}

export function isFloatDType(dtype: string): dtype is FloatDType {
  return dtype === 'F32' || dtype === 'F16' || dtype === 'BF16' || dtype === 'F64';
}

/** Alignment (element size in bytes, at least 1) used to order tensors when writing. */
export function dtypeAlignment(dtype: string): number {
  return Math.max(1, Math.floor((DTYPE_BITS[dtype] ?? 8) / 8));
}

/** The dtype as a float dtype mergelens can decode, or a named UNSUPPORTED_DTYPE error. */
export function requireFloatDType(dtype: string, ctx: ErrorContext = {}): FloatDType {
  if (isFloatDType(dtype)) return dtype;
  const known = isKnownDType(dtype);
  throw new MergelensError(
    'UNSUPPORTED_DTYPE',
    known
      ? `quantised or unsupported dtype ${dtype}: mergelens reads only float weights (F32, F16, BF16, F64)`
      : `unknown dtype "${dtype}" (not a safetensors dtype)`,
    { ...ctx, hint: ctx.hint ?? 'dequantise / convert the checkpoint to F32, F16 or BF16 safetensors first' },
  );
}

// ───────────────────────────── scalar bit conversions ─────────────────────────────

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** Bits of a number rounded to binary32. */
export function f32Bits(x: number): number {
  scratchF32[0] = x;
  return scratchU32[0];
}

export function f32FromBits(bits: number): number {
  scratchU32[0] = bits >>> 0;
  return scratchF32[0];
}

/** binary16 bits → value (exact; used to build the lookup table). */
function halfBitsToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

let f16Table: Float32Array | null = null;

/** The 65,536-entry binary16 → float32 table (built once, 256 KB). */
export function f16DecodeTable(): Float32Array {
  if (!f16Table) {
    const t = new Float32Array(65536);
    const bitsView = new Uint32Array(t.buffer);
    for (let h = 0; h < 65536; h++) {
      const exp = (h >>> 10) & 0x1f;
      const mant = h & 0x3ff;
      // NaNs: keep sign and payload (shifted into the binary32 mantissa) so they stay NaN bit-for-bit.
      if (exp === 31 && mant) bitsView[h] = ((h & 0x8000) << 16) | 0x7f800000 | (mant << 13);
      else t[h] = halfBitsToNumber(h);
    }
    f16Table = t;
  }
  return f16Table;
}

export function f16BitsToF32(h: number): number {
  return f16DecodeTable()[h & 0xffff];
}

/** binary32 bits → binary16 bits, round-to-nearest-even; overflow → ±Inf; NaN stays (quiet) NaN. */
export function f32BitsToF16Bits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return mant ? sign | 0x7e00 | (mant >>> 13) : sign | 0x7c00;
  const e = exp - 112; // rebias 127 → 15
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal half: value / 2^-24, from the 24-bit significand.
    if (e < -10) return sign; // below half the smallest subnormal → ±0
    const sig = mant | 0x800000;
    const shift = 14 - e; // 14..24
    let m = sig >>> shift;
    const rem = sig & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && m & 1)) m++; // may carry into the smallest normal: correct
    return sign | m;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++; // carry may reach 0x7c00 = Inf: correct
  return sign | h;
}

export function numberToF16Bits(x: number): number {
  return f32BitsToF16Bits(f32Bits(x));
}

/** binary32 bits → bfloat16 bits, round-to-nearest-even; NaN kept as a quiet NaN. */
export function f32BitsToBf16Bits(x: number): number {
  if ((x & 0x7fffffff) >>> 0 > 0x7f800000) return ((x >>> 16) | 0x0040) & 0xffff;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

export function numberToBf16Bits(x: number): number {
  return f32BitsToBf16Bits(f32Bits(x));
}

export function bf16BitsToF32(h: number): number {
  return f32FromBits((h & 0xffff) << 16);
}

// ───────────────────────────── bulk decode / encode ─────────────────────────────

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** True when `bytes` can be viewed as elements of `size` bytes in place (aligned, LE host). */
function viewable(bytes: Uint8Array, size: number): boolean {
  return LITTLE_ENDIAN_HOST && bytes.byteOffset % size === 0;
}

function elementCount(dtype: FloatDType, bytes: Uint8Array): number {
  const size = FLOAT_DTYPE_BYTES[dtype];
  if (bytes.byteLength % size !== 0) {
    throw new MergelensError('SIZE_MISMATCH', `${bytes.byteLength} bytes is not a whole number of ${dtype} elements`);
  }
  return bytes.byteLength / size;
}

/**
 * Decode little-endian float bytes to float32 (F64 is rounded to float32). Works for any
 * byteOffset: aligned input is read through typed-array views, unaligned through a DataView.
 * For F32 with aligned input the result is a view of `bytes` (no copy) when `mayAlias`.
 */
export function decodeToFloat32(dtype: FloatDType, bytes: Uint8Array, mayAlias = false): Float32Array {
  const n = elementCount(dtype, bytes);
  switch (dtype) {
    case 'F32': {
      if (viewable(bytes, 4)) {
        const view = new Float32Array(bytes.buffer, bytes.byteOffset, n);
        return mayAlias ? view : view.slice();
      }
      const out = new Float32Array(n);
      const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      for (let i = 0; i < n; i++) out[i] = dv.getFloat32(i * 4, true);
      return out;
    }
    case 'F16': {
      const table = f16DecodeTable();
      const out = new Float32Array(n);
      if (viewable(bytes, 2)) {
        const u16 = new Uint16Array(bytes.buffer, bytes.byteOffset, n);
        for (let i = 0; i < n; i++) out[i] = table[u16[i]];
      } else {
        for (let i = 0; i < n; i++) out[i] = table[bytes[2 * i] | (bytes[2 * i + 1] << 8)];
      }
      return out;
    }
    case 'BF16': {
      const out = new Float32Array(n);
      const outBits = new Uint32Array(out.buffer);
      if (viewable(bytes, 2)) {
        const u16 = new Uint16Array(bytes.buffer, bytes.byteOffset, n);
        for (let i = 0; i < n; i++) outBits[i] = u16[i] << 16;
      } else {
        for (let i = 0; i < n; i++) outBits[i] = ((bytes[2 * i] | (bytes[2 * i + 1] << 8)) << 16) >>> 0;
      }
      return out;
    }
    case 'F64': {
      const out = new Float32Array(n);
      if (viewable(bytes, 8)) {
        const f64 = new Float64Array(bytes.buffer, bytes.byteOffset, n);
        for (let i = 0; i < n; i++) out[i] = f64[i];
      } else {
        const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        for (let i = 0; i < n; i++) out[i] = dv.getFloat64(i * 8, true);
      }
      return out;
    }
  }
}

/** Decode to float64 (exact for every float dtype, F64 included). */
export function decodeToFloat64(dtype: FloatDType, bytes: Uint8Array): Float64Array {
  if (dtype !== 'F64') return Float64Array.from(decodeToFloat32(dtype, bytes, true));
  const n = elementCount(dtype, bytes);
  if (viewable(bytes, 8)) return new Float64Array(bytes.buffer, bytes.byteOffset, n).slice();
  const out = new Float64Array(n);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < n; i++) out[i] = dv.getFloat64(i * 8, true);
  return out;
}

/**
 * Encode values to little-endian bytes of `dtype`. F16/BF16 round from the float32 value
 * (a Float64Array input is first rounded to float32), ties to even.
 */
export function encodeFloats(dtype: FloatDType, data: ArrayLike<number>): Uint8Array {
  const n = data.length;
  const out = new Uint8Array(n * FLOAT_DTYPE_BYTES[dtype]);
  if (!LITTLE_ENDIAN_HOST) throw new Error('mergelens requires a little-endian host');
  switch (dtype) {
    case 'F32':
      new Float32Array(out.buffer).set(data);
      break;
    case 'F64':
      new Float64Array(out.buffer).set(data);
      break;
    case 'F16':
    case 'BF16': {
      const f32 = data instanceof Float32Array ? data : Float32Array.from(data);
      const bits = new Uint32Array(f32.buffer, f32.byteOffset, n);
      const u16 = new Uint16Array(out.buffer);
      if (dtype === 'F16') for (let i = 0; i < n; i++) u16[i] = f32BitsToF16Bits(bits[i]);
      else for (let i = 0; i < n; i++) u16[i] = f32BitsToBf16Bits(bits[i]);
      break;
    }
  }
  return out;
}
