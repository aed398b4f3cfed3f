/**
 * Predictor guidance of the pool (`--method auto`, `--drop predictor`): the method and drop rules
 * on hand-computed predictions, then a real search on the zoo with the shipped predictor.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import type { Prediction, PredictorFile } from '../../src/types.js';
import { dropRule, guidePool } from '../../src/search/guide.js';
import { runSearch } from '../../src/search/run.js';
import type { Evaluator } from '../../src/eval/runner.js';
import { loadPredictor } from '../../src/predict/load.js';
import { methodQuality } from '../../src/predict/verdict.js';
import { MERGEKIT_NAME } from '../../src/merge/config.js';
import { ROOT } from '../helpers/cli.js';

const pred = (a: string, b: string, method: string, predicted: number, half: number): Prediction => ({ a, b, method, predicted, lo: predicted - half, hi: predicted + half, score: 0, drivers: [] });
const pool = [
  pred('x', 'y', 'ties', 0.9, 0.1),
  pred('x', 'z', 'ties', 0.6, 0.1),
  pred('y', 'z', 'ties', 0.62, 0.1),
  pred('x', 'y', 'task_arithmetic', 0.8, 0.05),
  pred('x', 'z', 'task_arithmetic', 0.75, 0.05),
  pred('y', 'z', 'task_arithmetic', 0.7, 0.05),
  // Highest of all, but not a method the search can reproduce in mergekit.
  pred('x', 'y', 'tsv', 0.99, 0.01),
  pred('x', 'z', 'tsv', 0.99, 0.01),
  pred('y', 'z', 'tsv', 0.99, 0.01),
];

describe('guidePool (hand-computed)', () => {
  it('auto picks the candidate with the highest mean predicted pair outcome, and says whether it is separated', () => {
    const g = guidePool(['x', 'y', 'z'], pool, undefined, { method: 'auto', drop: true });
    // task_arithmetic (0.8 + 0.75 + 0.7)/3 = 0.75 > ties (0.9 + 0.6 + 0.62)/3 = 0.70667; tsv is no candidate.
    expect(g.method).toBe('task_arithmetic');
    expect(g.methods.map((m) => m.method)).toEqual(['task_arithmetic', 'ties', 'tsv']);
    expect(g.methods[0].mean).toBeCloseTo(0.75, 14);
    expect(g.methods[1].mean).toBeCloseTo(2.12 / 3, 14);
    expect(g.methods[2].excluded).toMatch(/not searchable/);
    // 0.75 − 0.05 = 0.70 is not above 0.70667 + 0.1: not separated.
    expect(g.separated).toBe(false);
    // Affinities x 0.775, y 0.75, z 0.725; z trails the others' mean 0.7625 by 0.0375 < half-width 0.05: nobody dropped.
    expect(g.experts.map((e) => +e.affinity.toFixed(6))).toEqual([0.775, 0.75, 0.725]);
    expect(g.dropped).toEqual([]);
  });

  it('drops an expert whose pairs are predicted worse than the others’ by more than the interval', () => {
    const g = guidePool(['x', 'y', 'z'], pool, undefined, { method: 'ties', drop: true });
    // ties: x (0.9+0.6)/2 = 0.75, y 0.76, z 0.61; z: others' mean 0.755 − 0.61 = 0.145 > 0.1 → dropped.
    expect(g.method).toBe('ties');
    expect(g.separated).toBeNull();
    expect(g.dropped).toEqual(['z']);
    expect(g.kept).toEqual(['x', 'y']);
    expect(g.experts[2].othersMean).toBeCloseTo(0.755, 14);
    // Without --drop predictor the same numbers are reported but nobody is dropped.
    expect(guidePool(['x', 'y', 'z'], pool, undefined, { method: 'ties', drop: false }).dropped).toEqual([]);
  });

  it('keeps at least the two experts with the highest affinity', () => {
    const ps = [pred('x', 'y', 'ties', 0.9, 0.01), pred('x', 'z', 'ties', 0.9, 0.01), pred('y', 'z', 'ties', 0.1, 0.01)];
    // x 0.9, y 0.5, z 0.5: y and z both trail by 0.2 > 0.01, which would leave one expert.
    const rows = dropRule(['x', 'y', 'z'], ps, 'ties', true);
    expect(rows.map((r) => r.dropped)).toEqual([false, false, true]);
  });

  it('skips methods lacking a requested parameter and methods the predictor withholds', () => {
    const needsDensity = (m: string) => (m === 'ties' ? null : 'has no parameter density');
    expect(guidePool(['x', 'y', 'z'], pool, undefined, { method: 'auto', drop: false, needs: needsDensity }).method).toBe('ties');
    // A predictor whose task_arithmetic model does not beat the mean out of fold: withheld, as in screen's verdict.
    const pf = { methods: { task_arithmetic: { method: 'task_arithmetic', validation: [{ scheme: 'loto', calibrated: { pooledR: 0.1, rmse: 0.2 }, baseline: { rmse: 0.1 } }] } } } as unknown as PredictorFile;
    const g = guidePool(['x', 'y', 'z'], pool, pf, { method: 'auto', drop: false });
    expect(g.method).toBe('ties');
    expect(g.methods.find((m) => m.method === 'task_arithmetic')!.excluded).toMatch(/withheld/);
  });
});

describe('search --method auto --drop predictor on the zoo (shipped predictor)', () => {
  it('records the predictor’s choice, searches the chosen method over the kept experts, and writes its recipe', async () => {
    const Z = path.join(ROOT, 'fixtures/study');
    const file = path.join(ROOT, 'fixtures/predictor/weights-only.json');
    const predictor = await loadPredictor(file);
    const experts = ['digits', 'rot90', 'invert'].map((t) => path.join(Z, 'experts', `${t}.safetensors`));
    const evaluator: Evaluator = async (ctx) => ({ scores: Object.fromEntries(ctx.candidate.tasks.map((t, i) => [t, 0.5 + 0.1 * i])) });
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mergelens-search-guide-'));
    const r = await runSearch({ base: path.join(Z, 'base.safetensors'), experts, method: 'auto', drop: 'predictor', start: 'predictor', predictor: { file, predictor }, evaluator, outDir: dir, budget: 4, popsize: 4, seed: 1, writeBest: false });
    const g = r.summary.guide!;
    expect(g.method.given).toBe('auto');
    // Every method the search could run, with the predictor's own out-of-fold verdict deciding which are withheld.
    for (const m of g.method.candidates) {
      const q = methodQuality(predictor.methods[m.method]);
      if (!['task_arithmetic', 'ties', 'dare', 'dare_ties', 'weight_avg'].includes(m.method)) expect(m.excluded).toMatch(/not searchable/);
      else expect(m.excluded === null, m.method).toBe(q.beatsMean !== false);
    }
    const usable = g.method.candidates.filter((m) => m.excluded === null);
    expect(g.method.chosen).toBe(usable.reduce((a, b) => (b.mean > a.mean ? b : a)).method);
    expect(r.summary.identity.method).toBe(g.method.chosen);
    // Kept = the experts searched; every dropped one trails the others by more than its half-width.
    expect(r.summary.experts).toEqual(['digits', 'rot90', 'invert'].filter((e) => !g.dropped.includes(e)));
    for (const e of g.experts) expect(e.dropped).toBe(g.dropped.includes(e.expert));
    for (const e of g.experts.filter((x) => x.dropped)) expect(e.othersMean - e.affinity).toBeGreaterThan(e.halfWidth);
    // Tasks stay those of the whole pool.
    expect(r.summary.tasks).toEqual(['digits', 'rot90', 'invert']);
    const doc = YAML.parse(readFileSync(path.join(dir, 'recipe.yml'), 'utf8'));
    expect(doc.merge_method).toBe(MERGEKIT_NAME[g.method.chosen]);
    expect(doc.models.length).toBe(r.summary.experts.length);
  }, 120_000);
});
