/**
 * `mergelens screen BASE EXPERT...`: compute every pair's metrics in one streamed pass, predict
 * each merge method's outcome with a fitted predictor, and print the ranked verdict — best pairs,
 * best method per pair, pairs to avoid, and the metrics driving each prediction.
 */
import type { Command } from 'commander';
import { MergelensError } from '../../errors.js';
import { openCheckpoints } from '../../checkpoint/open.js';
import { choosePredictor } from '../../predict/choose.js';
import { pairMetricsFromReport, predictPairs, rankPairs } from '../../predict/predict.js';
import { screenGroups } from '../../predict/group-screen.js';
import { formatGroupScreen, groupsToCsv } from '../../predict/group-format.js';
import { formatVerdict, predictionsToCsv } from '../../predict/format.js';
import { buildVerdict } from '../../predict/verdict.js';
import { claimOutputs, type OutputRequest } from '../../util/output-policy.js';
import { checkpointFiles } from '../../checkpoint/fingerprint.js';
import { info, numberOption, progressSink, warn } from '../io.js';
import { escapeControlKeepNewlines } from '../../util/terminal.js';
import { checkSharedTensors, screenExperts } from '../../check/screen-inputs.js';
import { assertInputsUnchanged } from '../../checkpoint/unchanged.js';
import { parseList, parseNumber } from './fit.js';
import { addEngineOptions, engineSettings, familiesNeeded } from '../engine-options.js';
import { inMergekit } from '../../merge/mergekit/emit.js';
import { formatCosts, mergeCost } from '../../merge/mergekit/cost.js';
import { handoffFiles, writeHandoff } from '../../merge/mergekit/handoff.js';
import { isFloatDType, FLOAT_DTYPE_BYTES } from '../../safetensors/dtype.js';
import type { Checkpoint, PredictorFile } from '../../types.js';

/** `--methods mergekit` (a preset): the predictor's methods that mergekit can run; other names as given. */
function expandMethods(list: string[] | undefined, pf: PredictorFile): string[] | undefined {
  if (!list) return undefined;
  return [...new Set(list.flatMap((m) => (m === 'mergekit' ? Object.keys(pf.methods).filter(inMergekit) : [m])))];
}

/** Stored bytes of the float tensors of one checkpoint (merge cost estimates). */
function checkpointBytes(c: Checkpoint): number {
  let total = 0;
  for (const name of c.tensorNames()) {
    const loc = c.location(name);
    if (loc && isFloatDType(loc.dtype)) total += loc.shape.reduce((a, b) => a * b, 1) * FLOAT_DTYPE_BYTES[loc.dtype];
  }
  return total;
}

const collect = (v: string, prev: string[] = []) => [...prev, ...parseList(v)];

/** Group sizes asked for (--group-size k, or 3..k with --max-group k), checked before the metrics pass. */
function groupSizesOf(o: { groupSize?: number; maxGroup?: number }, experts: number, chosen: { path: string; predictor: PredictorFile }): number[] | undefined {
  if (o.groupSize === undefined && o.maxGroup === undefined) return undefined;
  if (o.groupSize !== undefined && o.maxGroup !== undefined) throw new MergelensError('USAGE', 'give --group-size k (one size) or --max-group k (sizes 3..k), not both');
  const k = (o.groupSize ?? o.maxGroup)!;
  if (k > experts) throw new MergelensError('USAGE', `--${o.groupSize !== undefined ? 'group-size' : 'max-group'} ${k} needs at least ${k} experts, got ${experts}`);
  if (!chosen.predictor.groups || Object.keys(chosen.predictor.groups.methods).length === 0) {
    throw new MergelensError('BAD_INPUT', 'this predictor has no group models (it was fitted on pairs only), so it cannot screen groups', {
      file: chosen.path,
      hint: 'fit one on a study with groups and pass it with --predictor: `mergelens study` writes mergelens-out/study/predictor.json (built-in zoo); for your own experts `mergelens sweep --group-size K …` then `mergelens fit STUDY.json -o predictor.json`',
    });
  }
  return o.groupSize !== undefined ? [k] : Array.from({ length: k - 2 }, (_, i) => i + 3);
}

