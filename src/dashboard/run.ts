/**
 * Entry point used by `mergelens dashboard` and `mergelens screen --tui`: the interactive ink
 * app on a terminal, a plain text table otherwise (pipes, CI logs, `| less`).
 */
import { createElement } from 'react';
import { render } from 'ink';
import { MergelensError } from '../errors.js';
import { predictPairs } from '../predict/predict.js';
import type { MetricsReport, Prediction, PredictorFile } from '../types.js';
import { App } from './App.js';
import { escapeMetricsReport, escapePredictions, escapePredictor } from './escape-input.js';
import { type DashboardData, plainTable, prepareData } from './view-model.js';
import type { DashView } from './state.js';
import { formatVerdict } from '../predict/format.js';

export interface RunDashboardOptions {
  metrics: MetricsReport;
  /** Predictions to show; when absent and `predictor` is given, `predict` computes them. */
  predictions?: Prediction[];
  predictor?: PredictorFile;
  /** Computes predictions from a predictor; default predictPairs. */
  predict?: (predictor: PredictorFile, metrics: MetricsReport) => Prediction[];
  /** Metric / method selected at start. */
  metric?: string;
  method?: string;
  /** View at start: `screen --tui` opens on the best-method verdict. */
  view?: DashView;
  exportDir?: string;
  stdout?: NodeJS.WriteStream;
  stdin?: NodeJS.ReadStream;
}

export function dashboardData(opts: RunDashboardOptions): DashboardData {
  let predictions = opts.predictions;
  if (!predictions && opts.predictor) predictions = (opts.predict ?? predictPairs)(opts.predictor, opts.metrics);
  // Predictions are computed on the raw inputs; only what is displayed is escaped.
  const data = prepareData({ metrics: escapeMetricsReport(opts.metrics), predictions: escapePredictions(predictions), predictor: escapePredictor(opts.predictor) });
  if (opts.metric && !data.metricIds.includes(opts.metric)) {
    throw new MergelensError('MISSING_METRICS', `metric "${opts.metric}" is not in the metrics file`, { hint: `available: ${data.metricIds.join(', ')}` });
  }
  if (opts.method && !data.methods.includes(opts.method)) {
    throw new MergelensError('UNKNOWN_METHOD', `no predictions for method "${opts.method}"`, {
      hint: data.methods.length ? `available: ${data.methods.join(', ')}` : 'pass --predictor or --predictions',
    });
  }
  return data;
}

/** Alternate screen: the dashboard takes the whole terminal and gives it back intact on quit. */
export const ENTER_ALT = '\u001B[?1049h\u001B[H';
export const LEAVE_ALT = '\u001B[?1049l';

/**
 * Whether to draw the interactive dashboard: a terminal on stdout and stdin (raw keys) and no CI
 * (ink draws only the final frame when CI/CONTINUOUS_INTEGRATION is set); says so on stderr
 * when CI is the reason.
 */
export function interactiveTerminal(stdout: NodeJS.WriteStream, stdin: NodeJS.ReadStream): boolean {
  const ci = ['CI', 'CONTINUOUS_INTEGRATION'].some((k) => k in process.env && process.env[k] !== '0' && process.env[k] !== 'false');
  if (stdout.isTTY && stdin.isTTY && !ci) return true;
  if (stdout.isTTY && ci) process.stderr.write('mergelens: CI environment detected (CI is set): printing a table; unset CI for the interactive dashboard\n');
  return false;
}

/**
 * Show the dashboard. Without a terminal on both stdout and stdin (raw keys are needed), print the
 * plain table instead. Resolves when the user quits.
 */
export async function runDashboard(opts: RunDashboardOptions): Promise<void> {
  const data = dashboardData(opts);
  const stdout = opts.stdout ?? process.stdout;
  const stdin = opts.stdin ?? process.stdin;
  if (!interactiveTerminal(stdout, stdin)) {
    // Opened on the verdict (screen --tui): print the verdict screen would print, then the table.
    if (opts.view === 'verdict' && data.verdict) stdout.write(`${formatVerdict(data.verdict, { outcome: data.outcome })}\n\n`);
    stdout.write(plainTable(data, opts.metric ?? data.metricIds[0] ?? ''));
    return;
  }
  // The alternate screen is gone after quitting, so repeat the export paths on the normal one.
  const exported: string[] = [];
  const onExport = (p: { csvPath: string; jsonPath: string }) => exported.push(p.csvPath, p.jsonPath);
  stdout.write(ENTER_ALT);
  try {
    const app = render(createElement(App, { data, exportDir: opts.exportDir, initial: { metric: opts.metric, method: opts.method, view: opts.view }, onExport }), {
      stdout,
      stdin,
      patchConsole: false,
    });
    await app.waitUntilExit();
  } finally {
    stdout.write(LEAVE_ALT);
  }
  for (const f of exported) stdout.write(`exported ${f}\n`);
}
