/**
 * Issue 21, done-when bullet 1: the built-in transformer's folders and PEFT adapters are treated
 * by every mergelens command as real Hugging Face LLM folders. A short training makes a base,
 * two full experts and two LoRA adapters; inspect, check, metrics, merge (every method, full and
 * LoRA experts together) and screen run on them through the real CLI, and the values that can be
 * recomputed independently (merged weights, a task-vector cosine) are.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runCli } from '../helpers/cli.js';
import {
  cloneParams,
  encodeText,
  evaluateLoss,
  fit,
  fitLora,
  initLora,
  lmBatch,
  mergeLora,
  pretrainBase,
  readHfFolder,
  readLoraAdapter,
  windowBatches,
  writeHfFolder,
  writeLoraAdapter,
  type Params,
  type TransformerConfig,
} from '../../src/study/transformer/model.js';
import { createRng } from '../../src/study/rng.js';

const CFG: TransformerConfig = { vocabSize: 256, dModel: 32, nLayers: 2, nHeads: 4, dFf: 64, maxSeq: 32, tieEmbeddings: false, ropeTheta: 10000, normEps: 1e-5 };
const METHODS = ['weight_avg', 'task_arithmetic', 'ties', 'dare', 'dare_ties', 'slerp', 'tsv', 'iso_c'];

let dir: string;
const p = (name: string) => path.join(dir, name);

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'mergelens-tf-'));
  const text = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const base = (await pretrainBase(text, CFG, { steps: 20, seed: 1, batch: 8 })).params;
  await writeHfFolder(p('base'), CFG, base);
  const bytes = encodeText(text);
  // Two experts on different text: plain and upper-cased.
  const corpora = [bytes, encodeText(text.toUpperCase())];
  for (let e = 0; e < 2; e++) {
    const rng = createRng(10 + e);
    const full = cloneParams(base);
    fit(full, CFG, () => lmBatch(corpora[e], 8, 32, rng), { steps: 6, lr: 3e-3 });
    await writeHfFolder(p(`expert-${e}`), CFG, full);
    const ad = initLora(CFG, { r: 4, alpha: 8, targetModules: ['q_proj', 'v_proj', 'down_proj'] }, 20 + e);
    fitLora(base, CFG, ad, () => lmBatch(corpora[e], 8, 32, rng), { steps: 6, lr: 1e-2 });
    await writeLoraAdapter(p(`lora-${e}`), ad, '../base');
  }
}, 300_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ALL = () => [p('expert-0'), p('expert-1'), p('lora-0'), p('lora-1')];

/** θ₀ + (alpha/r)·B·A of an adapter folder, as float64 from the float32 files. */
async function densified(lora: string, base: Params): Promise<Params> {
  return mergeLora(base, CFG, await readLoraAdapter(lora));
}

