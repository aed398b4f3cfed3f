/**
 * The WebAssembly SIMD kernels (AssemblyScript sources in ./assembly, built into
 * dist/wasm/kernels.wasm by `npm run build:wasm`) and the heap they work on.
 *
 * Why WebAssembly: the metrics pass and the subspace SVDs are compute-bound (each parameter
 * feeds every pair of experts; each SVD is a few dense panel products), and V8 does not
 * vectorise plain TypeScript loops. Measured on one machine (README, Performance): the fused
 * pair kernel takes ~1.0 ns per pair-element with decode included, against ~7.2 ns for the
 * TypeScript kernels it replaced without it; the panel products run at ~13 GFLOP/s against ~3.
 * WebAssembly SIMD runs wherever Node 20 does; where a C compiler was present at install, the
 * merge kernel's, the trim sweep's and the pair kernel's calls go to their native twins instead
 * (src/native: AVX2/AVX-512, the same bytes), see withNative below.
 *
 * One instance per thread (worker_threads each load their own). Its memory is a shared
 * WebAssembly.Memory: growing it never detaches the typed-array views callers hold, so a view
 * taken before an allocation stays valid after it.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { nativeKernels, NOT_TAKEN, type NativeKernels, type NativeTwin } from '../native/load.js';

/** The exports of kernels.wasm (pointers are byte offsets into the shared memory). */
export interface KernelExports {
  heapBase(): number;
  accumulate(src: number, N: number, e0: number, count: number, thr: number, sums: number, scratch: number): number;
  accumulateScratch(N: number): number;
  streamTaus(src: number, N: number, e0: number, count: number, scratch: number): number;
  sampleAbs(src: number, N: number, count: number, s: number, out: number, scratch: number): number;
  bracketSweep(src: number, N: number, e0: number, count: number, spec: number, scratch: number): number;
  bracketSpecBytes(): number;
  histogramSweep(src: number, i: number, e0: number, count: number, hiBin: number, hist: number, scratch: number): number;
  sweepScratch(): number;
  tauRange(src: number, i: number, e0: number, count: number, out: number, scratch: number): number;
  selectAbs(ptr: number, n: number, k: number, hist: number): number;
  selectScratch(): number;
  bracketAbs(ptr: number, n: number, k1: number, k2: number, hist: number, out: number): void;
  mulPanelF32(A: number, m: number, n: number, X: number, count: number, Y: number, ldy: number): void;
  mulPanelF64(A: number, m: number, n: number, X: number, count: number, Y: number, ldy: number): void;
  mulTPanelF32(A: number, m: number, n: number, lda: number, Q: number, count: number, Z: number, ldz: number): void;
  mulTPanelF64(A: number, m: number, n: number, lda: number, Q: number, count: number, Z: number, ldz: number): void;
  dot64(a: number, b: number, n: number): number;
  sumF64(ptr: number, n: number): number;
  countNonFinite(ptr: number, n: number): number;
  taskVector(theta: number, base: number, n: number, out: number): void;
  countAbove(ptr: number, n: number, t: number): number;
  applyCut(ptr: number, n: number, t: number, ties: number): number;
  gtaCombine(base: number, taus: number, weights: number, N: number, n: number, consensus: boolean, normalize: boolean, lambda: number, wdiv: number, out: number): void;
  axpy64(alpha: number, x: number, y: number, n: number): void;
  mergeRange(
    src: number, N: number, e0: number, count: number, kind: number, flags: number,
    w: number, lambda: number, wdiv: number, s0: number, s1: number,
    cuts: number, states: number,
    out: number, outCode: number, counts: number, scratch: number,
  ): void;
  mergeScratch(N: number): number;
  /** useBase: 1 = a is the base, 0 = expert 1 (a number: the native twin takes numbers only). */
  slerpSums(src: number, N: number, e0: number, count: number, useBase: number, sums: number, scratch: number): void;
  dareDrop(x: number, n: number, st: number, thr: number, scale: number): void;
  encodeBlock(x: number, n: number, code: number, out: number): void;
  loraRows(A: number, B: number, r: number, n: number, r0: number, rows: number, scale: number, out: number, acc: number): void;
  tiesEqual(src: number, N: number, e0: number, count: number, cuts: number, out: number, scratch: number): void;
  mergePart(
    src: number, N: number, e0: number, count: number, kind: number, flags: number,
    w: number, lambda: number, wdiv: number, s0: number, s1: number,
    cuts: number, states: number,
    out: number, outCode: number, counts: number, scratch: number, tiesFrom: number,
  ): void;
}

/** Source codes of the decode kernels (src/wasm/assembly/dtype.ts). */
export const SOURCE_CODE = { F32: 0, F16: 1, BF16: 2, F64: 3, TAU: 4, ZERO: 5, DELTA: 6 } as const;

const PAGE = 65536;
/** 4 GiB, wasm32's limit: only address space is reserved up front. */
const MAX_PAGES = 65536;
const WASM_URL = new URL('../../dist/wasm/kernels.wasm', import.meta.url);

/**
 * Bump allocator over the kernels' memory, used stack-wise: `mark()` before a piece of work,
 * `release(mark)` after it. Grows the memory on demand.
 */
export class WasmHeap {
  private top: number;
  /** Every buffer object views were made on (a shared memory hands out a new one after each grow). */
  private readonly buffers = new WeakSet<ArrayBufferLike>();

  constructor(readonly memory: WebAssembly.Memory, private readonly base: number) {
    this.top = base;
  }

