/**
 * `mergelens report metrics.json [--predictor p.json] [--study study.json] -o reports/NAME.html`:
 * one self-contained HTML compatibility report (plotly.js and data inlined, opens offline).
 * `--search DIR/search.json` (repeatable) adds the merge-recipe search section; without a
 * metrics file the page holds only that section.
 */
import path from 'node:path';
import type { Command } from 'commander';
import { loadStudy } from '../../predict/load.js';
import { predictorForMetrics } from '../../predict/choose.js';
import { loadMetricsReport, loadPredictions, loadPreflight } from '../../report/load.js';
import { renderReport } from '../../report/render.js';
import { withOutputs } from '../../util/output-policy.js';
import { formatBytes } from '../../util/progress.js';
import { parseNumber } from './fit.js';
import { info, repeatable } from '../io.js';
import { MergelensError } from '../../errors.js';
import { loadSearchLog } from '../../report/search-load.js';
import { runLabel, searchViewModel } from '../../report/search-view.js';
import { renderSearchReport } from '../../report/search-page.js';

export function register(program: Command): void {
  program
    .command('report')
    .description('write a self-contained HTML compatibility report (opens offline from disk)')
    .argument('[metrics]', 'metrics JSON (from `mergelens metrics`); optional with --search')
    .option('--predictor <file>', 'predictor JSON (from `mergelens fit`): adds predicted performance per method and fingerprints (default: the shipped predictor that fits the metrics, as screen picks it)')
    .option('--no-predictor', 'leave predictions out (no shipped predictor)')
    .option('--study <file>', 'study JSON or CSV: adds predicted-vs-actual plots')
    .option('--predictions <file>', 'predictions JSON (from `mergelens predict --json`) instead of computing them from --predictor')
    .option('--preflight <file>', 'pre-flight result (`mergelens check --json > check.json`): its errors and warnings go in the summary')
    .option('--search <file>', 'search.json from `mergelens search -o DIR` (repeat for several runs, e.g. seeds or starts, shown side by side): adds the search section', repeatable, [])
    .option('--title <text>', 'report title')
    .option('--max-points <n>', 'most points per per-layer/per-tensor series (longer ones are down-sampled)', parseNumber('--max-points', 2))
    .option('-o, --out <file>', 'output HTML file (default: reports/<metrics name>.html)')
    .option('-f, --force', 'replace a previous mergelens report at the output path (never an input or an unrelated file)')
    .action(async (metricsPath: string | undefined, o) => {
      const searchFiles: string[] = o.search;
      if (!metricsPath) {
        if (!searchFiles.length) throw new MergelensError('USAGE', 'no input: give a metrics file, --search DIR/search.json, or both');
        const other = (['predictor', 'study', 'predictions', 'preflight'] as const).find((k) => typeof o[k] === 'string');
        if (other) throw new MergelensError('USAGE', `--${other} needs a metrics file`, { hint: 'mergelens report METRICS.json --search DIR/search.json …' });
      }
      const out: string = o.out ?? path.join('reports', `${metricsPath ? path.basename(metricsPath).replace(/\.json$/i, '') : `${runLabel(searchFiles[0])}-search`}.html`);
      const inputs: (string | undefined)[] = [metricsPath, o.predictor, o.study, o.predictions, o.preflight, ...searchFiles];
      // Output policy: never an input, only a previous report with --force, locked, writable — checked first.
      await withOutputs([{ path: out, kind: 'report', flag: '-o' }], { inputs, force: o.force }, async ([output]) => {
        const search = searchFiles.length ? searchViewModel(await Promise.all(searchFiles.map(loadSearchLog))) : undefined;
        if (!metricsPath) {
          const html = renderSearchReport(search!, { title: o.title });
          await output.write(html);
          process.stdout.write(`wrote ${out} (${formatBytes(Buffer.byteLength(html))})\n`);
          return;
        }
        const metrics = await loadMetricsReport(metricsPath);
        // Picked as screen picks it (choose.ts): --predictor, else the shipped one that fits the metrics.
        const predictor = (await predictorForMetrics(metrics, { explicit: o.predictor, predictions: !!o.predictions, study: o.study, log: (l) => info(l) }))?.predictor;
        const study = o.study ? await loadStudy(o.study) : undefined;
        const predictions = o.predictions ? await loadPredictions(o.predictions) : undefined;
        const preflight = o.preflight ? await loadPreflight(o.preflight) : undefined;
        const html = renderReport({
          metrics,
          predictor,
          study,
          predictions,
          preflight,
          search,
          title: o.title,
          downsample: o.maxPoints ? { maxPoints: o.maxPoints } : undefined,
        });
        await output.write(html);
        process.stdout.write(`wrote ${out} (${formatBytes(Buffer.byteLength(html))})\n`);
      });
    });
}
