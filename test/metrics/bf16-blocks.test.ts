/**
 * The pair kernel forms τ of whole BF16 blocks inside its per-expert pass (no float32 round
 * trip) and every other block through the generic decoder: both must give the sums the same τ
 * give as float32 task vectors, and a NaN/Inf τ (including a finite θ − θ₀ that overflows
 * float32) must be reported for the right expert with nothing added.
 */
import { describe, expect, it } from 'vitest';
import { accumulateSources, accumulateTensor, newSums, type TensorSums } from '../../src/metrics/accumulators.js';
import { sourceBlock } from '../../src/numerics/sources.js';
import { decodeToFloat32, encodeFloats } from '../../src/safetensors/dtype.js';
import { kernels, SOURCE_CODE } from '../../src/wasm/kernels.js';
import { rng } from './helpers.js';

/** Sums of BF16 base + experts (raw bytes in the heap, as the engine reads them). */
function bf16Sums(base: Uint8Array, experts: Uint8Array[], count: number, thresholds: Float64Array): { sums: TensorSums; bad: number } {
  const { heap } = kernels();
  const sums = newSums(experts.length);
  const bad = heap.scoped(() => {
    const entries = [base, ...experts].map((bytes) => {
      const ptr = heap.alloc(bytes.length);
      heap.u8(ptr, bytes.length).set(bytes);
      return { ptr, code: SOURCE_CODE.BF16 };
    });
    return accumulateSources(sourceBlock(heap, entries[0], entries.slice(1), count), thresholds, sums);
  });
  return { sums, bad };
}

describe('pair kernel on BF16 sources', () => {
  it('equals the same τ given as float32, whole 512-blocks and a ragged tail alike (3 and 6 experts)', () => {
    const r = rng(16);
    for (const [N, count] of [[3, 2048], [6, 1536 + 77]] as const) {
      const base = encodeFloats('BF16', Array.from({ length: count }, () => r() * 0.1));
      const theta0 = decodeToFloat32('BF16', base);
      // 3% of positions unchanged (exact zeros of τ), the rest nudged by up to ±0.01
      const experts = Array.from({ length: N }, () => encodeFloats('BF16', Array.from(theta0, (b) => (r() < -0.47 ? b : b + r() * 2e-2))));
      const b32 = decodeToFloat32('BF16', base);
      const tau = experts.map((e) => decodeToFloat32('BF16', e).map((v, k) => Math.fround(v - b32[k])));
      const thresholds = Float64Array.from({ length: N }, (_, i) => 1e-3 * (i + 1));
      const { sums, bad } = bf16Sums(base, experts, count, thresholds);
      expect(bad).toBe(0);
      const ref = newSums(N);
      accumulateTensor(tau, thresholds, ref);
      // the same float32 τ, the same float64 arithmetic in the same order: identical sums
      expect(Array.from(sums.gram)).toEqual(Array.from(ref.gram));
      expect(Array.from(sums.pairs)).toEqual(Array.from(ref.pairs));
      expect(Array.from(sums.kept)).toEqual(Array.from(ref.kept));
      // not vacuous: some coordinates trimmed, some kept, signs agree and conflict
      expect(sums.kept[0]).toBeGreaterThan(0);
      expect(sums.kept[0]).toBeLessThan(count);
      expect(sums.pairs[0]).toBeGreaterThan(0);
      expect(sums.pairs[1]).toBeGreaterThan(0);
    }
  });

  it('reports NaN, ±Inf and float32 overflow of θ − θ₀ for the expert that has it, in a whole block or the tail', () => {
    const count = 1024 + 100;
    const zeros = new Array<number>(count).fill(0);
    for (const [value, baseValue] of [[NaN, 0], [Infinity, 0], [-Infinity, 1], [3e38, -3e38]] as const) {
      for (const at of [5, 700, 1100]) {
        for (const expert of [0, 2]) {
          const theta0 = zeros.slice();
          theta0[at] = baseValue;
          const experts = [0, 1, 2].map((i) => {
            const v = theta0.map((b) => b + 0.01);
            if (i === expert) v[at] = value;
            return encodeFloats('BF16', v);
          });
          const { sums, bad } = bf16Sums(encodeFloats('BF16', theta0), experts, count, new Float64Array(3));
          expect(bad, `${value} at ${at} in expert ${expert}`).toBe(expert + 1);
          if (at < 512) expect(Array.from(sums.gram).every((g) => g === 0)).toBe(true); // first block: nothing added
        }
      }
    }
  });
});
