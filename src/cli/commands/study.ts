/**
 * `mergelens study`: the built-in MNIST study end to end (metrics → merges → outcomes →
 * predictors → HTML report). A thin shell over `runStudy`.
 */
import type { Command } from 'commander';
import { MergelensError } from '../../errors.js';
import path from 'node:path';
import { DEFAULT_STUDY_OUT, runStudy, shippedPredictorDir, type StudyResult } from '../../study/run.js';
import { defaultZooDir } from '../../study/zoo.js';
import { DEFAULT_GROUPS_PER_SIZE, parseGroupSample, QUICK_GROUPS_PER_SIZE } from '../../study/groups.js';
import { groupTrend, type Slope } from '../../study/group-trend.js';
import { withOutputs } from '../../util/output-policy.js';
import { DEFAULT_TRANSFORMER_STUDY_OUT, formatTransformerStudySummary, runTransformerStudy } from '../../study/transformer/study.js';
import { defaultTransformerZooDir } from '../../study/transformer/zoo.js';
import { info, progressSink } from '../io.js';
import { axesCli, type AxesCliOptions } from './study-axes.js';

interface StudyCliOptions {
  retrain?: boolean;
  seed?: string;
  out?: string;
  updateShipped?: boolean;
  zoo?: string;
  methods?: string;
  tasks?: string;
  quick?: boolean;
  workers?: string;
  fit: boolean;
  report: boolean;
  curve?: boolean;
  groups?: string;
  study?: string;
  axes?: boolean;
  widths?: string;
}

const list = (s: string | undefined): string[] | undefined =>
  s === undefined ? undefined : s.split(',').map((x) => x.trim()).filter(Boolean);

function parseSeed(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const n = Number(s);
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new MergelensError('BAD_PARAM', `--seed must be an integer in [0, 4294967295], got "${s}"`);
  return n;
}

function parseWorkers(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new MergelensError('BAD_PARAM', `--workers must be an integer in [1, 64], got "${s}"`);
  return n;
}

/** Per-method mean and range of the outcome, and where the files went. */
export function formatStudySummary(r: StudyResult): string {
  const lines: string[] = [];
  const acc = r.dataset.experts.map((id) => `${id} ${(r.expertAccuracy[id] * 100).toFixed(1)}%`).join(', ');
  lines.push(`expert test accuracy: ${acc}`);
  lines.push(`normalized accuracy after merging (${r.dataset.rows.length} merges):`);
  lines.push(`  ${'method'.padEnd(16)} ${'mean'.padStart(6)} ${'min'.padStart(6)} ${'max'.padStart(6)}`);
  for (const m of r.dataset.methods) {
    const v = r.dataset.rows.filter((x) => x.method === m).map((x) => x.outcome);
    const mean = v.reduce((s, x) => s + x, 0) / v.length;
    lines.push(`  ${m.padEnd(16)} ${mean.toFixed(3).padStart(6)} ${Math.min(...v).toFixed(3).padStart(6)} ${Math.max(...v).toFixed(3).padStart(6)}`);
  }
  if (r.dataset.groups?.length) lines.push(...formatGroupTrend(r));
  const t = Object.entries(r.seconds).map(([k, s]) => `${k} ${s.toFixed(1)}s`).join(', ');
  lines.push(`time: ${t}`);
  lines.push('wrote:');
  for (const f of r.files.filter((f) => !f.includes('calibration'))) lines.push(`  ${f}`);
  return lines.join('\n') + '\n';
}

