/**
 * Streaming merge: one output tensor at a time, so memory is bounded by the largest
 * tensor, not the model. Per tensor it holds the base, the N expert weights and the output
 * (N + 2 float32 tensors), plus the method's own temporaries (task-vector methods keep N
 * float32 task vectors; SVD methods a few float64 copies of one matrix).
 */
import type { Checkpoint, LoraCheckpoint } from '../types.js';
import { MergelensError } from '../errors.js';
import { denseDeltaRows } from '../checkpoint/lowrank.js';
import { planMerge, type MergeOptions, type MergePlan, type TensorPlan } from './plan.js';
import { tensorRandom } from './random.js';

export interface MergedTensor {
  name: string;
  shape: number[];
  /** dtype of the tensor in the reference checkpoint (default output dtype). */
  dtype: string;
  data: Float32Array;
}

function countNonFinite(x: Float32Array): number {
  let bad = 0;
  for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i])) bad++;
  return bad;
}

async function expertWeight(e: Checkpoint, source: TensorPlan['sources'][number], t: TensorPlan, base: Float32Array | null): Promise<Float32Array> {
  if (source === 'dense') return e.read(t.name);
  if (source === 'base') return base!;
  const delta = denseDeltaRows(await (e as LoraCheckpoint).lowRank(t.name));
  for (let i = 0; i < delta.length; i++) delta[i] += base![i];
  return delta;
}

/**
 * Merge a validated plan tensor by tensor. Tensors come out in the reference checkpoint's
 * (sorted) order. NaN/Inf in an input tensor (named by file and tensor) or in a merged tensor
 * is an error (or a warning with `nonFinite: 'warn'`).
 */
export async function* streamPlan(plan: MergePlan, base: Checkpoint | null, experts: Checkpoint[], opts: Pick<MergeOptions, 'onProgress' | 'onWarning' | 'nonFinite'> = {}): AsyncGenerator<MergedTensor> {
  const total = plan.tensors.reduce((s, t) => s + t.bytes, 0);
  let done = 0;
  const report = (e: MergelensError) => {
    if (opts.nonFinite !== 'warn') throw e;
    opts.onWarning?.(e.message);
  };
  opts.onProgress?.({ phase: 'merge', done, total, unit: 'bytes' });
  for (const t of plan.tensors) {
    // Methods on full weights (weight_avg, two-expert slerp) never look at the base: skip its read.
    const needBase = plan.method.needsBase || experts.length < 2 || t.sources.some((src) => src !== 'dense');
    const baseData = base && needBase ? await base.read(t.name) : null;
    const weights: Float32Array[] = [];
    for (let i = 0; i < experts.length; i++) weights.push(await expertWeight(experts[i], t.sources[i], t, baseData));
    // Inputs first: some methods would hide a NaN (a TIES trim drops it), others spread it.
    const inputs = [...(baseData ? [{ path: base!.path, data: baseData }] : []), ...weights.map((w, i) => ({ path: experts[i].path, data: w }))];
    const badInputs = inputs
      .filter((x, i) => i === 0 || x.data !== baseData) // an adapter that leaves the tensor alone shares the base's array
      .map((x) => ({ path: x.path, bad: countNonFinite(x.data) }))
      .filter((x) => x.bad > 0);
    for (const x of badInputs) report(new MergelensError('NON_FINITE', `input has ${x.bad} NaN/Inf value(s)`, { file: x.path, tensor: t.name }));
    const data = plan.method.mergeTensor({
      name: t.name,
      shape: t.shape,
      base: baseData,
      experts: weights,
      weights: plan.weights,
      params: plan.params,
      random: tensorRandom(plan.seed, t.name),
    });
    const bad = countNonFinite(data);
    if (bad && !badInputs.length) {
      report(new MergelensError('NON_FINITE', `merged tensor has ${bad} NaN/Inf value(s) of ${data.length}; the inputs are finite, so ${plan.method.id} overflowed (check weights and parameters)`, { tensor: t.name }));
    }
    done += t.bytes;
    opts.onProgress?.({ phase: 'merge', done, total, unit: 'bytes', detail: t.name });
    yield { name: t.name, shape: t.shape.slice(), dtype: t.dtype, data };
  }
}

/**
 * Validate (see planMerge: nothing is read if anything is wrong), then merge tensor by
 * tensor, yielding `{name, shape, dtype, data}`.
 */
export async function* mergeStream(base: Checkpoint | null, experts: Checkpoint[], opts: MergeOptions): AsyncGenerator<MergedTensor> {
  const plan = planMerge(base, experts, opts);
  yield* streamPlan(plan, base, experts, opts);
}
