import { describe, expect, it } from 'vitest';
import { memoryCheckpoint, type MemoryTensor } from '../../src/checkpoint/memory.js';
import { computeMetrics } from '../../src/metrics/engine.js';
import { compareLayers, orderBreakdown, sortLayers } from '../../src/metrics/layer-order.js';
import { llamaSpecs } from '../../src/bench/synth.js';
import { buildReportModel } from '../../src/report/model.js';
import { buildDetail, prepareData } from '../../src/dashboard/view-model.js';
import { initialState } from '../../src/dashboard/state.js';
import { gaussian } from '../../src/fixtures/tiny.js';
import { mulberry32 } from '../../src/util/mulberry32.js';
import { shapeOf } from './llama.js';

const LAYERS = 14;
const EXPECTED = ['embed_tokens', ...Array.from({ length: LAYERS }, (_, i) => `layers.${i}`), 'norm', 'lm_head'];

/** Base + 2 experts whose layer-l task vectors have cosine exactly known: τ_b = c_l·τ_a + s_l·ortho. */
function zoo() {
  const g = gaussian(mulberry32(7));
  const base: Record<string, MemoryTensor> = {};
  const a: Record<string, MemoryTensor> = {};
  const b: Record<string, MemoryTensor> = {};
  for (const s of llamaSpecs(shapeOf(LAYERS))) {
    const n = s.shape.reduce((x, y) => x * y, 1);
    const b0 = Float32Array.from({ length: n }, () => g());
    base[s.name] = { shape: s.shape, data: b0 };
    a[s.name] = { shape: s.shape, data: Float32Array.from(b0, (v) => v + 0.1 * g()) };
    b[s.name] = { shape: s.shape, data: Float32Array.from(b0, (v) => v + 0.1 * g()) };
  }
  return { base, a, b };
}

/** float64 cosine of the two task vectors over one layer group's tensors. */
function refCosine(z: ReturnType<typeof zoo>, group: string): number {
  let ab = 0, aa = 0, bb = 0;
  for (const name of Object.keys(z.base)) {
    const stripped = name.replace(/^model\./, '');
    const g = /^layers\.\d+/.exec(stripped)?.[0] ?? stripped.replace(/\.weight$/, '');
    if (g !== group) continue;
    const b0 = z.base[name].data;
    for (let i = 0; i < b0.length; i++) {
      const ta = z.a[name].data[i] - b0[i];
      const tb = z.b[name].data[i] - b0[i];
      ab += ta * tb; aa += ta * ta; bb += tb * tb;
    }
  }
  return ab / Math.sqrt(aa * bb);
}

describe('natural layer order', () => {
  it('orders embeddings, layers by integer index, final norm, lm_head', () => {
    const shuffled = [...EXPECTED].sort(); // text order: layers.10 before layers.2, lm_head before norm
    expect(shuffled).not.toEqual(EXPECTED);
    expect(sortLayers(shuffled)).toEqual(EXPECTED);
    expect(compareLayers('transformer.h.2', 'transformer.h.10')).toBeLessThan(0);
    expect(compareLayers('transformer.wte', 'transformer.h.0')).toBeLessThan(0);
    expect(compareLayers('transformer.ln_f', 'transformer.h.11')).toBeGreaterThan(0);
    // tensor names: within a layer by name, layer 9 before layer 10
    expect(compareLayers('model.layers.9.mlp.up_proj.weight', 'model.layers.10.input_layernorm.weight')).toBeLessThan(0);
  });

  it('the metrics engine writes per-layer and per-tensor breakdowns in depth order, values with their layer', async () => {
    const z = zoo();
    const report = await computeMetrics(memoryCheckpoint('base', z.base), [memoryCheckpoint('a', z.a), memoryCheckpoint('b', z.b)], { subspace: false });
    expect(report.perLayer.groups).toEqual(EXPECTED);
    const idx = report.perTensor.groups.map((n) => /layers\.(\d+)\./.exec(n)?.[1]).filter((x) => x !== undefined).map(Number);
    expect(idx).toEqual([...idx].sort((p, q) => p - q));
    report.perLayer.groups.forEach((g, k) => expect(report.perLayer.values.tv_cosine[0][k]).toBeCloseTo(refCosine(z, g), 5));
  });

  it('report and dashboard reorder a text-sorted (older) breakdown, moving values with their group', async () => {
    const z = zoo();
    const report = await computeMetrics(memoryCheckpoint('base', z.base), [memoryCheckpoint('a', z.a), memoryCheckpoint('b', z.b)], { subspace: false });
    const textOrder = report.perLayer.groups.map((g, k) => ({ g, k })).sort((p, q) => (p.g < q.g ? -1 : 1));
    const old = {
      groups: textOrder.map((x) => x.g),
      numel: textOrder.map((x) => report.perLayer.numel[x.k]),
      values: Object.fromEntries(Object.entries(report.perLayer.values).map(([id, rows]) => [id, rows.map((r) => textOrder.map((x) => r[x.k]))])),
    };
    expect(orderBreakdown(old)).toEqual(report.perLayer);
    const legacy = { ...report, perLayer: old };
    const model = buildReportModel({ metrics: legacy, downsample: { maxPoints: 1000, minPoints: 1000 } });
    expect(model.layer.groups).toEqual(EXPECTED);
    const k3 = EXPECTED.indexOf('layers.3');
    expect(model.layer.values.tv_cosine[0][k3]).toBeCloseTo(refCosine(z, 'layers.3'), 3);
    const data = prepareData({ metrics: legacy });
    const state = initialState({ experts: data.experts, metricIds: data.metricIds, methods: data.methods }, { metric: 'tv_cosine' });
    const detail = buildDetail(data, state, [0, 1], 40);
    expect(detail.sparkline?.groups).toEqual(EXPECTED);
  });
});
