/**
 * mergekit's own example configs (fixtures/mergekit, copied unchanged) merged end to end by the
 * CLI on tiny 40-layer Llama-style checkpoints that sit in a fake Hugging Face cache under the
 * model ids the configs name. Every output tensor is checked against a float64 recomputation
 * that applies mergekit's rules by hand: t = layer/(layers − 1), gradients interpolated
 * linearly, first matching filter wins, embeddings/norm/head at t = 0, mergekit's defaults.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openCheckpoint } from '../../src/checkpoint/open.js';
import { ROOT, runCli } from '../helpers/cli.js';
import { addFolderToHfCache, revisionOf } from '../../src/fixtures/hf-cache.js';
import { f64, refGta, refSlerp, refTopK, refWeightAvg, taskVectors } from '../merge/reference.js';
import { writeLlama, type TinyLlama } from './llama.js';

const LAYERS = 40; // the 13B models these configs name have 40 layers (gradient-slerp's layer_range [0, 40])
const FIX = path.join(ROOT, 'fixtures/mergekit');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'mergelens-mk-'));
const cache = path.join(tmp, 'hub');
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const models = new Map<string, TinyLlama>();
async function model(id: string, seed: number, from?: string): Promise<void> {
  const m = await writeLlama(path.join(tmp, 'src', id.replace('/', '__')), LAYERS, seed, from ? models.get(from) : undefined);
  addFolderToHfCache(cache, id, m.dir, { rev: revisionOf(id) });
  models.set(id, m);
}
const ready = (async () => {
  await model('TheBloke/Llama-2-13B-fp16', 1);
  await model('psmathur/orca_mini_v3_13b', 2, 'TheBloke/Llama-2-13B-fp16');
  await model('garage-bAInd/Platypus2-13B', 3, 'TheBloke/Llama-2-13B-fp16');
  await model('WizardLM/WizardMath-13B-V1.0', 4, 'TheBloke/Llama-2-13B-fp16');
  await model('WizardLM/WizardLM-13B-V1.2', 5, 'TheBloke/Llama-2-13B-fp16');
  await model('mistralai/Mistral-7B-v0.1', 6);
  await model('mistralai/Mistral-7B-Instruct-v0.2', 7, 'mistralai/Mistral-7B-v0.1');
  await model('BioMistral/BioMistral-7B', 8, 'mistralai/Mistral-7B-v0.1');
})();

/** Hand-written gradient interpolation (mergekit evaluate_setting on a number list). */
const grad = (g: number[], t: number) => {
  const x = t * (g.length - 1);
  const i = Math.floor(x);
  return i >= g.length - 1 ? g[g.length - 1] : g[i] + (x - i) * (g[i + 1] - g[i]);
};
const tOf = (name: string) => {
  const m = /layers\.(\d+)\./.exec(name);
  return m ? Number(m[1]) / (LAYERS - 1) : 0;
};
const tensors = (id: string) => models.get(id)!.tensors;

async function mergeConfig(file: string, out: string) {
  const r = runCli(['merge', '--config', path.join(FIX, file), '-o', out, '--no-progress'], { env: { HF_HUB_CACHE: cache } });
  return r;
}

/** Compare every output tensor with the reference (F16 output: half an F16 ulp plus float32 noise). */
async function expectMerged(out: string, ref: (name: string) => number[]) {
  const c = await openCheckpoint(out);
  let checked = 0;
  for (const name of c.tensorNames()) {
    const got = await c.read(name);
    const want = ref(name);
    for (let i = 0; i < want.length; i++) {
      const tol = Math.abs(want[i]) * 2 ** -11 + 1e-6;
      if (!(Math.abs(got[i] - want[i]) <= tol)) throw new Error(`${name}[${i}]: got ${got[i]}, want ${want[i]}`);
    }
    checked++;
  }
  await c.close();
  return checked;
}

