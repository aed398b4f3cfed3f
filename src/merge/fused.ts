/**
 * The fused merge path of mergeToDisk: stored bytes are read straight into the kernels' memory,
 * merged there (src/wasm/assembly/merge.ts: decode, task vectors, TIES cut or DARE drop,
 * combine, encode to the output dtype) and written from there — no float32 arrays in
 * TypeScript, no per-chunk copies. Row chunks as in streamPlanChunks; the reads of the next
 * chunk are in flight while the kernel works on this one and the previous chunk's write
 * completes. A big chunk is split in one part per core, merged by the kernel pool's helpers
 * while this thread's event loop serves the I/O. The bytes written are identical to the
 * float32 path's (test/merge/snapshot, test/merge/threads).
 *
 * Covers weight_avg, task_arithmetic, ties, dare and dare_ties (rescale inverse / none) and
 * slerp over dense inputs, and LoRA experts for weight_avg, task_arithmetic, dare and dare_ties
 * (ΔW rows formed in the kernel); DARE's l1 rescale, the SVD methods, LoRA with ties / slerp and
 * `nonFinite: 'warn'` take the float32 path (stream.ts).
 *
 * TIES: one prescan per chunked tensor — a sample of spread-out rows brackets each expert's
 * k-th largest |τ| and one counting sweep resolves it exactly (src/numerics/select/trim.ts, as
 * the metrics' trim thresholds) — instead of three radix passes. DARE: the same xoshiro128**
 * stream as the float32 path, jumped to each chunk's first element (random.ts), drawn in the
 * kernel.
 */
import type { Checkpoint, FloatDType, LoraCheckpoint, LowRankDelta, ParamValue } from '../types.js';
import { MergelensError } from '../errors.js';
import { FLOAT_DTYPE_BYTES } from '../safetensors/dtype.js';
import { instantiateKernels, kernels, SOURCE_CODE, type Kernels } from '../wasm/kernels.js';
import { kernelPool } from '../wasm/pool.js';
import { sampleBlock, trimThresholds, type ThresholdTies, type TrimInput } from '../numerics/select/trim.js';
import { NonFiniteTau, sourceBlock, type SourceBlock } from '../numerics/sources.js';
import { keepCount } from '../numerics/select/threshold.js';
import type { MergeOptions, MergePlan, TensorPlan } from './plan.js';
import { rowsPerChunk } from './stream.js';
import { bool, num, str } from './params.js';
import { tensorStateAt } from './random.js';
import { SLERP_LANES, SlerpSums } from './methods/slerp.js';
import { partCuts } from './ties-budgets.js';
import { ALIGN_SLACK, alignedIn } from '../util/output-file.js';

/** Where merged chunks go: the encoded bytes of elements [start, start + count) of a tensor, in the kernels' (WebAssembly) memory, valid until the write settles. */
export interface EncodedSink {
  write(name: string, start: number, count: number, bytes: Uint8Array): Promise<void>;
  /** The chunk's byte offset in its file, where known: the merge lays the chunk out at it modulo 4 KiB, so a direct file writes it uncopied. */
  offsetOf?(name: string, start: number): number;
}

const KIND = { linear: 0, gta: 1, slerp: 2 } as const;
const FLAG = { cut: 1, drop: 2, consensus: 4, normalize: 8, slerpBase: 16, readBase: 32 } as const;
const OUT_CODES: Record<string, number> = { F32: SOURCE_CODE.F32, F16: SOURCE_CODE.F16, BF16: SOURCE_CODE.BF16 };
const FUSED_METHODS = new Set(['weight_avg', 'task_arithmetic', 'ties', 'dare', 'dare_ties', 'slerp']);
const LORA_METHODS = new Set(['weight_avg', 'task_arithmetic', 'dare', 'dare_ties']);
/** Ranges from this many elements run on the kernel pool's threads (smaller: here, at once). */
const ASYNC_MIN = 1 << 15;
/** Ranges from this many elements are split between the pool's threads. */
const SPLIT_MIN = 1 << 16;
/** Chunks in flight: one merged, the next read, the one before written; 3 measured 5–8 % faster than 2 at 1.1B × 8 (direct output writes). */
const SLOTS = 3;

