import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { memoryCheckpoint, type MemoryTensor } from '../../src/checkpoint/memory.js';
import { openCheckpoint } from '../../src/checkpoint/open.js';
import { planMerge, type MergeOptions } from '../../src/merge/plan.js';
import { tensorRandom, tensorRandomAt } from '../../src/merge/random.js';
import { streamPlan, streamPlanChunks } from '../../src/merge/stream.js';
import { mergeToDisk } from '../../src/merge/to-disk.js';
import { ties } from '../../src/merge/methods/ties.js';
import { createCheckpointWriter, writeSafetensors, type WriteSpec } from '../../src/safetensors/writer.js';
import type { Checkpoint } from '../../src/types.js';
import { ROOT } from '../helpers/cli.js';
import { randn, testRng } from './reference.js';

const TINY = path.join(ROOT, 'fixtures/tiny');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'mergelens-chunked-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('tensorRandomAt (skip-ahead)', () => {
  it('equals the whole stream with the first k draws skipped', () => {
    for (const [seed, name] of [[0, 'a'], [7, 'layer.0.w'], [2 ** 40 + 3, 'x']] as const) {
      const whole = tensorRandom(seed, name);
      const drawn: number[] = [];
      for (let i = 0; i < 70_000; i++) drawn.push(whole());
      for (const k of [0, 1, 2, 31, 32, 33, 127, 128, 1000, 65_536, 69_990]) {
        const r = tensorRandomAt(seed, name, k);
        for (let i = 0; i < 10; i++) expect(r()).toBe(drawn[k + i]);
      }
    }
  });

  it('rejects a negative or fractional offset', () => {
    expect(() => tensorRandomAt(0, 'a', -1)).toThrow(RangeError);
    expect(() => tensorRandomAt(0, 'a', 1.5)).toThrow(RangeError);
  });
});

/** Random base + experts near it (task vectors ~0.1 of the weights), several shapes incl. scalar and 1-D. */
function randomModels(n: number, seed: number): { base: Checkpoint; experts: Checkpoint[] } {
  const rng = testRng(seed);
  const shapes: Record<string, number[]> = { 'emb.weight': [53, 7], 'mlp.w': [16, 9], 'norm.bias': [23], scale: [], 'conv.w': [6, 2, 3] };
  const make = (name: string, of?: Record<string, MemoryTensor>) => {
    const t: Record<string, MemoryTensor> = {};
    for (const [k, shape] of Object.entries(shapes)) {
      const numel = shape.reduce((a, b) => a * b, 1);
      const noise = randn(rng, numel, of ? 0.1 : 1);
      if (of) for (let i = 0; i < numel; i++) noise[i] += of[k].data[i];
      t[k] = { shape, data: noise };
    }
    return { ck: memoryCheckpoint(name, t), t };
  };
  const base = make('base');
  return { base: base.ck, experts: Array.from({ length: n }, (_, i) => make(`e${i}`, base.t).ck) };
}

/** Merge in chunks of `chunkElements`, reassemble per tensor; also count the chunks. */
async function chunkedMerge(base: Checkpoint | null, experts: Checkpoint[], opts: MergeOptions, chunkElements: number) {
  const plan = planMerge(base, experts, opts);
  const out = new Map<string, Float32Array>();
  let chunks = 0;
  for await (const c of streamPlanChunks(plan, base, experts, { chunkElements })) {
    chunks++;
    const numel = c.shape.reduce((a, b) => a * b, 1);
    if (!out.has(c.name)) out.set(c.name, new Float32Array(numel));
    out.get(c.name)!.set(c.data, c.offset);
  }
  return { out, chunks, tensors: plan.tensors.length };
}

async function wholeMerge(base: Checkpoint | null, experts: Checkpoint[], opts: MergeOptions) {
  const out = new Map<string, Float32Array>();
  for await (const t of streamPlan(planMerge(base, experts, opts), base, experts)) out.set(t.name, t.data);
  return out;
}