describe('mergekit example configs, merged as mergekit would', () => {
  it('gradient-slerp.yml: slices + per-filter t gradients', async () => {
    await ready;
    const out = path.join(tmp, 'gradient-slerp');
    const r = await mergeConfig('gradient-slerp.yml', out);
    expect(r.stderr).not.toMatch(/error/);
    expect(r.status).toBe(0);
    const a = tensors('psmathur/orca_mini_v3_13b');
    const b = tensors('garage-bAInd/Platypus2-13B');
    const tUsed = new Set<number>();
    const n = await expectMerged(out, (name) => {
      const t = name.includes('self_attn') ? grad([0, 0.5, 0.3, 0.7, 1], tOf(name)) : name.includes('mlp') ? grad([1, 0.5, 0.7, 0.3, 0], tOf(name)) : 0.5;
      tUsed.add(Math.round(t * 1000));
      return refSlerp(t, f64(a.get(name)!), f64(b.get(name)!));
    });
    expect(n).toBe(3 + 9 * LAYERS);
    expect(tUsed.size).toBeGreaterThan(40); // the gradient really varies over the layers
    const c = await openCheckpoint(out);
    expect(c.location('model.norm.weight')!.dtype).toBe('F16'); // dtype: float16
    await c.close();
  });

  it('ties.yml: per-model density gradient, weight gradient and weight filters', async () => {
    await ready;
    const out = path.join(tmp, 'ties');
    const r = await mergeConfig('ties.yml', out);
    expect(r.status).toBe(0);
    expect(r.stderr).toContain('int8_mask is ignored');
    const base = tensors('TheBloke/Llama-2-13B-fp16');
    const ex = ['psmathur/orca_mini_v3_13b', 'garage-bAInd/Platypus2-13B', 'WizardLM/WizardMath-13B-V1.0'].map(tensors);
    await expectMerged(out, (name) => {
      const t = tOf(name);
      const density = [grad([1, 0.7, 0.1], t), 0.5, 0.33];
      const w = [1, grad([0, 0.3, 0.7, 1], t), name.includes('mlp') ? 0.5 : 0];
      const b0 = f64(base.get(name)!);
      const taus = taskVectors(b0, ex.map((e) => f64(e.get(name)!))).map((tau, i) => refTopK(tau, density[i]));
      return refGta(b0, taus, w, { consensus: true, normalize: true, lambda: 1 });
    });
  });

  it('linear.yml: per-model weights, normalized (mergekit default), no base', async () => {
    await ready;
    const out = path.join(tmp, 'linear');
    const r = await mergeConfig('linear.yml', out);
    expect(r.status).toBe(0);
    const ex = ['psmathur/orca_mini_v3_13b', 'WizardLM/WizardLM-13B-V1.2', 'garage-bAInd/Platypus2-13B'].map(tensors);
    await expectMerged(out, (name) => refWeightAvg(ex.map((e) => f64(e.get(name)!)), [1, 0.3, 0.5], true));
  });

  it('bio-merge.yml: ties with normalize false, λ = 1 (mergekit default)', async () => {
    await ready;
    const out = path.join(tmp, 'bio');
    const r = await mergeConfig('bio-merge.yml', out);
    expect(r.status).toBe(0);
    const base = tensors('mistralai/Mistral-7B-v0.1');
    const ex = ['mistralai/Mistral-7B-Instruct-v0.2', 'BioMistral/BioMistral-7B'].map(tensors);
    await expectMerged(out, (name) => {
      const b0 = f64(base.get(name)!);
      const taus = taskVectors(b0, ex.map((e) => f64(e.get(name)!))).map((tau) => refTopK(tau, 0.5));
      return refGta(b0, taus, [0.5, 0.5], { consensus: true, normalize: false, lambda: 1 });
    });
  });

  it('orcamini-platy-44layer.yml (passthrough frankenmerge) is refused, saying why', async () => {
    const r = await mergeConfig('orcamini-platy-44layer.yml', path.join(tmp, 'never'));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/passthrough.*not supported/);
  });
});
