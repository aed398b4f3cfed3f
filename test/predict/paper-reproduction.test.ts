/**
 * Reproduce "Demystifying Mergeability" (arXiv 2601.22285) on its own published ViT-B/16 data:
 * the importer must rebuild the paper's pairs (its filter) and outcome, and mergelens's default fit
 * must rank pairs at least as well as the paper in leave-one-task-out validation (mean per-fold r).
 * The paper's numbers are read from its released result files, never typed in here.
 *
 * Runs LOTO only and no bootstrap: neither changes the LOTO numbers, they only save time. Every
 * model setting (λ, missing values, scaling) is mergelens's default.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadStudy } from '../../src/predict/load.js';
import { fitPredictors } from '../../src/predict/fit.js';
import { readPaperResults } from '../../src/predict/import/paper-results.js';
import type { PredictorFile, StudyDataset } from '../../src/types.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const DATA = path.resolve(HERE, '../../../shared/validation/demystifying-vit-b16');
const RESULTS = path.join(DATA, 'paper-results');

const RUNS = [
  {
    name: 'v2 (final paper)',
    methods: ['weight_avg', 'arithmetic', 'tsv', 'ties=ties_v2'],
    // The final paper fits 28 metrics: right_subspace_overlap is left out (README of the data).
    exclude: ['right_subspace_overlap'],
    results: 'v2_adamw_loto_cv_l1_lambda1.0_all_methods.json',
    checked: ['weight_avg', 'arithmetic', 'tsv', 'ties'],
    pairs: 185,
  },
  {
    name: 'v1 (earlier version)',
    methods: ['weight_avg', 'arithmetic', 'tsv', 'isotropic'],
    exclude: [],
    results: 'v1_loto_cv_l1_lambda1.0_all_methods.json',
    checked: ['isotropic'],
    pairs: 179,
  },
];

describe.skipIf(!existsSync(DATA))('paper reproduction on ../shared/validation/demystifying-vit-b16', () => {
  for (const run of RUNS) {
    describe(run.name, () => {
      let study: StudyDataset;
      let pf: PredictorFile;
      let paper: Awaited<ReturnType<typeof readPaperResults>>;

      it('imports the paper’s pairs and outcome', async () => {
        study = await loadStudy(DATA, { methods: run.methods });
        paper = await readPaperResults(path.join(RESULTS, run.results));
        // outcome = avg[0]["acc/test/avg"] of each method's summary, read here independently
        for (const spec of run.methods) {
          const [name, file = name] = spec.split('=');
          const summary = JSON.parse(readFileSync(path.join(DATA, 'merges', `${file}_all_pairwise_summary_N20.json`), 'utf8'));
          const rows = study.rows.filter((r) => r.method === name);
          expect(rows.length).toBeGreaterThan(150);
          for (const r of rows) expect(r.outcome).toBe(summary[`${r.a}__${r.b}`].avg[0]['acc/test/avg']);
        }
        // TIES v2 also against its independent transcription
        if (run.methods.includes('ties=ties_v2')) {
          const txt = readFileSync(path.join(DATA, 'merges', 'ties_v2_acc_avg.txt'), 'utf8');
          const acc = new Map(txt.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => [l.split(' ')[0], Number(l.split(' ')[1])]));
          for (const r of study.rows.filter((x) => x.method === 'ties')) expect(r.outcome).toBe(acc.get(`${r.a}__${r.b}`));
        }
      });

      it('fits with the defaults: the paper’s pair counts and folds, and mean fold r ≥ the paper’s', () => {
        pf = fitPredictors(study, { exclude: run.exclude, folds: ['loto'], bootstrap: 0 });
        for (const [m, mp] of Object.entries(pf.methods)) {
          const p = paper.methods[m];
          expect(mp.trainRows, m).toBe(run.pairs);
          expect(p.pairs, m).toBe(run.pairs);
          const loto = mp.validation[0];
          // the same 20 LOTO folds, with the paper's train/validation sizes per held-out task
          const raw = JSON.parse(readFileSync(path.join(RESULTS, run.results), 'utf8'));
          const folds = (raw.methods ?? raw)[m].fold_results as { held_out_task: string; n_train_pairs: number; n_val_pairs: number }[];
          expect(loto.perFold!.map((f) => [f.heldOut, f.trainRows, f.valRows]).sort()).toEqual(folds.map((f) => [f.held_out_task, f.n_train_pairs, f.n_val_pairs]).sort());
          expect(mp.lambdaSelection?.mode).toBe('auto');
        }
        for (const m of run.checked) {
          const ours = pf.methods[m].validation[0].meanFoldR;
          expect(ours, `${m}: mergelens ${ours.toFixed(3)} vs paper ${paper.methods[m].meanFoldR.toFixed(3)}`).toBeGreaterThanOrEqual(paper.methods[m].meanFoldR);
        }
      });

      it('stores per-fold r and the beats-the-mean verdict in the predictor', () => {
        for (const mp of Object.values(pf.methods)) {
          const v = mp.validation[0];
          const rs = v.perFold!.map((f) => f.r).filter((r): r is number => r !== null);
          expect(v.meanFoldR).toBeCloseTo(rs.reduce((s, r) => s + r, 0) / rs.length, 12);
          expect(mp.verdict!.scheme).toBe('loto');
          expect(mp.verdict!.gain).toBeCloseTo(v.baseline.rmse - v.calibrated.rmse, 12);
          expect(mp.verdict!.beatsMean).toBe(mp.verdict!.lo > 0);
          expect(mp.verdict!.lo).toBeLessThanOrEqual(mp.verdict!.gain);
          expect(mp.verdict!.hi).toBeGreaterThanOrEqual(mp.verdict!.gain);
        }
      });
    });
  }
}, 600_000);
