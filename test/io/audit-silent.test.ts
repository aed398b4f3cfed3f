/**
 * Audit (issue 20 item 7, issue 18 item 2): silent wrong results made loud. metrics/screen run
 * merge's same-base pre-flight; weights that flip or void a merge are refused; an expert equal
 * to the base is excluded with a warning; inputs changed during a pass are refused; fit warns on
 * a constant outcome; --grads files must share tensors; an empty LoRA adapter is an error.
 */
import { cpSync, existsSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MergelensError } from '../../src/errors.js';
import { openCheckpoint } from '../../src/checkpoint/open.js';
import { assertInputsUnchanged } from '../../src/checkpoint/unchanged.js';
import { checkSharedTensors, identicalToBase, screenExperts } from '../../src/check/screen-inputs.js';
import { mergeToDisk } from '../../src/merge/to-disk.js';
import { planMerge } from '../../src/merge/plan.js';
import { fitPredictors } from '../../src/predict/fit.js';
import { writeSafetensors } from '../../src/safetensors/writer.js';
import { parseSafetensorsBuffer } from '../../src/safetensors/reader.js';
import type { Checkpoint, StudyDataset } from '../../src/types.js';
import { ROOT, runCli } from '../helpers/cli.js';
import { f32Bytes, rawFile, tempDir } from './raw.js';

const FIX = path.join(ROOT, 'fixtures/tiny');
const fx = (p: string) => path.join(FIX, p);
const tmp = tempDir('mergelens-audit-silent-');
afterAll(() => tmp.cleanup());

async function open(...paths: string[]): Promise<Checkpoint[]> {
  return Promise.all(paths.map((p) => openCheckpoint(p)));
}

describe('metrics and screen run the same-base pre-flight', () => {
  it('metrics refuses an expert of another base (DIFFERENT_BASE, nothing written); --allow-different-base warns and goes on', () => {
    const out = path.join(tmp.dir, 'diff.json');
    const r = runCli(['metrics', fx('base'), fx('expert-a.safetensors'), fx('unrelated.safetensors'), '-o', out, '--no-subspace', '--no-progress']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/\[DIFFERENT_BASE\].*unrelated\.safetensors.*does not descend from this base/);
    expect(existsSync(out)).toBe(false);
    const ok = runCli(['metrics', fx('base'), fx('expert-a.safetensors'), fx('unrelated.safetensors'), '-o', out, '--no-subspace', '--no-progress', '--allow-different-base']);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stderr).toMatch(/warning: .*unrelated\.safetensors.*does not descend.*kept: --allow-different-base/);
    expect(JSON.parse(readFileSync(out, 'utf8')).experts).toEqual(['expert-a', 'unrelated']);
  });

  it('screen refuses it too (it printed "tsv 0.385" for an unrelated model)', () => {
    const r = runCli(['screen', fx('base'), fx('expert-a.safetensors'), fx('unrelated.safetensors')]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/\[DIFFERENT_BASE\].*unrelated\.safetensors/);
    expect(r.stdout).toBe('');
  });

  it('an expert identical to the base is excluded with a warning; the others are still screened', async () => {
    const same = path.join(tmp.dir, 'same-as-base.safetensors');
    cpSync(fx('base/model.safetensors'), same);
    const [base, a, b, s] = await open(fx('base'), fx('expert-a.safetensors'), fx('expert-b.safetensors'), same);
    expect(await identicalToBase(base, s)).toBe(true);
    expect(await identicalToBase(base, a)).toBe(false);
    const warnings: string[] = [];
    const gate = await screenExperts(base, [a, s, b], { onWarning: (w) => warnings.push(w) });
    expect(gate.keep).toEqual([0, 2]);
    expect(gate.excluded.map((x) => x.path)).toEqual([same]);
    expect(warnings.join('\n')).toMatch(/same-as-base\.safetensors: identical to the base/);
    await expect(screenExperts(base, [a, s])).rejects.toThrow(/only 1 usable expert\(s\) left, need at least 2 \(excluded: .*same-as-base/);
    await Promise.all([base, a, b, s].map((c) => c.close()));

    const out = path.join(tmp.dir, 'same.json');
    const r = runCli(['metrics', fx('base'), fx('expert-a.safetensors'), same, fx('expert-b.safetensors'), '-o', out, '--no-subspace', '--no-progress']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning: .*same-as-base\.safetensors: identical to the base .*excluded/);
    expect(JSON.parse(readFileSync(out, 'utf8')).experts).toEqual(['expert-a', 'expert-b']);
  });

  it('one changed element is enough for an expert not to be "identical"', async () => {
    const bytes = new Uint8Array(readFileSync(fx('base/model.safetensors')));
    const parsed = parseSafetensorsBuffer(bytes);
    const last = parsed.header.entries[parsed.header.entries.length - 1];
    const at = parsed.header.dataStart + last.end - 4; // the very last float32 of the file
    new DataView(bytes.buffer).setFloat32(at, new DataView(bytes.buffer).getFloat32(at, true) + 1, true);
    const nearly = tmp.file('nearly.safetensors', bytes);
    const [base, e] = await open(fx('base'), nearly);
    expect(await identicalToBase(base, e)).toBe(false);
    await Promise.all([base.close(), e.close()]);
  });
});

