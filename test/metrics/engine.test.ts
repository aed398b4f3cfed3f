import { describe, expect, it } from 'vitest';
import { Matrix, SVD } from 'ml-matrix';
import type { Checkpoint, MetricsReport } from '../../src/types.js';
import { memoryCheckpoint } from '../../src/checkpoint/memory.js';
import { loraGramInner } from '../../src/checkpoint/lora.js';
import { computeMetrics, computeMetricsPartial } from '../../src/metrics/engine.js';
import { combinePartials } from '../../src/metrics/accumulators.js';
import { finalizeReport, pairMetrics } from '../../src/metrics/finalize.js';
import { layerOf, shardTensors } from '../../src/metrics/selection.js';
import { METRIC_DEFINITIONS, METRIC_IDS } from '../../src/metrics/definitions.js';
import { SUBSPACE_METRICS } from '../../src/metrics/subspace.js';
import { denseDelta, effectiveTau, expertFrom, fakeLora, numel, randomDelta, randomTensors, rng } from './helpers.js';
import { sortLayers } from '../../src/metrics/layer-order.js';

const SHAPES: Record<string, number[]> = {
  'model.embed_tokens.weight': [24, 8],
  'model.layers.0.self_attn.q_proj.weight': [16, 8],
  'model.layers.0.mlp.up_proj.weight': [12, 8],
  'model.layers.0.input_layernorm.weight': [8],
  'model.layers.1.self_attn.q_proj.weight': [16, 8],
  'model.layers.1.mlp.up_proj.weight': [12, 8],
  'model.norm.weight': [8],
  'lm_head.weight': [24, 8],
};

/** Base + 3 experts with a shared direction (so cosines are clearly non-zero) and sparse updates. */
function fixture(seed = 1) {
  const base = randomTensors(SHAPES, seed);
  const r = rng(seed + 100);
  const shared = Object.fromEntries(Object.entries(SHAPES).map(([n, s]) => [n, Float32Array.from({ length: numel(s) }, () => 0.05 * r())]));
  const experts = [0.2, 0.6, 1].map((w, k) =>
    expertFrom(
      `e${k}`,
      base,
      Object.fromEntries(Object.entries(SHAPES).map(([n, s]) => [n, Float32Array.from({ length: numel(s) }, (_, i) => (r() > -0.2 ? w * shared[n][i] + 0.05 * r() : 0))])),
    ),
  );
  return { base: memoryCheckpoint('base', base), baseTensors: base, experts };
}

/** Independent dense float64 reference of the global weight metrics. */
async function reference(base: Checkpoint, experts: Checkpoint[], names: string[], trim: number) {
  const taus = await Promise.all(experts.map(async (e) => Promise.all(names.map((n) => effectiveTau(base, e, n)))));
  const flat = taus.map((ts) => ts.flatMap((t) => Array.from(t)));
  const thresholds = taus.map((ts) =>
    ts.map((t) => {
      const sorted = Array.from(t, Math.abs).sort((a, b) => b - a);
      return sorted[Math.max(1, Math.floor(trim * t.length)) - 1];
    }),
  );
  return { taus, flat, thresholds };
}

const dot = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * b[i], 0);

