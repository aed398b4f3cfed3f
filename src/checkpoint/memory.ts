import type { Checkpoint, TensorLocation } from '../types.js';
import { MergelensError } from '../errors.js';

export interface MemoryTensor {
  shape: number[];
  data: Float32Array;
}

/**
 * An in-memory Checkpoint. For programmatic use (tensors already in memory) and for tests
 * that exercise kernels without files. Reads return copies, like a disk read would.
 */
export function memoryCheckpoint(name: string, tensors: Record<string, MemoryTensor>, metadata: Record<string, string> = {}): Checkpoint {
  const names = Object.keys(tensors).sort();
  const slice = (tensor: string, start: number, count?: number): Float32Array => {
    const t = tensors[tensor];
    if (!t) throw new MergelensError('MISSING_TENSOR', 'no such tensor', { file: `memory:${name}`, tensor });
    const n = count ?? t.data.length - start;
    if (start < 0 || n < 0 || start + n > t.data.length) {
      throw new MergelensError('BAD_INPUT', `read of [${start}, ${start + n}) outside ${t.data.length} elements`, { file: `memory:${name}`, tensor });
    }
    return t.data.subarray(start, start + n);
  };
  return {
    path: `memory:${name}`,
    name,
    kind: 'safetensors',
    metadata,
    tensorNames: () => names.slice(),
    location(tensor: string): TensorLocation | undefined {
      const t = tensors[tensor];
      if (!t) return undefined;
      return { name: tensor, dtype: 'F32', shape: t.shape.slice(), file: `memory:${name}`, begin: 0, end: t.data.length * 4 };
    },
    async read(tensor: string, start = 0, count?: number): Promise<Float32Array> {
      return slice(tensor, start, count).slice();
    },
    async readInto(tensor: string, start: number, count: number, dest: Uint8Array): Promise<void> {
      const src = slice(tensor, start, count);
      if (dest.length !== src.byteLength) throw new MergelensError('BAD_INPUT', `destination holds ${dest.length} bytes, the read is ${src.byteLength}`, { file: `memory:${name}`, tensor });
      dest.set(new Uint8Array(src.buffer, src.byteOffset, src.byteLength));
    },
    async close() {},
  };
}
