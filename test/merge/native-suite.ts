/**
 * The native kernels (src/native, built at install where a C compiler is present) against the
 * WebAssembly kernels they stand in for. mergePart: the same call on the same memory must write
 * the same bytes and the same NaN/Inf and F16-range counts, for every source code (BF16, F16,
 * F32, F64, a LoRA ΔW on the base, an expert that leaves the tensor alone), every rule it takes
 * (weight_avg's linear sum, task arithmetic, SLERP with and without the base, TIES, DARE,
 * dare_ties), every output
 * dtype, TIES cuts with their ties budget (also for a later thread's part of a range), DARE
 * drops with their random streams, sign consensus, and blocks that do not end on a SIMD group
 * or a 1024-element block. bracketSweep (TIES's trim-threshold sweep): the same counts above
 * and at the bracket's ends, the same values collected in the same order (also past the
 * capacity), the same expert named on a NaN/Inf with the counts left as they were. slerpSums
 * (SLERP's prescan): the same float64 lanes to the bit. Where native
 * is not built (no compiler), these tests are skipped and merges run on WebAssembly alone.
 *
 * Output elements that are NaN are compared by class, not payload: a NaN output always stops
 * the merge with an error (nothing is written), and which operand's payload a sum keeps is
 * not something either kernel promises.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { nativeKernels, NOT_TAKEN } from '../../src/native/load.js';
import { KERNELS_PATH, SOURCE_CODE, WasmHeap, type KernelExports } from '../../src/wasm/kernels.js';
import { testRng } from './reference.js';
import { cpuHas } from '../helpers/cpu-flags.js';

const native = nativeKernels();
const KIND = { linear: 0, gta: 1, slerp: 2 } as const;
const FLAG = { cut: 1, drop: 2, consensus: 4, normalize: 8, slerpBase: 16, readBase: 32 } as const;
const OUT_SIZE: Record<number, number> = { [SOURCE_CODE.F32]: 4, [SOURCE_CODE.F16]: 2, [SOURCE_CODE.BF16]: 2 };

/** The WebAssembly kernels alone (kernels() would route mergePart to native): a fresh instance over its own memory. */
function wasmOnly(): { k: KernelExports; heap: WasmHeap; memory: WebAssembly.Memory } {
  const memory = new WebAssembly.Memory({ initial: 64, maximum: 4096, shared: true });
  const k = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(KERNELS_PATH)), { env: { memory } }).exports as unknown as KernelExports;
  return { k, heap: new WasmHeap(memory, k.heapBase()), memory };
}

type Code = 'BF16' | 'F16' | 'F32' | 'F64' | 'ZERO' | 'DELTA' | 'TAU';

/** Values of every binade the merges meet (weights around 1e-3…10, a few tiny and huge), as float32. */
function values(n: number, rng: () => number, special: boolean): Float32Array {
  const v = Float32Array.from({ length: n }, () => (rng() - 0.5) * 2 ** Math.floor(rng() * 14 - 10));
  if (special) {
    // subnormal-scale, signed zeros and an F16 overflow; NaN/Inf where `special` asks for them
    v[1] = 3e-41;
    v[2] = -0;
    v[5] = 70000;
    v[n - 2] = Number.NaN;
    v[Math.floor(n / 2)] = -Infinity;
  }
  return v;
}

/** Encode float32 values as a source's stored bytes (round to nearest even for 16-bit codes). */
function stored(code: Code, v: Float32Array, heap: WasmHeap): number {
  const n = v.length;
  if (code === 'ZERO') return 0;
  if (code === 'F64') return heap.place(Float64Array.from(v, (x, j) => x * (1 + (j % 7) * 1e-9))); // not exact in float32: exercises the rounding
  if (code === 'F32' || code === 'DELTA' || code === 'TAU') return heap.place(v);
  const bits = new Uint32Array(v.buffer, v.byteOffset, n);
  const u16 = new Uint16Array(n);
  for (let j = 0; j < n; j++) {
    const b = bits[j];
    if (code === 'BF16') u16[j] = (b & 0x7fffffff) > 0x7f800000 ? (b >>> 16) | 0x40 : (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
    else u16[j] = f16BitsOf(v[j]);
  }
  return heap.place(u16);
}

/** float → f16 bits by the plain definition (nearest, ties to even; overflow to Inf), an independent encoder. */
function f16BitsOf(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a >= 65520) return sign | 0x7c00;
  // multiples of 2^-24 below 2^-14, else 11 significant bits
  const e = a < 2 ** -14 ? -14 : Math.floor(Math.log2(a));
  const ulp = 2 ** (e - 10);
  let m = a / ulp;
  const f = Math.floor(m);
  m = m - f > 0.5 || (m - f === 0.5 && f % 2 === 1) ? f + 1 : f;
  const r = m * ulp;
  if (r < 2 ** -14) return sign | m;
  const re = Math.floor(Math.log2(r));
  return sign | ((re + 15) << 10) | Math.round(r / 2 ** re * 1024 - 1024);
}

