import { describe, expect, it } from 'vitest';
import { memoryCheckpoint, type MemoryTensor } from '../../src/checkpoint/memory.js';
import { evaluateSetting, parseMergeConfig } from '../../src/merge/config.js';
import { planMerge } from '../../src/merge/plan.js';
import { streamPlanChunks } from '../../src/merge/stream.js';
import { llamaSpecs } from '../../src/bench/synth.js';
import { gaussian } from '../../src/fixtures/tiny.js';
import { mulberry32 } from '../../src/util/mulberry32.js';
import { f64, refGta, refTopK, taskVectors } from '../merge/reference.js';
import { shapeOf } from './llama.js';

const LAYERS = 12;
function zoo(experts: number) {
  const g = gaussian(mulberry32(3));
  const specs = llamaSpecs(shapeOf(LAYERS));
  const make = (from?: Record<string, MemoryTensor>) =>
    Object.fromEntries(specs.map((s) => {
      const n = s.shape.reduce((a, b) => a * b, 1);
      return [s.name, { shape: s.shape, data: Float32Array.from({ length: n }, (_, i) => (from ? from[s.name].data[i] + 0.05 * g() : g())) }];
    }));
  const base = make();
  return { base, experts: Array.from({ length: experts }, () => make(base)) };
}
const ck = (name: string, t: Record<string, MemoryTensor>) => memoryCheckpoint(name, t);

describe('mergekit parameter settings (evaluate_setting)', () => {
  it('interpolates gradients, picks from non-numeric lists, takes the first matching filter', () => {
    expect(evaluateSetting('x', [0, 0.5, 1], 0.25)).toBeCloseTo(0.25, 15);
    // [0, .5, .3, .7, 1] at t = 0.3: scaled 1.2 → 0.5 + 0.2·(0.3 − 0.5) = 0.46
    expect(evaluateSetting('x', [0, 0.5, 0.3, 0.7, 1], 0.3)).toBeCloseTo(0.46, 15);
    expect(evaluateSetting('x', [0, 0.5, 0.3, 0.7, 1], 1)).toBe(1);
    expect(evaluateSetting('x', ['a', 'b', 'c'], 0.6)).toBe('b'); // index ⌊0.6·2⌋ = 1
    const conds = [{ filter: 'self_attn', value: 0.1 }, { filter: 'q_proj', value: 0.2 }, { value: [0, 1] }];
    expect(evaluateSetting('model.layers.3.self_attn.q_proj.weight', conds, 0.5)).toBe(0.1); // first match wins
    expect(evaluateSetting('model.layers.3.mlp.up_proj.weight', conds, 0.5)).toBe(0.5);
    expect(evaluateSetting('model.norm.weight', [{ filter: 'mlp', value: 1 }], 0)).toBeUndefined();
    expect(evaluateSetting('anything', [{ filter: '*', value: 7 }], 0)).toBe(7);
  });
});

