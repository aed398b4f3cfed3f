import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { kernels } from '../../../src/wasm/kernels.js';
import { tauSources, type SourceBlock } from '../../../src/numerics/sources.js';
import { SAMPLE_SIZE, trimThresholds, type ThresholdTies, type TrimInput } from '../../../src/numerics/select/trim.js';
import { keepCount } from '../../../src/numerics/select/threshold.js';
import { rng } from '../../metrics/helpers.js';

/** k-th largest |v| by sorting (the definition). */
const reference = (v: Float32Array, k: number) => Array.from(v, Math.abs).sort((a, b) => b - a)[k - 1];

/**
 * A TrimInput over in-memory τ arrays, streamed in chunks of `chunk` elements (a chunk's block
 * exists only until the visit settles, like the engine's reads). Counts sweeps.
 */
function input(tau: Float32Array[], chunk: number, sampleStride?: number, parallel = false): TrimInput & { sweeps: number } {
  const { heap, exports } = kernels();
  const numel = tau[0].length;
  const inp = {
    numel,
    N: tau.length,
    parallel,
    sweeps: 0,
    async sample(size: number) {
      // a stride sample, as the kernels take one (or a sparser one, to force bracket misses)
      const stride = sampleStride ?? numel / size;
      const idx = Array.from({ length: Math.min(size, Math.floor(numel / stride)) }, (_, k) => Math.floor(k * stride));
      return { values: tau.map((t) => Float32Array.from(idx, (e) => Math.abs(t[e]))), whole: idx.length === numel };
    },
    async sweep(visit: (b: SourceBlock) => void | Promise<void>) {
      inp.sweeps++;
      for (let e0 = 0; e0 < numel; e0 += chunk) await heap.scopedAsync(async () => visit(tauSources(heap, tau.map((t) => t.subarray(e0, e0 + chunk)))));
    },
  };
  void exports;
  return inp;
}

