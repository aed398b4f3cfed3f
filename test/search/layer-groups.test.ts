/**
 * Per-layer-group weights: the grouping rule on hand-made tensor names, the mergekit filter
 * lists that express it, and a real search on the zoo whose best checkpoint holds, tensor by
 * tensor, θ₀ + Σᵢ w(i, group of the tensor)·τᵢ (float64 reference) and is rebuilt bit-identically
 * by `mergelens merge --config recipe.yml`.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { evaluateSetting } from '../../src/merge/config.js';
import { groupLayers, groupSetting, meanWeights } from '../../src/search/layer-groups.js';
import { openCheckpoint } from '../../src/checkpoint/open.js';
import { runSearch } from '../../src/search/run.js';
import type { Evaluator } from '../../src/eval/runner.js';
import { ROOT, runCli } from '../helpers/cli.js';

const llm = [
  'lm_head.weight',
  'model.norm.weight',
  'model.embed_tokens.weight',
  ...Array.from({ length: 11 }, (_, l) => [`model.layers.${l}.mlp.up_proj.weight`, `model.layers.${l}.input_layernorm.weight`]).flat(),
].map((name) => ({ name, numel: name.includes('mlp') ? 100 : 10 }));

describe('layer groups', () => {
  it('splits 11 layers into 3 contiguous groups in depth order (layers.10 last); embeddings first, norm and head last', () => {
    const g = groupLayers(llm, 3);
    // ⌊k·11/3⌋: layers 0–2, 3–6, 7–10.
    expect(g.layers).toEqual([
      ['layers.0', 'layers.1', 'layers.2'],
      ['layers.3', 'layers.4', 'layers.5', 'layers.6'],
      ['layers.7', 'layers.8', 'layers.9', 'layers.10'],
    ]);
    expect(g.groupOf.get('model.embed_tokens.weight')).toBe(0);
    expect(g.groupOf.get('model.layers.10.mlp.up_proj.weight')).toBe(2);
    expect(g.groupOf.get('model.norm.weight')).toBe(2);
    expect(g.groupOf.get('lm_head.weight')).toBe(2);
    // numel: group 1 = 3 layers × 110 + embeddings 10; group 2 = 4 × 110; group 3 = 4 × 110 + norm + head.
    expect(g.numel).toEqual([340, 440, 460]);
    expect(g.tensors).toEqual([7, 8, 10]);
  });

  it('writes filter lists that give every tensor its own group’s weight under mergekit’s first-match rule', () => {
    const g = groupLayers(llm, 3);
    const w = [0.11, 0.22, 0.33];
    const setting = groupSetting(g, w);
    expect(Array.isArray(setting)).toBe(true);
    for (const t of llm) {
      const layer = /layers\.(\d+)\./.exec(t.name);
      const expected = t.name.includes('embed') ? 0.11 : layer ? w[Number(layer[1]) <= 2 ? 0 : Number(layer[1]) <= 6 ? 1 : 2] : 0.33;
      expect(evaluateSetting(t.name, setting as never, 0), t.name).toBe(expected);
    }
    // `layers.1.` must not catch layers.10 (it is a substring filter): checked above; one group is a plain number.
    expect(groupSetting(groupLayers(llm, 1), [0.5])).toBe(0.5);
    // Parameter-weighted mean: (0.11·340 + 0.22·440 + 0.33·460) / 1240.
    expect(meanWeights(g, [w])[0]).toBeCloseTo((0.11 * 340 + 0.22 * 440 + 0.33 * 460) / 1240, 14);
  });

  it('refuses groups the model cannot have and filters that would catch another group’s layer', () => {
    expect(() => groupLayers(llm, 12)).toThrow(/only 11 numbered layer/);
    expect(() => groupLayers([{ name: 'fc1.weight', numel: 4 }], 2)).toThrow(/no numbered layers/);
    // "x.0." is a substring of "zx.0.w": x.* (group 1) would also catch zx.* (group 2).
    const clash = ['x.0.w', 'x.1.w', 'zx.0.w', 'zx.1.w'].map((name) => ({ name, numel: 1 }));
    expect(() => groupLayers(clash, 2)).toThrow(/tensor zx\.0\.w belongs to layer group 2/);
  });
});

const Z = path.join(ROOT, 'fixtures/study');
const experts = ['rot90', 'invert'].map((t) => path.join(Z, 'experts', `${t}.safetensors`));

async function tensors(file: string): Promise<Map<string, Float32Array>> {
  const ck = await openCheckpoint(file);
  try {
    const m = new Map<string, Float32Array>();
    for (const n of ck.tensorNames()) m.set(n, await ck.read(n));
    return m;
  } finally {
    await ck.close();
  }
}

describe('search with --layer-groups on the zoo', () => {
  it('merges each layer with its own group weights; recipe.yml rebuilds the best checkpoint bit-identically', async () => {
    const seen: number[][][] = [];
    // Any scores will do here (convergence is cmaes.test.ts's and run.test.ts's business): a smooth function of the group weights.
    const evaluator: Evaluator = async (ctx) => {
      const gw = (ctx.candidate.meta as { groupWeights: number[][] }).groupWeights;
      seen.push(gw);
      return { scores: { t: -((gw[0][0] - 0.7) ** 2) - (gw[0][1] - 0.2) ** 2 - (gw[1][0] - 0.3) ** 2 - (gw[1][1] - 0.6) ** 2 } };
    };
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mergelens-search-layers-'));
    const r = await runSearch({ base: path.join(Z, 'base.safetensors'), experts, method: 'task_arithmetic', params: { lambda: 1 }, layerGroups: 2, evaluator, outDir: dir, budget: 8, popsize: 4, seed: 5, tasks: ['t'], start: '0.65,0.25,0.35,0.55' });
    const s = r.summary;
    expect(s.evaluations).toBe(9);
    expect(s.layerGroups!.groups.map((g) => g.layers)).toEqual([['encoder.0'], ['encoder.1']]);
    // --start with n × G values, expert by expert.
    expect(s.start.groupWeights).toEqual([[0.65, 0.25], [0.35, 0.55]]);
    // A candidate whose weights are all 0 in one group fails to merge (as an all-zero candidate does without groups) and is recorded so.
    for (const c of s.candidates.filter((x) => x.status !== 'ok')) {
      expect(c.reason).toMatch(/every weight is 0/);
      expect([0, 1].some((g) => c.groupWeights!.every((ws) => ws[g] === 0))).toBe(true);
    }
    expect(seen.length).toBe(s.candidates.filter((c) => c.status === 'ok').length);
    const best = s.best!;
    expect(best.groupWeights![0][0]).not.toBe(best.groupWeights![0][1]);

    // best/ = θ₀ + Σᵢ w(i, g)·τᵢ per tensor, g = 0 for encoder.0.*, 1 for encoder.1.* (float64 reference).
    const [b, e0, e1] = await Promise.all([path.join(Z, 'base.safetensors'), ...experts].map(tensors));
    const merged = await tensors(path.join(dir, 'best'));
    for (const [name, m] of merged) {
      const g = name.startsWith('encoder.0.') ? 0 : 1;
      const [w0, w1] = [best.groupWeights![0][g], best.groupWeights![1][g]];
      const t0 = b.get(name)!;
      let maxErr = 0;
      for (let k = 0; k < m.length; k++) {
        const ref = t0[k] + w0 * (e0.get(name)![k] - t0[k]) + w1 * (e1.get(name)![k] - t0[k]);
        maxErr = Math.max(maxErr, Math.abs(m[k] - ref));
      }
      expect(maxErr, name).toBeLessThan(1e-6);
    }
    // The per-expert summary weight is the parameter-weighted mean of its group weights.
    const n0 = s.layerGroups!.groups[0].numel;
    const n1 = s.layerGroups!.groups[1].numel;
    expect(best.weights[0]).toBeCloseTo((best.groupWeights![0][0] * n0 + best.groupWeights![0][1] * n1) / (n0 + n1), 12);

    // recipe.yml: mergekit's {filter, value} lists …
    const doc = YAML.parse(readFileSync(path.join(dir, 'recipe.yml'), 'utf8'));
    expect(doc.models[1].parameters.weight).toEqual([{ filter: 'encoder.0.', value: best.groupWeights![1][0] }, { value: best.groupWeights![1][1] }]);
    // … that `mergelens merge --config` turns into the same bytes as best/.
    const again = path.join(dir, 'again');
    const cli = runCli(['merge', '--config', path.join(dir, 'recipe.yml'), '-o', again, '--no-progress']);
    expect(cli.status, cli.stderr).toBe(0);
    const rebuilt = await tensors(again);
    expect([...rebuilt.keys()].sort()).toEqual([...merged.keys()].sort());
    for (const [name, m] of merged) expect(Buffer.from(rebuilt.get(name)!.buffer).equals(Buffer.from(m.buffer)), name).toBe(true);
    const csvHead = readFileSync(path.join(dir, 'search.csv'), 'utf8').split('\n')[0].split(',');
    expect(csvHead.slice(6, 12)).toEqual(['w_rot90', 'w_invert', 'w_rot90_g1', 'w_rot90_g2', 'w_invert_g1', 'w_invert_g2']);
  }, 120_000);
});
