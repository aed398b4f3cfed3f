import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hubCacheDir, parseHubId, resolveModelRef } from '../../src/checkpoint/hf-resolve.js';
import { openCheckpoint } from '../../src/checkpoint/open.js';
import { writeSafetensors } from '../../src/safetensors/writer.js';
import { runCli } from '../helpers/cli.js';
import { writeLlama } from '../mergekit/llama.js';
import { randomF32 } from './raw.js';
import { addFolderToHfCache, revisionOf as commitOf } from '../../src/fixtures/hf-cache.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'mergelens-hf-'));
const cache = path.join(tmp, 'hub');
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const env = { HF_HUB_CACHE: cache };

async function setup() {
  const v1 = await writeLlama(path.join(tmp, 'src-v1'), 2, 1);
  const v2 = await writeLlama(path.join(tmp, 'src-v2'), 2, 2);
  addFolderToHfCache(cache, 'acme/tiny', v1.dir, { rev: commitOf('v1'), refs: ['v1.0'] });
  addFolderToHfCache(cache, 'acme/tiny', v2.dir, { rev: commitOf('v2'), refs: ['main'] });
  // A PEFT adapter for acme/tiny on q_proj of layer 0 (hidden 8 → 8), rank 2, alpha 4 → scale 2.
  const lora = path.join(tmp, 'src-lora');
  mkdirSync(lora);
  writeFileSync(path.join(lora, 'adapter_config.json'), JSON.stringify({ peft_type: 'LORA', r: 2, lora_alpha: 4, target_modules: ['q_proj'], base_model_name_or_path: 'acme/tiny' }));
  const A = randomF32(2 * 8, 5);
  const B = randomF32(8 * 2, 6);
  await writeSafetensors(path.join(lora, 'adapter_model.safetensors'), [
    { name: 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight', shape: [2, 8], dtype: 'F32', data: A },
    { name: 'base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight', shape: [8, 2], dtype: 'F32', data: B },
  ]);
  addFolderToHfCache(cache, 'acme/tiny-lora', lora, { rev: commitOf('lora') });
  return { v1, v2, A, B };
}
const ready = setup();

describe('Hugging Face model references (local cache, no network)', () => {
  it('parses ids and finds the cache folder from HF_HUB_CACHE, HF_HOME or ~/.cache', () => {
    expect(parseHubId('acme/tiny@v1.0')).toEqual({ repo: 'acme/tiny', revision: 'v1.0' });
    expect(parseHubId('acme/tiny')).toEqual({ repo: 'acme/tiny', revision: undefined });
    expect(parseHubId('a/b/c')).toBeUndefined();
    expect(hubCacheDir({ HF_HUB_CACHE: '/x/hub' })).toBe('/x/hub');
    expect(hubCacheDir({ HF_HOME: '/h' })).toBe(path.join('/h', 'hub'));
    expect(hubCacheDir({ HOME: os.homedir() })).toBe(path.join(os.homedir(), '.cache', 'huggingface', 'hub'));
  });

  it('org/name → refs/main snapshot; @branch, @commit and a commit prefix → their snapshots', async () => {
    await ready;
    const root = path.join(cache, 'models--acme--tiny', 'snapshots');
    expect((await resolveModelRef('acme/tiny', env)).path).toBe(path.join(root, commitOf('v2')));
    expect((await resolveModelRef('acme/tiny@v1.0', env)).path).toBe(path.join(root, commitOf('v1')));
    expect((await resolveModelRef(`acme/tiny@${commitOf('v1')}`, env)).path).toBe(path.join(root, commitOf('v1')));
    expect((await resolveModelRef(`acme/tiny@${commitOf('v1').slice(0, 8)}`, env)).path).toBe(path.join(root, commitOf('v1')));
    // HF_HOME/hub when HF_HUB_CACHE is unset
    expect((await resolveModelRef('acme/tiny', { HF_HOME: tmp })).path).toBe(path.join(root, commitOf('v2')));
  });

  it('absent models and revisions are NOT_FOUND with a huggingface-cli download hint', async () => {
    await ready;
    await expect(resolveModelRef('acme/missing', env)).rejects.toMatchObject({ code: 'NOT_FOUND', hint: expect.stringContaining('huggingface-cli download acme/missing') });
    const e = await resolveModelRef('acme/tiny@v9', env).catch((x) => x);
    expect(e.code).toBe('NOT_FOUND');
    expect(e.message).toContain('@v1.0');
    expect(e.hint).toContain('huggingface-cli download acme/tiny --revision v9');
  });

  it('openCheckpoint reads the cached weights through the snapshot symlinks', async () => {
    const { v1 } = await ready;
    process.env.HF_HUB_CACHE = cache;
    try {
      const c = await openCheckpoint('acme/tiny@v1.0');
      const name = 'model.layers.1.mlp.up_proj.weight';
      expect(Array.from(await c.read(name))).toEqual(Array.from(v1.tensors.get(name)!));
      await c.close();
    } finally {
      delete process.env.HF_HUB_CACHE;
    }
  });

  it('base+lora opens the base with the adapter applied: W₀ + (α/r)·B·A in float64', async () => {
    const { v2, A, B } = await ready;
    process.env.HF_HUB_CACHE = cache;
    try {
      const c = await openCheckpoint('acme/tiny+acme/tiny-lora');
      const q = 'model.layers.0.self_attn.q_proj.weight';
      const w = await c.read(q);
      const w0 = v2.tensors.get(q)!;
      for (let i = 0; i < 8; i++)
        for (let j = 0; j < 8; j++) {
          let d = 0;
          for (let k = 0; k < 2; k++) d += B[i * 2 + k] * A[k * 8 + j];
          expect(w[i * 8 + j]).toBeCloseTo(w0[i * 8 + j] + 2 * d, 5);
        }
      // a row range reads the same values; untouched tensors are the base's
      expect(Array.from(await c.read(q, 8, 16))).toEqual(Array.from(w.subarray(8, 24)));
      const k = 'model.layers.0.self_attn.k_proj.weight';
      expect(Array.from(await c.read(k))).toEqual(Array.from(v2.tensors.get(k)!));
      expect(c.location(q)?.dtype).toBe('F32');
      await c.close();
    } finally {
      delete process.env.HF_HUB_CACHE;
    }
  });

  it('merge without --base takes the adapter\'s base_model_name_or_path when it resolves', async () => {
    await ready;
    const out = path.join(tmp, 'merged');
    const r = runCli(['merge', '--method', 'task_arithmetic', 'acme/tiny-lora', 'acme/tiny@v1.0', '--param', 'lambda=1', '--allow-different-base', '-o', out, '--no-progress'], { env });
    expect(r.stderr).toContain("using the adapter's base_model_name_or_path as the base");
    expect(r.status).toBe(0);
    const rec = JSON.parse(readFileSync(path.join(out, 'mergelens_merge.json'), 'utf8'));
    expect(rec.base.path).toBe(path.join(cache, 'models--acme--tiny', 'snapshots', commitOf('v2')));
  });

  it('.bin/.pt checkpoints are UNSUPPORTED_FORMAT with a conversion hint', async () => {
    const bin = path.join(tmp, 'pytorch_model.bin');
    writeFileSync(bin, 'x');
    await expect(openCheckpoint(bin)).rejects.toMatchObject({ code: 'UNSUPPORTED_FORMAT', hint: expect.stringContaining('safe_serialization=True') });
    const pt = path.join(tmp, 'model.pt');
    writeFileSync(pt, 'x');
    await expect(openCheckpoint(pt)).rejects.toMatchObject({ code: 'UNSUPPORTED_FORMAT' });
  });
});
