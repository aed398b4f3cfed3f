/**
 * Merge planning: every check that can fail is done here, from headers only, before any
 * tensor data is read or any output is written — method, parameters, weights, number of
 * experts, and for every output tensor that each expert has it with the base's shape and a
 * float dtype. The result says, per tensor, where each expert's weight comes from.
 */
import picomatch from 'picomatch';
import type { Checkpoint, LoraCheckpoint, MergeMethod, ParamValue, ProgressSink } from '../types.js';
import { MergelensError } from '../errors.js';
import { isLora } from '../checkpoint/lowrank.js';
import { isFloatDType } from '../safetensors/dtype.js';
import { getMethod, resolveParams } from './registry.js';

export interface MergeOptions {
  /** Method id or alias (see `listMethods()`). */
  method: string;
  /** One weight per expert; default all 1. */
  weights?: number[];
  /** Raw method parameters (validated and defaulted by `resolveParams`). */
  params?: Record<string, ParamValue>;
  /** Seed of the per-tensor random streams (DARE); default 0. */
  seed?: number;
  /** Glob patterns (picomatch) of tensor names to put in the output; default all. */
  include?: string[];
  /** Glob patterns of tensor names to leave out of the output. */
  exclude?: string[];
  onProgress?: ProgressSink;
  /** Non-fatal findings: dtype differences, ignored extra tensors, NaN/Inf in 'warn' mode (mergeToDisk: experts of another base with allowDifferentBase). */
  onWarning?: (message: string) => void;
  /** NaN/Inf in an input or merged tensor: fail naming file and tensor (default), or warn and go on. */
  nonFinite?: 'error' | 'warn';
  /** Parameters that vary by tensor (mergekit gradients, filters, slices; see config.ts): they win over `params`/`weights`. */
  perTensor?: PerTensorParams;
  /** Allow negative weights (task negation); refused by default, as they silently subtract an expert. */
  allowNegativeWeights?: boolean;
}

/** One tensor's own parameter values (raw, validated by the plan), weights, and per-expert values. */
export interface TensorOverride {
  params?: Record<string, ParamValue>;
  weights?: number[];
  /** Per-expert values of a parameter that differs between experts (mergekit's per-model density). */
  expertParams?: Record<string, number[]>;
}

/** Per-tensor parameters, bound to the reference checkpoint's tensor names (which fix the layer count). */
export interface PerTensorParams {
  bind(names: readonly string[]): (name: string) => TensorOverride;
}

/** Where one expert's full weight for one tensor comes from. */
export type ExpertSource =
  | 'dense' // read from the expert
  | 'lowrank' // base + ΔW from a LoRA adapter
  | 'base'; // a LoRA adapter that does not touch this tensor: the base weight itself

export interface TensorPlan {
  name: string;
  shape: number[];
  /** dtype of the tensor in the reference checkpoint (the base, or the first expert without one). */
  dtype: string;
  numel: number;
  /** Bytes in the reference checkpoint (progress weighting). */
  bytes: number;
  sources: ExpertSource[];
  /** This tensor's resolved parameters / weights / per-expert values when they differ from the plan's (perTensor). */
  params?: Record<string, ParamValue>;
  weights?: number[];
  expertParams?: Record<string, number[]>;
}

export interface MergePlan {
  method: MergeMethod;
  params: Record<string, ParamValue>;
  weights: number[];
  seed: number;
  /** The checkpoint that defines the output's tensor names and shapes: base, or the first expert. */
  reference: Checkpoint;
  tensors: TensorPlan[];
  warnings: string[];
}

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);
const fmtShape = (s: readonly number[]) => `[${s.join(', ')}]`;

function checkArity(method: MergeMethod, base: Checkpoint | null, experts: Checkpoint[]): void {
  const n = experts.length;
  const range = method.maxExperts === Infinity ? `at least ${method.minExperts}` : method.minExperts === method.maxExperts ? `exactly ${method.minExperts}` : `${method.minExperts} to ${method.maxExperts}`;
  if (n < method.minExperts || n > method.maxExperts) {
    throw new MergelensError('BAD_INPUT', `${method.id} merges ${range} expert(s), got ${n}`);
  }
  if (method.needsBase && !base) {
    throw new MergelensError('BAD_INPUT', `${method.id} works on task vectors θᵢ − θ₀ and needs the base model`, { hint: 'pass --base BASE' });
  }
  const problem = method.checkInputs?.({ experts: n, hasBase: !!base });
  if (problem) throw new MergelensError('BAD_INPUT', problem);
  const lora = experts.find(isLora);
  if (lora && !base) {
    throw new MergelensError('BAD_INPUT', 'a LoRA adapter is a delta: merging it needs the base model it was trained on', { file: lora.path, hint: 'pass --base BASE' });
  }
  if (base && isLora(base)) throw new MergelensError('BAD_INPUT', 'the base must be a full model, not a LoRA adapter', { file: base.path });
}

