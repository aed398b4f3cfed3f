/**
 * The measured phases of `npm run bench`. Each runs in its own child process (see main.ts) so
 * that the peak RSS it reports — process.resourceUsage().maxRSS, worker threads included — is
 * that phase's alone.
 */
import { existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Checkpoint, FloatDType } from '../types.js';
import { openCheckpoint } from '../checkpoint/open.js';
import { checkpointFiles } from '../checkpoint/fingerprint.js';
import { computeMetricsPartialParallel } from '../metrics/parallel.js';
import { finalizeReport } from '../metrics/finalize.js';
import { randomizedSvd } from '../numerics/linalg/rsvd.js';
import { DEFAULT_SUBSPACE, spectralFactors, subspacePair } from '../metrics/subspace.js';
import { mergeToDisk } from '../merge/to-disk.js';
import { createCheckpointWriter, writeSafetensors } from '../safetensors/writer.js';
import { kernels, SOURCE_CODE } from '../wasm/kernels.js';
import { mulberry32 } from '../util/mulberry32.js';
import { encodeFloats, FLOAT_DTYPE_BYTES, isFloatDType } from '../safetensors/dtype.js';
import { accumulateSources, newSums } from '../metrics/accumulators.js';
import { kernelThreads } from '../wasm/pool.js';
import { readSource, sourceBlock, type SourceBlock } from '../numerics/sources.js';
import { sampleBlock, trimThresholds } from '../numerics/select/trim.js';
import { nativeKernels, NOT_TAKEN } from '../native/load.js';
import { bestOf, cpuSeconds } from './clock.js';
import { removeSettled } from './settle.js';
import { ALIGN_SLACK, alignedIn } from '../util/output-file.js';

export const peakRssBytes = () => process.resourceUsage().maxRSS * 1024;

async function openAll(base: string, experts: string[]): Promise<{ b: Checkpoint; es: Checkpoint[]; close: () => Promise<void> }> {
  const b = await openCheckpoint(base);
  const es = await Promise.all(experts.map((p) => openCheckpoint(p)));
  return { b, es, close: async () => void (await Promise.all([b, ...es].map((c) => c.close()))) };
}

export interface MetricsPhase {
  phase: 'metrics';
  base: string;
  experts: string[];
  threads: number;
  subspace: boolean;
}

export interface MetricsResult {
  seconds: number;
  /** CPU seconds of the pass (user + system, every thread of the process, workers included). */
  cpuSeconds?: number;
  bytesRead: number;
  params: number;
  tensors: number;
  pairs: number;
  peakRss: number;
  /** Whole-model values for the numpy cross-check, by pair (i<j, lexicographic). */
  values: { i: number; j: number; cosine: number | null; l2: number | null; sign: number | null }[];
  /** The same pass again in the same process (code compiled, workers' modules cached by the OS): the rate without start-up. */
  warm?: Timing;
}

/** Wall and CPU seconds of a repeat in the same process. */
export interface Timing {
  seconds: number;
  cpuSeconds: number;
}

