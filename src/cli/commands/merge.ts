/**
 * `mergelens merge`: merge experts into a new checkpoint with one of the registered methods.
 *
 *   mergelens merge --method ties --base BASE EXPERT... [--weights 0.5,0.5] [--param density=0.2 ...]
 *                   [--seed 0] [--dtype bf16] [--shard-size 5GB] -o OUT [--force]
 *   mergelens merge --config merge.yml -o OUT
 *
 * A thin shell over planMerge/mergeToDisk: everything is validated before any tensor is read.
 */
import type { Command } from 'commander';
import type { Checkpoint, ParamValue } from '../../types.js';
import { MergelensError } from '../../errors.js';
import { openCheckpoint, openCheckpoints } from '../../checkpoint/open.js';
import { loadMergeConfig, parseDType, type MergeConfig } from '../../merge/config.js';
import type { PerTensorParams } from '../../merge/plan.js';
import { adapterBase } from '../../checkpoint/hf-resolve.js';
import { isLora } from '../../checkpoint/lowrank.js';
import { mergeToDisk } from '../../merge/to-disk.js';
import { getMethod, resolveParams } from '../../merge/registry.js';
import { info, progressSink, warn } from '../io.js';

interface MergeCliOptions {
  method?: string;
  base?: string;
  weights?: string;
  param: string[];
  seed?: string;
  dtype?: string;
  shardSize?: string;
  out: string;
  force?: boolean;
  config?: string;
  include?: string[];
  exclude?: string[];
  allowNonFinite?: boolean;
  allowDifferentBase?: boolean;
  allowNegativeWeights?: boolean;
  memoryBudget?: string;
  progress: boolean;
  json?: boolean;
}

const UNITS: Record<string, number> = { '': 1, K: 1e3, M: 1e6, G: 1e9, T: 1e12, KI: 2 ** 10, MI: 2 ** 20, GI: 2 ** 30, TI: 2 ** 40 };

/** "5GB", "500MB", "1.5G", "4GiB", "1048576" → bytes. */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?)?b?\s*$/i.exec(text);
  const unit = m ? UNITS[(m[2] ?? '').toUpperCase()] : undefined;
  if (!m || unit === undefined) throw new MergelensError('USAGE', `cannot read size "${text}" (e.g. 5GB, 500MB, 4GiB)`);
  const bytes = Math.floor(Number(m[1]) * unit);
  if (bytes <= 0) throw new MergelensError('USAGE', `size must be positive, got "${text}"`);
  return bytes;
}

/** --memory-budget in MiB (a positive number), as for `metrics`. */
function parseMemoryBudget(text: string): number {
  const v = Number(text);
  if (text.trim() === '' || !Number.isFinite(v) || v <= 0) throw new MergelensError('USAGE', `--memory-budget must be a positive number of MiB, got "${text}"`);
  return Math.round(v * 2 ** 20);
}

function parseWeights(text: string): number[] {
  return text.split(',').map((s, i) => {
    const v = Number(s.trim());
    if (s.trim() === '' || !Number.isFinite(v)) throw new MergelensError('BAD_PARAM', `--weights: value ${i + 1} ("${s}") is not a number`);
    return v;
  });
}

function parseParams(list: string[]): Record<string, ParamValue> {
  const out: Record<string, ParamValue> = {};
  for (const p of list) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new MergelensError('BAD_PARAM', `--param "${p}" must look like name=value (e.g. density=0.2)`);
    out[p.slice(0, eq).trim()] = p.slice(eq + 1).trim(); // typed and range-checked by resolveParams
  }
  return out;
}

function parseSeed(text: string): number {
  const v = Number(text);
  if (!Number.isSafeInteger(v) || v < 0) throw new MergelensError('BAD_PARAM', `--seed must be a non-negative integer, got "${text}"`);
  return v;
}

