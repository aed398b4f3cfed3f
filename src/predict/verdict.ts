/**
 * The one definition of every verdict mergelens prints — used by `screen`, `predict`, the report
 * and the dashboard alike:
 *  - two predictions are *separated* when their 95% intervals do not overlap (u.lo > v.hi);
 *  - a pair's *best method* is named only when it is separated from the runner-up; otherwise
 *    "no clear best method" and the methods tied with the best are listed;
 *  - the *leading group* is every pair whose best prediction is not separated from the top
 *    pair's ("no clear winner among these N pairs" when N > 1);
 *  - *pairs to avoid* are those separated below the top pair;
 *  - methods whose calibrated model does not beat the mean out of fold are *withheld* from the
 *    best-method choice (shown, marked), and the out-of-fold quality of every method travels
 *    with the verdict;
 *  - each pair says whether it lies in the predictor's training domain (domain-guard.ts).
 * Pure (no I/O).
 */
import type { MethodPredictor, Prediction, PredictorFile } from '../types.js';

/** Out-of-fold quality of one method's calibrated model, as the fit measured it. */
export interface MethodQuality {
  method: string;
  /** Validation the figures come from (LOTO preferred: new experts); null when none was run. */
  scheme: 'loto' | 'kfold' | null;
  /** Pearson r of the calibrated model's out-of-fold predictions. */
  r: number;
  rmse: number;
  /** RMSE of predicting the training-fold mean, same folds. */
  baselineRmse: number;
  /**
   * true / false: the calibrated model does / does not beat the mean out of fold (the fit's
   * 95% test when it recorded one, else the point comparison of RMSEs); null: not validated.
   */
  beatsMean: boolean | null;
  /** RMSE(mean) − RMSE(calibrated) with its 95% interval, when the fit recorded it. */
  gain?: { value: number; lo: number; hi: number };
}

export function methodQuality(m: MethodPredictor): MethodQuality {
  const v = m.validation.find((x) => x.scheme === 'loto') ?? m.validation[0];
  if (!v) return { method: m.method, scheme: null, r: NaN, rmse: NaN, baselineRmse: NaN, beatsMean: null };
  const verdict = m.verdict?.scheme === v.scheme ? m.verdict : (v.baselineComparison ?? undefined);
  return {
    method: m.method,
    scheme: v.scheme,
    r: v.calibrated.pooledR,
    rmse: v.calibrated.rmse,
    baselineRmse: v.baseline.rmse,
    beatsMean: verdict ? verdict.beatsMean : Number.isFinite(v.calibrated.rmse) && Number.isFinite(v.baseline.rmse) ? v.calibrated.rmse < v.baseline.rmse : null,
    ...(verdict ? { gain: { value: verdict.gain, lo: verdict.lo, hi: verdict.hi } } : {}),
  };
}

export function predictorQuality(pf: PredictorFile | undefined): Record<string, MethodQuality> {
  return Object.fromEntries(Object.values(pf?.methods ?? {}).map((m) => [m.method, methodQuality(m)]));
}

/** u's interval lies entirely above v's. */
export function separated(u: Pick<Prediction, 'lo'>, v: Pick<Prediction, 'hi'>): boolean {
  return u.lo > v.hi;
}

/** In domain: true / false, or null when the prediction carries no domain (old predictor). */
export function inDomain(p: Prediction): boolean | null {
  return p.domain ? p.domain.inDomain : null;
}

export interface PairDecision {
  a: string;
  b: string;
  /** Every method for this pair: usable ones (not withheld) first, each group by prediction, highest first. */
  methods: Prediction[];
  /** The prediction that stands for the pair: its highest usable method. */
  best: Prediction;
  /** Named only when `best` is separated from every other usable method; else null ("no clear best method"). */
  bestMethod: string | null;
  /** Usable methods not separated from the best (the best included). */
  tiedMethods: string[];
  /** Whether every method's prediction for this pair lies in the training domain (null: unknown). */
  inDomain: boolean | null;
  /** 'lead': not separated from the top pair; 'avoid': separated below it. */
  group: 'lead' | 'avoid';
  /** 1 = highest best prediction. */
  rank: number;
}

