/**
 * Fitting the group models of a predictor file from a study's groups (StudyDataset.groups).
 *
 * Per method and per outcome (held-in; held-out when the groups carry it): the calibrated elastic
 * net (elastic-net.ts, λ by inner CV, one-standard-error rule) on the group features of
 * group-features.ts, its extrapolation domain (domain-guard.ts), and its validation:
 *
 *   leave one expert out — for each expert e, the model is refitted on the groups that do not
 *   contain e and predicts the groups that do. A group is validated once per expert in it. No
 *   outcome of a validated group, nor of any group or pair sharing its held-out expert, is seen
 *   by the model that predicts it; the validation group's features use pair metrics involving e,
 *   which are inputs (measurable without merging), not outcomes.
 *
 * Baselines over the same folds: the training-fold mean outcome, and the naive "mean of the pair
 * predictions": the method's pair model (same metrics, elastic net) fitted on the fold's
 * training pairs (pairs without e) predicts each pair of the group, and the group gets the mean.
 * Pure (no I/O).
 */
import type { GroupMethodPredictor, GroupPredictorSection, GroupRow, GroupValidation, PairMetrics, ProgressSink, StudyDataset, StudyRow } from '../types.js';
import { designFromRows, subsetRows, subsetVec, type Design } from './design.js';
import { fitElasticNet, predictElasticNet } from './elastic-net.js';
import { fitDomain } from './domain-guard.js';
import { mae, mean, pearson, rmse } from './stats.js';
import type { Fold } from './folds.js';
import { checkExclusions, isExcluded } from './families.js';
import { groupFeatureNames, groupFeatureVector, missingPairs, pairIndex, pairKey, pairsOfGroup } from './group-features.js';

export const GROUP_SCHEME = 'leave one expert out: for each expert, fit on the groups without it, validate on the groups with it (each group validated once per expert); the mean-of-pairs baseline fits the pair model on the same fold\'s pairs without that expert';

/** Fewer training groups than this and a method's group model is skipped. */
const MIN_GROUPS = 6;

export interface GroupFitOptions {
  /** Leave out these metric ids or families (as `fit --exclude`). */
  exclude?: string[];
  /** Use only these metric ids. */
  features?: string[];
  methods?: string[];
  l1Ratio?: number;
  seed?: number;
  /** Pair metrics to build group features from (default: the study's rows; a sweep passes its metrics report's pairs, rows hold evaluated pairs only). */
  pairMetrics?: PairMetrics[];
  onProgress?: ProgressSink;
}

/** Leave-one-expert-out folds over groups: train without expert e, validate on groups with e. */
export function leaveOneExpertOutFolds(groups: readonly (readonly string[])[]): Fold[] {
  const experts = [...new Set(groups.flat())].sort();
  return experts.map((e) => {
    const train: number[] = [];
    const val: number[] = [];
    groups.forEach((g, i) => (g.includes(e) ? val : train).push(i));
    return { label: e, train, val };
  });
}

/** A design's columns kept at `keep`. */
const pickCols = (d: Design, keep: number[]): Design => ({ n: d.n, cols: keep.map((j) => d.cols[j]) });

/** Columns whose training values are not all equal (relative tolerance, as fit.ts). */
function varyingColumns(d: Design): number[] {
  const out: number[] = [];
  d.cols.forEach((c, j) => {
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of c) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    if (hi - lo > 1e-12 * Math.max(1, Math.abs(hi), Math.abs(lo))) out.push(j);
  });
  return out;
}

interface PairData {
  X: Design;
  y: Float64Array;
  pairs: { a: string; b: string }[];
  /** Row of each pair key. */
  row: Map<string, number>;
}

function pairData(rows: StudyRow[], metrics: string[]): PairData | null {
  const ok = rows.filter((r) => metrics.every((id) => Number.isFinite(r.metrics[id])));
  if (ok.length < 4) return null;
  const row = new Map<string, number>();
  ok.forEach((r, i) => row.set(pairKey(r.a, r.b), i));
  return {
    X: designFromRows(ok.map((r) => metrics.map((id) => r.metrics[id])), metrics.length),
    y: Float64Array.from(ok, (r) => r.outcome),
    pairs: ok.map((r) => ({ a: r.a, b: r.b })),
    row,
  };
}

const scores = (pred: number[], truth: number[]) => ({ r: pearson(pred, truth), rmse: rmse(pred, truth), mae: mae(pred, truth) });

