/**
 * Importers (paper JSON folder, long CSV, wide CSV cells) and the frictions of issue 17 they
 * remove: paper formats refused, missing-value tokens treated differently, inf accepted silently,
 * empty extra_* cells read as 0, the outcome column not nameable.
 */
import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadStudy, parseStudyCsv } from '../../src/predict/load.js';
import { fitPredictors } from '../../src/predict/fit.js';
import { runCli } from '../helpers/cli.js';
import type { PredictorFile } from '../../src/types.js';
import { readFileSync } from 'node:fs';
import { gaussian } from './synthetic.js';
import { tensorRandom } from '../../src/merge/random.js';
import { errorOf } from '../helpers/errors.js';


/**
 * A paper-layout folder: 7 datasets (21 pairs), 3 metrics (one gradient metric null for D1–D2),
 * methods m1 (all merged), m2 (D0–D3 failed), m2_v2 (a rerun without errors).
 * Outcome = 0.8 − 0.1·l2 + 0.05·cos + noise.
 */
function paperFolder(): string {
  const root = mkdtempSync(path.join(tmpdir(), 'ml-paper-'));
  mkdirSync(path.join(root, 'metrics'));
  mkdirSync(path.join(root, 'merges'));
  const ds = Array.from({ length: 7 }, (_, i) => `D${i}`);
  const g = gaussian(tensorRandom(5, 'paper-folder'));
  const names = ['task_vector_l2_distance', 'task_vector_cosine_similarity', 'encoder_gradient_l2_distance'];
  const mats = names.map(() => ds.map(() => ds.map(() => null as number | null)));
  const summaries: Record<string, Record<string, unknown>> = { m1: {}, m2: {}, m2_v2: {} };
  for (let i = 0; i < 7; i++) {
    for (let j = i + 1; j < 7; j++) {
      const v = names.map(() => g());
      v.forEach((x, k) => (mats[k][i][j] = x));
      if (i === 1 && j === 2) mats[2][i][j] = null;
      const key = `${ds[i]}__${ds[j]}`;
      const acc = 0.8 - 0.1 * v[0] + 0.05 * v[1] + 0.01 * g();
      const entry = (a: number) => ({ [ds[i]]: [{ [`acc/test/${ds[i]}`]: a }], [ds[j]]: [{ [`acc/test/${ds[j]}`]: a }], avg: [{ 'acc/test/avg': a, 'normalized_acc/test/avg': a / 0.9 }] });
      summaries.m1[key] = entry(acc);
      summaries.m2[key] = i === 0 && j === 3 ? { error: 'No space left on device' } : entry(acc - 0.05);
      summaries.m2_v2[key] = entry(acc - 0.04);
    }
  }
  const metrics = { model_name: 'toy', datasets: ds, n_datasets: 7, metrics: Object.fromEntries(names.map((n, k) => [n, { matrix: mats[k] }])) };
  writeFileSync(path.join(root, 'metrics', 'pairwise_metrics_N7.json'), JSON.stringify(metrics));
  for (const [m, s] of Object.entries(summaries)) writeFileSync(path.join(root, 'merges', `${m}_all_pairwise_summary_N7.json`), JSON.stringify(s));
  return root;
}

