import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, ROOT } from '../helpers/cli.js';
import { writeSafetensors } from '../../src/safetensors/writer.js';
import { openCheckpoint } from '../../src/checkpoint/open.js';
import { computeMetrics } from '../../src/metrics/engine.js';
import { METRIC_IDS } from '../../src/metrics/definitions.js';
import type { MetricsReport } from '../../src/types.js';
import { denseDelta, numel, randomDelta, rng } from './helpers.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'mergelens-metrics-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const f = (name: string) => path.join(dir, name);

const SHAPES: Record<string, number[]> = {
  'model.layers.0.self_attn.q_proj.weight': [16, 12],
  'model.layers.1.self_attn.q_proj.weight': [16, 12],
  'model.layers.0.mlp.up_proj.bias': [16],
  'model.norm.weight': [12],
};

async function writeModel(file: string, data: Record<string, Float32Array>): Promise<void> {
  await writeSafetensors(file, Object.entries(SHAPES).map(([name, shape]) => ({ name, dtype: 'F32' as const, shape, data: data[name] })));
}

const r = rng(2024);
const base = Object.fromEntries(Object.entries(SHAPES).map(([n, s]) => [n, Float32Array.from({ length: numel(s) }, r)]));
const experts = [0, 1, 2].map(() => Object.fromEntries(Object.entries(base).map(([n, d]) => [n, d.map((v) => v + 0.1 * r())])));
const ready = (async () => {
  await writeModel(f('base.safetensors'), base);
  for (const [k, e] of experts.entries()) await writeModel(f(`e${k}.safetensors`), e);
})();

const readJson = (p: string) => JSON.parse(readFileSync(p, 'utf8')) as MetricsReport;
const comparable = (x: MetricsReport) => ({ ...x, createdAt: '', stats: { ...x.stats, seconds: 0 } });
const EXPERTS = () => [0, 1, 2].map((k) => f(`e${k}.safetensors`));