describe('row-chunked merge equals the whole-tensor merge', () => {
  const cases: { opts: MergeOptions; chunked: boolean; n?: number }[] = [
    { opts: { method: 'weight_avg', weights: [0.5, 1.5, 1] }, chunked: true },
    { opts: { method: 'weight_avg', params: { normalize: false } }, chunked: true },
    { opts: { method: 'task_arithmetic', weights: [1, -0.5, 2], params: { lambda: 0.7 }, allowNegativeWeights: true }, chunked: true },
    { opts: { method: 'dare', params: { density: 0.3 }, seed: 11 }, chunked: true },
    { opts: { method: 'dare_linear', weights: [0.2, 0.3, 0.5], params: { density: 0.5, rescale: 'none', normalize: true }, seed: 5 }, chunked: true },
    { opts: { method: 'dare_ties', params: { density: 0.4 }, seed: 2 ** 33 }, chunked: true },
    { opts: { method: 'dare', params: { density: 0.3, rescale: 'l1' }, seed: 1 }, chunked: false }, // needs whole-tensor L1 norms
    { opts: { method: 'ties', params: { density: 0.2 } }, chunked: true },
    { opts: { method: 'ties', weights: [1, 0.5, 2], params: { density: 0.05, normalize: false, lambda: 0.6 } }, chunked: true },
    { opts: { method: 'ties', params: { density: 1 } }, chunked: true },
    { opts: { method: 'slerp', params: { t: 0.3 } }, chunked: true, n: 2 },
    { opts: { method: 'slerp', params: { t: 0.8 } }, chunked: true, n: 1 },
    { opts: { method: 'tsv' }, chunked: false },
    { opts: { method: 'iso_c' }, chunked: false },
  ];
  for (const c of cases) {
    it(`${c.opts.method} ${JSON.stringify(c.opts.params ?? {})}: bit-identical with 8-element chunks (${c.chunked ? 'chunked' : 'whole tensors'})`, async () => {
      const { base, experts } = randomModels(c.n ?? 3, 42);
      const whole = await wholeMerge(base, experts, c.opts);
      const { out, chunks, tensors } = await chunkedMerge(base, experts, c.opts, 8);
      expect([...out.keys()]).toEqual([...whole.keys()]);
      for (const [name, data] of whole) expect(out.get(name), name).toEqual(data);
      // emb 53×7 → 53 one-row chunks (a row of 7 fits 8), mlp 16×9 → 16 (a 9-row is longer than 8: one row each),
      // conv 6×(2·3) → 6 one-row chunks; norm.bias [23] → 8 + 8 + 7 elements; scalar → 1.
      expect(chunks).toBe(c.chunked ? 53 + 16 + 6 + 3 + 1 : tensors);
    });
  }

  it('dare draws the same mask for any chunk size (random data, 4 chunk sizes)', async () => {
    const { base, experts } = randomModels(4, 7);
    const opts: MergeOptions = { method: 'dare', params: { density: 0.25 }, seed: 99 };
    const whole = await wholeMerge(base, experts, opts);
    for (const ce of [1, 7, 30, 100]) {
      const { out } = await chunkedMerge(base, experts, opts, ce);
      for (const [name, data] of whole) expect(out.get(name), `${name} @${ce}`).toEqual(data);
    }
  });

  it('per-expert skip-ahead streams reproduce the single sequential stream (expert by expert, flat order)', async () => {
    const { base, experts } = randomModels(3, 5);
    for (const method of ['dare', 'dare_ties']) {
      const opts: MergeOptions = { method, params: { density: 0.35 }, seed: 21 };
      const plan = planMerge(base, experts, opts);
      const whole = await wholeMerge(base, experts, opts);
      for (const t of plan.tensors) {
        // The method fed one sequential stream, as before chunking existed (no expertRandom).
        const sequential = plan.method.mergeTensor({
          name: t.name,
          shape: t.shape,
          base: await base.read(t.name),
          experts: await Promise.all(experts.map((e) => e.read(t.name))),
          weights: plan.weights,
          params: plan.params,
          random: tensorRandom(21, t.name),
        });
        expect(whole.get(t.name), `${method} ${t.name}`).toEqual(sequential);
      }
    }
  });

  it('ties with many equal magnitudes: ties at the threshold carried across chunks, kept lowest index first', async () => {
    // Integer task vectors in [-3, 3]: most |τ| tie, so the cut keeps only some entries at the threshold.
    const rng = testRng(9);
    const shapes: Record<string, number[]> = { w: [40, 5], v: [33] };
    const mk = (name: string, zero: boolean) =>
      memoryCheckpoint(name, Object.fromEntries(Object.entries(shapes).map(([k, sh]) => [k, { shape: sh, data: Float32Array.from({ length: sh.reduce((a, b) => a * b, 1) }, () => (zero ? 0 : Math.floor(rng() * 7) - 3)) }])));
    const base = mk('base', true);
    const experts = [mk('a', false), mk('b', false), mk('c', false)];
    for (const density of [0.1, 0.37, 0.5]) {
      const opts: MergeOptions = { method: 'ties', params: { density } };
      const whole = await wholeMerge(base, experts, opts);
      for (const ce of [1, 5, 16]) {
        const { out } = await chunkedMerge(base, experts, opts, ce);
        for (const [name, data] of whole) expect(out.get(name), `${name} d=${density} @${ce}`).toEqual(data);
      }
    }
  });

  it('the ties prepass finds each τ\'s exact k-th largest |τ| (vs a sort) and the number of ties to keep', () => {
    const rng = testRng(12);
    const n = 5000;
    const base = randn(rng, n);
    const experts = [0, 1].map(() => {
      const e = randn(rng, n, 0.05);
      for (let i = 0; i < n; i++) e[i] = base[i] + (i % 7 === 0 ? 0.25 : e[i]); // many exact-equal |τ|
      return e;
    });
    for (const density of [0.001, 0.1, 0.2, 0.9]) {
      const scan = ties.prepareChunks!({ numel: n, experts: 2, params: { density, lambda: 1, normalize: true } })!;
      for (let pass = 0; pass < scan.passes; pass++) {
        for (let s = 0; s < n; s += 777) scan.visit(pass, base.subarray(s, s + 777), experts.map((e) => e.subarray(s, s + 777)));
        scan.endPass(pass);
      }
      const cuts = scan.result() as { threshold: number; ties: number }[];
      const k = Math.max(1, Math.floor(density * n));
      experts.forEach((e, j) => {
        const mags = Array.from(e, (x, i) => Math.abs(Math.fround(x - base[i]))).sort((a, b) => b - a);
        expect(cuts[j].threshold).toBe(mags[k - 1]);
        expect(cuts[j].ties).toBe(k - mags.filter((m) => m > mags[k - 1]).length);
      });
    }
  });

  it('LoRA and dense experts on the fixtures (low-rank rows computed per chunk)', async () => {
    const base = await openCheckpoint(path.join(TINY, 'base'));
    const lora = await openCheckpoint(path.join(TINY, 'lora-expert'));
    const a = await openCheckpoint(path.join(TINY, 'expert-a.safetensors'));
    for (const opts of [{ method: 'task_arithmetic', params: { lambda: 1 } }, { method: 'dare_ties', params: { density: 0.5 }, seed: 4 }] as MergeOptions[]) {
      const whole = await wholeMerge(base, [lora, a], opts);
      const { out, chunks, tensors } = await chunkedMerge(base, [lora, a], opts, 64);
      expect(chunks).toBeGreaterThan(tensors);
      for (const [name, data] of whole) expect(out.get(name), name).toEqual(data);
    }
    await Promise.all([base, lora, a].map((c) => c.close()));
  });

  it('NaN in an input: chunked mode names file and tensor; warn mode reports whole-tensor counts once', async () => {
    const { base, experts } = randomModels(2, 3);
    const bad = await experts[1].read('emb.weight');
    bad[3] = NaN;
    bad[300] = Infinity;
    const e1 = memoryCheckpoint('bad', Object.fromEntries(await Promise.all(experts[1].tensorNames().map(async (n) => [n, { shape: experts[1].location(n)!.shape, data: n === 'emb.weight' ? bad : await experts[1].read(n) }]))));
    const plan = planMerge(base, [experts[0], e1], { method: 'task_arithmetic' });
    const run = async (chunkElements: number, nonFinite: 'error' | 'warn') => {
      const warnings: string[] = [];
      for await (const _ of streamPlanChunks(plan, base, [experts[0], e1], { chunkElements, nonFinite, onWarning: (w) => warnings.push(w) }));
      return warnings;
    };
    await expect(run(8, 'error')).rejects.toMatchObject({ code: 'NON_FINITE', file: 'memory:bad', tensor: 'emb.weight' });
    const chunkedWarnings = await run(8, 'warn');
    expect(chunkedWarnings).toEqual(await run(Infinity, 'warn'));
    expect(chunkedWarnings).toHaveLength(1);
    expect(chunkedWarnings[0]).toContain('2 NaN/Inf');
  });
});