describe('computeMetrics: global values against a dense float64 reference', async () => {
  const { base, experts } = fixture();
  const report = await computeMetrics(base, experts, { trimFraction: 0.3 });
  const names = base.tensorNames();
  const ref = await reference(base, experts, names, 0.3);

  it('task-vector family', () => {
    for (const [i, j] of report.pairs) {
      const a = ref.flat[i];
      const b = ref.flat[j];
      const cos = dot(a, b) / Math.sqrt(dot(a, a) * dot(b, b));
      expect(report.metrics.tv_cosine[i][j]).toBeCloseTo(cos, 12);
      expect(report.metrics.tv_cosine[j][i]).toBe(report.metrics.tv_cosine[i][j]);
      expect(report.metrics.tv_dot[i][j]).toBeCloseTo(dot(a, b), 12);
      expect(report.metrics.tv_l2[i][j]).toBeCloseTo(Math.sqrt(a.reduce((s, v, e) => s + (v - b[e]) ** 2, 0)), 12);
      expect(report.metrics.tv_angle[i][j]).toBeCloseTo((Math.acos(cos) * 180) / Math.PI, 9);
      const na = Math.sqrt(dot(a, a));
      const nb = Math.sqrt(dot(b, b));
      expect(report.metrics.tv_magnitude_ratio[i][j]).toBeCloseTo(Math.min(na, nb) / Math.max(na, nb), 12);
      expect(report.metrics.tv_cosine[i][i]).toBeNull();
    }
    // cosines are clearly positive in this fixture (shared direction), so the test can fail
    expect(report.metrics.tv_cosine[1][2]).toBeGreaterThan(0.15);
  });

  it('sign family (counts over all tensors, per-tensor trim thresholds)', () => {
    for (const [i, j] of report.pairs) {
      let ag = 0, both = 0, wag = 0, wboth = 0, tag = 0, tboth = 0, union = 0, tdis = 0;
      names.forEach((_, t) => {
        const A = ref.taus[i][t];
        const B = ref.taus[j][t];
        for (let e = 0; e < A.length; e++) {
          const x = A[e], y = B[e];
          const kx = x !== 0 && Math.abs(x) >= ref.thresholds[i][t];
          const ky = y !== 0 && Math.abs(y) >= ref.thresholds[j][t];
          if (kx || ky) union++;
          if (x !== 0 && y !== 0) {
            both++;
            const w = Math.min(Math.abs(x), Math.abs(y));
            wboth += w;
            if (Math.sign(x) === Math.sign(y)) {
              ag++;
              wag += w;
            }
            if (kx && ky) {
              tboth++;
              if (Math.sign(x) === Math.sign(y)) tag++;
              else tdis++;
            }
          }
        }
      });
      expect(both).toBeGreaterThan(0);
      expect(report.metrics.sign_agreement[i][j]).toBe(ag / both);
      expect(report.metrics.sign_agreement_weighted[i][j]).toBeCloseTo(wag / wboth, 12);
      expect(report.metrics.sign_agreement_trimmed[i][j]).toBe(tag / tboth);
      expect(report.metrics.sign_conflict[i][j]).toBe(tdis / union);
    }
  });

  it('rank family equals the SVD of the 2×D stack', () => {
    for (const [i, j] of report.pairs) {
      const [s1, s2] = new SVD(new Matrix([ref.flat[i], ref.flat[j]]), { autoTranspose: true }).diagonal;
      const p1 = s1 / (s1 + s2), p2 = s2 / (s1 + s2);
      expect(report.metrics.effective_rank[i][j]).toBeCloseTo(Math.exp(-p1 * Math.log(p1) - p2 * Math.log(p2)), 9);
      expect(report.metrics.stable_rank[i][j]).toBeCloseTo((s1 + s2) ** 2 / (s1 ** 2 + s2 ** 2), 9);
      expect(report.metrics.spectral_gap[i][j]).toBeCloseTo((s1 - s2) / s1, 9);
      expect(report.metrics.singular_ratio[i][j]).toBeCloseTo(s2 / s1, 9);
    }
  });

  it('layer aggregates: plain mean of per-layer cosines ≠ global cosine; norm-weighted layer effective rank', () => {
    const layers = sortLayers([...new Set(names.map(layerOf))]); // depth order (metrics/layer-order.ts)
    expect(report.perLayer.groups).toEqual(layers);
    expect(layers).toEqual(['embed_tokens', 'layers.0', 'layers.1', 'norm', 'lm_head']);
    for (const [i, j] of report.pairs) {
      let cosSum = 0, wSum = 0, wr = 0;
      for (const l of layers) {
        const idx = names.map((n, t) => (layerOf(n) === l ? t : -1)).filter((t) => t >= 0);
        const a = idx.flatMap((t) => Array.from(ref.taus[i][t]));
        const b = idx.flatMap((t) => Array.from(ref.taus[j][t]));
        const cos = dot(a, b) / Math.sqrt(dot(a, a) * dot(b, b));
        cosSum += cos;
        const [s1, s2] = new SVD(new Matrix([a, b]), { autoTranspose: true }).diagonal;
        const p1 = s1 / (s1 + s2), p2 = s2 / (s1 + s2);
        const w = Math.sqrt(dot(a, a)) + Math.sqrt(dot(b, b));
        wSum += w;
        wr += w * Math.exp(-p1 * Math.log(p1) - p2 * Math.log(p2));
        const p = report.pairs.findIndex(([x, y]) => x === i && y === j);
        expect(report.perLayer.values.tv_cosine[p][layers.indexOf(l)]).toBeCloseTo(cos, 12);
      }
      expect(report.metrics.tv_cosine_layer_mean[i][j]).toBeCloseTo(cosSum / layers.length, 12);
      expect(report.metrics.layerwise_effective_rank[i][j]).toBeCloseTo(wr / wSum, 9);
      expect(report.metrics.tv_cosine_layer_mean[i][j]).not.toBeCloseTo(report.metrics.tv_cosine[i][j]!, 6);
    }
  });

  it('subspace family: mean over 2-D tensors of the per-tensor values', () => {
    const twoD = names.filter((n) => SHAPES[n].length === 2);
    expect(report.perTensor.groups).toEqual(sortLayers(names));
    const at = (n: string) => report.perTensor.groups.indexOf(n);
    for (const id of SUBSPACE_METRICS) {
      report.pairs.forEach(([i, j], p) => {
        const vals = twoD.map((n) => report.perTensor.values[id][p][at(n)]);
        vals.forEach((v) => expect(v).not.toBeNull());
        expect(report.metrics[id][i][j]).toBeCloseTo(vals.reduce<number>((s, v) => s + (v ?? NaN), 0) / vals.length, 12);
        // 1-D tensors have no subspace values
        expect(report.perTensor.values[id][p][at('model.norm.weight')]).toBeNull();
      });
    }
  });

  it('report shape: every documented metric present, definitions shipped, pairMetrics flattens', () => {
    for (const id of METRIC_IDS) expect(report.metrics[id]).toHaveLength(3);
    expect(Object.keys(report.definitions).sort()).toEqual([...METRIC_IDS].sort());
    expect(METRIC_DEFINITIONS.tv_cosine.aggregation).toMatch(/global/);
    expect(report.stats.parameters).toBe(Object.values(SHAPES).reduce((s, sh) => s + numel(sh), 0));
    const flat = pairMetrics(report);
    expect(flat.map((p) => [p.a, p.b])).toEqual([['e0', 'e1'], ['e0', 'e2'], ['e1', 'e2']]);
    expect(flat[2].values.tv_cosine).toBe(report.metrics.tv_cosine[1][2]);
    expect('enc_grad_l2' in flat[0].values).toBe(false); // no gradient files → left out
  });
});

