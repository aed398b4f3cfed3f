/**
 * `mergelens fit STUDY.(json|csv) -o predictor.json`: fit per-method predictors (paper model +
 * calibrated elastic net), cross-validate them, and print a validation table.
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { fitPredictors, loadStudy } from '../../predict/fit.js';
import { formatValidation } from '../../predict/format.js';
import { assertWritable, writeFileAtomic } from '../../util/atomic.js';
import { stderrProgress } from '../../util/progress.js';

export function parseNumber(name: string, min = -Infinity) {
  return (v: string) => {
    const x = Number(v);
    if (!Number.isFinite(x) || x < min) throw new InvalidArgumentError(`${name} must be a number ≥ ${min}, got "${v}"`);
    return x;
  };
}

export const parseList = (v: string): string[] => v.split(',').map((s) => s.trim()).filter(Boolean);

export function register(program: Command): void {
  program
    .command('fit')
    .description('fit per-method merge-outcome predictors from a study (JSON from `mergelens study`, or CSV: a,b,method,outcome,<metric ids>…)')
    .argument('<study>', 'study file (.json or .csv)')
    .requiredOption('-o, --out <file>', 'predictor JSON to write')
    .option('--lambda <λ>', 'paper model L1 weight (outcome units; 1 = the paper, for outcomes in [0,1])', parseNumber('--lambda', 0), 1)
    .option('--l1-ratio <α>', 'calibrated model elastic-net mixing α ∈ (0,1]', parseNumber('--l1-ratio', 0), 0.5)
    .option('--exclude <list>', 'metric ids or families to leave out, e.g. gradient,activation', parseList, [])
    .option('--features <list>', 'use only these metric ids', parseList)
    .option('--folds <scheme>', 'validation: loto, kfold or both', 'both')
    .option('-k, --k <k>', 'k for k-fold validation', parseNumber('-k', 2), 5)
    .option('--seed <n>', 'seed for k-fold, inner CV and bootstrap', parseNumber('--seed', 0), 0)
    .option('--bootstrap <n>', 'bootstrap resamples for coefficient intervals (0 = off)', parseNumber('--bootstrap', 0), 200)
    .option('--force', 'overwrite the output file')
    .action(async (studyPath: string, o) => {
      const schemes = o.folds === 'both' ? ['loto', 'kfold'] : [o.folds];
      if (!schemes.every((s: string) => s === 'loto' || s === 'kfold')) throw new InvalidArgumentError(`--folds must be loto, kfold or both, got "${o.folds}"`);
      await assertWritable(o.out, !!o.force);
      const study = await loadStudy(studyPath);
      const progress = stderrProgress();
      const pf = fitPredictors(study, {
        lambda: o.lambda,
        l1Ratio: o.l1Ratio,
        exclude: o.exclude,
        features: o.features,
        folds: schemes,
        k: Math.round(o.k),
        seed: Math.round(o.seed),
        bootstrap: Math.round(o.bootstrap),
        onProgress: progress,
      });
      progress.finish();
      await writeFileAtomic(o.out, JSON.stringify(pf, null, 2) + '\n');
      for (const w of pf.warnings ?? []) process.stderr.write(`warning: ${w}\n`);
      process.stdout.write(`Fitted on: ${pf.fittedOn}\nOutcome: ${pf.outcome}\n\n${formatValidation(pf)}\n\nWrote ${o.out}\n`);
    });
}