describe('exact trim thresholds (sample → bracket → one counting sweep)', () => {
  it('equal the sorted k-th largest |τ| per expert, chunked or not, with one sweep on ordinary data', async () => {
    const r = rng(3);
    const numel = 300_000;
    // rng() is uniform on [−0.5, 0.5): 5% exact zeros, the rest uniform in ±(i+1)·5e-4
    const tau = [0, 1, 2].map((i) => Float32Array.from({ length: numel }, () => (r() < -0.45 ? 0 : r() * (i + 1) * 1e-3)));
    // parallel: blocks ≥ 64Ki split between the kernel pool's threads, their counts and collected values added up
    for (const trim of [0.2, 0.01, 0.9]) {
      for (const [chunk, parallel] of [[numel, false], [numel, true], [77_777, true], [77_777, false]] as const) {
        const inp = input(tau, chunk, undefined, parallel);
        const got = await trimThresholds(inp, trim);
        const k = keepCount(numel, trim);
        expect(Array.from(got)).toEqual(tau.map((t) => reference(t, k)));
        expect(inp.sweeps).toBe(1);
      }
    }
  });

  it('heavy ties (BF16 task vectors take a handful of values) resolve in the same single sweep', async () => {
    const r = rng(9);
    const numel = 400_000;
    const levels = [0, 2 ** -12, 2 ** -11, 3 * 2 ** -12, 2 ** -10];
    const tau = [0, 1].map(() => Float32Array.from({ length: numel }, () => (r() < 0 ? -1 : 1) * levels[Math.floor((r() + 0.5) * levels.length)]));
    for (const trim of [0.2, 0.5, 0.05]) {
      for (const parallel of [false, true]) {
        const inp = input(tau, 100_000, undefined, parallel);
        const got = await trimThresholds(inp, trim);
        expect(Array.from(got)).toEqual(tau.map((t) => reference(t, keepCount(numel, trim))));
        expect(inp.sweeps).toBe(1);
      }
    }
  });

  it('say where the ties at each threshold lie: per block and part, the count a direct scan finds', async () => {
    const r = rng(21);
    const numel = 250_000;
    const levels = [0, 2 ** -12, 2 ** -11, 3 * 2 ** -12, 2 ** -10];
    // heavy ties (the threshold is an end of its bracket) and a fine grid (strictly inside it)
    const tied = [0, 1].map(() => Float32Array.from({ length: numel }, () => (r() < 0 ? -1 : 1) * levels[Math.floor((r() + 0.5) * levels.length)]));
    const fine = Float32Array.from({ length: numel }, () => Math.round(r() * 20_000) / 20_000);
    const tau = [...tied, fine];
    for (const parallel of [false, true]) {
      const ties: ThresholdTies = { parts: [], counts: [] };
      const got = await trimThresholds(input(tau, 100_000, undefined, parallel), 0.3, undefined, ties);
      expect(Array.from(got)).toEqual(tau.map((t) => reference(t, keepCount(numel, 0.3))));
      // blocks of 100k, 100k and 50k elements; those from 64Ki split in one part per pool thread
      expect(ties.parts.map((b) => b.at(-1)![1])).toEqual([100_000, 100_000, 50_000]);
      if (!parallel) expect(ties.parts.every((b) => b.length === 1)).toBe(true);
      tau.forEach((t, i) => {
        let all = 0;
        ties.parts.forEach((parts, b) =>
          parts.forEach(([a, z], p) => {
            let direct = 0;
            for (let e = b * 100_000 + a; e < b * 100_000 + z; e++) direct += Math.abs(t[e]) === got[i] ? 1 : 0;
            expect(ties.counts[i]?.[b][p], `expert ${i}, block ${b}, part ${p}`).toBe(direct);
            all += direct;
          }),
        );
        expect(all, `expert ${i}: ties at its threshold`).toBeGreaterThan(1);
      });
    }
  });

  it('small tensors are their own sample: no sweep', async () => {
    const tau = [Float32Array.from([3, -1, 0, 2, -5]), Float32Array.from([0, 0, 0, 0, 1])];
    const inp = input(tau, 5);
    expect(Array.from(await trimThresholds(inp, 0.4))).toEqual([3, 0]);
    expect(inp.sweeps).toBe(0);
    expect(Array.from(await trimThresholds(inp, 1))).toEqual([0, 0]);
  });

  it('a bracket that misses (unrepresentative sample, runs of ties, all-zero τ) falls back to the exact radix select', async () => {
    const numel = SAMPLE_SIZE * 3;
    // first half tiny, second half large: a sample from the first third only brackets the wrong place
    const skewed = Float32Array.from({ length: numel }, (_, e) => (e < numel / 2 ? 1e-6 * (1 + (e % 7)) : 1 + (e % 13)));
    const ties = new Float32Array(numel).fill(0.5);
    const zero = new Float32Array(numel);
    const tau = [skewed, ties, zero];
    const inp = input(tau, 50_000, 1);
    const got = await trimThresholds(inp, 0.3);
    const k = keepCount(numel, 0.3);
    expect(Array.from(got)).toEqual(tau.map((t) => reference(t, k)));
    expect(inp.sweeps).toBe(3); // bracket sweep + two radix sweeps
    // the radix select does not say where its ties lie: the caller counts them
    const where: ThresholdTies = { parts: [], counts: [] };
    await trimThresholds(input(tau, 50_000, 1), 0.3, undefined, where);
    expect(where.counts[0]).toBeNull();
  });

  it('property: any data, trim, chunking → the sorted reference', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 1e9 }),
        fc.integer({ min: SAMPLE_SIZE + 1, max: 3 * SAMPLE_SIZE }),
        fc.double({ min: 0.001, max: 0.999, noNaN: true }),
        fc.integer({ min: 1000, max: 200_000 }),
        async (seed, numel, trim, chunk) => {
          const r = rng(seed);
          const levels = 1 + Math.floor((r() + 0.5) * 50); // few distinct values → many ties
          const t = Float32Array.from({ length: numel }, () => (r() < -0.4 ? 0 : Math.round(r() * levels) / levels));
          const got = await trimThresholds(input([t], chunk), trim);
          expect(got[0]).toBe(reference(t, keepCount(numel, trim)));
        },
      ),
      { numRuns: 12 },
    );
  });
});
