/**
 * Exact k-th largest |v| of a Float32Array by two-pass radix selection on the IEEE bit
 * patterns: for non-negative floats (sign bit cleared) unsigned integer order equals numeric
 * order, so pass 1 histograms the high 15 bits of |v| (32768 bins) to find the bin holding the
 * k-th largest, and pass 2 histograms the low 16 bits of the elements in that bin. Two
 * sequential reads, no copy of the data, no data-dependent swaps: measured ~5–8× faster than
 * quickselect on a copy for the 4M–65M-element tensors of LLMs (see `npm run bench`).
 * NaN bit patterns sort above +Inf (callers reject non-finite task vectors before this).
 */

const HI_BINS = 1 << 15;
const LO_BINS = 1 << 16;
const hiCounts = new Uint32Array(HI_BINS);
const loCounts = new Uint32Array(LO_BINS);
const bitsToFloat = new Float32Array(1);
const bitsView = new Uint32Array(bitsToFloat.buffer);

/** The k-th largest |v[i]| (1-based k, clamped to [1, n]); 0 for an empty array. */
export function kthLargestAbsRadix(v: Float32Array, k: number): number {
  const n = v.length;
  if (n === 0) return 0;
  let rank = Math.min(Math.max(Math.floor(k), 1), n);
  const bits = new Uint32Array(v.buffer, v.byteOffset, n);
  hiCounts.fill(0);
  for (let i = 0; i < n; i++) hiCounts[(bits[i] >>> 16) & 0x7fff]++;
  let hi = HI_BINS - 1;
  while (hiCounts[hi] < rank) rank -= hiCounts[hi--];
  loCounts.fill(0);
  for (let i = 0; i < n; i++) {
    const b = bits[i];
    if (((b >>> 16) & 0x7fff) === hi) loCounts[b & 0xffff]++;
  }
  let lo = LO_BINS - 1;
  while (loCounts[lo] < rank) rank -= loCounts[lo--];
  bitsView[0] = ((hi << 16) | lo) >>> 0;
  return bitsToFloat[0];
}
