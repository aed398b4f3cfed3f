import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MergelensError } from '../../src/errors.js';
import { openCheckpoint } from '../../src/checkpoint/open.js';
import { mergeStream, type MergedTensor } from '../../src/merge/stream.js';
import { mergeToDisk, MERGE_RECORD } from '../../src/merge/to-disk.js';
import { parseMergeConfig } from '../../src/merge/config.js';
import { listMethods } from '../../src/merge/registry.js';
import { formatMethods } from '../../src/cli/commands/methods.js';
import { parseSize } from '../../src/cli/commands/merge.js';
import { writeSafetensors } from '../../src/safetensors/writer.js';
import type { Checkpoint } from '../../src/types.js';
import { ROOT, runCli } from '../helpers/cli.js';
import { maxAbsDiff } from './reference.js';

const TINY = path.join(ROOT, 'fixtures/tiny');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'mergelens-merge-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function open(...names: string[]): Promise<Checkpoint[]> {
  return Promise.all(names.map((n) => openCheckpoint(path.join(TINY, n))));
}

async function inMemory(base: Checkpoint, experts: Checkpoint[], opts: Parameters<typeof mergeStream>[2]): Promise<Map<string, MergedTensor>> {
  const m = new Map<string, MergedTensor>();
  for await (const t of mergeStream(base, experts, opts)) m.set(t.name, t);
  return m;
}

/** Round a float32 to bfloat16 (round to nearest even), independently of the writer's encoder. */
function toBf16(x: number): number {
  const b = new Float32Array([x]);
  const u = new Uint32Array(b.buffer);
  u[0] = (u[0] + 0x7fff + ((u[0] >>> 16) & 1)) & 0xffff0000;
  return b[0];
}

