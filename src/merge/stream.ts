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

/** Relative task-vector norm ‖θᵢ − θ₀‖/‖θ₀‖ above which an expert probably has another base. */
export const FAR_FROM_BASE = 0.5;

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
 * (sorted) order; NaN/Inf in an output is an error naming the tensor (or a warning with
 * `nonFinite: 'warn'`).
 */
export async function* streamPlan(plan: MergePlan, base: Checkpoint | null, experts: Checkpoint[], opts: Pick<MergeOptions, 'onProgress' | 'onWarning' | 'nonFinite'> = {}): AsyncGenerator<MergedTensor> {
  const total = plan.tensors.reduce((s, t) => s + t.bytes, 0);
  let done = 0;
  // Squared norms per expert of τ and of θ₀, for the "same base?" check at the end.
  const tauSq = new Float64Array(experts.length);
  let baseSq = 0;
  opts.onProgress?.({ phase: 'merge', done, total, unit: 'bytes' });
  for (const t of plan.tensors) {
    const baseData = base ? await base.read(t.name) : null;
    const weights: Float32Array[] = [];
    for (let i = 0; i < experts.length; i++) weights.push(await expertWeight(experts[i], t.sources[i], t, baseData));
    if (baseData) {
      for (let j = 0; j < baseData.length; j++) baseSq += baseData[j] * baseData[j];
      weights.forEach((w, i) => {
        let s = 0;
        for (let j = 0; j < w.length; j++) s += (w[j] - baseData[j]) ** 2;
        tauSq[i] += s;
      });
    }
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
    if (bad) {
      const inputs = [...(baseData && countNonFinite(baseData) ? [base!.path] : []), ...weights.flatMap((w, i) => (countNonFinite(w) ? [experts[i].path] : []))];
      const why = inputs.length ? `; NaN/Inf already in the input(s) ${inputs.join(', ')}` : `; the inputs are finite, so ${plan.method.id} overflowed (check weights and parameters)`;
      const msg = `merged tensor has ${bad} NaN/Inf value(s) of ${data.length}${why}`;
      if (opts.nonFinite === 'warn') opts.onWarning?.(`tensor "${t.name}": ${msg}`);
      else throw new MergelensError('NON_FINITE', msg, { tensor: t.name });
    }
    done += t.bytes;
    opts.onProgress?.({ phase: 'merge', done, total, unit: 'bytes', detail: t.name });
    yield { name: t.name, shape: t.shape.slice(), dtype: t.dtype, data };
  }
  if (base && baseSq > 0) {
    experts.forEach((e, i) => {
      const rel = Math.sqrt(tauSq[i] / baseSq);
      if (rel > FAR_FROM_BASE) {
        opts.onWarning?.(`${e.path}: ‖θ − θ₀‖/‖θ₀‖ = ${rel.toFixed(2)} over the merged tensors — is this expert fine-tuned from this base?`);
      }
    });
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