/** Time `fn` (wall and CPU of every thread of the process). */
async function timed<T>(fn: () => Promise<T>): Promise<{ value: T } & Timing> {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const value = await fn();
  const cpu = process.cpuUsage(c0);
  return { value, seconds: (performance.now() - t0) / 1000, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

export async function metricsPhase(p: MetricsPhase): Promise<MetricsResult> {
  const { b, es, close } = await openAll(p.base, p.experts);
  try {
    const pass = () => computeMetricsPartialParallel(b, es, { threads: p.threads, subspace: p.subspace }).then(finalizeReport);
    const { value: report, seconds, cpuSeconds } = await timed(pass);
    const { seconds: ws, cpuSeconds: wc } = await timed(pass);
    return {
      seconds,
      cpuSeconds,
      bytesRead: report.stats.bytesRead,
      params: report.stats.parameters,
      tensors: report.stats.tensors,
      pairs: report.pairs.length,
      peakRss: peakRssBytes(),
      values: report.pairs.map(([i, j]) => ({ i, j, cosine: report.metrics.tv_cosine[i][j], l2: report.metrics.tv_l2[i][j], sign: report.metrics.sign_agreement[i][j] })),
      warm: { seconds: ws, cpuSeconds: wc },
    };
  } finally {
    await close();
  }
}

export interface MergePhase {
  phase: 'merge';
  base: string;
  experts: string[];
  method: string;
  out: string;
  /** Leave the output for a side-by-side comparison (the caller deletes it). */
  keep?: boolean;
}

export interface MergeResultFigures {
  seconds: number;
  /** CPU seconds of the merge (user + system, all threads of the process): load-independent. */
  cpuSeconds?: number;
  /** Checkpoint bytes the merge had to read (base when the method needs it + experts). */
  bytesIn: number;
  bytesOut: number;
  tensors: number;
  peakRss: number;
  /** The same merge again in the same process (helper threads started, code compiled): what a sweep's or search's later merges see. */
  warm?: Timing;
}

export async function mergePhase(p: MergePhase): Promise<MergeResultFigures> {
  const { b, es, close } = await openAll(p.base, p.experts);
  try {
    const merge = () => mergeToDisk(b, es, { method: p.method, out: p.out, shardBytes: 500e6, force: true });
    const { value: r, seconds, cpuSeconds } = await timed(merge);
    let bytesOut = 0;
    for (const f of r.files) bytesOut += (await fsp.stat(f)).size;
    // the warm merge writes a new output, as the cold one did (replacing it would time its deletion)
    await removeSettled(p.out);
    const { seconds: ws, cpuSeconds: wc } = await timed(merge);
    // Every expert is read in full; the base only by methods that need it (streamPlan skips it otherwise).
    const sizeOf = (c: Checkpoint) => checkpointFiles(c).reduce((n, f) => n + f.size, 0);
    const bytesIn = es.reduce((n, c) => n + sizeOf(c), 0) + (r.plan.method.needsBase ? sizeOf(b) : 0);
    return { seconds, cpuSeconds, bytesIn, bytesOut, tensors: r.plan.tensors.length, peakRss: peakRssBytes(), warm: { seconds: ws, cpuSeconds: wc } };
  } finally {
    await close();
    if (!p.keep) await removeSettled(p.out);
  }
}

export interface WriteFloorPhase {
  phase: 'write-floor';
  /** The checkpoint whose layout a merge of it writes (every float tensor, same dtypes, 500 MB shards). */
  base: string;
  out: string;
}

/** A merge's output written alone: seconds, and the bytes of the files written. */
export interface WriteFloor {
  seconds: number;
  bytes: number;
}

/**
 * The floor under every merge of the base's model: its output files (the base's float tensors,
 * 500 MB shards, as mergePhase merges) written through the same checkpoint writer — O_DIRECT,
 * fsync, the rename — from memory, with nothing read or merged. Non-zero bytes (a virtual disk
 * may treat zero blocks specially), in 2 MiB ranges as the merge's chunks: from WebAssembly
 * memory laid out at the file's alignment, three in flight, as the fused merge writes them.
 */
export async function writeFloorPhase(p: WriteFloorPhase): Promise<WriteFloor> {
  const { b, close } = await openAll(p.base, []);
  try {
    const specs = b.tensorNames().flatMap((name) => {
      const loc = b.location(name)!;
      return isFloatDType(loc.dtype) ? [{ name, shape: loc.shape, dtype: loc.dtype as FloatDType }] : [];
    });
    const rnd = mulberry32(11);
    const CHUNK = 2 << 20, REGIONS = 3; // fused.ts: 2 MiB BF16 chunks, SLOTS
    const span = CHUNK + ALIGN_SLACK;
    const mem = new Uint8Array(new WebAssembly.Memory({ initial: Math.ceil((REGIONS * span) / 65536) }).buffer);
    for (let i = 0; i < mem.length; i++) mem[i] = (rnd() * 256) | 0;
    const { value: files, seconds } = await timed(async () => {
      const w = createCheckpointWriter(p.out, specs, { shardBytes: 500e6 });
      const writing: Promise<void>[] = new Array(REGIONS).fill(Promise.resolve());
      let k = 0;
      for (const t of specs) {
        const size = FLOAT_DTYPE_BYTES[t.dtype], per = CHUNK / size, n = t.shape.reduce((a, x) => a * x, 1);
        for (let e = 0; e < n; e += per) {
          const r = k++ % REGIONS;
          await writing[r];
          const at = alignedIn(r * span, w.offsetOf(t.name, e));
          const count = Math.min(per, n - e);
          writing[r] = w.writeRangeBytes(t.name, e, count, mem.subarray(at, at + count * size), { wasmMemory: true });
          writing[r].catch(() => undefined); // awaited when the region comes up again, or below
        }
      }
      await Promise.all(writing);
      return w.finish();
    });
    // the files finish() names (shards and index), as mergePhase counts a merge's bytesOut
    let written = 0;
    for (const f of files) written += (await fsp.stat(f)).size;
    return { seconds, bytes: written };
  } finally {
    await close();
    await removeSettled(p.out);
  }
}

export interface SubspacePhase {
  phase: 'subspace';
  /** Where the test matrix is (written here first if missing), for numpy to read the same one. */
  file: string;
  size: number;
  k: number;
  oversample: number;
  power: number;
}

export interface SubspaceResult {
  size: number;
  /** Threads the kernel pool used (all cores unless MERGELENS_KERNEL_THREADS says otherwise). */
  threads: number;
  /** Best of 3: randomizedSvd(A, k) with oversample p, q power iterations (l = k + p), A a plain Float32Array (copied into the kernels' memory). */
  rsvdSeconds: number;
  /** Best of 3: the same with A already in the kernels' memory, as the metrics pass holds it. */
  rsvdResidentSeconds: number;
  /** Best of 3: heap-resident A on one thread (a metrics worker's case: each thread its own tensors). */
  rsvdOneThreadSeconds: number;
  /** Best of 3: the same with Float64 input (the numpy comparison runs in float64 too). */
  rsvdF64Seconds: number;
  /** spectralFactors with the engine defaults (k 10, spectrumK 100 → l = 110, q = 1): one expert's share of a tensor. */
  factorsDefaultSeconds: number;
  /** subspacePair of two experts' factors (the per-pair cost). */
  pairSeconds: number;
  sigma: number[];
  peakRss: number;
}

/**
 * A task-vector-like n×n float32 matrix: rank-32 signal with σ_r = 2^(−r/4) plus 1% Gaussian-ish
 * noise (fine-tune deltas have a fast-decaying head and a flat noisy tail).
 */
export function taskVectorMatrix(n: number, seed: number): Float32Array {
  let a = seed >>> 0;
  const u = () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5;
  };
  const r = 32;
  const U = Float64Array.from({ length: r * n }, u);
  const V = Float64Array.from({ length: r * n }, u);
  const A = new Float32Array(n * n);
  const row = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    row.fill(0);
    for (let q = 0; q < r; q++) {
      const w = U[q * n + i] * 2 ** (-q / 4);
      for (let c = 0; c < n; c++) row[c] += w * V[q * n + c];
    }
    for (let c = 0; c < n; c++) A[i * n + c] = row[c] / Math.sqrt(n) + 0.01 * u();
  }
  return A;
}

