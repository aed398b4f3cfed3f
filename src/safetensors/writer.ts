/**
 * safetensors writer. Output follows the reference writer: header padded with spaces so the
 * data start is 8-aligned, tensors ordered by descending dtype alignment then name (so every
 * tensor starts aligned to its element size), `__metadata__` with {"format":"pt"}.
 *
 * `createCheckpointWriter` streams: offsets are fixed up front from the specs, so tensors
 * can be written in any order with positioned writes, one tensor in memory at a time. Every
 * file goes to a sibling temp name and is renamed into place by `finish()`; `abort()` removes
 * the temps, so a failed run never leaves a partial checkpoint.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { FloatDType } from '../types.js';
import { MergelensError } from '../errors.js';
import { tempPathFor, writeFileAtomic } from '../util/atomic.js';
import { openOutputFile, type OutputFile, type WriteOptions } from '../util/output-file.js';
import { FLOAT_DTYPE_BYTES, dtypeAlignment, encodeFloats, isFloatDType } from './dtype.js';
import { encodeHeader, numelOf, type HeaderEntry } from './header.js';

export interface WriteSpec {
  name: string;
  dtype: FloatDType;
  shape: number[];
}

export interface WriteTensor extends WriteSpec {
  data: ArrayLike<number>;
}

export interface CheckpointWriterOptions {
  /** Start a new shard when the next tensor would push a shard past this many bytes (folder output only). */
  shardBytes?: number;
  /** Extra `__metadata__` entries; "format" defaults to "pt". */
  metadata?: Record<string, string>;
  /** Write past the page cache (O_DIRECT where the filesystem takes it); default: files from 256 MiB (src/util/output-file.ts). */
  directIO?: boolean;
}

export interface CheckpointWriter {
  /** Final paths (shards, then the index when sharded). */
  readonly paths: string[];
  /** Write one tensor's values (any order, each once). */
  write(name: string, data: ArrayLike<number>): Promise<void>;
  /**
   * Write elements [start, start + data.length) of one tensor (row-major flat index), so a
   * tensor can be written in pieces without ever holding it whole. A tensor's ranges must come
   * in order, each starting where the previous one ended; it counts as written once its last
   * element is. Tensors may still be interleaved in any order.
   */
  writeRange(name: string, start: number, data: ArrayLike<number>): Promise<void>;
  /**
   * writeRange for `count` elements already encoded in the tensor's dtype (little-endian bytes,
   * e.g. straight from the merge kernels' memory); `bytes` must stay unchanged until it settles.
   */
  writeRangeBytes(name: string, start: number, count: number, bytes: Uint8Array, opts?: WriteOptions): Promise<void>;
  /** Byte offset in its file of element `start` of a declared tensor (bytes laid out at it modulo 4 KiB go to a direct file uncopied). */
  offsetOf(name: string, start: number): number;
  /** fsync, close, rename temps into place; returns the final paths. */
  finish(): Promise<string[]>;
  /** Close and delete the temps; nothing is left behind. */
  abort(): Promise<void>;
}

export const INDEX_FILE = 'model.safetensors.index.json';
export const SINGLE_FILE = 'model.safetensors';

export function shardFileName(i: number, n: number): string {
  return `model-${String(i + 1).padStart(5, '0')}-of-${String(n).padStart(5, '0')}.safetensors`;
}

function specBytes(s: WriteSpec): number {
  return numelOf(s.shape) * FLOAT_DTYPE_BYTES[s.dtype];
}

