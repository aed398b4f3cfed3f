/**
 * The fused merge path of mergeToDisk: stored bytes are read straight into the kernels' memory,
 * merged there (src/wasm/assembly/merge.ts: decode, task vectors, TIES cut or DARE drop,
 * combine, encode to the output dtype) and written from there — no float32 arrays in
 * TypeScript, no per-chunk copies. Row chunks as in streamPlanChunks; the reads of the next
 * chunk are in flight while the kernel works on this one and the previous chunk's write
 * completes. The bytes written are identical to the float32 path's (test/merge/snapshot).
 *
 * Covers weight_avg, task_arithmetic, ties, dare and dare_ties (rescale inverse / none) and
 * slerp over dense inputs; LoRA experts, DARE's l1 rescale, the SVD methods and
 * `nonFinite: 'warn'` take the float32 path (stream.ts).
 *
 * TIES: one prescan per chunked tensor — a sample of spread-out rows brackets each expert's
 * k-th largest |τ| and one counting sweep resolves it exactly (src/numerics/select/trim.ts, as
 * the metrics' trim thresholds) — instead of three radix passes. DARE: the same xoshiro128**
 * stream as the float32 path, jumped to each chunk's first element (random.ts), drawn in the
 * kernel.
 */
import type { Checkpoint, FloatDType, ParamValue } from '../types.js';
import { MergelensError } from '../errors.js';
import { FLOAT_DTYPE_BYTES } from '../safetensors/dtype.js';
import { kernels, SOURCE_CODE } from '../wasm/kernels.js';
import { sampleBlock, trimThresholds, type TrimInput } from '../numerics/select/trim.js';
import { NonFiniteTau, sourceBlock, type SourceBlock } from '../numerics/sources.js';
import { keepCount } from '../numerics/select/threshold.js';
import type { MergeOptions, MergePlan, TensorPlan } from './plan.js';
import { rowsPerChunk } from './stream.js';
import { bool, num, str } from './params.js';
import { tensorStateAt } from './random.js';
import { SlerpSums } from './methods/slerp.js';

/** Where merged bytes go: a range of one tensor's elements, already encoded; `bytes` is valid until the promise settles. */
export type EncodedSink = (name: string, start: number, count: number, bytes: Uint8Array) => Promise<void>;

const KIND = { linear: 0, gta: 1, slerp: 2 } as const;
const FLAG = { cut: 1, drop: 2, consensus: 4, normalize: 8, slerpBase: 16, readBase: 32 } as const;
const OUT_CODES: Record<string, number> = { F32: SOURCE_CODE.F32, F16: SOURCE_CODE.F16, BF16: SOURCE_CODE.BF16 };
const FUSED_METHODS = new Set(['weight_avg', 'task_arithmetic', 'ties', 'dare', 'dare_ties', 'slerp']);

