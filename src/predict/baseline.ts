/**
 * Does the calibrated model beat predicting the training-fold mean, out of fold?
 *
 * gain = RMSE(mean baseline) − RMSE(calibrated) over all out-of-fold predictions (outcome units).
 * Its 95% interval resamples whole folds with replacement (held-out tasks under LOTO): the
 * predictions of one fold share a task and are not independent, so resampling single rows
 * would understate the uncertainty. beatsMean = the interval's lower end is above 0.
 */
import type { BaselineComparison } from '../types.js';
import { tensorRandom } from '../merge/random.js';
import { quantile } from './stats.js';

export interface FoldErrors {
  /** Squared errors of the calibrated model and of the mean baseline, one per validation row. */
  calibrated: ArrayLike<number>;
  baseline: ArrayLike<number>;
}

export const DEFAULT_BASELINE_RESAMPLES = 2000;

function gainOf(folds: readonly FoldErrors[], pick: ArrayLike<number>): { cal: number; base: number } {
  let sc = 0;
  let sb = 0;
  let n = 0;
  for (let k = 0; k < pick.length; k++) {
    const f = folds[pick[k]];
    for (let i = 0; i < f.calibrated.length; i++) {
      sc += f.calibrated[i];
      sb += f.baseline[i];
    }
    n += f.calibrated.length;
  }
  return { cal: Math.sqrt(sc / n), base: Math.sqrt(sb / n) };
}

export function compareToBaseline(folds: readonly FoldErrors[], opts: { resamples?: number; seed?: number; stream?: string; level?: number } = {}): BaselineComparison {
  const level = opts.level ?? 0.95;
  const resamples = opts.resamples ?? DEFAULT_BASELINE_RESAMPLES;
  const used = folds.filter((f) => f.calibrated.length > 0);
  const all = used.map((_, i) => i);
  const { cal, base } = gainOf(used, all);
  const gain = base - cal;
  const draws: number[] = [];
  if (used.length >= 2) {
    const rnd = tensorRandom(opts.seed ?? 0, `baseline:${opts.stream ?? ''}`);
    const pick = new Int32Array(used.length);
    for (let s = 0; s < resamples; s++) {
      for (let k = 0; k < pick.length; k++) pick[k] = Math.floor(rnd() * used.length);
      const g = gainOf(used, pick);
      draws.push(g.base - g.cal);
    }
  }
  const alpha = (1 - level) / 2;
  const lo = draws.length ? quantile(draws, alpha) : NaN;
  const hi = draws.length ? quantile(draws, 1 - alpha) : NaN;
  return {
    beatsMean: lo > 0,
    calibratedRmse: cal,
    baselineRmse: base,
    gain,
    relativeGain: base > 0 ? gain / base : NaN,
    lo,
    hi,
    level,
    resamples: draws.length,
  };
}
