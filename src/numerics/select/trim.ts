/**
 * Exact trim thresholds of a tensor for every expert at once: tᵢ = the k-th largest |τᵢ|,
 * k = keepCount(numel, trim) (TIES keeps the top `density` fraction per tensor).
 *
 * Sorting or radix-selecting every τ costs two or more full passes of scalar work per expert.
 * Instead a sample of |τᵢ| (65 536 values in runs of 16) brackets the k-th value: [lo, hi] are
 * the sample's extreme values in the histogram bins (0.8 % wide) of its values at ranks
 * r ∓ (6σ + 16) around r = k·s/numel, σ the binomial spread of a sample rank. One SIMD sweep
 * then counts the elements above hi, equal to hi and equal to lo,
 * and collects those strictly between (~2% of them on continuous data; ties at either end cost
 * nothing, and BF16 task vectors are mostly ties), and the k-th largest follows from the counts
 * — exact whatever the sample was, because the counts show whether the k-th lies inside. When
 * a bracket misses (a sample unlike the tensor) that expert falls back to the two-pass radix
 * select, also exact. Small tensors (numel ≤ the sample size) are their own sample.
 */
import { f32FromBits } from '../../safetensors/dtype.js';
import { kernels } from '../../wasm/kernels.js';
import { kernelPool } from '../../wasm/pool.js';
import { AbsRadixSelect, HI_BINS, LO_BINS } from './radix-select.js';
import { keepCount, thresholdBits } from './threshold.js';
import { NonFiniteTau, tauOf, type SourceBlock } from '../sources.js';

export const SAMPLE_SIZE = 65536;

/** Where the tensor's elements come from: in memory, or streamed chunk by chunk. */
export interface TrimInput {
  numel: number;
  N: number;
  /** |τᵢ| per expert at spread-out positions (all of them when `whole`). */
  sample(size: number): Promise<{ values: Float32Array[]; whole: boolean }>;
  /** Visit the tensor's blocks in element order (a block is valid until the visit settles). */
  sweep(visit: (block: SourceBlock) => void | Promise<void>): Promise<void>;
  /**
   * Split big blocks' sweeps between the kernel pool's threads (a merge, whose main thread
   * otherwise waits); the metrics pass's workers already use every core.
   */
  parallel?: boolean;
}

/**
 * How many |τᵢ| equal each expert's threshold in each part of each block the sweep visited, in
 * flat order. A cut split between threads needs, for each part, the ties budget the parts before
 * it leave; with these counts nobody counts them again (src/merge/fused.ts).
 */
export interface ThresholdTies {
  /** Per block, in the order visited: each part's [start, end) within it, as the sweep split it. */
  parts: [number, number][][];
  /**
   * Per expert: per block, per part, #{|τᵢ| = tᵢ}; null where not known (a threshold found by
   * the radix fallback, a tensor that was its own sample).
   */
  counts: (number[][] | null)[];
}

/** One swept block's parts and, per part, each expert's counts at hi, at lo and strictly between (collected). */
interface PartCounts {
  ranges: [number, number][];
  eqHi: number[][];
  eqLo: number[][];
  inside: number[][];
}

interface Bracket {
  /** Bit patterns of |τ| values of the sample (hi ≥ lo), around the k-th. */
  hi: number;
  lo: number;
  /** Room for the values strictly between. */
  cap: number;
}

/**
 * Bracket around the k-th largest of numel values from a sample of s of them in the heap at
 * `ptr`: the sample's extreme values in the histogram bins (0.8 % wide) of its values at ranks r ∓ (6σ + 16),
 * r = k·s/numel, σ the binomial spread of a sample rank (a miss has odds below 1e−9 on data in
 * random order); room for twice the elements the sample puts inside, plus 4096.
 */
