/**
 * Cross-validation of one method's two models: out-of-fold predictions and the summary the
 * predictor file reports (ValidationSummary).
 *
 * Per fold both models are refitted on the training rows only — scalers, and λ when it is chosen
 * automatically (inner LOTO for the paper model, inner k-fold for the calibrated model), are
 * decided without the fold's validation rows — then predict the validation rows. Reported:
 *  - paper model: mean per-fold Pearson r (the paper's headline number), pooled r and Spearman
 *    of all out-of-fold scores. A fold whose scores are constant (every coefficient cut to 0)
 *    counts as r = 0 — it ranks nothing; folds with < 3 validation rows or constant outcomes
 *    have no defined r and are left out of the mean.
 *  - calibrated model: pooled r, Spearman, MAE, RMSE of out-of-fold predictions.
 *  - baseline: the training-fold mean outcome, scored like the calibrated model, and the
 *    comparison of the two with a fold-resampled interval (baseline.ts).
 *  - per fold: held-out task, row counts, r, both RMSEs and the paper λ used.
 */
import type { FoldResult, ValidationSummary } from '../types.js';
import type { Design } from './design.js';
import { subsetRows, subsetVec } from './design.js';
import { paperScore } from './pearson-l1.js';
import { fitElasticNet, predictElasticNet } from './elastic-net.js';
import type { Fold } from './folds.js';
import { kfoldFolds, lotoFolds } from './folds.js';
import { mae, mean, pearson, rmse, spearman } from './stats.js';
import { fitPaperWithSetting, foldR as foldPearson, type LambdaSetting } from './paper-lambda.js';
import { compareToBaseline, type FoldErrors } from './baseline.js';

export { lotoFolds, kfoldFolds } from './folds.js';
export type { Fold } from './folds.js';

export interface CvOptions {
  scheme: 'loto' | 'kfold';
  /** k for k-fold (default 5). */
  k?: number;
  seed?: number;
  /** Paper model λ: automatic (default), relative to λ_max, or on the paper's scale; a number = paper scale (legacy). */
  lambda?: LambdaSetting | number;
  l1Ratio?: number;
  /** Fold resamples for the baseline comparison's interval (default 2000). */
  baselineResamples?: number;
  /** Names the random stream of the baseline interval (e.g. the method). */
  stream?: string;
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

export function toSetting(l: LambdaSetting | number | undefined): LambdaSetting {
  if (l === undefined) return { mode: 'auto' };
  return typeof l === 'number' ? { mode: 'paper', value: l } : l;
}

export function crossValidate(
  X: Design,
  y: ArrayLike<number>,
  pairs: readonly { a: string; b: string }[],
  opts: CvOptions,
): CvResult {
  const seed = opts.seed ?? 0;
  const setting = toSetting(opts.lambda);
  const folds: Fold[] = opts.scheme === 'loto' ? lotoFolds(pairs) : kfoldFolds(X.n, opts.k ?? 5, seed);
  const predictions: OutOfFold[] = [];
  const foldR: { fold: string; r: number }[] = [];
  const perFold: FoldResult[] = [];
  const errors: FoldErrors[] = [];
  for (const f of folds) {
    // A model needs a few training rows to mean anything; skip degenerate folds.
    if (f.train.length < 3 || f.val.length === 0) continue;
    const Xt = subsetRows(X, f.train);
    const yt = subsetVec(y, f.train);
    const Xv = subsetRows(X, f.val);
    const yv = subsetVec(y, f.val);
    const paper = fitPaperWithSetting(Xt, yt, f.train.map((i) => pairs[i]), setting);
    const cal = fitElasticNet(Xt, yt, { l1Ratio: opts.l1Ratio, seed });
    const calPred = predictElasticNet(cal, Xv);
    const base = mean(yt);
    const scores = new Float64Array(f.val.length);
    const row = new Float64Array(X.cols.length);
    const e: FoldErrors = { calibrated: new Float64Array(f.val.length), baseline: new Float64Array(f.val.length) };
    f.val.forEach((ri, k) => {
      for (let j = 0; j < row.length; j++) row[j] = Xv.cols[j][k];
      scores[k] = paperScore(paper, row);
      predictions.push({ row: ri, fold: f.label, truth: yv[k], paper: scores[k], calibrated: calPred[k], baseline: base });
      (e.calibrated as Float64Array)[k] = (calPred[k] - yv[k]) ** 2;
      (e.baseline as Float64Array)[k] = (base - yv[k]) ** 2;
    });
    errors.push(e);
    const r = foldPearson(scores, yv);
    foldR.push({ fold: f.label, r });
    perFold.push({
      heldOut: f.label,
      trainRows: f.train.length,
      valRows: f.val.length,
      r: Number.isFinite(r) ? r : null,
      calibratedRmse: rmse(calPred, yv),
      baselineRmse: rmse(new Float64Array(yv.length).fill(base), yv),
      ...(paper.selection.mode === 'paper' ? {} : { rho: paper.selection.value }),
      paperLambda: paper.selection.paperLambda,
    });
  }
  const truth = predictions.map((p) => p.truth);
  const paperAll = predictions.map((p) => p.paper);
  const calAll = predictions.map((p) => p.calibrated);
  const baseAll = predictions.map((p) => p.baseline);
  const defined = foldR.map((f) => f.r).filter((r) => Number.isFinite(r));
  const summary: ValidationSummary = {
    scheme: opts.scheme,
    folds: perFold.length,
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
    perFold,
    baselineComparison: compareToBaseline(errors, { resamples: opts.baselineResamples, seed, stream: `${opts.stream ?? ''}:${opts.scheme}` }),
  };
  return { summary, predictions, foldR };
}
