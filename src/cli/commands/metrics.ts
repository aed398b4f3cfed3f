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
import { assertWritable, writeFileAtomic } from '../../util/atomic.js';
import { stderrProgress } from '../../util/progress.js';

interface MetricsCliOptions {
  grads?: string[];
  acts?: string[];
  include: string[];
  exclude: string[];
  trim: string;
  k: string;
  spectrumK: string;
  subspace: boolean;
  bottomMaxDim: string;
  exactMaxDim: string;
  memoryBudget: string;
  wholeLimit?: string;
  chunkElements?: string;
  subspaceMaxElements: string;
  shard?: string;
  threads?: string;
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

async function writeOutputs(report: MetricsReport | MetricsPartial, out: string, csv: string | undefined, force: boolean): Promise<void> {
  await assertWritable(out, force);
  if (csv) {
    if (report.format !== 'mergelens.metrics') throw new MergelensError('BAD_INPUT', '--csv needs a complete report; a --shard run writes a partial file (merge the partials first)');
    await assertWritable(csv, force);
  }
  await writeFileAtomic(out, JSON.stringify(report, null, 1) + '\n');
  if (csv && report.format === 'mergelens.metrics') await writeFileAtomic(csv, metricsCsv(report));
}

async function runMetrics(basePath: string, expertPaths: string[], o: MetricsCliOptions): Promise<void> {
  const opened: Checkpoint[] = [];
  try {
    const base = await openCheckpoint(basePath);
    opened.push(base);
    const experts = await openCheckpoints(expertPaths);
    opened.push(...experts);
    const progress = o.progress ? stderrProgress() : undefined;
    const partial = await computeMetricsPartialParallel(base, experts, {
      threads: o.threads === undefined ? undefined : num('--threads', o.threads, true),
      grads: splitList(o.grads),
      acts: splitList(o.acts),
      include: o.include,
      exclude: o.exclude,
      trimFraction: num('--trim', o.trim, false),
      subspaceK: num('--k', o.k, true),
      spectrumK: num('--spectrum-k', o.spectrumK, true),
      subspace: o.subspace,
      bottomMaxDim: num('--bottom-max-dim', o.bottomMaxDim, true),
      exactMaxDim: num('--exact-max-dim', o.exactMaxDim, true),
      memoryBudget: Math.round(num('--memory-budget', o.memoryBudget, false) * 2 ** 20),
      wholeTensorElements: o.wholeLimit === undefined ? undefined : num('--whole-limit', o.wholeLimit, true),
      chunkElements: o.chunkElements === undefined ? undefined : num('--chunk-elements', o.chunkElements, true),
      subspaceMaxElements: num('--subspace-max-elements', o.subspaceMaxElements, true),
      shard: o.shard,
      onProgress: progress,
    });
    progress?.finish();
    const result = o.shard && !shardsComplete(partial.shards) ? partial : finalizeReport(partial);
    await writeOutputs(result, o.out, o.csv, !!o.force);
    for (const w of result.warnings) process.stderr.write(`mergelens: warning: ${w}\n`);
    process.stderr.write(
      result.format === 'mergelens.metrics'
        ? `wrote ${o.out}: ${result.experts.length} experts, ${(result as MetricsReport).pairs.length} pairs, ${result.stats.tensors} tensors\n`
        : `wrote partial ${o.out} (shard ${partial.shards[0]}, ${result.stats.tensors} tensors); combine with \`mergelens metrics merge-partials\`\n`,
    );
  } finally {
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
  const parts = await Promise.all(files.map(readPartial));
  const combined = combinePartials(parts, (i) => files[i]);
  if (!shardsComplete(combined.shards)) {
    throw new MergelensError('BAD_INPUT', `shards ${combined.shards.join(', ')} do not cover the whole model`, { hint: 'pass one partial per shard i/n, i = 1..n' });
  }
  const report = finalizeReport(combined);
  await writeOutputs(report, o.out, o.csv, !!o.force);
  process.stderr.write(`wrote ${o.out}: merged ${files.length} partials, ${report.stats.tensors} tensors\n`);
}

export function register(program: Command): void {
  // `merge-partials` is dispatched from the action rather than as a commander sub-command, so
  // that -o/--csv/--force mean the same in both forms (a parent's options would swallow them).
  program
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
    .option('--k <k>', 'k for subspace overlaps', '10')
    .option('--spectrum-k <k>', 'top singular values compared by sv_overlap', '100')
    .option('--no-subspace', 'skip the subspace family (SVDs)')
    .option('--exact-max-dim <n>', 'exact SVD when min(rows, cols) ≤ n, randomised above', '512')
    .option('--bottom-max-dim <n>', 'bottom-k overlaps only when min(rows, cols) ≤ n (needs the exact SVD)', '512')
    .option('--memory-budget <MiB>', 'tensor bytes (base + experts, as stored) one thread holds: tensors that fit are read whole, bigger ones in row chunks of half of it; peak memory ≈ threads × (budget + one float32 tensor)', '256')
    .option('--whole-limit <elements>', 'override: tensors up to this many elements are read whole, bigger ones in row chunks')
    .option('--chunk-elements <elements>', 'override: row-chunk size, elements, for tensors not read whole')
    .option('--subspace-max-elements <elements>', '2-D tensors not read whole get the subspace family up to this size (one expert at a time)', String(16 * 2 ** 20))
    .option('--threads <n>', 'worker threads for the pass (default: all cores; small models run in-process)')
    .option('--shard <i/n>', 'only the i-th of n tensor ranges; writes a partial file for merge-partials')
    .requiredOption('-o, --out <file>', 'output metrics JSON')
    .option('--csv <file>', 'also write one CSV row per pair')
    .option('--force', 'overwrite existing outputs')
    .option('--no-progress', 'no progress on stderr')
    .action(async (base: string, rest: string[], o: MetricsCliOptions) => {
      if (base === 'merge-partials') {
        if (rest.length === 0) throw new MergelensError('BAD_INPUT', 'no partial files given', { hint: 'mergelens metrics merge-partials P1.json P2.json ... -o metrics.json' });
        await runMergePartials(rest, o);
        return;
      }
      if (rest.length < 2) throw new MergelensError('BAD_INPUT', `need at least 2 experts, got ${rest.length}`, { hint: 'mergelens metrics BASE EXPERT1 EXPERT2 ... -o metrics.json' });
      await runMetrics(base, rest, o);
    });
}
