/**
 * Fitting a predictor file from a study: per method, the paper model and the calibrated model
 * on the method's rows, their cross-validation, bootstrap intervals and the cross-method
 * fingerprint comparison. Pure (no I/O); `loadStudy` reads the study.
 */
import type { MethodPredictor, PredictorFile, ProgressSink, StudyDataset, StudyRow } from '../types.js';
import { MergelensError } from '../errors.js';
import type { Design } from './design.js';
import { designFromRows, subsetRows, subsetVec } from './design.js';
import { fitPaperModel } from './pearson-l1.js';
import { fitElasticNet } from './elastic-net.js';
import { crossValidate } from './cv.js';
import { bootstrapIntervals, compareFingerprints } from './fingerprint.js';
import { isExcluded, metricFamily } from './families.js';

export { loadStudy } from './load.js';

export interface FitOptions {
  /** Paper model's λ (default 1). */
  lambda?: number;
  /** Calibrated model's elastic-net mixing α (default 0.5). */
  l1Ratio?: number;
  /** Use only these metric ids (default: every metric in the study). */
  features?: string[];
  /** Leave out metric ids or whole families ("gradient", "activation", …). */
  exclude?: string[];
  /** Validation schemes to run (default both, LOTO first). */
  folds?: ('loto' | 'kfold')[];
  /** k for k-fold (default 5). */
  k?: number;
  seed?: number;
  /** Bootstrap resamples for coefficient intervals (default 200; 0 disables). */
  bootstrap?: number;
  /** Restrict to these methods. */
  methods?: string[];
  /** Free text recorded as `fittedOn` (default: the study's description). */
  fittedOn?: string;
  onProgress?: ProgressSink;
}

/** Rows with at least this many distinct pairs are needed to fit anything meaningful. */
const MIN_ROWS = 4;

function usableFeatures(rows: StudyRow[], candidates: string[], method: string, warnings: string[]): string[] {
  const keep: string[] = [];
  const missing: string[] = [];
  const constant: string[] = [];
  for (const id of candidates) {
    let lo = Infinity;
    let hi = -Infinity;
    let hasNaN = false;
    for (const r of rows) {
      const v = r.metrics[id];
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        hasNaN = true;
        break;
      }
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    if (hasNaN) missing.push(id);
    else if (!(hi - lo > 1e-12 * Math.max(1, Math.abs(hi), Math.abs(lo)))) constant.push(id);
    else keep.push(id);
  }
  if (missing.length) warnings.push(`${method}: dropped ${missing.length} feature(s) with missing/non-finite values: ${missing.join(', ')}`);
  if (constant.length) warnings.push(`${method}: dropped ${constant.length} constant feature(s): ${constant.join(', ')}`);
  return keep;
}

/** Fit one method's MethodPredictor on its rows. */
export function fitMethod(
  method: string,
  rows: StudyRow[],
  features: string[],
  opts: Required<Pick<FitOptions, 'lambda' | 'l1Ratio' | 'seed' | 'bootstrap' | 'k'>> & { folds: ('loto' | 'kfold')[] },
): MethodPredictor {
  const X: Design = designFromRows(rows.map((r) => features.map((id) => r.metrics[id])), features.length);
  const y = Float64Array.from(rows, (r) => r.outcome);
  const pairs = rows.map((r) => ({ a: r.a, b: r.b }));
  const paper = fitPaperModel(X, y, opts.lambda);
  const cal = fitElasticNet(X, y, { l1Ratio: opts.l1Ratio, seed: opts.seed });
  const validation = opts.folds.map((scheme) => crossValidate(X, y, pairs, { scheme, k: opts.k, seed: opts.seed, lambda: opts.lambda, l1Ratio: opts.l1Ratio }).summary);
  const mp: MethodPredictor = {
    method,
    features,
    paper: { lambda: paper.lambda, min: paper.min, max: paper.max, coef: paper.coef },
    calibrated: cal,
    validation,
    trainRows: rows.length,
  };
  if (opts.bootstrap > 0) {
    // λ is held at the full-data choice so the interval reflects coefficient noise, not λ re-selection.
    mp.bootstrap = bootstrapIntervals(rows.length, (idx) => fitElasticNet(subsetRows(X, idx), subsetVec(y, idx), { l1Ratio: opts.l1Ratio, lambda: cal.lambda }).coef, {
      samples: opts.bootstrap,
      seed: opts.seed,
      stream: `calibrated:${method}`,
    });
    mp.bootstrapPaper = bootstrapIntervals(rows.length, (idx) => fitPaperModel(subsetRows(X, idx), subsetVec(y, idx), opts.lambda).coef, {
      samples: opts.bootstrap,
      seed: opts.seed,
      stream: `paper:${method}`,
    });
  }
  return mp;
}

export function fitPredictors(dataset: StudyDataset, opts: FitOptions = {}): PredictorFile {
  const warnings: string[] = [];
  const exclude = opts.exclude ?? [];
  const known = new Set(dataset.metricIds);
  const unknown = (opts.features ?? []).filter((f) => !known.has(f));
  if (unknown.length) {
    throw new MergelensError('BAD_INPUT', `requested feature(s) not in the study: ${unknown.join(', ')}`, { hint: `the study has: ${dataset.metricIds.join(', ')}` });
  }
  const candidates = (opts.features ?? dataset.metricIds).filter((id) => !isExcluded(id, exclude));
  if (candidates.length === 0) throw new MergelensError('BAD_INPUT', 'no features left to fit on after --exclude', { hint: `the study has: ${dataset.metricIds.join(', ')}` });
  const foreign = candidates.filter((id) => metricFamily(id) === undefined);
  if (foreign.length) {
    warnings.push(
      `feature(s) not computed by mergelens: ${foreign.join(', ')} — \`screen\` cannot supply them and \`predict\` needs them in its input (CSV: prefix a column with extra_ to keep it out of the features)`,
    );
  }
  const byMethod = new Map<string, StudyRow[]>();
  for (const r of dataset.rows) {
    if (opts.methods && !opts.methods.includes(r.method)) continue;
    if (!byMethod.has(r.method)) byMethod.set(r.method, []);
    byMethod.get(r.method)!.push(r);
  }
  const settings = {
    lambda: opts.lambda ?? 1,
    l1Ratio: opts.l1Ratio ?? 0.5,
    seed: opts.seed ?? 0,
    bootstrap: opts.bootstrap ?? 200,
    k: opts.k ?? 5,
    folds: opts.folds ?? (['loto', 'kfold'] as ('loto' | 'kfold')[]),
  };
  if (!(settings.lambda >= 0)) throw new MergelensError('BAD_PARAM', `lambda must be ≥ 0, got ${settings.lambda}`);
  if (!(settings.l1Ratio > 0 && settings.l1Ratio <= 1)) throw new MergelensError('BAD_PARAM', `l1Ratio must be in (0, 1], got ${settings.l1Ratio}`);
  const methods: Record<string, MethodPredictor> = {};
  const names = [...byMethod.keys()].sort();
  names.forEach((method, i) => {
    opts.onProgress?.({ phase: 'fit', done: i, total: names.length, unit: 'items', detail: method });
    const rows = byMethod.get(method)!;
    if (rows.length < MIN_ROWS) {
      warnings.push(`${method}: skipped, only ${rows.length} row(s) (need ≥ ${MIN_ROWS})`);
      return;
    }
    const features = usableFeatures(rows, candidates, method, warnings);
    if (features.length === 0) {
      warnings.push(`${method}: skipped, no usable features`);
      return;
    }
    methods[method] = fitMethod(method, rows, features, settings);
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
