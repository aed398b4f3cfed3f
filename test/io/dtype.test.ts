import { describe, expect, it } from 'vitest';
import {
  bf16BitsToF32,
  decodeToFloat32,
  decodeToFloat64,
  encodeFloats,
  f16BitsToF32,
  f16DecodeTable,
  f32Bits,
  f32BitsToBf16Bits,
  f32FromBits,
  numberToBf16Bits,
  numberToF16Bits,
  requireFloatDType,
} from '../../src/safetensors/dtype.js';
import { MergelensError } from '../../src/errors.js';
import { rng } from './raw.js';

const hex = (n: number) => '0x' + n.toString(16).padStart(4, '0');

describe('F16 encode (round-to-nearest-even) against exact bit patterns', () => {
  const cases: [number, number][] = [
    [0, 0x0000],
    [-0, 0x8000],
    [1, 0x3c00],
    [-2, 0xc000],
    [0.5, 0x3800],
    [65504, 0x7bff], // max finite
    [65519, 0x7bff], // below the midpoint to 65536 → max finite
    [65520, 0x7c00], // exact midpoint, odd mantissa → rounds up to Inf
    [1e6, 0x7c00], // overflow → Inf
    [-1e6, 0xfc00],
    [Infinity, 0x7c00],
    [-Infinity, 0xfc00],
    [2 ** -14, 0x0400], // smallest normal
    [1023 * 2 ** -24, 0x03ff], // largest subnormal
    [2 ** -24, 0x0001], // smallest subnormal
    [2 ** -25, 0x0000], // tie between 0 and 2^-24 → even (0)
    [1.5 * 2 ** -25 * 2, 0x0002], // 3·2^-25: tie between 1 and 2 units → even (2)
    [5 * 2 ** -25, 0x0002], // tie between 2 and 3 units → even (2)
    [7 * 2 ** -25, 0x0004], // tie between 3 and 4 units → even (4)
    [1.2 * 2 ** -25, 0x0001], // above the tie → up
    [2 ** -26, 0x0000], // underflow → 0
    [-(2 ** -24), 0x8001],
    [1 + 2 ** -11, 0x3c00], // tie, even mantissa kept
    [1 + 3 * 2 ** -11, 0x3c02], // tie, odd mantissa rounds up
    [1 + 2 ** -11 + 2 ** -20, 0x3c01], // just above the tie → up
    [2047 * 2 ** -25, 0x0400], // (2^-14 − 2^-25): tie between largest subnormal and smallest normal → even (normal)
    [0.1, 0x2e66],
    [1 / 3, 0x3555],
  ];
  for (const [x, bits] of cases) {
    it(`${x} → ${hex(bits)}`, () => {
      expect(hex(numberToF16Bits(x))).toBe(hex(bits));
    });
  }

  it('keeps NaN as NaN (any payload, either sign)', () => {
    for (const nanBits of [0x7fc00000, 0x7f800001, 0xffc00000, 0x7fbfffff]) {
      const h = numberToF16Bits(f32FromBits(nanBits));
      expect((h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0).toBe(true);
      expect(Number.isNaN(f16BitsToF32(h))).toBe(true);
    }
  });

  it('is the nearest half (ties to even) for 20,000 random float32 values, checked against neighbours in float64', () => {
    const r = rng(7);
    const table = f16DecodeTable();
    for (let i = 0; i < 20000; i++) {
      // random finite float32 in the half range, random exponent
      const x = Math.fround((r() * 2 - 1) * 2 ** Math.floor(r() * 42 - 26));
      const h = numberToF16Bits(x);
      const v = table[h];
      if (!Number.isFinite(v)) {
        expect(Math.abs(x)).toBeGreaterThanOrEqual(65520);
        continue;
      }
      const err = Math.abs(x - v);
      // Neighbours in magnitude (same sign); the encoded value must be at least as close.
      for (const nb of [h - 1, h + 1]) {
        if ((nb & 0x7fff) > 0x7bff || (nb & 0x8000) !== (h & 0x8000) || nb < 0) continue;
        const e2 = Math.abs(x - table[nb]);
        expect(err).toBeLessThanOrEqual(e2);
        if (err === e2) expect(h & 1).toBe(0);
      }
    }
  });
});

describe('F16 decode table', () => {
  it('has exact values for known patterns', () => {
    expect(f16BitsToF32(0x0001)).toBe(2 ** -24);
    expect(f16BitsToF32(0x03ff)).toBe(1023 * 2 ** -24);
    expect(f16BitsToF32(0x0400)).toBe(2 ** -14);
    expect(f16BitsToF32(0x7bff)).toBe(65504);
    expect(f16BitsToF32(0x3555)).toBe(0.333251953125);
    expect(f16BitsToF32(0xc000)).toBe(-2);
    expect(f16BitsToF32(0x7c00)).toBe(Infinity);
    expect(f16BitsToF32(0xfc00)).toBe(-Infinity);
    expect(Object.is(f16BitsToF32(0x8000), -0)).toBe(true);
    expect(Number.isNaN(f16BitsToF32(0x7e00))).toBe(true);
  });

  it('round-trips every one of the 65,536 half patterns (NaNs stay NaN)', () => {
    const table = f16DecodeTable();
    let nans = 0;
    for (let h = 0; h < 65536; h++) {
      const v = table[h];
      if (Number.isNaN(v)) {
        nans++;
        expect(Number.isNaN(f16BitsToF32(numberToF16Bits(v)))).toBe(true);
      } else if (numberToF16Bits(v) !== h) {
        throw new Error(`pattern ${hex(h)} decodes to ${v} which re-encodes to ${hex(numberToF16Bits(v))}`);
      }
    }
    expect(nans).toBe(2 * 1023);
  });
});

describe('BF16', () => {
  const cases: [number, number][] = [
    [0x3f800000, 0x3f80], // 1.0
    [0x3f808000, 0x3f80], // 1 + 2^-8: tie → even (stays)
    [0x3f818000, 0x3f82], // tie with odd mantissa → up
    [0x3f808001, 0x3f81], // just above the tie → up
    [0x3f807fff, 0x3f80], // just below → down
    [0x7f7fffff, 0x7f80], // float32 max rounds to +Inf
    [0x7f800000, 0x7f80], // +Inf
    [0xff800000, 0xff80], // -Inf
    [0x00000001, 0x0000], // tiny subnormal → 0
    [0x00008000, 0x0000], // subnormal tie → even 0
    [0x00018000, 0x0002], // subnormal tie, odd → up
    [0x80000000, 0x8000], // -0
    [0xc0490fdb, 0xc049], // -π
  ];
  for (const [f, b] of cases) {
    it(`${hex(f >>> 16)}|${hex(f & 0xffff)} → ${hex(b)}`, () => {
      expect(hex(f32BitsToBf16Bits(f))).toBe(hex(b));
      expect(hex(numberToBf16Bits(f32FromBits(f)))).toBe(hex(b));
    });
  }
  it('keeps NaN as NaN, including a NaN whose payload lives only in the low bits', () => {
    for (const nanBits of [0x7fc00000, 0x7f800001, 0xff800001, 0x7fffffff]) {
      const b = f32BitsToBf16Bits(nanBits);
      expect(Number.isNaN(bf16BitsToF32(b))).toBe(true);
      expect(b >>> 15).toBe(nanBits >>> 31); // sign kept
    }
  });
  it('decodes as u16 << 16', () => {
    expect(bf16BitsToF32(0x3f80)).toBe(1);
    expect(bf16BitsToF32(0xc049)).toBe(f32FromBits(0xc0490000));
    expect(f32Bits(bf16BitsToF32(0x1234))).toBe(0x12340000);
  });
});

describe('bulk decode/encode', () => {
  const values = [0, 1, -2.5, 65504, 2 ** -24, -Infinity, 3.14159, 1e-3];

  for (const dtype of ['F32', 'F64', 'F16', 'BF16'] as const) {
    it(`${dtype}: aligned and unaligned byte offsets decode identically`, () => {
      const enc = encodeFloats(dtype, Float32Array.from(values));
      const aligned = decodeToFloat32(dtype, enc);
      for (const shift of [1, 2, 3, 5]) {
        const buf = new Uint8Array(enc.length + shift);
        buf.set(enc, shift);
        const un = decodeToFloat32(dtype, buf.subarray(shift));
        expect(Array.from(un)).toEqual(Array.from(aligned));
        expect(Array.from(decodeToFloat64(dtype, buf.subarray(shift)))).toEqual(Array.from(decodeToFloat64(dtype, enc)));
      }
      // scalar-path reference
      const ref = values.map((v) =>
        dtype === 'F16' ? f16BitsToF32(numberToF16Bits(v)) : dtype === 'BF16' ? bf16BitsToF32(numberToBf16Bits(v)) : Math.fround(v),
      );
      expect(Array.from(aligned)).toEqual(ref);
    });
  }

  it('F64 decodes exactly to float64 (0.1 stays 0.1)', () => {
    const enc = encodeFloats('F64', [0.1, 1 / 3]);
    expect(Array.from(decodeToFloat64('F64', enc))).toEqual([0.1, 1 / 3]);
    expect(decodeToFloat32('F64', enc)[0]).toBe(Math.fround(0.1));
  });

  it('encodes little-endian (F32 1.0 = 00 00 80 3f, F16 1.0 = 00 3c, BF16 1.0 = 80 3f)', () => {
    expect(Array.from(encodeFloats('F32', [1]))).toEqual([0, 0, 0x80, 0x3f]);
    expect(Array.from(encodeFloats('F16', [1]))).toEqual([0, 0x3c]);
    expect(Array.from(encodeFloats('BF16', [1]))).toEqual([0x80, 0x3f]);
  });
});

describe('unsupported dtypes', () => {
  for (const d of ['F8_E4M3', 'F8_E5M2', 'F4', 'F6_E2M3', 'I8', 'U8', 'I64', 'BOOL']) {
    it(`${d} → UNSUPPORTED_DTYPE naming the dtype`, () => {
      let err: unknown;
      try {
        requireFloatDType(d, { file: 'x.safetensors', tensor: 'w' });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(MergelensError);
      expect((err as MergelensError).code).toBe('UNSUPPORTED_DTYPE');
      expect((err as MergelensError).message).toContain(`quantised or unsupported dtype ${d}`);
      expect((err as MergelensError).message).toContain('x.safetensors');
      expect((err as MergelensError).message).toContain('"w"');
    });
  }
});
