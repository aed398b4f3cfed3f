/**
 * `mergelens sweep BASE EXPERT... --eval CMD -o DIR`: merge pairs × methods, score each merge with
 * the user's own evaluation command, and write a study dataset + predictors fitted on it.
 * A thin shell over runSweep (src/sweep/run.ts); Ctrl-C stops cleanly (exit 130) and a re-run
 * with the same inputs resumes from the journal.
 */
import type { Command } from 'commander';
import { MergelensError } from '../../errors.js';
import { parseMetricChoice } from '../../eval/contract.js';
import { parseExpertTasks } from '../../sweep/outcome.js';
import { runSweep, type SweepResult } from '../../sweep/run.js';
import { DEFAULT_SWEEP_GROUPS } from '../../sweep/groups.js';
import { claimOutputs } from '../../util/output-policy.js';
import { info, numberOption, progressSink, repeatable } from '../io.js';
import { gracefulStop } from '../graceful-stop.js';
import { escapeControl } from '../../util/terminal.js';
import { parseList, parseNumber } from './fit.js';

interface SweepCliOptions {
  eval?: string;
  out?: string;
  methods?: string[];
  pairs?: string[];
  budget?: number;
  jobs: number;
  timeout?: number;
  retries: number;
  seed: number;
  tasks?: string[];
  expertTasks: string[];
  metric: string[];
  outcome: string;
  fit: boolean;
  force?: boolean;
  progress: boolean;
  groupSize?: number;
  groups?: string;
}

/** --groups: a positive integer or "all". */
function sweepGroupCount(v: string): number | 'all' {
  if (v.trim().toLowerCase() === 'all') return 'all';
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new MergelensError('BAD_PARAM', `--groups must be a positive integer or "all", got "${v}"`);
  return n;
}

export function formatSweepSummary(r: SweepResult, outDir: string): string {
  const s = r.summary;
  const count = (st: string) => s.merges.filter((m) => m.status === st).length;
  const lines = [
    `merges: ${count('evaluated')} evaluated, ${count('failed')} failed, ${count('skipped')} skipped, ${count('predicted')} predicted (of ${s.merges.length})`,
  ];
  if (s.groupMerges) {
    const g = (st: string) => s.groupMerges!.filter((m) => m.status === st).length;
    lines.push(`group merges: ${g('evaluated')} evaluated, ${g('failed')} failed, ${g('skipped')} skipped (of ${s.groupMerges.length}); in study.json as "groups"${r.predictor?.groups ? ', group models in predictor.json' : ''}`);
  }
  for (const m of s.merges.filter((x) => x.status === 'skipped').slice(0, 5)) lines.push(`  skipped ${escapeControl(`${m.method} ${m.a} + ${m.b}`)}: ${escapeControl(m.reason ?? '')}`);
  for (const f of s.failures.slice(0, 10)) lines.push(`  failed ${escapeControl(f.id)} after ${f.attempts} attempt(s): ${escapeControl(f.reason)}`);
  if (s.failures.length > 10) lines.push(`  … ${s.failures.length - 10} more in ${outDir}/sweep.json`);
  const best = [...r.predictions]
    .map((p) => ({ p, v: p.evaluated ? p.measured! : p.predicted }))
    .filter((x) => Number.isFinite(x.v))
    .sort((u, v) => v.v - u.v)
    .slice(0, 5);
  if (best.length) {
    lines.push(`best merges (${s.outcome.split(':')[0]}):`);
    for (const { p, v } of best) {
      const how = p.evaluated ? 'measured ' : `predicted [${p.lo.toFixed(3)}, ${p.hi.toFixed(3)}]`;
      lines.push(`  ${escapeControl(`${p.a} + ${p.b}`).padEnd(32)} ${p.method.padEnd(16)} ${v.toFixed(3)}  ${how}`);
    }
  }
  const t = s.timing;
  lines.push(
    `time: ${t.wallSeconds.toFixed(1)}s wall — metrics ${t.metricsSeconds.toFixed(1)}s, merging ${t.mergeSeconds.toFixed(1)}s, evaluating ${t.evaluateSeconds.toFixed(1)}s, fit ${t.fitSeconds.toFixed(1)}s, sweep overhead ${t.overheadSeconds.toFixed(2)}s (${((100 * t.overheadSeconds) / Math.max(t.wallSeconds, 1e-9)).toFixed(1)}%)`,
  );
  lines.push('wrote:', ...r.files.map((f) => `  ${f}`));
  return lines.join('\n') + '\n';
}