const strip = (r: MetricsReport) => ({ ...r, createdAt: '', stats: { ...r.stats, seconds: 0 } });

describe('engine invariants', () => {
  it('does not depend on tensor order in the file', async () => {
    const { base, baseTensors, experts } = fixture(3);
    const reversed = (c: Checkpoint) => {
      const entries = c.tensorNames().reverse();
      return { ...c, tensorNames: () => entries.slice() } as Checkpoint;
    };
    const a = await computeMetrics(base, experts);
    const b = await computeMetrics(reversed(base), experts.map(reversed));
    expect(strip(b)).toEqual(strip(a));
    void baseTensors;
  });

  it('sharded partials merged equal the one-pass result, in any merge order', async () => {
    const { base, experts } = fixture(4);
    const one = await computeMetrics(base, experts);
    const parts = await Promise.all([1, 2, 3].map((i) => computeMetricsPartial(base, experts, { shard: `${i}/3` })));
    expect(parts.every((p) => p.tensors.length > 0)).toBe(true);
    const merged = finalizeReport(combinePartials([parts[2], parts[0], parts[1]]));
    expect(strip(merged)).toEqual(strip(one));
    expect(merged.settings.shard).toBe('1/1');
  });

  it('shards are contiguous, disjoint and cover everything', () => {
    const list = Array.from({ length: 17 }, (_, i) => ({ name: `t${String(i).padStart(2, '0')}`, numel: (i % 5) * 100 + 1 }));
    const shards = [1, 2, 3, 4].map((i) => shardTensors(list, i, 4).map((t) => t.name));
    expect(shards.flat()).toEqual(list.map((t) => t.name));
  });

  it('NaN in an expert → NON_FINITE naming the expert and tensor', async () => {
    const { base, baseTensors } = fixture(5);
    const bad = Object.fromEntries(Object.entries(baseTensors).map(([n, t]) => [n, { shape: t.shape, data: t.data.slice() }]));
    bad['model.layers.1.mlp.up_proj.weight'].data[7] = NaN;
    const good = memoryCheckpoint('good', baseTensors);
    await expect(computeMetrics(base, [good, memoryCheckpoint('bad', bad)])).rejects.toMatchObject({
      code: 'NON_FINITE',
      tensor: 'model.layers.1.mlp.up_proj.weight',
      file: 'memory:bad',
    });
  });

  it('shape mismatch → SHAPE_MISMATCH naming the tensor; embedding row mismatch → common rows + warning', async () => {
    const { base, baseTensors, experts } = fixture(6);
    const shapeBad = { ...baseTensors, 'model.layers.0.mlp.up_proj.weight': { shape: [8, 12], data: baseTensors['model.layers.0.mlp.up_proj.weight'].data } };
    await expect(computeMetrics(base, [experts[0], memoryCheckpoint('x', shapeBad)])).rejects.toMatchObject({ code: 'SHAPE_MISMATCH', tensor: 'model.layers.0.mlp.up_proj.weight' });

    // expert with 4 extra vocabulary rows: compared on the base's 24 rows
    const emb = baseTensors['model.embed_tokens.weight'];
    const r = rng(66);
    const grown = Float32Array.from({ length: 28 * 8 }, (_, i) => (i < emb.data.length ? emb.data[i] + 0.1 * r() : r()));
    const bigVocab = memoryCheckpoint('big', { ...baseTensors, 'model.embed_tokens.weight': { shape: [28, 8], data: grown } });
    const rep = await computeMetrics(base, [experts[0], bigVocab]);
    expect(rep.warnings.join('\n')).toMatch(/model\.embed_tokens\.weight: row counts differ .* first 24 common rows/);
    const t = rep.perTensor.groups.indexOf('model.embed_tokens.weight');
    expect(rep.perTensor.numel[t]).toBe(24 * 8);
    const a = await effectiveTau(base, experts[0], 'model.embed_tokens.weight');
    const b = Float64Array.from(emb.data, (v, i) => Math.fround(grown[i] - v));
    expect(rep.perTensor.values.tv_dot[0][t]).toBeCloseTo(dot(Array.from(a), Array.from(b)), 12);
  });

  it('missing tensor in a dense expert → MISSING_TENSOR; include/exclude filters select tensors', async () => {
    const { base, baseTensors, experts } = fixture(7);
    const { 'model.norm.weight': _drop, ...rest } = baseTensors;
    await expect(computeMetrics(base, [experts[0], memoryCheckpoint('m', rest)])).rejects.toMatchObject({ code: 'MISSING_TENSOR', tensor: 'model.norm.weight' });
    const rep = await computeMetrics(base, experts, { include: ['model.layers.**'], exclude: ['/mlp/'] });
    expect(rep.perTensor.groups).toEqual(['model.layers.0.input_layernorm.weight', 'model.layers.0.self_attn.q_proj.weight', 'model.layers.1.self_attn.q_proj.weight']);
  });

  it('chunked path (tensor above the whole-tensor limit) gives the same metrics: exact streamed trim thresholds, subspace one expert at a time', async () => {
    const { base, experts } = fixture(8);
    const whole = await computeMetricsPartial(base, experts, {});
    const chunked = await computeMetricsPartial(base, experts, { wholeTensorElements: 100, chunkElements: 40 });
    const rep = finalizeReport(chunked);
    const ref = finalizeReport(whole);
    for (const id of ['tv_cosine', 'tv_l2', 'tv_dot', 'effective_rank', 'sign_agreement', 'sign_agreement_weighted']) {
      for (const [i, j] of rep.pairs) expect(rep.metrics[id][i][j]).toBeCloseTo(ref.metrics[id][i][j]!, 12);
    }
    // 192-element tensors are chunked (40-element chunks); the two histogram passes over the chunks give the same thresholds
    const lm = chunked.tensors.find((t) => t.name === 'lm_head.weight')!;
    const lmWhole = whole.tensors.find((t) => t.name === 'lm_head.weight')!;
    expect(lm.trim).toBe('exact');
    expect(lm.kept).toEqual(lmWhole.kept);
    expect(lm.pairs.filter((_, k) => k % 7 === 4 || k % 7 === 5)).toEqual(lmWhole.pairs.filter((_, k) => k % 7 === 4 || k % 7 === 5));
    for (const [i, j] of rep.pairs) expect(rep.metrics.sign_agreement_trimmed[i][j]).toBe(ref.metrics.sign_agreement_trimmed[i][j]);
    // subspace values do not depend on how the tensor was read
    expect(lm.subspaceMode).toBe(lmWhole.subspaceMode);
    expect(lm.subspace).toEqual(lmWhole.subspace);
    // above subspaceMaxElements the family is skipped (and the report says so)
    const capped = await computeMetricsPartial(base, experts, { wholeTensorElements: 100, chunkElements: 40, subspaceMaxElements: 100 });
    const lmCapped = capped.tensors.find((t) => t.name === 'lm_head.weight')!;
    expect(lmCapped.subspaceMode).toBe('skipped');
    expect(lmCapped.subspace).toBeNull();
  });

  it('the memory budget decides what is read whole: a budget below one tensor chunks it, with the same results', async () => {
    const { base, experts } = fixture(8);
    // count the reads of lm_head's rows
    let reads = 0;
    const counted = (c: Checkpoint): Checkpoint => ({
      ...c,
      readInto: (name, start, count, dest) => {
        if (name === 'lm_head.weight') reads++;
        return c.readInto(name, start, count, dest);
      },
    });
    const whole = await computeMetricsPartial(counted(base), experts.map(counted), { subspace: false });
    const wholeReads = reads;
    reads = 0;
    // lm_head, 192 float32 elements × (base + experts), is over a 1 KiB budget: read in row chunks
    const budget = await computeMetricsPartial(counted(base), experts.map(counted), { memoryBudget: 1024, subspace: false });
    expect(wholeReads).toBe(experts.length + 1);
    expect(reads).toBeGreaterThan(3 * wholeReads);
    const lm = budget.tensors.find((t) => t.name === 'lm_head.weight')!;
    const lmWhole = whole.tensors.find((t) => t.name === 'lm_head.weight')!;
    expect(lm.kept).toEqual(lmWhole.kept);
    lm.gram.forEach((g, k) => expect(g).toBeCloseTo(lmWhole.gram[k], 12));
    expect(lm.pairs.filter((_, k) => k % 7 !== 2 && k % 7 !== 3 && k % 7 !== 6)).toEqual(lmWhole.pairs.filter((_, k) => k % 7 !== 2 && k % 7 !== 3 && k % 7 !== 6));
    expect(budget.stats.bytesRead).toBe(whole.stats.bytesRead);
    await expect(computeMetricsPartial(base, experts, { memoryBudget: 0 })).rejects.toMatchObject({ code: 'BAD_PARAM' });
  });

  it('a chunked tensor bigger than the threshold sample (sampled rows, one counting sweep over the chunks) keeps exactly the whole-tensor top-k', async () => {
    // 400×300 = 120 000 elements > the 65 536-value sample; values on a coarse grid, so ties at the threshold
    const shapes = { 'w.weight': [400, 300] };
    const base = randomTensors(shapes, 21);
    const r = rng(22);
    const experts = [0, 1, 2].map((k) => expertFrom(`e${k}`, base, { 'w.weight': Float32Array.from({ length: 120_000 }, () => Math.round(r() * 64) / 2 ** 12) }));
    const b = memoryCheckpoint('base', base);
    const whole = await computeMetricsPartial(b, experts, { subspace: false, trimFraction: 0.2 });
    const chunked = await computeMetricsPartial(b, experts, { subspace: false, trimFraction: 0.2, memoryBudget: 400_000 });
    const [w, c] = [whole.tensors[0], chunked.tensors[0]];
    // independently: each expert keeps max(1, ⌊0.2·numel⌋) by |τ| ≥ its k-th largest |τ|, ties included
    for (let i = 0; i < 3; i++) {
      const tau = await effectiveTau(b, experts[i], 'w.weight');
      const t = Array.from(tau, Math.abs).sort((x, y) => y - x)[24_000 - 1];
      expect(c.kept[i]).toBe(tau.filter((v) => v !== 0 && Math.abs(v) >= t).length);
    }
    expect(c.kept).toEqual(w.kept);
    expect(c.pairs.filter((_, k) => k % 7 === 4 || k % 7 === 5)).toEqual(w.pairs.filter((_, k) => k % 7 === 4 || k % 7 === 5));
  });
});

