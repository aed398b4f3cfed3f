/**
 * Exact trim thresholds of a tensor for every expert at once: tᵢ = the k-th largest |τᵢ|,
 * k = keepCount(numel, trim) (TIES keeps the top `density` fraction per tensor).
 *
 * Sorting or radix-selecting every τ costs two or more full passes of scalar work per expert.
 * Instead a stride sample of |τᵢ| (65 536 values) brackets the k-th value: [lo, hi] between the
 * sample's ranks r ∓ (6σ + 16) around r = k·s/numel, σ the binomial spread of a sample rank.
 * One SIMD sweep then counts the elements above hi and collects those inside [lo, hi] (~2–4%
 * of them), and the k-th largest is the (k − above)-th among the collected — exact whatever
 * the sample was, because the sweep checks above < k ≤ above + collected. When a bracket misses
 * (very skewed data, long runs of equal values) that expert falls back to the two-pass radix
 * select, also exact. Small tensors (numel ≤ the sample size) are their own sample.
 */
import { kernels } from '../wasm/kernels.js';
import { AbsRadixSelect, HI_BINS, LO_BINS } from './radix-select.js';
import { keepCount, thresholdBits } from './sign-agreement.js';
import { NonFiniteTau, type SourceBlock } from './sources.js';

export const SAMPLE_SIZE = 65536;

/** Where the tensor's elements come from: in memory, or streamed chunk by chunk. */
export interface TrimInput {
  numel: number;
  N: number;
  /** |τᵢ| per expert at spread-out positions (all of them when `whole`). */
  sample(size: number): Promise<{ values: Float32Array[]; whole: boolean }>;
  /** Visit the tensor's blocks in element order (a block is valid only during the call). */
  sweep(visit: (block: SourceBlock) => void): Promise<void>;
}

/** Scratch of the selection kernels: a 65 536-bin histogram. */
const HIST_BYTES = (1 << 16) * 4;

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
/** The float32 value of a bit pattern. */
function valueOf(bits: number): number {
  u32[0] = bits;
  return f32[0];
}

interface Bracket {
  hi: number;
  lo: number;
  cap: number;
}

/**
 * Bracket (float32 bit patterns of |τ|) around the k-th largest of numel values from a sample of
 * s of them in the heap at `ptr`, widened by the sample ranks' 6σ + 16 binomial spread.
 */
function bracketOf(ptr: number, s: number, k: number, numel: number, hist: number, out: number): Bracket {
  const { exports, heap } = kernels();
  const r = (k * s) / numel;
  const d = 6 * Math.sqrt(r * (1 - r / s)) + 16;
  const rHi = Math.floor(r - d);
  const rLo = Math.ceil(r + d);
  exports.bracketBins(ptr, s, Math.max(rHi, 1), Math.min(rLo, s), hist, out);
  const [hiBin, loBin] = heap.u32(out, 2);
  const hi = rHi < 1 ? 0x7f800000 : hiBin;
  const lo = rLo > s ? 0 : loBin;
  const expected = ((Math.min(rLo, s) - Math.max(rHi, 0)) / s) * numel;
  return { hi, lo, cap: Math.min(numel, Math.ceil(2 * expected) + 4096) };
}

/** Exact thresholds (float64 copies of float32 values) per expert; 0 everywhere when trim ≥ 1. */
export async function trimThresholds(input: TrimInput, trim: number): Promise<Float64Array> {
  const { numel, N } = input;
  const out = new Float64Array(N);
  if (trim >= 1 || numel === 0) return out;
  const k = keepCount(numel, trim);
  const { values, whole } = await input.sample(Math.min(numel, SAMPLE_SIZE));
  const { exports, heap } = kernels();
  const missed = await heap.scopedAsync(async () => {
    const hist = heap.alloc(HIST_BYTES);
    const pair = heap.alloc(8);
    const samples = values.map((v) => heap.place(v));
    if (whole) {
      samples.forEach((p, i) => (out[i] = valueOf(exports.selectAbs(p, values[i].length, k, hist))));
      return [];
    }
    const brackets = samples.map((p, i) => bracketOf(p, values[i].length, k, numel, hist, pair));
    const spec = heap.calloc(N * 32);
    const specU = heap.u32(spec, N * 8);
    const specF = heap.f64(spec, N * 4);
    const cols = brackets.map((b) => heap.alloc(b.cap * 4));
    brackets.forEach((b, i) => specU.set([b.hi, b.lo, cols[i], b.cap], i * 8));
    const scratch = heap.alloc(exports.sweepScratch());
    await input.sweep((block) => {
      const bad = exports.bracketSweep(block.desc, N, 0, block.count, spec, scratch);
      if (bad) throw new NonFiniteTau(bad - 1);
    });
    const miss: number[] = [];
    brackets.forEach((b, i) => {
      const above = specF[i * 4 + 3];
      const n = specU[i * 8 + 4];
      if (above < k && above + n >= k && n <= b.cap) out[i] = valueOf(exports.selectAbs(cols[i], n, k - above, hist));
      else miss.push(i);
    });
    return miss;
  });
  if (missed.length) await radixFallback(input, k, missed, out);
  return out;
}

/** Two histogram sweeps (high 15 bits, then low 16 bits within the chosen bin) for the experts given. */
async function radixFallback(input: TrimInput, k: number, experts: number[], out: Float64Array): Promise<void> {
  const { exports, heap } = kernels();
  const sel = experts.map(() => new AbsRadixSelect(k));
  await heap.scopedAsync(async () => {
    const hist = heap.alloc(HIST_BYTES);
    const scratch = heap.alloc(exports.sweepScratch());
    const counts = heap.u32(hist, LO_BINS);
    for (const pass of ['hi', 'lo'] as const) {
      await input.sweep((block) => {
        experts.forEach((i, x) => {
          const bin = pass === 'hi' ? -1 : sel[x].hiBin;
          counts.fill(0);
          if (exports.histogramSweep(block.desc, i, 0, block.count, bin, hist, scratch)) throw new NonFiniteTau(i);
          if (pass === 'hi') sel[x].addHiCounts(counts.subarray(0, HI_BINS), block.count);
          else sel[x].addLoCounts(counts);
        });
      });
      if (pass === 'hi') sel.forEach((s) => s.resolveHi());
    }
  });
  experts.forEach((i, x) => (out[i] = sel[x].value()));
}

/** The thresholds as the kernels take them: float32 bit patterns, 0 → 1 (zeros never kept). */
export function thresholdBitsOf(thresholds: Float64Array): Uint32Array {
  return Uint32Array.from(thresholds, thresholdBits);
}
