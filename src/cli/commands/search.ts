/**
 * `mergelens search BASE EXPERT... --method M (--eval CMD | --study) -o DIR`: CMA-ES over the
 * experts' merge weights (and optionally density/lambda), every candidate merged and scored by
 * the shared evaluation runner. A thin shell over runSearch (src/search/run.ts); Ctrl-C stops
 * cleanly (exit 130) and a re-run with the same inputs resumes from the journal.
 */
import path from 'node:path';
import type { Command } from 'commander';
import { writeFileAtomic } from '../../util/atomic.js';
import type { ParamValue } from '../../types.js';
import { MergelensError } from '../../errors.js';
import { parseMetricChoice } from '../../eval/contract.js';
import { runSearch, type SearchSummary } from '../../search/run.js';
import { claimOutputs } from '../../util/output-policy.js';
import { escapeControl } from '../../util/terminal.js';
import { info, numberOption, progressSink, repeatable } from '../io.js';
import { parseList, parseNumber } from './fit.js';
import { gracefulStop } from '../graceful-stop.js';
import { DEFAULT_PREDICTORS } from '../../predict/choose.js';
import { loadPredictor } from '../../predict/load.js';

interface SearchCliOptions {
  method: string;
  eval?: string;
  study?: boolean;
  zoo?: string;
  out?: string;
  budget: number;
  popsize?: number;
  seed: number;
  bounds: string;
  objective: string;
  param: string[];
  set: string[];
  tasks?: string[];
  metric: string[];
  jobs: number;
  timeout?: number;
  retries: number;
  best: boolean;
  start: string;
  predictor?: string;
  layerGroups: number;
  drop?: string;
  force?: boolean;
  progress: boolean;
}

export function parseBounds(text: string): [number, number] {
  const [a, b, extra] = text.split(',').map((s) => Number(s.trim()));
  if (extra !== undefined || !Number.isFinite(a) || !Number.isFinite(b) || !(a < b)) throw new MergelensError('BAD_PARAM', `--bounds must be LO,HI with LO < HI (e.g. 0,1 or -1,2), got "${text}"`);
  return [a, b];
}

function parseSet(list: string[]): Record<string, ParamValue> {
  const out: Record<string, ParamValue> = {};
  for (const p of list) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new MergelensError('BAD_PARAM', `--set "${p}" must look like name=value (e.g. lambda=1)`);
    out[p.slice(0, eq).trim()] = p.slice(eq + 1).trim();
  }
  return out;
}

export function formatSearchSummary(s: SearchSummary, outDir: string): string {
  const f = (v: number | null | undefined) => (v === null || v === undefined ? 'failed' : v.toFixed(4));
  const lines = [`evaluations: ${s.evaluations} (start + ${s.evaluations - 1} CMA-ES), objective ${s.objective} over ${s.tasks.length} tasks (${s.normalization.split(':')[0]})`];
  if (s.guide) {
    const g = s.guide;
    if (g.method.given === 'auto') lines.push(`method: ${g.method.chosen}, chosen by the predictor (${g.method.candidates.filter((m) => m.excluded === null).map((m) => `${m.method} ${m.mean.toFixed(3)} ± ${m.halfWidth.toFixed(3)}`).join(', ')}${g.method.separated === false ? '; not separated from the runner-up' : ''})`);
    if (g.drop === 'predictor') lines.push(`dropped: ${g.dropped.length ? g.dropped.map(escapeControl).join(', ') : 'none'} (${g.experts.map((e) => `${escapeControl(e.expert)} ${e.affinity.toFixed(3)} ± ${e.halfWidth.toFixed(3)}`).join(', ')})`);
  }
  if (s.layerGroups) lines.push(`layer groups: ${s.layerGroups.count} (${s.layerGroups.groups.map((g) => g.layers.map(escapeControl).join('+')).join(' | ')})`);
  lines.push(`start (${s.start.label}): ${f(s.start.objective)}`);
  if (s.best) {
    const worst = Math.min(...s.tasks.map((t) => s.best!.normalized![t]));
    lines.push(`best: ${f(s.best.objective)} (${s.best.id}, evaluation ${s.best.evaluation}); worst task ${worst.toFixed(4)}`);
    lines.push(`  weights${s.best.groupWeights ? ' (per layer group)' : ''}: ${s.experts.map((e, i) => `${escapeControl(e)}=${(s.best!.groupWeights?.[i] ?? [s.best!.weights[i]]).map((w) => w.toFixed(3)).join('/')}`).join(' ')}`);
    if (Object.keys(s.best.params).length) lines.push(`  params: ${Object.entries(s.best.params).map(([k, v]) => `${k}=${v.toFixed(3)}`).join(' ')}`);
  }
  lines.push(`pareto front over tasks: ${s.pareto.length} candidate(s)`);
  const failed = s.candidates.filter((c) => c.status === 'failed');
  for (const c of failed.slice(0, 5)) lines.push(`  failed ${c.id}: ${escapeControl(c.reason ?? '')}`);
  lines.push(`time: ${s.timing.wallSeconds.toFixed(1)}s wall — merging ${s.timing.materialiseSeconds.toFixed(1)}s, evaluating ${s.timing.evaluateSeconds.toFixed(1)}s`);
  lines.push('wrote:', ...s.files.map((p) => `  ${p}`));
  void outDir;
  return lines.join('\n') + '\n';
}