export function register(program: Command): void {
  program
    .command('sweep')
    .description('merge pairs × methods, score each merge with your own evaluation command, fit predictors on the outcomes')
    .argument('<base>', 'base (pre-trained) checkpoint')
    .argument('<experts...>', 'expert checkpoints fine-tuned from the base')
    .option('--eval <cmd>', 'evaluation command; placeholders {model} {out} {name} {tasks} {slot}/{device} {attempt} {dir} (docs/sweep.md)')
    .option('-o, --out <dir>', 'sweep folder: journal, logs, study dataset, predictors')
    .option('--methods <list>', 'merge methods (default: all)', parseList)
    .option('--pairs <list>', 'only these pairs, e.g. math+code,math+chat (default: all)', parseList)
    .option('--budget <n>', 'evaluate only n merges, chosen to be informative; predict the rest', numberOption('--budget', { min: 1, integer: true }))
    .option('--jobs <n>', 'evaluations at once', numberOption('--jobs', { min: 1, integer: true }), 1)
    .option('--timeout <seconds>', 'kill an evaluation (its whole process group) after this long', parseNumber('--timeout', 0))
    .option('--retries <k>', 'retry a failed evaluation up to k times', numberOption('--retries', { min: 0, integer: true }), 1)
    .option('--seed <n>', 'merge seed (dare, dare_ties)', numberOption('--seed', { min: 0, integer: true }), 0)
    .option('--tasks <list>', 'every task the command scores (default: from --expert-tasks, else the expert names)', parseList)
    .option('--expert-tasks <expert=tasks>', 'an expert’s own tasks, e.g. math=gsm8k,minerva_math (repeatable)', repeatable, [])
    .option('--metric <metric>', 'lm-eval metric key, for all tasks ("acc_norm,none") or one ("gsm8k=exact_match,strict-match"); repeatable', repeatable, [])
    .option('--outcome <kind>', 'outcome to fit: normalized (merged ÷ expert on its own tasks) or raw', 'normalized')
    .option('--group-size <k>', 'also merge seeded groups of k ≥ 3 experts with every method (study.json "groups"; `fit` then builds group models for `screen --group-size`)', numberOption('--group-size', { min: 3, integer: true }))
    .option('--groups <n>', `groups of --group-size to sample (default ${DEFAULT_SWEEP_GROUPS}), or all`)
    .option('--no-fit', 'do not fit predictors')
    .option('-f, --force', 'start over in a folder holding a sweep of other inputs')
    .option('--no-progress', 'no progress on stderr')
    .action(async (base: string, experts: string[], o: SweepCliOptions) => {
      if (!o.eval) throw new MergelensError('BAD_INPUT', 'no evaluation command', { hint: 'pass --eval "CMD … {model} … {out}" (see docs/sweep.md)' });
      if (!o.out) throw new MergelensError('BAD_INPUT', 'no output folder', { hint: 'pass -o DIR' });
      if (o.outcome !== 'normalized' && o.outcome !== 'raw') throw new MergelensError('BAD_PARAM', `--outcome must be normalized or raw, got "${o.outcome}"`);
      // Output policy (docs/cli.md): the folder may not overlap an input and is locked against a
      // second sweep into it; what is inside is the sweep's own business (resume, --force).
      const claim = await claimOutputs([{ path: o.out, kind: 'sweep', folder: true, reuse: true, flag: '-o' }], { inputs: [base, ...experts] });
      const progress = progressSink(o);
      const stop = gracefulStop(progress);
      try {
        const r = await runSweep({
          base,
          experts,
          eval: o.eval,
          outDir: o.out,
          methods: o.methods,
          pairs: o.pairs,
          budget: o.budget,
          jobs: o.jobs,
          timeoutS: o.timeout,
          retries: o.retries,
          seed: o.seed,
          tasks: o.tasks,
          expertTasks: parseExpertTasks(o.expertTasks),
          metric: parseMetricChoice(o.metric),
          outcome: o.outcome,
          fit: o.fit,
          groupSize: o.groupSize,
          groups: o.groups === undefined ? undefined : sweepGroupCount(o.groups),
          force: o.force,
          signal: stop.signal,
          onProgress: progress,
          log: (line) => {
            progress?.finish();
            info(`sweep: ${line}`);
          },
        });
        progress?.finish();
        if (r.interrupted) {
          process.exitCode = stop.exitCode();
          return;
        }
        process.stdout.write(formatSweepSummary(r, o.out));
        // Everything is written; a non-zero exit still tells scripts that some evaluations failed.
        if (r.summary.failures.length) {
          process.stderr.write(`mergelens: ${r.summary.failures.length} evaluation(s) failed (reasons in ${o.out}/sweep.json); re-run with a higher --retries to try them again\n`);
          process.exitCode = 1;
        }
      } finally {
        stop.restore();
        progress?.finish();
        await claim.release();
      }
    });
}