/** Whether the fused path merges this plan (else the float32 path does, with the same result). */
export function fusedEligible(plan: MergePlan, dtypeOf: (name: string) => string, opts: Pick<MergeOptions, 'nonFinite'>): boolean {
  // MERGELENS_FUSED=0 forces the float32 path: the bench's "before" figures
  if (process.env.MERGELENS_FUSED === '0' || opts.nonFinite === 'warn' || !FUSED_METHODS.has(plan.method.id)) return false;
  return plan.tensors.every((t) => {
    if (!(dtypeOf(t.name) in OUT_CODES) || t.numel >= 2 ** 31) return false;
    // LoRA experts (ΔW rows made here, θ = θ₀ + ΔW in the kernel) for the rules without a prescan over τ
    if (t.sources.some((s) => s !== 'dense') && !LORA_METHODS.has(plan.method.id)) return false;
    const params = t.params ?? plan.params;
    return !(plan.method.id.startsWith('dare') && params.rescale === 'l1');
  });
}

/** What a tensor's merge needs from a sweep of it first: TIES's cuts ([threshold bits, ties] per expert) and where its ties lie, SLERP's coefficients. */
interface Prescan {
  cuts?: Uint32Array;
  ties?: ThresholdTies;
  coef?: [number, number];
}

interface Unit {
  t: TensorPlan;
  start: number;
  count: number;
  whole: boolean;
  first: boolean;
}

/** One chunk's worth of heap: a region per source and the encoded output. */
interface Slot {
  src: number[];
  /** Per LoRA expert: room for one tensor's A and B. */
  lora: number[];
  /** The encoded output's region (ALIGN_SLACK bytes more than a chunk, which starts where its file offset says: alignedIn). */
  out: number;
  reading: Promise<void> | null;
  writing: Promise<void> | null;
}

/**
 * Merge a plan (validated, fusedEligible) to `sink`. Progress, NaN/Inf errors and the F16 range
 * check as the float32 path reports them.
 */