/**
 * Leave-one-expert-out validation of one method's group model on (X, y), with both baselines.
 * `pairs` (the method's pair rows) enables the mean-of-pairs baseline.
 */
export function validateGroupModel(
  X: Design,
  y: Float64Array,
  groups: readonly (readonly string[])[],
  pairs: PairData | null,
  opts: { l1Ratio?: number; seed?: number } = {},
): GroupValidation & { predictions: { group: number; fold: string; truth: number; model: number; meanOfPairs: number; mean: number }[] } {
  const predictions: { group: number; fold: string; truth: number; model: number; meanOfPairs: number; mean: number }[] = [];
  let folds = 0;
  for (const f of leaveOneExpertOutFolds(groups)) {
    if (f.train.length < 3 || f.val.length === 0) continue;
    folds++;
    const Xt = subsetRows(X, f.train);
    const keep = varyingColumns(Xt);
    const yt = subsetVec(y, f.train);
    const model = fitElasticNet(pickCols(Xt, keep), yt, { l1Ratio: opts.l1Ratio, seed: opts.seed });
    const pred = predictElasticNet(model, pickCols(subsetRows(X, f.val), keep));
    // The pair model of the same fold: pairs without the held-out expert only.
    let pairPred: ((a: string, b: string) => number) | null = null;
    if (pairs) {
      const tr = pairs.pairs.map((p, i) => (p.a === f.label || p.b === f.label ? -1 : i)).filter((i) => i >= 0);
      if (tr.length >= 3) {
        const pm = fitElasticNet(subsetRows(pairs.X, tr), subsetVec(pairs.y, tr), { l1Ratio: opts.l1Ratio, seed: opts.seed });
        const all = predictElasticNet(pm, pairs.X);
        pairPred = (a, b) => {
          const i = pairs.row.get(pairKey(a, b));
          return i === undefined ? NaN : all[i];
        };
      }
    }
    const base = mean(yt);
    f.val.forEach((gi, k) => {
      const mop = pairPred ? mean(pairsOfGroup(groups[gi]).map(([a, b]) => pairPred!(a, b))) : NaN;
      predictions.push({ group: gi, fold: f.label, truth: y[gi], model: pred[k], meanOfPairs: mop, mean: base });
    });
  }
  const truth = predictions.map((p) => p.truth);
  const withPairs = predictions.filter((p) => Number.isFinite(p.meanOfPairs));
  return {
    scheme: 'leave-one-expert-out',
    folds,
    validated: predictions.length,
    model: scores(predictions.map((p) => p.model), truth),
    meanOfPairs: withPairs.length ? { ...scores(withPairs.map((p) => p.meanOfPairs), withPairs.map((p) => p.truth)), validated: withPairs.length } : null,
    mean: { rmse: rmse(predictions.map((p) => p.mean), truth), mae: mae(predictions.map((p) => p.mean), truth) },
    predictions,
  };
}

/** Fit one method's group model for one target. */
export function fitGroupMethod(
  method: string,
  target: 'held-in' | 'held-out',
  groups: readonly (readonly string[])[],
  outcomes: Float64Array,
  features: { names: string[]; rows: Float64Array[] },
  pairs: PairData | null,
  outcomeDescription: string,
  opts: { l1Ratio?: number; seed?: number } = {},
): GroupMethodPredictor {
  const full = designFromRows(features.rows, features.names.length);
  const keep = varyingColumns(full);
  const fit = fitElasticNet(pickCols(full, keep), outcomes, { l1Ratio: opts.l1Ratio ?? 0.5, seed: opts.seed ?? 0 });
  const { predictions: _p, ...validation } = validateGroupModel(full, outcomes, groups, pairs, opts);
  // Only the features the model uses are stored (and checked by the domain guard): with 4 aggregates
  // per metric most coefficients are zero, and a p × p domain matrix per method would dominate the file.
  const active = fit.coef.map((c, j) => (c !== 0 ? j : -1)).filter((j) => j >= 0);
  const calibrated = { ...fit, mean: active.map((j) => fit.mean[j]), std: active.map((j) => fit.std[j]), coef: active.map((j) => fit.coef[j]) };
  const rows = features.rows.map((r) => active.map((j) => r[keep[j]]));
  return {
    method,
    target,
    features: active.map((j) => features.names[keep[j]]),
    calibrated,
    trainRows: groups.length,
    ks: [...new Set(groups.map((g) => g.length))].sort((a, b) => a - b),
    validation,
    domain: fitDomain(rows, outcomes, calibrated, outcomeDescription),
  };
}

