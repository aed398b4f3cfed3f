/**
 * Issue 15's done-when check, end to end on the built-in zoo: a study with groups (6 of the zoo's
 * experts, two methods, seeded groups of 3–6), the group models fitted on it, `screen
 * --group-size 4` through the CLI, then the recommended group merged by `mergelens merge` and
 * evaluated with the study's evaluation (src/search/study-eval.ts): the measured normalized
 * accuracy must lie within the interval screen stated.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runStudy, DATA_FAMILIES } from '../../src/study/run.js';
import { fitPredictors } from '../../src/predict/fit.js';
import { fitGroupPredictors } from '../../src/predict/group-fit.js';
import { studyEvaluation } from '../../src/search/study-eval.js';
import type { GroupScreen } from '../../src/predict/group-screen.js';
import { ROOT, runCli } from '../helpers/cli.js';

const ZOO = path.join(ROOT, 'fixtures/study');
const TASKS = ['digits', 'rot90', 'invert', 'shifted', 'parity', 'mod3'];
const METHODS = ['weight_avg', 'task_arithmetic'];
const tmp = mkdtempSync(path.join(tmpdir(), 'ml-group-done-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('screen --group-size 4 on the built-in zoo', () => {
  it('recommends a group whose measured outcome lies within the stated interval', async () => {
    const study = await runStudy({ outDir: path.join(tmp, 'study'), tasks: TASKS, methods: METHODS, groups: 3, fit: false, report: false, workers: 2 });
    const groupRows = study.dataset.groups ?? [];
    expect(groupRows.length).toBe((3 + 3 + 3 + 1) * METHODS.length); // sizes 3..5: 3 groups each, size 6: the only one; every method
    const seed = study.manifest.config.seed;
    // Weights-only: screen below is given no gradient/activation files.
    const pf = fitPredictors(study.dataset, { seed, exclude: DATA_FAMILIES, bootstrap: 0, folds: ['loto'] });
    pf.groups = fitGroupPredictors(study.dataset, { seed, exclude: DATA_FAMILIES });
    expect(Object.keys(pf.groups!.methods).sort()).toEqual([...METHODS].sort());
    const predictor = path.join(tmp, 'predictor.json');
    writeFileSync(predictor, JSON.stringify(pf));

    const files = Object.fromEntries(TASKS.map((t) => [t, path.join(ZOO, 'experts', `${t}.safetensors`)]));
    const base = path.join(ZOO, 'base.safetensors');
    const out = path.join(tmp, 'screen.json');
    const r = runCli(['screen', base, ...TASKS.map((t) => files[t]), '--predictor', predictor, '--group-size', '4', '-o', out, '--no-progress']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('Groups of 4 (exact: all C(6,4) = 15 subsets evaluated)');
    const screen = JSON.parse(readFileSync(out, 'utf8')).groups as GroupScreen;
    const top = screen.sizes[0].groups[0];
    expect(top.experts.length).toBe(4);
    const { method } = top.best;

    // Merge the recommended group the way a user would, and measure it with the study's evaluation.
    const merged = path.join(tmp, 'merged.safetensors');
    const m = runCli(['merge', '--base', base, ...top.experts.map((e) => files[e]), '-m', method, '--seed', String(seed), '-o', merged]);
    expect(m.status, m.stderr).toBe(0);
    const ev = await studyEvaluation(ZOO, top.experts);
    const { scores } = await ev.evaluator({ model: merged, candidate: { id: 'g', name: 'g', tasks: top.experts }, slot: 0, attempt: 1, dir: tmp, signal: new AbortController().signal });
    const measured = top.experts.reduce((s, t) => s + scores[t] / ev.expertAccuracy[t], 0) / top.experts.length;
    console.log(`done-when: ${top.experts.join('+')} ${method}: predicted ${top.best.predicted.toFixed(4)} [${top.best.lo.toFixed(4)}, ${top.best.hi.toFixed(4)}], measured ${measured.toFixed(4)}, in domain ${top.best.domain?.inDomain}, merged in the study: ${groupRows.some((g) => g.method === method && g.experts.join() === top.experts.join())}`);
    expect(top.best.hi - top.best.lo).toBeLessThan(0.5); // an interval that says something
    expect(measured).toBeGreaterThanOrEqual(top.best.lo);
    expect(measured).toBeLessThanOrEqual(top.best.hi);
  }, 900_000);
});
