/**
 * Streaming merge: one output tensor — or, for elementwise methods, one row chunk of it — at
 * a time. Per piece it holds the base, the N expert weights and the output (N + 2 float32
 * arrays), plus the method's own temporaries (task-vector methods keep N float32 task
 * vectors; SVD methods a few float64 copies of one matrix). Whole tensors bound memory by the
 * largest tensor; row chunks (mergeToDisk) by the chunk size. mergeToDisk takes the fused
 * WebAssembly path (fused.ts: stored bytes in, encoded bytes out, the same bytes) when it covers
 * the plan; this float32 path serves the rest and the in-memory API.
 */
import type { Checkpoint, LoraCheckpoint, LowRankDelta } from '../types.js';
import { MergelensError } from '../errors.js';
import { denseDeltaRows } from '../checkpoint/lowrank.js';
import { countNonFinite } from '../wasm/arrays.js';
import { planMerge, type MergeOptions, type MergePlan, type TensorPlan } from './plan.js';
import { tensorRandom, tensorRandomAt } from './random.js';

export interface MergedTensor {
  name: string;
  shape: number[];
  /** dtype of the tensor in the reference checkpoint (default output dtype). */
  dtype: string;
  data: Float32Array;
}

/** A row range of one merged tensor: `data` holds elements [offset, offset + data.length). */
export interface MergedChunk extends MergedTensor {
  /** First element (row-major flat index) of `data` within the whole tensor (`shape`). */
  offset: number;
}

/**
 * Default row-chunk size of mergeToDisk, in elements per input tensor (4 MiB of float32): chunks
 * this small stay in cache between their read and the kernel, and fault in 4× less fresh memory
 * than 2²² did (the fused path used ~35 % less CPU on the bench's small set).
 */
export const DEFAULT_CHUNK_ELEMENTS = 1 << 20;

/** Rows per chunk for a tensor: all of them unless the method is elementwise and the tensor is big. */
export function rowsPerChunk(plan: MergePlan, t: TensorPlan, chunkElements: number): number {
  const rows = t.shape.length ? t.shape[0] : 1;
  if (t.numel <= chunkElements || rows <= 1 || !plan.method.rowChunks?.(t.params ?? plan.params, t.expertParams)) return rows;
  const rowLen = t.numel / rows;
  return Math.max(1, Math.floor(chunkElements / rowLen));
}

/**
 * Merge a validated plan in row chunks of at most `chunkElements` elements per input (a row
 * longer than that is one chunk), for methods whose rule is elementwise (`rowChunks`) — after
 * the scans of the chunks their `prepareChunks` asks for (TIES cuts, SLERP norms); other
 * methods, and tensors that fit, come as one whole-tensor chunk. Per chunk it holds the base
 * and the N expert slices and the output (N + 2 slices, plus the method's N task-vector
 * slices), so memory is bounded by the chunk size, not the largest tensor. Chunks come in
 * the reference checkpoint's (sorted) tensor order, rows in order. NaN/Inf in an input (named
 * by file and tensor) or in a merged tensor is an error (or one warning per tensor with
 * `nonFinite: 'warn'`).
 */
