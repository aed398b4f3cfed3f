/**
 * Multi-core metrics pass: the tensor list is cut into U work units (U a power of two ≥ 4 per
 * thread) with the engine's own deterministic sharding, threads − 1 worker_threads and the main
 * thread take units from a queue (so a thread stuck on a big tensor does not hold up the rest),
 * each computes the engine's associative partial for its unit, and the main thread combines
 * them with `combinePartials`.
 * The per-tensor float64 sums do not depend on who computed them and finalisation sums tensors
 * in sorted-name order, so the report equals the single-thread one exactly (tested).
 *
 * Workers reopen the inputs from their paths, so every checkpoint must be file-backed;
 * in-memory checkpoints (or threads = 1) run in-process through `computeMetricsPartial`.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Checkpoint, MetricsReport } from '../types.js';
import { MergelensError, type ErrorCode } from '../errors.js';
import { isFloatDType, FLOAT_DTYPE_BYTES } from '../safetensors/dtype.js';
import { combinePartials, type MetricsPartial } from './accumulators.js';
import { computeMetricsPartial, type MetricsOptions } from './engine.js';
import { finalizeReport } from './finalize.js';
import { parseShard, tensorFilter } from './selection.js';

export interface ParallelMetricsOptions extends MetricsOptions {
  /** Worker threads (default os.availableParallelism()); 1 runs in-process. */
  threads?: number;
  /** Work units per thread (rounded up so the unit count is a power of two; default 4). */
  unitsPerThread?: number;
  /**
   * Passes reading fewer bytes than this run in-process: starting workers (≈0.1 s each, and
   * reopening every input) costs more than it saves on small models. Default 256 MB.
   */
  minParallelBytes?: number;
}

/** Everything a worker needs, structured-clone safe. */
export interface WorkerSetup {
  base: string;
  experts: string[];
  grads?: string[];
  acts?: string[];
  /** Engine options without inputs, progress or shard. */
  opts: Omit<MetricsOptions, 'grads' | 'acts' | 'onProgress' | 'shard'>;
}

/** main → worker: compute shard [index, count]; or stop. */
export type WorkerRequest = { unit: number; shard: [number, number] } | { stop: true };

export interface WorkerErrorInfo {
  code?: ErrorCode;
  message: string;
  file?: string;
  tensor?: string;
  hint?: string;
  stack?: string;
}

/** worker → main. */
export type WorkerReply =
  | { type: 'progress'; unit: number; done: number; total: number }
  | { type: 'result'; unit: number; partial: MetricsPartial }
  | { type: 'error'; error: WorkerErrorInfo };

const nextPow2 = (n: number) => 2 ** Math.ceil(Math.log2(Math.max(1, n)));

/**
 * How to start a worker: the compiled worker.js next to this file, or — when running from the
 * .ts source (vitest, tsx) — a small eval'd bootstrap that loads worker.ts through tsx's
 * `tsImport` (Node 20 ignores `--import tsx` in a worker's execArgv for the entry module).
 */
function spawnWorker(setup: WorkerSetup): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./worker.js', import.meta.url), { workerData: setup });
  const target = new URL('./worker.ts', import.meta.url).href;
  // The ESM build of tsx's API (resolving under `require` conditions gives the .cjs twin).
  const api = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
  const boot = `import(${JSON.stringify(api)}).then((m) => m.tsImport(${JSON.stringify(target)}, ${JSON.stringify(target)}))`;
  return new Worker(boot, { eval: true, workerData: setup });
}

const fileBacked = (c: Checkpoint | string) => typeof c === 'string' || existsSync(c.path);
const pathOf = (c: Checkpoint | string) => (typeof c === 'string' ? c : c.path);

/** Estimated bytes the pass reads (selected float tensors of base + dense experts), for progress totals. */
function estimateBytes(base: Checkpoint, experts: Checkpoint[], opts: MetricsOptions): number {
  const keep = tensorFilter(opts.include ?? [], opts.exclude ?? []);
  let total = 0;
  for (const name of base.tensorNames()) {
    if (!keep(name)) continue;
    for (const c of [base, ...experts]) {
      const loc = c.location(name);
      if (loc && isFloatDType(loc.dtype)) total += loc.shape.reduce((a, b) => a * b, 1) * FLOAT_DTYPE_BYTES[loc.dtype];
    }
  }
  return total;
}

/** The worker's error as the same class, message and context (structured clone drops the class). */
function rebuildError(e: WorkerErrorInfo): Error {
  // Built without ctx so the message is not re-decorated, then the context fields restored.
  const err = e.code ? Object.assign(new MergelensError(e.code, e.message), { file: e.file, tensor: e.tensor, hint: e.hint }) : new Error(e.message);
  if (e.stack) err.stack = e.stack;
  return err;
}

/**
 * `computeMetricsPartial` on `threads` cores. Same inputs, same options, same result (the
 * `shard` option, if given, is honoured: its tensors are split further among the workers).
 */