describe('mergeToDisk', () => {
  it('folder output re-read by the reader equals the in-memory merge; config copied; record written', async () => {
    const [base, a, b] = await open('base', 'expert-a.safetensors', 'expert-b.safetensors');
    const opts = { method: 'dare_ties', weights: [0.7, 0.3], params: { density: 0.3 }, seed: 3 };
    const out = path.join(tmp, 'merged');
    const res = await mergeToDisk(base, [a, b], { ...opts, out, shardBytes: 40_000 });
    expect(res.files.length).toBeGreaterThan(2); // shards + index
    expect(res.files.every((f) => existsSync(f))).toBe(true);
    expect(res.copied).toEqual(['config.json']);
    expect(readFileSync(path.join(out, 'config.json'), 'utf8')).toBe(readFileSync(path.join(TINY, 'base/config.json'), 'utf8'));
    const record = JSON.parse(readFileSync(path.join(out, MERGE_RECORD), 'utf8'));
    expect(record).toMatchObject({ method: 'dare_ties', weights: [0.7, 0.3], seed: 3, params: { density: 0.3, rescale: 'inverse', lambda: 1, normalize: false } });
    expect(record.experts.map((e: { name: string }) => e.name)).toEqual(['expert-a', 'expert-b']);
    // no temp folders left next to the output
    expect(readdirSync(tmp).filter((f) => f.startsWith('.mergelens-tmp') || f.startsWith('.mergelens-lock'))).toEqual([]);

    const mem = await inMemory(base, [a, b], opts);
    const back = await openCheckpoint(out);
    expect(back.kind).toBe('hf-sharded');
    expect(back.tensorNames()).toEqual([...mem.keys()].sort());
    expect(back.metadata.format).toBe('pt');
    for (const [name, t] of mem) {
      expect(back.location(name)!.dtype).toBe('F32');
      expect(maxAbsDiff(await back.read(name), t.data)).toBe(0);
    }
    await Promise.all([base, a, b, back].map((c) => c.close()));
  });

  it('single-file output with --dtype BF16 holds the rounded in-memory values', async () => {
    const [base, a, c] = await open('base', 'expert-a.safetensors', 'expert-c.safetensors');
    const out = path.join(tmp, 'iso.safetensors');
    const res = await mergeToDisk(base, [a, c], { method: 'iso_c', out, dtype: 'BF16', include: ['model.layers.0.*'] });
    expect(res.files).toEqual([out]);
    expect(existsSync(path.join(tmp, `iso.${MERGE_RECORD}`))).toBe(true);
    const mem = await inMemory(base, [a, c], { method: 'iso_c', include: ['model.layers.0.*'] });
    const back = await openCheckpoint(out);
    expect(back.tensorNames()).toEqual([...mem.keys()].sort());
    for (const [name, t] of mem) {
      expect(back.location(name)!.dtype).toBe('BF16');
      const got = await back.read(name);
      expect(maxAbsDiff(got, Array.from(t.data, toBf16))).toBe(0);
    }
    await Promise.all([base, a, c, back].map((x) => x.close()));
  });

  it('--dtype rewrites torch_dtype in the copied config.json', async () => {
    const [base, a] = await open('base', 'expert-a.safetensors');
    const out = path.join(tmp, 'bf16-folder');
    await mergeToDisk(base, [a], { method: 'task_arithmetic', out, dtype: 'BF16' });
    const src = JSON.parse(readFileSync(path.join(TINY, 'base/config.json'), 'utf8'));
    const cfg = JSON.parse(readFileSync(path.join(out, 'config.json'), 'utf8'));
    expect(cfg).toEqual({ ...src, torch_dtype: 'bfloat16' });
    await Promise.all([base, a].map((x) => x.close()));
  });

  it('refuses to overwrite without force, replaces with force, and never writes into an input', async () => {
    const [base, a] = await open('base', 'expert-a.safetensors');
    const out = path.join(tmp, 'again');
    await mergeToDisk(base, [a], { method: 'task_arithmetic', out });
    writeFileSync(path.join(out, 'stale.txt'), 'old');
    const e = await mergeToDisk(base, [a], { method: 'task_arithmetic', out }).catch((x) => x);
    expect(e).toBeInstanceOf(MergelensError);
    expect(e.code).toBe('OUTPUT_EXISTS');
    await mergeToDisk(base, [a], { method: 'ties', out, force: true });
    expect(existsSync(path.join(out, 'stale.txt'))).toBe(false); // a forced output is replaced whole
    expect(JSON.parse(readFileSync(path.join(out, MERGE_RECORD), 'utf8')).method).toBe('ties');
    const into = await mergeToDisk(base, [a], { method: 'ties', out: path.join(TINY, 'base'), force: true }).catch((x) => x);
    expect(into.code).toBe('OUTPUT_IS_INPUT');
    await Promise.all([base, a].map((x) => x.close()));
  });

  it('an expert that does not descend from the base is a DIFFERENT_BASE error before anything is written', async () => {
    const [base, a, unrelated] = await open('base', 'expert-a.safetensors', 'unrelated.safetensors');
    const out = path.join(tmp, 'different');
    const e = await mergeToDisk(base, [a, unrelated], { method: 'task_arithmetic', out }).catch((x) => x);
    expect(e).toBeInstanceOf(MergelensError);
    expect(e.code).toBe('DIFFERENT_BASE');
    expect(e.file).toContain('unrelated.safetensors');
    expect(existsSync(out)).toBe(false);
    const warnings: string[] = [];
    await mergeToDisk(base, [a, unrelated], { method: 'task_arithmetic', out, allowDifferentBase: true, onWarning: (w) => warnings.push(w) });
    expect(warnings.some((w) => w.includes('unrelated.safetensors'))).toBe(true);
    await Promise.all([base, a, unrelated].map((x) => x.close()));
  });

  it('NaN/Inf inputs are refused naming the file, tensor and count, for every rule (some count them only where an output is NaN/Inf)', async () => {
    // 2 × 3000 elements, so the second row starts in the kernel's third block; NaN/Inf placed in both rows
    const shape = [2, 3000];
    // fine-tunes of one base: θ₀ plus a small task vector each
    const values = (seed: number) => Float32Array.from({ length: 6000 }, (_, i) => Math.sin(i * 0.37) * 0.1 + (seed ? 0.005 * Math.sin(i * 0.91 + seed) : 0));
    const file = async (name: string, data: Float32Array) => {
      const p = path.join(tmp, name);
      await writeSafetensors(p, [{ name: 'w', dtype: 'BF16', shape, data }, { name: 'b', dtype: 'BF16', shape: [8], data: new Float32Array(8).fill(0.5) }]);
      return openCheckpoint(p);
    };
    const bad = values(2);
    bad[10] = NaN;
    bad[4000] = Infinity;
    bad[5999] = -Infinity;
    const [base, good, worse] = await Promise.all([file('nan-base.safetensors', values(0)), file('nan-good.safetensors', values(1)), file('nan-bad.safetensors', bad)]);
    for (const method of ['weight_avg', 'task_arithmetic', 'slerp', 'ties', 'dare', 'dare_ties']) {
      const out = path.join(tmp, `nan-${method}.safetensors`);
      const e = await mergeToDisk(base, [good, worse], { method, out }).catch((err: unknown) => err);
      expect(e, method).toBeInstanceOf(MergelensError);
      expect(e).toMatchObject({ code: 'NON_FINITE', tensor: 'w', file: worse.path });
      // (TIES meets it first in its threshold prescan, which does not count)
      expect((e as Error).message, method).toMatch(method === 'ties' ? /input has NaN\/Inf value\(s\) in θ − θ₀/ : /input has 3 NaN\/Inf value\(s\)/);
      expect(existsSync(out)).toBe(false);
    }
    await Promise.all([base, good, worse].map((c) => c.close()));
  });

  it('F16 output that would overflow is refused, naming the tensor', async () => {
    const big = path.join(tmp, 'big.safetensors');
    await writeSafetensors(big, [{ name: 'w', dtype: 'F32', shape: [2], data: Float32Array.from([1e5, 1]) }]);
    const [x] = await Promise.all([openCheckpoint(big)]);
    const out = path.join(tmp, 'big-out.safetensors');
    const e = await mergeToDisk(null, [x, x], { method: 'weight_avg', out, dtype: 'F16' }).catch((err) => err);
    expect(e.code).toBe('NON_FINITE');
    expect(e.tensor).toBe('w');
    expect(existsSync(out)).toBe(false);
    await x.close();
  });
});

