import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { FloatDType } from '../../src/types.js';
import { decodeToFloat32, encodeFloats } from '../../src/safetensors/dtype.js';
import { kernels, SOURCE_CODE } from '../../src/wasm/kernels.js';
import { sourceBlock, tauOf } from '../../src/numerics/sources.js';

/** Raw bytes of one dtype placed in the kernels' heap. */
function raw(bytes: Uint8Array): number {
  const { heap } = kernels();
  const ptr = heap.alloc(bytes.length);
  heap.u8(ptr, bytes.length).set(bytes);
  return ptr;
}

/** τ = expert − base as the kernels form it, from raw bytes of the given dtypes. */
function kernelTau(baseDtype: FloatDType, base: Uint8Array, dtype: FloatDType, expert: Uint8Array, count: number): Float32Array | null {
  const { heap } = kernels();
  return heap.scoped(() => {
    const block = sourceBlock(heap, { ptr: raw(base), code: SOURCE_CODE[baseDtype] }, [{ ptr: raw(expert), code: SOURCE_CODE[dtype] }], count);
    return tauOf(block, 0)?.slice() ?? null;
  });
}

/** Every 16-bit pattern in a shuffled order (covers ±0, subnormals, normals, ±Inf, NaNs). */
function allHalfPatterns(): Uint16Array {
  const v = new Uint16Array(65536);
  for (let i = 0; i < v.length; i++) v[i] = (i * 40503) & 0xffff;
  return v;
}

describe('WebAssembly decode (against the TypeScript decoders)', () => {
  for (const dtype of ['F16', 'BF16'] as const) {
    it(`${dtype}: all 65 536 bit patterns decode exactly (τ against a zero base; NaN/Inf reported)`, () => {
      const bits = allHalfPatterns();
      const bytes = new Uint8Array(bits.buffer);
      const ref = decodeToFloat32(dtype, bytes);
      const finite = bits.filter((_, i) => Number.isFinite(ref[i]));
      const finiteBytes = new Uint8Array(finite.buffer);
      const zero = new Uint8Array(finiteBytes.length);
      const got = kernelTau(dtype, zero, dtype, finiteBytes, finite.length)!;
      const want = decodeToFloat32(dtype, finiteBytes);
      // bit-exact, −0 included
      expect(Array.from(new Uint32Array(got.buffer))).toEqual(Array.from(new Uint32Array(want.buffer)));
      expect(kernelTau(dtype, new Uint8Array(bytes.length), dtype, bytes, bits.length)).toBeNull();
    });
  }

  it('mixed dtypes: τ = fround(θ − θ₀) for F32/F16/BF16/F64 experts over any base dtype, at any length', () => {
    const dtypes: FloatDType[] = ['F32', 'F16', 'BF16', 'F64'];
    fc.assert(
      fc.property(
        fc.constantFrom(...dtypes),
        fc.constantFrom(...dtypes),
        fc.array(fc.tuple(fc.float({ min: -4, max: 4, noNaN: true }), fc.float({ min: -4, max: 4, noNaN: true })), { minLength: 1, maxLength: 1200 }),
        (bd, ed, xs) => {
          const b = encodeFloats(bd, xs.map((p) => p[0]));
          const e = encodeFloats(ed, xs.map((p) => p[1]));
          const got = kernelTau(bd, b, ed, e, xs.length)!;
          const b32 = decodeToFloat32(bd, b);
          const e32 = decodeToFloat32(ed, e);
          const want = e32.map((v, i) => Math.fround(v - b32[i]));
          expect(Array.from(got)).toEqual(Array.from(want));
        },
      ),
      { numRuns: 60 },
    );
  });
});