function bracketOf(ptr: number, s: number, k: number, numel: number, hist: number, out: number): Bracket {
  const { exports, heap } = kernels();
  const r = (k * s) / numel;
  const d = 6 * Math.sqrt(r * (1 - r / s)) + 16;
  const rHi = Math.floor(r - d);
  const rLo = Math.ceil(r + d);
  exports.bracketAbs(ptr, s, Math.max(rHi, 1), Math.min(rLo, s), hist, out);
  const [hiBits, loBits, inside] = heap.u32(out, 3);
  const expected = (inside / s) * numel;
  return { hi: rHi < 1 ? 0x7f800000 : hiBits, lo: rLo > s ? 0 : loBits, cap: Math.min(numel, Math.ceil(2 * expected) + 4096) };
}

/**
 * The threshold from one expert's sweep counts: above hi, equal to hi, strictly between (the
 * collected patterns), equal to lo — in that order from the top. −1 when the k-th is not inside.
 */
function resolve(b: Bracket, k: number, above: number, eqHi: number, n: number, eqLo: number, collected: number, hist: number): number {
  let rank = k - above;
  if (rank < 1) return -1;
  if (eqHi >= rank) return b.hi;
  if (b.hi === b.lo) return -1;
  rank -= eqHi;
  if (n >= rank) return n <= b.cap ? kernels().exports.selectAbs(collected, n, rank, hist) : -1;
  rank -= n;
  return eqLo >= rank ? b.lo : -1;
}

/**
 * Exact thresholds (float64 copies of float32 values) per expert; 0 everywhere when trim ≥ 1.
 * With `above`, also #{|τᵢ| > tᵢ} per expert (what a top-k cut needs to know how many ties at
 * the threshold it keeps), and with `ties`, where those ties lie (filled in), from the same sweep.
 */
export async function trimThresholds(input: TrimInput, trim: number, above?: Float64Array, ties?: ThresholdTies): Promise<Float64Array> {
  const { numel, N } = input;
  const out = new Float64Array(N);
  if (ties) {
    ties.parts = [];
    ties.counts = new Array(N).fill(null);
  }
  if (trim >= 1 || numel === 0) return out;
  const k = keepCount(numel, trim);
  const { values, whole } = await input.sample(Math.min(numel, SAMPLE_SIZE));
  const { exports, heap } = kernels();
  const missed = await heap.scopedAsync(async () => {
    const hist = heap.alloc(exports.selectScratch());
    const pair = heap.alloc(12);
    const samples = values.map((v) => heap.place(v));
    if (whole) {
      samples.forEach((p, i) => {
        out[i] = f32FromBits(exports.selectAbs(p, values[i].length, k, hist));
        if (above) above[i] = exports.countAbove(p, values[i].length, out[i]);
      });
      return [];
    }
    const brackets = samples.map((p, i) => bracketOf(p, values[i].length, k, numel, hist, pair));
    // one entry per expert, laid out as bracketSweep documents (src/wasm/assembly/select.ts)
    const SPEC = exports.bracketSpecBytes();
    const spec = heap.calloc(N * SPEC);
    const specU = heap.u32(spec, (N * SPEC) / 4);
    const specF = heap.f64(spec, (N * SPEC) / 8);
    const collected = brackets.map((b) => heap.alloc(b.cap * 4));
    brackets.forEach((b, i) => specU.set([b.hi, b.lo, collected[i], b.cap], (i * SPEC) / 4));
    const scratch = heap.alloc(exports.sweepScratch());
    const swept: PartCounts[] = [];
    await input.sweep(async (block) => void swept.push(await sweepBrackets(block, spec, brackets, scratch, !!input.parallel)));
    if (ties) ties.parts = swept.map((b) => b.ranges);
    const miss: number[] = [];
    brackets.forEach((b, i) => {
      const w = (i * SPEC) / 4;
      const [aboveHi, eqHi, n] = [specF[(i * SPEC) / 8 + 4], specU[w + 5], specU[w + 4]];
      const t = resolve(b, k, aboveHi, eqHi, n, specU[w + 6], collected[i], hist);
      if (t < 0) return miss.push(i);
      out[i] = f32FromBits(t);
      if (ties) ties.counts[i] = t === b.hi || t === b.lo ? swept.map((s) => (t === b.hi ? s.eqHi : s.eqLo).map((part) => part[i])) : insideTies(swept, i, collected[i], out[i]);
      // above t: the counts above hi, at hi, and the collected values above t (all of them when t = lo)
      if (above) above[i] = t === b.hi ? aboveHi : aboveHi + eqHi + (t === b.lo ? n : exports.countAbove(collected[i], n, out[i]));
    });
    return miss;
  });
  if (missed.length) await radixFallback(input, k, missed, out, above);
  return out;
}