export function register(program: Command): void {
  program
    .command('search')
    .description('search merge weights (CMA-ES) over a pool of experts, scoring every candidate merge (docs/search.md)')
    .argument('<base>', 'base (pre-trained) checkpoint')
    .argument('<experts...>', 'expert checkpoints fine-tuned from the base')
    .option('-m, --method <id>', 'merge method whose weights are searched, or auto (the predictor chooses; docs/search.md)', 'task_arithmetic')
    .option('--eval <cmd>', 'evaluation command; placeholders {model} {out} {name} {tasks} {slot}/{device} {attempt} {dir} (docs/sweep.md)')
    .option('--study', 'score with the built-in MNIST zoo’s own evaluation (experts from fixtures/study)')
    .option('--zoo <dir>', 'zoo folder for --study (default: the package’s fixtures/study)')
    .option('-o, --out <dir>', 'search folder: journal, log, recipe, best checkpoint')
    .option('--budget <n>', 'CMA-ES evaluations (the start point is evaluated on top)', numberOption('--budget', { min: 1, integer: true }), 60)
    .option('--popsize <n>', 'CMA-ES population λ (default 4 + ⌊3 ln d⌋)', numberOption('--popsize', { min: 2, integer: true }))
    .option('--seed <n>', 'search seed (also the merge seed for dare/dare_ties)', numberOption('--seed', { min: 0, integer: true }), 0)
    .option('--bounds <lo,hi>', 'box of every expert weight', '0,1')
    .option('--objective <kind>', 'mean | min | weighted:task=w,… over the per-task scores', 'mean')
    .option('--param <name>', 'also search a method parameter: density or lambda (repeatable)', repeatable, [])
    .option('--set <name=value>', 'fix a method parameter (repeatable), e.g. lambda=1', repeatable, [])
    .option('--tasks <list>', 'tasks to score (default: the experts’ names)', parseList)
    .option('--metric <metric>', 'lm-eval metric key, for all tasks or one ("gsm8k=exact_match,strict-match"); repeatable', repeatable, [])
    .option('--start <how>', 'start weights: uniform[:V] (V default 1/N), predictor[:V] (scaled by predicted pair outcomes), or w1,w2,…', 'uniform')
    .option('--predictor <file>', 'predictor for --method auto, --drop predictor and --start predictor (default: the shipped weights-only predictor)')
    .option('--drop <rule>', 'none, or predictor: leave out experts whose pairs are predicted harmful (default: predictor with --method auto, else none)')
    .option('--layer-groups <n>', 'one weight per expert and group of contiguous layers (as mergekit-evolve)', numberOption('--layer-groups', { min: 1, integer: true }), 1)
    .option('--jobs <n>', 'evaluations at once', numberOption('--jobs', { min: 1, integer: true }), 1)
    .option('--timeout <seconds>', 'kill an evaluation after this long', parseNumber('--timeout', 0))
    .option('--retries <k>', 'retry a failed evaluation up to k times', numberOption('--retries', { min: 0, integer: true }), 1)
    .option('--no-best', 'do not write the best merged checkpoint')
    .option('-f, --force', 'start over in a folder holding a search of other inputs')
    .option('--no-progress', 'no progress on stderr')
    .action(async (base: string, experts: string[], o: SearchCliOptions) => {
      if (!o.eval === !o.study) throw new MergelensError('USAGE', 'give exactly one of --eval CMD and --study');
      if (!o.out) throw new MergelensError('USAGE', 'no output folder', { hint: 'pass -o DIR' });
      const bounds = parseBounds(o.bounds);
      const drop = o.drop ?? (o.method === 'auto' ? 'predictor' : 'none');
      if (drop !== 'none' && drop !== 'predictor') throw new MergelensError('BAD_PARAM', `--drop must be none or predictor, got "${o.drop}"`);
      const predictorFile = o.start.startsWith('predictor') || o.method === 'auto' || drop === 'predictor' ? (o.predictor ?? DEFAULT_PREDICTORS[1]) : undefined;
      const predictor = predictorFile ? { file: predictorFile, predictor: await loadPredictor(predictorFile) } : undefined;
      const claim = await claimOutputs([{ path: o.out, kind: 'search', folder: true, reuse: true, flag: '-o' }], { inputs: [base, ...experts, o.zoo] });
      const progress = progressSink(o);
      const stop = gracefulStop(progress);
      try {
        const r = await runSearch({
          base,
          experts,
          method: o.method,
          eval: o.eval,
          study: o.study,
          zooDir: o.zoo,
          outDir: o.out,
          budget: o.budget,
          layerGroups: o.layerGroups,
          drop,
          popsize: o.popsize,
          seed: o.seed,
          bounds,
          objective: o.objective,
          searchParams: o.param,
          params: parseSet(o.set),
          tasks: o.tasks,
          metric: parseMetricChoice(o.metric),
          jobs: o.jobs,
          timeoutS: o.timeout,
          retries: o.retries,
          writeBest: o.best,
          start: o.start,
          predictor,
          force: o.force,
          signal: stop.signal,
          onProgress: progress,
          log: (line) => {
            progress?.finish();
            info(`search: ${escapeControl(line)}`);
          },
        });
        progress?.finish();
        if (r.interrupted) {
          process.exitCode = stop.exitCode();
          return;
        }
        // The page is presentation, so the shell writes it (the search library stays below report/).
        const { loadSearchLog } = await import('../../report/search-load.js');
        const { searchViewModel } = await import('../../report/search-view.js');
        const { renderSearchReport } = await import('../../report/search-page.js');
        const log = await loadSearchLog(path.join(o.out, 'search.json'));
        const page = path.join(o.out, 'report.html');
        await writeFileAtomic(page, renderSearchReport(searchViewModel([log])));
        r.summary.files.push(page);
        process.stdout.write(formatSearchSummary(r.summary, o.out));
      } finally {
        stop.restore();
        progress?.finish();
        await claim.release();
      }
    });
}
