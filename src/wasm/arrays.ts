/**
 * The kernels over plain Float32Arrays (copied into the kernels' memory and back): the small
 * elementwise passes of the merge pipeline and the pre-flight check, which were scalar loops.
 */
import { f32FromBits } from '../safetensors/dtype.js';
import { kernels } from './kernels.js';

/** Elements that are NaN or ±Inf. */
export function countNonFinite(x: Float32Array): number {
  const { exports, heap } = kernels();
  return heap.scoped(() => exports.countNonFinite(heap.place(x), x.length));
}

/** fround(θ − θ₀) elementwise (the subtraction in float64, as plain code does it). */
export function taskVector(theta: Float32Array, base: Float32Array): Float32Array {
  const { exports, heap } = kernels();
  return heap.scoped(() => {
    const out = heap.alloc(theta.length * 4);
    exports.taskVector(heap.place(theta), heap.place(base), theta.length, out);
    return heap.f32(out, theta.length).slice();
  });
}

/** #{|x| > t}. */
export function countAbove(x: Float32Array, t: number): number {
  const { exports, heap } = kernels();
  return heap.scoped(() => exports.countAbove(heap.place(x), x.length, t));
}

/** k-th largest |x| (1-based, clamped), exactly (radix select in the kernels). */
export function kthLargestAbs(x: Float32Array, k: number): number {
  const { exports, heap } = kernels();
  if (x.length === 0) return 0;
  return heap.scoped(() => {
    return f32FromBits(exports.selectAbs(heap.place(x), x.length, Math.min(Math.max(Math.floor(k), 1), x.length), heap.alloc(exports.selectScratch())));
  });
}

/**
 * Keep |x| > t and the first `ties` entries (flat order) with |x| = t, zero the rest, in a copy;
 * returns the copy and the ties left.
 */
export function cut(x: Float32Array, t: number, ties: number): { out: Float32Array; ties: number } {
  const { exports, heap } = kernels();
  return heap.scoped(() => {
    const p = heap.alloc(x.length * 4);
    heap.f32(p, x.length).set(x);
    const left = exports.applyCut(p, x.length, t, ties);
    return { out: heap.f32(p, x.length).slice(), ties: left };
  });
}
