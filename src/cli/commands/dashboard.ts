/**
 * `mergelens dashboard METRICS.json [--predictor P.json]`: the interactive terminal dashboard
 * (plain table when not on a terminal). `openDashboard` is the hook `screen --tui` calls.
 * `mergelens dashboard --search DIR/search.json [--search …]`: the merge-recipe search view.
 */
import type { Command } from 'commander';
import { runDashboard } from '../../dashboard/run.js';
import { predictorForMetrics } from '../../predict/choose.js';
import { predictPairs } from '../../predict/predict.js';
import { loadMetricsReport, loadPredictions } from '../../report/load.js';
import type { PredictorFile } from '../../types.js';
import { info, repeatable } from '../io.js';
import { MergelensError } from '../../errors.js';
import { loadSearchLog } from '../../report/search-load.js';
import { runSearchDashboard } from '../../dashboard/search-run.js';

export interface OpenDashboardOptions {
  /** A file, or false for --no-predictor; absent: the shipped predictor that fits. */
  predictor?: string | false;
  predictions?: string;
  metric?: string;
  method?: string;
  exportDir?: string;
}

/** Load the files and show the dashboard; resolves when the user quits. */
export async function openDashboard(metricsPath: string, opts: OpenDashboardOptions = {}): Promise<void> {
  const metrics = await loadMetricsReport(metricsPath);
  // Picked as screen picks it (choose.ts): --predictor, else the shipped one that fits the metrics.
  const predictor: PredictorFile | undefined = (await predictorForMetrics(metrics, { explicit: opts.predictor, predictions: !!opts.predictions, log: (l) => info(l) }))?.predictor;
  const predictions = opts.predictions ? await loadPredictions(opts.predictions) : undefined;
  await runDashboard({
    metrics,
    predictor,
    predictions,
    predict: (p, m) => predictPairs(p, m, { file: opts.predictor || undefined }),
    metric: opts.metric,
    method: opts.method,
    exportDir: opts.exportDir,
  });
}

export function register(program: Command): void {
  program
    .command('dashboard')
    .description('interactive terminal dashboard of pair metrics and predictions (plain table when not on a terminal)')
    .argument('[metrics]', 'metrics.json written by `mergelens metrics` (or give --search instead)')
    .option('--search <file>', 'search.json from `mergelens search -o DIR`: the search view (best so far, best weights, Pareto front); repeat to switch between runs with r', repeatable, [])
    .option('--predictor <file>', 'predictor.json: show predicted outcome per method (default: the shipped predictor that fits the metrics, as screen picks it)')
    .option('--no-predictor', 'no predictions (no shipped predictor)')
    .option('--predictions <file>', 'precomputed predictions (JSON array of predictions) instead of --predictor')
    .option('--metric <id>', 'metric selected at start (and the column of the plain table)')
    .option('--method <id>', 'start colouring by this method’s predictions')
    .option('--export-dir <dir>', 'where `e` writes CSV/JSON exports (default: current directory)')
    .action(async (metricsPath: string | undefined, opts: OpenDashboardOptions & { search: string[] }) => {
      if (opts.search.length) {
        if (metricsPath) throw new MergelensError('USAGE', 'give either a metrics file or --search, not both', { hint: 'mergelens dashboard --search DIR/search.json' });
        await runSearchDashboard({ logs: await Promise.all(opts.search.map(loadSearchLog)) });
        return;
      }
      if (!metricsPath) throw new MergelensError('USAGE', 'no input: give a metrics file or --search DIR/search.json');
      await openDashboard(metricsPath, opts);
    });
}