interface Case {
  kind: number;
  flags: number;
  experts: Code[];
  base: Code | null;
  outCode: number;
  e0: number;
  count: number;
  special: boolean;
  /** Task vectors on a coarse grid (|τ| ∈ {0, 1, 2, 3}/64: TIES thresholds with many ties). */
  grid?: boolean;
  /** Per expert: TIES cut [threshold (< 0: none), ties budget]. */
  cuts?: [number, number][];
  /** Per expert: DARE [keep threshold·2³² (< 0: no drop), scale]. */
  drops?: [number, number][];
  /** mergePart's tiesFrom (a later thread's part of a TIES range). */
  tiesFrom?: number;
}

/**
 * A case's fresh WebAssembly kernels and memory, its random stream, and base weights: on the
 * grid's four values (experts then add τ of a few values, gridExpert: many ties), or of every binade.
 */
function setup(c: { experts: Code[]; e0: number; count: number; grid?: boolean }, seed: number) {
  const rng = testRng(seed);
  const n = c.e0 + c.count;
  const baseValues = c.grid ? Float32Array.from({ length: n }, () => [1, -1, 0.5, -2][Math.floor(rng() * 4)]) : values(n, rng, false);
  return { ...wasmOnly(), rng, N: c.experts.length, n, baseValues };
}

/** An expert on the grid: the base plus |τ| ∈ {0, 1, 2, 3}/64. */
function gridExpert(base: Float32Array, rng: () => number): Float32Array {
  return base.map((b) => b + Math.round((rng() - 0.5) * 6.99) / 64);
}

/** A source block's descriptor (base and experts: pointer and source code each) placed in the heap. */
function placeDesc(heap: WasmHeap, entries: { ptr: number; code: number }[]): number {
  return heap.place(Uint32Array.from(entries.flatMap((e) => [e.ptr, e.code])));
}

type Twin = 'mergePart' | 'bracketSweep' | 'accumulate' | 'slerpSums';

/** `run` with the native twin (ours) and with the WebAssembly export (ref), each given the export's arguments. */
function onBoth<T>(name: Twin, k: KernelExports, memory: WebAssembly.Memory, run: (f: (...a: number[]) => number) => T): { ours: T; ref: T } {
  const ours = run((...a) => native![name](new Uint8Array(memory.buffer), ...a));
  const ref = run((...a) => (k[name] as (...a: number[]) => unknown)(...a) as number);
  return { ours, ref };
}

/** Run one mergePart call on both kernels over the same inputs; outputs, counts, and the TIES budgets and DARE states they leave. */
function both(c: Case, seed: number) {
  const { k, heap, memory, rng, N, n, baseValues } = setup(c, seed);
  const entries = [c.base, ...c.experts].map((code, i) => {
    if (code === null) return { ptr: 0, code: SOURCE_CODE.ZERO };
    if (i > 0 && c.grid) return { ptr: stored(code, gridExpert(baseValues, rng), heap), code: SOURCE_CODE[code] };
    // experts: the base plus a task vector (so task arithmetic sees small τ), specials where asked
    const v = i === 0 ? baseValues : values(n, rng, c.special && i === N);
    if (i > 0 && code !== 'DELTA') for (let j = 0; j < n; j++) v[j] = baseValues[j] + v[j] / 64;
    return { ptr: stored(code, v, heap), code: SOURCE_CODE[code] };
  });
  const desc = placeDesc(heap, entries);
  const w = heap.place(Float64Array.from({ length: N }, (_, i) => (i % 3 === 2 ? -0.4 : 0.3 + 0.1 * i)));
  const outBytes = c.count * OUT_SIZE[c.outCode];
  const streams = Uint32Array.from({ length: 4 * N }, () => Math.floor(rng() * 2 ** 32));
  const run = (f: (...a: number[]) => unknown) => {
    const out = heap.calloc(outBytes);
    const counts = heap.calloc(4 * (N + 3));
    const scratch = heap.alloc(k.mergeScratch(N));
    const cuts = heap.calloc(8 * N);
    const states = heap.calloc(32 * N);
    c.cuts?.forEach(([t, ties], i) => {
      heap.f32(cuts + 8 * i, 1)[0] = t;
      heap.u32(cuts + 8 * i + 4, 1)[0] = ties;
    });
    c.drops?.forEach(([thr, scale], i) => {
      heap.u32(states + 32 * i, 4).set(streams.subarray(4 * i, 4 * i + 4));
      heap.f64(states + 32 * i + 16, 2).set([thr, scale]);
    });
    const handled = f(desc, N, c.e0, c.count, c.kind, c.flags, w, 0.7, 1.3, 0.35, 0.8, cuts, states, out, c.outCode, counts, scratch, c.tiesFrom ?? c.e0);
    return { handled, bytes: heap.u8(out, outBytes).slice(), counts: Array.from(heap.u32(counts, N + 3)), cuts: Array.from(heap.u32(cuts, 2 * N)), states: Array.from(heap.u32(states, 8 * N)) };
  };
  const { ours, ref } = onBoth('mergePart', k, memory, run);
  return { ours, ref, streams };
}

