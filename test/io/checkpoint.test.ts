import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openCheckpoint } from '../../src/checkpoint/open.js';
import { createCheckpointWriter } from '../../src/safetensors/writer.js';
import { SafetensorsFile } from '../../src/safetensors/reader.js';
import { bf16BitsToF32, f16BitsToF32, numberToBf16Bits, numberToF16Bits } from '../../src/safetensors/dtype.js';
import type { ErrorCode } from '../../src/errors.js';
import { ROOT } from '../helpers/cli.js';
import { randomF32, tempDir } from './raw.js';

const FIX = path.join(ROOT, 'fixtures/tiny');
const tmp = tempDir('mergelens-ckpt-');
afterAll(() => tmp.cleanup());

async function expectOpenError(p: string, code: ErrorCode, ...fragments: RegExp[]) {
  let err: { code?: string; message: string } | undefined;
  try {
    const c = await openCheckpoint(p);
    await c.close();
  } catch (e) {
    err = e as { code?: string; message: string };
  }
  expect(err, 'expected an error').toBeDefined();
  expect(err!.code, err!.message).toBe(code);
  for (const f of fragments) expect(err!.message).toMatch(f);
}

describe('openCheckpoint layouts', () => {
  it('single file, HF folder, sharded folder and LoRA adapter', async () => {
    const single = await openCheckpoint(path.join(FIX, 'expert-a.safetensors'));
    const folder = await openCheckpoint(path.join(FIX, 'base'));
    const sharded = await openCheckpoint(path.join(FIX, 'expert-a-sharded'));
    const lora = await openCheckpoint(path.join(FIX, 'lora-expert'));
    expect([single.kind, folder.kind, sharded.kind, lora.kind]).toEqual(['safetensors', 'hf-folder', 'hf-sharded', 'lora']);
    expect([single.name, folder.name, sharded.name, lora.name]).toEqual(['expert-a', 'base', 'expert-a-sharded', 'lora-expert']);
    expect(folder.config?.tie_word_embeddings).toBe(false);
    expect(sharded.config?.vocab_size).toBe(64);
    expect(single.tensorNames()).toHaveLength(21);
    expect(single.metadata.format).toBe('pt');
    expect(folder.location('model.norm.weight')).toMatchObject({ dtype: 'F32', shape: [32], file: path.join(FIX, 'base/model.safetensors') });
    for (const c of [single, folder, sharded, lora]) await c.close();
  });

  it('sharded values equal unsharded values, tensor by tensor', async () => {
    const single = await openCheckpoint(path.join(FIX, 'expert-a.safetensors'));
    const sharded = await openCheckpoint(path.join(FIX, 'expert-a-sharded'));
    expect(sharded.tensorNames()).toEqual(single.tensorNames());
    const shardFiles = new Set(sharded.tensorNames().map((n) => sharded.location(n)!.file));
    expect(shardFiles.size).toBe(3);
    for (const n of single.tensorNames()) {
      expect(sharded.location(n)!.shape).toEqual(single.location(n)!.shape);
      expect(Buffer.from((await sharded.read(n)).buffer).equals(Buffer.from((await single.read(n)).buffer))).toBe(true);
    }
    await single.close();
    await sharded.close();
  });

  it('F16 and BF16 fixtures hold the F32 values rounded to nearest even', async () => {
    const f32 = await openCheckpoint(path.join(FIX, 'expert-b.safetensors'));
    const f16 = await openCheckpoint(path.join(FIX, 'f16/expert-b.safetensors'));
    const bf16 = await openCheckpoint(path.join(FIX, 'bf16/expert-b.safetensors'));
    for (const n of ['model.layers.1.mlp.up_proj.weight', 'model.norm.weight']) {
      const ref = await f32.read(n);
      expect(f16.location(n)!.dtype).toBe('F16');
      expect(Array.from(await f16.read(n))).toEqual(Array.from(ref, (v) => f16BitsToF32(numberToF16Bits(v))));
      expect(Array.from(await bf16.read(n))).toEqual(Array.from(ref, (v) => bf16BitsToF32(numberToBf16Bits(v))));
    }
    for (const c of [f32, f16, bf16]) await c.close();
  });

  it('a folder with only pytorch_model.bin says .bin is unsupported and how to convert', async () => {
    const dir = tmp.file('bin-only');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'pytorch_model.bin'), 'x');
    writeFileSync(path.join(dir, 'config.json'), '{}');
    await expectOpenError(dir, 'UNSUPPORTED_FORMAT', /pytorch_model\.bin/, /unsupported/, /safetensors/);
  });

  it('missing path, empty folder, ambiguous folder, direct .bin file', async () => {
    await expectOpenError(tmp.file('does-not-exist'), 'NOT_FOUND', /no such file/);
    const empty = tmp.file('empty');
    mkdirSync(empty);
    await expectOpenError(empty, 'NOT_FOUND', /no safetensors weights/);
    const two = tmp.file('two');
    mkdirSync(two);
    writeFileSync(path.join(two, 'a.safetensors'), readFileSync(path.join(FIX, 'expert-a.safetensors')));
    writeFileSync(path.join(two, 'b.safetensors'), readFileSync(path.join(FIX, 'expert-b.safetensors')));
    await expectOpenError(two, 'NOT_FOUND', /several \.safetensors files/);
    await expectOpenError(tmp.file('m.bin', 'x'), 'UNSUPPORTED_FORMAT', /pickle/);
  });
});