async function runMerge(expertPaths: string[], o: MergeCliOptions): Promise<void> {
  let method = o.method;
  let basePath = o.base;
  let experts = expertPaths;
  let weights = o.weights !== undefined ? parseWeights(o.weights) : undefined;
  let params = parseParams(o.param);
  let seed = o.seed !== undefined ? parseSeed(o.seed) : undefined;
  let dtype = o.dtype !== undefined ? parseDType(o.dtype) : undefined;
  const shardBytes = o.shardSize ? parseSize(o.shardSize) : undefined; // a usage error before any file is opened
  let perTensor: PerTensorParams | undefined;
  let config: MergeConfig | undefined;
  if (o.config) {
    if (o.method || o.base || expertPaths.length || o.weights) {
      throw new MergelensError('USAGE', '--config already names the method, base, models and weights; drop --method/--base/--weights/EXPERT arguments', { file: o.config });
    }
    const cfg = await loadMergeConfig(o.config);
    config = cfg;
    perTensor = cfg.perTensor && withCliParams(cfg.perTensor, params);
    for (const w of cfg.warnings) warn(w); // escaped: names come from the YAML
    method = cfg.method;
    basePath = cfg.base;
    experts = cfg.experts;
    weights = cfg.weights;
    params = { ...cfg.params, ...params };
    seed ??= cfg.seed;
    dtype ??= cfg.dtype;
  }
  if (!method) throw new MergelensError('USAGE', 'no merge method given', { hint: 'pass --method (see `mergelens methods`) or --config' });
  if (experts.length === 0) throw new MergelensError('USAGE', 'no experts given', { hint: 'list the expert checkpoints after the options' });

  // Fail on a bad method or parameter before opening any file.
  resolveParams(getMethod(method), params);

  const opened: Checkpoint[] = [];
  try {
    const ckpts = await openCheckpoints(experts);
    opened.push(...ckpts);
    // No --base: a PEFT adapter's base_model_name_or_path, when it resolves locally or in the HF cache.
    const fromAdapter = basePath ? undefined : await defaultBase(ckpts);
    if (fromAdapter) info(`mergelens: using the adapter's base_model_name_or_path as the base: ${fromAdapter}`);
    basePath ??= fromAdapter;
    const base = basePath ? await openCheckpoint(basePath) : null;
    if (base) opened.push(base);
    const progress = progressSink(o);
    const result = await mergeToDisk(base, ckpts, {
      method,
      weights,
      params,
      seed,
      include: o.include,
      exclude: o.exclude,
      nonFinite: o.allowNonFinite ? 'warn' : 'error',
      out: o.out,
      dtype,
      shardBytes,
      force: o.force,
      allowDifferentBase: o.allowDifferentBase,
      allowNegativeWeights: o.allowNegativeWeights,
      memoryBudget: o.memoryBudget === undefined ? undefined : parseMemoryBudget(o.memoryBudget),
      perTensor,
      mergekitConfig: config?.document,
      onProgress: progress,
      onWarning: (w) => warn(w),
    }).finally(() => progress.finish());
    const p = result.plan;
    if (o.json) {
      process.stdout.write(
        JSON.stringify({ out: o.out, method: p.method.id, params: p.params, weights: p.weights, tensors: p.tensors.length, files: result.files, record: result.record, copied: result.copied, extras: result.extras, warnings: result.warnings }, null, 2) + '\n',
      );
      return;
    }
    const numel = p.tensors.reduce((s, t) => s + t.numel, 0);
    const paramText = Object.entries(p.params).map(([k, v]) => `${k}=${v}`).join(' ');
    process.stdout.write(
      `merged ${ckpts.length} expert(s) with ${p.method.id}${paramText ? ` (${paramText})` : ''}: ${p.tensors.length} tensors, ${formatCount(numel)} parameters → ${o.out}\n` +
        `  files: ${result.files.join(', ')}\n  record: ${result.record}\n` +
        (result.copied.length ? `  copied from the base: ${result.copied.join(', ')}\n` : ''),
    );
  } finally {
    await Promise.all(opened.map((c) => c.close().catch(() => {})));
  }
}

const collect = (v: string, prev: string[]) => [...prev, v];

/** The base named by the first LoRA expert's adapter_config.json, if it resolves. */
async function defaultBase(experts: Checkpoint[]): Promise<string | undefined> {
  for (const e of experts) if (isLora(e)) return adapterBase(e.adapterConfig);
  return undefined;
}

/** --param values given on the command line win over a config's per-tensor values too. */
function withCliParams(p: PerTensorParams, cli: Record<string, ParamValue>): PerTensorParams {
  if (!Object.keys(cli).length) return p;
  return { bind: (names) => { const at = p.bind(names); return (n) => { const o = at(n); return { ...o, params: { ...o.params, ...cli } }; }; } };
}

/** 24736 → "24.7K", 7241732096 → "7.24B". */
function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}K`;
  return String(n);
}

export function register(program: Command): void {
  program
    .command('merge')
    .description('merge experts into a new safetensors checkpoint (methods: `mergelens methods`)')
    .argument('[experts...]', 'expert checkpoints (safetensors file, HF folder, PEFT LoRA folder)')
    .option('-m, --method <id>', 'merge method: weight_avg (linear), task_arithmetic, ties, dare (dare_linear), dare_ties, slerp, tsv, iso_c')
    .option('-b, --base <path>', 'base (pre-trained) checkpoint the experts were fine-tuned from')
    .option('-w, --weights <list>', 'comma-separated per-expert weights, e.g. 0.5,0.5 (default all 1)')
    .option('-p, --param <name=value>', 'method parameter, repeatable (e.g. --param density=0.2 --param lambda=1)', collect, [])
    .option('--seed <n>', 'seed for stochastic methods (dare, dare_ties); default 0')
    .option('--dtype <dtype>', 'output dtype: f32, f16 or bf16 (default: each tensor as in the base)')
    .option('--shard-size <size>', 'split folder output into shards of at most this size, e.g. 5GB')
    .option('-o, --out <path>', 'output: a folder (HF layout) or a file ending in .safetensors')
    .option('-f, --force', 'replace a previous merge output at -o (never anything else; see docs/cli.md)')
    .option('--json', 'print what was written as JSON on stdout')
    .option('-c, --config <file>', 'mergekit-style YAML/JSON config (merge_method, base_model, models, parameters, dtype, seed)')
    .option('--include <glob...>', 'only these tensors (picomatch globs) go into the output (give it after the experts)')
    .option('--exclude <glob...>', 'leave these tensors out of the output')
    .option('--allow-different-base', 'merge even experts the pre-flight check says do not descend from the base')
    .option('--allow-negative-weights', 'accept negative --weights (task negation: subtracts that expert\'s task vector)')
    .option('--memory-budget <MiB>', 'refuse (before any work) a merge whose peak memory, estimated from the headers, exceeds this many MiB (default: 80% of RAM; docs/safety.md)')
    .option('--allow-non-finite', 'warn instead of failing on NaN/Inf in an input or merged tensor')
    .option('--no-progress', 'no progress on stderr')
    .action(async (experts: string[], o: MergeCliOptions) => {
      if (!o.out) throw new MergelensError('USAGE', 'no output path', { hint: 'pass -o OUT (a folder, or a file ending in .safetensors)' });
      await runMerge(experts, o);
    });
}