interface SweepCase {
  experts: Code[];
  base: Code;
  e0: number;
  count: number;
  /** Per expert: [hi, lo] as |τ| values (hi < 0: no bracket, the expert is skipped), and the capacity. */
  brackets: [number, number, number][];
  grid?: boolean;
  /** Expert whose τ has an Inf at element e0 + count − 3, and one with a NaN at e0 + 700. */
  bad?: [number, number];
}

/** Run one bracketSweep call on both kernels over the same inputs (specs starting from counts already there); result, spec and collected values. */
function bothSweep(c: SweepCase, seed: number) {
  const { k, heap, memory, rng, N, n, baseValues } = setup(c, seed);
  const entries = [c.base, ...c.experts].map((code, i) => {
    const v = i === 0 ? baseValues : c.grid ? gridExpert(baseValues, rng) : baseValues.map((b) => b + (rng() - 0.5) / 32);
    if (i > 0 && code === 'TAU') v.forEach((x, j) => (v[j] = x - baseValues[j]));
    if (c.bad && i === c.bad[0] + 1) v[n - 3] = Infinity;
    if (c.bad && i === c.bad[1] + 1) v[c.e0 + 700] = Number.NaN;
    return { ptr: code === 'ZERO' ? 0 : stored(code, v, heap), code: SOURCE_CODE[code] };
  });
  const desc = placeDesc(heap, entries);
  const bits = (x: number) => new Uint32Array(Float32Array.of(x).buffer)[0];
  const run = (f: (...a: number[]) => number) => {
    // (spec word 2, where the collected values go, differs between the runs: left out of the comparison)
    const spec = heap.calloc(48 * N);
    const outs = c.brackets.map(([, , cap]) => heap.calloc(4 * cap + 64));
    c.brackets.forEach(([hi, lo, cap], i) => {
      heap.u32(spec + 48 * i, 7).set([hi < 0 ? 0xffffffff : bits(hi), bits(lo), outs[i], cap, 3, 5, 7]); // counts already there: added to
      heap.f64(spec + 48 * i + 32, 1)[0] = 11;
    });
    const result = f(desc, N, c.e0, c.count, spec, heap.alloc(k.sweepScratch()));
    return { result, spec: Array.from(heap.u32(spec, 12 * N), (x, w) => (w % 12 === 2 ? 0 : x)), collected: outs.map((o, i) => Array.from(heap.u32(o, c.brackets[i][2] + 16))) };
  };
  const { ours, ref } = onBoth('bracketSweep', k, memory, run);
  return { ours, ref };
}

interface PairCase {
  experts: Code[];
  base: Code;
  e0: number;
  count: number;
  /** Per expert: the trim threshold |τ| (float32; kp = |τ| ≥ it). */
  thresholds: number[];
  /** Expert whose τ has an Inf at element e0 + 1500. */
  bad?: number;
  /** Task vectors on the grid (|τ| ∈ {0, 1, 2, 3}/64): many |τ| equal to a threshold, many exact zeros. */
  grid?: boolean;
}

/** Run one accumulate call (the metrics' pair kernel) on both kernels over the same inputs, the sums starting from values already there; result and the sums' bits. */
function bothPairs(c: PairCase, seed: number) {
  const { k, heap, memory, rng, N, n, baseValues } = setup(c, seed);
  const entries = [c.base, ...c.experts].map((code, i) => {
    // τ of every binade the metrics meet, 2 % exact zeros (untrimmed sign counts skip them)
    const v = i === 0 ? baseValues : c.grid ? gridExpert(baseValues, rng) : baseValues.map((b) => (rng() < 0.02 ? b : b + (rng() - 0.5) * 2 ** Math.floor(rng() * 8 - 12)));
    if (i > 0 && code === 'TAU') v.forEach((x, j) => (v[j] = x - baseValues[j]));
    if (c.bad !== undefined && i === c.bad + 1) v[c.e0 + 1500] = Infinity;
    return { ptr: code === 'ZERO' ? 0 : stored(code, v, heap), code: SOURCE_CODE[code] };
  });
  const desc = placeDesc(heap, entries);
  const thr = heap.place(Uint32Array.from(c.thresholds, (t) => new Uint32Array(Float32Array.of(t).buffer)[0]));
  const total = N * N + ((N * (N - 1)) / 2) * 7 + N;
  // sums already there, large enough that each block's addition rounds: a block added out of order shows
  const start = Float64Array.from({ length: total }, (_, j) => 1000 * (1 + (j % 5)) + 0.37);
  const run = (f: (...a: number[]) => number) => {
    const sums = heap.place(start);
    const result = f(desc, N, c.e0, c.count, thr, sums, heap.alloc(k.accumulateScratch(N)));
    return { result, sums: Array.from(new BigUint64Array(heap.f64(sums, total).slice().buffer)), values: Array.from(heap.f64(sums, total)) };
  };
  const { ours, ref } = onBoth('accumulate', k, memory, run);
  return { ours, ref, start };
}

