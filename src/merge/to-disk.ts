/**
 * mergeToDisk: validate, merge tensor by tensor and write a safetensors checkpoint —
 * one file (`out` ends in .safetensors) or a Hugging Face folder (model.safetensors, or
 * shards + index with `shardBytes`) — plus a `mergelens_merge.json` record of how it was
 * made. Nothing is written when validation fails; a failure midway leaves no partial
 * output; an existing output is replaced only with `force`, and only once the new one is
 * complete.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Checkpoint, FloatDType } from '../types.js';
import { MergelensError, fsError } from '../errors.js';
import { claimOutputs, MERGE_RECORD_FILE, writeDurable, type ClaimedOutput } from '../util/output-policy.js';
import { checkpointFiles } from '../checkpoint/fingerprint.js';
import { createCheckpointWriter, type WriteSpec } from '../safetensors/writer.js';
import { readSideFiles, writeSideFiles, type SideFile } from '../checkpoint/side-files.js';
import { assertWithinMemoryBudget, defaultMemoryBudget } from './memory-estimate.js';
import { assertInputsUnchanged } from '../checkpoint/unchanged.js';
import { planMerge, type MergeOptions, type MergePlan } from './plan.js';
import { DEFAULT_CHUNK_ELEMENTS, streamPlanChunks } from './stream.js';
import { type EncodedSink, fusedEligible, mergeFused } from './fused.js';
import { preflight } from '../check/preflight.js';
import { writeMergeDocs } from './model-card.js';
import type { PredictionNote } from './mergekit/emit.js';

export interface MergeToDiskOptions extends MergeOptions {
  /** Output path: `*.safetensors` → one file; anything else → a HF folder. */
  out: string;
  /** Output dtype for every tensor; default: each tensor's dtype in the base. */
  dtype?: 'F32' | 'F16' | 'BF16';
  /** Shard size in bytes for folder output (default: one file). */
  shardBytes?: number;
  /** Replace an existing output. */
  force?: boolean;
  /**
   * Merge experts that the pre-flight "same base?" check (src/check/preflight.ts: median
   * ‖θ−θ₀‖/‖θ₀‖ over sampled 2-D tensors > 0.5) says do not descend from the base; by
   * default that is a DIFFERENT_BASE error before anything is written.
   */
  allowDifferentBase?: boolean;
  /**
   * All methods but tsv, iso_c and dare/dare_ties with rescale=l1 merge tensors bigger than
   * this in row chunks of at most this many elements per input (ties and slerp scan the chunks
   * first for whole-tensor statistics), so peak memory is ~(2N + 3) × 4 B × chunk whatever the
   * model size. Default 1M (2²⁰); results do not depend on it.
   */
  chunkElements?: number;
  /** Bytes a merge may use at its peak, estimated from the headers (memory-estimate.ts); default 80 % of RAM. */
  memoryBudget?: number;
  /**
   * Hook for extra files in a folder output (e.g. a mergekit_config.yml, a model card): called
   * with the temp folder once the weights, copied files and record are complete, before the
   * final rename, so they appear together or not at all. Returns the names it wrote. Not
   * called for single-file outputs.
   */
  writeExtras?: (ctx: MergeExtrasContext) => Promise<string[]>;
  /** The mergekit config this merge was read from (config.ts `document`): recorded as mergekit_config.yml in a folder output. */
  mergekitConfig?: Record<string, unknown>;
  /** The prediction that led to this merge, for the model card (else taken from `mergekitConfig.mergelens.prediction`). */
  prediction?: PredictionNote;
}

export interface MergeExtrasContext {
  /** The temp folder that becomes the output: write files here. */
  dir: string;
  /** The output path as given. */
  out: string;
  record: MergeRecord;
  plan: MergePlan;
}

export interface MergeRecord {
  format: 'mergelens.merge';
  version: 1;
  createdAt: string;
  method: string;
  params: Record<string, unknown>;
  weights: number[];
  seed: number;
  dtype: string;
  base: { name: string; path: string } | null;
  experts: { name: string; path: string }[];
  tensors: number;
  files: string[];
  warnings: string[];
}

export interface MergeResult {
  /** Weight files written (and the index when sharded), final paths. */
  files: string[];
  /** The merge record file. */
  record: string;
  /** Extra files copied from the base folder (config.json, tokenizer …). */
  copied: string[];
  /** Files written by `writeExtras`. */
  extras: string[];
  plan: MergePlan;
  warnings: string[];
}

export const MERGE_RECORD = MERGE_RECORD_FILE;

/** Files next to a HF model's weights that the merged model needs as-is. */
export const COPIED_FILES = [
  'config.json',
  'generation_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'added_tokens.json',
  'tokenizer.model',
  'vocab.json',
  'vocab.txt',
  'merges.txt',
  'chat_template.jinja',
  'chat_template.json',
  'preprocessor_config.json',
];