export interface Verdict {
  /** All pairs, highest best prediction first. */
  pairs: PairDecision[];
  /** Pairs tied with the top pair (the top pair first). */
  lead: PairDecision[];
  /** Pairs separated below the top pair, worst first. */
  avoid: PairDecision[];
  /** Out-of-fold quality per method (empty without a predictor). */
  quality: Record<string, MethodQuality>;
  /** Methods left out of the best-method choice because they do not beat the mean out of fold. */
  withheld: string[];
  /** Pairs with at least one prediction out of domain; null when the predictions carry no domain. */
  outOfDomain: { pairs: number; total: number } | null;
  /** Pairs where some prediction leaves the outcome's possible range. */
  beyondPossible: number;
  /** Plain sentences every output prints above the table. */
  notes: string[];
}

const byPrediction = (u: Prediction, v: Prediction) => v.predicted - u.predicted || v.score - u.score || u.method.localeCompare(v.method);

/**
 * Build the verdict from predictions (any subset of pairs × methods) and the predictor they
 * came from (for out-of-fold quality; optional for precomputed predictions).
 */
export function buildVerdict(predictions: Prediction[], predictor?: PredictorFile): Verdict {
  const quality = predictorQuality(predictor);
  const usable = (m: string) => quality[m]?.beatsMean !== false;
  const methodsSeen = [...new Set(predictions.map((p) => p.method))];
  const withheld = methodsSeen.filter((m) => !usable(m)).sort();
  // When no method beats the mean, withholding all would leave nothing: rank all, and say so.
  const allWithheld = methodsSeen.length > 0 && withheld.length === methodsSeen.length;
  const counts = (m: string) => allWithheld || usable(m);

  const groups = new Map<string, Prediction[]>();
  for (const p of predictions) {
    if (!Number.isFinite(p.predicted)) continue;
    const key = JSON.stringify([p.a, p.b]);
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(p);
  }
  const pairs: PairDecision[] = [...groups.values()].map((ps) => {
    const ok = ps.filter((p) => counts(p.method)).sort(byPrediction);
    const rest = ps.filter((p) => !counts(p.method)).sort(byPrediction);
    const best = ok[0];
    const tied = ok.filter((p) => !separated(best, p));
    const doms = ps.map(inDomain);
    return {
      a: ps[0].a,
      b: ps[0].b,
      methods: [...ok, ...rest],
      best,
      bestMethod: tied.length === 1 ? best.method : null,
      tiedMethods: tied.map((p) => p.method),
      inDomain: doms.some((d) => d === null) ? null : doms.every(Boolean),
      group: 'lead',
      rank: 0,
    };
  });
  pairs.sort((u, v) => byPrediction(u.best, v.best) || `${u.a}\0${u.b}`.localeCompare(`${v.a}\0${v.b}`));
  pairs.forEach((p, k) => (p.rank = k + 1));
  const top = pairs[0]?.best;
  for (const p of pairs) if (top && separated(top, p.best)) p.group = 'avoid';
  const lead = pairs.filter((p) => p.group === 'lead');
  const avoid = pairs.filter((p) => p.group === 'avoid').reverse();

  const hasDomain = predictions.length > 0 && predictions.every((p) => p.domain);
  const outOfDomain = hasDomain ? { pairs: pairs.filter((p) => p.inDomain === false).length, total: pairs.length } : null;
  const beyondPossible = pairs.filter((p) => p.methods.some((m) => m.domain?.beyondPossible)).length;

  const notes: string[] = [];
  if (outOfDomain === null && predictions.length) notes.push('Domain unknown: this predictor has no record of its training rows (written before the extrapolation guard); refit it to check.');
  else if (outOfDomain && outOfDomain.pairs === outOfDomain.total && outOfDomain.total > 0)
    notes.push(`OUT OF DOMAIN: all ${outOfDomain.total} pair(s) lie outside the predictor's training data — these numbers are extrapolations; do not rely on them. Fit a predictor on your own models (mergelens sweep / fit).`);
  else if (outOfDomain && outOfDomain.pairs > 0) notes.push(`${outOfDomain.pairs} of ${outOfDomain.total} pair(s) lie outside the predictor's training data (marked OOD): their intervals are widened and their predictions are extrapolations.`);
  if (beyondPossible) notes.push(`${beyondPossible} pair(s) have a prediction beyond the outcome's possible range (marked !range).`);
  if (allWithheld) notes.push('No method beats predicting the mean out of fold: the ranking below is not informative.');
  else if (withheld.length) notes.push(`Withheld from the best-method choice (no better than predicting the mean out of fold): ${withheld.join(', ')}.`);
  return { pairs, lead, avoid, quality, withheld, outOfDomain, beyondPossible, notes };
}
