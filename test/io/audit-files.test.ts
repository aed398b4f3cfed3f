/**
 * Audit (issue 20, item 3): no secrets or special files. Files copied from the base folder into
 * a merge output must be regular files inside it (a symlinked ~/.cache/huggingface/token must
 * not land in the merged model); FIFOs and devices are refused by fstat before any read (a FIFO
 * named model.safetensors or used as a shard used to block forever); symlink loops are named.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MergelensError } from '../../src/errors.js';
import { openCheckpoint } from '../../src/checkpoint/open.js';
import { SafetensorsFile } from '../../src/safetensors/reader.js';
import { readSideFiles } from '../../src/checkpoint/side-files.js';
import { ROOT, runCli } from '../helpers/cli.js';
import { tempDir } from './raw.js';

const FIX = path.join(ROOT, 'fixtures/tiny');
const tmp = tempDir('mergelens-audit-files-');
afterAll(() => tmp.cleanup());

const mkfifo = (p: string) => execFileSync('mkfifo', [p]);

async function expectCode(p: Promise<unknown>, code: string, ...patterns: RegExp[]): Promise<MergelensError> {
  const e = await p.then(
    () => {
      throw new Error('expected an error');
    },
    (x) => x as MergelensError,
  );
  expect(e).toBeInstanceOf(MergelensError);
  expect(e.code, e.message).toBe(code);
  for (const re of patterns) expect(e.message).toMatch(re);
  return e;
}

/** A copy of fixtures/tiny/base (config.json + model.safetensors) under a new name. */
function baseCopy(name: string): string {
  const dir = path.join(tmp.dir, name);
  cpSync(path.join(FIX, 'base'), dir, { recursive: true });
  return dir;
}

describe('FIFOs and devices are refused, never read', () => {
  it('a FIFO named model.safetensors: NOT_REGULAR_FILE at once (the open would block forever)', async () => {
    const dir = path.join(tmp.dir, 'fifo-model');
    mkdirSync(dir);
    mkfifo(path.join(dir, 'model.safetensors'));
    await expectCode(openCheckpoint(dir), 'NOT_REGULAR_FILE', /FIFO/, /model\.safetensors/);
    await expectCode(SafetensorsFile.open(path.join(dir, 'model.safetensors')), 'NOT_REGULAR_FILE', /FIFO/);
    await expectCode(openCheckpoint(path.join(dir, 'model.safetensors')), 'NOT_REGULAR_FILE', /FIFO/);
  });

  it('a FIFO used as a shard, or as the index or config.json', async () => {
    const dir = path.join(tmp.dir, 'fifo-shard');
    cpSync(path.join(FIX, 'expert-a-sharded'), dir, { recursive: true });
    const shard = readdirSync(dir).find((f) => /^model-00002-of/.test(f))!;
    execFileSync('rm', [path.join(dir, shard)]);
    mkfifo(path.join(dir, shard));
    await expectCode(openCheckpoint(dir), 'NOT_REGULAR_FILE', /FIFO/, new RegExp(shard));
    // config.json as a FIFO: the open reports it as a warning (config is informative) without blocking.
    const d2 = baseCopy('fifo-config');
    execFileSync('rm', [path.join(d2, 'config.json')]);
    mkfifo(path.join(d2, 'config.json'));
    const c = await openCheckpoint(d2);
    expect(c.warnings?.join('\n')).toMatch(/config\.json.*FIFO/);
    await c.close();
  }, 10_000);

  it('/dev/zero as weights is refused, not read forever', async () => {
    const dir = path.join(tmp.dir, 'dev-model');
    mkdirSync(dir);
    symlinkSync('/dev/zero', path.join(dir, 'model.safetensors'));
    // A symlink leaving the folder is refused before its type matters.
    await expectCode(openCheckpoint(dir), 'PATH_TRAVERSAL', /outside the model folder/);
    await expectCode(SafetensorsFile.open('/dev/zero'), 'NOT_REGULAR_FILE', /character device/);
  });

  it('the CLI exits 1 with the named error instead of hanging', () => {
    const dir = path.join(tmp.dir, 'fifo-cli');
    mkdirSync(dir);
    mkfifo(path.join(dir, 'model.safetensors'));
    const r = runCli(['inspect', dir]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/\[NOT_REGULAR_FILE\].*FIFO/);
  });
});