  /** Bytes of `bytes` at a 64-byte-aligned offset. */
  alloc(bytes: number): number {
    const ptr = (this.top + 63) & ~63;
    const end = ptr + Math.max(0, bytes);
    if (end > MAX_PAGES * PAGE) throw new Error(`mergelens kernels: out of WebAssembly memory (need ${(end / 2 ** 30).toFixed(2)} GiB, limit 4 GiB)`);
    const have = this.memory.buffer.byteLength;
    if (end > have) this.memory.grow(Math.ceil((end - have) / PAGE));
    this.top = end;
    return ptr;
  }

  /** Zero-filled allocation. */
  calloc(bytes: number): number {
    const ptr = this.alloc(bytes);
    this.u8(ptr, bytes).fill(0);
    return ptr;
  }

  mark(): number {
    return this.top;
  }

  release(mark: number): void {
    if (mark < this.base || mark > this.top) throw new Error('mergelens kernels: heap released out of order');
    this.top = mark;
  }

  /** Bytes in use above the heap base (for memory figures). */
  get used(): number {
    return this.top - this.base;
  }

  private buffer(): ArrayBufferLike {
    const b = this.memory.buffer;
    this.buffers.add(b);
    return b;
  }

  u8(ptr: number, length: number): Uint8Array {
    return new Uint8Array(this.buffer(), ptr, length);
  }
  u32(ptr: number, length: number): Uint32Array {
    return new Uint32Array(this.buffer(), ptr, length);
  }
  f32(ptr: number, length: number): Float32Array {
    return new Float32Array(this.buffer(), ptr, length);
  }
  f64(ptr: number, length: number): Float64Array {
    return new Float64Array(this.buffer(), ptr, length);
  }

  /** The offset of a view on this heap's memory, or −1 for any other array. */
  offsetOf(view: ArrayBufferView): number {
    return this.buffers.has(view.buffer) ? view.byteOffset : -1;
  }

  /** Copy an array's bytes in (unless it already lives here; any typed array: the kernels read stored BF16/F16 bits too); returns its offset. */
  place(view: ArrayBufferView): number {
    const at = this.offsetOf(view);
    if (at >= 0) return at;
    const ptr = this.alloc(view.byteLength);
    new Uint8Array(this.buffer(), ptr, view.byteLength).set(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
    return ptr;
  }

  private queue: Promise<unknown> = Promise.resolve();

  /** Run async work that uses the heap once every earlier `exclusive` work has finished. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(() => this.scopedAsync(fn));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Run `fn` and free everything it allocated. */
  scoped<T>(fn: () => T): T {
    const m = this.mark();
    try {
      return fn();
    } finally {
      this.release(m);
    }
  }

  /**
   * `scoped` for async work. Allocations are a stack, so two async users must not interleave:
   * top-level async work takes the heap with `exclusive`, and only its own awaits run in between.
   */
  async scopedAsync<T>(fn: () => Promise<T>): Promise<T> {
    const m = this.mark();
    try {
      return await fn();
    } finally {
      this.release(m);
    }
  }
}

export interface Kernels {
  exports: KernelExports;
  heap: WasmHeap;
}

let instance: Kernels | undefined;

/** Path of the compiled kernels (for code that instantiates them itself, e.g. a benchmark's eval'd worker). */
export const KERNELS_PATH = fileURLToPath(WASM_URL);

/** A fresh instance over its own memory (`kernels()` is this thread's shared one). */
export function instantiateKernels(): Kernels {
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = new Uint8Array(readFileSync(WASM_URL));
  } catch {
    throw new Error(`mergelens kernels not built: ${KERNELS_PATH} is missing (run \`npm run build\`)`);
  }
  const module = new WebAssembly.Module(bytes);
  const memory = new WebAssembly.Memory({ initial: 2, maximum: MAX_PAGES, shared: true });
  // 2 MiB pages for the heap where the addon is built: a heap's first touch faulted every 4 KiB
  // page, 5 % of a 1-pair metrics pass's CPU on this VM (docs/performance.md). MERGELENS_THP=0: the A/B.
  if (process.env.MERGELENS_THP !== '0') nativeKernels()?.adviseHugePages(new Uint8Array(memory.buffer), MAX_PAGES * PAGE);
  const exports = withNative(new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as KernelExports, memory);
  return { exports, heap: new WasmHeap(memory, exports.heapBase()) };
}

/** The exports, with each export that has a native twin going to it where it is built and takes the call (src/native/load.ts). */
function withNative(wasm: KernelExports, memory: WebAssembly.Memory): KernelExports {
  const native = nativeKernels();
  if (!native) return wasm;
  // the addon's twins: its exports named as a WebAssembly export (it also says which instruction set it runs)
  const twins = Object.keys(native).filter((name) => typeof (wasm as unknown as Record<string, unknown>)[name] === 'function').map((name) => {
    const fallback = (wasm as unknown as Record<string, (...a: number[]) => number>)[name];
    const value = (...a: number[]) => {
      const r = (native[name as keyof NativeKernels] as NativeTwin)(new Uint8Array(memory.buffer), ...a);
      return r === NOT_TAKEN ? fallback(...a) : r;
    };
    return [name, { value }] as const;
  });
  return Object.create(wasm, Object.fromEntries(twins)) as KernelExports; // the exports object is frozen
}

/** This thread's kernels, instantiated on first use (synchronously: the module is ~10 KB). */
export function kernels(): Kernels {
  return (instance ??= instantiateKernels());
}