describe('mergelens metrics (CLI, real safetensors files)', () => {
  it('writes the report and CSV; values equal the library on the same files; progress on stderr', async () => {
    await ready;
    const res = runCli(['metrics', f('base.safetensors'), ...EXPERTS(), '-o', f('m.json'), '--csv', f('m.csv')]);
    expect(res.stderr).toMatch(/metrics .*100%/);
    expect(res.status).toBe(0);
    const rep = readJson(f('m.json'));
    const b = await openCheckpoint(f('base.safetensors'));
    const es = await Promise.all(EXPERTS().map(openCheckpoint));
    const lib = await computeMetrics(b, es);
    await Promise.all([b, ...es].map((c) => c.close()));
    expect(rep.metrics).toEqual(lib.metrics);
    expect(rep.experts).toEqual(['e0', 'e1', 'e2']);
    // fingerprints: size and sha256 of the 8-byte length + JSON header
    const bytes = readFileSync(f('base.safetensors'));
    const headerLen = Number(bytes.readBigUInt64LE(0));
    expect(rep.base.files[0]).toEqual({ path: f('base.safetensors'), bytes: bytes.length, headerSha256: createHash('sha256').update(bytes.subarray(0, 8 + headerLen)).digest('hex') });
    expect(rep.settings).toMatchObject({ trimFraction: 0.2, subspaceK: 10, shard: '1/1' });

    const csv = readFileSync(f('m.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toBe(['a', 'b', ...METRIC_IDS].join(','));
    expect(csv).toHaveLength(4);
    const row = csv[3].split(',');
    expect(row.slice(0, 2)).toEqual(['e1', 'e2']);
    expect(Number(row[2 + METRIC_IDS.indexOf('tv_cosine')])).toBe(rep.metrics.tv_cosine[1][2]);
    expect(row[2 + METRIC_IDS.indexOf('act_cosine')]).toBe('');
  });

  it('--shard i/n partials merged with merge-partials equal the one-pass file', async () => {
    await ready;
    expect(runCli(['metrics', f('base.safetensors'), ...EXPERTS(), '-o', f('full.json'), '--no-progress']).status).toBe(0);
    for (const i of [1, 2]) {
      const res = runCli(['metrics', f('base.safetensors'), ...EXPERTS(), '--shard', `${i}/2`, '-o', f(`p${i}.json`), '--no-progress']);
      expect(res.status, res.stderr).toBe(0);
      expect(JSON.parse(readFileSync(f(`p${i}.json`), 'utf8')).format).toBe('mergelens.metrics-partial');
    }
    const m = runCli(['metrics', 'merge-partials', f('p2.json'), f('p1.json'), '-o', f('merged.json'), '--csv', f('merged.csv')]);
    expect(m.status, m.stderr).toBe(0);
    expect(comparable(readJson(f('merged.json')))).toEqual(comparable(readJson(f('full.json'))));
    // an incomplete set is refused
    const bad = runCli(['metrics', 'merge-partials', f('p1.json'), '-o', f('x.json')]);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/do not cover/);
  });

  it('NaN in an expert: non-zero exit naming the file and tensor', async () => {
    await ready;
    const broken = Object.fromEntries(Object.entries(experts[0]).map(([n, d]) => [n, d.slice()]));
    broken['model.layers.1.self_attn.q_proj.weight'][5] = NaN;
    await writeModel(f('nan.safetensors'), broken);
    const res = runCli(['metrics', f('base.safetensors'), f('e1.safetensors'), f('nan.safetensors'), '-o', f('nan.json'), '--no-progress']);
    expect(res.status).toBe(1);
    expect(res.stderr).toContain('NON_FINITE');
    expect(res.stderr).toContain('nan.safetensors');
    expect(res.stderr).toContain('model.layers.1.self_attn.q_proj.weight');
  });

  it('a PEFT LoRA folder gives the same metrics as dense experts holding base + ΔW', async () => {
    await ready;
    const zero = Object.fromEntries(Object.entries(SHAPES).map(([n, s]) => [n, new Float32Array(numel(s))]));
    await writeModel(f('zero.safetensors'), zero);
    const mod = 'model.layers.0.self_attn.q_proj';
    for (const k of [0, 1]) {
      const d = randomDelta(16, 12, 3, 300 + k, 1);
      const folder = f(`lora${k}`);
      mkdirSync(folder, { recursive: true });
      // r = 3, alpha = 3 → scale 1 (randomDelta's scale), so ΔW = B·A
      writeFileSync(path.join(folder, 'adapter_config.json'), JSON.stringify({ peft_type: 'LORA', r: 3, lora_alpha: 3, target_modules: ['q_proj'] }));
      await writeSafetensors(path.join(folder, 'adapter_model.safetensors'), [
        { name: `base_model.model.${mod}.lora_A.weight`, dtype: 'F32', shape: [3, 12], data: d.A },
        { name: `base_model.model.${mod}.lora_B.weight`, dtype: 'F32', shape: [16, 3], data: d.B },
      ]);
      await writeModel(f(`dense${k}.safetensors`), { ...zero, [`${mod}.weight`]: Float32Array.from(denseDelta(d)) });
    }
    const a = runCli(['metrics', f('zero.safetensors'), f('lora0'), f('lora1'), '-o', f('lora.json'), '--no-progress']);
    expect(a.status, a.stderr).toBe(0);
    const b = runCli(['metrics', f('zero.safetensors'), f('dense0.safetensors'), f('dense1.safetensors'), '-o', f('dense.json'), '--no-progress']);
    expect(b.status, b.stderr).toBe(0);
    const [la, da] = [readJson(f('lora.json')), readJson(f('dense.json'))];
    let compared = 0;
    for (const id of METRIC_IDS) {
      const x = la.metrics[id][0][1];
      const y = da.metrics[id][0][1];
      if (y === null) expect(x, id).toBeNull();
      else {
        expect(x!, id).toBeCloseTo(y, 5);
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(15);
    expect(la.inputs[0].kind).toBe('lora');
  });

  it('gradient and activation files via --grads/--acts', async () => {
    await ready;
    const g = rng(5);
    for (const k of [0, 1, 2]) {
      await writeSafetensors(f(`g${k}.safetensors`), [
        { name: 'model.norm.weight', dtype: 'F32', shape: [12], data: Float32Array.from({ length: 12 }, g) },
        { name: 'input', dtype: 'F32', shape: [2, 3], data: Float32Array.from({ length: 6 }, g) },
      ]);
      await writeSafetensors(f(`a${k}.safetensors`), [{ name: 'layers.0', dtype: 'F32', shape: [4], data: Float32Array.from({ length: 4 }, g) }]);
    }
    const grads = [0, 1, 2].map((k) => f(`g${k}.safetensors`));
    const acts = [0, 1, 2].map((k) => f(`a${k}.safetensors`));
    const res = runCli(['metrics', f('base.safetensors'), ...EXPERTS(), '--grads', ...grads, '--acts', ...acts, '-o', f('ga.json'), '--no-progress']);
    expect(res.status, res.stderr).toBe(0);
    const rep = readJson(f('ga.json'));
    const vals = (p: string, name: string) => {
      const bytes = readFileSync(p);
      const h = JSON.parse(bytes.subarray(8, 8 + Number(bytes.readBigUInt64LE(0))).toString());
      const [s, e] = h[name].data_offsets;
      const off = 8 + Number(bytes.readBigUInt64LE(0));
      return Array.from(new Float32Array(bytes.buffer.slice(bytes.byteOffset + off + s, bytes.byteOffset + off + e)));
    };
    const [x, y] = [vals(grads[0], 'input'), vals(grads[2], 'input')];
    const dot = x.reduce((s, v, i) => s + v * y[i], 0);
    expect(rep.metrics.input_grad_dot[0][2]).toBeCloseTo(dot, 12);
    const [u, v] = [vals(acts[1], 'layers.0'), vals(acts[2], 'layers.0')];
    expect(rep.metrics.act_l2[1][2]).toBeCloseTo(Math.sqrt(u.reduce((s, w, i) => s + (w - v[i]) ** 2, 0)), 12);
    expect(rep.inputs.map((i) => i.kind)).toEqual(['safetensors', 'safetensors', 'safetensors', 'gradients', 'gradients', 'gradients', 'activations', 'activations', 'activations']);
  });

  it('bad options exit non-zero with a named problem', async () => {
    await ready;
    const res = runCli(['metrics', f('base.safetensors'), ...EXPERTS(), '--trim', '1.5', '-o', f('bad.json')]);
    expect(res.status).toBe(2); // usage error (docs/cli.md)
    expect(res.stderr).toMatch(/BAD_PARAM.*trim/);
    const one = runCli(['metrics', f('base.safetensors'), f('e0.safetensors'), '-o', f('bad.json')]);
    expect(one.status).toBe(2);
    expect(one.stderr).toMatch(/at least 2 experts/);
    void ROOT;
  });
});
