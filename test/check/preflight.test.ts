import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCheckpoint } from '../../src/checkpoint/open.js';
import { denseDeltaRows } from '../../src/checkpoint/lowrank.js';
import { preflight, preflightPaths } from '../../src/check/preflight.js';
import { sampleRanges } from '../../src/check/sample.js';
import { encodeHeader } from '../../src/safetensors/header.js';
import { writeSafetensors } from '../../src/safetensors/writer.js';
import type { Checkpoint, LoraCheckpoint } from '../../src/types.js';
import { ROOT } from '../helpers/cli.js';
import { randomF32, tempDir } from '../io/raw.js';

const FIX = path.join(ROOT, 'fixtures/tiny');
const tmp = tempDir('mergelens-check-');
let base: Checkpoint;
beforeAll(async () => {
  base = await openCheckpoint(path.join(FIX, 'base'));
});
afterAll(async () => {
  await base.close();
  tmp.cleanup();
});

/** All tensors of a checkpoint in memory (fixtures are tiny). */
async function load(c: Checkpoint) {
  const out = [] as { name: string; shape: number[]; data: Float32Array; dtype: 'F32' }[];
  for (const name of c.tensorNames()) out.push({ name, shape: c.location(name)!.shape, data: await c.read(name), dtype: 'F32' });
  return out;
}

/** Independent float64 ‖e−b‖/‖b‖ over whole tensors. */
function relDelta(b: Float32Array, e: Float32Array): number {
  let dd = 0;
  let bb = 0;
  for (let i = 0; i < b.length; i++) {
    dd += (e[i] - b[i]) ** 2;
    bb += b[i] ** 2;
  }
  return Math.sqrt(dd / bb);
}