export async function mergeFused(
  plan: MergePlan,
  base: Checkpoint | null,
  experts: Checkpoint[],
  dtypeOf: (name: string) => string,
  sink: EncodedSink,
  opts: Pick<MergeOptions, 'onProgress'> & { chunkElements: number; signal?: AbortSignal },
): Promise<void> {
  const { exports, heap } = kernels();
  const N = experts.length;
  const id = plan.method.id;
  const needBaseAll = plan.method.needsBase || N < 2;
  // the base is read for a tensor when the rule needs it or a LoRA expert's weight is built on it
  const needBase = (t: TensorPlan) => needBaseAll || t.sources.some((s) => s !== 'dense');
  const sources = (t: TensorPlan): (Checkpoint | null)[] => [needBase(t) ? base : null, ...experts];
  /** Source i of tensor t (0 the base): stored bytes, ΔW rows made here (float32), or the base's region. */
  const kindOf = (t: TensorPlan, i: number) => (i === 0 ? 'dense' : t.sources[i - 1]);
  const units: Unit[] = [];
  // units of a chunk (TIES and SLERP prescan whole tensors from memory when they fit one): fewer,
  // bigger reads and thread hand-offs — 2¹⁸-element units took 20 % longer (each costs wakeups)
  for (const t of plan.tensors) {
    const rows = t.shape.length ? t.shape[0] : 1;
    const rowLen = rows ? t.numel / rows : 0;
    const step = Math.max(1, rowsPerChunk(plan, t, opts.chunkElements));
    if (step >= rows) units.push({ t, start: 0, count: t.numel, whole: true, first: true });
    else for (let r0 = 0; r0 < rows; r0 += step) units.push({ t, start: r0 * rowLen, count: Math.min(step, rows - r0) * rowLen, whole: false, first: r0 === 0 });
  }
  const elemBytes = (c: Checkpoint | null, t: TensorPlan, i: number) => {
    const kind = kindOf(t, i);
    return !c || kind === 'base' ? 0 : kind === 'lowrank' ? 4 : FLOAT_DTYPE_BYTES[c.location(t.name)!.dtype as FloatDType];
  };
  // LoRA factors of the largest low-rank tensor per expert, and one ΔW row's float64 accumulator
  const loraBytes = new Array<number>(N + 1).fill(0);
  let loraCols = 0;
  for (const t of plan.tensors) {
    t.sources.forEach((s, e) => {
      const spec = s === 'lowrank' ? (experts[e] as LoraCheckpoint).lowRankSpec(t.name)! : null;
      if (!spec) return;
      loraBytes[e + 1] = Math.max(loraBytes[e + 1], 4 * spec.rank * (spec.shape[0] + spec.shape[1]));
      loraCols = Math.max(loraCols, spec.shape[1]);
    });
  }
  // per source, the largest chunk in bytes (regions are reused chunk after chunk)
  const srcBytes = new Array<number>(N + 1).fill(0);
  let outBytes = 0;
  for (const u of units) {
    sources(u.t).forEach((c, i) => (srcBytes[i] = Math.max(srcBytes[i], u.count * elemBytes(c, u.t, i))));
    outBytes = Math.max(outBytes, u.count * FLOAT_DTYPE_BYTES[dtypeOf(u.t.name) as FloatDType]);
  }
  const total = plan.tensors.reduce((s, t) => s + t.bytes, 0);
  let done = 0;
  opts.onProgress?.({ phase: 'merge', done, total, unit: 'bytes' });

  await heap.exclusive(async () => {
    const slots: Slot[] = Array.from({ length: SLOTS }, () => ({
      src: srcBytes.map((b) => (b ? heap.alloc(b) : 0)),
      lora: loraBytes.map((b) => (b ? heap.alloc(b) : 0)),
      out: heap.alloc(outBytes + ALIGN_SLACK),
      reading: null,
      writing: null,
    }));
    const loraAcc = loraCols ? heap.alloc(8 * loraCols) : 0;
    // each LoRA expert's factors of the tensor being read (loaded once per tensor)
    const factors = new Map<string, Promise<LowRankDelta>>();
    const w = heap.alloc(8 * N);
    const cuts = heap.alloc(8 * N);
    // per thread: kernel scratch, NaN/Inf counts, TIES cuts (a copy: the ties budget changes), DARE states
    const pool = kernelPool();
    const lanes = Array.from({ length: pool?.threads ?? 1 }, () => ({
      scratch: heap.alloc(exports.mergeScratch(N)),
      counts: heap.alloc(4 * (N + 3)),
      cuts: heap.alloc(8 * N),
      states: heap.alloc(32 * N),
    }));
    const desc = (slot: Slot, u: Unit): SourceBlock => {
      const entries = sources(u.t).map((c, i) => {
        const kind = kindOf(u.t, i);
        if (kind === 'lowrank') return { ptr: slot.src[i], code: SOURCE_CODE.DELTA };
        const from = kind === 'base' ? 0 : i; // an adapter that leaves the tensor alone: the base's weight
        const ck = kind === 'base' ? base : c;
        return { ptr: slot.src[from], code: ck ? SOURCE_CODE[ck.location(u.t.name)!.dtype as FloatDType] : SOURCE_CODE.ZERO };
      });
      return sourceBlock(heap, entries[0], entries.slice(1), u.count);
    };
    const lowRankRows = async (slot: Slot, u: Unit, i: number) => {
      const key = `${i}\0${u.t.name}`;
      if (u.first) for (const k of factors.keys()) if (!k.endsWith(`\0${u.t.name}`)) factors.delete(k);
      if (!factors.has(key)) factors.set(key, (experts[i - 1] as LoraCheckpoint).lowRank(u.t.name));
      const d = await factors.get(key)!;
      const [rows, cols] = d.shape;
      const A = slot.lora[i], B = A + 4 * d.A.length;
      heap.f32(A, d.A.length).set(d.A);
      heap.f32(B, d.B.length).set(d.B);
      exports.loraRows(A, B, d.rank, cols, u.start / cols, Math.min(rows, u.count / cols), d.scale, slot.src[i], loraAcc);
    };
    const read = (slot: Slot, u: Unit) => {
      slot.reading = Promise.all(
        sources(u.t).map((c, i) => {
          const kind = kindOf(u.t, i);
          if (!c || kind === 'base') return undefined;
          if (kind === 'lowrank') return lowRankRows(slot, u, i);
          return c.readInto(u.t.name, u.start, u.count, heap.u8(slot.src[i], u.count * elemBytes(c, u.t, i)));
        }),
      ).then(() => {});
      slot.reading.catch(() => undefined); // awaited when the chunk comes up (or at the end)
    };
    // TIES cuts / SLERP coefficients of a tensor: from its block when whole, else a sweep of its chunks
    const prescan = async (t: TensorPlan, block: SourceBlock | null, k?: Kernels): Promise<Prescan | undefined> => {
      const rowStep = Math.max(1, rowsPerChunk(plan, t, opts.chunkElements));
      if (id === 'ties') return tiesCuts(t, t.params ?? plan.params, block, sources(t), N, rowStep);
      if (id === 'slerp') return { coef: await slerpCoefficients(t, num(t.params ?? plan.params, 't'), block, sources(t), N, rowStep, k) };
      return undefined;
    };
    // SLERP's sweeps of chunked tensors run ahead of the merge, one after another, in a kernels
    // instance of their own (its own memory and heap: this one's is a stack the merge is using).
    // With the sums eight lanes wide a sweep is mostly reads, which then overlap the merge's
    // work instead of stalling it. (TIES's counting sweep is compute: ahead, on this thread, it
    // measured slower than split between the pool's threads in turn.)
    const ahead = new Map<TensorPlan, Promise<Prescan | undefined>>();
    let stopped = false;
    let chain: Promise<unknown> = Promise.resolve();
    if (id === 'slerp' && units.some((u) => !u.whole)) {
      const own = instantiateKernels();
      for (const u of units) {
        if (!u.first || u.whole) continue;
        const p = chain.then(() => (stopped ? undefined : prescan(u.t, null, own)));
        p.catch(() => undefined); // awaited when the tensor comes up
        ahead.set(u.t, p);
        chain = p.catch(() => undefined);
      }
    }
    const badIn = new Array<number>(N + 1).fill(0);
    let badOut = 0;
    let coef: [number, number] = [0, 0];
    let ties: ThresholdTies | undefined;
    let blockOfTensor = 0;
    const mergeUnits = async (): Promise<void> => {
      for (let k = 0; k < units.length; k++) {
        const u = units[k];
        const t = u.t;
        const slot = slots[k % SLOTS];
        await slot.reading;
        opts.signal?.throwIfAborted();
        // read ahead: the other slot's sources were consumed by the previous chunk's kernel call
        if (k + SLOTS - 1 < units.length) read(slots[(k + SLOTS - 1) % SLOTS], units[k + SLOTS - 1]);
        await slot.writing; // this slot's output region (SLOTS chunks back) is about to be reused
        const at = sink.offsetOf?.(t.name, u.start);
        const out = at === undefined ? slot.out : alignedIn(slot.out, at);
        const params = t.params ?? plan.params;
        const weights = t.weights ?? plan.weights;
        await heap.scopedAsync(async () => {
          const block = desc(slot, u);
          if (u.first) {
            badIn.fill(0);
            badOut = 0;
            blockOfTensor = 0;
            const pre = await (ahead.get(t) ?? prescan(t, u.whole ? block : null));
            if (pre?.cuts) heap.u32(cuts, 2 * N).set(pre.cuts);
            ties = pre?.ties;
            if (pre?.coef) coef = pre.coef;
          }
          let flags = needBase(t) ? FLAG.readBase : 0;
          let kind: number = KIND.gta;
          let lambda = 1;
          let wdiv = 1;
          let wsum = 0;
          for (const x of weights) wsum += x;
          if (id === 'weight_avg') {
            kind = KIND.linear;
            wdiv = bool(params, 'normalize') && Math.abs(wsum) >= 1e-8 ? wsum : 1;
          } else if (id === 'slerp') {
            kind = KIND.slerp;
            if (N === 1) flags |= FLAG.slerpBase;
          } else {
            lambda = num(params, 'lambda');
            if (bool(params, 'normalize')) flags |= FLAG.normalize;
            wdiv = bool(params, 'normalize') && Math.abs(wsum) >= 1e-8 ? wsum : 1;
            if (id === 'ties') flags |= FLAG.cut | FLAG.consensus;
            if (id === 'dare_ties') flags |= FLAG.consensus;
            if (id.startsWith('dare')) flags |= FLAG.drop;
          }
          heap.f64(w, N).set(weights);
          const outCode = OUT_CODES[dtypeOf(t.name)];
          const outSize = FLOAT_DTYPE_BYTES[dtypeOf(t.name) as FloatDType];
          // Big ranges in one part per thread (each its own scratch, counts, DARE states jumped to
          // its first element, and a copy of the TIES cuts with the ties budget the parts before
          // it leave: from the prescan's counts, else the kernel counts them, tiesFrom = 0): the
          // same bytes as one pass in flat order.
          const ranges: [number, number][] = pool && u.count >= SPLIT_MIN ? pool.split(u.count, 1024) : [[0, u.count]];
          const parts = flags & FLAG.cut && ranges.length > 1 ? partCuts(heap.u32(cuts, 2 * N), ties, blockOfTensor, ranges) : null;
          blockOfTensor++;
          const calls = ranges.map(([a, b], p) => {
            const r = lanes[p];
            heap.u32(r.counts, N + 3).fill(0);
            if (p > 0) heap.u32(r.cuts, 2 * N).set(parts?.[p] ?? heap.u32(cuts, 2 * N));
            if (flags & FLAG.drop) dareStates(plan.seed, t, u.start + a, params, r.states, N);
            return [block.desc, N, a, b - a, kind, flags, w, lambda, wdiv, coef[0], coef[1], p > 0 ? r.cuts : cuts, r.states, out + a * outSize, outCode, r.counts, r.scratch, parts ? a : 0];
          });
          if (pool && u.count >= ASYNC_MIN) await pool.runAsync('mergePart', calls);
          else exports.mergePart(...(calls[0] as Parameters<typeof exports.mergePart>));
          // the last part's ties budget is what a cut of the whole range leaves
          if (calls.length > 1) heap.u8(cuts, 8 * N).set(heap.u8(lanes[calls.length - 1].cuts, 8 * N));
          const c = new Array<number>(N + 3).fill(0);
          for (let p = 0; p < calls.length; p++) heap.u32(lanes[p].counts, N + 3).forEach((x, i) => (c[i] += x));
          for (let i = 0; i <= N; i++) badIn[i] += c[i];
          badOut += c[N + 1];
          const paths = [base?.path ?? '', ...experts.map((e) => e.path)];
          const bad = badIn.findIndex((b) => b > 0);
          if (bad >= 0) throw new MergelensError('NON_FINITE', `input has ${badIn[bad]} NaN/Inf value(s)`, { file: paths[bad], tensor: t.name });
          if (badOut) throw new MergelensError('NON_FINITE', `merged tensor has ${badOut} NaN/Inf value(s) of ${t.numel}; the inputs are finite, so ${id} overflowed (check weights and parameters)`, { tensor: t.name });
          if (c[N + 2]) {
            throw new MergelensError('NON_FINITE', `${c[N + 2]} merged value(s) exceed the F16 range (±65504) and would be written as Inf`, { tensor: t.name, hint: 'write BF16 or F32 with --dtype' });
          }
        });
        slot.writing = sink.write(t.name, u.start, u.count, heap.u8(out, u.count * FLOAT_DTYPE_BYTES[dtypeOf(t.name) as FloatDType]));
        slot.writing.catch(() => undefined); // awaited before the region is reused, or at the end
        done += u.whole ? t.bytes : (t.bytes * u.count) / t.numel;
        opts.onProgress?.({ phase: 'merge', done, total, unit: 'bytes', detail: t.name });
      }
    };
    try {
      for (let k = 0; k < Math.min(SLOTS - 1, units.length); k++) read(slots[k], units[k]);
      await mergeUnits();
      await Promise.all(slots.map((s) => s.writing));
    } finally {
      // nothing may still be reading into or writing from these regions once they are freed, and no
      // sweep still reading the checkpoints once the merge is over
      stopped = true;
      await Promise.allSettled([chain, ...slots.flatMap((s) => [s.reading, s.writing])]);
    }
  });
}