/** Per method, mean held-in and held-out outcome by group size k (pairs as k = 2), and the k = 2→max change. */
function formatGroupTrend(r: StudyResult): string[] {
  const trend = groupTrend(r.dataset);
  const ks = trend.sizes;
  const cell = (v: number | undefined) => (v === undefined ? '—' : v.toFixed(3)).padStart(6);
  const lines = [`merging groups (${r.dataset.groups!.length} merges): mean held-in outcome / mean held-out probe ratio by group size k (k = 2: the pairs)`];
  const slope = (s: Slope | undefined) => (s ? `${s.slope >= 0 ? '+' : ''}${s.slope.toFixed(4)} ±${s.se.toFixed(4)}` : '—').padStart(16);
  lines.push(`  ${'method'.padEnd(16)} ${ks.map((k) => `k=${k}`.padStart(13)).join(' ')} ${'held-in/k, k≥2'.padStart(16)} ${'k≥3'.padStart(16)} ${'held-out/k'.padStart(16)}`);
  for (const m of trend.methods) {
    const row = ks.map((k) => `${cell(m.byK[k]?.heldIn)}/${cell(m.byK[k]?.heldOut)}`).join(' ');
    lines.push(`  ${m.method.padEnd(16)} ${row} ${slope(m.heldInSlope)} ${slope(m.groupsSlope)} ${slope(m.heldOutSlope)}`);
  }
  lines.push('  (slopes: least-squares change per added expert ± its standard error; held-out = probe accuracy ÷ the base\'s, tasks outside the group)');
  const vs = trend.methods.filter((m) => m.vsExperts);
  if (vs.length) {
    lines.push('held-out probe ratio to the base: the merge vs its own unmerged experts (mean over groups)');
    lines.push(`  ${'method'.padEnd(16)} ${'merged'.padStart(7)} ${'experts'.padStart(7)} ${'best'.padStart(7)}  merged > mean / > best expert`);
    for (const m of vs) {
      const v = m.vsExperts!;
      lines.push(`  ${m.method.padEnd(16)} ${v.merged.toFixed(3).padStart(7)} ${v.experts.toFixed(3).padStart(7)} ${v.bestExpert.toFixed(3).padStart(7)}  ${v.beatsMean}/${v.n} / ${v.beatsBest}/${v.n}`);
    }
  }
  return lines;
}

/** The package's committed example outputs (reports/, next to fixtures/). */
const shippedReportsDir = () => path.join(shippedPredictorDir(), '..', '..', 'reports');

/**
 * What a plain `mergelens study` (`npm run study`) runs without --study. The MNIST study alone:
 * the transformer study adds ≈ 230 CPU-seconds (≈ 2–2.5 min on 2 quiet cores; measured in
 * docs/transformer-study.md), past the three-minute budget of the default run with the MNIST
 * and group studies. Any option that selects part of a study
 * (--quick, --tasks, --methods, --zoo, --retrain, --update-shipped, --groups, --curve) keeps the
 * MNIST study alone, as before --study existed.
 */
type StudyChoice = 'mnist' | 'transformer' | 'both';
const DEFAULT_STUDY_CHOICE: StudyChoice = 'mnist';

/** Groups per size k behind the shipped group models and reports/ (the default run merges fewer). */
const SHIPPED_GROUP_SAMPLE = 6;

function parseStudyChoice(o: StudyCliOptions): StudyChoice {
  const subset = o.quick || o.tasks || o.methods || o.zoo || o.retrain || o.updateShipped || o.groups !== undefined || o.curve;
  const which = o.study ?? (subset ? 'mnist' : DEFAULT_STUDY_CHOICE);
  if (which !== 'mnist' && which !== 'transformer' && which !== 'both') throw new MergelensError('USAGE', `--study must be mnist, transformer or both, got "${which}"`);
  if (which === 'both' && (o.tasks || o.zoo || o.retrain)) throw new MergelensError('USAGE', '--tasks, --zoo and --retrain name one study’s tasks and zoo: add --study mnist or --study transformer');
  if (which !== 'mnist' && o.updateShipped) throw new MergelensError('USAGE', '--update-shipped refreshes the MNIST study’s shipped files only: use it with --study mnist');
  if (which !== 'mnist' && (o.groups !== undefined || o.curve)) throw new MergelensError('USAGE', '--groups and --curve belong to the MNIST study: use them with --study mnist');
  return which;
}

/** The transformer study alone: its own output folder, claimed and locked as the MNIST study's is. */
async function transformerStudyCli(o: StudyCliOptions & { force?: boolean }, outDir: string): Promise<void> {
  await withOutputs([{ path: outDir, kind: 'study', folder: true, flag: '--out' }], { inputs: o.retrain ? [] : [o.zoo ?? defaultTransformerZooDir()], force: o.force }, () => transformerStudyRun(o, outDir));
}

/** The options both studies take, from the command line. */
function commonStudyOptions(o: StudyCliOptions, outDir: string) {
  return {
    retrain: o.retrain,
    seed: parseSeed(o.seed),
    outDir,
    zooDir: o.zoo,
    methods: list(o.methods),
    tasks: list(o.tasks),
    quick: o.quick,
    workers: parseWorkers(o.workers),
    fit: o.fit,
    report: o.report,
  };
}