describe('sharded index robustness', () => {
  const specs = [
    { name: 'a', dtype: 'F32' as const, shape: [4, 4] },
    { name: 'b', dtype: 'F32' as const, shape: [4, 4] },
    { name: 'c', dtype: 'F16' as const, shape: [8] },
  ];
  let n = 0;
  /** A fresh valid sharded folder (2 shards: [a, b], [c]); `edit` may rewrite the index object. */
  async function folder(edit?: (index: { metadata: Record<string, unknown>; weight_map: Record<string, unknown> }, dir: string) => void): Promise<string> {
    const dir = tmp.file(`sharded-${n++}`);
    const w = createCheckpointWriter(dir, specs, { shardBytes: 128 });
    for (const s of specs) await w.write(s.name, randomF32(s.shape.reduce((x, y) => x * y, 1), n));
    await w.finish();
    if (edit) {
      const p = path.join(dir, 'model.safetensors.index.json');
      const index = JSON.parse(readFileSync(p, 'utf8'));
      edit(index, dir);
      writeFileSync(p, JSON.stringify(index));
    }
    return dir;
  }

  it('control: a valid folder opens, no warnings', async () => {
    const c = await openCheckpoint(await folder());
    expect(c.kind).toBe('hf-sharded');
    expect(c.tensorNames()).toEqual(['a', 'b', 'c']);
    expect(c.warnings).toEqual([]);
    await c.close();
  });
  it('missing shard', async () => {
    await expectOpenError(await folder((_, dir) => rmSync(path.join(dir, 'model-00002-of-00002.safetensors'))), 'MISSING_SHARD', /model-00002-of-00002\.safetensors/, /does not exist/, /tensor "c"/);
  });
  it('traversal path', async () => {
    await expectOpenError(await folder((i) => (i.weight_map.c = '../model-00002-of-00002.safetensors')), 'PATH_TRAVERSAL', /outside the model folder/, /tensor "c"/);
  });
  it('absolute path', async () => {
    await expectOpenError(await folder((i, dir) => (i.weight_map.c = path.join(dir, 'model-00002-of-00002.safetensors'))), 'PATH_TRAVERSAL', /outside the model folder/);
  });
  it('symlinked shard that leaves the folder', async () => {
    const outside = tmp.file('outside.safetensors', readFileSync(path.join(FIX, 'expert-a.safetensors')));
    await expectOpenError(
      await folder((i, dir) => {
        symlinkSync(outside, path.join(dir, 'link.safetensors'));
        i.weight_map.c = 'link.safetensors';
      }),
      'PATH_TRAVERSAL',
      /outside the model folder/,
    );
  });
  it('tensor in a shard but not in the map', async () => {
    await expectOpenError(await folder((i) => delete i.weight_map.b), 'BAD_INDEX', /not in the index weight_map/, /tensor "b"/);
  });
  it('map names a shard that does not contain the tensor', async () => {
    await expectOpenError(await folder((i) => (i.weight_map.zzz = 'model-00001-of-00002.safetensors')), 'BAD_INDEX', /does not contain it/, /tensor "zzz"/);
  });
  it('tensor mapped to the wrong shard', async () => {
    await expectOpenError(await folder((i) => (i.weight_map.a = 'model-00002-of-00002.safetensors')), 'BAD_INDEX', /index maps it to/, /tensor "a"/);
  });
  it('tensor stored in two shards', async () => {
    const dir = await folder();
    // Replace shard 2 with a copy of shard 1: "a" now lives in both shards.
    writeFileSync(path.join(dir, 'model-00002-of-00002.safetensors'), readFileSync(path.join(dir, 'model-00001-of-00002.safetensors')));
    await expectOpenError(dir, 'BAD_INDEX', /two shards/, /tensor "a"/);
  });
  it('duplicate key in weight_map', async () => {
    const dir = await folder();
    writeFileSync(
      path.join(dir, 'model.safetensors.index.json'),
      '{"metadata":{},"weight_map":{"a":"model-00001-of-00002.safetensors","a":"model-00002-of-00002.safetensors","b":"model-00001-of-00002.safetensors","c":"model-00002-of-00002.safetensors"}}',
    );
    await expectOpenError(dir, 'BAD_INDEX', /listed twice/, /tensor "a"/);
  });
  it('non-string weight_map value', async () => {
    await expectOpenError(await folder((i) => (i.weight_map.a = { file: 'x' })), 'BAD_INDEX', /must be a shard file name/, /tensor "a"/);
  });
  it('LFS pointer shard', async () => {
    const dir = await folder();
    writeFileSync(path.join(dir, 'model-00002-of-00002.safetensors'), 'version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 100\n');
    await expectOpenError(dir, 'LFS_POINTER', /Git LFS pointer/, /model-00002-of-00002\.safetensors/);
  });
  it('total_size is advisory: a wrong value is a warning only', async () => {
    const c = await openCheckpoint(await folder((i) => (i.metadata.total_size = 12345)));
    expect(c.warnings?.join('\n')).toMatch(/total_size 12345/);
    expect((await c.read('c')).length).toBe(8);
    await c.close();
  });
});