export function register(program: Command): void {
  program
    .command('screen')
    .description('compute metrics for every pair of experts, predict merge outcomes per method, and rank the pairs')
    .argument('<base>', 'base model checkpoint')
    .argument('<experts...>', 'fine-tuned expert checkpoints (≥ 2)')
    .option('--predictor <file>', 'predictor JSON (default: the shipped one that fits your inputs)')
    .option('--grads <files>', 'gradient safetensors per expert, in expert order (comma-separated or repeated)', collect)
    .option('--acts <files>', 'activation safetensors per expert, in expert order (comma-separated or repeated)', collect)
    .option('--methods <list>', 'only these merge methods; `mergekit` = those mergekit can run', parseList)
    .option('--top <n>', 'pairs to list', parseNumber('--top', 1))
    .option('--json', 'print the full result as JSON')
    .option('-o, --out <file>', 'also write the full result as JSON to this file')
    .option('--csv <file>', 'also write one CSV row per pair × method to this file')
    .option('--save-metrics <file>', 'also write the metrics report')
    .option('-f, --force', 'replace previous outputs of screen at -o/--csv/--save-metrics (never an input)')
    .option('--allow-different-base', 'screen even experts the pre-flight check says do not descend from the base')
    .option('--tui', 'open the interactive terminal dashboard on the result')
    .option('--group-size <k>', 'also choose the best group of k ≥ 3 experts and its method (the predictor\'s group models); --csv then holds the groups', numberOption('--group-size', { min: 3, integer: true }))
    .option('--max-group <k>', 'as --group-size, for every group size from 3 to k', numberOption('--max-group', { min: 3, integer: true }))
    .option('--emit <dir>', 'write a mergekit YAML and the equivalent `mergelens merge` command per recommended pair (--top of them, default 5) into this folder')
    .option('--no-progress', 'no progress on stderr');
  addEngineOptions(program.commands[program.commands.length - 1])
    .action(async (basePath: string, expertPaths: string[], o) => {
      if (expertPaths.length < 2) throw new MergelensError('USAGE', 'screen needs at least 2 experts to form a pair');
      for (const [flag, files] of [['--grads', o.grads], ['--acts', o.acts]] as const) {
        if (files && files.length !== expertPaths.length) {
          throw new MergelensError('USAGE', `${flag} got ${files.length} file(s) for ${expertPaths.length} experts`, { hint: `give one file per expert, in the same order` });
        }
      }
      // Choose (and validate) the predictor before the expensive pass, so a mismatch fails fast.
      const chosen = await choosePredictor({ explicit: o.predictor, grads: !!o.grads, acts: !!o.acts });
      const groupSizes = groupSizesOf(o, expertPaths.length, chosen);
      const methods = expandMethods(o.methods, chosen.predictor);
      // Fast screen: the parallel engine with metrics' knobs, and only the families the predictor uses.
      const engine = { ...engineSettings(o), subspace: familiesNeeded(chosen.predictor, methods).has('subspace') };
      const [base, ...experts] = await openCheckpoints([basePath, ...expertPaths]);
      const bytesPerCheckpoint = checkpointBytes(base);
      // Outputs are claimed before the pass (output policy: never an input, --force, lock, writable).
      const requests: OutputRequest[] = [
        ...(o.out ? [{ path: o.out, kind: 'predictions' as const, flag: '-o' }] : []),
        ...(o.csv ? [{ path: o.csv, kind: 'predictions' as const, flag: '--csv' }] : []),
        ...(o.saveMetrics ? [{ path: o.saveMetrics, kind: 'metrics' as const, flag: '--save-metrics' }] : []),
        ...(o.emit ? [{ path: o.emit, kind: 'merge-handoff' as const, folder: true, flag: '--emit' }] : []),
      ];
      const inputs = [...[base, ...experts].flatMap((c) => [c.path, ...checkpointFiles(c).map((f) => f.path)]), ...(o.grads ?? []), ...(o.acts ?? []), chosen.path];
      const claim = await claimOutputs(requests, { inputs, force: o.force }).catch(async (e) => {
        await Promise.all([base, ...experts].map((c) => c.close()));
        throw e;
      });
      const output = (flag: string) => claim.outputs.find((x, i) => requests[i].flag === flag);
      try {
        const progress = progressSink(o);
        let report;
        try {
          const { computeMetricsPartialParallel } = await import('../../metrics/parallel.js');
          const { finalizeReport } = await import('../../metrics/finalize.js');
          // The pre-flight gate merge has (check/screen-inputs.ts): another base refused, a copy of the base dropped.
          const gate = await screenExperts(base, experts, { allowDifferentBase: o.allowDifferentBase, onWarning: warn });
          const pick = (list: string[] | undefined) => list && (list.length === experts.length ? gate.keep.map((i) => list[i]) : list);
          for (const [flag, list] of [['--grads', pick(o.grads)], ['--acts', pick(o.acts)]] as const) {
            const note = list && list.length > 1 ? await checkSharedTensors(list, flag) : undefined;
            if (note) warn(note);
          }
          report = finalizeReport(await computeMetricsPartialParallel(base, gate.keep.map((i) => experts[i]), { ...engine, grads: pick(o.grads), acts: pick(o.acts), onProgress: progress }));
          await assertInputsUnchanged([base, ...experts]);
        } finally {
          progress.finish();
          await Promise.all([base, ...experts].map((c) => c.close()));
        }
        await output('--save-metrics')?.write(JSON.stringify(report, null, 2) + '\n');
        const predictions = predictPairs(chosen.predictor, report, { methods, file: chosen.path });
        const ranking = rankPairs(predictions);
        // The one verdict (verdict.ts): ties, best method, pairs to avoid, domain, out-of-fold quality.
        const verdict = buildVerdict(predictions, chosen.predictor);
        const about = { path: chosen.path, reason: chosen.reason, fittedOn: chosen.predictor.fittedOn, outcome: chosen.predictor.outcome };
        const costs = [...new Set(predictions.map((p) => p.method))].map((m) => mergeCost(m, bytesPerCheckpoint));
        // Groups of k ≥ 3 from the same pair metrics (group-screen.ts): subset search, method, interval, domain.
        const groups = groupSizes && screenGroups(chosen.predictor.groups, pairMetricsFromReport(report), { sizes: groupSizes, methods, top: o.top ?? 5, file: chosen.path });
        const full = { predictor: about, experts: report.experts, warnings: report.warnings, verdict, predictions, ranking, costs, ...(groups ? { groups } : {}) };
        await output('-o')?.write(JSON.stringify(full, null, 2) + '\n');
        await output('--csv')?.write(groups ? groupsToCsv(groups) : predictionsToCsv(predictions));
        const emit = output('--emit');
        if (emit) {
          const paths = Object.fromEntries(report.experts.map((name, i) => [name, expertPaths[i]]));
          // The verdict's recommendation: the pairs tied with the top one (its best usable method each).
          const recommended = (verdict.lead.length ? verdict.lead : verdict.pairs).slice(0, o.top ?? 5);
          const files = handoffFiles({ basePath, expertPaths: paths, pairs: recommended.map((d) => ({ a: d.a, b: d.b, best: d.best, tied: d.bestMethod ? [] : d.tiedMethods })), predictor: chosen.path, outcome: about.outcome });
          const tmp = emit.tempPath();
          await writeHandoff(tmp, files);
          await emit.commit(tmp);
          info(`mergelens: wrote ${files.length - 1} merge config(s) and merge.sh to ${o.emit}`);
        }
        if (o.tui) {
          // Loaded lazily: ink/react are only needed for the dashboard.
          const { runDashboard } = await import('../../dashboard/run.js');
          await runDashboard({ metrics: report, predictor: chosen.predictor, predictions, view: 'verdict' });
          return;
        }
        if (o.json) {
          process.stdout.write(JSON.stringify(full, null, 2) + '\n');
          return;
        }
        for (const w of report.warnings) warn(w);
        // Expert, metric and method names come from files: control characters shown escaped.
        process.stdout.write(
          escapeControlKeepNewlines(`Predictor: ${about.path} (${about.reason})\nFitted on: ${about.fittedOn}\n\n${formatVerdict(verdict, { top: o.top, outcome: about.outcome })}\n`) +
            `\n${formatCosts(costs, bytesPerCheckpoint)}\n` +
            (groups ? escapeControlKeepNewlines(`\n${formatGroupScreen(groups)}\n`) : ''),
        );
      } finally {
        await claim.release();
      }
    });
}
