/**
 * bench/pair_kernel.c — the native figure `npm run bench` holds the WebAssembly pair kernel
 * against — computes the same sums as the kernel: run on its own inputs (dumped as BF16), the
 * kernel's Gram entries, Σ(τᵢ−τⱼ)², min-weighted sign sums and sign counts (plain and trimmed)
 * equal the C program's, so the bench compares like with like. Skipped without gcc.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { accumulateSources, newSums } from '../../src/metrics/accumulators.js';
import { pairList } from '../../src/metrics/gram.js';
import { PAIR_FIELDS } from '../../src/metrics/sign-agreement.js';
import { sourceBlock } from '../../src/numerics/sources.js';
import { kernels, SOURCE_CODE } from '../../src/wasm/kernels.js';

const hasGcc = spawnSync('gcc', ['--version'], { stdio: 'ignore' }).status === 0;
const dir = mkdtempSync(path.join(os.tmpdir(), 'mergelens-pair-kernel-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Dump {
  experts: number;
  elements: number;
  /** Per pair: [dot, diff2, wAgree, wDisagree, agree, disagree, tAgree, tDisagree]. */
  pairs: number[][];
  bf16: string;
}

/** Compile (strict IEEE order, as the bench's "strict" build) and run with `dump`. */
function runNative(N: number, elements: number): Dump {
  const bin = path.join(dir, 'pair_kernel');
  const cc = spawnSync('gcc', ['-O2', '-o', bin, path.resolve('bench/pair_kernel.c'), '-lm'], { encoding: 'utf8' });
  if (cc.status !== 0) throw new Error(cc.stderr);
  const run = spawnSync(bin, [String(N), String(elements), '1', 'dump'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (run.status !== 0) throw new Error(run.stderr);
  return JSON.parse(run.stdout) as Dump;
}

describe.skipIf(!hasGcc)('native reference of the pair kernel (bench/pair_kernel.c)', () => {
  it('computes the same float64 sums and sign counts as the WebAssembly kernel on its data', () => {
    const N = 5;
    const d = runNative(N, 2048);
    expect(d.experts).toBe(N);
    const n = d.elements;
    const words = Uint16Array.from({ length: (N + 1) * n }, (_, k) => parseInt(d.bf16.slice(4 * k, 4 * k + 4), 16));
    const { heap } = kernels();
    const sums = newSums(N);
    heap.scoped(() => {
      const entries = Array.from({ length: N + 1 }, (_, s) => {
        const ptr = heap.alloc(n * 2);
        new Uint16Array(heap.u8(ptr, n * 2).buffer, ptr, n).set(words.subarray(s * n, (s + 1) * n));
        return { ptr, code: SOURCE_CODE.BF16 };
      });
      // the C program keeps |τ| ≥ 2e-4f (a float32), as the kernel does with that threshold
      const t = Math.fround(2e-4);
      expect(accumulateSources(sourceBlock(heap, entries[0], entries.slice(1), n), new Float64Array(N).fill(t), sums)).toBe(0);
    });
    // The data is not degenerate: signs agree and conflict, the trim drops some of each.
    const [dot0, , , , ag0, dis0, tag0, tdis0] = d.pairs[0];
    expect(dot0).not.toBe(0);
    expect(ag0).toBeGreaterThan(tag0);
    expect(dis0).toBeGreaterThan(tdis0);
    expect(tag0 + tdis0).toBeGreaterThan(0);
    pairList(N).forEach(([i, j], p) => {
      const [dot, diff2, wAgree, wDisagree, agree, disagree, tAgree, tDisagree] = d.pairs[p];
      const o = p * PAIR_FIELDS;
      // float64 sums of the same exact products in another order: round-off only
      const close = (ours: number, ref: number) => expect(Math.abs(ours - ref)).toBeLessThanOrEqual(1e-12 * Math.abs(ref) + 1e-300);
      close(sums.gram[i * N + j], dot);
      close(sums.pairs[o + 6], diff2);
      close(sums.pairs[o + 2], wAgree);
      close(sums.pairs[o + 3], wDisagree);
      expect([sums.pairs[o], sums.pairs[o + 1], sums.pairs[o + 4], sums.pairs[o + 5]]).toEqual([agree, disagree, tAgree, tDisagree]);
    });
  });
});
