import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MergelensError } from '../../src/errors.js';
import { memoryCheckpoint } from '../../src/checkpoint/memory.js';
import { openCheckpoint } from '../../src/checkpoint/open.js';
import { getMethod, resolveParams } from '../../src/merge/registry.js';
import { planMerge } from '../../src/merge/plan.js';
import { mergeStream, type MergedTensor } from '../../src/merge/stream.js';
import { tensorRandom } from '../../src/merge/random.js';
import type { Checkpoint, LoraCheckpoint, ProgressEvent } from '../../src/types.js';
import { ROOT } from '../helpers/cli.js';
import { maxAbsDiff, randn, testRng } from './reference.js';

const TINY = path.join(ROOT, 'fixtures/tiny');

function model(name: string, seed: number, shapes: Record<string, number[]>, from?: Checkpoint & { raw?: Record<string, Float32Array> }) {
  const rng = testRng(seed);
  const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const [t, shape] of Object.entries(shapes)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const noise = randn(rng, n, from ? 0.05 : 1);
    const data = from?.raw?.[t] ? from.raw[t].map((x, i) => x + noise[i]) : noise;
    tensors[t] = { shape, data };
  }
  const c = memoryCheckpoint(name, tensors) as Checkpoint & { raw?: Record<string, Float32Array> };
  c.raw = Object.fromEntries(Object.entries(tensors).map(([k, v]) => [k, v.data]));
  return c;
}

const SHAPES = { 'l1.weight': [6, 5], 'l1.bias': [6], 'l2.weight': [3, 6] };

async function collect(gen: AsyncGenerator<MergedTensor>): Promise<MergedTensor[]> {
  const out: MergedTensor[] = [];
  for await (const t of gen) out.push(t);
  return out;
}

async function rejects(p: Promise<unknown> | (() => unknown)): Promise<MergelensError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    expect(e).toBeInstanceOf(MergelensError);
    return e as MergelensError;
  }
  throw new Error('expected an error');
}

describe('mergeStream', () => {
  const base = model('base', 1, SHAPES);
  const a = model('a', 2, SHAPES, base);
  const b = model('b', 3, SHAPES, base);

  it('yields every tensor, each equal to the method applied to that tensor alone', async () => {
    for (const method of ['weight_avg', 'task_arithmetic', 'ties', 'dare_ties', 'slerp', 'tsv', 'iso_c']) {
      const out = await collect(mergeStream(base, [a, b], { method, seed: 5, weights: method === 'slerp' ? undefined : [0.4, 0.6] }));
      expect(out.map((t) => t.name)).toEqual(['l1.bias', 'l1.weight', 'l2.weight']);
      const m = getMethod(method);
      for (const t of out) {
        expect(t.shape).toEqual(SHAPES[t.name as keyof typeof SHAPES]);
        const want = m.mergeTensor({
          name: t.name,
          shape: t.shape,
          base: base.raw![t.name],
          experts: [a.raw![t.name], b.raw![t.name]],
          weights: method === 'slerp' ? [1, 1] : [0.4, 0.6],
          params: resolveParams(m, {}),
          random: tensorRandom(5, t.name),
        });
        expect(maxAbsDiff(t.data, want)).toBe(0);
      }
    }
  });

  it('include/exclude select output tensors; a DARE tensor does not depend on which others are merged', async () => {
    const all = await collect(mergeStream(base, [a, b], { method: 'dare', seed: 9 }));
    const some = await collect(mergeStream(base, [a, b], { method: 'dare', seed: 9, include: ['l1.*'], exclude: ['*.bias'] }));
    expect(some.map((t) => t.name)).toEqual(['l1.weight']);
    expect(maxAbsDiff(some[0].data, all.find((t) => t.name === 'l1.weight')!.data)).toBe(0);
  });

  it('reports progress in bytes up to the total', async () => {
    const events: ProgressEvent[] = [];
    await collect(mergeStream(base, [a, b], { method: 'ties', onProgress: (e) => events.push(e) }));
    const last = events[events.length - 1];
    expect(last.done).toBe(last.total);
    expect(last.total).toBe((30 + 6 + 18) * 4);
    expect(events.map((e) => e.done)).toEqual([...events.map((e) => e.done)].sort((x, y) => x - y));
  });

  it('NaN/Inf in an output is an error naming the tensor and the input that carried it', async () => {
    const bad = model('bad', 4, SHAPES, base);
    bad.raw!['l2.weight'][3] = NaN;
    const e = await rejects(collect(mergeStream(base, [a, bad], { method: 'task_arithmetic' })));
    expect(e.code).toBe('NON_FINITE');
    expect(e.tensor).toBe('l2.weight');
    expect(e.file).toBe('memory:bad');
    // TIES would trim the NaN away silently: the input check still catches it
    expect((await rejects(collect(mergeStream(base, [a, bad], { method: 'ties', params: { density: 0.1 } })))).file).toBe('memory:bad');
    const warnings: string[] = [];
    const out = await collect(mergeStream(base, [a, bad], { method: 'task_arithmetic', nonFinite: 'warn', onWarning: (w) => warnings.push(w) }));
    expect(out).toHaveLength(3);
    expect(warnings).toEqual(['memory:bad: tensor "l2.weight": input has 1 NaN/Inf value(s)']);
    expect(Number.isNaN(out.find((t) => t.name === 'l2.weight')!.data[3])).toBe(true);
    // finite inputs that overflow float32
    const huge = model('huge', 6, { x: [2] });
    huge.raw!.x.set([3e38, 3e38]);
    const e2 = await rejects(collect(mergeStream(null, [huge, huge], { method: 'weight_avg', params: { normalize: false } })));
    expect(e2.message).toContain('overflowed');
  });
});

