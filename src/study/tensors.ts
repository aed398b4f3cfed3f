/**
 * Conversion between the in-memory MLP (float64, transposed weights) and checkpoint tensors
 * named like a PyTorch state dict: `encoder.<l>.weight` [out, in], `encoder.<l>.bias` [out],
 * `head.weight` [classes, in], `head.bias` [classes].
 */
import { MergelensError } from '../errors.js';
import type { Dense, Floats } from './mlp.js';

export interface NamedTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** Transposed copy of a row-major [rows, cols] matrix, as float32. */
export function transposeToF32(src: Floats, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = src[r * cols + c];
  return out;
}

function transposeToF64(src: Floats, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = src[r * cols + c];
  return out;
}

/** Tensors of one Dense under `prefix` (weight [out, in] float32, bias [out]). */
export function denseToTensors(prefix: string, d: Dense): NamedTensor[] {
  return [
    { name: `${prefix}.weight`, shape: [d.outDim, d.inDim], data: transposeToF32(d.wt, d.inDim, d.outDim) },
    { name: `${prefix}.bias`, shape: [d.outDim], data: Float32Array.from(d.b) },
  ];
}

export const encoderTensorNames = (layers: number): string[] =>
  Array.from({ length: layers }, (_, l) => [`encoder.${l}.weight`, `encoder.${l}.bias`]).flat();

export const encoderToTensors = (enc: Dense[]): NamedTensor[] => enc.flatMap((d, l) => denseToTensors(`encoder.${l}`, d));
export const headToTensors = (head: Dense): NamedTensor[] => denseToTensors('head', head);

/** A tensor source: the weights of a checkpoint, or a merged stream collected into a map. */
export type TensorLookup = (name: string) => { shape: number[]; data: Float32Array } | undefined;

/** Rebuild a Dense from `<prefix>.weight` [out, in] and `<prefix>.bias` [out]; `where` names the source in errors. */
export function denseFromTensors(get: TensorLookup, prefix: string, where: string, expectIn?: number): Dense {
  const w = get(`${prefix}.weight`);
  const b = get(`${prefix}.bias`);
  if (!w) throw new MergelensError('MISSING_TENSOR', 'tensor missing', { file: where, tensor: `${prefix}.weight` });
  if (!b) throw new MergelensError('MISSING_TENSOR', 'tensor missing', { file: where, tensor: `${prefix}.bias` });
  if (w.shape.length !== 2 || (expectIn !== undefined && w.shape[1] !== expectIn)) {
    throw new MergelensError('SHAPE_MISMATCH', `expected [out, ${expectIn ?? 'in'}], got [${w.shape.join(', ')}]`, { file: where, tensor: `${prefix}.weight` });
  }
  const [outDim, inDim] = w.shape;
  if (b.shape.length !== 1 || b.shape[0] !== outDim) {
    throw new MergelensError('SHAPE_MISMATCH', `expected [${outDim}], got [${b.shape.join(', ')}]`, { file: where, tensor: `${prefix}.bias` });
  }
  return { inDim, outDim, wt: transposeToF64(w.data, outDim, inDim), b: Float64Array.from(b.data) };
}

/** Encoder layers encoder.0 … encoder.<layers−1>, checking that consecutive dimensions chain. */
export function encoderFromTensors(get: TensorLookup, layers: number, where: string, inputDim: number): Dense[] {
  const out: Dense[] = [];
  let inDim = inputDim;
  for (let l = 0; l < layers; l++) {
    const d = denseFromTensors(get, `encoder.${l}`, where, inDim);
    out.push(d);
    inDim = d.outDim;
  }
  return out;
}

export const lookupOf = (tensors: NamedTensor[]): TensorLookup => {
  const m = new Map(tensors.map((t) => [t.name, t]));
  return (name) => m.get(name);
};