export async function computeMetricsPartialParallel(base: Checkpoint, experts: Checkpoint[], opts: ParallelMetricsOptions = {}): Promise<MetricsPartial> {
  const { threads: wanted, unitsPerThread, minParallelBytes, onProgress, grads, acts, shard, ...engineOpts } = opts;
  if (wanted !== undefined && !(Number.isInteger(wanted) && wanted >= 1)) throw new MergelensError('BAD_PARAM', `threads must be a positive integer, got ${wanted}`);
  const threads = wanted ?? os.availableParallelism();
  const inputs = [base, ...experts, ...(grads ?? []), ...(acts ?? [])];
  const inProcess = () => computeMetricsPartial(base, experts, { ...engineOpts, grads, acts, shard, onProgress });
  if (threads === 1 || experts.length < 2 || !inputs.every(fileBacked)) return inProcess();
  const total = estimateBytes(base, experts, opts);
  if (total < (minParallelBytes ?? 256e6)) return inProcess();
  const t0 = Date.now();
  const [si, sn] = typeof shard === 'string' ? parseShard(shard) : (shard ?? [1, 1]);
  // Units of a power-of-two count U: shard (si−1)·U + u + 1 of sn·U, u < U, are together exactly
  // shard si of sn (the engine assigns by floor(mid·count), and scaling by 2^k is exact).
  const U = nextPow2(threads * Math.max(1, Math.floor(unitsPerThread ?? 4)));
  const setup: WorkerSetup = {
    base: pathOf(base),
    experts: experts.map(pathOf),
    grads: grads?.map(pathOf),
    acts: acts?.map(pathOf),
    opts: engineOpts,
  };
  const unitDone = new Float64Array(U);
  const results: MetricsPartial[] = new Array(U);
  const workers: Worker[] = [];
  let next = 0;
  let finished = 0;

  try {
    await new Promise<void>((resolve, reject) => {
      let failed = false;
      const fail = (e: Error) => {
        if (failed) return;
        failed = true;
        reject(e);
      };
      const progress = () => {
        if (!onProgress) return;
        let done = 0;
        for (const d of unitDone) done += d;
        onProgress({ phase: 'metrics', done: Math.min(done, total), total, unit: 'bytes', detail: `${finished}/${U} units on ${workers.length + 1} threads` });
      };
      const complete = (unit: number, partial: MetricsPartial) => {
        results[unit] = partial;
        unitDone[unit] = partial.stats.bytesRead;
        finished++;
        if (finished === U) resolve();
      };
      const shardOf = (unit: number): [number, number] => [(si - 1) * U + unit + 1, sn * U];
      const feed = (w: Worker) => {
        if (next < U) {
          const unit = next++;
          w.postMessage({ unit, shard: shardOf(unit) } satisfies WorkerRequest);
        } else {
          w.postMessage({ stop: true } satisfies WorkerRequest);
        }
      };
      // threads − 1 workers; this thread takes units from the same queue meanwhile (its reads are
      // async, so the workers' messages are answered between tensors) instead of waiting, and
      // one worker fewer starts (≈ 0.1–0.2 CPU-s each: a Node environment and these modules)
      for (let t = 0; t < Math.min(threads - 1, U); t++) {
        const w = spawnWorker(setup);
        workers.push(w);
        w.on('message', (msg: WorkerReply) => {
          if (msg.type === 'progress') {
            unitDone[msg.unit] = msg.done;
            progress();
          } else if (msg.type === 'result') {
            complete(msg.unit, msg.partial);
            if (finished < U) feed(w);
          } else {
            fail(rebuildError(msg.error));
          }
        });
        w.on('error', fail);
        w.on('exit', (code) => {
          if (code !== 0 && finished < U) fail(new Error(`metrics worker exited with code ${code}`));
        });
        feed(w);
      }
      void (async () => {
        while (next < U && !failed) {
          const unit = next++;
          const partial = await computeMetricsPartial(base, experts, {
            ...engineOpts,
            grads,
            acts,
            shard: shardOf(unit),
            onProgress: (e) => {
              unitDone[unit] = e.done;
              progress();
            },
          });
          complete(unit, partial);
        }
      })().catch(fail);
    });
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  const combined = combinePartials(results, (i) => `work unit ${i + 1}/${U}`);
  const shardText = `${si}/${sn}`;
  return {
    ...combined,
    settings: { ...combined.settings, shard: shardText },
    shards: [shardText],
    stats: { ...combined.stats, seconds: (Date.now() - t0) / 1000 },
  };
}

/** `computeMetrics` on `threads` cores (see computeMetricsPartialParallel). */
export async function computeMetricsParallel(base: Checkpoint, experts: Checkpoint[], opts: ParallelMetricsOptions = {}): Promise<MetricsReport> {
  return finalizeReport(await computeMetricsPartialParallel(base, experts, opts));
}