describe('merge configs (mergekit shape)', () => {
  it('maps merge_method, base_model, models, parameters, dtype, seed; skips the base in models', () => {
    const cfg = parseMergeConfig(
      `merge_method: ties
base_model: ./base
models:
  - model: ./base
  - model: ./a
    parameters: { weight: 0.6, density: 0.3 }
  - model: /abs/b
    parameters: { weight: 0.4, density: 0.3 }
parameters:
  lambda: 0.8
  int8_mask: true
dtype: bfloat16
seed: 4
`,
      '/cfg/merge.yml',
    );
    expect(cfg).toMatchObject({
      method: 'ties',
      base: '/cfg/base',
      experts: ['/cfg/a', '/abs/b'],
      weights: [0.6, 0.4],
      params: { lambda: 0.8, density: 0.3, normalize: true }, // normalize: mergekit's TIES default
      seed: 4,
      dtype: 'BF16',
      warnings: ['parameter int8_mask is ignored (mergekit memory option)'],
    });
    expect(cfg.perTensor).toBeUndefined();
    expect(parseMergeConfig('{"merge_method": "linear", "models": [{"model": "x"}, {"model": "y"}]}', '/c.json').weights).toBeUndefined();
  });

  it('rejects what it cannot honour', () => {
    const bad = (text: string) => {
      try {
        parseMergeConfig(text, '/c.yml');
      } catch (e) {
        return (e as MergelensError).message;
      }
      throw new Error('expected an error');
    };
    expect(bad('merge_method: linear\nmodels:\n  - {model: a, parameters: {density: 0.2}}\n  - {model: b, parameters: {density: 0.5}}\n')).toContain('not a parameter of weight_avg');
    expect(bad('merge_method: ties\nmodels:\n  - {model: a, parameters: {weight: {x: 1}}}\n')).toContain('gradient list');
    expect(bad('merge_method: ties\nslices: []\n')).toContain('slices');
    expect(bad('models: [{model: a}]\n')).toContain('merge_method');
    expect(bad('merge_method: ties\nmodels:\n  - {model: a, parameters: {weight: 1}}\n  - {model: b}\n')).toContain('every model or none');
  });
});

