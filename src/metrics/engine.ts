/**
 * The metrics engine: one streaming pass over base + N experts. Each selected tensor's stored
 * bytes are read once from every checkpoint straight into the WebAssembly kernels' memory
 * (whole when base + experts fit the memory budget, else in row chunks), where the kernels
 * decode them, form task vectors τᵢ = θᵢ − θ₀ (float32), find exact trim thresholds (trim.ts)
 * and fold every pair's float64 sums at once (`accumulateSources`); then the bytes are dropped.
 * 2-D tensors also get the per-expert spectral factors for the subspace family.
 * Cost: N·P reads (chunked tensors: one more for the thresholds), N²·P arithmetic.
 */
import type { Checkpoint, InputFingerprint, LowRankDelta, MetricsReport, MetricSettings, ProgressSink, TensorLocation } from '../types.js';
import { MergelensError } from '../errors.js';
import { openCheckpoint } from '../checkpoint/open.js';
import { denseDeltaRows, isLora } from '../checkpoint/lora.js';
import { fingerprintCheckpoint } from '../checkpoint/fingerprint.js';
import { isFloatDType, FLOAT_DTYPE_BYTES } from '../safetensors/dtype.js';
import { kernels, SOURCE_CODE } from '../wasm/kernels.js';
import { accumulateSources, newSums, toAccumulator, type MetricsPartial, type TensorAccumulator, type TensorSums } from './accumulators.js';
import { finalizeReport } from './finalize.js';
import { pairList } from './gram.js';
import { EMBEDDING_RE, layerOf, parseShard, shardTensors, tensorFilter } from './selection.js';
import { NonFiniteTau, readSource, sourceBlock, tauOf, type SourceBlock, type SourceEntry } from '../numerics/sources.js';
import { sampleBlock, trimThresholds } from '../numerics/select/trim.js';
import type { SpectralFactors, SubspacePairValues } from './subspace.js';
import { DEFAULT_SUBSPACE } from './subspace-defaults.js';
import { activationMetrics, gradientMetrics } from './vector-pair.js';

export interface MetricsOptions {
  /** Gradient file (path or opened) per expert, in expert order. */
  grads?: (string | Checkpoint)[];
  /** Activation file per expert, in expert order. */
  acts?: (string | Checkpoint)[];
  /** Tensor filters: globs (picomatch) or `/regex/`. */
  include?: string[];
  exclude?: string[];
  /** TIES density for trimmed sign metrics (default 0.2). */
  trimFraction?: number;
  /** k for subspace overlaps (default 10). */
  subspaceK?: number;
  /** Top singular values compared by sv_overlap (default 100). */
  spectrumK?: number;
  /** Compute the subspace family (default true). */
  subspace?: boolean;
  /** "i/n" or [i, n]: only the i-th of n deterministic tensor ranges (default 1/1). */
  shard?: string | [number, number];
  /**
   * Bytes of tensor data (base + experts, as stored; LoRA deltas as float32) one thread holds at
   * once: tensors that fit are read whole, bigger ones stream in row chunks of half of it.
   * Default 256 MiB. Peak memory per thread ≈ this + one expert's float32 τ for the SVDs.
   */
  memoryBudget?: number;
  /** Override: tensors up to this many elements are read whole, bigger ones chunked (default: by memoryBudget). */
  wholeTensorElements?: number;
  /** Override: row-chunk size for chunked tensors, elements (default: by memoryBudget). */
  chunkElements?: number;
  /**
   * 2-D tensors above the whole limit still get the subspace family up to this many elements,
   * reading one expert's τ at a time (memory ≈ 2·4 B·numel + SVD work); default 16Mi (4096²).
   */
  subspaceMaxElements?: number;
  /** min(m,n) up to which the exact SVD is used (default 512). */
  exactMaxDim?: number;
  /** min(m,n) up to which bottom-k overlaps are computed (default 512). */
  bottomMaxDim?: number;
  rsvdOversample?: number;
  rsvdPowerIterations?: number;
  onProgress?: ProgressSink;
}

