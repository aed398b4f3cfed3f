/**
 * Which predictor `screen` uses. Gradient and activation metrics need extra inputs (--grads,
 * --acts), so the shipped predictors come in two variants, both written by the built-in study:
 *   fixtures/predictor/default.json       every metric family
 *   fixtures/predictor/weights-only.json  fitted with exclude: ['gradient', 'activation']
 * The first whose features can all be computed from the given inputs wins; the reason is
 * returned so the command can say which one it used and why.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MetricFamily, MetricsReport, PredictorFile } from '../types.js';
import { MergelensError } from '../errors.js';
import { METRIC_FAMILIES, metricFamily } from './families.js';
import { loadPredictor, loadStudy } from './load.js';
import { attachDomains, domainProblem, hasDomains } from './domain-guard.js';
import { predictorCovers } from './predict.js';

/** Package root (this file lives in src/predict or dist/predict). */
export const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const DEFAULT_PREDICTORS = ['fixtures/predictor/default.json', 'fixtures/predictor/weights-only.json'].map((p) => path.join(PACKAGE_ROOT, p));
/** The built-in study the shipped predictors were fitted on (in a source checkout). */
export const SHIPPED_STUDY = path.join(PACKAGE_ROOT, 'reports/study.json');

/**
 * Load a predictor; one written before the extrapolation guard gets its `domain` computed now
 * from its training study when that study is at hand (`study`, else the shipped study for the
 * shipped predictors) and is the data it was fitted on.
 */
export async function loadPredictorWithDomain(file: string, study?: string): Promise<PredictorFile> {
  return withDomain(await loadPredictor(file), file, study);
}

/** Give an already loaded predictor its domain (see loadPredictorWithDomain). */
export async function withDomain(predictor: PredictorFile, file: string, study?: string): Promise<PredictorFile> {
  for (const m of Object.values(predictor.methods)) {
    const problem = domainProblem(m);
    if (problem) throw new MergelensError('BAD_INPUT', `methods.${m.method}: ${problem}`, { file, hint: 'refit the predictor with mergelens fit' });
  }
  if (hasDomains(predictor)) return predictor;
  const shipped = DEFAULT_PREDICTORS.some((p) => path.resolve(p) === path.resolve(file));
  const source = study ?? (shipped ? SHIPPED_STUDY : undefined);
  if (source && existsSync(source)) attachDomains(predictor, await loadStudy(source));
  return predictor;
}

/** Metric ids with at least one finite value in a metrics report. */
export function metricsWithValues(report: MetricsReport): Set<string> {
  return new Set(Object.entries(report.metrics).filter(([, m]) => m.some((row) => row?.some((v) => typeof v === 'number' && Number.isFinite(v)))).map(([id]) => id));
}

/** Families computable from the checkpoints alone, plus those the extra inputs unlock. */
export function availableFamilies(inputs: { grads: boolean; acts: boolean }): Set<MetricFamily> {
  const s = new Set<MetricFamily>(['task_vector', 'sign', 'rank', 'subspace']);
  if (inputs.grads) s.add('gradient');
  if (inputs.acts) s.add('activation');
  return s;
}

/** Features of the predictor that need a family not in `available` (unknown families count as available). */
export function unavailableFeatures(pf: PredictorFile, available: ReadonlySet<MetricFamily>): string[] {
  const all = new Set(Object.values(pf.methods).flatMap((m) => m.features));
  return [...all].filter((id) => {
    const fam = metricFamily(id);
    return fam !== undefined && !available.has(fam);
  }).sort();
}

export interface ChosenPredictor {
  path: string;
  predictor: PredictorFile;
  /** One line for the user: which predictor and why. */
  reason: string;
}

export async function choosePredictor(opts: { explicit?: string; grads: boolean; acts: boolean; candidates?: string[] }): Promise<ChosenPredictor> {
  const available = availableFamilies(opts);
  const hint = 'gradient metrics need --grads (one gradient file per expert), activation metrics --acts; or fit a predictor without them: mergelens fit STUDY --exclude gradient,activation -o p.json';
  if (opts.explicit) {
    const predictor = await loadPredictorWithDomain(opts.explicit);
    const missing = unavailableFeatures(predictor, available);
    if (missing.length) throw new MergelensError('MISSING_METRICS', `the predictor needs metric(s) these inputs cannot provide: ${missing.join(', ')}`, { file: opts.explicit, hint });
    return { path: opts.explicit, predictor, reason: 'given with --predictor' };
  }
  const candidates = (opts.candidates ?? DEFAULT_PREDICTORS).filter((p) => existsSync(p));
  if (candidates.length === 0) {
    throw new MergelensError('NOT_FOUND', `no shipped predictor found (looked for ${(opts.candidates ?? DEFAULT_PREDICTORS).join(', ')})`, {
      hint: 'run `npm run study` to produce them, or pass --predictor p.json (from `mergelens fit`)',
    });
  }
  const skipped: string[] = [];
  for (const p of candidates) {
    const predictor = await loadPredictor(p);
    const missing = unavailableFeatures(predictor, available);
    if (missing.length === 0) {
      const reason = skipped.length ? `shipped predictor; ${skipped.join('; ')}` : 'shipped predictor';
      return { path: p, predictor: await withDomain(predictor, p), reason };
    }
    const present = new Set(missing.map((id) => metricFamily(id)));
    const fams = METRIC_FAMILIES.filter((f) => present.has(f));
    const flags = [fams.includes('gradient') && '--grads', fams.includes('activation') && '--acts'].filter(Boolean).join(' and ');
    skipped.push(`${path.basename(p)} skipped: needs ${fams.join(' and ')} metrics (${missing.length}: ${missing.join(', ')})${flags ? `; give ${flags} to use it` : ''}`);
  }
  throw new MergelensError('MISSING_METRICS', `no shipped predictor works with these inputs (${skipped.join('; ')})`, { hint });
}

/**
 * The predictor `report` and `dashboard` use, picked as `screen` picks it: `explicit` when given;
 * none when precomputed predictions are given or the user said --no-predictor (`explicit` false);
 * else the first shipped predictor whose metrics the report has. A shipped predictor that does
 * not fit is skipped with a note (`log`), not an error: these commands work without predictions.
 */
export async function predictorForMetrics(
  metrics: MetricsReport,
  opts: { explicit?: string | false; predictions?: boolean; study?: string; log?: (line: string) => void; candidates?: string[] },
): Promise<ChosenPredictor | undefined> {
  if (opts.explicit === false || (opts.predictions && !opts.explicit)) return undefined;
  if (opts.explicit) return { path: opts.explicit, predictor: await loadPredictorWithDomain(opts.explicit, opts.study), reason: 'given with --predictor' };
  const have = metricsWithValues(metrics);
  const candidates = (opts.candidates ?? DEFAULT_PREDICTORS).filter((p) => existsSync(p));
  for (const p of candidates) {
    const predictor = await loadPredictor(p);
    if (predictorCovers(predictor, have)) {
      opts.log?.(`predictor: ${p} (shipped predictor; --no-predictor to leave predictions out)`);
      return { path: p, predictor: await withDomain(predictor, p), reason: 'shipped predictor' };
    }
  }
  if (candidates.length) opts.log?.(`no predictions: no shipped predictor's metrics are all in this metrics file (pass --predictor to use your own)`);
  return undefined;
}
