/**
 * Using a group model on a new group of experts: calibrated prediction, its 95% interval (the
 * pair predictions' recipe: σ = max(fit's CV RMSE, leave-one-expert-out RMSE), widened with the
 * group's leverage, cut at the outcome's possible range), the extrapolation check on the group
 * features, and the features that drive the prediction. Pure.
 */
import type { GroupMethodPredictor, GroupPredictorSection, PredictionDomain } from '../types.js';
import { zValue } from './design.js';
import { assessPair, widening } from './domain-guard.js';
import { predictionInterval } from './predict.js';
import { groupFeatureNames } from './group-features.js';

export { widening };

export interface GroupPrediction {
  experts: string[];
  method: string;
  target: 'held-in' | 'held-out';
  predicted: number;
  lo: number;
  hi: number;
  /** Feature contributions to the prediction (coef · z), largest |value| first. */
  drivers: { feature: string; contribution: number }[];
  domain?: PredictionDomain;
}

/** σ of a group interval: the larger of the fit's inner-CV RMSE and the leave-one-expert-out RMSE. */
export function groupIntervalSigma(m: GroupMethodPredictor): number {
  const loeo = m.validation.model.rmse;
  return Number.isFinite(loeo) ? Math.max(m.calibrated.residualStd, loeo) : m.calibrated.residualStd;
}

/** A model ready to predict from full group-feature vectors (groupFeatureNames(section.metrics) order). */
export interface PreparedGroupModel {
  model: GroupMethodPredictor;
  /** Position of each model feature in the full vector. */
  cols: number[];
  sigma: number;
}

export function prepareGroupModel(m: GroupMethodPredictor, sectionMetrics: readonly string[]): PreparedGroupModel {
  const names = groupFeatureNames(sectionMetrics);
  const cols = m.features.map((f) => {
    const j = names.indexOf(f);
    if (j < 0) throw new Error(`group model ${m.method} uses feature ${f}, not among the section's metrics`);
    return j;
  });
  return { model: m, cols, sigma: groupIntervalSigma(m) };
}

/** The prediction value alone (no interval or domain): what a subset search ranks by. */
export function groupPoint(p: PreparedGroupModel, full: ArrayLike<number>): number {
  const c = p.model.calibrated;
  let y = c.intercept;
  for (let j = 0; j < p.cols.length; j++) if (c.coef[j] !== 0) y += c.coef[j] * zValue(full[p.cols[j]], c.mean[j], c.std[j]);
  return y;
}

export function predictGroupWith(p: PreparedGroupModel, experts: readonly string[], full: ArrayLike<number>): GroupPrediction {
  const m = p.model;
  const c = m.calibrated;
  const x = p.cols.map((j) => full[j]);
  let predicted = c.intercept;
  const drivers: GroupPrediction['drivers'] = [];
  for (let j = 0; j < x.length; j++) {
    if (c.coef[j] === 0) continue;
    const contribution = c.coef[j] * zValue(x[j], c.mean[j], c.std[j]);
    predicted += contribution;
    drivers.push({ feature: m.features[j], contribution });
  }
  drivers.sort((u, v) => Math.abs(v.contribution) - Math.abs(u.contribution));
  const domain = assessPair(m, x, predicted);
  // k outside the sizes trained on is an extrapolation even when it lies within the margin.
  if (domain && !m.ks.includes(experts.length)) domain.inDomain = false;
  const { lo, hi } = predictionInterval(predicted, p.sigma, m.domain, domain);
  return { experts: [...experts], method: m.method, target: m.target, predicted, lo, hi, drivers, ...(domain ? { domain } : {}) };
}

/** Every (or the chosen) method's prediction for one group, from its full feature vector. */
export function predictGroup(section: GroupPredictorSection, experts: readonly string[], full: ArrayLike<number>, opts: { methods?: string[]; target?: 'held-in' | 'held-out' } = {}): GroupPrediction[] {
  const models = opts.target === 'held-out' ? (section.heldOut ?? {}) : section.methods;
  return Object.values(models)
    .filter((m) => !opts.methods || opts.methods.includes(m.method))
    .map((m) => predictGroupWith(prepareGroupModel(m, section.metrics), experts, full));
}

/** Does the group model beat the naive baselines out of fold (RMSE)? */
export function groupQuality(m: GroupMethodPredictor): { beatsMean: boolean | null; beatsMeanOfPairs: boolean | null } {
  const v = m.validation;
  const ok = Number.isFinite(v.model.rmse);
  return {
    beatsMean: ok && Number.isFinite(v.mean.rmse) ? v.model.rmse < v.mean.rmse : null,
    beatsMeanOfPairs: ok && v.meanOfPairs && Number.isFinite(v.meanOfPairs.rmse) ? v.model.rmse < v.meanOfPairs.rmse : null,
  };
}
