/**
 * `mergelens dashboard METRICS.json [--predictor P.json]`: the interactive terminal dashboard
 * (plain table when not on a terminal). `openDashboard` is the hook `screen --tui` calls.
 */
import type { Command } from 'commander';
import { runDashboard } from '../../dashboard/run.js';
import { loadPredictor } from '../../predict/load.js';
import { predictPairs } from '../../predict/predict.js';
import { loadMetricsReport, loadPredictions } from '../../report/load.js';
import type { PredictorFile } from '../../types.js';

export interface OpenDashboardOptions {
  predictor?: string;
  predictions?: string;
  metric?: string;
  method?: string;
  exportDir?: string;
}

/** Load the files and show the dashboard; resolves when the user quits. */
export async function openDashboard(metricsPath: string, opts: OpenDashboardOptions = {}): Promise<void> {
  const metrics = await loadMetricsReport(metricsPath);
  const predictor: PredictorFile | undefined = opts.predictor ? await loadPredictor(opts.predictor) : undefined;
  const predictions = opts.predictions ? await loadPredictions(opts.predictions) : undefined;
  await runDashboard({
    metrics,
    predictor,
    predictions,
    predict: (p, m) => predictPairs(p, m, { file: opts.predictor }),
    metric: opts.metric,
    method: opts.method,
    exportDir: opts.exportDir,
  });
}

export function register(program: Command): void {
  program
    .command('dashboard')
    .description('interactive terminal dashboard of pair metrics and predictions (plain table when not on a terminal)')
    .argument('<metrics>', 'metrics.json written by `mergelens metrics`')
    .option('--predictor <file>', 'predictor.json: show predicted outcome per method')
    .option('--predictions <file>', 'precomputed predictions (JSON array of predictions) instead of --predictor')
    .option('--metric <id>', 'metric selected at start (and the column of the plain table)')
    .option('--method <id>', 'start colouring by this method’s predictions')
    .option('--export-dir <dir>', 'where `e` writes CSV/JSON exports (default: current directory)')
    .action(async (metricsPath: string, opts: OpenDashboardOptions) => {
      await openDashboard(metricsPath, opts);
    });
}
