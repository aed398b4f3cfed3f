import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openCheckpoint } from '../../src/checkpoint/open.js';
import { denseDeltaRows, isLora, loraFrobeniusNorm, loraGramInner, matchPatternKey } from '../../src/checkpoint/lora.js';
import { SafetensorsFile } from '../../src/safetensors/reader.js';
import { writeSafetensors } from '../../src/safetensors/writer.js';
import type { LoraCheckpoint, LowRankDelta } from '../../src/types.js';
import { ROOT } from '../helpers/cli.js';
import { randomF32, tempDir } from './raw.js';

const FIX = path.join(ROOT, 'fixtures/tiny');
const tmp = tempDir('mergelens-lora-');
afterAll(() => tmp.cleanup());

/** Dense ΔW in float64 straight from the PEFT factors: scale·B_p·A_p, transposed if asked. */
function denseReference(Ap: Float32Array, Bp: Float32Array, r: number, out: number, inF: number, scale: number, transpose: boolean): Float64Array {
  const d = new Float64Array(out * inF);
  for (let i = 0; i < out; i++)
    for (let j = 0; j < inF; j++) {
      let s = 0;
      for (let k = 0; k < r; k++) s += Bp[i * r + k] * Ap[k * inF + j];
      if (transpose) d[j * out + i] = scale * s;
      else d[i * inF + j] = scale * s;
    }
  return d;
}

function expectClose(actual: Float32Array, expected: Float64Array) {
  expect(actual.length).toBe(expected.length);
  let maxAbs = 0;
  for (const v of expected) maxAbs = Math.max(maxAbs, Math.abs(v));
  for (let i = 0; i < actual.length; i++) {
    if (Math.abs(actual[i] - expected[i]) > 1e-6 * maxAbs + 1e-12) throw new Error(`element ${i}: ${actual[i]} vs ${expected[i]}`);
  }
}

async function writeAdapter(name: string, config: Record<string, unknown>, tensors: { name: string; shape: number[]; data: Float32Array }[]): Promise<string> {
  const dir = tmp.file(name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'adapter_config.json'), JSON.stringify(config));
  await writeSafetensors(path.join(dir, 'adapter_model.safetensors'), tensors.map((t) => ({ ...t, dtype: 'F32' as const })));
  return dir;
}

const linear = (module: string, r: number, inF: number, outF: number, seed: number) => [
  { name: `base_model.model.${module}.lora_A.weight`, shape: [r, inF], data: randomF32(r * inF, seed) },
  { name: `base_model.model.${module}.lora_B.weight`, shape: [outF, r], data: randomF32(outF * r, seed + 1) },
];

