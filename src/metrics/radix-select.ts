/**
 * Exact k-th largest |v| of float32 data by two-pass radix selection on the IEEE bit
 * patterns: for non-negative floats (sign bit cleared) unsigned integer order equals numeric
 * order, so pass 1 histograms the high 15 bits of |v| (32768 bins) to find the bin holding the
 * k-th largest, and pass 2 histograms the low 16 bits of the elements in that bin. Two
 * sequential reads, no copy of the data, no data-dependent swaps: measured ~5–8× faster than
 * quickselect on a copy for the 4M–65M-element tensors of LLMs (see `npm run bench`).
 * Both passes are plain histogram sums, so they also run over a tensor streamed in chunks
 * (`AbsRadixSelect`): exact thresholds without ever holding the whole tensor.
 * NaN bit patterns sort above +Inf (callers reject non-finite task vectors before this).
 */

export const HI_BINS = 1 << 15;
export const LO_BINS = 1 << 16;
const bitsToFloat = new Float32Array(1);
const bitsView = new Uint32Array(bitsToFloat.buffer);

/**
 * Streaming selector: `addHi` every chunk, then `resolveHi`, then `addLo` every chunk (same
 * data again, any chunking), then `value()`. Histograms are per instance (384 KiB).
 */
export class AbsRadixSelect {
  private hiCounts = new Uint32Array(HI_BINS);
  private loCounts: Uint32Array | null = null;
  private n = 0;
  private rank = 0;
  private hi = -1;

  constructor(private k: number) {}

  addHi(v: Float32Array): void {
    const bits = new Uint32Array(v.buffer, v.byteOffset, v.length);
    const h = this.hiCounts;
    for (let i = 0; i < bits.length; i++) h[(bits[i] >>> 16) & 0x7fff]++;
    this.n += v.length;
  }

  /** Pass 1 from a histogram counted elsewhere (the WebAssembly sweep): 32768 bins of bits 16..30. */
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

  addLo(v: Float32Array): void {
    const bits = new Uint32Array(v.buffer, v.byteOffset, v.length);
    const h = this.loCounts!;
    const hi = this.hi;
    for (let i = 0; i < bits.length; i++) {
      const b = bits[i];
      if (((b >>> 16) & 0x7fff) === hi) h[b & 0xffff]++;
    }
  }

  /** Pass 2 from a histogram counted elsewhere: 65536 bins of the low 16 bits within `hiBin`. */
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
    bitsView[0] = ((this.hi << 16) | lo) >>> 0;
    return bitsToFloat[0];
  }
}

/** The k-th largest |v[i]| (1-based k, clamped to [1, n]); 0 for an empty array. */
export function kthLargestAbsRadix(v: Float32Array, k: number): number {
  const s = new AbsRadixSelect(k);
  s.addHi(v);
  if (!s.resolveHi()) return 0;
  s.addLo(v);
  return s.value();
}