/** One tensor's reading plan. */
interface TensorPlan {
  name: string;
  layer: string;
  shape: number[];
  rows: number;
  cols: number;
  numel: number;
  baseLoc: TensorLocation;
  sources: ExpertSource[];
  /** Checkpoint bytes of the tensor (base + dense experts): what progress and throughput count. */
  bytes: number;
  /** Heap bytes per element when held whole (stored bytes, float32 for LoRA deltas). */
  heapBytesPerElement: number;
}

type ExpertSource = { kind: 'dense'; loc: TensorLocation } | { kind: 'lowrank' } | { kind: 'zero' };

const MiB = 1 << 20;

function settingsOf(o: MetricsOptions, shard: string): MetricSettings {
  return {
    trimFraction: o.trimFraction ?? 0.2,
    subspaceK: o.subspaceK ?? DEFAULT_SUBSPACE.k,
    spectrumK: o.spectrumK ?? DEFAULT_SUBSPACE.spectrumK,
    include: o.include ?? [],
    exclude: o.exclude ?? [],
    shard,
    subspace: o.subspace ?? true,
    memoryBudget: o.memoryBudget ?? 256 * MiB,
    wholeTensorElements: o.wholeTensorElements ?? null,
    chunkElements: o.chunkElements ?? null,
    subspaceMaxElements: o.subspaceMaxElements ?? 16 * MiB,
    exactMaxDim: o.exactMaxDim ?? DEFAULT_SUBSPACE.exactMaxDim,
    bottomMaxDim: o.bottomMaxDim ?? DEFAULT_SUBSPACE.bottomMaxDim,
    rsvdOversample: o.rsvdOversample ?? 10,
    rsvdPowerIterations: o.rsvdPowerIterations ?? 1,
  };
}

function validateSettings(s: MetricSettings): void {
  const num = (k: string) => s[k] as number;
  if (!(s.trimFraction > 0 && s.trimFraction <= 1)) throw new MergelensError('BAD_PARAM', `trim fraction must be in (0, 1], got ${s.trimFraction}`);
  if (!(Number.isInteger(s.subspaceK) && s.subspaceK >= 1)) throw new MergelensError('BAD_PARAM', `subspace k must be a positive integer, got ${s.subspaceK}`);
  if (!(Number.isInteger(s.spectrumK) && s.spectrumK >= 1)) throw new MergelensError('BAD_PARAM', `spectrum k must be a positive integer, got ${s.spectrumK}`);
  for (const k of ['memoryBudget', 'wholeTensorElements', 'chunkElements', 'subspaceMaxElements', 'exactMaxDim', 'bottomMaxDim']) {
    if (s[k] === null && (k === 'wholeTensorElements' || k === 'chunkElements')) continue;
    if (!(Number.isInteger(num(k)) && num(k) >= 1)) throw new MergelensError('BAD_PARAM', `${k} must be a positive integer, got ${num(k)}`);
  }
}

const numelOf = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
const sameShape = (a: number[], b: number[]) => a.length === b.length && a.every((v, i) => v === b[i]);

/** Unique display names: a repeated name gets "#2", "#3", … */
function uniqueNames(cs: Checkpoint[]): string[] {
  const seen = new Map<string, number>();
  return cs.map((c) => {
    const k = (seen.get(c.name) ?? 0) + 1;
    seen.set(c.name, k);
    return k === 1 ? c.name : `${c.name}#${k}`;
  });
}