/** Header entries for one file: descending alignment, then name; contiguous offsets. */
export function layoutEntries(specs: readonly WriteSpec[]): HeaderEntry[] {
  const sorted = specs.slice().sort((a, b) => dtypeAlignment(b.dtype) - dtypeAlignment(a.dtype) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  let offset = 0;
  return sorted.map((s) => {
    const begin = offset;
    offset += specBytes(s);
    return { name: s.name, dtype: s.dtype, shape: s.shape.slice(), begin, end: offset };
  });
}

function validateSpecs(specs: readonly WriteSpec[], target: string): void {
  const seen = new Set<string>();
  for (const s of specs) {
    if (seen.has(s.name)) throw new MergelensError('BAD_INPUT', 'tensor listed twice', { file: target, tensor: s.name });
    seen.add(s.name);
    if (!isFloatDType(s.dtype)) throw new MergelensError('UNSUPPORTED_DTYPE', `cannot write dtype ${s.dtype} (only F32, F16, BF16, F64)`, { file: target, tensor: s.name });
    if (!s.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new MergelensError('BAD_INPUT', `invalid shape [${s.shape.join(', ')}]`, { file: target, tensor: s.name });
    }
    if (s.name === '__metadata__') throw new MergelensError('BAD_INPUT', 'tensor name "__metadata__" is reserved', { file: target });
  }
}

/** Greedy sharding in spec order: a new shard starts when the next tensor would overflow. */
function planShards(specs: readonly WriteSpec[], shardBytes: number | undefined): WriteSpec[][] {
  const total = specs.reduce((s, t) => s + specBytes(t), 0);
  if (!shardBytes || total <= shardBytes) return [specs.slice()];
  const shards: WriteSpec[][] = [[]];
  let size = 0;
  for (const s of specs) {
    const b = specBytes(s);
    if (shards[shards.length - 1].length > 0 && size + b > shardBytes) {
      shards.push([]);
      size = 0;
    }
    shards[shards.length - 1].push(s);
    size += b;
  }
  return shards;
}

interface OpenFile {
  final: string;
  temp: string;
  out: OutputFile | null;
  dataStart: number;
  entries: Map<string, HeaderEntry>;
  prefix: Uint8Array;
}

/**
 * A streaming writer. `outPath` ending in `.safetensors` → that one file; otherwise a
 * Hugging Face folder: `model.safetensors`, or `model-0000i-of-0000N.safetensors` shards plus
 * `model.safetensors.index.json` when the total exceeds `shardBytes`.
 * Files are opened lazily on the first write/finish, so construction is synchronous.
 */
export function createCheckpointWriter(outPath: string, specs: readonly WriteSpec[], opts: CheckpointWriterOptions = {}): CheckpointWriter {
  return openWriter(outPath, specs, opts, outPath.endsWith('.safetensors'));
}

function openWriter(outPath: string, specs: readonly WriteSpec[], opts: CheckpointWriterOptions, single: boolean): CheckpointWriter {
  validateSpecs(specs, outPath);
  const metadata = { format: 'pt', ...(opts.metadata ?? {}) };
  const plan = single ? [specs.slice()] : planShards(specs, opts.shardBytes);
  const sharded = plan.length > 1;
  const files: OpenFile[] = plan.map((group, i) => {
    const final = single ? outPath : path.join(outPath, sharded ? shardFileName(i, plan.length) : SINGLE_FILE);
    const entries = layoutEntries(group);
    const prefix = encodeHeader(metadata, entries);
    return { final, temp: tempPathFor(final), out: null, dataStart: prefix.length, entries: new Map(entries.map((e) => [e.name, e])), prefix };
  });
  const fileOf = new Map<string, OpenFile>();
  for (const f of files) for (const name of f.entries.keys()) fileOf.set(name, f);
  const indexPath = sharded ? path.join(outPath, INDEX_FILE) : null;
  const paths = [...files.map((f) => f.final), ...(indexPath ? [indexPath] : [])];
  const written = new Set<string>();
  /** Next element each partly written tensor expects (writeRange). */
  const nextElement = new Map<string, number>();
  let state: 'open' | 'finished' | 'aborted' = 'open';
  let opening: Promise<void> | null = null;

  const ensureOpen = () =>
    (opening ??= (async () => {
      await fsp.mkdir(path.dirname(path.resolve(files[0].final)), { recursive: true });
      for (const f of files) {
        const last = [...f.entries.values()].reduce((m, e) => Math.max(m, e.end), 0);
        // sized up front, so unwritten ranges read back as zeros, never as garbage
        f.out = await openOutputFile(f.temp, f.dataStart + last, { direct: opts.directIO });
        await f.out.write(f.prefix, 0);
      }
    })());

  const closeAll = async () => {
    for (const f of files) {
      const out = f.out;
      f.out = null;
      if (out) await out.close().catch(() => {});
    }
  };

  const abort = async () => {
    if (state !== 'open') return;
    state = 'aborted';
    await opening?.catch(() => {});
    await closeAll();
    await Promise.all(files.map((f) => fsp.rm(f.temp, { force: true })));
  };

  const entryFor = (name: string) => {
    if (state !== 'open') throw new MergelensError('BAD_INPUT', `writer already ${state}`, { file: outPath, tensor: name });
    const f = fileOf.get(name);
    if (!f) throw new MergelensError('MISSING_TENSOR', 'tensor was not declared to the writer', { file: outPath, tensor: name });
    if (written.has(name)) throw new MergelensError('BAD_INPUT', 'tensor written twice', { file: f.final, tensor: name });
    const e = f.entries.get(name)!;
    return { f, e, numel: numelOf(e.shape) };
  };

  const offset = (f: OpenFile, e: HeaderEntry, start: number) => f.dataStart + e.begin + start * FLOAT_DTYPE_BYTES[e.dtype as FloatDType];

  /** Positioned write of elements [start, start + data.length); marks the tensor written at its end. */
  const putRange = async (name: string, f: OpenFile, e: HeaderEntry, numel: number, start: number, data: ArrayLike<number> | { count: number; bytes: Uint8Array }, opts?: WriteOptions) => {
    const end = start + ('bytes' in data ? data.count : data.length);
    nextElement.set(name, end);
    if (end === numel) written.add(name);
    try {
      await ensureOpen();
      const bytes = 'bytes' in data ? data.bytes : encodeFloats(e.dtype as FloatDType, data);
      await f.out!.write(bytes, offset(f, e, start), opts);
    } catch (err) {
      await abort();
      throw err;
    }
  };

  /** The entry of a range write that starts where the tensor's previous range ended and stays inside it. */
  const checkRange = (name: string, start: number, count: number) => {
    const r = entryFor(name);
    const expected = nextElement.get(name) ?? 0;
    if (start !== expected) {
      throw new MergelensError('BAD_INPUT', `range starts at element ${start}, expected ${expected} (a tensor's ranges are written in order)`, { file: r.f.final, tensor: name });
    }
    if (start + count > r.numel) {
      throw new MergelensError('SIZE_MISMATCH', `range [${start}, ${start + count}) runs past the ${r.numel} elements of shape [${r.e.shape.join(', ')}]`, { file: r.f.final, tensor: name });
    }
    return r;
  };

  return {
    paths,
    async write(name, data) {
      const { f, e, numel } = entryFor(name);
      if (data.length !== numel) {
        throw new MergelensError('SIZE_MISMATCH', `got ${data.length} values for shape [${e.shape.join(', ')}] (${numel} elements)`, { file: f.final, tensor: name });
      }
      await putRange(name, f, e, numel, 0, data);
    },
    async writeRange(name, start, data) {
      const { f, e, numel } = checkRange(name, start, data.length);
      await putRange(name, f, e, numel, start, data);
    },
    offsetOf(name, start) {
      const f = fileOf.get(name);
      if (!f) throw new MergelensError('MISSING_TENSOR', 'tensor was not declared to the writer', { file: outPath, tensor: name });
      return offset(f, f.entries.get(name)!, start);
    },
    async writeRangeBytes(name, start, count, bytes, opts) {
      const { f, e, numel } = checkRange(name, start, count);
      if (bytes.length !== count * FLOAT_DTYPE_BYTES[e.dtype as FloatDType]) {
        throw new MergelensError('SIZE_MISMATCH', `${bytes.length} bytes for ${count} ${e.dtype} elements`, { file: f.final, tensor: name });
      }
      await putRange(name, f, e, numel, start, { count, bytes }, opts);
    },
    async finish() {
      if (state !== 'open') throw new MergelensError('BAD_INPUT', `writer already ${state}`, { file: outPath });
      const missing = specs.filter((s) => !written.has(s.name)).map((s) => s.name);
      if (missing.length) {
        await abort();
        throw new MergelensError('MISSING_TENSOR', `${missing.length} declared tensor(s) never written: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}`, {
          file: outPath,
          tensor: missing[0],
        });
      }
      try {
        await ensureOpen();
        for (const f of files) await f.out!.sync();
        await closeAll();
        for (const f of files) await fsp.rename(f.temp, f.final);
        state = 'finished';
      } catch (err) {
        await abort();
        throw err;
      }
      if (indexPath) {
        const weightMap: Record<string, string> = {};
        for (const s of specs) weightMap[s.name] = path.basename(fileOf.get(s.name)!.final);
        const totalSize = specs.reduce((t, s) => t + specBytes(s), 0);
        await writeFileAtomic(indexPath, JSON.stringify({ metadata: { total_size: totalSize }, weight_map: weightMap }, null, 2) + '\n');
      }
      return paths.slice();
    },
    abort,
  };
}

/** Write a whole set of in-memory tensors to one safetensors file (atomically), whatever its extension. */
export async function writeSafetensors(file: string, tensors: readonly WriteTensor[], metadata?: Record<string, string>): Promise<void> {
  const w = openWriter(file, tensors, { metadata }, true);
  for (const t of tensors) await w.write(t.name, t.data); // a failed write aborts the writer itself
  await w.finish();
}
