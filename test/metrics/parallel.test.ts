import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Checkpoint, MetricsReport } from '../../src/types.js';
import { MergelensError } from '../../src/errors.js';
import { openCheckpoint } from '../../src/checkpoint/open.js';
import { writeSafetensors } from '../../src/safetensors/writer.js';
import { computeMetrics, computeMetricsPartial } from '../../src/metrics/engine.js';
import { computeMetricsParallel, computeMetricsPartialParallel } from '../../src/metrics/parallel.js';
import { effectiveTau, rng } from './helpers.js';

const SHAPES: Record<string, number[]> = {
  'model.embed_tokens.weight': [40, 16],
  'model.layers.0.self_attn.q_proj.weight': [16, 16],
  'model.layers.0.mlp.up_proj.weight': [24, 16],
  'model.layers.0.input_layernorm.weight': [16],
  'model.layers.1.self_attn.q_proj.weight': [16, 16],
  'model.layers.1.mlp.up_proj.weight': [24, 16],
  'model.layers.1.mlp.down_proj.weight': [16, 24],
  'model.norm.weight': [16],
  'lm_head.weight': [40, 16],
};
const numel = (s: number[]) => s.reduce((a, b) => a * b, 1);

let dir: string;
let base: Checkpoint;
let experts: Checkpoint[];

/** Base + 3 BF16 experts sharing a direction; expert 2's embedding has 2 extra vocabulary rows. */
beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'mergelens-parallel-'));
  const r = rng(7);
  const baseData = Object.fromEntries(Object.entries(SHAPES).map(([n, s]) => [n, Float32Array.from({ length: numel(s) }, r)]));
  const shared = Object.fromEntries(Object.entries(SHAPES).map(([n, s]) => [n, Float32Array.from({ length: numel(s) }, () => 0.1 * r())]));
  const write = (file: string, dtype: 'F32' | 'BF16', mk: (n: string, i: number) => number, extraRows = 0) =>
    writeSafetensors(
      path.join(dir, file),
      Object.entries(SHAPES).map(([name, s]) => {
        const shape = extraRows && name.includes('embed') ? [s[0] + extraRows, ...s.slice(1)] : s;
        return { name, dtype, shape, data: Float32Array.from({ length: numel(shape) }, (_, i) => (i < numel(s) ? mk(name, i) : r())) };
      }),
    );
  await write('base.safetensors', 'F32', (n, i) => baseData[n][i]);
  await write('e0.safetensors', 'BF16', (n, i) => baseData[n][i] + 0.3 * shared[n][i] + 0.05 * r());
  await write('e1.safetensors', 'BF16', (n, i) => baseData[n][i] + 0.8 * shared[n][i] + 0.05 * r());
  await write('e2.safetensors', 'F32', (n, i) => baseData[n][i] + (r() > 0 ? shared[n][i] : -0.02 * r()), 2);
  base = await openCheckpoint(path.join(dir, 'base.safetensors'));
  experts = await Promise.all(['e0', 'e1', 'e2'].map((e) => openCheckpoint(path.join(dir, `${e}.safetensors`))));
});

afterAll(async () => {
  await Promise.all([base, ...experts].map((c) => c?.close()));
  rmSync(dir, { recursive: true, force: true });
});

/** A report without the fields that legitimately differ between two runs (time of day, wall time). */
function comparable(r: MetricsReport) {
  return { ...r, createdAt: '', stats: { ...r.stats, seconds: 0 } };
}

describe('computeMetricsParallel', () => {
  it('equals the single-thread report exactly, for 2 and 3 threads (more units than tensors)', async () => {
    const opts = { exactMaxDim: 16, bottomMaxDim: 16, subspaceK: 4, spectrumK: 8 };
    const single = await computeMetrics(base, experts, opts);
    expect(single.warnings.some((w) => w.includes('row counts differ'))).toBe(true);
    expect(single.stats.tensors).toBe(Object.keys(SHAPES).length);
    for (const threads of [2, 3]) {
      const details: string[] = [];
      const par = await computeMetricsParallel(base, experts, { ...opts, threads, minParallelBytes: 0, onProgress: (e) => details.push(e.detail ?? '') });
      expect(comparable(par)).toEqual(comparable(single));
      // It really ran on worker threads (the in-process engine reports tensor names instead).
      expect(details.some((d) => d.includes(`units on ${threads} threads`))).toBe(true);
    }
    // The shared report carries real values: tv_cosine(e0, e1) against a dense float64 reference.
    let ab = 0, aa = 0, bb = 0;
    for (const name of Object.keys(SHAPES)) {
      const [t0, t1] = await Promise.all([effectiveTau(base, experts[0], name), effectiveTau(base, experts[1], name)]);
      for (let i = 0; i < t0.length; i++) {
        ab += t0[i] * t1[i];
        aa += t0[i] * t0[i];
        bb += t1[i] * t1[i];
      }
    }
    const cos = single.metrics.tv_cosine[0][1]!;
    expect(Math.abs(cos - ab / Math.sqrt(aa * bb))).toBeLessThan(1e-12);
    expect(cos).toBeGreaterThan(0.3);
  }, 60_000);

  it('splits a --shard further among threads and still equals that shard computed in one thread', async () => {
    const one = await computeMetricsPartial(base, experts, { shard: '2/3', subspace: false });
    const par = await computeMetricsPartialParallel(base, experts, { shard: '2/3', subspace: false, threads: 2, minParallelBytes: 0 });
    expect(par.shards).toEqual(['2/3']);
    expect(par.settings).toEqual(one.settings);
    expect(par.tensors).toEqual(one.tensors);
    expect(par.tensors.length).toBeGreaterThan(0);
    expect(par.tensors.length).toBeLessThan(Object.keys(SHAPES).length);
    expect({ ...par.stats, seconds: 0 }).toEqual({ ...one.stats, seconds: 0 });
  }, 60_000);

  it('rethrows a worker error as the same MergelensError (code, file, tensor)', async () => {
    const bad = path.join(dir, 'nan.safetensors');
    await writeSafetensors(
      bad,
      Object.entries(SHAPES).map(([name, shape]) => ({ name, dtype: 'F32' as const, shape, data: Float32Array.from({ length: numel(shape) }, (_, i) => (name === 'model.norm.weight' && i === 3 ? NaN : 0)) })),
    );
    const nan = await openCheckpoint(bad);
    try {
      const err = await computeMetricsParallel(base, [experts[0], nan], { threads: 2, subspace: false, minParallelBytes: 0 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MergelensError);
      expect((err as MergelensError).code).toBe('NON_FINITE');
      expect((err as MergelensError).file).toBe(bad);
      expect((err as MergelensError).tensor).toBe('model.norm.weight');
    } finally {
      await nan.close();
    }
  }, 60_000);
});
