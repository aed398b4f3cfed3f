/**
 * Audit (issue 20, item 4): the Hugging Face hub cache layout. Snapshot files are relative
 * symlinks `snapshots/REV/x → ../../blobs/<sha256>`; they used to be refused as PATH_TRAVERSAL,
 * so no sharded model could be read from ~/.cache/huggingface/hub. Now they are read by
 * inspect, check, metrics and merge, while symlinks anywhere else stay refused.
 */
import { readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MergelensError } from '../../src/errors.js';
import { openCheckpoint } from '../../src/checkpoint/open.js';
import { allowedRealPath, hfCacheBlobsDir } from '../../src/checkpoint/safe-path.js';
import { writeHfCacheModel, type HfCacheModel } from '../../src/fixtures/hf-cache.js';
import { FIXTURE_SEED } from '../../src/fixtures/generate.js';
import { TINY, tinyBase, tinyExpert } from '../../src/fixtures/tiny.js';
import { parseSafetensorsBuffer } from '../../src/safetensors/reader.js';
import { ROOT, runCli } from '../helpers/cli.js';
import { tempDir } from './raw.js';

const FIX = path.join(ROOT, 'fixtures/tiny');
const tmp = tempDir('mergelens-audit-hf-');
afterAll(() => tmp.cleanup());

const config = JSON.stringify({ model_type: 'llama', hidden_size: TINY.hidden, num_hidden_layers: TINY.layers, vocab_size: TINY.vocab, torch_dtype: 'float32' });
const base = tinyBase(FIXTURE_SEED);
// Same recipe as fixtures/tiny/expert-a (src/fixtures/generate.ts), so the values can be checked against it.
const expertA = tinyExpert(base, { seed: FIXTURE_SEED + 1, sharedSeed: FIXTURE_SEED + 100, mix: 1.0, relNorm: 0.03 });
let baseModel: HfCacheModel;
let expertModel: HfCacheModel;
const cache = path.join(tmp.dir, 'hub');

beforeAll(async () => {
  baseModel = await writeHfCacheModel(cache, 'acme/tiny-base', base, { shardBytes: 40_000, files: { 'config.json': config, 'tokenizer.json': '{"version":"1.0"}' } });
  expertModel = await writeHfCacheModel(cache, 'acme/tiny-expert-a', expertA, { shardBytes: 30_000, files: { 'config.json': config } });
});

describe('the fixture is the hub layout', () => {
  it('snapshot files are relative symlinks into the repository blobs/, the index lists ≥ 2 shards', () => {
    expect(baseModel.files).toContain('model.safetensors.index.json');
    const shards = baseModel.files.filter((f) => /^model-\d{5}-of-\d{5}\.safetensors$/.test(f));
    expect(shards.length).toBeGreaterThanOrEqual(2);
    for (const f of baseModel.files) expect(readlinkSync(path.join(baseModel.snapshot, f))).toMatch(/^\.\.\/\.\.\/blobs\/[0-9a-f]{64}$/);
    expect(readFileSync(path.join(baseModel.repoDir, 'refs/main'), 'utf8')).toBe(baseModel.rev);
    expect(hfCacheBlobsDir(baseModel.snapshot)).toBe(path.join(baseModel.repoDir, 'blobs'));
    expect(hfCacheBlobsDir(path.join(tmp.dir, 'plain'))).toBeUndefined();
  });
  it('allowedRealPath: inside the folder, or the same repository blobs/ only', () => {
    const snap = baseModel.snapshot;
    expect(allowedRealPath(snap, path.join(snap, 'x'))).toBe(true);
    expect(allowedRealPath(snap, path.join(baseModel.repoDir, 'blobs', 'abc'))).toBe(true);
    expect(allowedRealPath(snap, path.join(expertModel.repoDir, 'blobs', 'abc'))).toBe(false); // another repository
    expect(allowedRealPath(snap, path.join(baseModel.repoDir, 'refs', 'main'))).toBe(false);
    expect(allowedRealPath(snap, path.join(baseModel.repoDir, 'blobsx', 'abc'))).toBe(false);
    expect(allowedRealPath(path.join(tmp.dir, 'plain'), path.join(baseModel.repoDir, 'blobs', 'abc'))).toBe(false);
  });
});

