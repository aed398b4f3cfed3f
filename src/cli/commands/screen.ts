/**
 * `mergelens screen BASE EXPERT...`: compute every pair's metrics in one streamed pass, predict
 * each merge method's outcome with a fitted predictor, and print the ranked verdict — best pairs,
 * best method per pair, pairs to avoid, and the metrics driving each prediction.
 */
import type { Command } from 'commander';
import { MergelensError } from '../../errors.js';
import { openCheckpoints } from '../../checkpoint/open.js';
import { choosePredictor } from '../../predict/choose.js';
import { predictPairs, rankPairs } from '../../predict/predict.js';
import { formatRanking } from '../../predict/format.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { stderrProgress } from '../../util/progress.js';
import { parseList, parseNumber } from './fit.js';

const collect = (v: string, prev: string[] = []) => [...prev, ...parseList(v)];

export function register(program: Command): void {
  program
    .command('screen')
    .description('compute metrics for every pair of experts, predict merge outcomes per method, and rank the pairs')
    .argument('<base>', 'base model checkpoint')
    .argument('<experts...>', 'fine-tuned expert checkpoints (≥ 2)')
    .option('--predictor <file>', 'predictor JSON (default: the shipped one that fits your inputs)')
    .option('--grads <files>', 'gradient safetensors per expert, in expert order (comma-separated or repeated)', collect)
    .option('--acts <files>', 'activation safetensors per expert, in expert order (comma-separated or repeated)', collect)
    .option('--methods <list>', 'only these merge methods', parseList)
    .option('--top <n>', 'pairs to list', parseNumber('--top', 1))
    .option('--json', 'print the full result as JSON')
    .option('--save-metrics <file>', 'also write the metrics report')
    .option('--tui', 'open the interactive terminal dashboard on the result')
    .action(async (basePath: string, expertPaths: string[], o) => {
      if (expertPaths.length < 2) throw new MergelensError('BAD_INPUT', 'screen needs at least 2 experts to form a pair');
      for (const [flag, files] of [['--grads', o.grads], ['--acts', o.acts]] as const) {
        if (files && files.length !== expertPaths.length) {
          throw new MergelensError('BAD_INPUT', `${flag} got ${files.length} file(s) for ${expertPaths.length} experts`, { hint: `give one file per expert, in the same order` });
        }
      }
      // Choose (and validate) the predictor before the expensive pass, so a mismatch fails fast.
      const chosen = await choosePredictor({ explicit: o.predictor, grads: !!o.grads, acts: !!o.acts });
      const [base, ...experts] = await openCheckpoints([basePath, ...expertPaths]);
      const progress = stderrProgress();
      let report;
      try {
        const { computeMetrics } = await import('../../metrics/engine.js');
        report = await computeMetrics(base, experts, { grads: o.grads, acts: o.acts, onProgress: progress });
      } finally {
        progress.finish();
        await Promise.all([base, ...experts].map((c) => c.close()));
      }
      if (o.saveMetrics) await writeFileAtomic(o.saveMetrics, JSON.stringify(report, null, 2) + '\n');
      const predictions = predictPairs(chosen.predictor, report, { methods: o.methods, file: chosen.path });
      const ranking = rankPairs(predictions);
      const about = { path: chosen.path, reason: chosen.reason, fittedOn: chosen.predictor.fittedOn, outcome: chosen.predictor.outcome };
      if (o.tui) {
        // Loaded lazily: ink/react are only needed for the dashboard.
        const { runDashboard } = await import('../../dashboard/run.js');
        await runDashboard({ metrics: report, predictor: chosen.predictor, predictions });
        return;
      }
      if (o.json) {
        process.stdout.write(JSON.stringify({ predictor: about, experts: report.experts, warnings: report.warnings, predictions, ranking }, null, 2) + '\n');
        return;
      }
      for (const w of report.warnings) process.stderr.write(`warning: ${w}\n`);
      process.stdout.write(
        `Predictor: ${about.path} (${about.reason})\nFitted on: ${about.fittedOn}\n\n${formatRanking(ranking, { top: o.top, outcome: about.outcome })}\n`,
      );
    });
}
