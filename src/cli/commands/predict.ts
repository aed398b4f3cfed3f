/**
 * `mergelens predict predictor.json metrics.json`: predicted outcome per pair per method with a
 * 95% interval, ranked; `--json` / `--csv` for machines.
 */
import type { Command } from 'commander';
import { loadPairMetricsInput, loadPredictor } from '../../predict/load.js';
import { predictPairs, rankPairs } from '../../predict/predict.js';
import { formatRanking, predictionsToCsv } from '../../predict/format.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { parseList, parseNumber } from './fit.js';

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
    .option('-o, --out <file>', 'write the JSON/CSV output to a file instead of stdout')
    .action(async (predictorPath: string, metricsPath: string, o) => {
      const predictor = await loadPredictor(predictorPath);
      const metrics = await loadPairMetricsInput(metricsPath);
      const predictions = predictPairs(predictor, metrics, { methods: o.methods, file: metricsPath });
      const ranking = rankPairs(predictions);
      let text: string;
      if (o.json) text = JSON.stringify({ predictor: { path: predictorPath, fittedOn: predictor.fittedOn, outcome: predictor.outcome }, predictions, ranking }, null, 2) + '\n';
      else if (o.csv) text = predictionsToCsv(predictions);
      else text = `Predictor: ${predictorPath} (fitted on ${predictor.fittedOn})\n\n${formatRanking(ranking, { top: o.top, outcome: predictor.outcome })}\n`;
      if (o.out) await writeFileAtomic(o.out, text);
      else process.stdout.write(text);
    });
}