export async function subspacePhase(p: SubspacePhase): Promise<SubspaceResult> {
  const n = p.size;
  if (!existsSync(p.file)) {
    await fsp.mkdir(path.dirname(p.file), { recursive: true });
    await writeSafetensors(p.file, [{ name: 'A', dtype: 'F32', shape: [n, n], data: taskVectorMatrix(n, 11) }]);
  }
  const f = await openCheckpoint(p.file);
  const A = await f.read('A');
  await f.close();
  const B = taskVectorMatrix(n, 12);
  const opts = { oversample: p.oversample, powerIterations: p.power };
  let sigma: number[] = [];
  const rsvdSeconds = bestOf(3, () => {
    sigma = Array.from(randomizedSvd(A, n, n, p.k, opts).sigma);
  });
  const A64 = Float64Array.from(A);
  const rsvdF64Seconds = bestOf(3, () => randomizedSvd(A64, n, n, p.k, opts));
  const { heap } = kernels();
  const resident = heap.f32(heap.place(A), A.length);
  const rsvdResidentSeconds = bestOf(3, () => randomizedSvd(resident, n, n, p.k, opts));
  const threads = kernelThreads();
  process.env.MERGELENS_KERNEL_THREADS = '1';
  const rsvdOneThreadSeconds = bestOf(3, () => randomizedSvd(resident, n, n, p.k, opts));
  process.env.MERGELENS_KERNEL_THREADS = String(threads);
  const sopts = { ...DEFAULT_SUBSPACE, k: p.k, rsvd: opts };
  let fa = spectralFactors(resident, n, n, sopts);
  const factorsDefaultSeconds = bestOf(1, () => {
    fa = spectralFactors(resident, n, n, sopts);
  });
  const fb = spectralFactors(B, n, n, sopts);
  const pairSeconds = bestOf(3, () => subspacePair(fa, fb));
  return { size: n, threads, rsvdSeconds, rsvdResidentSeconds, rsvdOneThreadSeconds, rsvdF64Seconds, factorsDefaultSeconds, pairSeconds, sigma, peakRss: peakRssBytes() };
}