/** Blocks from this many elements are swept by every thread of the kernel pool (main thread only). */
const PARALLEL_MIN = 1 << 16;

/**
 * bracketSweep over one block, adding to `spec`: in one call, or split between the kernel pool's
 * threads — each part counts into its own copy of the spec and collects into its own region,
 * then the parts are added up in element order (counts summed, collected values appended, as
 * far as the capacity goes, but all counted), which is what one call over the block gives. A
 * NaN/Inf throws for the expert one call would name (the first part that has one). Returns the
 * parts and each part's counts at hi and at lo.
 */
async function sweepBrackets(block: SourceBlock, spec: number, brackets: Bracket[], scratch: number, parallel: boolean): Promise<PartCounts> {
  const { exports, heap } = kernels();
  const N = brackets.length;
  const SPEC = exports.bracketSpecBytes();
  // each expert's [collected, eqHi, eqLo] in a spec (the u32s after hi, lo, out, cap)
  const equal = (at: number) => brackets.map((_, i) => Array.from(heap.u32(at + i * SPEC + 16, 3)));
  const pool = parallel && block.count >= PARALLEL_MIN ? kernelPool() : null;
  const before = equal(spec);
  // part 0 counts into `spec`: its counts are what the call added
  const firstPart = (): number[][] => {
    const after = equal(spec);
    return after.map((a, i) => a.map((x, j) => x - before[i][j]));
  };
  const counts: PartCounts = { ranges: [], eqHi: [], eqLo: [], inside: [] };
  const addPart = (range: [number, number], c: number[][]) => {
    counts.ranges.push(range);
    counts.inside.push(c.map((x) => x[0]));
    counts.eqHi.push(c.map((x) => x[1]));
    counts.eqLo.push(c.map((x) => x[2]));
  };
  if (!pool) {
    const bad = exports.bracketSweep(block.desc, N, 0, block.count, spec, scratch);
    if (bad) throw new NonFiniteTau(bad - 1);
    addPart([0, block.count], firstPart());
    return counts;
  }
  return heap.scopedAsync(async () => {
    const ranges = pool.split(block.count, 1024);
    const parts = ranges.map((_, p) => {
      if (p === 0) return { spec, scratch };
      const own = heap.calloc(N * SPEC);
      brackets.forEach((b, i) => heap.u32(own + i * SPEC, 4).set([b.hi, b.lo, heap.alloc(b.cap * 4), b.cap]));
      return { spec: own, scratch: heap.alloc(exports.sweepScratch()) };
    });
    const bad = await pool.runAsync('bracketSweep', ranges.map(([a, b], p) => [block.desc, N, a, b - a, parts[p].spec, parts[p].scratch]));
    const first = bad.find((x) => x !== 0);
    if (first) throw new NonFiniteTau(first - 1);
    ranges.forEach((r, p) => addPart(r, p === 0 ? firstPart() : equal(parts[p].spec)));
    for (let p = 1; p < parts.length; p++) {
      for (let i = 0; i < N; i++) {
        const to = spec + i * SPEC, from = parts[p].spec + i * SPEC;
        const [, , out, cap, n, eqHi, eqLo] = heap.u32(to, 7);
        const [, , pOut, , pN, pEqHi, pEqLo] = heap.u32(from, 7);
        const copy = Math.max(0, Math.min(pN, cap - n));
        if (copy) heap.u8(out + 4 * n, 4 * copy).set(heap.u8(pOut, 4 * copy));
        heap.u32(to + 16, 3).set([n + pN, eqHi + pEqHi, eqLo + pEqLo]);
        heap.f64(to + 32, 1)[0] += heap.f64(from + 32, 1)[0];
      }
    }
    return counts;
  });
}