describe('paper importer', () => {
  const folder = paperFolder();

  it('reads the folder: the paper’s pair filter across the run’s methods, null metrics kept missing', async () => {
    const d = await loadStudy(folder, { methods: ['m1', 'm2'] });
    expect(d.methods).toEqual(['m1', 'm2']);
    // D0–D3 failed for m2 → dropped for both methods (20 of 21 pairs kept)
    expect(d.source?.pairs).toEqual({ seen: 21, kept: 20 });
    expect(d.rows.filter((r) => r.method === 'm1')).toHaveLength(20);
    expect(d.rows.some((r) => r.a === 'D0' && r.b === 'D3')).toBe(false);
    const d12 = d.rows.find((r) => r.a === 'D1' && r.b === 'D2' && r.method === 'm1')!;
    expect(d12.metrics.encoder_gradient_l2_distance).toBeNaN();
    expect(d.source?.missingDefault).toBe('drop-rows');
    // no filter: m1 keeps its 21 pairs
    const all = await loadStudy(folder, { methods: ['m1', 'm2'], pairFilter: 'none' });
    expect(all.rows.filter((r) => r.method === 'm1')).toHaveLength(21);
    expect(all.rows.filter((r) => r.method === 'm2')).toHaveLength(20);
  });

  it('outcome: acc/test/avg by default, another avg[0] field on request; renames name=file', async () => {
    const raw = JSON.parse(readFileSync(path.join(folder, 'merges', 'm1_all_pairwise_summary_N7.json'), 'utf8'));
    const d = await loadStudy(folder, { methods: ['m1', 'm2=m2_v2'] });
    expect(d.source?.pairs?.kept).toBe(21);
    for (const r of d.rows.filter((x) => x.method === 'm1')) expect(r.outcome).toBe(raw[`${r.a}__${r.b}`].avg[0]['acc/test/avg']);
    const n = await loadStudy(folder, { methods: ['m1'], outcome: 'normalized_acc/test/avg' });
    for (const r of n.rows) expect(r.outcome).toBe(raw[`${r.a}__${r.b}`].avg[0]['normalized_acc/test/avg']);
    await expect(loadStudy(folder, { methods: ['m1'], outcome: 'acc/nope' })).rejects.toThrow(/no pair has a value for outcome "acc\/nope"/);
    await expect(loadStudy(folder, { methods: ['m3'] })).rejects.toThrow(/no merge summary for method "m3"/);
  });

  it('the metrics file alone finds its summaries; a fit with defaults drops the pair with a null metric (drop-rows)', async () => {
    const d = await loadStudy(path.join(folder, 'metrics', 'pairwise_metrics_N7.json'), { methods: ['m1', 'm2'] });
    const pf = fitPredictors(d, { bootstrap: 0, folds: ['loto'] });
    expect(pf.methods.m1.trainRows).toBe(19);
    expect(pf.methods.m1.missing).toEqual({ policy: 'drop-rows', rowsDropped: 1, featuresDropped: [] });
    expect(pf.warnings!.join('\n')).toContain('m1: dropped 1 of 20 row(s) with missing metric values (--missing drop-rows): D1–D2 (encoder_gradient_l2_distance)');
    // drop-features (the old behaviour) keeps the row and loses the metric
    const f = fitPredictors(d, { bootstrap: 0, folds: ['loto'], missing: 'drop-features' });
    expect(f.methods.m1.trainRows).toBe(20);
    expect(f.methods.m1.features).not.toContain('encoder_gradient_l2_distance');
    expect(f.methods.m1.missing?.featuresDropped).toEqual(['encoder_gradient_l2_distance']);
  });

  it('--exclude families cover the paper’s names; a name that matches nothing is an error', async () => {
    const d = await loadStudy(folder, { methods: ['m1'] });
    const pf = fitPredictors(d, { bootstrap: 0, folds: ['loto'], exclude: ['gradient'] });
    expect(pf.methods.m1.features).toEqual(['task_vector_l2_distance', 'task_vector_cosine_similarity']);
    expect(pf.methods.m1.trainRows).toBe(21); // the null gradient metric is gone, so its pair stays
    expect(() => fitPredictors(d, { bootstrap: 0, exclude: ['activation'] })).toThrow(/--exclude "activation" matches no metric or family in the study/);
    expect(() => fitPredictors(d, { bootstrap: 0, exclude: ['gradient', 'encoder_gradient_l2'] })).toThrow(/"encoder_gradient_l2" matches no metric/);
    // paper names mergelens computes under another id are named with it
    expect(pf.warnings!.join('\n')).toContain('task_vector_l2_distance = tv_l2');
  });

  it('`mergelens fit FOLDER` runs with the defaults and states the verdicts', () => {
    const out = path.join(mkdtempSync(path.join(tmpdir(), 'ml-paper-out-')), 'p.json');
    const r = runCli(['fit', folder, '--methods', 'm1,m2=m2_v2', '--bootstrap', '0', '--folds', 'loto', '-o', out]);
    expect(r.stderr).toContain('import: pair filter (paper): kept 21 of 21 pairs');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/m1: (BEATS|NOT shown better than|WORSE than) the mean \(loto\) — RMSE [\d.]+ vs mean [\d.]+, gain -?[\d.]+ \[-?[\d.]+, -?[\d.]+\]/);
    expect(r.stdout).toMatch(/m1: auto: λ\/λ_max = [\d.e-]+ \(inner LOTO\)/);
    const pf = JSON.parse(readFileSync(out, 'utf8')) as PredictorFile;
    expect(Object.keys(pf.methods).sort()).toEqual(['m1', 'm2']);
    expect(typeof pf.methods.m1.verdict!.beatsMean).toBe('boolean');
    expect(pf.methods.m1.validation[0].perFold!.map((f) => f.heldOut)).toEqual(['D0', 'D1', 'D2', 'D3', 'D4', 'D5', 'D6']);
    const unknown = runCli(['fit', folder, '--exclude', 'gradiant', '-o', out + '2']);
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toContain('--exclude "gradiant" matches no metric or family');
  });

  it('refuses a lone paper summary file with a hint, and non-paper formats with --pair-filter', async () => {
    await expect(loadStudy(path.join(folder, 'merges', 'm1_all_pairwise_summary_N7.json'))).rejects.toThrow(/not a mergelens study/);
    const csv = path.join(folder, 's.csv');
    writeFileSync(csv, 'a,b,method,outcome,tv_l2\nx,y,m,0.5,1\n');
    await expect(loadStudy(csv, { pairFilter: 'paper' })).rejects.toThrow(/--pair-filter applies to the paper/);
  });
});

