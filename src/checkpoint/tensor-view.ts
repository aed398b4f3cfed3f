/**
 * Tensors of a checkpoint as `ndarray` views: the float32 data `Checkpoint.read` decodes, with
 * the tensor's shape and row-major strides, so library users can index (`t.get(i, j)`), slice
 * (`t.lo(…).hi(…)`), pick rows or transpose without copying. The engine itself works on flat
 * typed arrays (its kernels stream row chunks); these views are for callers of the API.
 */
import ndarray, { type NdArray } from 'ndarray';
import type { Checkpoint } from '../types.js';
import { MergelensError } from '../errors.js';

export type TensorView = NdArray<Float32Array>;

function shapeOf(checkpoint: Checkpoint, name: string): number[] {
  const loc = checkpoint.location(name);
  if (!loc) {
    throw new MergelensError('NOT_FOUND', `no tensor "${name}" in ${checkpoint.path}`, { file: checkpoint.path, tensor: name, hint: `it has ${checkpoint.tensorNames().length} tensors; list them with: mergelens inspect ${checkpoint.path}` });
  }
  return loc.shape;
}

/** The whole tensor `name`, decoded to float32, as an ndarray of its shape (a scalar: shape []). */
export async function readTensor(checkpoint: Checkpoint, name: string): Promise<TensorView> {
  const shape = shapeOf(checkpoint, name);
  return ndarray(await checkpoint.read(name), shape);
}

/**
 * Rows [start, end) along the first axis only (one positioned read, memory for those rows
 * alone), as an ndarray of shape [end − start, …rest].
 */
export async function readTensorRows(checkpoint: Checkpoint, name: string, start: number, end: number): Promise<TensorView> {
  const shape = shapeOf(checkpoint, name);
  if (shape.length === 0) throw new MergelensError('BAD_PARAM', `tensor "${name}" is a scalar: it has no rows`, { file: checkpoint.path, tensor: name });
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > shape[0] || start > end) {
    throw new MergelensError('BAD_PARAM', `rows [${start}, ${end}) are outside tensor "${name}" with ${shape[0]} rows`, { file: checkpoint.path, tensor: name });
  }
  const rowSize = shape.slice(1).reduce((a, b) => a * b, 1);
  return ndarray(await checkpoint.read(name, start * rowSize, (end - start) * rowSize), [end - start, ...shape.slice(1)]);
}