describe('weights that silently change the merge are refused', () => {
  const models = () => open(fx('base'), fx('expert-a.safetensors'), fx('expert-b.safetensors'));

  it('weight_avg -w 1,-1 (wrote θa − θb), ties -w 0,0, normalized weights summing to 0', async () => {
    const [base, a, b] = await models();
    expect(() => planMerge(base, [a, b], { method: 'weight_avg', weights: [1, -1] })).toThrow(/weight 2 is negative \(-1\).*--allow-negative-weights/);
    expect(() => planMerge(base, [a, b], { method: 'ties', weights: [0, 0] })).toThrow(/every weight is 0/);
    expect(() => planMerge(base, [a, b], { method: 'weight_avg', weights: [1, -1], allowNegativeWeights: true })).toThrow(/sum to 0, and normalize divides by Σ wᵢ/);
    expect(() => planMerge(base, [a, b], { method: 'task_arithmetic', weights: [2, -2], params: { normalize: true }, allowNegativeWeights: true })).toThrow(/sum to 0/);
    // Allowed explicitly, without normalization: task negation works and gives exactly θa − θb.
    const plan = planMerge(base, [a, b], { method: 'weight_avg', weights: [1, -1], params: { normalize: false }, allowNegativeWeights: true });
    expect(plan.weights).toEqual([1, -1]);
    await Promise.all([base, a, b].map((c) => c.close()));
  });

  it('the CLI refuses -w 1,-1 as a usage error and accepts it with --allow-negative-weights --param normalize=false', () => {
    const out = path.join(tmp.dir, 'neg');
    const r = runCli(['merge', '-m', 'weight_avg', '-w', '1,-1', fx('expert-a.safetensors'), fx('expert-b.safetensors'), '-o', out, '--no-progress']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/\[BAD_PARAM\].*negative/);
    expect(existsSync(out)).toBe(false);
    const ok = runCli(['merge', '-m', 'weight_avg', '-w', '1,-1', '-p', 'normalize=false', '--allow-negative-weights', fx('expert-a.safetensors'), fx('expert-b.safetensors'), '-o', out, '--no-progress']);
    expect(ok.status, ok.stderr).toBe(0);
    const m = parseSafetensorsBuffer(readFileSync(path.join(out, 'model.safetensors')));
    const ea = parseSafetensorsBuffer(readFileSync(fx('expert-a.safetensors')));
    const eb = parseSafetensorsBuffer(readFileSync(fx('expert-b.safetensors')));
    const name = 'model.layers.0.mlp.down_proj.weight';
    const [x, ya, yb] = [m.tensor(name), ea.tensor(name), eb.tensor(name)];
    for (let i = 0; i < x.length; i += 31) expect(x[i]).toBe(Math.fround(ya[i] - yb[i]));
  });
});