export async function* streamPlanChunks(
  plan: MergePlan,
  base: Checkpoint | null,
  experts: Checkpoint[],
  opts: Pick<MergeOptions, 'onProgress' | 'onWarning' | 'nonFinite'> & { chunkElements?: number } = {},
): AsyncGenerator<MergedChunk> {
  const chunkElements = opts.chunkElements ?? Infinity;
  const total = plan.tensors.reduce((s, t) => s + t.bytes, 0);
  let done = 0;
  const warn = opts.nonFinite === 'warn';
  const report = (e: MergelensError) => {
    if (!warn) throw e;
    opts.onWarning?.(e.message);
  };
  opts.onProgress?.({ phase: 'merge', done, total, unit: 'bytes' });
  for (const t of plan.tensors) {
    // Methods on full weights (weight_avg, two-expert slerp) never look at the base: skip its read.
    const needBase = plan.method.needsBase || experts.length < 2 || t.sources.some((src) => src !== 'dense');
    const rows = t.shape.length ? t.shape[0] : 1;
    const rowLen = rows ? t.numel / rows : 0;
    const step = Math.max(1, rowsPerChunk(plan, t, chunkElements));
    const lowRank = new Map<number, LowRankDelta>(); // A and B of a LoRA expert, loaded once per tensor
    const badIn = new Array<number>(experts.length + 1).fill(0); // [base, experts…] over the chunks so far
    let badOut = 0;
    const inputProblems = () => {
      const paths = [base?.path ?? '', ...experts.map((e) => e.path)];
      return badIn.map((bad, i) => ({ path: paths[i], bad })).filter((x) => x.bad > 0);
    };
    /** Base and expert weights of rows [r0, r0 + rowCount) (all of them when `whole`). */
    const readRows = async (r0: number, rowCount: number, whole: boolean) => {
      const start = r0 * rowLen;
      const count = whole ? t.numel : rowCount * rowLen;
      const baseData = base && needBase ? await (whole ? base.read(t.name) : base.read(t.name, start, count)) : null;
      const weights: Float32Array[] = [];
      for (let i = 0; i < experts.length; i++) {
        const src = t.sources[i];
        if (src === 'dense') weights.push(await (whole ? experts[i].read(t.name) : experts[i].read(t.name, start, count)));
        else if (src === 'base') weights.push(baseData!);
        else {
          if (!lowRank.has(i)) lowRank.set(i, await (experts[i] as LoraCheckpoint).lowRank(t.name));
          const delta = denseDeltaRows(lowRank.get(i)!, r0, rowCount);
          for (let j = 0; j < delta.length; j++) delta[j] += baseData![j];
          weights.push(delta);
        }
      }
      return { start, count, baseData, weights };
    };
    // Rules that need whole-tensor statistics (TIES cuts) scan the chunks first.
    const prepass = step < rows ? plan.method.prepareChunks?.({ numel: t.numel, experts: experts.length, params: t.params ?? plan.params, expertParams: t.expertParams }) ?? null : null;
    if (prepass) {
      for (let pass = 0; pass < prepass.passes; pass++) {
        for (let r0 = 0; r0 < rows; r0 += step) {
          const { baseData, weights } = await readRows(r0, Math.min(step, rows - r0), false);
          prepass.visit(pass, baseData, weights);
        }
        prepass.endPass(pass);
      }
    }
    const prepared = prepass?.result();
    for (let r0 = 0; r0 < Math.max(rows, 1); r0 += step) {
      const whole = step >= rows;
      const rowCount = Math.min(step, rows - r0);
      const { start, count, baseData, weights } = await readRows(r0, rowCount, whole);
      // Inputs first: some methods would hide a NaN (a TIES trim drops it), others spread it.
      if (baseData) badIn[0] += countNonFinite(baseData);
      weights.forEach((w, i) => {
        // an adapter that leaves the tensor alone shares the base's array: counted once, as the base
        if (w !== baseData) badIn[i + 1] += countNonFinite(w);
      });
      if (!warn) for (const x of inputProblems()) report(new MergelensError('NON_FINITE', `input has ${x.bad} NaN/Inf value(s)`, { file: x.path, tensor: t.name }));
      const sliceShape = whole ? t.shape : [rowCount, ...t.shape.slice(1)];
      const data = plan.method.mergeTensor({
        name: t.name,
        shape: sliceShape,
        base: baseData,
        experts: weights,
        weights: t.weights ?? plan.weights, // per-tensor values (mergekit gradients) win
        params: t.params ?? plan.params,
        expertParams: t.expertParams,
        random: whole ? tensorRandom(plan.seed, t.name) : tensorRandomAt(plan.seed, t.name, start),
        expertRandom: (e) => tensorRandomAt(plan.seed, t.name, e * t.numel + start),
        prepared,
      });
      badOut += countNonFinite(data);
      if (badOut && !warn && !inputProblems().length) report(overflow(plan, t, badOut));
      done += whole ? t.bytes : (t.bytes * count) / t.numel;
      opts.onProgress?.({ phase: 'merge', done, total, unit: 'bytes', detail: t.name });
      yield { name: t.name, shape: t.shape.slice(), dtype: t.dtype, data, offset: start };
    }
    if (warn) {
      const problems = inputProblems();
      for (const x of problems) report(new MergelensError('NON_FINITE', `input has ${x.bad} NaN/Inf value(s)`, { file: x.path, tensor: t.name }));
      if (badOut && !problems.length) report(overflow(plan, t, badOut));
    }
  }
}

function overflow(plan: MergePlan, t: TensorPlan, bad: number): MergelensError {
  return new MergelensError('NON_FINITE', `merged tensor has ${bad} NaN/Inf value(s) of ${t.numel}; the inputs are finite, so ${plan.method.id} overflowed (check weights and parameters)`, { tensor: t.name });
}

/**
 * Merge a validated plan tensor by tensor (whole tensors; see streamPlanChunks for the
 * bounded-memory form). Tensors come out in the reference checkpoint's (sorted) order.
 */
export async function* streamPlan(plan: MergePlan, base: Checkpoint | null, experts: Checkpoint[], opts: Pick<MergeOptions, 'onProgress' | 'onWarning' | 'nonFinite'> = {}): AsyncGenerator<MergedTensor> {
  for await (const c of streamPlanChunks(plan, base, experts, opts)) yield { name: c.name, shape: c.shape, dtype: c.dtype, data: c.data };
}

/**
 * Validate (see planMerge: nothing is read if anything is wrong), then merge tensor by
 * tensor, yielding `{name, shape, dtype, data}`.
 */
export async function* mergeStream(base: Checkpoint | null, experts: Checkpoint[], opts: MergeOptions): AsyncGenerator<MergedTensor> {
  const plan = planMerge(base, experts, opts);
  yield* streamPlan(plan, base, experts, opts);
}
