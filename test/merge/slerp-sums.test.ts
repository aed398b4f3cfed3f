/**
 * SLERP's whole-tensor sums (Σa², Σb², Σab: the norms and the dot its coefficients come from):
 * eight float64 lanes by element index, added pairwise at the end (src/merge/methods/slerp.ts
 * SlerpSums; the WebAssembly kernel's slerpSums keeps the same lanes eight elements a step).
 * Checked: any chunking gives the same lanes bit for bit, so row chunks and whole tensors merge
 * alike; the kernel's lanes equal the TypeScript ones for blocks that start off a multiple of 8,
 * cross the kernel's 1024-element blocks and end mid-group; and each sum lies within the
 * rounding-error bound of this order of an exact sum (an error-free expansion, as Python's
 * math.fsum) — a bound eight times tighter than one chain of additions in flat order has.
 */
import { describe, expect, it } from 'vitest';
import { kernels } from '../../src/wasm/kernels.js';
import { tauSources } from '../../src/numerics/sources.js';
import { SLERP_LANES, SlerpSums } from '../../src/merge/methods/slerp.js';
import { testRng } from './reference.js';

/** Exact sum of doubles as a non-overlapping expansion (Shewchuk), rounded once at the end. */
function exactSum(xs: number[]): number {
  const partials: number[] = [];
  for (let x of xs) {
    let i = 0;
    for (let y of partials) {
      if (Math.abs(x) < Math.abs(y)) [x, y] = [y, x];
      const hi = x + y;
      const lo = y - (hi - x);
      if (lo) partials[i++] = lo;
      x = hi;
    }
    partials.length = i;
    partials.push(x);
  }
  return partials.reduce((s, p) => s + p, 0);
}

/** float32 values over many binades (so that the float64 additions round). */
function values(n: number, rng: () => number): Float32Array {
  return Float32Array.from({ length: n }, () => (rng() - 0.5) * 2 ** Math.floor(rng() * 30 - 15));
}

/** Random cut points of [0, n): pieces of 1…1100 elements. */
function pieces(n: number, rng: () => number): [number, number][] {
  const out: [number, number][] = [];
  for (let at = 0; at < n; ) {
    const len = Math.min(n - at, 1 + Math.floor(rng() * 1100));
    out.push([at, len]);
    at += len;
  }
  return out;
}

describe('SLERP sums: eight lanes by element index, added pairwise', () => {
  const n = 9001;
  const rng = testRng(41);
  const a = values(n, rng);
  const b = values(n, rng);
  const whole = new SlerpSums();
  whole.add(a, b);

  it('any chunking in row order gives the whole tensor\'s lanes, bit for bit', () => {
    for (let trial = 0; trial < 5; trial++) {
      const s = new SlerpSums();
      for (const [at, len] of pieces(n, rng)) s.add(a.subarray(at, at + len), b.subarray(at, at + len));
      expect(Array.from(s.lanes)).toEqual(Array.from(whole.lanes));
    }
    expect(whole.lanes[3 * SLERP_LANES]).toBe(n);
  });

  it('the WebAssembly kernel sums into the same lanes, for blocks of any length and start', () => {
    const { exports, heap } = kernels();
    heap.scoped(() => {
      const block = tauSources(heap, [a, b]);
      const scratch = heap.alloc(exports.mergeScratch(2));
      for (let trial = 0; trial < 5; trial++) {
        const sums = heap.calloc(8 * (3 * SLERP_LANES + 1));
        const cuts = trial === 0 ? [[0, n] as [number, number]] : pieces(n, rng);
        for (const [at, len] of cuts) exports.slerpSums(block.desc, 2, at, len, 0, sums, scratch);
        expect(Array.from(heap.f64(sums, 3 * SLERP_LANES + 1))).toEqual(Array.from(whole.lanes));
      }
    });
  });

  it('each sum is within its error bound of the exact sum', () => {
    const terms = [Array.from(a, (x) => x * x), Array.from(b, (x) => x * x), Array.from(a, (x, i) => x * b[i])];
    const ours = [whole.aa, whole.bb, whole.ab];
    // a lane adds ⌈n/8⌉ terms in order, then three pairwise levels: |error| ≤ γ(⌈n/8⌉ + 3)·Σ|term|
    const k = Math.ceil(n / SLERP_LANES) + 3;
    const gamma = (k * 2 ** -53) / (1 - k * 2 ** -53);
    terms.forEach((t, i) => {
      const exact = exactSum(t);
      const bound = gamma * t.reduce((s, x) => s + Math.abs(x), 0);
      expect(Math.abs(ours[i] - exact)).toBeLessThanOrEqual(bound);
    });
    // the test's data does round: the exact sum differs from a one-chain sum
    expect(exactSum(terms[2])).not.toBe(terms[2].reduce((s, x) => s + x, 0));
  });
});
