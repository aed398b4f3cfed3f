/**
 * `mergelens report metrics.json [--predictor p.json] [--study study.json] -o reports/NAME.html`:
 * one self-contained HTML compatibility report (plotly.js and data inlined, opens offline).
 */
import path from 'node:path';
import type { Command } from 'commander';
import { MergelensError } from '../../errors.js';
import { loadPredictor, loadStudy } from '../../predict/load.js';
import { loadMetricsReport, loadPredictions, loadPreflight } from '../../report/load.js';
import { writeReport } from '../../report/render.js';
import { formatBytes } from '../../util/progress.js';
import { parseNumber } from './fit.js';

export function register(program: Command): void {
  program
    .command('report')
    .description('write a self-contained HTML compatibility report (opens offline from disk)')
    .argument('<metrics>', 'metrics JSON (from `mergelens metrics`)')
    .option('--predictor <file>', 'predictor JSON (from `mergelens fit`): adds predicted performance per method and fingerprints')
    .option('--study <file>', 'study JSON or CSV: adds predicted-vs-actual plots')
    .option('--predictions <file>', 'predictions JSON (from `mergelens predict --json`) instead of computing them from --predictor')
    .option('--preflight <file>', 'pre-flight result (`mergelens check --json > check.json`): its errors and warnings go in the summary')
    .option('--title <text>', 'report title')
    .option('--max-points <n>', 'most points per per-layer/per-tensor series (longer ones are down-sampled)', parseNumber('--max-points', 2))
    .option('-o, --out <file>', 'output HTML file (default: reports/<metrics name>.html)')
    .action(async (metricsPath: string, o) => {
      const out: string = o.out ?? path.join('reports', `${path.basename(metricsPath).replace(/\.json$/i, '')}.html`);
      const inputs = [metricsPath, o.predictor, o.study, o.predictions, o.preflight].filter(Boolean).map((p: string) => path.resolve(p));
      if (inputs.includes(path.resolve(out))) {
        throw new MergelensError('BAD_INPUT', 'the output would overwrite an input file', { file: out, hint: 'choose another -o path' });
      }
      const metrics = await loadMetricsReport(metricsPath);
      const predictor = o.predictor ? await loadPredictor(o.predictor) : undefined;
      const study = o.study ? await loadStudy(o.study) : undefined;
      const predictions = o.predictions ? await loadPredictions(o.predictions) : undefined;
      const preflight = o.preflight ? await loadPreflight(o.preflight) : undefined;
      const bytes = await writeReport(out, {
        metrics,
        predictor,
        study,
        predictions,
        preflight,
        title: o.title,
        downsample: o.maxPoints ? { maxPoints: o.maxPoints } : undefined,
      });
      process.stdout.write(`wrote ${out} (${formatBytes(bytes)})\n`);
    });
}