describe('LoRA fixture adapter', () => {
  it('exposes low-rank deltas with per-module scale from r, lora_alpha, rank_pattern and alpha_pattern', async () => {
    const c = await openCheckpoint(path.join(FIX, 'lora-expert'));
    expect(isLora(c)).toBe(true);
    const l = c as LoraCheckpoint;
    expect(l.lowRankNames()).toEqual([
      'model.embed_tokens.weight',
      'model.layers.0.mlp.down_proj.weight',
      'model.layers.0.self_attn.q_proj.weight',
      'model.layers.0.self_attn.v_proj.weight',
      'model.layers.1.mlp.down_proj.weight',
      'model.layers.1.self_attn.q_proj.weight',
      'model.layers.1.self_attn.v_proj.weight',
    ]);
    // r = 4, α = 8 → 2; down_proj rank_pattern 2 → 8/2 = 4; layers.1 v_proj alpha_pattern 16 → 16/4 = 4.
    expect(l.lowRankSpec('model.layers.0.self_attn.q_proj.weight')).toMatchObject({ rank: 4, scale: 2, shape: [32, 32], transposed: false });
    expect(l.lowRankSpec('model.layers.0.mlp.down_proj.weight')).toMatchObject({ rank: 2, scale: 4, shape: [32, 64] });
    expect(l.lowRankSpec('model.layers.0.self_attn.v_proj.weight')).toMatchObject({ rank: 4, scale: 2 });
    expect(l.lowRankSpec('model.layers.1.self_attn.v_proj.weight')).toMatchObject({ rank: 4, scale: 4 });
    expect(l.lowRankSpec('model.embed_tokens.weight')).toMatchObject({ rank: 4, scale: 2, shape: [64, 32], transposed: true });
    // modules_to_save lm_head is a dense tensor under its base name
    expect(l.tensorNames()).toEqual(['lm_head.weight']);
    expect((await l.read('lm_head.weight')).length).toBe(64 * 32);
    await l.close();
  });

  it('ΔW from the reader equals scale·B·A computed densely in float64 (linear, rank_pattern, alpha_pattern, embedding)', async () => {
    const l = (await openCheckpoint(path.join(FIX, 'lora-expert'))) as LoraCheckpoint;
    const raw = await SafetensorsFile.open(path.join(FIX, 'lora-expert/adapter_model.safetensors'));
    const cases: [string, string, number, boolean][] = [
      ['model.layers.0.self_attn.q_proj.weight', 'model.layers.0.self_attn.q_proj.lora_', 2, false],
      ['model.layers.1.mlp.down_proj.weight', 'model.layers.1.mlp.down_proj.lora_', 4, false],
      ['model.layers.1.self_attn.v_proj.weight', 'model.layers.1.self_attn.v_proj.lora_', 4, false],
      ['model.embed_tokens.weight', 'model.embed_tokens.lora_embedding_', 2, true],
    ];
    for (const [base, prefix, scale, transpose] of cases) {
      const suffix = transpose ? '' : '.weight';
      const aKey = `base_model.model.${prefix}A${suffix}`;
      const bKey = `base_model.model.${prefix}B${suffix}`;
      const [r, inF] = raw.entry(aKey)!.shape;
      const outF = raw.entry(bKey)!.shape[0];
      const ref = denseReference(await raw.read(aKey), await raw.read(bKey), r, outF, inF, scale, transpose);
      const delta = await l.lowRank(base);
      expect(delta.shape).toEqual(transpose ? [inF, outF] : [outF, inF]);
      expectClose(denseDeltaRows(delta), ref);
      // rows streamed in chunks give the same values
      const rows = delta.shape[0];
      const half = Math.floor(rows / 2);
      const joined = new Float32Array(rows * delta.shape[1]);
      joined.set(denseDeltaRows(delta, 0, half), 0);
      joined.set(denseDeltaRows(delta, half, rows - half), half * delta.shape[1]);
      expect(Array.from(joined)).toEqual(Array.from(denseDeltaRows(delta)));
    }
    await raw.close();
    await l.close();
  });
});

