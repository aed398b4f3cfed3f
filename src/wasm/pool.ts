/**
 * Fork–join helper threads for the kernels: each helper instantiates the kernels on the
 * caller's shared memory, so a call split into ranges (rows of a panel product, say) runs on
 * every core over the same data, with no copies. The caller computes its own share, then
 * blocks on Atomics.wait until the helpers are done — the API stays synchronous.
 *
 * Only the main thread gets helpers (worker threads of the metrics pass already use every
 * core); MERGELENS_KERNEL_THREADS overrides the count (1 turns the pool off).
 */
import os from 'node:os';
import { isMainThread, Worker } from 'node:worker_threads';
import { kernels, KERNELS_PATH, type KernelExports } from './kernels.js';
import { nativeKernels, NATIVE_PATH, NOT_TAKEN } from '../native/load.js';
import { settled, settledSync } from './completion.js';

type KernelName = { [K in keyof KernelExports]: KernelExports[K] extends (...a: number[]) => unknown ? K : never }[keyof KernelExports];

/** Helper source (plain CommonJS, eval'd: works the same from dist and from the TypeScript sources). */
const HELPER = `
const { parentPort, workerData } = require('node:worker_threads');
const { readFileSync } = require('node:fs');
const { wasm, native, memory, flags, results } = workerData;
const wk = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(wasm)), { env: { memory } }).exports;
// the exports with native twins go to them where they take the call, as kernels.ts withNative does on the main thread
const nk = native ? require(native) : null;
const twin = (f) => (...a) => { const r = nk[f](new Uint8Array(memory.buffer), ...a); return r === ${NOT_TAKEN} ? wk[f](...a) : r; };
const k = nk ? Object.create(wk, Object.fromEntries(Object.keys(nk).filter((f) => typeof wk[f] === 'function').map((f) => [f, { value: twin(f) }]))) : wk;
const done = new Int32Array(flags);
const out = new Float64Array(results);
parentPort.postMessage({ ready: true });
parentPort.on('message', ({ slot, fn, args }) => {
  let state = 1;
  try { const r = k[fn](...args); out[slot] = typeof r === 'number' ? r : 0; } catch (e) { state = 2; parentPort.postMessage({ error: String(e && e.stack || e) }); }
  Atomics.store(done, slot, state);
  Atomics.notify(done, slot);
});
`;

export class KernelPool {
  private readonly helpers: Worker[] = [];
  /** Helpers that have booted and instantiated the kernels (a Node worker takes ~50 ms to start). */
  private readonly ready = new Set<Worker>();
  /** Completion flags: slots [1, threads) for `run`, [threads, 2·threads) for `runAsync`. */
  private readonly done: Int32Array;
  /** What each slot's kernel call returned (numbers; 0 for none). */
  private readonly results: Float64Array;
  private asyncBusy = false;

  /** `threads` counts the caller: threads − 1 helpers (one more once `runAsync` is used). */
  constructor(readonly threads: number) {
    this.done = new Int32Array(new SharedArrayBuffer(8 * Math.max(1, threads)));
    this.results = new Float64Array(new SharedArrayBuffer(16 * Math.max(1, threads)));
    for (let h = 1; h < threads; h++) this.addHelper();
  }

  /** Helpers ready to take calls (the others are still starting). */
  get booted(): number {
    return this.ready.size;
  }

  private addHelper(): void {
    const { heap } = kernels();
    const w = new Worker(HELPER, { eval: true, workerData: { wasm: KERNELS_PATH, native: nativeKernels() ? NATIVE_PATH : null, memory: heap.memory, flags: this.done.buffer, results: this.results.buffer } });
    w.on('message', (m: { ready?: boolean; error?: string }) => {
      if (m.ready) this.ready.add(w);
      else process.stderr.write(`mergelens kernel helper failed: ${m.error}\n`);
    });
    w.unref(); // idle helpers never keep the process alive
    this.helpers.push(w);
  }

