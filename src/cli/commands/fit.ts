/**
 * `mergelens fit STUDY -o predictor.json`: fit per-method predictors (paper model + calibrated
 * elastic net), cross-validate them, and print a validation table, how λ was chosen, and whether
 * each calibrated model beats predicting the mean. STUDY: a mergelens study (JSON/CSV), a long
 * CSV, or a folder of the paper's result files (src/predict/import).
 */
import { escapeControl, escapeControlKeepNewlines } from '../../util/terminal.js';
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { DEFAULT_BOOTSTRAP, MAX_BOOTSTRAP, fitPredictors, loadStudy } from '../../predict/fit.js';
import { formatFitSummary } from '../../predict/fit-summary.js';
import { formatPaperComparison, readPaperResults } from '../../predict/import/paper-results.js';
import { formatValidation } from '../../predict/format.js';
import { fitGroupPredictors } from '../../predict/group-fit.js';
import { formatGroupValidation } from '../../predict/group-format.js';
import { withOutputs } from '../../util/output-policy.js';
import { info, progressSink } from '../io.js';

export function parseNumber(name: string, min = -Infinity) {
  return (v: string) => {
    const x = Number(v);
    if (!Number.isFinite(x) || x < min) throw new InvalidArgumentError(`${name} must be a number ≥ ${min}, got "${v}"`);
    return x;
  };
}

/** --bootstrap: an integer in [0, MAX_BOOTSTRAP] (each resample is a whole fit), else a usage error before any work. */
function parseBootstrap(v: string): number {
  const x = Number(v);
  if (v.trim() === '' || !Number.isInteger(x) || x < 0 || x > MAX_BOOTSTRAP) throw new InvalidArgumentError(`--bootstrap must be an integer from 0 to ${MAX_BOOTSTRAP}, got "${v}"`);
  return x;
}

export const parseList = (v: string): string[] => v.split(',').map((s) => s.trim()).filter(Boolean);

function parseLambda(v: string): number | 'auto' {
  if (v.trim().toLowerCase() === 'auto') return 'auto';
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x) || x < 0) throw new InvalidArgumentError(`--lambda must be "auto" or a number ≥ 0, got "${v}"`);
  return x;
}

function oneOf<T extends string>(flag: string, allowed: readonly T[]) {
  return (v: string): T => {
    if (!(allowed as readonly string[]).includes(v)) throw new InvalidArgumentError(`${flag} must be one of ${allowed.join(', ')}, got "${v}"`);
    return v as T;
  };
}