describe('study cells: one rule for missing and non-finite values', () => {
  it('empty, null, None, NA and nan are missing (NaN); inf is an error naming the cell', () => {
    const d = parseStudyCsv('a,b,method,outcome,m1,m2,m3,m4,m5\nx,y,t,0.5,,null,None,nan,NA\nx,z,t,0.6,1,2,3,4,5\n', 's.csv');
    expect(Object.values(d.rows[0].metrics).every(Number.isNaN)).toBe(true);
    expect(d.rows[1].metrics).toEqual({ m1: 1, m2: 2, m3: 3, m4: 4, m5: 5 });
    for (const inf of ['inf', '-inf', 'Infinity', '+INF']) {
      expect(() => parseStudyCsv(`a,b,method,outcome,m1\nx,y,t,0.5,${inf}\n`, 's.csv')).toThrow(`s.csv: line 2, column 5 ("m1"): infinite value "${inf}"`);
    }
    expect(() => parseStudyCsv('a,b,method,outcome,m1\nx,y,t,null,1\n', 's.csv')).toThrow('line 2, column 4 ("outcome"): missing outcome "null"');
  });

  it('extra_* cells keep missing as missing (not 0)', () => {
    const d = parseStudyCsv('a,b,method,outcome,m1,extra_acc\nx,y,t,0.5,1,\nx,z,t,0.6,2,0.9\n', 's.csv');
    expect(d.rows[0].extra!.acc).toBeNaN();
    expect(d.rows[1].extra!.acc).toBe(0.9);
  });

  it('the outcome column can be named', () => {
    const d = parseStudyCsv('a,b,method,acc,outcome_note,m1\nx,y,t,0.5,3,1\n', 's.csv', { outcome: 'acc' });
    expect(d.rows[0].outcome).toBe(0.5);
    expect(d.outcome).toBe('acc');
    expect(d.metricIds).toEqual(['outcome_note', 'm1']);
  });

  it('quoted fields with commas and newlines keep their line numbers (csv-parse)', () => {
    const e = errorOf(() => parseStudyCsv('a,b,method,outcome,m1\n"x\ny",z,t,0.5,1\nx,z,t,0.5,bad\n', 's.csv'));
    expect(e.message).toContain('s.csv: line 4, column 5 ("m1"): not a number: "bad"');
  });
});

describe('long-format CSV', () => {
  const csv = [
    'a,b,method,metric,value',
    'p,q,,tv_l2,1.5',
    'q,p,,tv_cosine,0.2', // reversed pair: same pair
    'p,q,ties,outcome,0.8',
    'p,q,avg,outcome,0.7',
    'p,q,ties,extra_acc_a,',
    'p,r,,tv_l2,2.5',
    'p,r,,tv_cosine,None',
    'p,r,ties,outcome,0.6',
    'p,r,ties,sign_conflict,0.1', // method-specific metric
  ].join('\n');

  it('builds one row per (pair, method) with an outcome; shared metrics apply to every method', () => {
    const d = parseStudyCsv(csv, 'long.csv');
    expect(d.source?.kind).toBe('long-csv');
    expect(d.metricIds).toEqual(['tv_l2', 'tv_cosine', 'sign_conflict']);
    expect(d.rows).toHaveLength(3);
    const pqTies = d.rows.find((r) => r.b === 'q' && r.method === 'ties')!;
    expect(pqTies).toMatchObject({ a: 'p', outcome: 0.8, metrics: { tv_l2: 1.5, tv_cosine: 0.2 } });
    expect(pqTies.metrics.sign_conflict).toBeNaN();
    expect(pqTies.extra!.acc_a).toBeNaN();
    expect(d.rows.find((r) => r.b === 'q' && r.method === 'avg')!.metrics.tv_l2).toBe(1.5);
    const pr = d.rows.find((r) => r.b === 'r')!;
    expect(pr.metrics.tv_cosine).toBeNaN();
    expect(pr.metrics.sign_conflict).toBe(0.1);
  });

  it('names the outcome metric, refuses duplicates and infinities by line', () => {
    const d = parseStudyCsv(csv.replaceAll(',outcome,', ',acc,'), 'long.csv', { outcome: 'acc' });
    expect(d.rows).toHaveLength(3);
    expect(() => parseStudyCsv(csv + '\np,q,,tv_l2,1', 'long.csv')).toThrow('long.csv: line 11: tv_l2 of p–q already given on line 2');
    expect(() => parseStudyCsv(csv + '\np,s,,tv_l2,inf', 'long.csv')).toThrow('line 11, column 5 ("value"): infinite value "inf"');
    expect(() => parseStudyCsv('a,b,method,metric,value\np,q,,tv_l2,1\n', 'long.csv')).toThrow(/no outcome rows/);
  });
});
