/**
 * Fitting a predictor file from a study: per method, the paper model and the calibrated model
 * on the method's rows, their cross-validation, bootstrap intervals and the cross-method
 * fingerprint comparison. Pure (no I/O); `loadStudy` reads the study.
 */
import type { MethodPredictor, PredictorFile, ProgressSink, StudyDataset, StudyRow } from '../types.js';
import { MergelensError } from '../errors.js';
import type { Design } from './design.js';
import { applyMinMax, designFromRows, fitMinMax, subsetRows, subsetVec } from './design.js';
import { fitElasticNet } from './elastic-net.js';
import { crossValidate } from './cv.js';
import { bootstrapIntervals, compareFingerprints } from './fingerprint.js';
import { checkExclusions, isExcluded, metricFamily } from './families.js';
import { fitPaperWithSetting, paperFitAtRho, paperLambdaMax, type LambdaSetting } from './paper-lambda.js';
import { paperMetric } from './import/paper-metrics.js';
import { METRIC_DEFINITIONS } from '../metrics/definitions.js';
import { methodDomain } from './domain-guard.js';

export { loadStudy } from './load.js';
export type { LambdaSetting } from './paper-lambda.js';

export type MissingPolicy = 'drop-rows' | 'drop-features';

export interface FitOptions {
  /**
   * Paper model's λ: 'auto' (default: λ/λ_max chosen by inner leave-one-task-out CV inside each
   * training fold), or a number read on `lambdaScale`.
   */
  lambda?: number | 'auto';
  /** relative (default): λ as a fraction of λ_max (1 = every coefficient zero); paper: the paper's scale (docs/predictors.md). */
  lambdaScale?: 'relative' | 'paper';
  /** Calibrated model's elastic-net mixing α (default 0.5). */
  l1Ratio?: number;
  /** Use only these metric ids (default: every metric in the study). */
  features?: string[];
  /** Leave out metric ids or whole families ("gradient", "activation", …); each must match something. */
  exclude?: string[];
  /** Rows with a missing metric value: drop the row (the paper) or drop the metric for that method. Default: the study's own default (drop-rows for the paper's data), else drop-features. */
  missing?: MissingPolicy;
  /** Validation schemes to run (default both, LOTO first). */
  folds?: ('loto' | 'kfold')[];
  /** k for k-fold (default 5). */
  k?: number;
  seed?: number;
  /** Bootstrap resamples for coefficient intervals (default DEFAULT_BOOTSTRAP; 0 disables). */
  bootstrap?: number;
  /** Fold resamples for the beats-the-mean interval (default 2000). */
  baselineResamples?: number;
  /** Restrict to these methods. */
  methods?: string[];
  /** Free text recorded as `fittedOn` (default: the study's description). */
  fittedOn?: string;
  onProgress?: ProgressSink;
}

/**
 * Bootstrap resamples for coefficient intervals. 200: on the paper's data (185 pairs, 28 metrics)
 * the 95% interval ends move by a median 3–6 % of the interval width between seeds at 200
 * resamples (about halving at 800), below the width's own resolution; docs/predictors.md.
 */
export const DEFAULT_BOOTSTRAP = 200;
/** Upper bound on --bootstrap: each resample refits both models, and past this the percentiles no longer move. */
export const MAX_BOOTSTRAP = 10_000;

/** Rows with at least this many distinct pairs are needed to fit anything meaningful. */
const MIN_ROWS = 4;

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function describePair(r: StudyRow): string {
  return `${r.a}–${r.b}`;
}

