/**
 * Serialisable, associative sums behind every pairwise weight metric. One `TensorAccumulator`
 * per tensor holds float64 sums that add up across row chunks (`addSums`), and a
 * `MetricsPartial` holds the accumulators of a set of tensors: partials of disjoint tensor
 * ranges combine (`combinePartials`) into exactly what one pass would have produced, because
 * the final metrics are always formed from the per-tensor sums in sorted-name order.
 */
import type { InputFingerprint, MetricMatrix, MetricSettings } from '../types.js';
import { MergelensError } from '../errors.js';
import { kernels } from '../wasm/kernels.js';
import { symmetrize } from './gram.js';
import { PAIR_FIELDS } from './sign-agreement.js';
import { NonFiniteTau, tauSources, type SourceBlock } from '../numerics/sources.js';
import { thresholdBitsOf } from '../numerics/select/trim.js';
import type { SubspacePairValues } from './subspace.js';

/** Working sums of one tensor (typed arrays: cheap to fill, transferable to a worker). */
export interface TensorSums {
  /** N×N ⟨τᵢ, τⱼ⟩, upper triangle filled during accumulation, symmetric after `finishSums`. */
  gram: Float64Array;
  /** Per pair (lexicographic i<j), PAIR_FIELDS sums (see sign-agreement.ts). */
  pairs: Float64Array;
  /** Per expert, trimmed support size. */
  kept: Float64Array;
}

export function newSums(N: number): TensorSums {
  return { gram: new Float64Array(N * N), pairs: new Float64Array(((N * (N - 1)) / 2) * PAIR_FIELDS), kept: new Float64Array(N) };
}

/** Elements per kernel call: small enough that V8 tiers the kernel up early (it has no OSR for wasm). */
const SLICE = 1 << 20;

/**
 * The per-chunk work of the engine (pure, no I/O; runs in any thread): add a source block's
 * Gram entries, pair sums and trimmed supports into `acc`, given per-expert trim thresholds.
 * Runs the fused WebAssembly kernel (src/wasm/assembly/pairs.ts). Returns 0, or i + 1 when
 * expert i's task vector holds NaN/Inf (the caller names the file).
 */
export function accumulateSources(block: SourceBlock, thresholds: Float64Array, acc: TensorSums): number {
  const { exports, heap } = kernels();
  return heap.scoped(() => {
    const N = block.N;
    const thr = heap.alloc(N * 4);
    heap.u32(thr, N).set(thresholdBitsOf(thresholds));
    const parts = [acc.gram, acc.pairs, acc.kept];
    const total = parts.reduce((n, p) => n + p.length, 0);
    const sums = heap.alloc(total * 8);
    const view = heap.f64(sums, total);
    let at = 0;
    for (const p of parts) {
      view.set(p, at);
      at += p.length;
    }
    const scratch = heap.alloc(exports.accumulateScratch(N));
    let bad = 0;
    for (let e0 = 0; e0 < block.count && !bad; e0 += SLICE) bad = exports.accumulate(block.desc, N, e0, Math.min(SLICE, block.count - e0), thr, sums, scratch);
    at = 0;
    for (const p of parts) {
      p.set(view.subarray(at, at + p.length));
      at += p.length;
    }
    return bad;
  });
}

/** `accumulateSources` over task-vector chunks already in memory (equal lengths). */
export function accumulateTensor(tau: Float32Array[], thresholds: Float64Array, acc: TensorSums): void {
  const { heap } = kernels();
  const bad = heap.scoped(() => accumulateSources(tauSources(heap, tau), thresholds, acc));
  if (bad) throw new NonFiniteTau(bad - 1);
}

/** a += b (chunks of the same tensor). */
export function addSums(a: TensorSums, b: TensorSums): void {
  for (let i = 0; i < a.gram.length; i++) a.gram[i] += b.gram[i];
  for (let i = 0; i < a.pairs.length; i++) a.pairs[i] += b.pairs[i];
  for (let i = 0; i < a.kept.length; i++) a.kept[i] += b.kept[i];
}

/** One tensor's contribution, as stored in partial files. */
export interface TensorAccumulator {
  name: string;
  /** Layer group (see layers.ts). */
  layer: string;
  /** Shape compared (common rows for embeddings with different row counts). */
  shape: number[];
  numel: number;
  /** N×N symmetric Gram matrix, row-major. */
  gram: number[];
  /** P×PAIR_FIELDS pair sums. */
  pairs: number[];
  kept: number[];
  /** How the trim thresholds were found: always 'exact' now ('sampled' in partials of older versions). */
  trim: 'exact' | 'sampled';
  /** Per pair subspace values for 2-D tensors; null otherwise or when skipped. */
  subspace: SubspacePairValues[] | null;
  /**
   * For 2-D tensors with the subspace family on: 'full', 'top-only' (bottom-k needs the exact
   * SVD, above bottomMaxDim) or 'skipped' (tensor above settings.subspaceMaxElements).
   */
  subspaceMode?: 'full' | 'top-only' | 'skipped';
}

export function toAccumulator(
  meta: Omit<TensorAccumulator, 'gram' | 'pairs' | 'kept'>,
  sums: TensorSums,
  N: number,
): TensorAccumulator {
  symmetrize(sums.gram, N);
  return { ...meta, gram: Array.from(sums.gram), pairs: Array.from(sums.pairs), kept: Array.from(sums.kept) };
}