describe('mergeToDisk with row chunks', () => {
  it('writes byte-identical files for tiny and default chunk sizes (F32 and BF16 outputs, LoRA expert)', async () => {
    const base = await openCheckpoint(path.join(TINY, 'base'));
    const lora = await openCheckpoint(path.join(TINY, 'lora-expert'));
    const b = await openCheckpoint(path.join(TINY, 'expert-b.safetensors'));
    for (const dtype of [undefined, 'BF16'] as const) {
      const opts = { method: 'dare', params: { density: 0.4 }, seed: 8, dtype };
      const small = path.join(tmp, `small-${dtype}.safetensors`);
      const whole = path.join(tmp, `whole-${dtype}.safetensors`);
      await mergeToDisk(base, [lora, b], { ...opts, out: small, chunkElements: 5 });
      await mergeToDisk(base, [lora, b], { ...opts, out: whole, chunkElements: Infinity });
      expect(readFileSync(small).equals(readFileSync(whole))).toBe(true);
    }
    await Promise.all([base, lora, b].map((c) => c.close()));
  });

  it('rejects a chunk size below 1 and leaves no output', async () => {
    const base = await openCheckpoint(path.join(TINY, 'base'));
    const a = await openCheckpoint(path.join(TINY, 'expert-a.safetensors'));
    const out = path.join(tmp, 'bad-chunk.safetensors');
    await expect(mergeToDisk(base, [a], { method: 'task_arithmetic', out, chunkElements: 0 })).rejects.toMatchObject({ code: 'BAD_PARAM' });
    expect(() => readFileSync(out)).toThrow();
    await Promise.all([base, a].map((c) => c.close()));
  });
});