function resolveWeights(method: MergeMethod, n: number, weights: number[] | undefined, params: Record<string, ParamValue>, allowNegative = false, tensor?: string): number[] {
  if (weights === undefined) return new Array(n).fill(1);
  if (method.usesWeights === false) {
    throw new MergelensError('BAD_PARAM', `${method.id}: parameter "weights" is not used by ${method.id}`, { hint: method.id === 'slerp' ? 'set the interpolation position with t' : undefined });
  }
  if (weights.length !== n) throw new MergelensError('BAD_PARAM', `${method.id}: parameter "weights" has ${weights.length} value(s) for ${n} expert(s)`);
  weights.forEach((w, i) => {
    if (typeof w !== 'number' || !Number.isFinite(w)) throw new MergelensError('BAD_PARAM', `${method.id}: parameter "weights" value ${i + 1} is not a finite number (${String(w)})`);
  });
  checkWeightSigns(method.id, weights, params, allowNegative, tensor);
  return weights.slice();
}

/**
 * Weights that silently turn a merge into something else are refused (issue 20 audit):
 * `weight_avg -w 1,-1` wrote θa − θb, `ties -w 0,0` the base. A negative weight (task negation)
 * needs an explicit allowNegative; all-zero weights, and weights summing to 0 when the method
 * divides by Σ wᵢ (normalize), are always refused.
 */
function checkWeightSigns(id: string, weights: number[], params: Record<string, ParamValue>, allowNegative: boolean, tensor?: string): void {
  const list = weights.join(', ');
  const neg = weights.findIndex((w) => w < 0);
  if (neg >= 0 && !allowNegative) {
    throw new MergelensError('BAD_PARAM', `${id}: weight ${neg + 1} is negative (${weights[neg]}); weights [${list}] would subtract an expert`, {
      tensor,
      hint: 'negative weights (task negation) need --allow-negative-weights',
    });
  }
  if (weights.every((w) => w === 0)) {
    throw new MergelensError('BAD_PARAM', `${id}: every weight is 0 ([${list}]): the merge would ignore all experts`, { tensor, hint: 'give at least one expert a non-zero weight' });
  }
  const sum = weights.reduce((a, b) => a + b, 0);
  if (params.normalize === true && Math.abs(sum) < 1e-8 * Math.max(...weights.map(Math.abs))) {
    throw new MergelensError('BAD_PARAM', `${id}: weights [${list}] sum to 0, and normalize divides by Σ wᵢ`, { tensor, hint: 'change the weights, or pass --param normalize=false for a plain weighted sum' });
  }
}

function tensorFilter(include: string[] | undefined, exclude: string[] | undefined): (name: string) => boolean {
  const inc = include?.length ? picomatch(include) : null;
  const exc = exclude?.length ? picomatch(exclude) : null;
  return (name) => (!inc || inc(name)) && !(exc && exc(name));
}

