/**
 * Pure kernels on low-rank deltas ΔW = scale · B · A (A [r, n], B [m, r], row-major).
 * Metrics use them to work on LoRA experts without materialising dense ΔW.
 */
import type { Checkpoint, LoraCheckpoint, LowRankDelta } from '../types.js';
import { MergelensError } from '../errors.js';

export function isLora(c: Checkpoint): c is LoraCheckpoint {
  return c.kind === 'lora' && typeof (c as Partial<LoraCheckpoint>).lowRank === 'function';
}

/**
 * Rows [rowStart, rowStart+rowCount) of ΔW as float32 (row-major), accumulated in float64.
 * Memory is one row block, so a caller can stream a large ΔW in row chunks.
 */
export function denseDeltaRows(delta: LowRankDelta, rowStart = 0, rowCount = delta.shape[0] - rowStart): Float32Array {
  const [m, n] = delta.shape;
  const r = delta.rank;
  if (rowStart < 0 || rowCount < 0 || rowStart + rowCount > m) {
    throw new MergelensError('BAD_INPUT', `rows [${rowStart}, ${rowStart + rowCount}) outside a ${m}-row delta`);
  }
  const { A, B, scale } = delta;
  const out = new Float32Array(rowCount * n);
  const acc = new Float64Array(n);
  for (let i = 0; i < rowCount; i++) {
    acc.fill(0);
    const bRow = (rowStart + i) * r;
    for (let k = 0; k < r; k++) {
      const b = B[bRow + k];
      if (b === 0) continue;
      const aRow = k * n;
      for (let j = 0; j < n; j++) acc[j] += b * A[aRow + j];
    }
    const o = i * n;
    for (let j = 0; j < n; j++) out[o + j] = scale * acc[j];
  }
  return out;
}

/** G = Xᵀ Y for X [rows, p], Y [rows, q] (row-major), in float64: [p, q]. */
function gramCols(X: Float32Array, p: number, Y: Float32Array, q: number, rows: number): Float64Array {
  const g = new Float64Array(p * q);
  for (let i = 0; i < rows; i++) {
    const xo = i * p;
    const yo = i * q;
    for (let a = 0; a < p; a++) {
      const x = X[xo + a];
      if (x === 0) continue;
      const go = a * q;
      for (let b = 0; b < q; b++) g[go + b] += x * Y[yo + b];
    }
  }
  return g;
}

/** G = X Yᵀ for X [p, cols], Y [q, cols] (row-major), in float64: [p, q]. */
function gramRows(X: Float32Array, p: number, Y: Float32Array, q: number, cols: number): Float64Array {
  const g = new Float64Array(p * q);
  for (let a = 0; a < p; a++) {
    const xo = a * cols;
    for (let b = 0; b < q; b++) {
      const yo = b * cols;
      let s = 0;
      for (let j = 0; j < cols; j++) s += X[xo + j] * Y[yo + j];
      g[a * q + b] = s;
    }
  }
  return g;
}

/**
 * ⟨ΔW₁, ΔW₂⟩_F = s₁s₂ · Σ (B₁ᵀB₂) ∘ (A₁A₂ᵀ), exact in O(r₁r₂(m+n)) float64 work,
 * never forming the m×n products. ‖ΔW‖²_F = loraGramInner(d, d).
 */
export function loraGramInner(d1: LowRankDelta, d2: LowRankDelta): number {
  const [m, n] = d1.shape;
  if (d2.shape[0] !== m || d2.shape[1] !== n) {
    throw new MergelensError('SHAPE_MISMATCH', `low-rank deltas have different shapes [${d1.shape.join(', ')}] vs [${d2.shape.join(', ')}]`);
  }
  const gb = gramCols(d1.B, d1.rank, d2.B, d2.rank, m);
  const ga = gramRows(d1.A, d1.rank, d2.A, d2.rank, n);
  let s = 0;
  for (let i = 0; i < gb.length; i++) s += gb[i] * ga[i];
  return d1.scale * d2.scale * s;
}

/** ‖ΔW‖_F from the factors. */
export function loraFrobeniusNorm(d: LowRankDelta): number {
  return Math.sqrt(Math.max(0, loraGramInner(d, d)));
}