describe('LoRA experts', () => {
  it('factored LoRA metrics equal the metrics of dense experts with the same ΔW', async () => {
    const shapes: Record<string, number[]> = { 'l.0.q.weight': [20, 12], 'l.0.v.weight': [20, 12], 'l.0.norm.weight': [12] };
    const zeroBase = Object.fromEntries(Object.entries(shapes).map(([n, s]) => [n, { shape: s, data: new Float32Array(numel(s)) }]));
    const deltas = [0, 1, 2].map((k) => ({ 'l.0.q.weight': randomDelta(20, 12, 3 + k, 50 + k), 'l.0.v.weight': randomDelta(20, 12, 4, 60 + k) }));
    const loras = deltas.map((d, k) => fakeLora(`lora${k}`, d));
    // dense twins: base 0, θ = ΔW computed exactly as the engine streams it (float32 rows)
    const dense = deltas.map((d, k) =>
      memoryCheckpoint(`dense${k}`, {
        ...zeroBase,
        ...Object.fromEntries(Object.entries(d).map(([n, delta]) => [n, { shape: shapes[n], data: Float32Array.from(denseDelta(delta)) }])),
      }),
    );
    const base = memoryCheckpoint('base', zeroBase);
    const a = await computeMetrics(base, loras);
    const b = await computeMetrics(base, dense);
    for (const id of METRIC_IDS) {
      for (const [i, j] of a.pairs) {
        const x = a.metrics[id][i][j];
        const y = b.metrics[id][i][j];
        if (y === null) expect(x, id).toBeNull();
        else expect(x!, `${id} (${i},${j})`).toBeCloseTo(y, 5);
      }
    }
    // the Gram entry also equals the closed-form factored inner product
    const exact = loraGramInner(deltas[0]['l.0.q.weight'], deltas[1]['l.0.q.weight']) + loraGramInner(deltas[0]['l.0.v.weight'], deltas[1]['l.0.v.weight']);
    expect(a.metrics.tv_dot[0][1]!).toBeCloseTo(exact, 4);
    // the untouched 1-D tensor has τ = 0 for every LoRA expert
    expect(a.perTensor.values.tv_cosine[0][a.perTensor.groups.indexOf('l.0.norm.weight')]).toBeNull();
  });
});

