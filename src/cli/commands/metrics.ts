/**
 * `mergelens metrics`: every pairwise mergeability metric of N experts in one streaming pass.
 *
 *   mergelens metrics BASE EXPERT... [--grads F...] [--acts F...] [--include G] [--exclude G]
 *                     [--trim 0.2] [--k 10] [--shard i/n] -o metrics.json [--csv metrics.csv]
 *   mergelens metrics merge-partials P1.json P2.json ... -o metrics.json [--csv metrics.csv]
 *
 * With --shard the output is a partial file (accumulated sums of that shard's tensors), to be
 * combined with merge-partials. A thin shell over computeMetricsPartial / combinePartials.
 */
import { promises as fsp } from 'node:fs';
import type { Command } from 'commander';
import type { Checkpoint, MetricsReport } from '../../types.js';
import { MergelensError } from '../../errors.js';
import { openCheckpoint, openCheckpoints } from '../../checkpoint/open.js';
import { combinePartials, shardsComplete, type MetricsPartial } from '../../metrics/accumulators.js';
import { metricsCsv } from '../../metrics/csv.js';
import { computeMetricsPartialParallel } from '../../metrics/parallel.js';
import { finalizeReport } from '../../metrics/finalize.js';
import { claimOutputs, type OutputClaim } from '../../util/output-policy.js';
import { checkpointFiles } from '../../checkpoint/fingerprint.js';
import { checkSharedTensors, screenExperts } from '../../check/screen-inputs.js';
import { assertInputsUnchanged } from '../../checkpoint/unchanged.js';
import { info, progressSink, warn } from '../io.js';
import { addEngineOptions, engineSettings, type EngineCliOptions } from '../engine-options.js';

interface MetricsCliOptions extends EngineCliOptions {
  allowDifferentBase?: boolean;
  grads?: string[];
  acts?: string[];
  include: string[];
  exclude: string[];
  trim: string;
  subspace: boolean;
  wholeLimit?: string;
  chunkElements?: string;
  shard?: string;
  out: string;
  csv?: string;
  force?: boolean;
  progress: boolean;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];
/** --grads a b c, --grads a,b,c and repeated --grads all give one list. */
const splitList = (list: string[] | undefined) => list?.flatMap((x) => x.split(',')).filter((x) => x !== '');

function num(flag: string, text: string, integer: boolean): number {
  const v = Number(text);
  if (text.trim() === '' || !Number.isFinite(v) || (integer && !Number.isInteger(v))) {
    throw new MergelensError('BAD_PARAM', `${flag} must be ${integer ? 'an integer' : 'a number'}, got "${text}"`);
  }
  return v;
}

/** Claim -o (and --csv) under the output policy before any work: inputs, --force, lock, writable. */
function claimMetricsOutputs(o: { out: string; csv?: string; force?: boolean }, inputs: (string | undefined)[]): Promise<OutputClaim> {
  return claimOutputs(
    [{ path: o.out, kind: 'metrics', flag: '-o' }, ...(o.csv ? [{ path: o.csv, kind: 'metrics-csv' as const, flag: '--csv' }] : [])],
    { inputs, force: o.force },
  );
}

async function writeOutputs(claim: OutputClaim, report: MetricsReport | MetricsPartial): Promise<void> {
  const [json, csv] = claim.outputs;
  await json.write(JSON.stringify(report, null, 1) + '\n');
  if (csv && report.format === 'mergelens.metrics') await csv.write(metricsCsv(report));
}

async function runMetrics(basePath: string, expertPaths: string[], o: MetricsCliOptions): Promise<void> {
  if (o.csv && o.shard) throw new MergelensError('USAGE', '--csv needs a complete report; a --shard run writes a partial file (merge the partials first, then --csv)');
  // Every option is read before any file is opened: a bad value is a usage error at once.
  const grads = splitList(o.grads);
  const acts = splitList(o.acts);
  const settings = {
    ...engineSettings(o),
    grads,
    acts,
    include: o.include,
    exclude: o.exclude,
    trimFraction: num('--trim', o.trim, false),
    subspace: o.subspace,
    wholeTensorElements: o.wholeLimit === undefined ? undefined : num('--whole-limit', o.wholeLimit, true),
    chunkElements: o.chunkElements === undefined ? undefined : num('--chunk-elements', o.chunkElements, true),
    shard: o.shard,
  };
  const opened: Checkpoint[] = [];
  let claim: OutputClaim | undefined;
  try {
    const base = await openCheckpoint(basePath);
    opened.push(base);
    const experts = await openCheckpoints(expertPaths);
    opened.push(...experts);
    claim = await claimMetricsOutputs(o, [...opened.flatMap((c) => [c.path, ...checkpointFiles(c).map((f) => f.path)]), ...(grads ?? []), ...(acts ?? [])]);
    // The pre-flight gate merge has (check/screen-inputs.ts): an expert of another base is refused,
    // one identical to the base dropped with a warning; --grads/--acts files must share tensors.
    const gate = await screenExperts(base, experts, { allowDifferentBase: o.allowDifferentBase, onWarning: warn });
    const pick = <T>(list: T[] | undefined) => list && (list.length === experts.length ? gate.keep.map((i) => list[i]) : list);
    for (const [flag, list] of [['--grads', pick(grads)], ['--acts', pick(acts)]] as const) {
      const note = list && list.length > 1 ? await checkSharedTensors(list, flag) : undefined;
      if (note) warn(note);
    }
    const progress = progressSink(o);
    const partial = await computeMetricsPartialParallel(base, gate.keep.map((i) => experts[i]), { ...settings, grads: pick(grads), acts: pick(acts), onProgress: progress });
    progress.finish();
    // Inputs rewritten during the pass would mix old and new values: refuse before writing (INPUT_CHANGED).
    await assertInputsUnchanged(opened);
    const result = o.shard && !shardsComplete(partial.shards) ? partial : finalizeReport(partial);
    await writeOutputs(claim, result);
    for (const w of result.warnings) warn(w);
    info(
      result.format === 'mergelens.metrics'
        ? `wrote ${o.out}: ${result.experts.length} experts, ${(result as MetricsReport).pairs.length} pairs, ${result.stats.tensors} tensors`
        : `wrote partial ${o.out} (shard ${partial.shards[0]}, ${result.stats.tensors} tensors); combine with \`mergelens metrics merge-partials\``,
    );
  } finally {
    await claim?.release();
    await Promise.all(opened.map((c) => c.close()));
  }
}