export function register(program: Command): void {
  program
    .command('fit')
    .description(
      'fit per-method merge-outcome predictors from a study: JSON from `mergelens study`, a CSV (a,b,method,outcome,<metric ids>… or long a,b,method,metric,value), or a folder of the paper\'s results (pairwise_metrics_N*.json + <method>_all_pairwise_summary_N*.json)',
    )
    .argument('<study>', 'study file (.json or .csv) or a folder of the paper\'s result files')
    .requiredOption('-o, --out <file>', 'predictor JSON to write')
    .option('--lambda <λ|auto>', 'paper model L1 weight: auto (λ/λ_max chosen by inner leave-one-task-out CV in each training fold) or a number on --lambda-scale', parseLambda, 'auto')
    .option('--lambda-scale <scale>', 'relative: λ as a fraction of λ_max (1 = every coefficient zero); paper: the paper\'s objective r − λ‖β‖₁ with sd(score) = sd(outcome)', oneOf('--lambda-scale', ['relative', 'paper'] as const), 'relative')
    .option('--l1-ratio <α>', 'calibrated model elastic-net mixing α ∈ (0,1]', parseNumber('--l1-ratio', 0), 0.5)
    .option('--exclude <list>', 'metric ids or families to leave out, e.g. gradient,activation (each must match something)', parseList, [])
    .option('--features <list>', 'use only these metric ids', parseList)
    .option('--missing <policy>', 'rows with a missing metric: drop-rows (the paper; default for the paper\'s data) or drop-features (drop the metric for that method; default otherwise)', oneOf('--missing', ['drop-rows', 'drop-features'] as const))
    .option('--methods <list>', 'methods to fit; for the paper\'s folder also the run its pair filter uses, name=file renames (ties=ties_v2)', parseList)
    .option('--outcome <name>', 'outcome: a field of avg[0] in the paper\'s summaries (default acc/test/avg), the outcome column (wide CSV) or metric name (long CSV)')
    .option('--pair-filter <filter>', 'paper\'s folder: paper (keep a pair only if every method merged it without error; default) or none', oneOf('--pair-filter', ['paper', 'none'] as const))
    .option('--compare <results.json>', 'print a side-by-side table against the paper\'s published LOTO results (all_methods_loto_results.json)')
    .option('--folds <scheme>', 'validation: loto, kfold or both', 'both')
    .option('-k, --k <k>', 'k for k-fold validation', parseNumber('-k', 2), 5)
    .option('--seed <n>', 'seed for k-fold, inner CV and bootstrap', parseNumber('--seed', 0), 0)
    .option('--bootstrap <n>', `bootstrap resamples for coefficient intervals (0 = off, at most ${MAX_BOOTSTRAP})`, parseBootstrap, DEFAULT_BOOTSTRAP)
    .option('-f, --force', 'replace a previous predictor file at -o (never the study or an unrelated file)')
    .action(async (studyPath: string, o) => {
      const schemes = o.folds === 'both' ? ['loto', 'kfold'] : [o.folds];
      if (!schemes.every((s: string) => s === 'loto' || s === 'kfold')) throw new InvalidArgumentError(`--folds must be loto, kfold or both, got "${o.folds}"`);
      await withOutputs([{ path: o.out, kind: 'predictor', flag: '-o' }], { inputs: [studyPath, ...(o.compare ? [o.compare] : [])], force: o.force }, async ([out]) => {
        const study = await loadStudy(studyPath, { methods: o.methods, outcome: o.outcome, pairFilter: o.pairFilter });
        const progress = progressSink();
        const pf = fitPredictors(study, {
          lambda: o.lambda,
          lambdaScale: o.lambdaScale,
          l1Ratio: o.l1Ratio,
          exclude: o.exclude,
          features: o.features,
          missing: o.missing,
          methods: o.methods?.map((m: string) => m.split('=')[0].trim()),
          folds: schemes,
          k: Math.round(o.k),
          seed: Math.round(o.seed),
          bootstrap: Math.round(o.bootstrap),
          onProgress: progress,
        });
        // Groups of k ≥ 3 in the study (`mergelens study`, `sweep --group-size`): the group models too.
        const groups = fitGroupPredictors(study, { exclude: o.exclude, features: o.features, methods: o.methods?.map((m: string) => m.split('=')[0].trim()), l1Ratio: o.l1Ratio, seed: Math.round(o.seed), onProgress: progress });
        if (groups) pf.groups = groups;
        progress.finish();
        const comparison = o.compare ? formatPaperComparison(pf, await readPaperResults(o.compare)) : undefined;
        await out.write(JSON.stringify(pf, null, 2) + '\n');
        // Task, metric and outcome names come from the study: control characters shown escaped.
        for (const n of study.source?.notes ?? []) info(`import: ${escapeControl(n)}`);
        for (const w of pf.warnings ?? []) process.stderr.write(`warning: ${escapeControl(w)}\n`);
        process.stdout.write(escapeControlKeepNewlines(`Fitted on: ${pf.fittedOn}\nOutcome: ${pf.outcome}\n\n${formatValidation(pf)}\n\n${pf.groups ? `${formatGroupValidation(pf.groups)}\n\n` : ''}${formatFitSummary(pf)}\n${comparison ? `\nPaper (${o.compare}) vs mergelens, leave-one-task-out:\n${comparison}\n` : ''}\nWrote ${o.out}\n`));
      });
    });
}

