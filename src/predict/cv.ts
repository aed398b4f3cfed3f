/**
 * Cross-validation of one method's two models: out-of-fold predictions and the summary the
 * predictor file reports (ValidationSummary).
 *
 * Per fold both models are refitted on the training rows only (scalers included), then
 * predict the validation rows. Reported:
 *  - paper model: mean per-fold Pearson r (the paper's headline number), pooled r and Spearman
 *    of all out-of-fold scores. A fold whose scores are constant (every coefficient cut to 0)
 *    counts as r = 0 — it ranks nothing; folds with < 3 validation rows or constant outcomes
 *    have no defined r and are left out of the mean.
 *  - calibrated model: pooled r, Spearman, MAE, RMSE of out-of-fold predictions.
 *  - baseline: the training-fold mean outcome, scored like the calibrated model.
 */
import type { ValidationSummary } from '../types.js';
import type { Design } from './design.js';
import { subsetRows, subsetVec } from './design.js';
import { fitPaperModel, paperScore } from './pearson-l1.js';
import { fitElasticNet, predictElasticNet } from './elastic-net.js';
import type { Fold } from './folds.js';
import { kfoldFolds, lotoFolds } from './folds.js';
import { mae, mean, pearson, rmse, spearman, std } from './stats.js';

export { lotoFolds, kfoldFolds } from './folds.js';
export type { Fold } from './folds.js';

export interface CvOptions {
  scheme: 'loto' | 'kfold';
  /** k for k-fold (default 5). */
  k?: number;
  seed?: number;
  lambda?: number;
  l1Ratio?: number;
}

export interface OutOfFold {
  row: number;
  fold: string;
  truth: number;
  paper: number;
  calibrated: number;
  baseline: number;
}

export interface CvResult {
  summary: ValidationSummary;
  predictions: OutOfFold[];
  /** Per-fold paper-model r (NaN where undefined). */
  foldR: { fold: string; r: number }[];
}

function foldPearson(score: Float64Array, truth: Float64Array): number {
  if (truth.length < 3 || !(std(truth) > 0)) return NaN;
  if (!(std(score) > 0)) return 0;
  return pearson(score, truth);
}

export function crossValidate(
  X: Design,
  y: ArrayLike<number>,
  pairs: readonly { a: string; b: string }[],
  opts: CvOptions,
): CvResult {
  const seed = opts.seed ?? 0;
  const folds: Fold[] = opts.scheme === 'loto' ? lotoFolds(pairs) : kfoldFolds(X.n, opts.k ?? 5, seed);
  const predictions: OutOfFold[] = [];
  const foldR: { fold: string; r: number }[] = [];
  let used = 0;
  for (const f of folds) {
    // A model needs a few training rows to mean anything; skip degenerate folds.
    if (f.train.length < 3 || f.val.length === 0) continue;
    used++;
    const Xt = subsetRows(X, f.train);
    const yt = subsetVec(y, f.train);
    const Xv = subsetRows(X, f.val);
    const yv = subsetVec(y, f.val);
    const paper = fitPaperModel(Xt, yt, opts.lambda ?? 1);
    const cal = fitElasticNet(Xt, yt, { l1Ratio: opts.l1Ratio, seed });
    const calPred = predictElasticNet(cal, Xv);
    const base = mean(yt);
    const scores = new Float64Array(f.val.length);
    const row = new Float64Array(X.cols.length);
    f.val.forEach((ri, k) => {
      for (let j = 0; j < row.length; j++) row[j] = Xv.cols[j][k];
      scores[k] = paperScore(paper, row);
      predictions.push({ row: ri, fold: f.label, truth: yv[k], paper: scores[k], calibrated: calPred[k], baseline: base });
    });
    foldR.push({ fold: f.label, r: foldPearson(scores, yv) });
  }
  const truth = predictions.map((p) => p.truth);
  const paperAll = predictions.map((p) => p.paper);
  const calAll = predictions.map((p) => p.calibrated);
  const baseAll = predictions.map((p) => p.baseline);
  const defined = foldR.map((f) => f.r).filter((r) => Number.isFinite(r));
  const summary: ValidationSummary = {
    scheme: opts.scheme,
    folds: used,
    meanFoldR: mean(defined),
    pooledR: pearson(paperAll, truth),
    spearman: spearman(paperAll, truth),
    calibrated: {
      pooledR: pearson(calAll, truth),
      spearman: spearman(calAll, truth),
      mae: mae(calAll, truth),
      rmse: rmse(calAll, truth),
    },
    baseline: { mae: mae(baseAll, truth), rmse: rmse(baseAll, truth) },
    validated: predictions.length,
  };
  return { summary, predictions, foldR };
}