/** Plan every selected tensor: shapes checked, embedding row mismatch resolved, sources chosen. */
function planTensors(base: Checkpoint, experts: Checkpoint[], s: MetricSettings, warnings: string[]): TensorPlan[] {
  const keep = tensorFilter(s.include, s.exclude);
  const baseNames = [...base.tensorNames()].sort(); // sorted: shards and warnings must not depend on file order
  const baseSet = new Set(baseNames);
  const skippedDtype: string[] = [];
  const plans: TensorPlan[] = [];
  for (const e of experts) {
    const dense = e.tensorNames();
    const lowRank = isLora(e) ? e.lowRankNames() : [];
    const extra = [...dense, ...lowRank].filter((n) => !baseSet.has(n));
    if (isLora(e)) {
      if (extra.length) throw new MergelensError('MISSING_TENSOR', `adapter targets ${extra.length} tensor(s) the base does not have, e.g. ${extra.slice(0, 3).join(', ')}`, { file: e.path, tensor: extra[0], hint: 'is this adapter for this base model?' });
    } else if (extra.length) {
      warnings.push(`${e.path}: ${extra.length} tensor(s) not in the base are ignored, e.g. ${extra.slice(0, 3).join(', ')}`);
    }
  }
  for (const name of baseNames) {
    if (!keep(name)) continue;
    const baseLoc = base.location(name)!;
    if (!isFloatDType(baseLoc.dtype)) {
      skippedDtype.push(`${name} (${baseLoc.dtype})`);
      continue;
    }
    const shape = baseLoc.shape.slice();
    let rows = shape.length === 0 ? 1 : shape[0];
    const cols = shape.length <= 1 ? (shape.length === 0 ? 1 : 1) : numelOf(shape.slice(1));
    const flat = shape.length <= 1;
    const sources: ExpertSource[] = [];
    const rowCounts: string[] = [];
    for (const e of experts) {
      if (isLora(e) && e.lowRankNames().includes(name)) {
        sources.push({ kind: 'lowrank' });
        continue;
      }
      const loc = e.location(name);
      if (!loc) {
        if (isLora(e)) {
          sources.push({ kind: 'zero' });
          continue;
        }
        throw new MergelensError('MISSING_TENSOR', 'tensor of the base is missing from this expert', { file: e.path, tensor: name, hint: 'exclude it with --exclude, or check the expert shares this base' });
      }
      if (!sameShape(loc.shape, shape)) {
        const embeddingRows = shape.length === 2 && loc.shape.length === 2 && loc.shape[1] === shape[1] && EMBEDDING_RE.test(name);
        if (!embeddingRows) {
          throw new MergelensError('SHAPE_MISMATCH', `shape [${loc.shape.join(', ')}] differs from the base's [${shape.join(', ')}]`, { file: loc.file, tensor: name, hint: 'exclude it with --exclude, or check the expert shares this base' });
        }
        rowCounts.push(`${e.name}: ${loc.shape[0]}`);
        rows = Math.min(rows, loc.shape[0]);
      }
      sources.push({ kind: 'dense', loc });
    }
    if (rowCounts.length) {
      warnings.push(`${name}: row counts differ (base: ${shape[0]}, ${rowCounts.join(', ')}); compared on the first ${rows} common rows`);
      if (sources.some((src) => src.kind === 'lowrank')) {
        throw new MergelensError('SHAPE_MISMATCH', 'a LoRA delta on an embedding whose row count differs between experts is not supported', { tensor: name });
      }
    }
    const usedShape = rows === shape[0] ? shape : [rows, ...shape.slice(1)];
    const numel = flat ? numelOf(shape) : rows * cols;
    const elemBytes = (loc: TensorLocation) => FLOAT_DTYPE_BYTES[loc.dtype as keyof typeof FLOAT_DTYPE_BYTES] ?? 4;
    const bytes = numel * elemBytes(baseLoc) + sources.reduce((b, src) => b + (src.kind === 'dense' ? numel * elemBytes(src.loc) : 0), 0);
    const heapBytesPerElement = elemBytes(baseLoc) + sources.reduce((b, src) => b + (src.kind === 'dense' ? elemBytes(src.loc) : src.kind === 'lowrank' ? 4 : 0), 0);
    plans.push({ name, layer: layerOf(name), shape: usedShape, rows: flat ? numel : rows, cols: flat ? 1 : cols, numel, baseLoc, sources, bytes, heapBytesPerElement });
  }
  if (skippedDtype.length) warnings.push(`skipped ${skippedDtype.length} non-float tensor(s): ${skippedDtype.slice(0, 5).join(', ')}${skippedDtype.length > 5 ? ', …' : ''}`);
  return plans;
}

/**
 * Reads rows of one tensor for the base and the experts into the kernels' heap as a source
 * block, counting bytes; LoRA deltas are fetched once per tensor and expanded per block.
 */
class TensorReader {
  bytesRead = 0;
  private deltas = new Map<number, LowRankDelta>();
  constructor(private base: Checkpoint, private experts: Checkpoint[], private plan: TensorPlan) {}

