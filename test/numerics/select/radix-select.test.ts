import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AbsRadixSelect } from '../../../src/numerics/select/radix-select.js';
import { radixPass } from '../../../src/numerics/select/trim.js';
import { kthLargestAbs } from '../../../src/wasm/arrays.js';
import { kernels } from '../../../src/wasm/kernels.js';
import { tauSources } from '../../../src/numerics/sources.js';

/** Reference: sort |v| descending in float64 and index. */
function reference(v: Float32Array, k: number): number {
  if (v.length === 0) return 0;
  const a = Array.from(v, Math.abs).sort((x, y) => y - x);
  return a[Math.min(Math.max(Math.floor(k), 1), v.length) - 1];
}

describe('kthLargestAbs (radix select in the kernels)', () => {
  it('equals the sort-based k-th largest |v| for arbitrary finite floats, zeros, duplicates and every k', () => {
    const value = fc.oneof(
      fc.float({ noNaN: true, noDefaultInfinity: true }),
      fc.constantFrom(0, -0, 1e-45, -1e-45, 3.4028234663852886e38, -1, 1, 0.5, -0.5),
    );
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: 300 }), fc.integer({ min: -2, max: 320 }), (xs, k) => {
        const v = Float32Array.from(xs);
        expect(kthLargestAbs(v, k)).toBe(reference(v, k));
      }),
      { numRuns: 500 },
    );
  });

  it('handles empty input, subarray views and values that share their high bits', () => {
    expect(kthLargestAbs(new Float32Array(0), 3)).toBe(0);
    const big = new Float32Array(1000);
    for (let i = 0; i < big.length; i++) big[i] = (i % 2 ? -1 : 1) * (1 + i * 2 ** -23); // same exponent, adjacent mantissas
    const view = big.subarray(100, 900);
    for (const k of [1, 2, 17, 400, 799, 800]) expect(kthLargestAbs(view, k)).toBe(reference(view, k));
    // The input is not modified.
    expect(view[0]).toBe(Math.fround(1 + 100 * 2 ** -23));
  });
});

describe('AbsRadixSelect over chunk histograms (radixPass)', () => {
  /** One radix pass over a chunk, as the trim fallback and the TIES prepass run it. */
  const pass = (sel: AbsRadixSelect, chunk: Float32Array) => kernels().heap.scoped(() => radixPass(sel, tauSources(kernels().heap, [chunk]), 0));

  it('any chunking (two passes over the chunks) equals the sort-based reference', () => {
    const value = fc.oneof(fc.float({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom(0, -0, 1, -1, 0.5));
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: 300 }), fc.integer({ min: 1, max: 320 }), fc.integer({ min: 1, max: 50 }), (xs, k, chunk) => {
        const v = Float32Array.from(xs);
        const sel = new AbsRadixSelect(k);
        for (let o = 0; o < v.length; o += chunk) pass(sel, v.subarray(o, o + chunk));
        expect(sel.resolveHi()).toBe(true);
        for (let o = 0; o < v.length; o += chunk) pass(sel, v.slice(o, o + chunk));
        expect(sel.value()).toBe(reference(v, k));
      }),
      { numRuns: 200 },
    );
    const empty = new AbsRadixSelect(1);
    expect(empty.resolveHi()).toBe(false);
    expect(empty.value()).toBe(0);
  });

  it('a NaN in the chunk is reported, not counted', () => {
    expect(() => pass(new AbsRadixSelect(1), Float32Array.from([1, NaN]))).toThrow(/NaN or Inf/);
  });
});