describe('inputs changed during a run are refused', () => {
  it('assertInputsUnchanged: rewritten (mtime), resized, replaced', async () => {
    const f = path.join(tmp.dir, 'changing.safetensors');
    cpSync(fx('expert-a.safetensors'), f);
    const [c] = await open(f);
    await expect(assertInputsUnchanged([c])).resolves.toBeUndefined();
    utimesSync(f, new Date(), new Date(Date.now() + 5000));
    await expect(assertInputsUnchanged([c])).rejects.toMatchObject({ code: 'INPUT_CHANGED', message: expect.stringMatching(/changing\.safetensors.*modified/) });
    await c.close();
    const [d] = await open(f);
    writeFileSync(f, readFileSync(fx('expert-b.safetensors'))); // same size, new content (and a new mtime)
    await expect(assertInputsUnchanged([d])).rejects.toMatchObject({ code: 'INPUT_CHANGED' });
    await d.close();
  });

  it('an expert overwritten in place during a merge: INPUT_CHANGED, no output', async () => {
    const f = path.join(tmp.dir, 'overwritten.safetensors');
    cpSync(fx('expert-a.safetensors'), f);
    const [base, a, b] = await open(fx('base'), f, fx('expert-b.safetensors'));
    const out = path.join(tmp.dir, 'merged-while-changing');
    let touched = false;
    await expect(
      mergeToDisk(base, [a, b], {
        method: 'weight_avg',
        out,
        onProgress: () => {
          if (touched) return;
          touched = true;
          utimesSync(f, new Date(), new Date(Date.now() + 10_000)); // "another process wrote the file"
        },
      }),
    ).rejects.toMatchObject({ code: 'INPUT_CHANGED', message: expect.stringMatching(/overwritten\.safetensors/) });
    expect(touched).toBe(true);
    expect(existsSync(out)).toBe(false);
    await Promise.all([base, a, b].map((c) => c.close()));
  });
});

describe('fit, --grads, LoRA', () => {
  it('fit warns on a constant outcome', () => {
    const rows = Array.from({ length: 8 }, (_, i) => ({ a: `e${i % 4}`, b: `e${(i + 1) % 4}`, method: 'ties', outcome: 0.5, metrics: { m: i, n: (i * 7) % 5 } }));
    const ds = { description: 'const', outcome: 'acc', experts: ['e0', 'e1', 'e2', 'e3'], metricIds: ['m', 'n'], rows } as unknown as StudyDataset;
    const pf = fitPredictors(ds, { bootstrap: 0, folds: ['kfold'], k: 2 });
    expect(pf.warnings?.join('\n')).toMatch(/ties: the outcome is constant \(0\.5\) over all 8 rows/);
  });

  it('--grads files that share no tensor: an error naming both files (metrics CLI and the check)', async () => {
    const g1 = tmp.file('g1.safetensors', rawFile('{"enc.a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', f32Bytes([1, 2])));
    const g2 = tmp.file('g2.safetensors', rawFile('{"enc.b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', f32Bytes([3, 4])));
    const g3 = tmp.file('g3.safetensors', rawFile('{"enc.a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"enc.b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}', f32Bytes([1, 2, 3, 4])));
    await expect(checkSharedTensors([g1, g2], '--grads')).rejects.toThrow(/--grads files .*g1\.safetensors and .*g2\.safetensors share no tensor \(enc\.a vs enc\.b\)/);
    expect(await checkSharedTensors([g1, g3], '--grads')).toMatch(/1 tensor\(s\) are not in every file \(e\.g\. "enc\.b" is missing from .*g1\.safetensors\)/);
    expect(await checkSharedTensors([g3, g3], '--grads')).toBeUndefined();
    const r = runCli(['metrics', fx('base'), fx('expert-a.safetensors'), fx('expert-b.safetensors'), '--grads', `${g1},${g2}`, '-o', path.join(tmp.dir, 'g.json'), '--no-progress']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/share no tensor/);
  });

  it('an empty LoRA adapter (no modules, no weights) is an error; modules_to_save only is a warning', async () => {
    const dir = path.join(tmp.dir, 'empty-lora');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'adapter_config.json'), JSON.stringify({ peft_type: 'LORA', r: 8, lora_alpha: 16, target_modules: ['q_proj'] }));
    await writeSafetensors(path.join(dir, 'adapter_model.safetensors'), []);
    await expect(openCheckpoint(dir)).rejects.toMatchObject({ code: 'BAD_ADAPTER', message: expect.stringMatching(/no LoRA modules .* it changes nothing/) });

    const dense = path.join(tmp.dir, 'dense-only-lora');
    mkdirSync(dense);
    writeFileSync(path.join(dense, 'adapter_config.json'), JSON.stringify({ peft_type: 'LORA', r: 8, lora_alpha: 16 }));
    await writeSafetensors(path.join(dense, 'adapter_model.safetensors'), [{ name: 'base_model.model.lm_head.weight', dtype: 'F32', shape: [2], data: [1, 2] }]);
    const c = await openCheckpoint(dense);
    expect(c.warnings?.join('\n')).toMatch(/no LoRA modules .* only 1 full weight/);
    await c.close();
    const e = await openCheckpoint(path.join(tmp.dir, 'empty-lora')).catch((x: MergelensError) => x);
    expect(e).toBeInstanceOf(MergelensError);
  });
});