describe('planMerge validation (before any tensor is read)', () => {
  const base = model('base', 1, SHAPES);
  const a = model('a', 2, SHAPES, base);
  const noRead = (c: Checkpoint): Checkpoint => ({ ...c, tensorNames: c.tensorNames, location: c.location, read: () => Promise.reject(new Error('read during planning')) });

  it('rejects bad arity, missing base, weights count, slerp weights', async () => {
    expect((await rejects(() => planMerge(null, [a], { method: 'ties' }))).message).toMatch(/ties .*needs the base/);
    expect((await rejects(() => planMerge(base, [], { method: 'ties' }))).message).toMatch(/at least 1 expert/);
    expect((await rejects(() => planMerge(base, [a, a, a], { method: 'slerp' }))).message).toMatch(/slerp merges 1 to 2/);
    expect((await rejects(() => planMerge(null, [a], { method: 'slerp' }))).message).toMatch(/two models/);
    const w = await rejects(() => planMerge(base, [a, a], { method: 'ties', weights: [1] }));
    expect(w.code).toBe('BAD_PARAM');
    expect(w.message).toContain('"weights" has 1 value(s) for 2 expert(s)');
    expect((await rejects(() => planMerge(base, [a, a], { method: 'slerp', weights: [1, 1] }))).message).toContain('not used by slerp');
    expect((await rejects(() => planMerge(base, [a], { method: 'dare', seed: -1 }))).message).toContain('seed');
  });

  it('missing tensor and shape mismatch name the file and tensor, without reading data', async () => {
    const missing = noRead(model('short', 7, { 'l1.weight': [6, 5], 'l1.bias': [6] }, base));
    const e1 = await rejects(() => planMerge(noRead(base), [noRead(a), missing], { method: 'ties' }));
    expect(e1.code).toBe('MISSING_TENSOR');
    expect(e1.file).toBe('memory:short');
    expect(e1.tensor).toBe('l2.weight');
    const wrong = noRead(model('wrong', 8, { ...SHAPES, 'l2.weight': [6, 3] }));
    const e2 = await rejects(() => planMerge(noRead(base), [noRead(a), wrong], { method: 'ties' }));
    expect(e2.code).toBe('SHAPE_MISMATCH');
    expect(e2.message).toContain('memory:wrong: tensor "l2.weight": shape [6, 3] differs from the base\'s [3, 6]');
  });

  it('warns about tensors only an expert has', () => {
    const extra = model('extra', 9, { ...SHAPES, 'head.weight': [2, 2] }, base);
    const plan = planMerge(base, [a, extra], { method: 'ties' });
    expect(plan.warnings.join('\n')).toContain('memory:extra: 1 tensor(s) the base lacks are ignored (e.g. head.weight)');
  });
});

describe('real checkpoints (fixtures/tiny)', () => {
  it('a LoRA expert merges as base + scale·B·A (dense modules_to_save as is, untouched tensors = base)', async () => {
    const base = await openCheckpoint(path.join(TINY, 'base'));
    const lora = (await openCheckpoint(path.join(TINY, 'lora-expert'))) as LoraCheckpoint;
    const plan = planMerge(base, [lora], { method: 'task_arithmetic', params: { lambda: 1 } });
    const byName = new Map(plan.tensors.map((t) => [t.name, t.sources[0]]));
    expect(byName.get('model.layers.0.self_attn.q_proj.weight')).toBe('lowrank');
    expect(byName.get('lm_head.weight')).toBe('dense');
    expect(byName.get('model.layers.0.self_attn.k_proj.weight')).toBe('base');
    const out = await collect(mergeStream(base, [lora], { method: 'task_arithmetic', params: { lambda: 1 } }));
    for (const t of out) {
      const b = await base.read(t.name);
      let want: Float64Array;
      if (byName.get(t.name) === 'lowrank') {
        const d = await lora.lowRank(t.name);
        const [m, n] = d.shape;
        want = new Float64Array(m * n);
        for (let i = 0; i < m; i++)
          for (let j = 0; j < n; j++) {
            let s = 0;
            for (let k = 0; k < d.rank; k++) s += d.B[i * d.rank + k] * d.A[k * n + j];
            want[i * n + j] = b[i * n + j] + d.scale * s;
          }
      } else if (byName.get(t.name) === 'dense') want = Float64Array.from(await lora.read(t.name));
      else want = Float64Array.from(b);
      expect(maxAbsDiff(t.data, want)).toBeLessThan(1e-5);
    }
    await base.close();
    await lora.close();
  });
});
