/**
 * Parameter specs shared by several methods (mergekit names), and typed accessors for the
 * resolved values a method receives in TensorMergeInput.params.
 */
import type { ParamSpec, ParamValue } from '../types.js';

export const lambdaParam = (def: number, doc: string): ParamSpec => ({
  name: 'lambda',
  type: 'number',
  default: def,
  doc: `λ, multiplies the merged task vector. ${doc}`,
});

export const normalizeParam = (def: boolean, doc: string): ParamSpec => ({
  name: 'normalize',
  type: 'boolean',
  default: def,
  doc,
});

export const densityParam = (def: number, doc: string): ParamSpec => ({
  name: 'density',
  type: 'number',
  default: def,
  min: 0,
  minExclusive: true,
  max: 1,
  doc,
});

export const alphaParam = (def: number, doc: string): ParamSpec => ({
  name: 'alpha',
  type: 'number',
  default: def,
  doc: `α, multiplies the merged task vector. ${doc}`,
});

export function num(params: Record<string, ParamValue>, name: string): number {
  const v = params[name];
  if (typeof v !== 'number') throw new Error(`merge parameter "${name}" must be resolved to a number before merging`);
  return v;
}

export function bool(params: Record<string, ParamValue>, name: string): boolean {
  const v = params[name];
  if (typeof v !== 'boolean') throw new Error(`merge parameter "${name}" must be resolved to a boolean before merging`);
  return v;
}

export function str(params: Record<string, ParamValue>, name: string): string {
  const v = params[name];
  if (typeof v !== 'string') throw new Error(`merge parameter "${name}" must be resolved to a string before merging`);
  return v;
}

/** The base tensor, which every task-vector method needs (the plan guarantees it). */
export function requireBase(base: Float32Array | null, method: string): Float32Array {
  if (!base) throw new Error(`${method} needs the base tensor`);
  return base;
}
