/**
 * `sweep --group-size`: group merges evaluated through the sweep's runner land in study.json as
 * GroupRows whose outcomes match the built-in study's own group evaluation (merge in memory,
 * expert heads), and a re-run resumes them from the journal instead of evaluating again.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runSweep } from '../../src/sweep/run.js';
import { studyEvaluation } from '../../src/search/study-eval.js';
import { runMergeJobs, type EvalSpec, type GroupJob } from '../../src/study/evaluate.js';
import { normalizedAccuracies } from '../../src/study/outcome.js';
import { readZooManifest } from '../../src/study/zoo.js';
import { loadStudy } from '../../src/predict/load.js';
import { combinations } from '../../src/study/groups.js';
import type { Evaluator } from '../../src/eval/runner.js';
import { ROOT } from '../helpers/cli.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'mergelens-group-sweep-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const ZOO = path.join(ROOT, 'fixtures/study');
const TASKS = ['digits', 'rot90', 'invert', 'parity'];

describe('sweep --group-size 3', () => {
  it('writes every group of 3 as a GroupRow with the study\'s outcome, and resumes without re-evaluating', async () => {
    const ev = await studyEvaluation(ZOO, TASKS);
    let calls = 0;
    const evaluator: Evaluator = (ctx) => {
      calls++;
      return ev.evaluator(ctx);
    };
    const opts = { base: path.join(ZOO, 'base.safetensors'), experts: TASKS.map((t) => path.join(ZOO, 'experts', `${t}.safetensors`)), evaluator, outDir: path.join(tmp, 'sweep'), methods: ['task_arithmetic'], groupSize: 3, groups: 'all' as const, fit: false };
    const r = await runSweep(opts);
    expect(r.interrupted).toBe(false);
    // 5 single models + 6 pairs + C(4,3) = 4 groups.
    expect(calls).toBe(5 + 6 + 4);
    const ds = await loadStudy(path.join(opts.outDir, 'study.json')); // what `mergelens fit` reads
    expect(ds.groups).toHaveLength(4);
    expect(ds.groupOutcome).toMatch(/mean over the k experts/);
    expect(r.summary.groupMerges?.every((m) => m.status === 'evaluated')).toBe(true);

    // The built-in study's group evaluation, in process (src/study/evaluate.ts).
    const manifest = await readZooManifest(ZOO);
    const spec: EvalSpec = {
      zooDir: ZOO,
      base: manifest.base,
      tasks: TASKS.map((id) => manifest.tasks.find((t) => t.id === id)!).map((e) => ({ id: e.id, expert: e.expert, head: e.head })),
      dataSeed: manifest.config.seed,
      split: manifest.config.split,
      layers: manifest.config.encoderDims.length - 1,
    };
    const jobs: GroupJob[] = combinations(4, 3).map((experts) => ({ kind: 'group', experts, method: 'task_arithmetic', seed: 0, probe: false }));
    const reference = await runMergeJobs(spec, jobs, 1);
    const expertAcc = Object.fromEntries(manifest.tasks.map((t) => [t.id, t.expertAccuracy]));
    for (const ref of reference) {
      const names = ref.experts.map((i) => TASKS[i]);
      const row = ds.groups!.find((g) => g.experts.join() === names.join())!;
      expect(row, names.join('+')).toBeDefined();
      names.forEach((t, k) => expect(row.extra![`score_${t}`]).toBe(ref.acc[k]));
      expect(row.outcome).toBeCloseTo(normalizedAccuracies(ref.acc, names.map((t) => expertAcc[t])).mean, 12);
    }

    // Same inputs again: everything comes from the journal.
    calls = 0;
    const again = await runSweep(opts);
    expect(calls).toBe(0);
    expect(again.dataset.groups?.map((g) => g.outcome)).toEqual(ds.groups!.map((g) => g.outcome));
  }, 600_000);
});