function medianOf(xs: number[]) {
  const s = xs.slice().sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

describe('sampleRanges', () => {
  it('covers small tensors entirely and spreads blocks over large ones', () => {
    expect(sampleRanges(100, 8, 256)).toEqual([{ start: 0, count: 100 }]);
    expect(sampleRanges(0, 8, 256)).toEqual([]);
    const r = sampleRanges(100_000, 8, 256);
    expect(r).toHaveLength(8);
    expect(r[0].start).toBe(0);
    expect(r[7].start + r[7].count).toBe(100_000);
    for (let i = 1; i < r.length; i++) expect(r[i].start).toBeGreaterThanOrEqual(r[i - 1].start + r[i - 1].count);
  });
});

describe('preflight on the fixtures', () => {
  it('real fine-tunes pass; relative deltas equal an independent float64 computation', async () => {
    const a = await openCheckpoint(path.join(FIX, 'expert-a.safetensors'));
    const b = await openCheckpoint(path.join(FIX, 'bf16/expert-b.safetensors'));
    const r = await preflight(base, [a, b]);
    expect(r.ok).toBe(true);
    expect(r.counts.error).toBe(0);
    const ea = r.experts[0];
    expect(ea.missing).toEqual([]);
    expect(ea.extra).toEqual([]);
    expect(ea.descendsFromBase).toBe(true);
    // every fixture tensor (≤ 2048 values) is sampled whole, so the values are exact
    const matrices: number[] = [];
    for (const t of ea.relDelta) {
      const expected = relDelta(await base.read(t.tensor), await a.read(t.tensor));
      expect(t.relDelta).toBeCloseTo(expected, 10);
      if (base.location(t.tensor)!.shape.length === 2) matrices.push(expected);
    }
    expect(ea.relDelta).toHaveLength(21);
    expect(ea.medianRelDelta).toBeCloseTo(medianOf(matrices), 10);
    expect(ea.medianRelDelta).toBeCloseTo(0.03, 3); // the generator's relNorm for expert-a
    // BF16 expert: dtype difference is info only
    expect(r.experts[1].dtypeMismatches).toHaveLength(21);
    expect(r.issues.filter((i) => i.expert === 'expert-b').map((i) => i.code)).toEqual(['DTYPE_MISMATCH']);
    await a.close();
    await b.close();
  });

  it('flags the unrelated model as not descending from the base (median ≈ √2)', async () => {
    const u = await openCheckpoint(path.join(FIX, 'unrelated.safetensors'));
    const r = await preflight(base, [u]);
    expect(r.ok).toBe(false);
    expect(r.experts[0].descendsFromBase).toBe(false);
    expect(r.experts[0].medianRelDelta!).toBeGreaterThan(1.2);
    expect(r.experts[0].medianRelDelta!).toBeLessThan(1.6);
    const issue = r.issues.find((i) => i.code === 'DIFFERENT_BASE')!;
    expect(issue).toMatchObject({ severity: 'error', expert: 'unrelated' });
    expect(issue.message).toMatch(/does not descend from this base/);
    // a threshold above the observed median accepts it (the threshold is what decides)
    const loose = await preflight(base, [u], { differentBaseThreshold: 2 });
    expect(loose.experts[0].descendsFromBase).toBe(true);
    await u.close();
  });

  it('sampledTensors: values of that many matrices, evenly spread; the same verdicts and the same per-tensor deltas', async () => {
    const a = await openCheckpoint(path.join(FIX, 'expert-a.safetensors'));
    const u = await openCheckpoint(path.join(FIX, 'unrelated.safetensors'));
    const l = (await openCheckpoint(path.join(FIX, 'lora-expert'))) as LoraCheckpoint;
    const full = await preflight(base, [a, u, l]);
    const few = await preflight(base, [a, u, l], { sampledTensors: 3 });
    // 3 of the matrices an expert shares with the base, at (k + ½)/3 of the list; names still checked everywhere
    const spread = (names: string[]) => [0, 1, 2].map((k) => names[Math.floor(((k + 0.5) * names.length) / 3)]);
    for (const [x, c] of [a, u].entries()) {
      const matrices = c.tensorNames().filter((n) => base.location(n)?.shape.length === 2);
      expect(matrices.length).toBeGreaterThan(3);
      expect(few.experts[x].relDelta.map((t) => t.tensor)).toEqual(spread(matrices));
      for (const t of few.experts[x].relDelta) expect(t.relDelta).toBe(full.experts[x].relDelta.find((f) => f.tensor === t.tensor)!.relDelta);
      expect(few.experts[x].descendsFromBase).toBe(full.experts[x].descendsFromBase);
    }
    // the adapter: 3 of what it changes (its dense tensors, then its modules), not of the base's matrices it may not touch
    expect(few.experts[2].relDelta.map((t) => t.tensor).sort()).toEqual(spread([...l.tensorNames(), ...l.lowRankNames()].filter((n) => base.location(n)?.shape.length === 2)).sort());
    expect(few.experts[2].descendsFromBase).toBe(true);
    expect(few.issues.map((i) => i.code).sort()).toEqual(full.issues.map((i) => i.code).sort());
    await Promise.all([a, u, l].map((c) => c.close()));
  });

  it('LoRA adapter: shapes fit, relative delta = ‖scale·B·A‖ / ‖θ₀‖ computed densely', async () => {
    const l = (await openCheckpoint(path.join(FIX, 'lora-expert'))) as LoraCheckpoint;
    const r = await preflight(base, [l]);
    expect(r.ok).toBe(true);
    expect(r.experts[0].lora).toEqual({ modules: 7, checked: 7 });
    const t = r.experts[0].relDelta.find((x) => x.tensor === 'model.layers.1.self_attn.v_proj.weight')!;
    const dW = denseDeltaRows(await l.lowRank(t.tensor));
    const b0 = await base.read(t.tensor);
    let dd = 0;
    let bb = 0;
    for (let i = 0; i < dW.length; i++) {
      dd += dW[i] ** 2;
      bb += b0[i] ** 2;
    }
    expect(t.relDelta).toBeCloseTo(Math.sqrt(dd / bb), 6);
    await l.close();
  });
});

describe('preflight on broken experts (each problem named by tensor)', () => {
  let report: Awaited<ReturnType<typeof preflight>>;
  beforeAll(async () => {
    const a = await openCheckpoint(path.join(FIX, 'expert-a.safetensors'));
    const ts = (await load(a)).filter((t) => t.name !== 'model.layers.1.mlp.gate_proj.weight' && t.name !== 'lm_head.weight');
    await a.close();
    const up = ts.find((t) => t.name === 'model.layers.0.mlp.up_proj.weight')!;
    up.shape = [32, 64]; // transposed shape: a shape mismatch
    const emb = ts.find((t) => t.name === 'model.embed_tokens.weight')!;
    emb.shape = [66, 32]; // two added tokens
    emb.data = Float32Array.from([...emb.data, ...randomF32(64, 1)]);
    const norm = ts.find((t) => t.name === 'model.norm.weight')!;
    norm.data[3] = NaN;
    norm.data[5] = -Infinity;
    ts.push({ name: 'score.weight', shape: [2, 32], data: randomF32(64, 2), dtype: 'F32' });
    await writeSafetensors(tmp.file('broken.safetensors'), ts);
    const c = await openCheckpoint(tmp.file('broken.safetensors'));
    report = await preflight(base, [c]);
    await c.close();
  });
  const issue = (code: string, tensor?: string) => report.issues.find((i) => i.code === code && (tensor === undefined || i.tensor === tensor));

  it('missing tensor → error', () => {
    expect(report.experts[0].missing).toEqual(['lm_head.weight', 'model.layers.1.mlp.gate_proj.weight']);
    expect(issue('MISSING_TENSOR', 'model.layers.1.mlp.gate_proj.weight')?.severity).toBe('error');
  });
  it('absent lm_head → tied lm_head warning, not a missing-tensor error', () => {
    expect(issue('TIED_LM_HEAD', 'lm_head.weight')?.severity).toBe('warning');
    expect(issue('MISSING_TENSOR', 'lm_head.weight')).toBeUndefined();
  });
  it('shape mismatch → error with both shapes', () => {
    expect(report.experts[0].shapeMismatches).toEqual([{ tensor: 'model.layers.0.mlp.up_proj.weight', base: [64, 32], expert: [32, 64] }]);
    expect(issue('SHAPE_MISMATCH', 'model.layers.0.mlp.up_proj.weight')?.message).toMatch(/\[32, 64\].*\[64, 32\]/);
  });
  it('vocabulary mismatch → warning, common rows compared exactly', async () => {
    expect(report.experts[0].vocab).toEqual([{ tensor: 'model.embed_tokens.weight', baseRows: 64, expertRows: 66, commonRows: 64 }]);
    expect(issue('VOCAB_MISMATCH', 'model.embed_tokens.weight')?.severity).toBe('warning');
    const a = await openCheckpoint(path.join(FIX, 'expert-a.safetensors'));
    const expected = relDelta(await base.read('model.embed_tokens.weight'), await a.read('model.embed_tokens.weight'));
    await a.close();
    expect(report.experts[0].relDelta.find((r) => r.tensor === 'model.embed_tokens.weight')!.relDelta).toBeCloseTo(expected, 10);
  });
  it('NaN/Inf → error naming the tensor and the count', () => {
    expect(report.experts[0].nonFinite).toEqual([{ tensor: 'model.norm.weight', count: 2, sampled: 32 }]);
    expect(issue('NON_FINITE', 'model.norm.weight')?.message).toMatch(/2 NaN\/Inf/);
  });
  it('extra tensor → warning', () => {
    expect(report.experts[0].extra).toEqual(['score.weight']);
    expect(issue('EXTRA_TENSOR', 'score.weight')?.severity).toBe('warning');
  });
  it('still recognised as a descendant of the base, and not ok overall', () => {
    expect(report.experts[0].descendsFromBase).toBe(true);
    expect(report.ok).toBe(false);
    expect(report.counts.error).toBe(report.issues.filter((i) => i.severity === 'error').length);
  });
});

describe('preflight edge cases', () => {
  it('quantised tensor in an expert → UNSUPPORTED_DTYPE error', async () => {
    // Hand-built file: every base tensor as F32 except q_proj stored as F8_E4M3.
    const a = await openCheckpoint(path.join(FIX, 'expert-a.safetensors'));
    const ts = await load(a);
    await a.close();
    let off = 0;
    const parts: Uint8Array[] = [];
    const entries = ts.map((t) => {
      const fp8 = t.name === 'model.layers.0.self_attn.q_proj.weight';
      const bytes = fp8 ? new Uint8Array(t.data.length) : new Uint8Array(t.data.buffer.slice(0));
      parts.push(bytes);
      const e = { name: t.name, dtype: fp8 ? 'F8_E4M3' : 'F32', shape: t.shape, begin: off, end: off + bytes.length };
      off += bytes.length;
      return e;
    });
    const file = tmp.file('fp8.safetensors', Buffer.concat([encodeHeader({ format: 'pt' }, entries), ...parts]));
    const c = await openCheckpoint(file);
    const r = await preflight(base, [c]);
    const i = r.issues.find((x) => x.code === 'UNSUPPORTED_DTYPE')!;
    expect(i).toMatchObject({ severity: 'error', tensor: 'model.layers.0.self_attn.q_proj.weight' });
    expect(i.message).toMatch(/quantised or unsupported dtype: expert stores it as F8_E4M3/);
    await c.close();
  });

  it('an unchanged copy of the base → IDENTICAL_TO_BASE warning', async () => {
    const r = await preflight(base, [base]);
    expect(r.issues.map((i) => i.code)).toEqual(['IDENTICAL_TO_BASE']);
    expect(r.experts[0].medianRelDelta).toBe(0);
  });

  it('LoRA with the wrong in-features → SHAPE_MISMATCH naming the tensor', async () => {
    const dir = tmp.file('badlora');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'adapter_config.json'), JSON.stringify({ peft_type: 'LORA', r: 2, lora_alpha: 4 }));
    await writeSafetensors(path.join(dir, 'adapter_model.safetensors'), [
      { name: 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight', dtype: 'F32', shape: [2, 16], data: randomF32(32, 3) },
      { name: 'base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight', dtype: 'F32', shape: [32, 2], data: randomF32(64, 4) },
      { name: 'base_model.model.model.layers.0.self_attn.nope.lora_A.weight', dtype: 'F32', shape: [2, 32], data: randomF32(64, 5) },
      { name: 'base_model.model.model.layers.0.self_attn.nope.lora_B.weight', dtype: 'F32', shape: [32, 2], data: randomF32(64, 6) },
    ]);
    const c = await openCheckpoint(dir);
    const r = await preflight(base, [c]);
    expect(r.issues.find((i) => i.code === 'SHAPE_MISMATCH')).toMatchObject({ severity: 'error', tensor: 'model.layers.0.self_attn.q_proj.weight' });
    expect(r.issues.find((i) => i.code === 'MISSING_TENSOR')).toMatchObject({ severity: 'error', tensor: 'model.layers.0.self_attn.nope.weight' });
    await c.close();
  });

  it('preflightPaths reports an expert that cannot be opened and still checks the others', async () => {
    const r = await preflightPaths(path.join(FIX, 'base'), [path.join(FIX, 'expert-c.safetensors'), tmp.file('missing.safetensors')]);
    expect(r.experts.map((e) => e.kind)).toEqual(['safetensors', 'unopened']);
    expect(r.issues).toEqual([expect.objectContaining({ code: 'OPEN_FAILED', severity: 'error', message: expect.stringContaining('NOT_FOUND') })]);
    expect(r.ok).toBe(false);
  });

  it('samples a large tensor in blocks and compares exactly those values', async () => {
    const n = 10_000;
    const b = randomF32(n, 10);
    const e = Float32Array.from(b, (v, i) => (i < 5000 ? v : v * 1.5)); // second half scaled
    await writeSafetensors(tmp.file('big-b.safetensors'), [{ name: 'w', dtype: 'F32', shape: [100, 100], data: b }]);
    await writeSafetensors(tmp.file('big-e.safetensors'), [{ name: 'w', dtype: 'F32', shape: [100, 100], data: e }]);
    const cb = await openCheckpoint(tmp.file('big-b.safetensors'));
    const ce = await openCheckpoint(tmp.file('big-e.safetensors'));
    const r = await preflight(cb, [ce], { sampleBlocks: 4, blockSize: 100 });
    // blocks at 0, 3300, 6600, 9900: two unchanged, two scaled by 1.5
    let dd = 0;
    let bb = 0;
    for (const s of [0, 3300, 6600, 9900])
      for (let i = s; i < s + 100; i++) {
        dd += (e[i] - b[i]) ** 2;
        bb += b[i] ** 2;
      }
    expect(r.experts[0].relDelta[0]).toMatchObject({ tensor: 'w', sampled: 400 });
    expect(r.experts[0].relDelta[0].relDelta).toBeCloseTo(Math.sqrt(dd / bb), 10);
    await cb.close();
    await ce.close();
  });
});

describe('tied embeddings in the base', () => {
  it('base without lm_head (tie_word_embeddings: true) vs an expert with one → TIED_LM_HEAD warning citing the config', async () => {
    const dir = tmp.file('tied-base');
    mkdirSync(dir);
    const ts = (await load(base)).filter((t) => t.name !== 'lm_head.weight');
    await writeSafetensors(path.join(dir, 'model.safetensors'), ts);
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ tie_word_embeddings: true }));
    const tied = await openCheckpoint(dir);
    const a = await openCheckpoint(path.join(FIX, 'expert-a.safetensors'));
    const r = await preflight(tied, [a]);
    expect(r.issues).toEqual([
      expect.objectContaining({ severity: 'warning', code: 'TIED_LM_HEAD', tensor: 'lm_head.weight', message: expect.stringContaining('tie_word_embeddings: true') }),
    ]);
    expect(r.ok).toBe(true);
    const lora = await openCheckpoint(path.join(FIX, 'lora-expert'));
    await expect(preflight(lora, [a])).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringContaining('not a LoRA adapter') });
    await lora.close();
    await tied.close();
    await a.close();
  });
});
