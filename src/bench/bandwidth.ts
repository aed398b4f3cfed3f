/**
 * This machine's memory bandwidth and page-cache read throughput, measured in-process:
 *  - read: Σ over 512 MiB of float64 by the kernels' own streaming loop (WebAssembly SIMD,
 *    eight accumulators, 128 bytes an iteration: src/wasm/assembly/stream.ts), best of 3;
 *    bytes read / time. (A plain TypeScript sum loop reaches only a fraction of this on some
 *    CPUs, so it would understate the bandwidth.)
 *  - copy: TypedArray.set of 512 MiB (memcpy), counted as read + write bytes;
 *  - multi-thread read: T worker_threads each summing their own 256 MiB with the same kernel,
 *    released at once by an Atomics barrier; total bytes / slowest thread's time;
 *  - page cache: positioned 16 MiB reads of a file already read once (so cached), best of 3.
 * Workers run plain JS from a string (loading the compiled kernels by path) so this works the
 * same from dist and from source.
 */
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { instantiateKernels, kernels, KERNELS_PATH } from '../wasm/kernels.js';
import { openOutputFile } from '../util/output-file.js';
import { bestOf, cpuSeconds } from './clock.js';

export interface Bandwidth {
  /** GB/s (1e9 bytes), single thread, WebAssembly SIMD sum loop. */
  readGBs: number;
  /** GB/s (read + write bytes), single thread, memcpy. */
  copyGBs: number;
  /** GB/s, all threads summing at once. */
  readAllThreadsGBs: number;
  threads: number;
  /** GB/s of positioned reads from the page cache (undefined when not measured). */
  pageCacheGBs?: number;
  /** The same reads per CPU-second of the process (the read threads' time): what a shared machine cannot halve. */
  pageCacheCpuGBs?: number;
  /**
   * GB/s of 16 MiB writes of a new 512 MiB file into the page cache (no fsync): the first file,
   * then a second one after deleting the first (its pages recycled). A merge writes its output
   * this way; on a VM whose host backs guest memory on first touch the first is far slower.
   */
  pageCacheWriteGBs?: { first: number; again: number };
  /** The same size written through O_DIRECT as merges write their outputs (src/util/output-file.ts), fsync included; absent where the filesystem refuses it. */
  directWriteGBs?: number;
  /**
   * GB of fresh kernel memory made ready per CPU-second: the first write to each page of a new
   * heap (2 MiB pages where the addon advises them) less a second write of the same bytes. Every
   * process pays it once for its peak memory; on a VM whose host backs guest memory on first
   * touch it is far dearer than the write itself. Absent in reports before 2026-12-03.
   */
  firstTouchCpuGBs?: number;
  method: string;
}

const MiB = 1 << 20;

export function singleThreadBandwidth(bytes = 512 * MiB): { readGBs: number; copyGBs: number } {
  const { exports, heap } = kernels();
  const { readGBs } = heap.scoped(() => {
    const ptr = heap.alloc(bytes);
    const a = heap.f64(ptr, bytes / 8);
    for (let i = 0; i < a.length; i++) a[i] = i & 1023; // touch every page before timing
    let sink = 0;
    const t = bestOf(3, () => {
      sink += exports.sumF64(ptr, a.length);
    });
    if (sink === -1) console.log(sink); // keep the sums observable
    return { readGBs: bytes / t / 1e9 };
  });
  const a = new Float64Array(bytes / 8).fill(1);
  const b = new Float64Array(a.length);
  const tCopy = bestOf(3, () => b.set(a));
  return { readGBs, copyGBs: (2 * bytes) / tCopy / 1e9 };
}