/** The DARE stream states of every expert at element `start` of tensor t, with each expert's keep threshold and scale. */
function dareStates(seed: number, t: TensorPlan, start: number, params: Record<string, ParamValue>, states: number, N: number): void {
  const { heap } = kernels();
  const densities = t.expertParams?.density ?? new Array<number>(N).fill(num(params, 'density'));
  for (let e = 0; e < N; e++) {
    const d = densities[e];
    heap.u32(states + 32 * e, 4).set(tensorStateAt(seed, t.name, e * t.numel + start));
    // density ≥ 1 keeps everything and draws nothing (randomDrop); keep iff r/2³² < density
    heap.f64(states + 32 * e + 16, 2).set(d >= 1 ? [-1, 1] : [d * 4294967296, str(params, 'rescale') === 'inverse' ? 1 / d : 1]);
  }
}

/**
 * Each expert's TIES cut of tensor t (threshold = k-th largest |τᵢ|, ties = k − #{|τᵢ| > t}) as
 * the kernel takes it: [threshold's float32 bits (−1: no cut), ties] per expert. From the block
 * in memory when the tensor is whole, else from one sample read of spread-out rows and one
 * counting sweep over the chunks.
 */
async function tiesCuts(t: TensorPlan, params: Record<string, ParamValue>, block: SourceBlock | null, srcs: (Checkpoint | null)[], N: number, rowStep: number): Promise<Required<Pick<Prescan, 'cuts' | 'ties'>>> {
  const { heap } = kernels();
  const densities = t.expertParams?.density ?? new Array<number>(N).fill(num(params, 'density'));
  const cutU = new Uint32Array(2 * N);
  const cutF = new Float32Array(cutU.buffer);
  // where each expert's ties lie, from its density's sweep (the sweeps split the blocks alike)
  const ties: ThresholdTies = { parts: [], counts: new Array(N).fill(null) };
  // one threshold search per distinct density < 1 (experts at density ≥ 1 are kept whole)
  const byDensity = new Map<number, number[]>();
  densities.forEach((d, e) => {
    cutF[2 * e] = -1;
    if (d < 1) byDensity.set(d, [...(byDensity.get(d) ?? []), e]);
  });
  const rows = t.shape.length ? t.shape[0] : 1;
  const cols = rows ? t.numel / rows : 0;
  const input: TrimInput = block
    ? { numel: t.numel, N, parallel: true, sample: async (size) => sampleBlock(block, size), sweep: async (visit) => visit(block) }
    : {
        numel: t.numel,
        N,
        parallel: true,
        // ⌈size/cols⌉ whole rows in up to 64 runs spread over the tensor, as the metrics engine samples
        sample: async (size) => {
          const want = Math.min(rows, Math.ceil(size / cols));
          const runs = Math.min(64, want);
          const perRun = Math.ceil(want / runs);
          const at = (k: number) => Math.floor((k * rows) / runs);
          const b = await readRows(t, srcs, Array.from({ length: runs }, (_, k): [number, number] => [at(k), Math.min(perRun, at(k + 1) - at(k))]));
          const s = sampleBlock(b, Math.min(size, b.count));
          return { values: s.values, whole: s.whole && want === rows };
        },
        sweep: (visit) => sweepRows(t, srcs, rowStep, visit),
      };
  for (const [density, es] of byDensity) {
    const above = new Float64Array(N);
    const swept: ThresholdTies = { parts: [], counts: [] };
    let thresholds: Float64Array;
    try {
      thresholds = await heap.scopedAsync(() => trimThresholds(input, density, above, swept));
    } catch (e) {
      if (!(e instanceof NonFiniteTau)) throw e;
      throw new MergelensError('NON_FINITE', 'input has NaN/Inf value(s) in θ − θ₀ (this expert or the base)', { file: srcs[e.expert + 1]!.path, tensor: t.name });
    }
    const k = keepCount(t.numel, density);
    ties.parts = swept.parts;
    for (const e of es) {
      cutF[2 * e] = thresholds[e];
      cutU[2 * e + 1] = k - above[e];
      ties.counts[e] = swept.counts[e];
    }
  }
  return { cuts: cutU, ties };
}