const TORCH_DTYPE: Record<string, string> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' };
const F16_MAX = 65504;
/** Tensors the merge's "same base?" check samples (preflight's sampledTensors). */
const SAME_BASE_TENSORS = 32;

/** Every path a merge reads: the checkpoints as given and the files behind them (shards, adapters). */
function inputPaths(cks: Checkpoint[]): string[] {
  return cks.flatMap((c) => [c.path, ...checkpointFiles(c).map((f) => f.path)]);
}

function checkRange(name: string, data: Float32Array, dtype: string): void {
  if (dtype !== 'F16') return;
  let over = 0;
  for (let i = 0; i < data.length; i++) if (Math.abs(data[i]) > F16_MAX) over++;
  if (over) {
    throw new MergelensError('NON_FINITE', `${over} merged value(s) exceed the F16 range (±65504) and would be written as Inf`, { tensor: name, hint: 'write BF16 or F32 with --dtype' });
  }
}

/**
 * Config/tokenizer files of a HF base folder, read before any merge work (side-files.ts): regular
 * files inside the folder only (no symlinked secrets, no FIFOs), and config.json parsed now when
 * --dtype rewrites its torch_dtype, so a malformed one fails before the merge, not after it.
 */
function readModelFiles(plan: MergePlan, single: boolean, dtype: string | undefined): Promise<SideFile[]> {
  const ref = plan.reference;
  if (single || (ref.kind !== 'hf-folder' && ref.kind !== 'hf-sharded')) return Promise.resolve([]);
  return readSideFiles(ref.path, COPIED_FILES, dtype ? TORCH_DTYPE[dtype] : undefined);
}

export async function mergeToDisk(base: Checkpoint | null, experts: Checkpoint[], opts: MergeToDiskOptions): Promise<MergeResult> {
  const plan = planMerge(base, experts, opts);
  const out = opts.out;
  const single = out.endsWith('.safetensors');
  if (single && opts.shardBytes) throw new MergelensError('BAD_INPUT', 'sharding needs a folder output (an -o path not ending in .safetensors)', { file: out });
  const chunkElements = opts.chunkElements ?? DEFAULT_CHUNK_ELEMENTS;
  if (!(chunkElements >= 1)) throw new MergelensError('BAD_PARAM', `chunkElements must be ≥ 1, got ${chunkElements}`);
  // Refuse before any work when the header-based peak estimate exceeds the budget (memory-estimate.ts).
  assertWithinMemoryBudget(plan, opts.memoryBudget ?? defaultMemoryBudget(), chunkElements);
  const recordPath = single ? out.replace(/\.safetensors$/, `.${MERGE_RECORD}`) : path.join(out, MERGE_RECORD);
  // The output policy (src/util/output-policy.ts): real paths vs every input, --force only over a
  // previous merge, a lock against concurrent merges, leftovers of dead runs removed — all
  // before any tensor is read.
  const claim = await claimOutputs(
    single ? [{ path: out, kind: 'merge', flag: '-o' }, { path: recordPath, kind: 'merge-record' }] : [{ path: out, kind: 'merge', folder: true, flag: '-o' }],
    { inputs: inputPaths([...(base ? [base] : []), ...experts]), force: opts.force },
  );
  try {
    return await writeMerge(plan, base, experts, opts, claim.outputs, single, chunkElements, recordPath);
  } finally {
    await claim.release();
  }
}

