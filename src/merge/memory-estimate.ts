/**
 * Peak memory of a merge, estimated from the tensor shapes in the headers before any work, so a
 * merge that cannot fit is refused at once (MEMORY_BUDGET, naming the tensor) instead of dying
 * with "out of WebAssembly memory" after minutes (the audit: tsv on a 1.23B-element tensor
 * reached 16 GiB RSS).
 *
 * Per tensor, as mergeToDisk processes it (stream.ts):
 *   row-chunked (elementwise methods on big tensors): (2N + 3) · 4 B · chunk elements;
 *   whole tensor: inputs and output as float32, (N + 2) · 4 B · numel, plus the method's own
 *   working set —
 *     tsv / iso_c on an m×n matrix (p = min(m, n)): float64 task matrix, its ml-matrix copy
 *       and a flat copy for the Gram kernels (3 · 8 B · m·n), the p×p Gram matrix and its
 *       eigenvectors (2 · 8 B · p²), and the thin factors U, V (8 B · (m + n) · p);
 *     dare / dare_ties with rescale=l1 (and ties' sparsify path when whole): one sparsified
 *       float32 task vector per expert plus an accumulator, (N + 1) · 4 B · numel.
 * Deliberately coarse and on the high side: it decides refusals, not allocations.
 */
import os from 'node:os';
import { MergelensError } from '../errors.js';
import type { MergePlan, TensorPlan } from './plan.js';
import { rowsPerChunk } from './stream.js';

export interface TensorPeak {
  tensor: string;
  shape: number[];
  /** Estimated peak bytes while this tensor is merged. */
  bytes: number;
  /** Merged whole (true) or in row chunks. */
  whole: boolean;
}

/** Default budget when none is given: 80 % of physical memory. */
export function defaultMemoryBudget(): number {
  return Math.floor(os.totalmem() * 0.8);
}

const SVD_METHODS = new Set(['tsv', 'iso_c']);
const SPARSIFY_METHODS = new Set(['dare', 'dare_ties', 'ties']);

/** Estimated peak bytes while one tensor is merged (see the module comment for the model). */
export function tensorPeak(plan: MergePlan, t: TensorPlan, chunkElements: number): TensorPeak {
  const n = t.sources.length;
  const rows = t.shape.length ? t.shape[0] : 1;
  const step = rowsPerChunk(plan, t, chunkElements);
  if (step < rows) {
    const chunk = step * (t.numel / rows);
    return { tensor: t.name, shape: t.shape, bytes: (2 * n + 3) * 4 * chunk, whole: false };
  }
  let bytes = (n + 2) * 4 * t.numel;
  const id = plan.method.id;
  if (SVD_METHODS.has(id) && t.shape.length >= 2) {
    const m = t.shape[0];
    const cols = t.numel / Math.max(1, m);
    const p = Math.min(m, cols);
    bytes += 3 * 8 * t.numel + 2 * 8 * p * p + 8 * (m + cols) * p;
  } else if (SPARSIFY_METHODS.has(id)) {
    bytes += (n + 1) * 4 * t.numel;
  }
  return { tensor: t.name, shape: t.shape, bytes, whole: true };
}

/** The tensor with the largest estimated peak (undefined for an empty plan). */
export function peakTensor(plan: MergePlan, chunkElements: number): TensorPeak | undefined {
  let worst: TensorPeak | undefined;
  for (const t of plan.tensors) {
    const p = tensorPeak(plan, t, chunkElements);
    if (!worst || p.bytes > worst.bytes) worst = p;
  }
  return worst;
}

const gib = (b: number) => (b >= 2 ** 30 ? `${(b / 2 ** 30).toFixed(2)} GiB` : `${(b / 2 ** 20).toFixed(2)} MiB`);

/** Refuse a plan whose estimated peak exceeds `budgetBytes`, naming the tensor and what to do. */
export function assertWithinMemoryBudget(plan: MergePlan, budgetBytes: number, chunkElements: number): TensorPeak | undefined {
  const worst = peakTensor(plan, chunkElements);
  if (worst && worst.bytes > budgetBytes) {
    const elementwise = !SVD_METHODS.has(plan.method.id);
    throw new MergelensError(
      'MEMORY_BUDGET',
      `merging this ${worst.shape.join('×')} tensor with ${plan.method.id} needs about ${gib(worst.bytes)} (${worst.whole ? 'the method holds the whole tensor' : 'row chunks'}), over the memory budget of ${gib(budgetBytes)}`,
      {
        tensor: worst.tensor,
        hint: elementwise && plan.params.rescale === 'l1'
          ? 'rescale=l1 needs whole-tensor norms: use --param rescale=inverse (row-chunked), or raise --memory-budget if the machine has the memory'
          : 'exclude the tensor with --exclude, use an elementwise method (ties, dare, task_arithmetic), or raise --memory-budget if the machine has the memory',
      },
    );
  }
  return worst;
}
