/**
 * Exact k-th largest |v| of float32 data by two-pass radix selection on the IEEE bit patterns:
 * for non-negative floats (sign bit cleared) unsigned integer order equals numeric order, so
 * pass 1 histograms the high 15 bits of |v| (32768 bins) to find the bin holding the k-th
 * largest, and pass 2 histograms the low 16 bits of the elements in that bin. Both passes are
 * plain histogram sums, so they run over a tensor streamed in chunks: the kernels count
 * (`histogramSweep`, or `selectAbs` for data held whole), and `AbsRadixSelect` adds the chunks'
 * histograms up and resolves them — exact thresholds without ever holding the whole tensor.
 */

import { f32FromBits } from '../../safetensors/dtype.js';

export const HI_BINS = 1 << 15;
export const LO_BINS = 1 << 16;

/**
 * Streaming selector: `addHiCounts` for every chunk, then `resolveHi`, then `addLoCounts` for
 * every chunk (histograms of the elements in `hiBin`), then `value()`.
 */
export class AbsRadixSelect {
  private hiCounts = new Uint32Array(HI_BINS);
  private loCounts: Uint32Array | null = null;
  private n = 0;
  private rank = 0;
  private hi = -1;

  constructor(private k: number) {}

  /** Pass 1: a chunk's histogram of bits 16..30 of |v| (HI_BINS bins) over `n` elements. */
  addHiCounts(counts: Uint32Array, n: number): void {
    for (let b = 0; b < HI_BINS; b++) this.hiCounts[b] += counts[b];
    this.n += n;
  }

  /** The high bin holding the k-th largest, once pass 1 is resolved (−1 before). */
  get hiBin(): number {
    return this.hi;
  }

  /** Ends pass 1; false when there is nothing to select (empty input: the value is 0). */
  resolveHi(): boolean {
    if (this.n === 0) return false;
    let rank = Math.min(Math.max(Math.floor(this.k), 1), this.n);
    let hi = HI_BINS - 1;
    while (this.hiCounts[hi] < rank) rank -= this.hiCounts[hi--];
    this.rank = rank;
    this.hi = hi;
    this.loCounts = new Uint32Array(LO_BINS);
    return true;
  }

  /** Pass 2: a chunk's histogram of the low 16 bits of the |v| whose bits 16..30 are `hiBin`. */
  addLoCounts(counts: Uint32Array): void {
    const h = this.loCounts!;
    for (let b = 0; b < LO_BINS; b++) h[b] += counts[b];
  }

  value(): number {
    if (this.hi < 0) return 0;
    const h = this.loCounts!;
    let rank = this.rank;
    let lo = LO_BINS - 1;
    while (h[lo] < rank) rank -= h[lo--];
    return f32FromBits((this.hi << 16) | lo);
  }
}