/**
 * Per block and part, #{|τᵢ| = t} for a threshold strictly inside expert i's bracket: from the
 * values collected in flat order (all of them, or t would not have been resolved), each part's
 * share counted as #{> t⁻} − #{> t}, t⁻ the float below t.
 */
function insideTies(swept: PartCounts[], i: number, collected: number, t: number): number[][] {
  const { exports } = kernels();
  const below = f32FromBits(thresholdBits(t) - 1);
  let at = collected;
  return swept.map((s) =>
    s.inside.map((part) => {
      const n = part[i];
      const c = exports.countAbove(at, n, below) - exports.countAbove(at, n, t);
      at += 4 * n;
      return c;
    }),
  );
}

/** Two histogram sweeps (high 15 bits, then low 16 bits within the chosen bin) for the experts given. */
async function radixFallback(input: TrimInput, k: number, experts: number[], out: Float64Array, above?: Float64Array): Promise<void> {
  const sel = experts.map(() => new AbsRadixSelect(k));
  for (let pass = 0; pass < 2; pass++) {
    await input.sweep((block) => experts.forEach((i, x) => radixPass(sel[x], block, i)));
    if (pass === 0) sel.forEach((s) => s.resolveHi());
  }
  experts.forEach((i, x) => (out[i] = sel[x].value()));
  if (!above) return;
  const { exports, heap } = kernels();
  experts.forEach((i) => (above[i] = 0));
  await input.sweep((block) =>
    heap.scoped(() => {
      const tau = heap.alloc(((block.count + 3) & ~3) * 4);
      const scratch = heap.alloc(exports.sweepScratch());
      for (const i of experts) {
        if (exports.tauRange(block.desc, i, 0, block.count, tau, scratch)) throw new NonFiniteTau(i);
        above[i] += exports.countAbove(tau, block.count, out[i]);
      }
    }),
  );
}

/**
 * One radix pass of `sel` over expert i's |τ| in a block, counted by the kernels: pass 1 (high
 * bits) until `sel.resolveHi()`, pass 2 (low bits of the chosen bin) after. NaN/Inf throws.
 */
export function radixPass(sel: AbsRadixSelect, block: SourceBlock, i: number): void {
  const { exports, heap } = kernels();
  heap.scoped(() => {
    const hist = heap.calloc(LO_BINS * 4);
    if (exports.histogramSweep(block.desc, i, 0, block.count, sel.hiBin, hist, heap.alloc(exports.sweepScratch()))) throw new NonFiniteTau(i);
    const counts = heap.u32(hist, LO_BINS);
    if (sel.hiBin < 0) sel.addHiCounts(counts.subarray(0, HI_BINS), block.count);
    else sel.addLoCounts(counts);
  });
}

/** The thresholds as the kernels take them: float32 bit patterns, 0 → 1 (zeros never kept). */
export function thresholdBitsOf(thresholds: Float64Array): Uint32Array {
  return Uint32Array.from(thresholds, thresholdBits);
}

/**
 * |τᵢ| per expert at up to `size` elements of a block, in runs of 16 spread over it (all of
 * them, in order, when size = count and count is a multiple of 16); heap views, freed with the
 * caller's scope. `whole` tells whether every element was sampled.
 */
export function sampleBlock(block: SourceBlock, size: number): { values: Float32Array[]; whole: boolean } {
  const { exports, heap } = kernels();
  const s = size & ~15;
  if (s === 0) {
    // fewer than 16 elements: all of them, through the τ kernel
    const values = Array.from({ length: block.N }, (_, i) => {
      const t = tauOf(block, i);
      if (!t) throw new NonFiniteTau(i);
      return t.map(Math.abs);
    });
    return { values, whole: true };
  }
  const out = heap.alloc(block.N * s * 4);
  const bad = exports.sampleAbs(block.desc, block.N, block.count, s, out, heap.alloc(exports.sweepScratch()));
  if (bad) throw new NonFiniteTau(bad - 1);
  return { values: Array.from({ length: block.N }, (_, i) => heap.f32(out + i * s * 4, s)), whole: s === block.count };
}