interface SlerpCase {
  /** Source codes: the base, then the experts (a is the base with useBase, else expert 1; b is expert N). */
  base: Code;
  experts: Code[];
  useBase: boolean;
  e0: number;
  count: number;
  /** Elements already summed before this call (so the first lane is seen mod 8). */
  seen: number;
}

/** Run one slerpSums call on both kernels over the same inputs, the sums starting from values already there; the sums' bits. */
function bothSlerp(c: SlerpCase, seed: number) {
  const { k, heap, memory, rng, n, baseValues } = setup(c, seed);
  const entries = [c.base, ...c.experts].map((code, i) => {
    const v = i === 0 ? baseValues : values(n, rng, false);
    return { ptr: code === 'ZERO' ? 0 : stored(code, v, heap), code: SOURCE_CODE[code] };
  });
  const desc = placeDesc(heap, entries);
  // lanes already there, large enough that each addition rounds: an element in the wrong lane or order shows
  const start = Float64Array.from({ length: 25 }, (_, j) => (j < 24 ? 1000 * (1 + (j % 5)) + 0.37 : c.seen));
  const run = (f: (...a: number[]) => number) => {
    const sums = heap.place(start);
    const result = f(desc, c.experts.length, c.e0, c.count, c.useBase ? 1 : 0, sums, heap.alloc(k.mergeScratch(c.experts.length)));
    return { result, sums: Array.from(new BigUint64Array(heap.f64(sums, 25).slice().buffer)), values: Array.from(heap.f64(sums, 25)) };
  };
  const { ours, ref } = onBoth('slerpSums', k, memory, run);
  return { ours, ref, start };
}

/** Output element j's bits, with any NaN mapped to one value (see the header). */
function outBits(bytes: Uint8Array, outCode: number): number[] {
  const size = OUT_SIZE[outCode];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: number[] = [];
  for (let o = 0; o < bytes.length; o += size) {
    const b = size === 4 ? view.getUint32(o, true) : view.getUint16(o, true);
    const nan = size === 4 ? (b & 0x7fffffff) > 0x7f800000 : outCode === SOURCE_CODE.BF16 ? (b & 0x7fff) > 0x7f80 : (b & 0x7fff) > 0x7c00;
    out.push(nan ? -1 : b);
  }
  return out;
}