describe('LoRA config variants', () => {
  it('use_rslora: scale = α/√r', async () => {
    const ts = linear('model.layers.0.self_attn.q_proj', 4, 6, 5, 1);
    const dir = await writeAdapter('rslora', { peft_type: 'LORA', r: 4, lora_alpha: 8, use_rslora: true }, ts);
    const l = (await openCheckpoint(dir)) as LoraCheckpoint;
    const d = await l.lowRank('model.layers.0.self_attn.q_proj.weight');
    expect(d.scale).toBe(8 / Math.sqrt(4));
    expectClose(denseDeltaRows(d), denseReference(ts[0].data, ts[1].data, 4, 5, 6, 4, false));
    await l.close();
  });

  it('fan_in_fan_out: ΔW is transposed to the Conv1D [in, out] layout', async () => {
    const ts = linear('transformer.h.0.attn.c_attn', 3, 6, 9, 5);
    const dir = await writeAdapter('fifo', { peft_type: 'LORA', r: 3, lora_alpha: 6, fan_in_fan_out: true }, ts);
    const l = (await openCheckpoint(dir)) as LoraCheckpoint;
    const d = await l.lowRank('transformer.h.0.attn.c_attn.weight');
    expect(d.shape).toEqual([6, 9]);
    expectClose(denseDeltaRows(d), denseReference(ts[0].data, ts[1].data, 3, 9, 6, 2, true));
    await l.close();
  });

  it('rank_pattern keys match like PEFT: (.*\\.)?(KEY)$ on the module name', () => {
    const pats = { down_proj: 2, 'layers.1.self_attn.v_proj': 16 };
    expect(matchPatternKey(pats, 'model.layers.0.mlp.down_proj', 'f')).toBe('down_proj');
    expect(matchPatternKey(pats, 'model.layers.0.mlp.xdown_proj', 'f')).toBeUndefined();
    expect(matchPatternKey(pats, 'model.layers.0.mlp.down_proj_2', 'f')).toBeUndefined();
    expect(matchPatternKey(pats, 'model.layers.1.self_attn.v_proj', 'f')).toBe('layers.1.self_attn.v_proj');
    expect(matchPatternKey(pats, 'model.layers.11.self_attn.v_proj', 'f')).toBeUndefined();
    expect(matchPatternKey({ '^model.*q_proj': 1 }, 'model.layers.0.q_proj', 'f')).toBe('^model.*q_proj'); // empty prefix: ^ matches at 0, as in Python
    expect(matchPatternKey({ 'layers\\.\\d+\\.q_proj': 1 }, 'model.layers.3.q_proj', 'f')).toBe('layers\\.\\d+\\.q_proj');
  });

  it('rank from the shapes must agree with the config (named tensor)', async () => {
    const dir = await writeAdapter('rankmismatch', { peft_type: 'LORA', r: 8, lora_alpha: 8 }, linear('m.q', 4, 6, 5, 2));
    await expect(openCheckpoint(dir)).rejects.toMatchObject({
      code: 'BAD_ADAPTER',
      tensor: 'base_model.model.m.q.lora_A.weight',
      message: expect.stringContaining('factor shapes give rank 4 but the config says r = 8'),
    });
  });

  it('DoRA is rejected clearly (config flag or magnitude vector)', async () => {
    const a = await writeAdapter('dora1', { peft_type: 'LORA', r: 4, lora_alpha: 8, use_dora: true }, linear('m.q', 4, 6, 5, 3));
    await expect(openCheckpoint(a)).rejects.toMatchObject({ code: 'BAD_ADAPTER', message: expect.stringContaining('DoRA') });
    const b = await writeAdapter('dora2', { peft_type: 'LORA', r: 4, lora_alpha: 8 }, [
      ...linear('m.q', 4, 6, 5, 3),
      { name: 'base_model.model.m.q.lora_magnitude_vector', shape: [5], data: randomF32(5, 9) },
    ]);
    await expect(openCheckpoint(b)).rejects.toMatchObject({ code: 'BAD_ADAPTER', tensor: 'base_model.model.m.q.lora_magnitude_vector' });
  });

  it('missing lora_B, non-LoRA peft_type, and a missing weights file are named', async () => {
    const a = await writeAdapter('noB', { peft_type: 'LORA', r: 4, lora_alpha: 8 }, linear('m.q', 4, 6, 5, 3).slice(0, 1));
    await expect(openCheckpoint(a)).rejects.toMatchObject({ code: 'BAD_ADAPTER', message: expect.stringContaining('lora_B missing') });
    const b = await writeAdapter('prefix', { peft_type: 'PREFIX_TUNING' }, linear('m.q', 4, 6, 5, 3));
    await expect(openCheckpoint(b)).rejects.toMatchObject({ code: 'BAD_ADAPTER', message: expect.stringContaining('PREFIX_TUNING') });
    const c = tmp.file('binadapter');
    mkdirSync(c);
    writeFileSync(path.join(c, 'adapter_config.json'), '{}');
    writeFileSync(path.join(c, 'adapter_model.bin'), 'x');
    await expect(openCheckpoint(c)).rejects.toMatchObject({ code: 'UNSUPPORTED_FORMAT', message: expect.stringContaining('adapter_model.bin') });
  });
});

describe('low-rank kernels', () => {
  const delta = (m: number, n: number, r: number, scale: number, seed: number): LowRankDelta => ({
    shape: [m, n],
    rank: r,
    scale,
    A: randomF32(r * n, seed),
    B: randomF32(m * r, seed + 1),
  });
  const dense64 = (d: LowRankDelta) => denseReference(d.A, d.B, d.rank, d.shape[0], d.shape[1], d.scale, false);

  it('loraGramInner equals the dense Frobenius inner product (different ranks and scales)', () => {
    const d1 = delta(7, 6, 3, 0.7, 11);
    const d2 = delta(7, 6, 5, -1.3, 21);
    const w1 = dense64(d1);
    const w2 = dense64(d2);
    let dot = 0;
    let n1 = 0;
    for (let i = 0; i < w1.length; i++) {
      dot += w1[i] * w2[i];
      n1 += w1[i] * w1[i];
    }
    expect(loraGramInner(d1, d2)).toBeCloseTo(dot, 10);
    expect(loraGramInner(d2, d1)).toBeCloseTo(dot, 10);
    expect(loraFrobeniusNorm(d1)).toBeCloseTo(Math.sqrt(n1), 10);
    expect(() => loraGramInner(d1, delta(6, 7, 2, 1, 3))).toThrow(/different shapes/);
  });

  it('cosine of a delta with itself scaled is exactly ±1 (identity check)', () => {
    const d = delta(9, 4, 2, 1.5, 31);
    const neg = { ...d, scale: -3 };
    const cos = loraGramInner(d, neg) / (loraFrobeniusNorm(d) * loraFrobeniusNorm(neg));
    expect(cos).toBeCloseTo(-1, 12);
  });
});