describe('the transformer zoo through the mergelens CLI', () => {
  it('round-trips: readHfFolder and readLoraAdapter give back what was written (float32)', async () => {
    const { cfg, params } = await readHfFolder(p('base'));
    expect(cfg).toEqual(CFG);
    expect(params.get('model.layers.1.mlp.down_proj.weight')!.shape).toEqual([32, 64]);
    const ad = await readLoraAdapter(p('lora-0'));
    expect(ad.config).toEqual({ r: 4, alpha: 8, targetModules: ['q_proj', 'v_proj', 'down_proj'] });
    expect(ad.tensors.get('model.layers.0.self_attn.q_proj.lora_A.weight')!.shape).toEqual([4, 32]);
    expect(ad.tensors.get('model.layers.0.self_attn.q_proj.lora_B.weight')!.shape).toEqual([32, 4]);
  });

  it('inspect shows a Llama folder and a PEFT adapter', () => {
    const b = runCli(['inspect', p('base')]);
    expect(b.status, b.stderr).toBe(0);
    expect(b.stdout).toContain('model_type="llama"');
    expect(b.stdout).toContain('model.layers.1.self_attn.q_proj.weight');
    expect(b.stdout).toMatch(/21 tensor\(s\)/);
    const l = runCli(['inspect', p('lora-1')]);
    expect(l.status, l.stderr).toBe(0);
    expect(l.stdout).toMatch(/r=4, lora_alpha=8/);
    expect(l.stdout).toMatch(/6 low-rank module\(s\)/);
  });

  it('check accepts every expert as descending from the base', () => {
    const r = runCli(['check', p('base'), ...ALL(), '--json', '-q']);
    expect(r.status, r.stderr).toBe(0);
    const rep = JSON.parse(r.stdout);
    expect(rep.ok).toBe(true);
    expect(rep.experts.map((e: { descendsFromBase: boolean }) => e.descendsFromBase)).toEqual([true, true, true, true]);
    expect(rep.experts.map((e: { shapeMismatches: unknown[] }) => e.shapeMismatches.length)).toEqual([0, 0, 0, 0]);
  });

  it('metrics: 6 pairs, and tv_cosine of a full expert and a LoRA adapter equals the cosine of their task vectors', async () => {
    const out = p('metrics.json');
    const r = runCli(['metrics', p('base'), ...ALL(), '-o', out, '--no-progress']);
    expect(r.status, r.stderr).toBe(0);
    const m = JSON.parse(readFileSync(out, 'utf8'));
    expect(m.experts).toEqual(['expert-0', 'expert-1', 'lora-0', 'lora-1']);
    expect(m.pairs).toHaveLength(6);
    const base = (await readHfFolder(p('base'))).params;
    const e0 = (await readHfFolder(p('expert-0'))).params;
    const l1 = await densified(p('lora-1'), base);
    let dot = 0;
    let n0 = 0;
    let n1 = 0;
    for (const [name, t] of base) {
      const a = e0.get(name)!.data;
      const b = l1.get(name)!.data;
      for (let i = 0; i < t.data.length; i++) {
        const ta = a[i] - t.data[i];
        const tb = b[i] - t.data[i];
        dot += ta * tb;
        n0 += ta * ta;
        n1 += tb * tb;
      }
    }
    expect(m.metrics.tv_cosine[0][3]).toBeCloseTo(dot / Math.sqrt(n0 * n1), 4);
  });

  it('merge: every method runs on a full expert + a LoRA adapter, and the result is a model the transformer loads and runs', async () => {
    const base = (await readHfFolder(p('base'))).params;
    const e0 = (await readHfFolder(p('expert-0'))).params;
    const l1 = await densified(p('lora-1'), base);
    const evalBatches = windowBatches(encodeText(readFileSync(path.join(ROOT, 'README.md'), 'utf8')), 32, 16, 16);
    for (const method of METHODS) {
      const out = p(`merged-${method}`);
      const r = runCli(['merge', '-m', method, '--base', p('base'), p('expert-0'), p('lora-1'), '-o', out, '-q']);
      expect(r.status, `${method}: ${r.stderr}`).toBe(0);
      const { cfg, params } = await readHfFolder(out);
      expect(cfg).toEqual(CFG);
      const { loss } = evaluateLoss(params, cfg, evalBatches);
      expect(Number.isFinite(loss), method).toBe(true);
      if (method === 'weight_avg' || method === 'task_arithmetic') {
        // Independent recomputation: (θ₁ + θ₂)/2, or θ₀ + 0.3·(τ₁ + τ₂) (mergelens' default λ).
        for (const [name, t] of params) {
          const b = base.get(name)!.data;
          const x = e0.get(name)!.data;
          const y = l1.get(name)!.data;
          for (let i = 0; i < t.data.length; i += 7) {
            const want = method === 'weight_avg' ? (x[i] + y[i]) / 2 : b[i] + 0.3 * (x[i] - b[i] + (y[i] - b[i]));
            expect(Math.abs(t.data[i] - want), `${method} ${name}[${i}]`).toBeLessThan(1e-6 * (1 + Math.abs(want)));
          }
        }
      }
    }
  }, 240_000);

  it('merge takes two LoRA adapters as adapters (not pre-densified): task arithmetic = θ₀ + 0.3·Σ scale·B·A', async () => {
    const base = (await readHfFolder(p('base'))).params;
    const l0 = await densified(p('lora-0'), base);
    const l1 = await densified(p('lora-1'), base);
    const out = p('merged-loras');
    const r = runCli(['merge', '-m', 'task_arithmetic', '--base', p('base'), p('lora-0'), p('lora-1'), '-o', out, '-q']);
    expect(r.status, r.stderr).toBe(0);
    const { params } = await readHfFolder(out);
    let changed = 0;
    for (const [name, t] of params) {
      const b = base.get(name)!.data;
      for (let i = 0; i < t.data.length; i++) {
        const want = b[i] + 0.3 * (l0.get(name)!.data[i] - b[i] + (l1.get(name)!.data[i] - b[i]));
        expect(Math.abs(t.data[i] - want)).toBeLessThan(1e-6 * (1 + Math.abs(want)));
        if (t.data[i] !== b[i]) changed++;
      }
    }
    expect(changed).toBeGreaterThan(0);
  });

  it('screen ranks all 6 pairs of full experts and adapters', () => {
    const out = p('screen.json');
    const r = runCli(['screen', p('base'), ...ALL(), '--no-progress', '-o', out]);
    expect(r.status, r.stderr).toBe(0);
    const s = JSON.parse(readFileSync(out, 'utf8'));
    expect(s.experts).toEqual(['expert-0', 'expert-1', 'lora-0', 'lora-1']);
    expect(s.ranking.pairs).toHaveLength(6);
  });
});
