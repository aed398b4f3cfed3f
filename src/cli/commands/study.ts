/**
 * `mergelens study`: the built-in MNIST study end to end (metrics → merges → outcomes →
 * predictors → HTML report). A thin shell over `runStudy`.
 */
import type { Command } from 'commander';
import { MergelensError } from '../../errors.js';
import path from 'node:path';
import { DEFAULT_STUDY_OUT, runStudy, shippedPredictorDir, type StudyResult } from '../../study/run.js';
import { defaultZooDir } from '../../study/zoo.js';
import { withOutputs } from '../../util/output-policy.js';
import { info, progressSink } from '../io.js';

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
  const t = Object.entries(r.seconds).map(([k, s]) => `${k} ${s.toFixed(1)}s`).join(', ');
  lines.push(`time: ${t}`);
  lines.push('wrote:');
  for (const f of r.files.filter((f) => !f.includes('calibration'))) lines.push(`  ${f}`);
  return lines.join('\n') + '\n';
}

/** The package's committed example outputs (reports/, next to fixtures/). */
const shippedReportsDir = () => path.join(shippedPredictorDir(), '..', '..', 'reports');

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
    .option('--no-fit', 'skip fitting predictors (no predictor.json)')
    .option('--no-report', 'skip the HTML report')
    .option('--curve', 'also compute the budgeted-sweep learning curve (curve.json + a report table; 8–20 s on 2 cores; on with --update-shipped)')
    .option('-f, --force', 'replace the results of a previous study in the output folder (never anything else)')
    .action(async (o: StudyCliOptions & { force?: boolean }) => {
      const outDir = o.out ?? (o.updateShipped ? shippedReportsDir() : DEFAULT_STUDY_OUT);
      // Output policy: the folder is checked (not the zoo, only a previous study's folder is
      // replaced, with --force or --update-shipped) and locked before the study starts.
      await withOutputs([{ path: outDir, kind: 'study', folder: true, flag: '--out' }], { inputs: o.retrain ? [] : [o.zoo ?? defaultZooDir()], force: o.force || o.updateShipped }, async () => {
        const progress = progressSink();
        try {
          const result = await runStudy({
            retrain: o.retrain,
            seed: parseSeed(o.seed),
            outDir,
            predictorDir: o.updateShipped ? shippedPredictorDir() : null,
            zooDir: o.zoo,
            methods: list(o.methods),
            tasks: list(o.tasks),
            quick: o.quick,
            workers: parseWorkers(o.workers),
            fit: o.fit,
            report: o.report,
            curve: o.curve ?? o.updateShipped,
            onProgress: progress,
            log: (line) => {
              progress.finish();
              info(`study: ${line}`);
            },
          });
          progress.finish();
          process.stdout.write(formatStudySummary(result));
        } finally {
          progress.finish();
        }
      });
    });
}