/** firstTouchCpuGBs over `bytes` of a fresh kernels' memory (its own instance: no page of it touched before). */
export function firstTouchCpuGBs(bytes = 256 * MiB): number {
  const { heap } = instantiateKernels();
  const view = heap.u8(heap.alloc(bytes), bytes);
  const t0 = cpuSeconds();
  view.fill(1);
  const t1 = cpuSeconds();
  view.fill(2);
  const t2 = cpuSeconds();
  return bytes / 1e9 / Math.max(1e-6, t1 - t0 - (t2 - t1));
}

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { readFileSync } = require('node:fs');
const { bytes, barrier, wasm } = workerData;
const memory = new WebAssembly.Memory({ initial: 2, maximum: 65536, shared: true });
const k = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(wasm)), { env: { memory } }).exports;
const ptr = (k.heapBase() + 63) & ~63;
memory.grow(Math.ceil((ptr + bytes) / 65536));
const a = new Float64Array(memory.buffer, ptr, bytes / 8);
for (let i = 0; i < a.length; i++) a[i] = i & 1023;
const flag = new Int32Array(barrier);
Atomics.add(flag, 1, 1);
Atomics.notify(flag, 1);
Atomics.wait(flag, 0, 0);
let best = Infinity, sink = 0;
for (let r = 0; r < 3; r++) {
  const t0 = process.hrtime.bigint();
  sink += k.sumF64(ptr, a.length);
  best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
}
parentPort.postMessage({ seconds: best, sink });
`;

export async function multiThreadReadBandwidth(threads = os.availableParallelism(), bytesPerThread = 256 * MiB): Promise<number> {
  const barrier = new SharedArrayBuffer(8);
  const flag = new Int32Array(barrier);
  const workers = Array.from({ length: threads }, () => new Worker(WORKER_SOURCE, { eval: true, workerData: { bytes: bytesPerThread, barrier, wasm: KERNELS_PATH } }));
  try {
    const results = workers.map((w) => new Promise<number>((resolve, reject) => {
      w.once('message', (m: { seconds: number }) => resolve(m.seconds));
      w.once('error', reject);
    }));
    // Release all threads together once every one has filled its array.
    while (Atomics.load(flag, 1) < threads) await new Promise((r) => setTimeout(r, 5));
    Atomics.store(flag, 0, 1);
    Atomics.notify(flag, 0);
    const seconds = await Promise.all(results);
    return (threads * bytesPerThread) / Math.max(...seconds) / 1e9;
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/** Positioned 16 MiB reads of `file` after one warming pass; best of 3 passes, GB/s by wall time and per CPU-second. */
export async function pageCacheReadGBs(file: string, maxBytes = 2048 * MiB): Promise<{ wall: number; cpu: number }> {
  const fh = await fsp.open(file, 'r');
  try {
    const size = Math.min((await fh.stat()).size, maxBytes);
    const buf = new Uint8Array(16 * MiB);
    const pass = async () => {
      for (let pos = 0; pos < size; pos += buf.length) await fh.read(buf, 0, Math.min(buf.length, size - pos), pos);
    };
    await pass();
    let t = Infinity;
    let cpu = Infinity;
    for (let r = 0; r < 3; r++) {
      const t0 = process.hrtime.bigint();
      const c0 = process.cpuUsage();
      await pass();
      t = Math.min(t, Number(process.hrtime.bigint() - t0) / 1e9);
      const c = process.cpuUsage(c0);
      cpu = Math.min(cpu, (c.user + c.system) / 1e6);
    }
    return { wall: size / t / 1e9, cpu: size / cpu / 1e9 };
  } finally {
    await fh.close();
  }
}

/** pageCacheWriteGBs: two new files of `bytes` written in `dir` one after the other (each removed). */
export async function pageCacheWrites(dir: string, bytes = 512 * MiB): Promise<{ first: number; again: number }> {
  const once = async () => {
    const t0 = performance.now();
    const file = await scratchFile(dir, bytes, 'write');
    const seconds = (performance.now() - t0) / 1000;
    await fsp.rm(file, { force: true });
    return bytes / seconds / 1e9;
  };
  const first = await once();
  return { first, again: await once() };
}

/** A new file of `bytes` written in `dir` as a merge writes its output (O_DIRECT, 16 MiB ranges, two in flight, fsync), or undefined where O_DIRECT is refused. */
export async function directWrites(dir: string, bytes = 512 * MiB): Promise<number | undefined> {
  const file = path.join(dir, `bandwidth-direct-${process.pid}.bin`);
  const chunk = new Uint8Array(16 * MiB).fill(7);
  const t0 = performance.now();
  const out = await openOutputFile(file, bytes, { direct: true });
  try {
    if (!out.direct) return undefined;
    for (let pos = 0; pos < bytes; pos += 2 * chunk.length) {
      await Promise.all([pos, pos + chunk.length].filter((p) => p < bytes).map((p) => out.write(chunk.subarray(0, Math.min(chunk.length, bytes - p)), p)));
    }
    await out.sync();
    return bytes / ((performance.now() - t0) / 1000) / 1e9;
  } finally {
    await out.close();
    await fsp.rm(file, { force: true });
  }
}

/** Write a scratch file of `bytes` in `dir` for the page-cache test (caller removes it). */
export async function scratchFile(dir: string, bytes = 1024 * MiB, tag = 'read'): Promise<string> {
  const file = path.join(dir, `bandwidth-${tag}-${process.pid}.bin`);
  const fh = await fsp.open(file, 'w');
  try {
    const chunk = new Uint8Array(16 * MiB).fill(7);
    for (let pos = 0; pos < bytes; pos += chunk.length) await fh.write(chunk, 0, Math.min(chunk.length, bytes - pos), pos);
  } finally {
    await fh.close();
  }
  return file;
}

export async function measureBandwidth(opts: { threads?: number; cacheFile?: string } = {}): Promise<Bandwidth> {
  const threads = opts.threads ?? os.availableParallelism();
  const firstTouch = firstTouchCpuGBs();
  const single = singleThreadBandwidth();
  const readAllThreadsGBs = await multiThreadReadBandwidth(threads);
  const pageCache = opts.cacheFile ? await pageCacheReadGBs(opts.cacheFile) : undefined;
  const pageCacheWriteGBs = opts.cacheFile ? await pageCacheWrites(path.dirname(opts.cacheFile)) : undefined;
  const directWriteGBs = opts.cacheFile ? await directWrites(path.dirname(opts.cacheFile)) : undefined;
  return {
    ...single,
    readAllThreadsGBs,
    threads,
    pageCacheGBs: pageCache?.wall,
    pageCacheCpuGBs: pageCache?.cpu,
    pageCacheWriteGBs,
    directWriteGBs,
    firstTouchCpuGBs: firstTouch,
    method:
      'read: Σ of 512 MiB of float64 by a WebAssembly SIMD loop (8 accumulators), best of 3; copy: TypedArray.set of 512 MiB counted read+write; ' +
      `all threads: ${threads} worker_threads each summing 256 MiB at once with the same loop (Atomics barrier), total bytes / slowest; ` +
      'page cache: 16 MiB positioned reads of an already-read file, best of 3 (by wall time, and per CPU-second of the process); ' +
      'page-cache writes: two new 512 MiB files written in 16 MiB writes, no fsync, one after the other (the second reuses the first one\'s freed pages); ' +
      'direct writes: a new 512 MiB file through O_DIRECT, as merges write their outputs, 16 MiB ranges two at a time, fsync included; ' +
      'first touch: a write to every byte of 256 MiB of a new kernels\' memory, less a second write of it, by CPU time',
  };
}

/**
 * The page-cache read rate of exactly these files: read twice, the faster reading kept (the first
 * brings back whatever an earlier phase evicted). The merge targets' reference: one re-read 0.5 GB
 * shard (pageCacheReadGBs) measured 14.1 GB/s where reading a merge's 19.8 GB of inputs took
 * 4.1–4.7 s on the same machine minutes later — a small hot file is not the working set a merge reads.
 */
export async function readAllCached(dirs: string[]): Promise<{ bytes: number; seconds: number }> {
  const a = await readAll(dirs);
  const b = await readAll(dirs);
  return a.seconds < b.seconds ? a : b;
}

/** Read every .safetensors file under the given folders once (16 MiB reads); bytes and seconds. */
export async function readAll(dirs: string[]): Promise<{ bytes: number; seconds: number }> {
  const t0 = performance.now();
  const buf = new Uint8Array(16 * MiB);
  let bytes = 0;
  for (const d of dirs) {
    for (const f of (await fsp.readdir(d)).filter((x) => x.endsWith('.safetensors'))) {
      const fh = await fsp.open(path.join(d, f), 'r');
      try {
        for (;;) {
          const { bytesRead } = await fh.read(buf, 0, buf.length, null);
          if (bytesRead === 0) break;
          bytes += bytesRead;
        }
      } finally {
        await fh.close();
      }
    }
  }
  return { bytes, seconds: (performance.now() - t0) / 1000 };
}