describe('gradient and activation files', () => {
  it('L2 / cosine / dot / magnitude ratio over tensors present in both files', async () => {
    const r = rng(90);
    const vec = (n: number) => Float32Array.from({ length: n }, r);
    const grads = [0, 1, 2].map((k) =>
      memoryCheckpoint(`g${k}`, {
        'w.weight': { shape: [3, 2], data: vec(6) },
        input: { shape: [4], data: vec(4) },
        ...(k < 2 ? { 'extra.bias': { shape: [2], data: vec(2) } } : {}),
      }),
    );
    const acts = [0, 1, 2].map((k) => memoryCheckpoint(`a${k}`, { 'layers.0': { shape: [5], data: vec(5) } }));
    const { base, experts } = fixture(9);
    const rep = await computeMetrics(base, experts, { grads, acts, include: ['model.norm.weight'] });
    const enc = async (k: number, withExtra: boolean) => [
      ...(await grads[k].read('w.weight')),
      ...(withExtra ? await grads[k].read('extra.bias') : []),
    ];
    // pair (0,1) shares extra.bias; pair (0,2) does not
    for (const [i, j, extra] of [[0, 1, true], [0, 2, false]] as const) {
      const a = await enc(i, extra);
      const b = await enc(j, extra);
      expect(rep.metrics.enc_grad_dot[i][j]).toBeCloseTo(dot(a, b), 12);
      expect(rep.metrics.enc_grad_cosine[i][j]).toBeCloseTo(dot(a, b) / Math.sqrt(dot(a, a) * dot(b, b)), 12);
      expect(rep.metrics.enc_grad_l2[i][j]).toBeCloseTo(Math.sqrt(a.reduce((s, v, e) => s + (v - b[e]) ** 2, 0)), 12);
      const xa = Array.from(await grads[i].read('input'));
      const xb = Array.from(await grads[j].read('input'));
      expect(rep.metrics.input_grad_dot[i][j]).toBeCloseTo(dot(xa, xb), 12);
      const aa = Array.from(await acts[i].read('layers.0'));
      const ab = Array.from(await acts[j].read('layers.0'));
      expect(rep.metrics.act_cosine[i][j]).toBeCloseTo(dot(aa, ab) / Math.sqrt(dot(aa, aa) * dot(ab, ab)), 12);
      const [na, nb] = [Math.sqrt(dot(aa, aa)), Math.sqrt(dot(ab, ab))];
      expect(rep.metrics.act_magnitude_ratio[i][j]).toBeCloseTo(Math.min(na, nb) / Math.max(na, nb), 12);
    }
    expect(rep.inputs.filter((f) => f.kind === 'gradients')).toHaveLength(3);
  });

  it('wrong number of gradient files → BAD_INPUT', async () => {
    const { base, experts } = fixture(10);
    await expect(computeMetrics(base, experts, { grads: [experts[0]] })).rejects.toMatchObject({ code: 'BAD_INPUT' });
  });
});

describe('layer grouping', () => {
  it('maps names to layer groups', () => {
    expect(layerOf('model.layers.12.self_attn.q_proj.weight')).toBe('layers.12');
    expect(layerOf('base_model.model.model.layers.3.mlp.down_proj.weight')).toBe('layers.3');
    expect(layerOf('transformer.h.3.attn.c_attn.weight')).toBe('transformer.h.3');
    expect(layerOf('vision.encoder.layer.5.output.dense.weight')).toBe('vision.encoder.layer.5');
    expect(layerOf('model.embed_tokens.weight')).toBe('embed_tokens');
    expect(layerOf('lm_head.weight')).toBe('lm_head');
    expect(layerOf('fc1.bias')).toBe('fc1');
    expect(layerOf('scalar')).toBe('scalar');
  });
});