describe('writer.writeRange', () => {
  const specs: WriteSpec[] = [
    { name: 'a', dtype: 'F32', shape: [5, 3] },
    { name: 'b', dtype: 'BF16', shape: [7] },
    { name: 'c', dtype: 'F16', shape: [2, 2] },
  ];
  const data = Object.fromEntries(specs.map((s, i) => [s.name, randn(testRng(i + 1), s.shape.reduce((x, y) => x * y, 1))]));

  it('ranges in any tensor interleaving give the same file as whole writes', async () => {
    const whole = path.join(tmp, 'w-whole.safetensors');
    await writeSafetensors(whole, specs.map((s) => ({ ...s, data: data[s.name] })));
    const ranged = path.join(tmp, 'w-ranged.safetensors');
    const w = createCheckpointWriter(ranged, specs);
    await w.writeRange('a', 0, data.a.subarray(0, 4));
    await w.writeRange('b', 0, data.b.subarray(0, 6));
    await w.writeRange('a', 4, data.a.subarray(4, 15));
    await w.write('c', data.c);
    await w.writeRange('b', 6, data.b.subarray(6));
    await w.finish();
    expect(readFileSync(ranged).equals(readFileSync(whole))).toBe(true);
  });

  it('rejects gaps, overruns, writes after completion, and an unfinished tensor at finish', async () => {
    const w = createCheckpointWriter(path.join(tmp, 'w-bad.safetensors'), specs);
    await w.writeRange('a', 0, data.a.subarray(0, 3));
    await expect(w.writeRange('a', 4, data.a.subarray(4, 6))).rejects.toMatchObject({ code: 'BAD_INPUT', tensor: 'a' });
    await expect(w.writeRange('a', 3, new Float32Array(13))).rejects.toMatchObject({ code: 'SIZE_MISMATCH', tensor: 'a' });
    await w.writeRange('b', 0, data.b);
    await expect(w.writeRange('b', 7, new Float32Array(0))).rejects.toMatchObject({ message: expect.stringContaining('written twice') });
    await w.write('c', data.c);
    await expect(w.finish()).rejects.toMatchObject({ code: 'MISSING_TENSOR', tensor: 'a' });
  });
});