describe('a sharded model in the HF cache is read', () => {
  it('openCheckpoint: every tensor, values equal to the generator output', async () => {
    const c = await openCheckpoint(baseModel.snapshot);
    expect(c.kind).toBe('hf-sharded');
    expect(c.tensorNames()).toEqual(base.map((t) => t.name).sort());
    for (const t of base) expect(await c.read(t.name)).toEqual(t.data);
    await c.close();
  });

  it('inspect', () => {
    const r = runCli(['inspect', baseModel.snapshot, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const rep = JSON.parse(r.stdout) as { kind: string; tensors: unknown[]; parameters: number; files: unknown[] };
    expect(rep.kind).toBe('hf-sharded');
    expect(rep.tensors.length).toBe(base.length);
    expect(rep.parameters).toBe(base.reduce((s, t) => s + t.data.length, 0));
    expect(rep.files.length).toBeGreaterThanOrEqual(2);
  });

  it('check: the cached expert descends from the cached base', () => {
    const r = runCli(['check', baseModel.snapshot, expertModel.snapshot, path.join(FIX, 'expert-b.safetensors'), '--json']);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const rep = JSON.parse(r.stdout) as { experts: { descendsFromBase: boolean; medianRelDelta: number }[] };
    expect(rep.experts.map((e) => e.descendsFromBase)).toEqual([true, true]);
    expect(rep.experts[0].medianRelDelta).toBeCloseTo(0.03, 2); // the generator's relNorm
  });

  it('metrics: identical to the same models read from the committed fixtures', () => {
    const fromCache = path.join(tmp.dir, 'm-cache.json');
    const fromFix = path.join(tmp.dir, 'm-fix.json');
    const a = runCli(['metrics', baseModel.snapshot, expertModel.snapshot, path.join(FIX, 'expert-b.safetensors'), '-o', fromCache, '--no-subspace', '--no-progress']);
    expect(a.status, a.stderr).toBe(0);
    const b = runCli(['metrics', path.join(FIX, 'base'), path.join(FIX, 'expert-a.safetensors'), path.join(FIX, 'expert-b.safetensors'), '-o', fromFix, '--no-subspace', '--no-progress']);
    expect(b.status, b.stderr).toBe(0);
    const mc = JSON.parse(readFileSync(fromCache, 'utf8'));
    const mf = JSON.parse(readFileSync(fromFix, 'utf8'));
    expect(Object.keys(mc.metrics).length).toBeGreaterThan(5);
    for (const id of Object.keys(mf.metrics)) expect(mc.metrics[id], id).toEqual(mf.metrics[id]);
  });

  it('merge: weights equal the mean computed here; config and tokenizer copied from the blobs', () => {
    const out = path.join(tmp.dir, 'merged');
    const r = runCli(['merge', '-m', 'weight_avg', '-b', baseModel.snapshot, expertModel.snapshot, path.join(FIX, 'expert-b.safetensors'), '-o', out, '--no-progress']);
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(path.join(out, 'tokenizer.json'), 'utf8')).toBe('{"version":"1.0"}');
    const merged = parseSafetensorsBuffer(readFileSync(path.join(out, 'model.safetensors')));
    const b = parseSafetensorsBuffer(readFileSync(path.join(FIX, 'expert-b.safetensors')));
    for (const t of expertA) {
      const m = merged.tensor(t.name);
      const eb = b.tensor(t.name);
      for (let i = 0; i < m.length; i += 97) expect(m[i]).toBeCloseTo((t.data[i] + eb[i]) / 2, 6);
    }
  });
});

describe('other symlinks stay refused', () => {
  it('a shard symlinked to another repository blobs/ or outside the cache: PATH_TRAVERSAL', async () => {
    const m = await writeHfCacheModel(cache, 'acme/evil', base, { shardBytes: 40_000 });
    const shard = m.files.find((f) => /^model-00001/.test(f))!;
    const link = path.join(m.snapshot, shard);
    const target = path.resolve(path.dirname(link), readlinkSync(link));
    rmSync(link);
    // Points at the other repository's blob holding the very same bytes: still refused.
    const otherBlob = path.join(baseModel.repoDir, 'blobs', path.basename(target));
    symlinkSync(path.relative(m.snapshot, otherBlob), link);
    const e = await openCheckpoint(m.snapshot).then(
      () => null,
      (x) => x as MergelensError,
    );
    expect(e?.code).toBe('PATH_TRAVERSAL');
    expect(e?.message).toMatch(/outside the model folder/);

    rmSync(link);
    const outside = path.join(tmp.dir, 'outside.safetensors');
    writeFileSync(outside, readFileSync(target));
    symlinkSync(outside, link);
    await expect(openCheckpoint(m.snapshot)).rejects.toMatchObject({ code: 'PATH_TRAVERSAL' });
  });
});