  async delta(i: number): Promise<LowRankDelta> {
    let d = this.deltas.get(i);
    if (!d) {
      const e = this.experts[i];
      if (!isLora(e)) throw new Error('unreachable: low-rank source on a dense expert');
      d = await e.lowRank(this.plan.name);
      if (d.shape[0] !== this.plan.shape[0] || d.shape[1] !== this.plan.cols) {
        throw new MergelensError('SHAPE_MISMATCH', `LoRA delta has shape [${d.shape.join(', ')}] but the base tensor is [${this.plan.shape.join(', ')}]`, { file: e.path, tensor: this.plan.name });
      }
      this.deltas.set(i, d);
    }
    return d;
  }

  /** Stored bytes of the row ranges, back to back, from one checkpoint into a fresh heap region. */
  private async readDense(c: Checkpoint, ranges: [number, number][]): Promise<SourceEntry> {
    const { cols, name } = this.plan;
    const { entry, bytes } = await readSource(c, name, ranges.map(([r0, rc]) => [r0 * cols, rc * cols]));
    this.bytesRead += bytes;
    return entry;
  }

  private async lowRankRows(i: number, ranges: [number, number][]): Promise<SourceEntry> {
    const { heap } = kernels();
    const d = await this.delta(i);
    const { cols } = this.plan;
    const ptr = heap.alloc(ranges.reduce((n, [, rc]) => n + rc * cols, 0) * 4);
    let at = ptr;
    for (const [r0, rc] of ranges) {
      heap.f32(at, rc * cols).set(denseDeltaRows(d, r0, rc));
      at += rc * cols * 4;
    }
    return { ptr, code: SOURCE_CODE.TAU };
  }

  /**
   * Rows of the given ranges (in order, back to back) for the base and experts `which`
   * (default all) as a source block in the heap (the caller releases it).
   */
  async load(ranges: [number, number][], which?: number[]): Promise<SourceBlock> {
    const { heap } = kernels();
    const idx = which ?? this.plan.sources.map((_, i) => i);
    const count = ranges.reduce((n, [, rc]) => n + rc * this.plan.cols, 0);
    const entries = await Promise.all([
      this.readDense(this.base, ranges),
      ...idx.map((i): Promise<SourceEntry> => {
        const src = this.plan.sources[i];
        if (src.kind === 'dense') return this.readDense(this.experts[i], ranges);
        if (src.kind === 'lowrank') return this.lowRankRows(i, ranges);
        return Promise.resolve({ ptr: 0, code: SOURCE_CODE.ZERO });
      }),
    ]);
    return sourceBlock(heap, entries[0], entries.slice(1), count);
  }

  /** The NaN/Inf error for expert i: the base's fault when the base has one in this tensor. */
  async nonFinite(i: number): Promise<MergelensError> {
    const { plan, base } = this;
    const step = Math.max(1, Math.floor(4 * MiB / plan.cols));
    for (let r0 = 0; r0 < plan.rows; r0 += step) {
      const v = await base.read(plan.name, r0 * plan.cols, Math.min(step, plan.rows - r0) * plan.cols);
      for (let e = 0; e < v.length; e++) {
        if (!Number.isFinite(v[e])) return new MergelensError('NON_FINITE', 'base tensor contains NaN or Inf', { file: plan.baseLoc.file, tensor: plan.name });
      }
    }
    const src = plan.sources[i];
    const file = src.kind === 'dense' ? src.loc.file : this.experts[i].path;
    return new MergelensError('NON_FINITE', `task vector of expert "${this.experts[i].name}" contains NaN or Inf`, { file, tensor: plan.name });
  }
}

interface Ctx {
  base: Checkpoint;
  experts: Checkpoint[];
  s: MetricSettings;
  warnings: string[];
}

/** How a tensor is read: whole, or in chunks of `rowsPerChunk` rows. */
function readPlan(plan: TensorPlan, s: MetricSettings): { whole: boolean; rowsPerChunk: number } {
  const budget = s.memoryBudget as number;
  const whole = s.wholeTensorElements !== null ? plan.numel <= (s.wholeTensorElements as number) : plan.numel * plan.heapBytesPerElement <= budget;
  const chunkElements = s.chunkElements !== null ? (s.chunkElements as number) : Math.floor(budget / 2 / plan.heapBytesPerElement);
  return { whole, rowsPerChunk: whole ? plan.rows : Math.max(1, Math.floor(chunkElements / plan.cols)) };
}