export interface StreamPhase {
  phase: 'stream';
  base: string;
  experts: string[];
  /** This process's share: tensor t (sorted) when t mod count = index. */
  index: number;
  count: number;
}

export interface StreamResult {
  seconds: number;
  bytes: number;
  elements: number;
  peakRss: number;
}

/**
 * The metrics pass's streaming front end alone: every float tensor's stored bytes read from
 * base and experts into the kernels' memory (up to 16Mi elements at a time),
 * then decoded into task vectors with the NaN/Inf check by the pass's own kernel with its pair
 * arithmetic off (`streamTaus`). Its throughput is the ceiling the full pass streams under.
 */
export async function streamPhase(p: StreamPhase): Promise<StreamResult> {
  const { b, es, close } = await openAll(p.base, p.experts);
  const { exports, heap } = kernels();
  try {
    const names = b.tensorNames().filter((n) => isFloatDType(b.location(n)!.dtype));
    const mine = names.filter((_, t) => t % p.count === p.index);
    let bytes = 0, elements = 0;
    const t0 = performance.now();
    const step = 16 * 2 ** 20;
    for (const name of mine) {
      const numel = b.location(name)!.shape.reduce((x, y) => x * y, 1);
      for (let e0 = 0; e0 < numel; e0 += step) {
        const count = Math.min(step, numel - e0);
        await heap.scopedAsync(async () => {
          const reads = await Promise.all([b, ...es].map((c) => readSource(c, name, [[e0, count]])));
          for (const r of reads) bytes += r.bytes;
          const block = sourceBlock(heap, reads[0].entry, reads.slice(1).map((r) => r.entry), count);
          const scratch = heap.alloc(exports.accumulateScratch(es.length));
          for (let e = 0; e < count; e += 1 << 20) if (exports.streamTaus(block.desc, es.length, e, Math.min(1 << 20, count - e), scratch)) throw new Error(`non-finite τ in ${name}`);
        });
        elements += count;
      }
    }
    return { seconds: (performance.now() - t0) / 1000, bytes, elements, peakRss: peakRssBytes() };
  } finally {
    await close();
  }
}

export interface KernelPhase {
  phase: 'kernel';
  experts: number;
}

export interface KernelResult {
  experts: number;
  /** One thread, best of 25 by CPU time (runs of 5 in older reports, by wall time): positions (parameters) per second through the fused kernel. */
  positionsPerSecond: number;
  /** The same as nanoseconds per pair-element (decode, task vectors, float sums and counts included). */
  nsPerPairElement: number;
  /** Which kernel the pass ran: the native twin (src/native/pairs.c) or WebAssembly (reports before 2026-12-02 12:00: WebAssembly). */
  engine?: 'native' | 'WebAssembly';
  /** Where the native kernel ran: the WebAssembly kernel's figure in the same run (a second process, MERGELENS_NATIVE=0). */
  wasmNsPerPairElement?: number;
  /**
   * The exact trim thresholds' counting sweep over the same block (what the pass adds per
   * element before the pair kernel can run; trim.ts), nanoseconds per expert-element, best of
   * 25 by CPU time; the per-tensor bracket from the sample is left out (it does not grow with
   * the tensor). Absent in reports before 2026-12-03.
   */
  sweepNsPerElement?: number;
  /** The same two figures with 2 experts (the 1-pair pass's kernel: its own code path), where the main run has more. */
  twoExperts?: { nsPerPairElement: number; sweepNsPerElement?: number };
}