async function writeMerge(
  plan: MergePlan,
  base: Checkpoint | null,
  experts: Checkpoint[],
  opts: MergeToDiskOptions,
  [output, recordOutput]: ClaimedOutput[],
  single: boolean,
  chunkElements: number,
  recordPath: string,
): Promise<MergeResult> {
  const out = opts.out;
  const sideFiles = await readModelFiles(plan, single, opts.dtype);
  const warnings: string[] = [...plan.warnings];
  // The "same base?" check samples a few blocks per tensor: latency-bound small reads, run while
  // the merge works (the merge writes only temp names). Its DIFFERENT_BASE error stops the merge
  // at the next chunk and wins over any error the merge meets meanwhile; nothing is committed
  // before it has passed.
  const stop = new AbortController();
  const sameBase = base
    ? checkSameBase(base, experts, !!opts.allowDifferentBase, (w) => {
        plan.warnings.push(w);
        warnings.push(w);
        opts.onWarning?.(w);
      })
    : Promise.resolve();
  sameBase.catch((e: unknown) => stop.abort(e));

  const specs: WriteSpec[] = plan.tensors.map((t) => ({ name: t.name, shape: t.shape, dtype: (opts.dtype ?? t.dtype) as FloatDType }));
  // Everything is built under temp names next to the output and moved into place at the end:
  // a folder output as a whole temp folder (weights, copied files, extras and the record
  // inside), a single file as a temp file plus a temp record. An interruption leaves only
  // `.mergelens-tmp-*` names, which the next run removes; a failure (a full disk while writing
  // the record included) leaves nothing, and never weights without their record.
  const target = output.tempPath();
  const recordTemp = single ? recordOutput.tempPath() : path.join(target, MERGE_RECORD);
  const writer = createCheckpointWriter(target, specs, {
    shardBytes: opts.shardBytes,
    metadata: { format: 'pt', mergelens_method: plan.method.id },
  });
  const dtypeOf = new Map(specs.map((s) => [s.name, s.dtype]));
  let files: string[];
  let copied: string[] = [];
  let extras: string[] = [];
  try {
    const onWarning = (w: string) => {
      warnings.push(w);
      opts.onWarning?.(w);
    };
    const outDtype = (name: string) => dtypeOf.get(name)!;
    // The fused WebAssembly path (fused.ts) when it covers the plan; the float32 path otherwise (same bytes).
    try {
      if (fusedEligible(plan, outDtype, opts)) {
        const sink: EncodedSink = {
          write: (name, start, count, bytes) => writer.writeRangeBytes(name, start, count, bytes, { wasmMemory: true }),
          offsetOf: (name, start) => writer.offsetOf(name, start),
        };
        await mergeFused(plan, base, experts, outDtype, sink, { onProgress: opts.onProgress, chunkElements, signal: stop.signal });
      } else {
        for await (const t of streamPlanChunks(plan, base, experts, { onProgress: opts.onProgress, onWarning, nonFinite: opts.nonFinite, chunkElements })) {
          stop.signal.throwIfAborted();
          checkRange(t.name, t.data, outDtype(t.name));
          await writer.writeRange(t.name, t.offset, t.data);
        }
      }
    } finally {
      await sameBase; // its error first (also when the merge failed meanwhile)
    }
    files = await writer.finish();
    // An input rewritten during the merge would leave a mix of old and new weights: refuse before committing.
    await assertInputsUnchanged([base, ...experts]);
    copied = await writeSideFiles(target, sideFiles);
    const finalFiles = single ? [output.real] : files.map((f) => path.join(out, path.relative(target, f)));
    const record: MergeRecord = {
      format: 'mergelens.merge',
      version: 1,
      createdAt: new Date().toISOString(),
      method: plan.method.id,
      params: plan.params,
      weights: plan.weights,
      seed: plan.seed,
      dtype: opts.dtype ?? 'base',
      base: base ? { name: base.name, path: base.path } : null,
      experts: experts.map((e) => ({ name: e.name, path: e.path })),
      tensors: plan.tensors.length,
      files: finalFiles.map((f) => path.basename(f)),
      warnings,
    };
    if (!single) {
      // Every merged folder gets mergekit_config.yml and a model card (model-card.ts), then the caller's extras.
      const ctx = { dir: target, out, record, plan };
      extras = [...(await writeMergeDocs(ctx, { config: opts.mergekitConfig, prediction: opts.prediction })), ...(opts.writeExtras ? await opts.writeExtras(ctx) : [])];
    }
    await writeDurable(recordTemp, JSON.stringify(record, null, 2) + '\n');
    // Weights first, then the record: both are complete on disk before either rename.
    await output.commit(target);
    if (single) await recordOutput.commit(recordTemp);
    files = single ? [out] : finalFiles;
  } catch (e) {
    await writer.abort();
    await fsp.rm(target, { recursive: true, force: true });
    if (single) await fsp.rm(recordTemp, { force: true });
    throw fsError(e, out) ?? e;
  }
  return { files, record: recordPath, copied, extras, plan, warnings };
}

/**
 * The pre-flight "same base?" check on sampled values (reused from `mergelens check`), run
 * after header validation and before any output is written.
 */
async function checkSameBase(base: Checkpoint, experts: Checkpoint[], allow: boolean, warn: (w: string) => void): Promise<void> {
  // 32 matrices decide "same base?" as well as all of them; every sample is a small read (~30 µs of CPU each)
  const report = await preflight(base, experts, { sampledTensors: SAME_BASE_TENSORS });
  for (const issue of report.issues) {
    if (issue.code !== 'DIFFERENT_BASE') continue;
    const file = report.experts.find((e) => e.name === issue.expert)?.path ?? issue.expert;
    if (allow) warn(`${file}: ${issue.message}`);
    else throw new MergelensError('DIFFERENT_BASE', issue.message, { file, hint: 'merge only experts fine-tuned from this base, or pass --allow-different-base' });
  }
}