/** Row ranges of the chunks of a tensor. */
function chunkRanges(rows: number, step: number): [number, number][] {
  const out: [number, number][] = [];
  for (let r0 = 0; r0 < rows; r0 += step) out.push([r0, Math.min(step, rows - r0)]);
  return out;
}

async function processTensor(ctx: Ctx, plan: TensorPlan, onChunk: (bytes: number) => void): Promise<{ acc: TensorAccumulator; bytes: number }> {
  const reader = new TensorReader(ctx.base, ctx.experts, plan);
  try {
    return await kernels().heap.exclusive(() => tensorSums(ctx, plan, reader, onChunk));
  } catch (e) {
    if (e instanceof NonFiniteTau) throw await reader.nonFinite(e.expert);
    throw e;
  }
}

async function tensorSums(ctx: Ctx, plan: TensorPlan, reader: TensorReader, onChunk: (bytes: number) => void): Promise<{ acc: TensorAccumulator; bytes: number }> {
  const { s, experts } = ctx;
  const { heap } = kernels();
  const N = experts.length;
  const sums: TensorSums = newSums(N);
  let subspace: SubspacePairValues[] | null = null;
  let subspaceMode: TensorAccumulator['subspaceMode'];
  const is2d = plan.shape.length === 2;
  const { whole, rowsPerChunk } = readPlan(plan, s);
  const accumulate = (block: SourceBlock, thresholds: Float64Array) => {
    const bad = accumulateSources(block, thresholds, sums);
    if (bad) throw new NonFiniteTau(bad - 1);
  };
  // Progress and stats count each checkpoint byte once; threshold and subspace passes re-read some.
  let extraReads = 0;
  if (whole) {
    const block = await reader.load([[0, plan.rows]]);
    onChunk(reader.bytesRead);
    const thresholds = await trimThresholds(
      {
        numel: plan.numel,
        N,
        sample: async (size) => sampleBlock(block, size),
        sweep: async (visit) => visit(block),
      },
      s.trimFraction,
    );
    accumulate(block, thresholds);
    if (is2d && s.subspace) {
      subspace = await subspaceOf(ctx, plan, reader, sums, async (i) => tauOf(block, i));
      subspaceMode = modeOf(plan, s);
    }
  } else {
    const chunks = chunkRanges(plan.rows, rowsPerChunk);
    const thresholds = await trimThresholds(
      {
        numel: plan.numel,
        N,
        // ⌈size/cols⌉ whole rows in up to 64 runs spread over the tensor (tiling it when that is all of it)
        sample: async (size) => {
          const want = Math.min(plan.rows, Math.ceil(size / plan.cols));
          const runs = Math.min(64, want);
          const perRun = Math.ceil(want / runs);
          const at = (k: number) => Math.floor((k * plan.rows) / runs);
          const ranges = Array.from({ length: runs }, (_, k): [number, number] => [at(k), Math.min(perRun, at(k + 1) - at(k))]);
          // held (~1 MB) until the tensor is done: the sample is read from the heap in place
          const block = await reader.load(ranges);
          const sample = sampleBlock(block, Math.min(size, block.count));
          return { values: sample.values, whole: sample.whole && want === plan.rows };
        },
        sweep: async (visit) => {
          for (const range of chunks) await heap.scopedAsync(async () => visit(await reader.load([range])));
        },
      },
      s.trimFraction,
    );
    extraReads = reader.bytesRead;
    for (const range of chunks) {
      await heap.scopedAsync(async () => accumulate(await reader.load([range]), thresholds));
      onChunk(reader.bytesRead - extraReads);
    }
    const beforeSubspace = reader.bytesRead;
    if (is2d && s.subspace) {
      // One expert at a time (memory: base + that expert + its float32 τ): the SVD needs the
      // whole matrix, but each expert's factors are computed independently.
      if (plan.numel <= (s.subspaceMaxElements as number)) {
        subspace = await subspaceOf(ctx, plan, reader, sums, async (i) => tauOf(await reader.load([[0, plan.rows]], [i]), 0));
        subspaceMode = modeOf(plan, s);
      } else subspaceMode = 'skipped';
    }
    extraReads += reader.bytesRead - beforeSubspace;
  }
  const acc = toAccumulator({ name: plan.name, layer: plan.layer, shape: plan.shape, numel: plan.numel, trim: 'exact', subspace, subspaceMode }, sums, N);
  return { acc, bytes: reader.bytesRead - extraReads };
}

