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
import { MergelensError } from '../errors.js';
import { assertWritable, tempPathFor, writeFileAtomic } from '../util/atomic.js';
import { createCheckpointWriter, type WriteSpec } from '../safetensors/writer.js';
import { planMerge, type MergeOptions, type MergePlan } from './plan.js';
import { DEFAULT_CHUNK_ELEMENTS, streamPlanChunks } from './stream.js';
import { preflight } from '../check/preflight.js';

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
   * model size. Default 4M (2²²); results do not depend on it.
   */
  chunkElements?: number;
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
  plan: MergePlan;
  warnings: string[];
}

export const MERGE_RECORD = 'mergelens_merge.json';

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

function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

function assertNotAnInput(out: string, inputs: Checkpoint[]): void {
  const o = path.resolve(out);
  for (const c of inputs) {
    if (c.path.startsWith('memory:')) continue;
    const p = path.resolve(c.path);
    if (isInside(p, o) || isInside(o, p)) {
      throw new MergelensError('BAD_INPUT', `output would overwrite or nest inside the input ${c.path}`, { file: out, hint: 'choose another -o path' });
    }
  }
}

function checkRange(name: string, data: Float32Array, dtype: string): void {
  if (dtype !== 'F16') return;
  let over = 0;
  for (let i = 0; i < data.length; i++) if (Math.abs(data[i]) > F16_MAX) over++;
  if (over) {
    throw new MergelensError('NON_FINITE', `${over} merged value(s) exceed the F16 range (±65504) and would be written as Inf`, { tensor: name, hint: 'write BF16 or F32 with --dtype' });
  }
}

/** Copy config/tokenizer files from a HF folder; config.json gets the new torch_dtype when the dtype was set. */
async function copyModelFiles(fromDir: string, toDir: string, dtype: string | undefined): Promise<string[]> {
  const copied: string[] = [];
  for (const f of COPIED_FILES) {
    const src = path.join(fromDir, f);
    const exists = await fsp.stat(src).then((s) => s.isFile(), () => false);
    if (!exists) continue;
    const dst = path.join(toDir, f);
    if (f === 'config.json' && dtype) {
      const cfg = JSON.parse(await fsp.readFile(src, 'utf8')) as Record<string, unknown>;
      if ('torch_dtype' in cfg || !('dtype' in cfg)) cfg.torch_dtype = TORCH_DTYPE[dtype];
      if ('dtype' in cfg) cfg.dtype = TORCH_DTYPE[dtype];
      await fsp.writeFile(dst, JSON.stringify(cfg, null, 2) + '\n');
    } else await fsp.copyFile(src, dst);
    copied.push(f);
  }
  return copied;
}

export async function mergeToDisk(base: Checkpoint | null, experts: Checkpoint[], opts: MergeToDiskOptions): Promise<MergeResult> {
  const plan = planMerge(base, experts, opts);
  const out = opts.out;
  assertNotAnInput(out, [...(base ? [base] : []), ...experts]);
  await assertWritable(out, !!opts.force);
  if (base) await checkSameBase(base, experts, !!opts.allowDifferentBase, (w) => {
    plan.warnings.push(w);
    opts.onWarning?.(w);
  });
  const single = out.endsWith('.safetensors');
  if (single && opts.shardBytes) throw new MergelensError('BAD_INPUT', 'sharding needs a folder output (an -o path not ending in .safetensors)', { file: out });

  const specs: WriteSpec[] = plan.tensors.map((t) => ({ name: t.name, shape: t.shape, dtype: (opts.dtype ?? t.dtype) as FloatDType }));
  // Folder output is built in a sibling temp folder and swapped in at the end, so a forced
  // overwrite never mixes old and new shards; a single file is renamed into place by the writer.
  const target = single ? out : tempPathFor(out);
  const warnings: string[] = [...plan.warnings];
  const writer = createCheckpointWriter(target, specs, {
    shardBytes: opts.shardBytes,
    metadata: { format: 'pt', mergelens_method: plan.method.id },
  });
  const dtypeOf = new Map(specs.map((s) => [s.name, s.dtype]));
  const cleanup = async () => {
    await writer.abort();
    if (!single) await fsp.rm(target, { recursive: true, force: true });
  };
  let files: string[];
  let copied: string[] = [];
  const recordPath = single ? out.replace(/\.safetensors$/, `.${MERGE_RECORD}`) : path.join(out, MERGE_RECORD);
  try {
    const onWarning = (w: string) => {
      warnings.push(w);
      opts.onWarning?.(w);
    };
    const chunkElements = opts.chunkElements ?? DEFAULT_CHUNK_ELEMENTS;
    if (!(chunkElements >= 1)) throw new MergelensError('BAD_PARAM', `chunkElements must be ≥ 1, got ${chunkElements}`);
    for await (const t of streamPlanChunks(plan, base, experts, { onProgress: opts.onProgress, onWarning, nonFinite: opts.nonFinite, chunkElements })) {
      checkRange(t.name, t.data, dtypeOf.get(t.name)!);
      await writer.writeRange(t.name, t.offset, t.data);
    }
    files = await writer.finish();
    const ref = plan.reference;
    if (!single && (ref.kind === 'hf-folder' || ref.kind === 'hf-sharded')) copied = await copyModelFiles(ref.path, target, opts.dtype);
    const finalFiles = single ? files : files.map((f) => path.join(out, path.relative(target, f)));
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
    const recordJson = JSON.stringify(record, null, 2) + '\n';
    if (single) await writeFileAtomic(recordPath, recordJson);
    else {
      await fsp.writeFile(path.join(target, MERGE_RECORD), recordJson);
      await swapInto(target, out);
    }
    files = finalFiles;
  } catch (e) {
    await cleanup();
    throw e;
  }
  return { files, record: recordPath, copied, plan, warnings };
}

/**
 * The pre-flight "same base?" check on sampled values (reused from `mergelens check`), run
 * after header validation and before any output is written.
 */
async function checkSameBase(base: Checkpoint, experts: Checkpoint[], allow: boolean, warn: (w: string) => void): Promise<void> {
  const report = await preflight(base, experts);
  for (const issue of report.issues) {
    if (issue.code !== 'DIFFERENT_BASE') continue;
    const file = report.experts.find((e) => e.name === issue.expert)?.path ?? issue.expert;
    if (allow) warn(`${file}: ${issue.message}`);
    else throw new MergelensError('DIFFERENT_BASE', issue.message, { file, hint: 'merge only experts fine-tuned from this base, or pass --allow-different-base' });
  }
}

/** Move a finished temp folder to `out`, replacing an existing one only after the move is possible. */
async function swapInto(tmp: string, out: string): Promise<void> {
  const old = await fsp.stat(out).then(() => tempPathFor(out), () => null);
  if (old) await fsp.rename(out, old);
  try {
    await fsp.rename(tmp, out);
  } catch (e) {
    if (old) await fsp.rename(old, out).catch(() => {});
    throw e;
  }
  if (old) await fsp.rm(old, { recursive: true, force: true });
}