/** Sum of several tensors' sums, always in the order given (the caller sorts by name). */
export function sumAccumulators(accs: TensorAccumulator[], N: number): { gram: Float64Array; pairs: Float64Array; kept: Float64Array; numel: number } {
  const gram = new Float64Array(N * N);
  const pairs = new Float64Array(((N * (N - 1)) / 2) * PAIR_FIELDS);
  const kept = new Float64Array(N);
  let numel = 0;
  for (const a of accs) {
    for (let i = 0; i < gram.length; i++) gram[i] += a.gram[i];
    for (let i = 0; i < pairs.length; i++) pairs[i] += a.pairs[i];
    for (let i = 0; i < kept.length; i++) kept[i] += a.kept[i];
    numel += a.numel;
  }
  return { gram, pairs, kept, numel };
}

/** Everything one (possibly partial) pass produced; `finalizeReport` turns it into a MetricsReport. */
export interface MetricsPartial {
  format: 'mergelens.metrics-partial';
  version: 1;
  experts: string[];
  base: import('../types.js').InputFingerprint;
  inputs: InputFingerprint[];
  settings: MetricSettings;
  /** Shards this partial covers, e.g. ["1/4"] or, after combining, ["1/4","2/4"]. */
  shards: string[];
  tensors: TensorAccumulator[];
  /** Gradient/activation metric matrices (computed once, by shard 1). */
  vectors: Record<string, MetricMatrix>;
  warnings: string[];
  stats: { tensors: number; parameters: number; bytesRead: number; seconds: number };
}

function settingsKey(s: MetricSettings): string {
  const { shard: _shard, ...rest } = s;
  return JSON.stringify(rest, Object.keys(rest).sort());
}

/**
 * Combine partials of disjoint tensor ranges (associative and commutative up to the order of
 * lists, which finalisation sorts). Refuses partials of different inputs or settings, and
 * overlapping tensors.
 */
export function combinePartials(parts: MetricsPartial[], fileOf: (i: number) => string = (i) => `partial #${i + 1}`): MetricsPartial {
  if (parts.length === 0) throw new MergelensError('BAD_INPUT', 'no partial metrics files to merge');
  const first = parts[0];
  const seen = new Map<string, number>();
  const shards = new Set<string>();
  parts.forEach((p, i) => {
    if (p.format !== 'mergelens.metrics-partial') throw new MergelensError('BAD_INPUT', `not a mergelens partial metrics file (format ${JSON.stringify(p.format)})`, { file: fileOf(i) });
    if (JSON.stringify(p.experts) !== JSON.stringify(first.experts)) {
      throw new MergelensError('BAD_INPUT', `experts differ from ${fileOf(0)}: ${p.experts.join(', ')} vs ${first.experts.join(', ')}`, { file: fileOf(i) });
    }
    if (JSON.stringify(p.base) !== JSON.stringify(first.base) || JSON.stringify(p.inputs) !== JSON.stringify(first.inputs)) {
      throw new MergelensError('BAD_INPUT', `input fingerprints differ from ${fileOf(0)} (different base or expert files)`, { file: fileOf(i) });
    }
    if (settingsKey(p.settings) !== settingsKey(first.settings)) {
      throw new MergelensError('BAD_INPUT', `settings differ from ${fileOf(0)}`, { file: fileOf(i) });
    }
    for (const s of p.shards) {
      if (shards.has(s)) throw new MergelensError('BAD_INPUT', `shard ${s} given twice`, { file: fileOf(i) });
      shards.add(s);
    }
    for (const t of p.tensors) {
      if (seen.has(t.name)) throw new MergelensError('BAD_INPUT', `tensor also in ${fileOf(seen.get(t.name)!)}`, { file: fileOf(i), tensor: t.name });
      seen.set(t.name, i);
    }
  });
  const warnings: string[] = [];
  for (const p of parts) for (const w of p.warnings) if (!warnings.includes(w)) warnings.push(w);
  const vectors: Record<string, MetricMatrix> = {};
  for (const p of parts) Object.assign(vectors, p.vectors);
  return {
    ...first,
    shards: [...shards].sort(compareShards),
    tensors: parts.flatMap((p) => p.tensors).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    vectors,
    warnings,
    stats: {
      tensors: parts.reduce((s, p) => s + p.stats.tensors, 0),
      parameters: parts.reduce((s, p) => s + p.stats.parameters, 0),
      bytesRead: parts.reduce((s, p) => s + p.stats.bytesRead, 0),
      seconds: parts.reduce((s, p) => s + p.stats.seconds, 0),
    },
  };
}

function compareShards(a: string, b: string): number {
  return Number(a.split('/')[0]) - Number(b.split('/')[0]);
}

/** True when the shards listed cover 1/n … n/n exactly once. */
export function shardsComplete(shards: string[]): boolean {
  if (shards.length === 0) return false;
  const n = Number(shards[0].split('/')[1]);
  if (!shards.every((s) => Number(s.split('/')[1]) === n) || shards.length !== n) return false;
  const idx = new Set(shards.map((s) => Number(s.split('/')[0])));
  for (let i = 1; i <= n; i++) if (!idx.has(i)) return false;
  return true;
}