describe('mergekit configs: defaults and per-layer parameters', () => {
  it('task_arithmetic without lambda uses mergekit λ = 1 and says mergelens defaults to 0.3', () => {
    const cfg = parseMergeConfig('merge_method: task_arithmetic\nbase_model: /b\nmodels:\n  - {model: /x, parameters: {weight: 0.5}}\n  - {model: /y, parameters: {weight: 0.5}}\n', '/c.yml');
    expect(cfg.params).toEqual({ lambda: 1, normalize: false });
    expect(cfg.warnings.join('\n')).toMatch(/lambda not set; using mergekit's default 1 \(mergelens's CLI default is 0\.3\)/);
    const ties = parseMergeConfig('merge_method: ties\nbase_model: /b\nmodels:\n  - {model: /x, parameters: {weight: 1}}\n  - {model: /y, parameters: {weight: 1}}\n', '/c.yml');
    expect(ties.params.density).toBe(1); // mergekit: density defaults to 1 (no trim); mergelens CLI: 0.2
    const dare = parseMergeConfig('merge_method: dare_linear\nbase_model: /b\nmodels:\n  - {model: /x, parameters: {weight: 1, density: 0.3}}\n  - {model: /y, parameters: {weight: 1, density: 0.3}}\n', '/c.yml');
    expect(dare.params).toMatchObject({ density: 0.3, rescale: 'l1', normalize: false, lambda: 1 });
    expect(() => parseMergeConfig('merge_method: slerp\nbase_model: /x\nmodels: [{model: /x}, {model: /y}]\n', '/c.yml')).toThrow(/"t" is required/);
  });

  it('slices restart the gradient in each slice; slice parameters win over the top level', () => {
    const z = zoo(1);
    const cfg = parseMergeConfig(
      `merge_method: slerp
base_model: /m/base
slices:
  - sources:
      - {model: /m/base, layer_range: [0, 6]}
      - {model: /m/e, layer_range: [0, 6]}
    parameters: {t: [0, 1]}
  - sources:
      - {model: /m/base, layer_range: [6, 12]}
      - {model: /m/e, layer_range: [6, 12]}
parameters:
  t: [{filter: mlp, value: [1, 0]}, {value: 0.25}]
`,
      '/m/c.yml',
    );
    expect(cfg.experts).toEqual(['/m/e']);
    const plan = planMerge(ck('base', z.base), [ck('e', z.experts[0])], { method: cfg.method, perTensor: cfg.perTensor });
    const tOf = (name: string) => plan.tensors.find((t) => t.name === name)!.params!.t as number;
    expect(tOf('model.layers.0.self_attn.q_proj.weight')).toBe(0);
    expect(tOf('model.layers.3.self_attn.q_proj.weight')).toBeCloseTo(3 / 5, 15);
    expect(tOf('model.layers.5.mlp.up_proj.weight')).toBe(1); // slice 1's own t, not the mlp filter
    expect(tOf('model.layers.6.mlp.up_proj.weight')).toBe(1); // slice 2 restarts: t = 0 → [1, 0] gives 1
    expect(tOf('model.layers.9.mlp.up_proj.weight')).toBeCloseTo(1 - 3 / 5, 15);
    expect(tOf('model.layers.9.input_layernorm.weight')).toBe(0.25);
    expect(tOf('model.embed_tokens.weight')).toBe(0); // first slice at t = 0
    expect(tOf('lm_head.weight')).toBe(0.25); // last slice: top-level fallback
  });

  it('refuses slices that move layers or do not cover the model', () => {
    const z = zoo(1);
    expect(() => parseMergeConfig('merge_method: slerp\nparameters: {t: 0.5}\nslices:\n  - sources: [{model: /a, layer_range: [0, 4]}, {model: /b, layer_range: [2, 6]}]\n', '/c.yml')).toThrow(/move, repeat or drop layers/);
    const cfg = parseMergeConfig('merge_method: slerp\nbase_model: /a\nparameters: {t: 0.5}\nslices:\n  - sources: [{model: /a, layer_range: [0, 8]}, {model: /b, layer_range: [0, 8]}]\n', '/c.yml');
    expect(() => planMerge(ck('a', z.base), [ck('b', z.experts[0])], { method: 'slerp', perTensor: cfg.perTensor })).toThrow(/cover layers \[0, 8\) but the model has 12/);
  });

  it('per-model densities: row-chunked TIES equals the whole-tensor merge and a float64 reference', async () => {
    const z = zoo(2);
    const cfg = parseMergeConfig(
      'merge_method: ties\nbase_model: /b\nmodels:\n  - {model: /x, parameters: {weight: 0.7, density: [0.9, 0.2]}}\n  - {model: /y, parameters: {weight: [1, 0.4], density: 0.5}}\n',
      '/c.yml',
    );
    const base = ck('b', z.base);
    const experts = z.experts.map((e, i) => ck(`e${i}`, e));
    const run = async (chunkElements: number) => {
      const plan = planMerge(base, experts, { method: 'ties', perTensor: cfg.perTensor });
      const out = new Map<string, Float32Array>();
      for await (const c of streamPlanChunks(plan, base, experts, { chunkElements })) {
        const whole = out.get(c.name) ?? new Float32Array(c.shape.reduce((a, b) => a * b, 1));
        whole.set(c.data, c.offset);
        out.set(c.name, whole);
      }
      return out;
    };
    const whole = await run(1 << 22);
    const chunked = await run(16); // rows of 8: two rows per chunk → the TIES pre-pass finds each expert's own cut
    for (const [name, data] of whole) {
      expect(Array.from(chunked.get(name)!)).toEqual(Array.from(data));
      const m = /layers\.(\d+)\./.exec(name);
      const t = m ? Number(m[1]) / (LAYERS - 1) : 0;
      const b0 = f64(z.base[name].data);
      const taus = taskVectors(b0, z.experts.map((e) => f64(e[name].data)));
      const want = refGta(b0, [refTopK(taus[0], 0.9 + t * (0.2 - 0.9)), refTopK(taus[1], 0.5)], [0.7, 1 + t * (0.4 - 1)], { consensus: true, normalize: true, lambda: 1 });
      want.forEach((v, i) => expect(Math.abs(data[i] - v)).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(v))));
    }
  });
});
