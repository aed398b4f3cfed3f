/**
 * `mergelens sweep-curve STUDY`: how well would a budgeted sweep have done on this complete study?
 * For each budget, the informative selection and random selections are fitted and scored on the
 * merges they left out (src/sweep/curve.ts). Prints markdown tables; --json writes the numbers.
 *
 *   mergelens sweep-curve reports/study.json      # the table in docs/sweep.md
 */
import type { Command } from 'commander';
import { MergelensError } from '../../errors.js';
import { loadStudy } from '../../predict/load.js';
import { curveToMarkdown, defaultBudgets, learningCurve } from '../../sweep/curve.js';
import { withOutputs } from '../../util/output-policy.js';
import { parseList, parseNumber } from './fit.js';

export function register(program: Command): void {
  program
    .command('sweep-curve')
    .description('learning curve of budgeted sweeps on a complete study: informative vs random selection, held-out r and RMSE')
    .argument('<study>', 'study JSON or CSV with every pair × method evaluated (e.g. reports/study.json)')
    .option('--budgets <list>', 'numbers of evaluated merges (default: 5%…67% of the study)', parseList)
    .option('--seeds <n>', 'random selections per budget', parseNumber('--seeds', 2), 10)
    .option('--all-metrics', 'use gradient/activation metrics too (default: weights-only, what a sweep computes)')
    .option('--json <file>', 'also write the curve as JSON')
    .option('-f, --force', 'replace a previous sweep-curve JSON at --json (never the study or an unrelated file)')
    .action(async (studyPath: string, o: { budgets?: string[]; seeds: number; allMetrics?: boolean; json?: string; force?: boolean }) => {
      // Output policy (docs/cli.md): the --json file is checked and locked before the work.
      await withOutputs(o.json ? [{ path: o.json, kind: 'sweep-curve', flag: '--json' }] : [], { inputs: [studyPath], force: o.force }, async ([jsonOut]) => {
        const ds = await loadStudy(studyPath);
        const total = ds.rows.length;
        const budgets = (o.budgets ?? defaultBudgets(total).map(String)).map((b) => {
          const n = Number(b);
          if (!Number.isInteger(n) || n < 1 || n >= total) throw new MergelensError('BAD_PARAM', `--budgets: "${b}" must be an integer in [1, ${total - 1}]`);
          return n;
        });
        const curve = learningCurve(ds, { budgets, randomSeeds: Math.round(o.seeds), exclude: o.allMetrics ? [] : undefined });
        process.stdout.write(`${ds.description}\n${total} merges (${curve.pairs} pairs × ${curve.methods.length} methods), ${curve.features.length} features\n\n`);
        process.stdout.write(curveToMarkdown(curve));
        await jsonOut?.write(JSON.stringify(curve, null, 2) + '\n');
      });
    });
}