async function transformerStudyRun(o: StudyCliOptions, outDir: string): Promise<void> {
  const progress = progressSink();
  try {
    const result = await runTransformerStudy({
      ...commonStudyOptions(o, outDir),
      onProgress: progress,
      log: (line) => {
        progress.finish();
        info(`study (transformer): ${line}`);
      },
    });
    progress.finish();
    process.stdout.write(formatTransformerStudySummary(result));
  } finally {
    progress.finish();
  }
}

export function register(program: Command): void {
  program
    .command('study')
    .description('run the built-in study: MNIST experts, every pair × every merge method, post-merge accuracy, predictors, HTML report')
    .option('--retrain', 'train the model zoo again (≈ 30 s) instead of using the committed one')
    .option('--seed <n>', 'training seed (with --retrain) and merge seed (DARE); default: the zoo’s seed (1)')
    .option('--out <dir>', `output folder (default: ${DEFAULT_STUDY_OUT}, or the package's reports/ with --update-shipped)`)
    .option('--update-shipped', "also refresh the package's shipped predictors (fixtures/predictor) and example outputs (reports/); full study only")
    .option('--zoo <dir>', 'zoo folder to read (and to write with --retrain); default: the package’s fixtures/study')
    .option('--methods <ids>', 'comma-separated merge methods (default: all)')
    .option('--tasks <ids>', 'comma-separated tasks (default: all ten)')
    .option('--quick', 'a small subset (4 tasks × 4 methods) for smoke tests')
    .option('--workers <n>', 'threads for training and merging (default: cores, at most 4)')
    .option('--groups <n>', `groups of k = 3…8 experts merged per size (default ${DEFAULT_GROUPS_PER_SIZE}, ${QUICK_GROUPS_PER_SIZE} with --quick), "all" for every group (the full sample: 957 groups for 10 experts), "off" for none`)
    .option('--no-fit', 'skip fitting predictors (no predictor.json)')
    .option('--no-report', 'skip the HTML report')
    .option('--curve', 'also compute the budgeted-sweep learning curve (curve.json + a report table; 8–20 s on 2 cores; on with --update-shipped)')
    .option('--axes', 'the scale and base axes instead: variant zoos of several widths and two bases, each studied; summary table and verdicts (docs/study-axes.md)')
    .option('--widths <list>', 'with --axes: comma-separated first hidden widths of the 784→w→w/2 encoders (default 64,128,256)')
    .option('--study <which>', `which built-in study: mnist, transformer (a tiny Llama-style LLM, full and LoRA experts; docs/transformer-study.md) or both (default: ${DEFAULT_STUDY_CHOICE})`)
    .option('-f, --force', 'replace the results of a previous study in the output folder (never anything else)')
    .action(async (o: StudyCliOptions & { force?: boolean }) => {
      if (o.axes || o.widths) return axesCli(o as AxesCliOptions);
      const which = parseStudyChoice(o);
      if (which === 'transformer') return transformerStudyCli(o, o.out ?? DEFAULT_TRANSFORMER_STUDY_OUT);
      const outDir = o.out ?? (o.updateShipped ? shippedReportsDir() : DEFAULT_STUDY_OUT);
      // Output policy: the folder is checked (not the zoo, only a previous study's folder is
      // replaced, with --force or --update-shipped) and locked before the study starts.
      await withOutputs([{ path: outDir, kind: 'study', folder: true, flag: '--out' }], { inputs: o.retrain ? [] : [o.zoo ?? defaultZooDir()], force: o.force || o.updateShipped }, async () => {
        const progress = progressSink();
        try {
          const result = await runStudy({
            ...commonStudyOptions(o, outDir),
            predictorDir: o.updateShipped ? shippedPredictorDir() : null,
            curve: o.curve ?? o.updateShipped,
            // The shipped group models are fitted on 6 groups per size (≈ 4 min on 2 cores) unless told otherwise.
            groups: o.groups === undefined ? (o.updateShipped ? SHIPPED_GROUP_SAMPLE : undefined) : parseGroupSample(o.groups),
            onProgress: progress,
            log: (line) => {
              progress.finish();
              info(`study: ${line}`);
            },
          });
          progress.finish();
          process.stdout.write(formatStudySummary(result));
          // Inside the MNIST study's (claimed, locked) folder.
          if (which === 'both') await transformerStudyRun(o, path.join(outDir, 'transformer'));
        } finally {
          progress.finish();
        }
      });
    });
}
