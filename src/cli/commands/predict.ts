/**
 * `mergelens predict predictor.json metrics.json`: predicted outcome per pair per method with a
 * 95% interval, ranked; `--json` / `--csv` for machines.
 */
import { escapeControlKeepNewlines } from '../../util/terminal.js';
import type { Command } from 'commander';
import { loadPairMetricsInput } from '../../predict/load.js';
import { loadPredictorWithDomain } from '../../predict/choose.js';
import { buildVerdict } from '../../predict/verdict.js';
import { predictPairs, rankPairs } from '../../predict/predict.js';
import { formatVerdict, predictionsToCsv } from '../../predict/format.js';
import { claimOutputs } from '../../util/output-policy.js';
import { parseList, parseNumber } from './fit.js';
import { dropExpertsWithoutTaskVector } from '../../predict/no-task-vector.js';
import { warn } from '../io.js';
import type { MetricsReport, PairMetrics } from '../../types.js';

export function register(program: Command): void {
  program
    .command('predict')
    .description('predict post-merge outcomes for every pair and method from a metrics file')
    .argument('<predictor>', 'predictor JSON (from `mergelens fit`)')
    .argument('<metrics>', 'metrics JSON (from `mergelens metrics`) or an array of {a, b, values}')
    .option('--json', 'print predictions and ranking as JSON')
    .option('--csv', 'print one CSV row per pair × method')
    .option('--methods <list>', 'only these methods', parseList)
    .option('--top <n>', 'rows in the ranked table', parseNumber('--top', 1))
    .option('--study <file>', 'the study the predictor was fitted on: gives a predictor written before the extrapolation guard its training domain')
    .option('-o, --out <file>', 'write the JSON/CSV output to a file instead of stdout')
    .option('-f, --force', 'replace a previous predictions file at -o (never an input or an unrelated file)')
    .action(async (predictorPath: string, metricsPath: string, o) => {
      // The output is claimed first (output policy): never an input, --force, lock, writable.
      const claim = o.out ? await claimOutputs([{ path: o.out, kind: 'predictions', flag: '-o' }], { inputs: [predictorPath, metricsPath, o.study], force: o.force }) : undefined;
      try {
        const predictor = await loadPredictorWithDomain(predictorPath, o.study);
        const metrics = withoutIdenticalExperts(await loadPairMetricsInput(metricsPath), metricsPath);
        const predictions = predictPairs(predictor, metrics, { methods: o.methods, file: metricsPath });
        const ranking = rankPairs(predictions);
        const verdict = buildVerdict(predictions, predictor);
        let text: string;
        if (o.json) text = JSON.stringify({ predictor: { path: predictorPath, fittedOn: predictor.fittedOn, outcome: predictor.outcome }, verdict, predictions, ranking }, null, 2) + '\n';
        else if (o.csv) text = predictionsToCsv(predictions);
        else text = `Predictor: ${predictorPath} (fitted on ${predictor.fittedOn})\n\n${formatVerdict(verdict, { top: o.top, outcome: predictor.outcome })}\n`;
        if (claim) await claim.outputs[0].write(text);
        else process.stdout.write(o.json || o.csv ? text : escapeControlKeepNewlines(text)); // names from files, shown escaped on a terminal
      } finally {
        await claim?.release();
      }
    });
}

/** An old report's experts identical to the base are left out with a warning, as `metrics` does now. */
function withoutIdenticalExperts(metrics: MetricsReport | PairMetrics[], file: string): MetricsReport | PairMetrics[] {
  if (Array.isArray(metrics)) return metrics;
  const { report, dropped } = dropExpertsWithoutTaskVector(metrics);
  for (const name of dropped) warn(`${file}: expert ${name} has no task vector (identical to the base): its pairs are excluded`);
  return report;
}