/** Apply the missing-value policy to one method's rows; drop constant features. */
function usableData(rows: StudyRow[], candidates: string[], method: string, policy: MissingPolicy, warnings: string[]) {
  let kept = rows;
  const featuresDropped: string[] = [];
  let features = candidates;
  if (policy === 'drop-rows') {
    kept = rows.filter((r) => candidates.every((id) => finite(r.metrics[id])));
    const gone = rows.filter((r) => !kept.includes(r));
    if (gone.length) {
      const detail = gone.slice(0, 5).map((r) => `${describePair(r)} (${candidates.filter((id) => !finite(r.metrics[id])).join(', ')})`);
      warnings.push(`${method}: dropped ${gone.length} of ${rows.length} row(s) with missing metric values (--missing drop-rows): ${detail.join('; ')}${gone.length > 5 ? '; …' : ''}`);
    }
  } else {
    features = candidates.filter((id) => {
      const ok = rows.every((r) => finite(r.metrics[id]));
      if (!ok) featuresDropped.push(id);
      return ok;
    });
    if (featuresDropped.length) {
      const counts = featuresDropped.map((id) => `${id} (${rows.filter((r) => !finite(r.metrics[id])).length} row(s))`);
      warnings.push(`${method}: dropped ${featuresDropped.length} feature(s) with missing values (--missing drop-features; --missing drop-rows keeps them and drops the rows): ${counts.join(', ')}`);
    }
  }
  const constant: string[] = [];
  features = features.filter((id) => {
    let lo = Infinity;
    let hi = -Infinity;
    for (const r of kept) {
      const v = r.metrics[id];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    const ok = hi - lo > 1e-12 * Math.max(1, Math.abs(hi), Math.abs(lo));
    if (!ok) constant.push(id);
    return ok;
  });
  if (constant.length) warnings.push(`${method}: dropped ${constant.length} constant feature(s): ${constant.join(', ')}`);
  return { rows: kept, features, missing: { policy, rowsDropped: rows.length - kept.length, featuresDropped } };
}

interface MethodSettings {
  lambda: LambdaSetting;
  l1Ratio: number;
  seed: number;
  bootstrap: number;
  k: number;
  folds: ('loto' | 'kfold')[];
  baselineResamples?: number;
}

/** Fit one method's MethodPredictor on its rows. */
export function fitMethod(method: string, rows: StudyRow[], features: string[], opts: MethodSettings): MethodPredictor {
  const X: Design = designFromRows(rows.map((r) => features.map((id) => r.metrics[id])), features.length);
  const y = Float64Array.from(rows, (r) => r.outcome);
  const pairs = rows.map((r) => ({ a: r.a, b: r.b }));
  const paper = fitPaperWithSetting(X, y, pairs, opts.lambda);
  const cal = fitElasticNet(X, y, { l1Ratio: opts.l1Ratio, seed: opts.seed });
  const validation = opts.folds.map(
    (scheme) => crossValidate(X, y, pairs, { scheme, k: opts.k, seed: opts.seed, lambda: opts.lambda, l1Ratio: opts.l1Ratio, baselineResamples: opts.baselineResamples, stream: method }).summary,
  );
  const decisive = validation.find((v) => v.scheme === 'loto') ?? validation[0];
  const mp: MethodPredictor = {
    method,
    features,
    paper: { lambda: paper.lambda, min: paper.min, max: paper.max, coef: paper.coef },
    calibrated: cal,
    validation,
    trainRows: rows.length,
    lambdaSelection: paper.selection,
  };
  if (decisive?.baselineComparison) mp.verdict = { scheme: decisive.scheme, ...decisive.baselineComparison };
  if (opts.bootstrap > 0) {
    // λ is held at the full-data choice (ρ for relative/auto) so the interval reflects coefficient noise, not λ re-selection.
    mp.bootstrap = bootstrapIntervals(rows.length, (idx) => fitElasticNet(subsetRows(X, idx), subsetVec(y, idx), { l1Ratio: opts.l1Ratio, lambda: cal.lambda }).coef, {
      samples: opts.bootstrap,
      seed: opts.seed,
      stream: `calibrated:${method}`,
    });
    const sel = paper.selection;
    mp.bootstrapPaper = bootstrapIntervals(
      rows.length,
      (idx) => {
        const Xb = subsetRows(X, idx);
        const yb = subsetVec(y, idx);
        const Zb = applyMinMax(Xb, fitMinMax(Xb));
        const lmax = paperLambdaMax(Zb, yb);
        return paperFitAtRho(Zb, yb, lmax, sel.mode === 'paper' ? (lmax > 0 ? sel.value / lmax : 1) : sel.value);
      },
      { samples: opts.bootstrap, seed: opts.seed, stream: `paper:${method}` },
    );
  }
  return mp;
}

function lambdaSetting(opts: FitOptions): LambdaSetting {
  const scale = opts.lambdaScale ?? 'relative';
  const l = opts.lambda ?? 'auto';
  if (l === 'auto') {
    if (scale === 'paper') throw new MergelensError('BAD_PARAM', 'λ on the paper scale has no automatic choice: give a number (--lambda 1 is the paper\'s setting) or use --lambda-scale relative');
    return { mode: 'auto' };
  }
  if (!(l >= 0)) throw new MergelensError('BAD_PARAM', `lambda must be ≥ 0, got ${l}`);
  if (scale === 'relative' && l > 1) throw new MergelensError('BAD_PARAM', `a relative λ is a fraction of λ_max in [0, 1] (1 already zeroes every coefficient), got ${l}`, { hint: 'for the paper\'s scale add --lambda-scale paper' });
  return scale === 'paper' ? { mode: 'paper', value: l } : { mode: 'relative', value: l };
}

/** Warning text for features mergelens does not compute under that name (paper names map to mergelens ids). */
function foreignWarnings(candidates: string[]): string[] {
  const out: string[] = [];
  const mapped = candidates.filter((id) => !METRIC_DEFINITIONS[id] && paperMetric(id));
  const same = mapped.filter((id) => paperMetric(id)!.relation === 'same');
  const differs = mapped.filter((id) => paperMetric(id)!.relation !== 'same');
  const unknown = candidates.filter((id) => !METRIC_DEFINITIONS[id] && !paperMetric(id));
  if (same.length) out.push(`feature(s) named as in the paper; mergelens computes the same quantity under another id (a study of your own checkpoints needs these ids): ${same.map((id) => `${id} = ${paperMetric(id)!.mergelens}`).join(', ')}`);
  if (differs.length) out.push(`feature(s) not computed by mergelens as the paper defines them (docs/paper-import.md): ${differs.map((id) => `${id}${paperMetric(id)!.mergelens ? ` (closest: ${paperMetric(id)!.mergelens})` : ''}`).join(', ')}`);
  if (unknown.length) {
    out.push(`feature(s) not computed by mergelens: ${unknown.join(', ')} — \`screen\` cannot supply them and \`predict\` needs them in its input (CSV: prefix a column with extra_ to keep it out of the features)`);
  }
  return out;
}

export function fitPredictors(dataset: StudyDataset, opts: FitOptions = {}): PredictorFile {
  const warnings: string[] = [];
  const exclude = opts.exclude ?? [];
  const known = new Set(dataset.metricIds);
  const unknown = (opts.features ?? []).filter((f) => !known.has(f));
  if (unknown.length) {
    throw new MergelensError('BAD_INPUT', `requested feature(s) not in the study: ${unknown.join(', ')}`, { hint: `the study has: ${dataset.metricIds.join(', ')}` });
  }
  checkExclusions(exclude, opts.features ?? dataset.metricIds);
  const candidates = (opts.features ?? dataset.metricIds).filter((id) => !isExcluded(id, exclude));
  if (candidates.length === 0) throw new MergelensError('BAD_INPUT', 'no features left to fit on after --exclude', { hint: `the study has: ${dataset.metricIds.join(', ')}` });
  warnings.push(...foreignWarnings(candidates));
  const present = new Set(dataset.rows.map((r) => r.method));
  const unknownMethods = (opts.methods ?? []).filter((m) => !present.has(m));
  if (unknownMethods.length) throw new MergelensError('BAD_INPUT', `method(s) not in the study: ${unknownMethods.join(', ')}`, { hint: `the study has: ${[...present].sort().join(', ')}` });
  const byMethod = new Map<string, StudyRow[]>();
  for (const r of dataset.rows) {
    if (opts.methods && !opts.methods.includes(r.method)) continue;
    if (!byMethod.has(r.method)) byMethod.set(r.method, []);
    byMethod.get(r.method)!.push(r);
  }
  const settings: MethodSettings = {
    lambda: lambdaSetting(opts),
    l1Ratio: opts.l1Ratio ?? 0.5,
    seed: opts.seed ?? 0,
    bootstrap: opts.bootstrap ?? DEFAULT_BOOTSTRAP,
    k: opts.k ?? 5,
    folds: opts.folds ?? ['loto', 'kfold'],
    baselineResamples: opts.baselineResamples,
  };
  if (!(Number.isInteger(settings.bootstrap) && settings.bootstrap >= 0 && settings.bootstrap <= MAX_BOOTSTRAP)) throw new MergelensError('BAD_PARAM', `bootstrap must be an integer from 0 to ${MAX_BOOTSTRAP}, got ${settings.bootstrap}`);
  if (!(settings.l1Ratio > 0 && settings.l1Ratio <= 1)) throw new MergelensError('BAD_PARAM', `l1Ratio must be in (0, 1], got ${settings.l1Ratio}`);
  if (settings.lambda.mode === 'relative' && settings.lambda.value >= 1) {
    warnings.push(`λ/λ_max = ${settings.lambda.value} zeroes every paper-model coefficient (λ is relative by default; the paper's λ = 1 is --lambda-scale paper --lambda 1, automatic choice is --lambda auto)`);
  }
  const policy: MissingPolicy = opts.missing ?? dataset.source?.missingDefault ?? 'drop-features';
  const methods: Record<string, MethodPredictor> = {};
  const names = [...byMethod.keys()].sort();
  names.forEach((method, i) => {
    opts.onProgress?.({ phase: 'fit', done: i, total: names.length, unit: 'items', detail: method });
    const data = usableData(byMethod.get(method)!, candidates, method, policy, warnings);
    if (data.rows.length < MIN_ROWS) {
      warnings.push(`${method}: skipped, only ${data.rows.length} usable row(s) (need ≥ ${MIN_ROWS})`);
      return;
    }
    // A constant outcome has nothing to predict: r and intervals would be meaningless (issue 20 audit).
    if (data.rows.every((r) => r.outcome === data.rows[0].outcome)) {
      warnings.push(`${method}: the outcome is constant (${data.rows[0].outcome}) over all ${data.rows.length} rows: there is nothing to predict, only the intercept is meaningful`);
    }
    if (data.features.length === 0) {
      warnings.push(`${method}: skipped, no usable features`);
      return;
    }
    methods[method] = { ...fitMethod(method, data.rows, data.features, settings), missing: data.missing };
    if (methods[method].paper.coef.every((c) => c === 0)) warnings.push(`${method}: every paper-model coefficient is zero at this λ — its score ranks nothing`);
    methods[method].domain = methodDomain(methods[method], data.rows, dataset.outcome); // extrapolation guard (domain-guard.ts)
  });
  opts.onProgress?.({ phase: 'fit', done: names.length, total: names.length, unit: 'items' });
  if (Object.keys(methods).length === 0) {
    throw new MergelensError('BAD_INPUT', 'no method has enough usable rows to fit', { hint: warnings.join('; ') || undefined });
  }
  const fingerprints = compareFingerprints(Object.fromEntries(Object.entries(methods).map(([m, p]) => [m, { features: p.features, coef: p.paper.coef }])));
  return {
    format: 'mergelens.predictor',
    version: 1,
    createdAt: new Date().toISOString(),
    fittedOn: opts.fittedOn ?? `${dataset.description} (${dataset.rows.length} rows, ${dataset.experts.length} experts, ${Object.keys(methods).length} methods)`,
    outcome: dataset.outcome,
    methods,
    fingerprints,
    features: [...new Set(Object.values(methods).flatMap((m) => m.features))].sort(),
    excluded: exclude,
    warnings,
  };
}
