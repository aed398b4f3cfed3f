/**
 * A "source block": one element range of a tensor for the base and N experts, laid out in the
 * kernels' heap the way src/wasm/assembly expects — a descriptor of (N+1) × [offset, code]
 * (entry 0 the base) over raw checkpoint bytes (decoded by the kernels), already-formed float32
 * task vectors (TAU) or nothing (ZERO). The engine fills blocks from disk (`readSource`),
 * `tauSources` from arrays already in memory.
 */
import type { Checkpoint, FloatDType } from '../types.js';
import { FLOAT_DTYPE_BYTES } from '../safetensors/dtype.js';
import { kernels, SOURCE_CODE, type WasmHeap } from '../wasm/kernels.js';

export interface SourceBlock {
  /** Heap offset of the descriptor. */
  desc: number;
  /** Number of experts. */
  N: number;
  /** Elements in the range. */
  count: number;
}

export type SourceEntry = { code: number; ptr: number };

/** Write a descriptor for base + experts; returns the block. */
export function sourceBlock(heap: WasmHeap, base: SourceEntry, experts: SourceEntry[], count: number): SourceBlock {
  const desc = heap.alloc((experts.length + 1) * 8);
  const d = heap.u32(desc, (experts.length + 1) * 2);
  [base, ...experts].forEach((s, i) => {
    d[2 * i] = s.ptr;
    d[2 * i + 1] = s.code;
  });
  return { desc, N: experts.length, count };
}

/**
 * The stored bytes of element ranges [start, start + count) of one checkpoint's tensor, back to
 * back, read into a fresh heap region: a dense source entry, and the bytes read. The memory is
 * shared, so allocations made while the reads are in flight (other sources') cannot disturb them.
 */
export async function readSource(c: Checkpoint, name: string, ranges: [number, number][]): Promise<{ entry: SourceEntry; bytes: number }> {
  const { heap } = kernels();
  const dtype = c.location(name)!.dtype as FloatDType;
  const size = FLOAT_DTYPE_BYTES[dtype];
  const bytes = ranges.reduce((n, [, count]) => n + count * size, 0);
  const ptr = heap.alloc(bytes);
  let at = ptr;
  await Promise.all(
    ranges.map(([start, count]) => {
      const dest = heap.u8(at, count * size);
      at += count * size;
      return c.readInto(name, start, count, dest);
    }),
  );
  return { entry: { ptr, code: SOURCE_CODE[dtype] }, bytes };
}

/** A block over task vectors already in memory (copied into the heap unless they live there). */
export function tauSources(heap: WasmHeap, tau: Float32Array[]): SourceBlock {
  const count = tau.length ? tau[0].length : 0;
  if (tau.some((t) => t.length !== count)) throw new Error('task-vector chunks must have equal lengths');
  return sourceBlock(heap, { code: SOURCE_CODE.ZERO, ptr: 0 }, tau.map((t) => ({ code: SOURCE_CODE.TAU, ptr: heap.place(t) })), count);
}

/**
 * τᵢ = θᵢ − θ₀ of expert i over the block, as float32 (exactly what every kernel sees), in a
 * heap array. Returns null when it holds NaN/Inf.
 */
export function tauOf(block: SourceBlock, i: number): Float32Array | null {
  const { exports, heap } = kernels();
  const padded = (block.count + 3) & ~3;
  const out = heap.alloc(padded * 4);
  const scratch = heap.alloc(exports.sweepScratch());
  return exports.tauRange(block.desc, i, 0, block.count, out, scratch) === 0 ? heap.f32(out, block.count) : null;
}

/** A kernel found NaN/Inf in expert `expert`'s task vector (the engine names the file). */
export class NonFiniteTau extends Error {
  constructor(readonly expert: number) {
    super(`task vector of expert #${expert + 1} contains NaN or Inf`);
  }
}
