import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openCheckpoint } from '../../src/checkpoint/open.js';
import { loadStudy } from '../../src/predict/load.js';
import { buildTaskData, getTask, headOf, INPUT_DIM } from '../../src/study/data.js';
import { PROBE_SAMPLES, probeTask } from '../../src/study/probe.js';
import { readAllTensors, readHead } from '../../src/study/evaluate.js';
import { accuracy } from '../../src/study/mlp.js';
import { QUICK_METHODS, QUICK_TASKS, runStudy } from '../../src/study/run.js';
import { runMergeJobs } from '../../src/study/evaluate.js';
import { isMergelensError } from '../../src/errors.js';
import { encoderFromTensors } from '../../src/study/tensors.js';
import { defaultZooDir, readZooManifest } from '../../src/study/zoo.js';
import type { StudyDataset } from '../../src/types.js';
import { runCli } from '../helpers/cli.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'mergelens-study-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('mergelens study --quick', () => {
  let first: Awaited<ReturnType<typeof runStudy>>;

  it('runs metrics → merges → outcomes and writes the dataset (library, 2 worker threads)', async () => {
    first = await runStudy({ quick: true, outDir: path.join(tmp, 'a'), fit: false, report: false, workers: 2 });
    const ds = first.dataset;
    expect(ds.experts).toEqual(QUICK_TASKS);
    expect(ds.methods).toEqual(QUICK_METHODS);
    expect(ds.rows).toHaveLength(6 * QUICK_METHODS.length);
    for (const r of ds.rows) {
      const e = r.extra!;
      expect(r.outcome).toBeCloseTo((e.acc_a / e.expert_acc_a + e.acc_b / e.expert_acc_b) / 2, 12);
      expect(e.expert_acc_a).toBe(first.expertAccuracy[r.a]);
      // gradient and activation metrics come from the calibration files, so they must be there
      for (const id of ['tv_cosine', 'enc_grad_l2', 'input_grad_cosine', 'act_cosine']) expect(Number.isFinite(r.metrics[id])).toBe(true);
    }
    const csv = readFileSync(path.join(tmp, 'a', 'study.csv'), 'utf8').trim().split('\n');
    expect(csv).toHaveLength(ds.rows.length + 1);
    expect(csv[0].startsWith(`a,b,method,outcome,${ds.metricIds.join(',')},extra_acc_a,extra_acc_b,`)).toBe(true);
    // the CSV is the user path into `mergelens fit`: it must load back to the same rows, extras not as features
    const fromCsv = await loadStudy(path.join(tmp, 'a', 'study.csv'));
    expect(fromCsv.metricIds).toEqual(ds.metricIds);
    expect(fromCsv.rows.map((r) => [r.a, r.b, r.method, r.outcome, r.metrics, r.extra])).toEqual(ds.rows.map((r) => [r.a, r.b, r.method, r.outcome, r.metrics, r.extra]));
    const json = JSON.parse(readFileSync(path.join(tmp, 'a', 'study.json'), 'utf8')) as StudyDataset;
    expect(json.rows).toEqual(ds.rows);
    const grads = await openCheckpoint(path.join(tmp, 'a', 'calibration', 'grads', 'digits.safetensors'));
    expect(grads.tensorNames()).toEqual(['encoder.0.bias', 'encoder.0.weight', 'encoder.1.bias', 'encoder.1.weight', 'input']);
    await grads.close();
  }, 240_000); // a whole (quick) study; minutes when the shared machine is busy

  it('a weight_avg row equals an independent merge: (θa + θb)/2 evaluated with each head', async () => {
    const dir = defaultZooDir();
    const m = await readZooManifest(dir);
    const enc = async (id: string) => {
      const ck = await openCheckpoint(path.join(dir, m.tasks.find((t) => t.id === id)!.expert));
      const get = await readAllTensors(ck);
      await ck.close();
      return get;
    };
    const [ga, gb] = [await enc('digits'), await enc('parity')];
    const avg = (n: string) => {
      const a = ga(n)!;
      const b = gb(n)!;
      return { shape: a.shape, data: a.data.map((v, k) => (v + b.data[k]) / 2) };
    };
    const encoder = encoderFromTensors(avg, 2, 'manual average', INPUT_DIM);
    const row = first.dataset.rows.find((r) => r.a === 'digits' && r.b === 'parity' && r.method === 'weight_avg')!;
    for (const [id, key] of [['digits', 'acc_a'], ['parity', 'acc_b']] as const) {
      const test = buildTaskData(getTask(id), m.config.seed, m.config.split).test;
      const head = await readHead(path.join(dir, `heads/${id}.safetensors`));
      expect(row.extra![key]).toBe(accuracy({ encoder, head }, test.x, test.y, test.n));
    }
    // merging costs accuracy on at least one pair, and never produces nonsense
    expect(Math.min(...first.dataset.rows.map((r) => r.outcome))).toBeLessThan(0.95);
    for (const r of first.dataset.rows) expect(r.outcome).toBeGreaterThan(0.2);
  });

  it('merges seeded groups of k ≥ 3 with held-in and held-out outcomes (quick: one group of 3, one of 4)', async () => {
    const ds = first.dataset;
    const groups = ds.groups!;
    expect(groups).toHaveLength(2 * QUICK_METHODS.length);
    expect(ds.groupOutcome).toMatch(/mean over the group's k tasks/);
    expect(ds.heldOutDescription).toMatch(/linear probe/);
    const ref = first.probeReference!;
    for (const g of groups) {
      const e = g.extra!;
      expect(e.k).toBe(g.experts.length);
      expect(g.experts).toEqual(ds.experts.filter((id) => g.experts.includes(id))); // dataset order
      const ratios = g.experts.map((id) => e[`acc_${id}`] / first.expertAccuracy[id]);
      expect(g.outcome).toBeCloseTo(ratios.reduce((a, b) => a + b, 0) / ratios.length, 12);
      const out = ds.experts.filter((id) => !g.experts.includes(id));
      if (!out.length) {
        expect(g.heldOut).toBeUndefined(); // the group of all 4 holds no task out
        continue;
      }
      const r = out.map((t) => e[`probe_${t}`] / ref.base[t]);
      expect(g.heldOut).toBeCloseTo(r.reduce((a, b) => a + b, 0) / r.length, 12);
      const expertRatios = g.experts.map((id) => out.reduce((s, t) => s + ref[id][t] / ref.base[t], 0) / out.length);
      expect(e.heldout_experts).toBeCloseTo(expertRatios.reduce((a, b) => a + b, 0) / expertRatios.length, 12);
      expect(e.heldout_best_expert).toBe(Math.max(...expertRatios));
    }
    expect(new Set(groups.map((g) => g.experts.length))).toEqual(new Set([3, 4]));

    // Independent route for the weight_avg group of 3: average the expert encoders by hand,
    // evaluate each member with its head, and probe the held-out task on it and on the base.
    const g = groups.find((x) => x.method === 'weight_avg' && x.experts.length === 3)!;
    const dir = defaultZooDir();
    const m = await readZooManifest(dir);
    const tensors = async (file: string) => {
      const ck = await openCheckpoint(path.join(dir, file));
      const get = await readAllTensors(ck);
      await ck.close();
      return get;
    };
    const gets = await Promise.all(g.experts.map((id) => tensors(m.tasks.find((t) => t.id === id)!.expert)));
    const avg = (n: string) => {
      const parts = gets.map((get) => get(n)!);
      return { shape: parts[0].shape, data: parts[0].data.map((_, k) => parts.reduce((s, p) => s + p.data[k], 0) / parts.length) };
    };
    const encoder = encoderFromTensors(avg, 2, 'manual average', INPUT_DIM);
    for (const id of g.experts) {
      const test = buildTaskData(getTask(id), m.config.seed, m.config.split).test;
      const head = await readHead(path.join(dir, `heads/${id}.safetensors`));
      expect(g.extra![`acc_${id}`]).toBe(accuracy({ encoder, head }, test.x, test.y, test.n));
    }
    const [held] = ds.experts.filter((id) => !g.experts.includes(id));
    const td = buildTaskData(getTask(held), m.config.seed, m.config.split);
    expect(g.extra![`probe_${held}`]).toBe(probeTask(encoder, headOf(td.train, PROBE_SAMPLES), td.test, td.task.classes));
    const base = encoderFromTensors(await tensors(m.base), 2, 'base', INPUT_DIM);
    expect(ref.base[held]).toBe(probeTask(base, headOf(td.train, PROBE_SAMPLES), td.test, td.task.classes));
    // the probe is a real classifier on these features, far above chance (1/10)
    expect(ref.base[held]).toBeGreaterThan(0.6);

    const csv = readFileSync(path.join(tmp, 'a', 'study-groups.csv'), 'utf8').trim().split('\n');
    expect(csv).toHaveLength(groups.length + 1);
    expect(csv[0].startsWith('experts,k,method,outcome,held_out,')).toBe(true);
    expect(csv[1].startsWith(`${groups[0].experts.join('+')},${groups[0].experts.length},${groups[0].method},${groups[0].outcome},`)).toBe(true);
    const json = JSON.parse(readFileSync(path.join(tmp, 'a', 'study.json'), 'utf8')) as StudyDataset;
    expect(json.groups).toEqual(groups);
  });

  it('is deterministic: the CLI (inline, 1 thread) gives the same rows', () => {
    const out = path.join(tmp, 'b');
    const r = runCli(['study', '--quick', '--out', out, '--workers', '1', '--no-fit', '--no-report']);
    expect(r.stderr).toContain('merge');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('normalized accuracy after merging (24 merges)');
    const second = JSON.parse(readFileSync(path.join(out, 'study.json'), 'utf8')) as StudyDataset;
    expect(second.rows).toEqual(first.dataset.rows);
    expect(second.groups).toEqual(first.dataset.groups);
    expect(r.stdout).toMatch(/merging groups \(8 merges\)/);
  }, 240_000);

  it('bad task or method names fail with a named error before any work', () => {
    const t = runCli(['study', '--tasks', 'digits,nope', '--out', path.join(tmp, 'c')]);
    expect(t.status).toBe(1);
    expect(t.stderr).toMatch(/unknown study task "nope"/);
    const m = runCli(['study', '--quick', '--methods', 'tiess', '--out', path.join(tmp, 'c')]);
    expect(m.status).toBe(1);
    expect(m.stderr).toMatch(/UNKNOWN_METHOD/);
    const z = runCli(['study', '--zoo', path.join(tmp, 'no-zoo'), '--out', path.join(tmp, 'c')]);
    expect(z.status).toBe(1);
    expect(z.stderr).toMatch(/no-zoo.*manifest\.json: no study zoo here.*--retrain/);
  });

  it('an error inside a merge worker comes back as the same MergelensError', async () => {
    const dir = defaultZooDir();
    const m = await readZooManifest(dir);
    const spec = { zooDir: dir, base: m.base, tasks: m.tasks.slice(0, 2).map((t) => ({ id: t.id, expert: t.expert, head: t.head })), dataSeed: m.config.seed, split: { train: 10, test: 20 }, layers: 2 };
    const jobs = [
      { i: 0, j: 1, method: 'weight_avg', seed: 0 },
      { i: 0, j: 1, method: 'no_such_method', seed: 0 },
    ];
    const err = await runMergeJobs(spec, jobs, 2).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isMergelensError(err)).toBe(true);
    expect((err as { code: string }).code).toBe('UNKNOWN_METHOD');
    expect((err as Error).message).toMatch(/no_such_method/);
  });
});