/** SLERP's (s0, s1) for tensor t: sums from the block when whole, else one pass over its chunks (on kernels `k`). */
async function slerpCoefficients(t: TensorPlan, pos: number, block: SourceBlock | null, srcs: (Checkpoint | null)[], N: number, rowStep: number, k = kernels()): Promise<[number, number]> {
  const { exports, heap } = k;
  return heap.scopedAsync(async () => {
    const sums = heap.calloc(8 * (3 * SLERP_LANES + 1));
    const scratch = heap.alloc(exports.mergeScratch(N));
    const useBase = N === 1 ? 1 : 0;
    if (block) exports.slerpSums(block.desc, N, 0, block.count, useBase, sums, scratch);
    else await sweepRows(t, srcs, rowStep, (b) => exports.slerpSums(b.desc, N, 0, b.count, useBase, sums, scratch), k);
    return SlerpSums.fromLanes(heap.f64(sums, 3 * SLERP_LANES + 1)).coefficients(pos);
  });
}

/** Row ranges [first row, rows] of tensor t read into a fresh heap block (stored bytes of every source, back to back). */
async function readRows(t: TensorPlan, srcs: (Checkpoint | null)[], ranges: [number, number][]): Promise<SourceBlock> {
  const { heap } = kernels();
  const rows = t.shape.length ? t.shape[0] : 1;
  const cols = rows ? t.numel / rows : 0;
  const count = ranges.reduce((n, [, r]) => n + r * cols, 0);
  const entries = await Promise.all(
    srcs.map(async (c) => {
      if (!c) return { ptr: 0, code: SOURCE_CODE.ZERO };
      const dtype = c.location(t.name)!.dtype as FloatDType;
      const size = FLOAT_DTYPE_BYTES[dtype];
      const ptr = heap.alloc(count * size);
      let at = ptr;
      await Promise.all(
        ranges.map(([r0, r]) => {
          const dest = heap.u8(at, r * cols * size);
          at += r * cols * size;
          return c.readInto(t.name, r0 * cols, r * cols, dest);
        }),
      );
      return { ptr, code: SOURCE_CODE[dtype] };
    }),
  );
  return sourceBlock(heap, entries[0], entries.slice(1), count);
}