describe('symlinks', () => {
  it('a symlink loop gets SYMLINK_LOOP naming the file', async () => {
    const dir = path.join(tmp.dir, 'loop');
    mkdirSync(dir);
    symlinkSync('b.safetensors', path.join(dir, 'a.safetensors'));
    symlinkSync('a.safetensors', path.join(dir, 'b.safetensors'));
    await expectCode(openCheckpoint(path.join(dir, 'a.safetensors')), 'SYMLINK_LOOP', /a\.safetensors/);
    const folder = path.join(tmp.dir, 'loop-folder');
    mkdirSync(folder);
    symlinkSync('model.safetensors', path.join(folder, 'model.safetensors'));
    await expectCode(openCheckpoint(folder), 'SYMLINK_LOOP', /symlink loop/, /model\.safetensors/);
  });

  it('config/tokenizer files symlinked out of the base folder are refused; regular ones are read', async () => {
    const secret = tmp.file('token', 'hf_SECRET_TOKEN_1234');
    const dir = baseCopy('base-with-secret');
    symlinkSync(secret, path.join(dir, 'tokenizer.json'));
    await expectCode(readSideFiles(dir, ['config.json', 'tokenizer.json']), 'PATH_TRAVERSAL', /tokenizer\.json/, /outside the model folder/);

    // A symlink inside the folder is fine (resolves to a regular file in it).
    const ok = baseCopy('base-inner-link');
    writeFileSync(path.join(ok, 'tok-real.json'), '{"a":1}');
    symlinkSync('tok-real.json', path.join(ok, 'tokenizer.json'));
    const files = await readSideFiles(ok, ['config.json', 'tokenizer.json', 'vocab.txt']);
    expect(files.map((f) => f.name)).toEqual(['config.json', 'tokenizer.json']);
    expect(Buffer.from(files[1].data).toString()).toBe('{"a":1}');
    expect(Buffer.from(files[0].data)).toEqual(readFileSync(path.join(FIX, 'base/config.json')));
  });

  it('merge refuses a base whose tokenizer.json is a symlink to a secret, before writing anything', () => {
    const secret = tmp.file('token2', 'hf_SECRET_TOKEN_5678');
    const dir = baseCopy('base-secret-merge');
    symlinkSync(secret, path.join(dir, 'tokenizer.json'));
    const out = path.join(tmp.dir, 'merged-secret');
    const r = runCli(['merge', '-m', 'weight_avg', '-b', dir, path.join(FIX, 'expert-a.safetensors'), path.join(FIX, 'expert-b.safetensors'), '-o', out, '--no-progress']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/\[PATH_TRAVERSAL\].*tokenizer\.json/);
    expect(existsSync(out)).toBe(false);
    // Nothing containing the token anywhere under the temp root except the secret itself.
    const leaked = execFileSync('grep', ['-rl', 'hf_SECRET_TOKEN_5678', tmp.dir], { encoding: 'utf8' }).trim().split('\n');
    expect(leaked).toEqual([secret]);
  });

  it('a FIFO named tokenizer.json in the base: refused before the merge', () => {
    const dir = baseCopy('base-fifo-tok');
    mkfifo(path.join(dir, 'tokenizer.json'));
    const out = path.join(tmp.dir, 'merged-fifo');
    const r = runCli(['merge', '-m', 'weight_avg', '-b', dir, path.join(FIX, 'expert-a.safetensors'), path.join(FIX, 'expert-b.safetensors'), '-o', out, '--no-progress']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/\[NOT_REGULAR_FILE\].*tokenizer\.json/);
    expect(existsSync(out)).toBe(false);
  });

  it('a malformed base config.json with --dtype fails before the merge (nothing written)', () => {
    const dir = baseCopy('base-bad-config');
    writeFileSync(path.join(dir, 'config.json'), '{"model_type": "llama",');
    const out = path.join(tmp.dir, 'merged-bad-config');
    const r = runCli(['merge', '-m', 'weight_avg', '-b', dir, path.join(FIX, 'expert-a.safetensors'), path.join(FIX, 'expert-b.safetensors'), '-o', out, '--dtype', 'bf16']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/\[BAD_INPUT\].*config\.json.*not valid JSON/);
    expect(r.stderr).not.toMatch(/merge +\d/); // no merge progress line: it failed before the work
    expect(existsSync(out)).toBe(false);
    // Without --dtype the file is copied as-is (a merge does not need to parse it).
    const out2 = path.join(tmp.dir, 'merged-bad-config-2');
    const ok = runCli(['merge', '-m', 'weight_avg', '-b', dir, path.join(FIX, 'expert-a.safetensors'), path.join(FIX, 'expert-b.safetensors'), '-o', out2, '--no-progress']);
    expect(ok.status, ok.stderr).toBe(0);
    expect(readFileSync(path.join(out2, 'config.json'), 'utf8')).toBe('{"model_type": "llama",');
  });
});