  /**
   * `run` with every call on a helper, the caller's event loop free meanwhile (I/O completions,
   * the next reads and writes go on while the kernels work): resolves once all calls have
   * finished, with what each call returned (numbers; 0 for none). Calls whose helper has not
   * booted yet run here, at once (a short merge would otherwise start by waiting for the
   * threads). One `runAsync` at a time; the calls must write disjoint memory.
   */
  async runAsync(fn: KernelName, calls: number[][]): Promise<number[]> {
    const parts = calls.length;
    if (parts > this.threads) throw new Error(`kernel pool: ${parts} parts for ${this.threads} threads`);
    if (this.asyncBusy) throw new Error('kernel pool: runAsync is already running');
    while (this.helpers.length < parts) this.addHelper();
    // the last helpers (`run` uses the first threads − 1), part p on busy[p], its flag in slot threads + p;
    // a pending Atomics.waitAsync does not keep the process alive: the busy helpers do, until done
    const busy = this.helpers.slice(-parts).reverse().filter((h) => this.ready.has(h));
    this.asyncBusy = true;
    for (const h of busy) h.ref();
    try {
      const waits: Promise<number>[] = [];
      for (let p = 0; p < busy.length; p++) {
        const slot = this.threads + p;
        Atomics.store(this.done, slot, 0);
        busy[p].postMessage({ slot, fn, args: calls[p] });
        waits.push(settled(this.done, slot));
      }
      const { exports } = kernels();
      const returned = new Array<number>(parts).fill(0);
      for (let p = busy.length; p < parts; p++) {
        const r = (exports[fn] as (...a: number[]) => unknown)(...calls[p]);
        returned[p] = typeof r === 'number' ? r : 0;
      }
      const states = await Promise.all(waits);
      for (let p = 0; p < busy.length; p++) {
        if (states[p] === 2) throw new Error(`mergelens kernels: ${String(fn)} failed on a helper thread`);
        returned[p] = this.results[this.threads + p];
      }
      return returned;
    } finally {
      for (const h of busy) h.unref();
      this.asyncBusy = false;
    }
  }

  /**
   * Run kernel `fn` once per argument list: the first on this thread, the others on helpers,
   * all at once; returns when every call has finished. The calls must write disjoint memory.
   */
  run(fn: KernelName, calls: number[][]): void {
    const { exports } = kernels();
    const parts = calls.length;
    if (parts > this.threads) throw new Error(`kernel pool: ${parts} parts for ${this.threads} threads`);
    for (let p = 1; p < parts; p++) {
      Atomics.store(this.done, p, 0);
      this.helpers[p - 1].postMessage({ slot: p, fn, args: calls[p] });
    }
    (exports[fn] as (...a: number[]) => unknown)(...calls[0]);
    let failed = false;
    for (let p = 1; p < parts; p++) {
      if (settledSync(this.done, p) === 2) failed = true;
    }
    if (failed) throw new Error(`mergelens kernels: ${String(fn)} failed on a helper thread`);
  }

  /** Split [0, total) into at most `threads` ranges aligned to `align` (the last takes the rest). */
  split(total: number, align: number): [number, number][] {
    const per = Math.ceil(total / this.threads / align) * align;
    const out: [number, number][] = [];
    for (let a = 0; a < total; a += per) out.push([a, Math.min(total, a + per)]);
    return out.length ? out : [[0, 0]];
  }
}

let pool: KernelPool | undefined;

/** Threads for one kernel call on this thread: all cores on the main thread, 1 in workers. */
export function kernelThreads(): number {
  const env = Number(process.env.MERGELENS_KERNEL_THREADS);
  if (Number.isInteger(env) && env >= 1) return env;
  return isMainThread ? os.availableParallelism() : 1;
}

/** This thread's pool (started on first use), or null when there is one thread. */
export function kernelPool(): KernelPool | null {
  const t = kernelThreads();
  if (t <= 1) return null;
  return (pool ??= new KernelPool(t));
}