/**
 * The fused pair kernel alone, one thread, no I/O: 1M positions of BF16 base + experts with
 * task-vector-like values (2% exact zeros) already in the kernels' memory, accumulated 25 times
 * (after one untimed run that lets V8 tier the kernel up). Timed by the process's CPU time, as
 * bench/pair_kernel.c times the native reference: on a shared machine wall time would count
 * other processes' time slices, and the best of many short runs is the least disturbed.
 */
export async function kernelPhase(p: KernelPhase): Promise<KernelResult> {
  const { heap } = kernels();
  const N = p.experts;
  const count = 1 << 20;
  const rnd = mulberry32(7);
  const baseValues = Float32Array.from({ length: count }, () => (rnd() - 0.5) * 0.1);
  const sources = [baseValues, ...Array.from({ length: N }, () => baseValues.map((b) => (rnd() < 0.02 ? b : b + (rnd() - 0.5) * 1e-3)))];
  const entries = sources.map((v) => {
    const bytes = encodeFloats('BF16', v);
    const ptr = heap.alloc(bytes.length);
    heap.u8(ptr, bytes.length).set(bytes);
    return { ptr, code: SOURCE_CODE.BF16 };
  });
  const block = sourceBlock(heap, entries[0], entries.slice(1), count);
  const thresholds = new Float64Array(N).fill(2e-4);
  const sums = newSums(N);
  const run = () => {
    if (accumulateSources(block, thresholds, sums)) throw new Error('non-finite synthetic data');
  };
  run();
  const seconds = bestOf(25, run, cpuSeconds);
  const sweep = await sweepSeconds(block);
  return {
    experts: N,
    positionsPerSecond: count / seconds,
    nsPerPairElement: (seconds * 1e9) / (count * ((N * (N - 1)) / 2)),
    engine: pairEngine(block, N),
    sweepNsPerElement: (sweep * 1e9) / (count * N),
  };
}

/**
 * CPU seconds of one counting sweep of the trim thresholds over a block (bigger than the
 * sample, so the sweep runs), best of 25; only the sweep's visit is timed.
 */
async function sweepSeconds(block: SourceBlock): Promise<number> {
  let best = Infinity;
  for (let r = 0; r < 26; r++) {
    let t = 0;
    await trimThresholds(
      {
        numel: block.count,
        N: block.N,
        sample: async (size) => sampleBlock(block, size),
        sweep: async (visit) => {
          const t0 = cpuSeconds();
          await visit(block);
          t = cpuSeconds() - t0;
        },
      },
      0.2,
    );
    if (r > 0) best = Math.min(best, t); // the first run lets V8 tier the code up, as run() above
  }
  return best;
}

/** Whether the native twin takes this machine's accumulate calls (it leaves them to WebAssembly without AVX-512): one 64-position call on scratch sums. */
function pairEngine(block: SourceBlock, N: number): 'native' | 'WebAssembly' {
  const native = nativeKernels();
  if (!native) return 'WebAssembly';
  const { exports, heap } = kernels();
  return heap.scoped(() => {
    const { gram, pairs, kept } = newSums(N); // the sums' layout, as accumulateSources places them
    const thr = heap.calloc(4 * N), sums = heap.calloc(8 * (gram.length + pairs.length + kept.length));
    const r = native.accumulate(new Uint8Array(heap.memory.buffer), block.desc, N, 0, 64, thr, sums, heap.alloc(exports.accumulateScratch(N)));
    return r === NOT_TAKEN ? 'WebAssembly' : 'native';
  });
}

export type Phase = MetricsPhase | MergePhase | WriteFloorPhase | SubspacePhase | StreamPhase | KernelPhase;

export async function runPhase(p: Phase): Promise<unknown> {
  if (p.phase === 'metrics') return metricsPhase(p);
  if (p.phase === 'merge') return mergePhase(p);
  if (p.phase === 'write-floor') return writeFloorPhase(p);
  if (p.phase === 'stream') return streamPhase(p);
  if (p.phase === 'kernel') return kernelPhase(p);
  return subspacePhase(p);
}