/**
 * The group section of a predictor file, or undefined when the study has no groups. Warnings
 * (dropped metrics, groups or methods) go to `warnings`.
 */
export function fitGroupPredictors(dataset: StudyDataset, opts: GroupFitOptions = {}): GroupPredictorSection | undefined {
  const all = dataset.groups ?? [];
  if (all.length === 0) return undefined;
  const warnings: string[] = [];
  const exclude = opts.exclude ?? [];
  checkExclusions(exclude, opts.features ?? dataset.metricIds);
  const index = pairIndex(opts.pairMetrics ?? dataset.rows);
  const usable: GroupRow[] = [];
  const noPairs = all.filter((g) => missingPairs(g.experts, index).length > 0);
  if (noPairs.length) {
    const [a, b] = missingPairs(noPairs[0].experts, index)[0];
    warnings.push(`groups: ${noPairs.length} group(s) skipped, the study has no metrics for some of their pairs (e.g. ${a}–${b})`);
  }
  for (const g of all) if (!noPairs.includes(g)) usable.push(g);
  // Metrics every pair of every usable group has (drop-features, as `fit` does for pairs by default).
  const candidates = (opts.features ?? dataset.metricIds).filter((id) => !isExcluded(id, exclude));
  const needed = new Set(usable.flatMap((g) => pairsOfGroup(g.experts).map(([a, b]) => pairKey(a, b))));
  const metrics = candidates.filter((id) => [...needed].every((k) => Number.isFinite(index.get(k)![id])));
  const lacking = candidates.filter((id) => !metrics.includes(id));
  if (lacking.length) warnings.push(`groups: dropped metric(s) missing for some group pair: ${lacking.join(', ')}`);
  const names = groupFeatureNames(metrics);
  const methods = [...new Set(usable.map((g) => g.method))].filter((m) => !opts.methods || opts.methods.includes(m)).sort();
  const section: GroupPredictorSection = {
    metrics,
    scheme: GROUP_SCHEME,
    fittedOn: `${dataset.description} — ${usable.length} group merge(s), k ∈ {${[...new Set(usable.map((g) => g.experts.length))].sort((a, b) => a - b).join(', ')}}`,
    outcome: dataset.groupOutcome ?? dataset.outcome,
    methods: {},
    warnings,
  };
  const hasHeldOut = usable.some((g) => Number.isFinite(g.heldOut));
  if (hasHeldOut) {
    section.heldOut = {};
    section.heldOutDescription = dataset.heldOutDescription ?? 'held-out outcome';
  }
  methods.forEach((method, i) => {
    opts.onProgress?.({ phase: 'fit groups', done: i, total: methods.length, unit: 'items', detail: method });
    const gs = usable.filter((g) => g.method === method);
    const pairs = pairData(dataset.rows.filter((r) => r.method === method), metrics);
    // Pair rows measure held-in outcomes only: the mean-of-pairs baseline is defined for the held-in target.
    const fitOne = (target: 'held-in' | 'held-out', rows: GroupRow[], y: Float64Array, description: string) => {
      if (rows.length < MIN_GROUPS) {
        warnings.push(`groups: ${method} (${target}) skipped, only ${rows.length} group(s) (need ≥ ${MIN_GROUPS})`);
        return undefined;
      }
      const experts = rows.map((g) => g.experts);
      const feats = { names, rows: experts.map((e) => groupFeatureVector(e, metrics, index)) };
      return fitGroupMethod(method, target, experts, y, feats, target === 'held-in' ? pairs : null, description, { l1Ratio: opts.l1Ratio, seed: opts.seed });
    };
    const heldIn = fitOne('held-in', gs, Float64Array.from(gs, (g) => g.outcome), section.outcome);
    if (heldIn) section.methods[method] = heldIn;
    if (section.heldOut) {
      const ho = gs.filter((g) => Number.isFinite(g.heldOut));
      const model = fitOne('held-out', ho, Float64Array.from(ho, (g) => g.heldOut!), section.heldOutDescription!);
      if (model) section.heldOut[method] = model;
    }
  });
  opts.onProgress?.({ phase: 'fit groups', done: methods.length, total: methods.length, unit: 'items' });
  if (Object.keys(section.methods).length === 0) {
    warnings.push('groups: no method has enough groups for a group model');
    return { ...section, methods: {} };
  }
  return section;
}