/**
 * Visit tensor t in blocks of `rowStep` rows, in order, the next block's reads in flight while
 * this one is visited (two regions per source, used in turn; what a visit allocates is freed
 * after it). TIES's counting sweep and SLERP's sums ran read, then compute, then read.
 */
async function sweepRows(t: TensorPlan, srcs: (Checkpoint | null)[], rowStep: number, visit: (b: SourceBlock) => void | Promise<void>, k = kernels()): Promise<void> {
  const { heap } = k;
  const rows = t.shape.length ? t.shape[0] : 1;
  const cols = rows ? t.numel / rows : 0;
  const sizes = srcs.map((c) => (c ? FLOAT_DTYPE_BYTES[c.location(t.name)!.dtype as FloatDType] : 0));
  await heap.scopedAsync(async () => {
    const regions = [0, 1].map(() => sizes.map((size) => (size ? heap.alloc(rowStep * cols * size) : 0)));
    // each region's source block (pointers and codes fixed; the count is the chunk's)
    const blocks = regions.map((ptrs) => {
      const entries = srcs.map((c, i) => (c ? { ptr: ptrs[i], code: SOURCE_CODE[c.location(t.name)!.dtype as FloatDType] } : { ptr: 0, code: SOURCE_CODE.ZERO }));
      return sourceBlock(heap, entries[0], entries.slice(1), 0);
    });
    // block `turn` (its region: turn mod 2) from row r0
    const read = (turn: number, r0: number): Promise<SourceBlock> => {
      const count = Math.min(rowStep, rows - r0) * cols;
      return Promise.all(srcs.map((c, i) => c?.readInto(t.name, r0 * cols, count, heap.u8(regions[turn % 2][i], count * sizes[i])))).then(() => ({ ...blocks[turn % 2], count }));
    };
    let next: Promise<SourceBlock> | null = read(0, 0);
    try {
      for (let r0 = 0, turn = 0; r0 < rows; r0 += rowStep, turn++) {
        const block: SourceBlock = await next!;
        next = r0 + rowStep < rows ? read(turn + 1, r0 + rowStep) : null;
        next?.catch(() => undefined); // awaited next round (or settled below)
        await heap.scopedAsync(async () => visit(block));
      }
    } finally {
      await next?.catch(() => undefined); // no read may still write into the regions once they are freed
    }
  });
}
