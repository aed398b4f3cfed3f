/**
 * The fused merge kernel's pieces against independent references: the in-kernel encoders against
 * the writer's TypeScript ones on every kind of float32 pattern; DARE's in-kernel draws against
 * the TypeScript xoshiro stream, for any split of a tensor into chunks; the TIES cut counts of
 * trimThresholds against a sort.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { encodeFloats } from '../../src/safetensors/dtype.js';
import { kernels, SOURCE_CODE } from '../../src/wasm/kernels.js';
import { tensorRandomAt, tensorStateAt } from '../../src/merge/random.js';
import { randomDrop } from '../../src/merge/sparsify.js';
import { sampleBlock, trimThresholds } from '../../src/numerics/select/trim.js';
import { tauSources } from '../../src/numerics/sources.js';
import { keepCount } from '../../src/numerics/select/threshold.js';

/** float32 bit patterns of every class: ±0, subnormals, normals near each rounding boundary, ±Inf, NaNs. */
function patterns(): Uint32Array {
  const out: number[] = [0, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0x7f800001, 0xffffffff, 0x00000001, 0x007fffff, 0x477fe000, 0x477fefff, 0x477ff000, 0x38800000, 0x33800000, 0x337fffff];
  let s = 12345;
  for (let i = 0; i < 200_000; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const r = (s ^ (s >>> 13)) >>> 0;
    // low 16 bits near the BF16 halfway point, and exponents across the F16 range, half the time
    out.push(i % 2 ? r : ((r & 0x80000000) | (((r >>> 8) % 60) + 96) << 23 | (r & 0x7fffff)) >>> 0, ((r & 0xffff0000) | 0x8000) >>> 0);
  }
  return Uint32Array.from(out);
}

describe('encodeBlock (kernel) = encodeFloats (writer)', () => {
  for (const dtype of ['BF16', 'F16', 'F32'] as const) {
    it(`${dtype}, round to nearest even, NaN/Inf/subnormals included`, () => {
      const bits = patterns();
      const x = new Float32Array(bits.buffer);
      const { exports, heap } = kernels();
      const got = heap.scoped(() => {
        const src = heap.alloc(x.length * 4);
        heap.u32(src, bits.length).set(bits);
        const size = dtype === 'F32' ? 4 : 2;
        const out = heap.alloc(x.length * size);
        exports.encodeBlock(src, x.length, SOURCE_CODE[dtype], out);
        return heap.u8(out, x.length * size).slice();
      });
      expect(Buffer.from(got).equals(Buffer.from(encodeFloats(dtype, x)))).toBe(true);
    });
  }
});

/** The kernel's DARE drop of τ (elements start… of expert e's stream), in pieces of the given sizes. */
function kernelDrop(tau: Float32Array, seed: number, name: string, offset: number, density: number, scale: number, pieces: number[]): Float32Array {
  const { exports, heap } = kernels();
  return heap.scoped(() => {
    const x = heap.alloc(tau.length * 4);
    heap.f32(x, tau.length).set(tau);
    const st = heap.alloc(16);
    let at = 0;
    for (const len of pieces) {
      // each piece starts from its own jumped state, as a chunk (or another thread) would
      heap.u32(st, 4).set(tensorStateAt(seed, name, offset + at));
      exports.dareDrop(x + at * 4, len, st, density * 2 ** 32, scale);
      at += len;
    }
    return heap.f32(x, tau.length).slice();
  });
}

describe('dareDrop (kernel): the TypeScript stream, whatever the chunking', () => {
  it('equals randomDrop with tensorRandomAt for any split into chunks', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3000 }),
        fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 8 }),
        fc.double({ min: 0.01, max: 0.99, noNaN: true }),
        fc.integer({ min: 0, max: 2 ** 40 }),
        fc.integer({ min: 0, max: 1e9 }),
        (n, cuts, density, seed, offset) => {
          const tau = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.7) * 1e-2);
          const pieces: number[] = [];
          let left = n;
          for (const c of cuts) {
            if (left <= 0) break;
            pieces.push(Math.min(c, left));
            left -= Math.min(c, left);
          }
          if (left > 0) pieces.push(left);
          const want = randomDrop(tau, density, tensorRandomAt(seed, 'layer.w', offset), 'inverse');
          const got = kernelDrop(tau, seed, 'layer.w', offset, density, 1 / density, pieces);
          expect(Buffer.from(got.buffer).equals(Buffer.from(want.buffer))).toBe(true);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('keeps a density fraction (binomial bounds) and rescales survivors by 1/density', () => {
    const n = 200_000;
    const tau = new Float32Array(n).fill(0.5);
    const out = kernelDrop(tau, 3, 'w', 0, 0.1, 10, [n]);
    const kept = out.filter((v) => v !== 0);
    expect(Math.abs(kept.length - 0.1 * n)).toBeLessThan(6 * Math.sqrt(n * 0.1 * 0.9));
    expect(new Set(kept)).toEqual(new Set([5]));
  });
});

describe('trimThresholds with above counts (the TIES cut of the fused merge)', () => {
  it('threshold = k-th largest |τ| and above = #{|τ| > threshold}, by a sort, heavy ties included', async () => {
    const { heap } = kernels();
    for (const [n, density, levels] of [[100_000, 0.2, 0], [300_000, 0.1, 0], [150_000, 0.3, 7], [37, 0.5, 0], [5000, 0.05, 3]] as const) {
      const taus = [0, 1, 2].map((e) =>
        Float32Array.from({ length: n }, (_, i) => {
          const v = Math.sin(i * 12.9898 + e * 78.233) * 43758.5453;
          const u = v - Math.floor(v) - 0.5;
          return levels ? Math.round(u * levels) / levels : u * 1e-3;
        }),
      );
      const above = new Float64Array(3);
      const thr = await heap.scopedAsync(async () => {
        const block = tauSources(heap, taus);
        return trimThresholds({ numel: n, N: 3, sample: async (size) => sampleBlock(block, size), sweep: async (visit) => visit(block) }, density, above);
      });
      const k = keepCount(n, density);
      taus.forEach((t, e) => {
        const sorted = Array.from(t, Math.abs).sort((a, b) => b - a);
        expect(thr[e]).toBe(sorted[k - 1]);
        expect(above[e]).toBe(sorted.filter((v) => v > sorted[k - 1]).length);
      });
    }
  });
});