describe('mergelens merge / methods (CLI)', () => {
  it('merges from flags, refuses to overwrite without --force, and overwrites with it', () => {
    const out = path.join(tmp, 'cli-out');
    const args = ['merge', '--method', 'ties', '--base', path.join(TINY, 'base'), path.join(TINY, 'expert-a.safetensors'), path.join(TINY, 'expert-b.safetensors'), '--weights', '0.5,0.5', '--param', 'density=0.3', '-o', out];
    const first = runCli(args);
    expect(first.stderr).toMatch(/^merge .*100%.*done in/m); // progress goes to stderr
    expect(first.stderr).not.toContain('warning');
    expect(first.status).toBe(0);
    expect(first.stdout).toContain('with ties (density=0.3 lambda=1 normalize=true)');
    const again = runCli(args);
    expect(again.status).not.toBe(0);
    expect(again.stderr).toContain('OUTPUT_EXISTS');
    expect(runCli([...args, '--force', '--no-progress']).status).toBe(0);
  });

  it('exits non-zero on a shape mismatch before writing anything', async () => {
    const dir = path.join(tmp, 'mismatch');
    const t = (name: string, shape: number[]) => ({ name, dtype: 'F32' as const, shape, data: new Float32Array(shape.reduce((x, y) => x * y, 1)).fill(1) });
    await writeSafetensors(path.join(tmp, 'mm-base.safetensors'), [t('w', [2, 3]), t('b', [3])]);
    await writeSafetensors(path.join(tmp, 'mm-good.safetensors'), [t('w', [2, 3]), t('b', [3])]);
    await writeSafetensors(path.join(tmp, 'mm-bad.safetensors'), [t('w', [3, 2]), t('b', [3])]);
    const r = runCli(['merge', '-m', 'task_arithmetic', '-b', path.join(tmp, 'mm-base.safetensors'), path.join(tmp, 'mm-good.safetensors'), path.join(tmp, 'mm-bad.safetensors'), '-o', dir]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('[SHAPE_MISMATCH]');
    expect(r.stderr).toContain('mm-bad.safetensors: tensor "w": shape [3, 2]');
    expect(existsSync(dir)).toBe(false);
    expect(readdirSync(tmp).filter((f) => f.startsWith('.mergelens-tmp') || f.startsWith('.mergelens-lock'))).toEqual([]);
  });

  it('merges from a config file; unknown method fails with a suggestion', () => {
    const cfg = path.join(tmp, 'merge.yml');
    writeFileSync(cfg, `merge_method: dare\nbase_model: ${path.join(TINY, 'base')}\nmodels:\n  - model: ${path.join(TINY, 'expert-a.safetensors')}\n  - model: ${path.join(TINY, 'expert-c.safetensors')}\nparameters: {density: 0.5, rescale: true, weight: 1}\nseed: 2\n`);
    const out = path.join(tmp, 'cfg-out.safetensors');
    const r = runCli(['merge', '--config', cfg, '-o', out, '--no-progress']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const rec = JSON.parse(readFileSync(path.join(tmp, `cfg-out.${MERGE_RECORD}`), 'utf8'));
    expect(rec).toMatchObject({ method: 'dare', seed: 2, params: { density: 0.5, rescale: 'l1' } });
    const bad = runCli(['merge', '--method', 'dare-ties', '-b', 'nowhere', 'x', '-o', path.join(tmp, 'never')]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('did you mean "dare_ties"');
  });

  it('reads shard sizes', () => {
    expect(parseSize('5GB')).toBe(5e9);
    expect(parseSize('500mb')).toBe(5e8);
    expect(parseSize('4GiB')).toBe(4 * 2 ** 30);
    expect(parseSize('1.5G')).toBe(1.5e9);
    expect(parseSize('1048576')).toBe(1048576);
    expect(() => parseSize('5 parsecs')).toThrow(MergelensError);
  });

  it('`methods` lists every method with parameters and defaults (text and JSON)', () => {
    const text = formatMethods(listMethods());
    expect(text).toContain('density (number, default 0.2, in (0, 1])');
    expect(text).toContain('rescale (string, default inverse, one of inverse|l1|none)');
    const r = runCli(['methods', '--json']);
    expect(r.status).toBe(0);
    const json = JSON.parse(r.stdout);
    expect(json.map((m: { id: string }) => m.id)).toEqual(['weight_avg', 'task_arithmetic', 'ties', 'dare', 'dare_ties', 'slerp', 'tsv', 'iso_c']);
    expect(json.find((m: { id: string }) => m.id === 'task_arithmetic').params.find((p: { name: string }) => p.name === 'lambda').default).toBe(0.3);
  });
});