/**
 * Estimated cost of a tensor's subspace factors in byte-equivalents of the streaming pass: per
 * expert ≈ rows·cols·l multiply-adds (l = min(rows, cols, max(k, spectrumK) + oversample)), at
 * ~0.6 B per multiply-add — the benchmark's 1.1 s (2 threads) for one expert's factors of a
 * 4096² tensor at l = 110 against a 0.52 GB/s one-thread pass (reports/bench/latest.md).
 */
export function svdWork(plan: TensorPlan, s: MetricSettings, experts: number): number {
  if (!s.subspace || plan.shape.length !== 2 || plan.numel > (s.subspaceMaxElements as number)) return 0;
  const l = Math.min(plan.rows, plan.cols, Math.max(s.subspaceK, s.spectrumK) + ((s.rsvdOversample as number) ?? 10));
  return 0.6 * experts * plan.rows * plan.cols * l;
}

function modeOf(plan: TensorPlan, s: MetricSettings): TensorAccumulator['subspaceMode'] {
  const [m, n] = plan.shape;
  return Math.min(m, n) > (s.bottomMaxDim as number) && plan.sources.some((src) => src.kind !== 'lowrank') ? 'top-only' : 'full';
}

/**
 * Per-pair subspace values; `tauOf(i)` gives expert i's whole τ in the heap (dense sources only;
 * each expert's heap use is released before the next).
 */
async function subspaceOf(ctx: Ctx, plan: TensorPlan, reader: TensorReader, sums: TensorSums, tauOf: (i: number) => Promise<Float32Array | null>): Promise<SubspacePairValues[]> {
  const { s } = ctx;
  const { heap } = kernels();
  // loaded on first use: the dense linear algebra behind it is most of a worker's start-up
  const { emptyFactors, loraSpectralFactors, spectralFactors, subspacePair } = await import('./subspace.js');
  const N = plan.sources.length;
  const opts = {
    k: s.subspaceK,
    spectrumK: s.spectrumK,
    exactMaxDim: s.exactMaxDim as number,
    bottomMaxDim: s.bottomMaxDim as number,
    rsvd: { oversample: s.rsvdOversample as number, powerIterations: s.rsvdPowerIterations as number },
  };
  const [m, n] = plan.shape;
  const factors: SpectralFactors[] = [];
  for (let i = 0; i < N; i++) {
    const src = plan.sources[i];
    if (sums.gram[i * N + i] === 0) factors.push(emptyFactors(m, n));
    else if (src.kind === 'lowrank') factors.push(loraSpectralFactors(await reader.delta(i), opts));
    else {
      factors.push(
        await heap.scopedAsync(async () => {
          const tau = await tauOf(i);
          if (!tau) throw new NonFiniteTau(i);
          return spectralFactors(tau, m, n, opts);
        }),
      );
    }
  }
  return pairList(N).map(([i, j]) => subspacePair(factors[i], factors[j]));
}

async function openAll(list: (string | Checkpoint)[] | undefined, N: number, what: string): Promise<Checkpoint[] | undefined> {
  if (!list || list.length === 0) return undefined;
  if (list.length !== N) throw new MergelensError('BAD_INPUT', `${list.length} ${what} file(s) given for ${N} experts: give one per expert, in expert order`);
  return Promise.all(list.map((x) => (typeof x === 'string' ? openCheckpoint(x) : x)));
}

function fingerprint(c: Checkpoint, kind?: InputFingerprint['kind']): InputFingerprint {
  const f = fingerprintCheckpoint(c);
  return kind ? { ...f, kind } : f;
}

/**
 * The accumulated sums of one pass (or of one shard of it) — serialisable; combine shards
 * with `combinePartials` and turn into a report with `finalizeReport`.
 */
