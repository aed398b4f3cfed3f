/**
 * The budgeted sweep's learning curve, measured on a complete study (every pair × method
 * evaluated): for each budget N, pretend only N merges were evaluated — chosen by
 * selectInformative, or at random with the same per-method shares — fit the predictors on them
 * exactly as `sweep` does (fitPredictors, calibrated elastic net per method), predict the merges
 * left out and score those predictions against their measured outcomes: Pearson r and RMSE
 * pooled over every held-out merge, and the mean within-method r (how well each method's
 * predictor ranks its pairs). The reference for "all evaluated" is the out-of-fold prediction of
 * the full study (nothing is left to predict there otherwise): 5-fold over merges (like a budget:
 * held-out merges of seen experts) and leave-one-task-out (merges of an unseen expert).
 * Pure: a dataset in, numbers out.
 */
import type { StudyDataset, StudyRow } from '../types.js';
import { fitPredictors } from '../predict/fit.js';
import { predictMethod } from '../predict/predict.js';
import { crossValidate } from '../predict/cv.js';
import { designFromRows } from '../predict/design.js';
import { isExcluded } from '../predict/families.js';
import { mean, pearson, rmse, std } from '../predict/stats.js';
import { selectInformative, selectRandom, type Pick } from './select.js';

export interface CurveOptions {
  budgets: number[];
  /** Random selections per budget (seeds 1 … n). Default 10. */
  randomSeeds?: number;
  /** Metric ids or families left out (default: gradient, activation — a sweep computes weights-only metrics). */
  exclude?: string[];
  seed?: number;
}

export interface Score {
  /** Pooled Pearson r over held-out merges. */
  r: number;
  rmse: number;
  /** Mean over methods of the within-method r. */
  methodR: number;
}

export interface CurvePoint {
  budget: number;
  fraction: number;
  heldOut: number;
  selected: Score;
  random: Spread;
  /** Both strategies scored on the merges held out by both (per random seed; mean ± sd over seeds). */
  common: { selected: Spread; random: Spread };
}

export interface Spread {
  mean: Score;
  sd: Score;
  runs: number;
}

export interface Curve {
  total: number;
  pairs: number;
  methods: string[];
  features: string[];
  points: CurvePoint[];
  /** Every merge evaluated: out-of-fold predictions, 5-fold over merges and leave-one-task-out. */
  all: { kfold: Score; loto: Score };
}

const key = (a: string, b: string) => `${a}\0${b}`;

/** The budgets `sweep-curve` and the study's report use: these shares of every merge. */
export const DEFAULT_CURVE_FRACTIONS = [0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.67];

/** DEFAULT_CURVE_FRACTIONS of `total` merges, rounded (each in [1, total − 1]). */
export function defaultBudgets(total: number): number[] {
  return [...new Set(DEFAULT_CURVE_FRACTIONS.map((f) => Math.min(total - 1, Math.max(1, Math.round(f * total)))))];
}

function scoreOf(pred: number[], truth: number[], method: string[]): Score {
  const byMethod = new Map<string, { p: number[]; t: number[] }>();
  pred.forEach((p, i) => {
    const g = byMethod.get(method[i]) ?? { p: [], t: [] };
    g.p.push(p);
    g.t.push(truth[i]);
    byMethod.set(method[i], g);
  });
  const rs = [...byMethod.values()].filter((g) => g.t.length >= 3 && std(g.t) > 0).map((g) => (std(g.p) > 0 ? pearson(g.p, g.t) : 0));
  return { r: std(pred) > 0 ? pearson(pred, truth) : 0, rmse: rmse(pred, truth), methodR: rs.length ? mean(rs) : NaN };
}