/** Validate everything from headers and build the per-tensor plan. Reads no tensor data. */
export function planMerge(base: Checkpoint | null, experts: Checkpoint[], opts: MergeOptions): MergePlan {
  const method = getMethod(opts.method);
  const params = resolveParams(method, opts.params ?? {});
  checkArity(method, base, experts);
  const weights = resolveWeights(method, experts.length, opts.weights, params, opts.allowNegativeWeights);
  const seed = opts.seed ?? 0;
  if (!Number.isSafeInteger(seed) || seed < 0) throw new MergelensError('BAD_PARAM', `${method.id}: seed must be a non-negative integer, got ${seed}`);

  const reference = base ?? experts[0];
  const selected = tensorFilter(opts.include, opts.exclude);
  const names = reference.tensorNames().filter(selected);
  if (names.length === 0) {
    throw new MergelensError('BAD_INPUT', 'no tensors to merge', { file: reference.path, hint: opts.include?.length ? `--include ${opts.include.join(' ')} matched nothing` : undefined });
  }
  const warnings: string[] = [];
  const dtypeNotes = new Map<string, Set<string>>();
  const tensors: TensorPlan[] = names.map((name) => {
    const loc = reference.location(name)!;
    if (!isFloatDType(loc.dtype)) {
      throw new MergelensError('UNSUPPORTED_DTYPE', `dtype ${loc.dtype} cannot be merged (floating-point tensors only)`, { file: reference.path, tensor: name, hint: `leave it out with --exclude '${name}'` });
    }
    const sources = experts.map((e): ExpertSource => {
      if (e === reference) return 'dense';
      const eloc = e.location(name);
      if (eloc) {
        if (!sameShape(eloc.shape, loc.shape)) {
          throw new MergelensError('SHAPE_MISMATCH', `shape ${fmtShape(eloc.shape)} differs from the ${base ? 'base' : 'first expert'}'s ${fmtShape(loc.shape)}`, { file: e.path, tensor: name });
        }
        if (!isFloatDType(eloc.dtype)) throw new MergelensError('UNSUPPORTED_DTYPE', `dtype ${eloc.dtype} cannot be merged`, { file: e.path, tensor: name });
        if (eloc.dtype !== loc.dtype) {
          const key = `${e.path}: ${eloc.dtype} where the ${base ? 'base' : 'first expert'} has ${loc.dtype}`;
          if (!dtypeNotes.has(key)) dtypeNotes.set(key, new Set());
          dtypeNotes.get(key)!.add(name);
        }
        return 'dense';
      }
      if (isLora(e)) {
        const spec = (e as LoraCheckpoint).lowRankSpec(name);
        if (!spec) return 'base';
        const numel = loc.shape.reduce((a, b) => a * b, 1);
        if (spec.shape[0] !== loc.shape[0] || spec.shape[0] * spec.shape[1] !== numel) {
          throw new MergelensError('SHAPE_MISMATCH', `LoRA delta shape ${fmtShape(spec.shape)} does not fit the base weight ${fmtShape(loc.shape)}`, { file: e.path, tensor: name });
        }
        return 'lowrank';
      }
      throw new MergelensError('MISSING_TENSOR', `tensor is missing from this expert (the ${base ? 'base' : 'first expert'} has it)`, { file: e.path, tensor: name });
    });
    return { name, shape: loc.shape.slice(), dtype: loc.dtype, numel: loc.shape.reduce((a, b) => a * b, 1), bytes: loc.end - loc.begin, sources };
  });

  if (opts.perTensor) {
    const at = opts.perTensor.bind(reference.tensorNames());
    for (const t of tensors) {
      const o = at(t.name);
      t.params = resolveParams(method, { ...opts.params, ...o.params });
      if (o.weights) t.weights = resolveWeights(method, experts.length, o.weights, t.params, opts.allowNegativeWeights, t.name);
      for (const [k, vals] of Object.entries(o.expertParams ?? {})) {
        if (!method.perExpertParams?.includes(k)) throw new MergelensError('BAD_PARAM', `${method.id} takes one "${k}" for all experts, but the config gives different values per model`, { tensor: t.name });
        if (vals.length !== experts.length) throw new MergelensError('BAD_PARAM', `${method.id}: per-expert "${k}" has ${vals.length} value(s) for ${experts.length} expert(s)`, { tensor: t.name });
        for (const v of vals) resolveParams(method, { [k]: v }); // range checks
        (t.expertParams ??= {})[k] = vals.slice();
      }
    }
  }
  for (const [key, set] of dtypeNotes) warnings.push(`${key} in ${set.size} tensor(s); merged in float32`);
  const nameSet = new Set(reference.tensorNames());
  for (const e of experts) {
    if (e === reference) continue;
    const extra = e.tensorNames().filter((n) => !nameSet.has(n));
    const lowExtra = isLora(e) ? e.lowRankNames().filter((n) => !nameSet.has(n)) : [];
    if (lowExtra.length) {
      throw new MergelensError('MISSING_TENSOR', `LoRA adapter targets ${lowExtra.length} weight(s) the base does not have, e.g. "${lowExtra[0]}"`, {
        file: e.path,
        tensor: lowExtra[0],
        hint: 'is this adapter for a different base model?',
      });
    }
    if (extra.length) warnings.push(`${e.path}: ${extra.length} tensor(s) the ${base ? 'base' : 'first expert'} lacks are ignored (e.g. ${extra.slice(0, 3).join(', ')})`);
  }
  for (const w of warnings) opts.onWarning?.(w);
  return { method, params, weights, seed, reference, tensors, warnings };
}