/** Whether the fused path merges this plan (else the float32 path does, with the same result). */
export function fusedEligible(plan: MergePlan, dtypeOf: (name: string) => string, opts: Pick<MergeOptions, 'nonFinite'>): boolean {
  // MERGELENS_FUSED=0 forces the float32 path: the bench's "before" figures
  if (process.env.MERGELENS_FUSED === '0' || opts.nonFinite === 'warn' || !FUSED_METHODS.has(plan.method.id)) return false;
  return plan.tensors.every((t) => {
    if (t.sources.some((s) => s !== 'dense') || !(dtypeOf(t.name) in OUT_CODES) || t.numel >= 2 ** 31) return false;
    const params = t.params ?? plan.params;
    return !(plan.method.id.startsWith('dare') && params.rescale === 'l1');
  });
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
  opts: Pick<MergeOptions, 'onProgress'> & { chunkElements: number },
): Promise<void> {
  const { exports, heap } = kernels();
  const N = experts.length;
  const id = plan.method.id;
  const needBaseAll = plan.method.needsBase || N < 2;
  const sources = (t: TensorPlan): (Checkpoint | null)[] => [needBaseAll ? base : null, ...experts];
  const units: Unit[] = [];
  for (const t of plan.tensors) {
    const rows = t.shape.length ? t.shape[0] : 1;
    const rowLen = rows ? t.numel / rows : 0;
    const step = Math.max(1, rowsPerChunk(plan, t, opts.chunkElements));
    if (step >= rows) units.push({ t, start: 0, count: t.numel, whole: true, first: true });
    else for (let r0 = 0; r0 < rows; r0 += step) units.push({ t, start: r0 * rowLen, count: Math.min(step, rows - r0) * rowLen, whole: false, first: r0 === 0 });
  }
  const elemBytes = (c: Checkpoint | null, t: TensorPlan) => (c ? FLOAT_DTYPE_BYTES[c.location(t.name)!.dtype as FloatDType] : 0);
  // per source, the largest chunk in bytes (regions are reused chunk after chunk)
  const srcBytes = new Array<number>(N + 1).fill(0);
  let outBytes = 0;
  for (const u of units) {
    sources(u.t).forEach((c, i) => (srcBytes[i] = Math.max(srcBytes[i], u.count * elemBytes(c, u.t))));
    outBytes = Math.max(outBytes, u.count * FLOAT_DTYPE_BYTES[dtypeOf(u.t.name) as FloatDType]);
  }
  const total = plan.tensors.reduce((s, t) => s + t.bytes, 0);
  let done = 0;
  opts.onProgress?.({ phase: 'merge', done, total, unit: 'bytes' });

  await heap.exclusive(async () => {
    const slots: Slot[] = [0, 1].map(() => ({ src: srcBytes.map((b) => (b ? heap.alloc(b) : 0)), out: heap.alloc(outBytes), reading: null, writing: null }));
    const w = heap.alloc(8 * N);
    const cuts = heap.alloc(8 * N);
    const states = heap.alloc(32 * N);
    const counts = heap.alloc(4 * (N + 3));
    const sums = heap.alloc(24);
    const scratch = heap.alloc(exports.mergeScratch(N));
    const desc = (slot: Slot, u: Unit): SourceBlock => {
      const entries = sources(u.t).map((c, i) => ({ ptr: slot.src[i], code: c ? SOURCE_CODE[c.location(u.t.name)!.dtype as FloatDType] : SOURCE_CODE.ZERO }));
      return sourceBlock(heap, entries[0], entries.slice(1), u.count);
    };
    const read = (slot: Slot, u: Unit) => {
      slot.reading = Promise.all(sources(u.t).map((c, i) => (c ? c.readInto(u.t.name, u.start, u.count, heap.u8(slot.src[i], u.count * elemBytes(c, u.t))) : undefined))).then(() => {});
      slot.reading.catch(() => undefined); // awaited when the chunk comes up (or at the end)
    };
    const badIn = new Array<number>(N + 1).fill(0);
    let badOut = 0;
    let coef: [number, number] = [0, 0];
    const mergeUnits = async (): Promise<void> => {
      for (let k = 0; k < units.length; k++) {
        const u = units[k];
        const t = u.t;
        const slot = slots[k % 2];
        await slot.reading;
        // read ahead: the other slot's sources were consumed by the previous chunk's kernel call
        if (k + 1 < units.length) read(slots[(k + 1) % 2], units[k + 1]);
        await slot.writing; // this slot's output region (two chunks back) is about to be reused
        const params = t.params ?? plan.params;
        const weights = t.weights ?? plan.weights;
        await heap.scopedAsync(async () => {
          const block = desc(slot, u);
          if (u.first) {
            badIn.fill(0);
            badOut = 0;
            const rowStep = Math.max(1, rowsPerChunk(plan, t, opts.chunkElements));
            if (id === 'ties') await prepareCuts(t, params, u.whole ? block : null, sources(t), N, rowStep, cuts);
            if (id === 'slerp') coef = await slerpCoefficients(t, num(params, 't'), u.whole ? block : null, sources(t), N, rowStep, sums, scratch);
          }
          let flags = needBaseAll ? FLAG.readBase : 0;
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
            if (id.startsWith('dare')) {
              flags |= FLAG.drop;
              dareStates(plan.seed, t, u.start, params, states, N);
            }
          }
          heap.f64(w, N).set(weights);
          heap.u32(counts, N + 3).fill(0);
          exports.mergeRange(block.desc, N, 0, u.count, kind, flags, w, lambda, wdiv, coef[0], coef[1], cuts, states, slot.out, OUT_CODES[dtypeOf(t.name)], counts, scratch);
          const c = heap.u32(counts, N + 3);
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
        const outSize = FLOAT_DTYPE_BYTES[dtypeOf(t.name) as FloatDType];
        slot.writing = sink(t.name, u.start, u.count, heap.u8(slot.out, u.count * outSize));
        slot.writing.catch(() => undefined); // awaited before the region is reused, or at the end
        done += u.whole ? t.bytes : (t.bytes * u.count) / t.numel;
        opts.onProgress?.({ phase: 'merge', done, total, unit: 'bytes', detail: t.name });
      }
    };
    try {
      if (units.length) read(slots[0], units[0]);
      await mergeUnits();
      await Promise.all(slots.map((s) => s.writing));
    } finally {
      // nothing may still be reading into or writing from these regions once they are freed
      await Promise.allSettled(slots.flatMap((s) => [s.reading, s.writing]));
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
 * Each expert's TIES cut of tensor t (threshold = k-th largest |τᵢ|, ties = k − #{|τᵢ| > t}) into
 * `cuts` (threshold −1: no cut): from the block in memory when the tensor is whole, else from
 * one sample read of spread-out rows and one counting sweep over the chunks.
 */
async function prepareCuts(t: TensorPlan, params: Record<string, ParamValue>, block: SourceBlock | null, srcs: (Checkpoint | null)[], N: number, rowStep: number, cuts: number): Promise<void> {
  const { heap } = kernels();
  const densities = t.expertParams?.density ?? new Array<number>(N).fill(num(params, 'density'));
  const cutF = heap.f32(cuts, 2 * N);
  const cutU = heap.u32(cuts, 2 * N);
  // one threshold search per distinct density < 1 (experts at density ≥ 1 are kept whole)
  const byDensity = new Map<number, number[]>();
  densities.forEach((d, e) => {
    cutF[2 * e] = -1;
    if (d < 1) byDensity.set(d, [...(byDensity.get(d) ?? []), e]);
  });
  const rows = t.shape.length ? t.shape[0] : 1;
  const cols = rows ? t.numel / rows : 0;
  const input: TrimInput = block
    ? { numel: t.numel, N, sample: async (size) => sampleBlock(block, size), sweep: async (visit) => visit(block) }
    : {
        numel: t.numel,
        N,
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
    let thresholds: Float64Array;
    try {
      thresholds = await heap.scopedAsync(() => trimThresholds(input, density, above));
    } catch (e) {
      if (!(e instanceof NonFiniteTau)) throw e;
      throw new MergelensError('NON_FINITE', 'input has NaN/Inf value(s) in θ − θ₀ (this expert or the base)', { file: srcs[e.expert + 1]!.path, tensor: t.name });
    }
    const k = keepCount(t.numel, density);
    for (const e of es) {
      cutF[2 * e] = thresholds[e];
      cutU[2 * e + 1] = k - above[e];
    }
  }
}

/** SLERP's (s0, s1) for tensor t: sums from the block when whole, else one pass over its chunks. */
async function slerpCoefficients(t: TensorPlan, pos: number, block: SourceBlock | null, srcs: (Checkpoint | null)[], N: number, rowStep: number, sums: number, scratch: number): Promise<[number, number]> {
  const { exports, heap } = kernels();
  heap.f64(sums, 3).fill(0);
  const useBase = N === 1;
  if (block) exports.slerpSums(block.desc, N, 0, block.count, useBase, sums, scratch);
  else await sweepRows(t, srcs, rowStep, (b) => exports.slerpSums(b.desc, N, 0, b.count, useBase, sums, scratch));
  const [aa, bb, ab] = heap.f64(sums, 3);
  return Object.assign(new SlerpSums(), { aa, bb, ab }).coefficients(pos);
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

/** Visit tensor t in blocks of `rowStep` rows, in order (each block's heap freed after its visit). */
async function sweepRows(t: TensorPlan, srcs: (Checkpoint | null)[], rowStep: number, visit: (b: SourceBlock) => void): Promise<void> {
  const { heap } = kernels();
  const rows = t.shape.length ? t.shape[0] : 1;
  for (let r0 = 0; r0 < rows; r0 += rowStep) await heap.scopedAsync(async () => visit(await readRows(t, srcs, [[r0, Math.min(rowStep, rows - r0)]])));
}