export function learningCurve(ds: StudyDataset, opts: CurveOptions): Curve {
  const exclude = opts.exclude ?? ['gradient', 'activation'];
  const seed = opts.seed ?? 0;
  const features = ds.metricIds.filter((id) => !isExcluded(id, exclude));
  const pairKeys = [...new Set(ds.rows.map((r) => key(r.a, r.b)))];
  const pairIndex = new Map(pairKeys.map((k, i) => [k, i]));
  const experts = [...new Set(ds.rows.flatMap((r) => [r.a, r.b]))];
  const pairs = pairKeys.map((k) => k.split('\0').map((e) => experts.indexOf(e)) as [number, number]);
  const firstRow = new Map<string, StudyRow>();
  for (const r of ds.rows) if (!firstRow.has(key(r.a, r.b))) firstRow.set(key(r.a, r.b), r);
  const pairFeatures = pairKeys.map((k) => features.map((id) => firstRow.get(k)!.metrics[id] ?? NaN));
  const methods = [...new Set(ds.rows.map((r) => r.method))];
  const rowKey = (r: StudyRow) => `${pairIndex.get(key(r.a, r.b))}\0${r.method}`;

  /** Fit on the picked merges; predictions for every other merge, by row key. */
  const predictRest = (picks: Pick[]): Map<string, number> => {
    const chosen = new Set(picks.map((p) => `${p.pair}\0${p.method}`));
    const train = ds.rows.filter((r) => chosen.has(rowKey(r)));
    let fitted: ReturnType<typeof fitPredictors>['methods'] = {};
    try {
      fitted = fitPredictors({ ...ds, rows: train }, { features, folds: [], bootstrap: 0, seed }).methods;
    } catch {
      // no method has the 4 rows a fit needs: every prediction falls back to a mean below
    }
    const out = new Map<string, number>();
    for (const r of ds.rows) {
      if (chosen.has(rowKey(r))) continue;
      const m = fitted[r.method];
      if (m) out.set(rowKey(r), predictMethod(m, { a: r.a, b: r.b, values: r.metrics }).predicted);
      else {
        const same = train.filter((t) => t.method === r.method); // too few rows to fit: the method's mean
        out.set(rowKey(r), mean((same.length ? same : train).map((t) => t.outcome)));
      }
    }
    return out;
  };
  const scoreOn = (pred: Map<string, number>, keep: (k: string) => boolean = () => true): Score => {
    const rows = ds.rows.filter((r) => pred.has(rowKey(r)) && keep(rowKey(r)));
    return scoreOf(rows.map((r) => pred.get(rowKey(r))!), rows.map((r) => r.outcome), rows.map((r) => r.method));
  };
  const summarise = (runs: Score[]) => {
    const agg = (f: (s: Score) => number) => ({ m: mean(runs.map(f)), sd: runs.length > 1 ? std(runs.map(f), 1) : 0 });
    const r = agg((s) => s.r);
    const e = agg((s) => s.rmse);
    const mr = agg((s) => s.methodR);
    return { mean: { r: r.m, rmse: e.m, methodR: mr.m }, sd: { r: r.sd, rmse: e.sd, methodR: mr.sd }, runs: runs.length };
  };

  const points: CurvePoint[] = [];
  for (const budget of opts.budgets) {
    const base = { pairs, methods, experts: experts.length, budget };
    const sel = predictRest(selectInformative({ ...base, features: pairFeatures }));
    const randomRuns = Array.from({ length: opts.randomSeeds ?? 10 }, (_, s) => predictRest(selectRandom(base, s + 1)));
    // Each strategy leaves out different merges; on the merges both left out the comparison is like for like.
    const common = randomRuns.map((rnd) => {
      const both = (k: string) => sel.has(k) && rnd.has(k);
      return { selected: scoreOn(sel, both), random: scoreOn(rnd, both) };
    });
    points.push({
      budget,
      fraction: budget / ds.rows.length,
      heldOut: sel.size,
      selected: scoreOn(sel),
      random: summarise(randomRuns.map((p) => scoreOn(p))),
      common: { selected: summarise(common.map((c) => c.selected)), random: summarise(common.map((c) => c.random)) },
    });
  }

  // All evaluated: out-of-fold predictions (5-fold over merges; and leave-one-task-out, which
  // predicts merges of an expert never seen), per method on the features the full fit keeps.
  const full = fitPredictors(ds, { features, folds: [], bootstrap: 0, seed });
  const outOfFold = (scheme: 'kfold' | 'loto'): Score => {
    const pred: number[] = [];
    const truth: number[] = [];
    const meth: string[] = [];
    for (const [method, mp] of Object.entries(full.methods)) {
      const rows = ds.rows.filter((r) => r.method === method);
      const X = designFromRows(rows.map((r) => mp.features.map((id) => r.metrics[id])), mp.features.length);
      const cv = crossValidate(X, rows.map((r) => r.outcome), rows.map((r) => ({ a: r.a, b: r.b })), { scheme, k: 5, seed });
      for (const p of cv.predictions) {
        pred.push(p.calibrated);
        truth.push(p.truth);
        meth.push(method);
      }
    }
    return scoreOf(pred, truth, meth);
  };
  return { total: ds.rows.length, pairs: pairKeys.length, methods, features, points, all: { kfold: outOfFold('kfold'), loto: outOfFold('loto') } };
}

const f3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3).replace(/^-(0\.0+)$/, '$1') : '—');
const pm = (m: number, sd: number) => `${f3(m)} ± ${f3(sd)}`;

/** The curve as markdown tables (docs/sweep.md, the report). */
export function curveToMarkdown(c: Curve): string {
  const runs = c.points[0]?.random.runs ?? 0;
  const lines = [
    `Held-out merges (everything not evaluated): selected design vs random selection (${runs} seeds, mean ± sd).`,
    '',
    '| evaluated merges | share | r selected | r random | RMSE selected | RMSE random | within-method r selected | within-method r random |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const p of c.points) {
    lines.push(
      `| ${p.budget} | ${(p.fraction * 100).toFixed(0)}% | ${f3(p.selected.r)} | ${pm(p.random.mean.r, p.random.sd.r)} | ${f3(p.selected.rmse)} | ${pm(p.random.mean.rmse, p.random.sd.rmse)} | ${f3(p.selected.methodR)} | ${pm(p.random.mean.methodR, p.random.sd.methodR)} |`,
    );
  }
  lines.push(`| all ${c.total}, 5-fold out-of-fold | 100% | ${f3(c.all.kfold.r)} | | ${f3(c.all.kfold.rmse)} | | ${f3(c.all.kfold.methodR)} | |`);
  lines.push(`| all ${c.total}, leave-one-task-out | 100% | ${f3(c.all.loto.r)} | | ${f3(c.all.loto.rmse)} | | ${f3(c.all.loto.methodR)} | |`);
  lines.push(
    '',
    'Like for like: both strategies scored only on the merges that both left out (per random seed; mean ± sd over seeds).',
    '',
    '| evaluated merges | r selected | r random | RMSE selected | RMSE random |',
    '|---:|---:|---:|---:|---:|',
  );
  for (const p of c.points) {
    const s = p.common.selected;
    const r = p.common.random;
    lines.push(`| ${p.budget} | ${pm(s.mean.r, s.sd.r)} | ${pm(r.mean.r, r.sd.r)} | ${pm(s.mean.rmse, s.sd.rmse)} | ${pm(r.mean.rmse, r.sd.rmse)} |`);
  }
  return lines.join('\n') + '\n';
}