/** The suite; native-generic.test.ts runs it again with the AVX-512 paths off (how other CPUs run). */
export function nativeSuite(label: string): void {
// the pair kernel's twin needs AVX-512 or AVX2 (its narrower path, what this suite runs with the AVX-512 paths off): elsewhere it leaves every call to WebAssembly
const pairsNative = (process.env.MERGELENS_NATIVE_AVX512 !== '0' && cpuHas(['avx512f', 'avx512vl', 'avx512dq', 'avx512bw'])) || cpuHas(['avx2', 'popcnt']);
describe.skipIf(!native)(`native kernels = WebAssembly kernels${label}`, () => {
  const rules: [string, number, number][] = [
    ['weight_avg', KIND.linear, 0],
    ['weight_avg, base read', KIND.linear, FLAG.readBase],
    ['task_arithmetic', KIND.gta, FLAG.readBase],
    ['task_arithmetic, normalize flag', KIND.gta, FLAG.readBase | FLAG.normalize],
  ];
  const mixes: Code[][] = [['BF16', 'F16', 'F32', 'F64', 'ZERO', 'DELTA', 'BF16'], ['BF16', 'BF16', 'BF16', 'BF16', 'BF16', 'BF16', 'BF16', 'BF16']];
  let seed = 1;
  for (const [name, kind, flags] of rules) {
    for (const experts of mixes) {
      for (const outCode of [SOURCE_CODE.BF16, SOURCE_CODE.F16, SOURCE_CODE.F32]) {
        for (const special of [false, true]) {
          const s = seed++;
          it(`${name}, experts ${experts.join('/')}, out ${Object.keys(SOURCE_CODE).find((key) => SOURCE_CODE[key as Code] === outCode)}${special ? ', NaN/Inf/F16 overflow inputs' : ''}`, () => {
            const { ours, ref } = both({ kind, flags, experts, base: 'BF16', outCode, e0: 37, count: 2503, special }, s);
            expect(ours.handled).toBe(0);
            expect(ours.counts).toEqual(ref.counts);
            expect(outBits(ours.bytes, outCode)).toEqual(outBits(ref.bytes, outCode));
            if (special) expect(ref.counts[experts.length + 1]).toBeGreaterThan(0); // the case did reach the NaN/Inf recount
            else expect(ref.counts.every((x) => x === 0)).toBe(true);
          });
        }
      }
    }
  }
  for (const [name, flags, experts] of [
    ['slerp between two experts', FLAG.readBase, ['BF16', 'F16']],
    // the native kernel's one-loop path (decode, combine, NaN/Inf count, encode), base unread as in a merge
    ['slerp between two BF16 experts', 0, ['BF16', 'BF16']],
    ['slerp between two BF16 experts, base read', FLAG.readBase, ['BF16', 'BF16']],
    ['slerp from the base', FLAG.slerpBase | FLAG.readBase, ['F32']],
    ['slerp, LoRA expert', FLAG.readBase, ['DELTA', 'BF16']],
  ] as [string, number, Code[]][]) {
    for (const count of [3, 1024, 2503]) {
      it(`${name}, ${count} elements`, () => {
        const { ours, ref } = both({ kind: KIND.slerp, flags, experts, base: 'BF16', outCode: SOURCE_CODE.BF16, e0: 5, count, special: count > 1024 }, seed++);
        expect(ours.handled).toBe(0);
        expect(ours.counts).toEqual(ref.counts);
        expect(outBits(ours.bytes, SOURCE_CODE.BF16)).toEqual(outBits(ref.bytes, SOURCE_CODE.BF16));
      });
    }
  }

  // TIES: thresholds on the grid's 2/64 with a ties budget smaller than the ties (so the budget
  // decides which equal elements stay), an expert without a cut; a later thread's part (the
  // budget first reduced by the ties before it); with and without normalising by the kept weights
  const tiesCuts: [number, number][] = [[2 / 64, 300], [1 / 64, 5], [-1, 0], [3 / 64, 0], [2 / 64, 100000]];
  for (const [name, flags, tiesFrom] of [
    ['ties', FLAG.cut | FLAG.consensus | FLAG.normalize | FLAG.readBase, undefined],
    ['ties, no normalize', FLAG.cut | FLAG.consensus | FLAG.readBase, undefined],
    ['ties, a later part of the range', FLAG.cut | FLAG.consensus | FLAG.normalize | FLAG.readBase, 0],
  ] as [string, number, number | undefined][]) {
    for (const outCode of [SOURCE_CODE.BF16, SOURCE_CODE.F32]) {
      it(`${name}, out ${outCode === SOURCE_CODE.F32 ? 'F32' : 'BF16'}`, () => {
        const { ours, ref } = both({ kind: KIND.gta, flags, experts: ['BF16', 'F16', 'BF16', 'F32', 'BF16'], base: 'BF16', outCode, e0: 1001, count: 4099, special: false, grid: true, cuts: tiesCuts, tiesFrom }, seed++);
        expect(ours.handled).toBe(0);
        expect(ours.cuts).toEqual(ref.cuts);
        expect(ref.cuts[1]).toBeLessThan(300); // the budget was used (ties were met)
        expect(ours.counts).toEqual(ref.counts);
        expect(outBits(ours.bytes, outCode)).toEqual(outBits(ref.bytes, outCode));
      });
    }
  }
  // DARE: 0.3 density rescaled by 1/0.3, one expert not dropped, one without rescale, one
  // keeping all (threshold ≥ 2³²); with and without sign consensus (dare_ties); NaN/Inf counted per expert
  const drops: [number, number][] = [[0.3 * 2 ** 32, 1 / 0.3], [-1, 1], [0.6 * 2 ** 32, 1], [2 ** 32, 1], [0.3 * 2 ** 32 + 0.5, 1 / 0.3]];
  for (const [name, flags] of [
    ['dare', FLAG.drop | FLAG.readBase],
    ['dare, normalize', FLAG.drop | FLAG.normalize | FLAG.readBase],
    ['dare_ties', FLAG.drop | FLAG.consensus | FLAG.normalize | FLAG.readBase],
  ] as [string, number][]) {
    for (const special of [false, true]) {
      it(`${name}${special ? ', NaN/Inf inputs' : ''}`, () => {
        const { ours, ref, streams } = both({ kind: KIND.gta, flags, experts: ['BF16', 'BF16', 'F16', 'BF16', 'DELTA'], base: 'BF16', outCode: SOURCE_CODE.BF16, e0: 77, count: 3001, special, drops }, seed++);
        expect(ours.handled).toBe(0);
        expect(ours.states).toEqual(ref.states);
        // the harness did drop: streams advanced by one draw per element, except the expert without a drop
        expect(ref.states.slice(8, 12)).toEqual(Array.from(streams.subarray(4, 8)));
        expect(ref.states.slice(0, 4)).not.toEqual(Array.from(streams.subarray(0, 4)));
        expect(ours.counts).toEqual(ref.counts);
        expect(outBits(ours.bytes, SOURCE_CODE.BF16)).toEqual(outBits(ref.bytes, SOURCE_CODE.BF16));
        if (special) expect(ref.counts[5]).toBeGreaterThan(0);
      });
    }
  }

  // bracketSweep: brackets around the 10 %/30 % quantiles of random τ (values inside collected,
  // one capacity too small), on the grid (heavy ties at both ends, lo = 0 or hi = 0 with a count
  // that is no multiple of 4: the padding lanes taken back), an expert skipped, every source code
  for (const [name, sc] of [
    ['random τ, every source code', { experts: ['BF16', 'F16', 'F32', 'F64', 'TAU', 'ZERO'], base: 'BF16', e0: 13, count: 5003, brackets: [[0.012, 0.009, 4000], [0.013, 0.011, 100], [-1, 0, 8], [0.014, 0.004, 6000], [0.012, 0.006, 6000], [0.5, 0, 16]] }],
    ['random τ, F32 base, one block', { experts: ['BF16', 'BF16'], base: 'F32', e0: 0, count: 509, brackets: [[0.013, 0.006, 600], [0.013, 0.006, 3]] }],
    ['grid τ, ties at both ends', { experts: ['BF16', 'F16', 'BF16', 'BF16'], base: 'BF16', e0: 3, count: 2050, grid: true, brackets: [[2 / 64, 1 / 64, 64], [3 / 64, 1 / 64, 4000], [1 / 64, 0, 8], [0, 0, 8]] }],
  ] as [string, SweepCase][]) {
    it(`bracketSweep, ${name}`, () => {
      const { ours, ref } = bothSweep(sc, seed++);
      expect(ref.result).toBe(0);
      expect(ours.result).toBe(0);
      expect(ours.spec).toEqual(ref.spec);
      expect(ours.collected).toEqual(ref.collected);
      // the case reached what it is for: values collected (one past the capacity), ties counted
      const collected = sc.brackets.map((_, i) => ref.spec[12 * i + 4] - 3);
      expect(Math.max(...collected)).toBeGreaterThan(0);
      if (!sc.grid) expect(collected.some((x, i) => x > sc.brackets[i][2])).toBe(true);
      else expect(ref.spec[12 * 3 + 5] - 5).toBeGreaterThan(0); // |τ| = 0 counted at hi = 0
      sc.brackets.forEach(([hi], i) => hi < 0 && expect(ours.spec.slice(12 * i + 4, 12 * i + 7)).toEqual([3, 5, 7])); // skipped: counts as they were
    });
  }
  it('bracketSweep names the expert the WebAssembly sweep names on a NaN/Inf, with the counts left as there', () => {
    // (an Inf alone, no NaN before it: [3, 99] plants none)
    for (const bad of [[1, 2], [2, 0], [0, 3], [3, 99]] as [number, number][]) {
      const { ours, ref } = bothSweep({ experts: ['BF16', 'BF16', 'F16', 'BF16'], base: 'BF16', e0: 40, count: 3000, brackets: [[0.012, 0.009, 4000], [0.013, 0.011, 4000], [0.02, 0.001, 4000], [0.012, 0.009, 4000]], bad }, seed++);
      expect(ref.result).toBeGreaterThan(0);
      expect(ours.result).toBe(ref.result);
      expect(ours.spec).toEqual(ref.spec);
      expect(ours.collected).toEqual(ref.collected);
    }
  });

  // slerpSums (SLERP's prescan): the three sums' eight lanes to the bit, for every source code,
  // a from the base or expert 1, a start off a multiple of 8 (the head lanes), calls that cross
  // the 1024-element blocks and end mid-group, and sums that already hold earlier elements
  for (const [name, sl] of [
    ['two BF16 experts, crossing blocks, ending mid-group', { base: 'BF16', experts: ['BF16', 'BF16'], useBase: false, e0: 0, count: 3 * 1024 + 13, seen: 0 }],
    ['two BF16 experts, an offset start, earlier elements seen', { base: 'BF16', experts: ['BF16', 'BF16'], useBase: false, e0: 7, count: 2 * 1024 + 5, seen: 3 }],
    ['F16 and F32 experts, an offset start, earlier elements seen', { base: 'ZERO', experts: ['F16', 'F32'], useBase: false, e0: 5, count: 2000, seen: 3 }],
    ['the base and one expert (F64, BF16)', { base: 'F64', experts: ['BF16'], useBase: true, e0: 1029, count: 1500, seen: 1029 }],
    ['fewer elements than a group', { base: 'BF16', experts: ['BF16', 'F16'], useBase: false, e0: 2, count: 6, seen: 9 }],
  ] as [string, SlerpCase][]) {
    it(`slerpSums, ${name}`, () => {
      const { ours, ref, start } = bothSlerp(sl, seed++);
      expect(ours.result).toBe(0);
      expect(ours.sums).toEqual(ref.sums);
      // the case reached what it is for: every sum moved in the lanes it touched, the count advanced
      expect(ref.values[24]).toBe(sl.seen + sl.count);
      for (const s of [0, 8, 16]) expect(ref.values[s + ((sl.seen + 1) & 7)]).not.toBe(start[s + ((sl.seen + 1) & 7)]);
    });
  }

  // accumulate (the metrics' pair kernel): every pair's float64 sums and sign counts to the bit;
  // N around the four-pair groups (1, 2, 5, 8, 9, 13 experts), blocks that do not end on 512 or
  // 64 positions, every source code, trim thresholds that keep some, all and none
  for (const [name, pc] of [
    ['8 BF16 experts', { experts: Array(8).fill('BF16'), base: 'BF16', e0: 1024, count: 4096, thresholds: [2e-3, 1e-3, 5e-3, 2e-3, 1e-30, 2e-3, 1, 3e-3] }],
    ['13 experts, every source code, a partial block', { experts: ['BF16', 'F16', 'F32', 'F64', 'TAU', 'ZERO', 'BF16', 'BF16', 'F16', 'BF16', 'BF16', 'F32', 'BF16'], base: 'BF16', e0: 7, count: 3001, thresholds: Array(13).fill(1e-3) }],
    ['9 experts, F32 base', { experts: Array(9).fill('BF16'), base: 'F32', e0: 0, count: 1536 + 77, thresholds: Array(9).fill(2e-3) }],
    ['5 experts, fewer positions than a block', { experts: ['BF16', 'BF16', 'F16', 'BF16', 'BF16'], base: 'BF16', e0: 3, count: 130, thresholds: Array(5).fill(1e-3) }],
    ['4 experts, F16 base', { experts: ['BF16', 'BF16', 'BF16', 'BF16'], base: 'F16', e0: 100, count: 2560, thresholds: [1e-3, 2e-3, 1e-3, 5e-4] }],
    ['one pair, forty blocks', { experts: ['BF16', 'BF16'], base: 'BF16', e0: 512, count: 40 * 512, thresholds: [1e-3, 2e-3] }],
    ['one pair, four blocks at a time, then two, then a partial one', { experts: ['BF16', 'F16'], base: 'BF16', e0: 5, count: 6 * 512 + 100, thresholds: [1e-3, 2e-3] }],
    ['grid τ, thresholds equal to many |τ|', { experts: ['BF16', 'BF16', 'F16', 'BF16', 'BF16', 'BF16'], base: 'BF16', e0: 64, count: 2048, grid: true, thresholds: [2 / 64, 1 / 64, 3 / 64, 2 / 64, 1 / 64, 2 / 64] }],
    ['one expert (no pairs)', { experts: ['BF16'], base: 'BF16', e0: 0, count: 1024, thresholds: [1e-3] }],
  ] as [string, PairCase][]) {
    it(`accumulate, ${name}`, () => {
      const { ours, ref, start } = bothPairs(pc, seed++);
      expect(ref.result).toBe(0);
      if (!pairsNative) {
        // left to WebAssembly (no AVX-512): nothing written
        expect(ours.result).toBe(NOT_TAKEN);
        expect(ours.values).toEqual(Array.from(start));
        return;
      }
      expect(ours.result).toBe(0);
      expect(ours.sums).toEqual(ref.sums);
      // the case reached what it is for: sums moved, sign counts and trimmed supports counted
      const N = pc.experts.length;
      expect(ref.values[0]).toBeGreaterThan(start[0]);
      const kept = ref.values.slice(-N).map((x, i) => x - start[start.length - N + i]);
      expect(Math.max(...kept)).toBeGreaterThan(0);
      if (N > 1) expect(ref.values[N * N] - start[N * N]).toBeGreaterThan(0); // agreements of pair (0, 1)
    });
  }
  it('accumulate names the expert the WebAssembly kernel names on a NaN/Inf, the blocks before it summed', () => {
    for (const [bad, experts] of [[0, ['BF16', 'BF16', 'F16', 'BF16', 'BF16', 'F32', 'BF16']], [3, ['BF16', 'BF16', 'F16', 'BF16', 'BF16', 'F32', 'BF16']], [6, ['BF16', 'BF16', 'F16', 'BF16', 'BF16', 'F32', 'BF16']], [1, ['BF16', 'BF16']]] as [number, Code[]][]) {
      // (two experts: the Inf in the third block of a batch of four)
      const { ours, ref, start } = bothPairs({ experts, base: 'BF16', e0: 40, count: 3000, thresholds: Array(experts.length).fill(1e-3), bad }, seed++);
      expect(ref.result).toBe(bad + 1);
      expect(ours.result).toBe(pairsNative ? ref.result : NOT_TAKEN);
      if (!pairsNative) continue;
      expect(ours.sums).toEqual(ref.sums);
      expect(ref.values[0]).toBeGreaterThan(start[0]); // the blocks before the bad one went in
    }
  });

  it('refuses regions outside the memory it is given', () => {
    const { heap, memory } = wasmOnly();
    const desc = heap.place(new Uint32Array(4));
    const w = heap.place(new Float64Array(1));
    const counts = heap.calloc(16);
    const view = new Uint8Array(memory.buffer);
    const end = memory.buffer.byteLength;
    const scratch = heap.alloc(1 << 16);
    const out = heap.alloc(4096);
    expect(() => native!.mergePart(view, desc, 1, 0, 1024, KIND.linear, 0, w, 1, 1, 0, 0, 0, 0, end - 100, SOURCE_CODE.F32, counts, scratch, 0)).toThrow(/mergePart: a region lies outside the kernels' memory/);
    // a source whose elements run past the memory (the kernel would read beyond it)
    const past = heap.place(Uint32Array.from([0, SOURCE_CODE.ZERO, end - 100, SOURCE_CODE.F32]));
    expect(() => native!.mergePart(view, past, 1, 0, 1024, KIND.linear, 0, w, 1, 1, 0, 0, 0, 0, out, SOURCE_CODE.F32, counts, scratch, 0)).toThrow(/outside the kernels' memory/);
    expect(() => native!.mergePart(view, past, 1, 0, 25, KIND.linear, 0, w, 1, 1, 0, 0, 0, 0, out, SOURCE_CODE.F32, counts, scratch, 0)).not.toThrow(); // 100 bytes: 25 elements fit
    // bracketSweep: the spec, an expert's collected values, a source
    const spec = heap.calloc(48);
    heap.u32(spec, 4).set([100, 50, out, 1024]);
    expect(native!.bracketSweep(view, desc, 1, 0, 64, spec, scratch)).toBe(0);
    expect(() => native!.bracketSweep(view, desc, 1, 0, 64, end - 40, scratch)).toThrow(/bracketSweep: a region lies outside/);
    heap.u32(spec, 4).set([100, 50, end - 100, 1024]);
    expect(() => native!.bracketSweep(view, desc, 1, 0, 64, spec, scratch)).toThrow(/outside the kernels' memory/);
    heap.u32(spec, 4).set([100, 50, out, 1024]);
    expect(() => native!.bracketSweep(view, past, 1, 0, 64, spec, scratch)).toThrow(/outside the kernels' memory/);
    // accumulate: the sums, the thresholds, the scratch, a source
    const thr = heap.place(Uint32Array.of(1));
    const sums = heap.calloc(8 * 2);
    expect(native!.accumulate(view, desc, 1, 0, 64, thr, sums, scratch)).toBe(pairsNative ? 0 : NOT_TAKEN);
    expect(() => native!.accumulate(view, desc, 1, 0, 64, thr, end - 8, scratch)).toThrow(/accumulate: a region lies outside/);
    expect(() => native!.accumulate(view, desc, 1, 0, 64, end - 2, sums, scratch)).toThrow(/outside the kernels' memory/);
    expect(() => native!.accumulate(view, desc, 1, 0, 64, thr, sums, end - 1000)).toThrow(/outside the kernels' memory/);
    expect(() => native!.accumulate(view, past, 1, 0, 64, thr, sums, scratch)).toThrow(/outside the kernels' memory/);
    // slerpSums: the lanes, the scratch, a source
    const lanes = heap.calloc(8 * 25);
    expect(native!.slerpSums(view, desc, 1, 0, 64, 1, lanes, scratch)).toBe(0);
    expect(() => native!.slerpSums(view, desc, 1, 0, 64, 1, end - 192, scratch)).toThrow(/slerpSums: a region lies outside/);
    expect(() => native!.slerpSums(view, desc, 1, 0, 64, 1, lanes, end - 4096)).toThrow(/outside the kernels' memory/);
    expect(() => native!.slerpSums(view, past, 1, 0, 64, 1, lanes, scratch)).toThrow(/outside the kernels' memory/);
  });

  it.skipIf(!pairsNative)('is what the metrics pass runs on this machine (the report-level tests then cover it too)', async () => {
    const { accumulateTensor, newSums } = await import('../../src/metrics/accumulators.js');
    const spy = vi.spyOn(native!, 'accumulate');
    try {
      const acc = newSums(2);
      accumulateTensor([Float32Array.of(1, -2, 0, 4), Float32Array.of(3, 2, 1, 0)], Float64Array.of(0, 0), acc);
      expect(acc.gram[1]).toBe(1 * 3 - 2 * 2); // Στ₀τ₁
      expect(spy).toHaveReturnedWith(0);
    } finally {
      spy.mockRestore();
    }
  });

  it('is what a merge runs on this machine (the checkpoint-level tests then cover it too)', async () => {
    const { kernels } = await import('../../src/wasm/kernels.js');
    const spy = vi.spyOn(native!, 'mergePart');
    try {
      const { exports, heap } = kernels();
      heap.scoped(() => {
        const N = 2;
        const src = heap.place(new Float32Array(8).fill(1));
        const desc = heap.place(Uint32Array.from([0, SOURCE_CODE.ZERO, src, SOURCE_CODE.F32, src, SOURCE_CODE.F32]));
        const w = heap.place(Float64Array.from([0.25, 0.5]));
        const out = heap.calloc(32);
        const counts = heap.calloc(4 * (N + 3));
        exports.mergePart(desc, N, 0, 8, KIND.linear, 0, w, 1, 1, 0, 0, 0, 0, out, SOURCE_CODE.F32, counts, heap.alloc(exports.mergeScratch(N)), 0);
        expect(Array.from(heap.f32(out, 8))).toEqual(new Array(8).fill(0.75));
      });
      expect(spy).toHaveReturnedWith(0);
    } finally {
      spy.mockRestore();
    }
  });
});
}