export async function computeMetricsPartial(base: Checkpoint, experts: Checkpoint[], opts: MetricsOptions = {}): Promise<MetricsPartial> {
  const t0 = Date.now();
  if (experts.length < 2) throw new MergelensError('BAD_INPUT', `need at least 2 experts to compare, got ${experts.length}`);
  const [si, sn] = typeof opts.shard === 'string' ? parseShard(opts.shard) : (opts.shard ?? [1, 1]);
  const shard = `${si}/${sn}`;
  const s = settingsOf(opts, shard);
  validateSettings(s);
  const warnings: string[] = [];
  for (const c of [base, ...experts]) for (const w of (c as { warnings?: string[] }).warnings ?? []) warnings.push(`${c.path}: ${w}`);
  const N = experts.length;
  const gradFiles = await openAll(opts.grads, N, 'gradient');
  const actFiles = await openAll(opts.acts, N, 'activation');
  try {
    return await runPass(base, experts, opts, s, [si, sn], warnings, gradFiles, actFiles, t0);
  } finally {
    // Close only what this call opened from paths.
    const opened = [...(opts.grads ?? []).map((x, i) => (typeof x === 'string' ? gradFiles?.[i] : undefined)), ...(opts.acts ?? []).map((x, i) => (typeof x === 'string' ? actFiles?.[i] : undefined))];
    await Promise.all(opened.map((c) => c?.close()));
  }
}

async function runPass(
  base: Checkpoint, experts: Checkpoint[], opts: MetricsOptions, s: MetricSettings, [si, sn]: [number, number], warnings: string[],
  gradFiles: Checkpoint[] | undefined, actFiles: Checkpoint[] | undefined, t0: number,
): Promise<MetricsPartial> {
  const shard = s.shard;
  const all = planTensors(base, experts, s, warnings);
  if (all.length === 0) throw new MergelensError('BAD_INPUT', 'no tensors selected (check --include/--exclude)', { file: base.path });
  const plans = shardTensors(all, si, sn);
  const ctx: Ctx = { base, experts, s, warnings };
  const totalBytes = plans.reduce((b, p) => b + p.bytes, 0);
  let doneBytes = 0;
  // Progress counts work, not only bytes: a tensor's SVDs can cost far more than reading it,
  // so `done` is the bytes total scaled by the share of estimated work done (svdWork), and the ETA follows.
  const workOf = (p: TensorPlan) => p.bytes + svdWork(p, s, experts.length);
  const totalWork = plans.reduce((w, p) => w + workOf(p), 0) || 1;
  let doneWork = 0;
  const accs: TensorAccumulator[] = [];
  const progress = (detail: string, extra = 0) =>
    opts.onProgress?.({ phase: 'metrics', done: Math.min((totalBytes * (doneWork + extra)) / totalWork, totalBytes), total: totalBytes, unit: 'bytes', detail });
  progress(`0/${plans.length} tensors`);
  for (const [k, plan] of plans.entries()) {
    const { acc, bytes } = await processTensor(ctx, plan, (b) => progress(`${k}/${plans.length} tensors  ${plan.name}`, b));
    accs.push(acc);
    doneBytes += bytes;
    doneWork += workOf(plan);
    progress(`${k + 1}/${plans.length} tensors  ${plan.name}`);
  }

  // Gradient/activation files are small and not sharded: shard 1 computes them.
  const vectors = si === 1 ? { ...(gradFiles ? await gradientMetrics(gradFiles) : {}), ...(actFiles ? await activationMetrics(actFiles) : {}) } : {};
  const inputs = [
    ...experts.map((e) => fingerprint(e)),
    ...(gradFiles ?? []).map((g) => fingerprint(g, 'gradients')),
    ...(actFiles ?? []).map((a) => fingerprint(a, 'activations')),
  ];
  return {
    format: 'mergelens.metrics-partial',
    version: 1,
    experts: uniqueNames(experts),
    base: fingerprint(base),
    inputs,
    settings: s,
    shards: [shard],
    tensors: accs,
    vectors,
    warnings,
    stats: { tensors: accs.length, parameters: accs.reduce((n, a) => n + a.numel, 0), bytesRead: doneBytes, seconds: (Date.now() - t0) / 1000 },
  };
}

/** All pairwise metrics of N experts against their base, in one streaming pass. */
export async function computeMetrics(base: Checkpoint, experts: Checkpoint[], opts: MetricsOptions = {}): Promise<MetricsReport> {
  return finalizeReport(await computeMetricsPartial(base, experts, opts));
}

export { pairMetrics } from './finalize.js';