describe('fixtures', () => {
  it('committed fixtures are byte-identical to what the generator produces', async () => {
    const { generateFixtures } = await import('../../src/fixtures/generate.js');
    const out = tmp.file('regen');
    const files = await generateFixtures(out);
    expect(files.length).toBeGreaterThan(15);
    for (const f of files) {
      expect(readFileSync(path.join(out, f)).equals(readFileSync(path.join(FIX, f))), f).toBe(true);
    }
  });
  it('every fixture safetensors file opens and is under 200 KB', async () => {
    const { generateFixtures } = await import('../../src/fixtures/generate.js');
    const files = (await generateFixtures(tmp.file('regen2'))).filter((f) => f.endsWith('.safetensors'));
    for (const f of files) {
      const s = await SafetensorsFile.open(path.join(FIX, f));
      expect(s.size).toBeLessThan(200_000);
      await s.close();
    }
  });
});

describe('layout detection corner cases', () => {
  it('a merged-model folder with a leftover adapter_config.json opens as the model', async () => {
    const dir = tmp.file('merged-with-adapter-config');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'adapter_config.json'), '{"peft_type":"LORA"}');
    writeFileSync(path.join(dir, 'model.safetensors'), readFileSync(path.join(FIX, 'expert-a.safetensors')));
    const c = await openCheckpoint(dir);
    expect(c.kind).toBe('hf-folder');
    await c.close();
  });
  it('adapter weights without adapter_config.json are refused by name', async () => {
    const dir = tmp.file('adapter-no-config');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'adapter_model.safetensors'), readFileSync(path.join(FIX, 'lora-expert/adapter_model.safetensors')));
    await expectOpenError(dir, 'NOT_FOUND', /no adapter_config\.json/);
  });
  it('a duplicate key inside the index metadata is not mistaken for a weight_map duplicate', async () => {
    const dir = tmp.file('meta-dup');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'model-00001-of-00001.safetensors'), readFileSync(path.join(FIX, 'expert-a.safetensors')));
    const wm = Object.fromEntries((await (async () => {
      const s = await SafetensorsFile.open(path.join(dir, 'model-00001-of-00001.safetensors'));
      const n = s.names();
      await s.close();
      return n;
    })()).map((n) => [n, 'model-00001-of-00001.safetensors']));
    writeFileSync(path.join(dir, 'model.safetensors.index.json'), `{"metadata":{"total_size":1,"total_size":2},"weight_map":${JSON.stringify(wm)}}`);
    const c = await openCheckpoint(dir);
    expect(c.tensorNames()).toHaveLength(21);
    await c.close();
  });
});