async function readPartial(file: string): Promise<MetricsPartial> {
  const text = await fsp.readFile(file, 'utf8').catch(() => {
    throw new MergelensError('NOT_FOUND', 'cannot read partial metrics file', { file });
  });
  try {
    return JSON.parse(text) as MetricsPartial;
  } catch (e) {
    throw new MergelensError('BAD_INPUT', `not valid JSON: ${(e as Error).message}`, { file });
  }
}

async function runMergePartials(files: string[], o: { out: string; csv?: string; force?: boolean }): Promise<void> {
  const claim = await claimMetricsOutputs(o, files);
  try {
    const parts = await Promise.all(files.map(readPartial));
    const combined = combinePartials(parts, (i) => files[i]);
    if (!shardsComplete(combined.shards)) {
      throw new MergelensError('BAD_INPUT', `shards ${combined.shards.join(', ')} do not cover the whole model`, { hint: 'pass one partial per shard i/n, i = 1..n' });
    }
    const report = finalizeReport(combined);
    await writeOutputs(claim, report);
    info(`wrote ${o.out}: merged ${files.length} partials, ${report.stats.tensors} tensors`);
  } finally {
    await claim.release();
  }
}

export function register(program: Command): void {
  // `merge-partials` is dispatched from the action rather than as a commander sub-command, so
  // that -o/--csv/--force mean the same in both forms (a parent's options would swallow them).
  const cmd = program
    .command('metrics')
    .usage('BASE EXPERT... [options] -o metrics.json\n       mergelens metrics merge-partials PARTIAL... -o metrics.json')
    .description('Pairwise mergeability metrics of all experts against their base, in one streaming pass; `metrics merge-partials P1 P2 ... -o out.json` combines --shard outputs')
    .argument('<base>', 'base checkpoint (.safetensors file or HF folder), or `merge-partials`')
    .argument('[experts...]', 'expert checkpoints (files, HF folders or PEFT LoRA folders), at least 2; or the partial files')
    .option('--grads <files...>', 'gradient safetensors file per expert, in expert order (tensor `input` = input gradient; comma-separated or space-separated)')
    .option('--acts <files...>', 'activation safetensors file per expert, in expert order')
    .option('--include <glob>', 'only tensors matching this glob or /regex/ (repeatable)', collect, [])
    .option('--exclude <glob>', 'skip tensors matching this glob or /regex/ (repeatable)', collect, [])
    .option('--trim <fraction>', 'top-k fraction kept per tensor for trimmed sign metrics (TIES density)', '0.2')
    .option('--no-subspace', 'skip the subspace family (SVDs)')
    .option('--whole-limit <elements>', 'override: tensors up to this many elements are read whole, bigger ones in row chunks')
    .option('--chunk-elements <elements>', 'override: row-chunk size, elements, for tensors not read whole')
    .option('--shard <i/n>', 'only the i-th of n tensor ranges; writes a partial file for merge-partials')
    .requiredOption('-o, --out <file>', 'output metrics JSON')
    .option('--csv <file>', 'also write one CSV row per pair')
    .option('-f, --force', 'replace previous metrics outputs at -o/--csv (never an input or an unrelated file)')
    .option('--allow-different-base', 'compute metrics even for experts the pre-flight check says do not descend from the base')
    .option('--no-progress', 'no progress on stderr');
  addEngineOptions(cmd).action(async (base: string, rest: string[], o: MetricsCliOptions) => {
    if (base === 'merge-partials') {
      if (rest.length === 0) throw new MergelensError('USAGE', 'no partial files given', { hint: 'mergelens metrics merge-partials P1.json P2.json ... -o metrics.json' });
      await runMergePartials(rest, o);
      return;
    }
    if (rest.length < 2) throw new MergelensError('USAGE', `need at least 2 experts, got ${rest.length}`, { hint: 'mergelens metrics BASE EXPERT1 EXPERT2 ... -o metrics.json' });
    await runMetrics(base, rest, o);
  });
}
