/**
 * `mergelens dashboard METRICS.json [--predictor P.json]`: the interactive terminal dashboard
 * (plain table when not on a terminal). `openDashboard` is the hook `screen --tui` calls.
 */
import { promises as fsp } from 'node:fs';
import type { Command } from 'commander';
import { MergelensError } from '../../errors.js';
import { runDashboard } from '../../dashboard/run.js';
import { loadPairMetricsInput, loadPredictor } from '../../predict/load.js';
import { predictPairs } from '../../predict/predict.js';
import type { MetricsReport, Prediction, PredictorFile } from '../../types.js';

export interface OpenDashboardOptions {
  predictor?: string;
  predictions?: string;
  metric?: string;
  method?: string;
  exportDir?: string;
}

async function loadMetricsReport(file: string): Promise<MetricsReport> {
  const m = await loadPairMetricsInput(file);
  if (Array.isArray(m)) {
    throw new MergelensError('BAD_INPUT', 'the dashboard needs a full metrics report (with experts and matrices), not a list of pairs', {
      file,
      hint: 'create one with: mergelens metrics BASE EXPERT... -o metrics.json',
    });
  }
  return m;
}

/** Prediction[] as JSON, or an object with a `predictions` array. */
async function loadPredictions(file: string): Promise<Prediction[]> {
  let json: unknown;
  try {
    json = JSON.parse(await fsp.readFile(file, 'utf8'));
  } catch (e) {
    throw new MergelensError('BAD_INPUT', `cannot read predictions (${(e as Error).message})`, { file });
  }
  const list = Array.isArray(json) ? json : (json as { predictions?: unknown })?.predictions;
  if (!Array.isArray(list)) throw new MergelensError('BAD_INPUT', 'expected an array of predictions or {predictions: [...]}', { file });
  list.forEach((p, k) => {
    const ok = p && typeof p.a === 'string' && typeof p.b === 'string' && typeof p.method === 'string' && typeof p.predicted === 'number' && typeof p.lo === 'number' && typeof p.hi === 'number';
    if (!ok) throw new MergelensError('BAD_INPUT', `[${k}] must have a, b, method (strings) and predicted, lo, hi (numbers)`, { file });
    if (!Array.isArray(p.drivers)) p.drivers = [];
  });
  return list as Prediction[];
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
