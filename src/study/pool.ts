/**
 * A small worker-thread pool for the study's parallel stages (merge evaluation, expert training).
 * Each worker is built once from `workerData`, then handles one job per message; results come back
 * in job order whatever the scheduling, so the study is identical for any worker count.
 * The worker side is `serveJobs` (worker-serve.ts).
 */
import { Worker } from 'node:worker_threads';
import { MergelensError, type ErrorCode } from '../errors.js';

export interface SerializedError {
  name?: string;
  code?: string;
  message: string;
  file?: string;
  tensor?: string;
  hint?: string;
}

/** Messages from a worker: a job's result, its error, or a progress note about the current job. */
export type WorkerReply<R, P = unknown> = { kind: 'result'; result: R } | { kind: 'error'; error: SerializedError } | { kind: 'progress'; progress: P };

/**
 * Start the worker module `<name>.js` next to this file. From TypeScript sources (tests, tsx) the
 * worker registers tsx itself, since loader hooks of the parent thread do not reach worker threads.
 */
export function spawnStudyWorker(name: string, workerData: unknown): Worker {
  const fromSource = import.meta.url.endsWith('.ts');
  const entry = new URL(`./${name}${fromSource ? '.ts' : '.js'}`, import.meta.url).href;
  const code = fromSource
    ? `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); })`
    : `import(${JSON.stringify(entry)})`;
  return new Worker(code, { eval: true, workerData });
}

/** Rebuild a worker's error; MergelensErrors keep their code so the CLI reports them as bad input. */
export function deserializeError(e: SerializedError): Error {
  if (e.name === 'MergelensError' && e.code) {
    const err = new MergelensError(e.code as ErrorCode, e.message); // message already names file/tensor/hint
    return Object.assign(err, { file: e.file, tensor: e.tensor, hint: e.hint });
  }
  return new Error(e.message);
}

export interface PoolOptions<J, R, P> {
  /** Worker module name in this folder (without extension). */
  entry: string;
  workerData: unknown;
  jobs: readonly J[];
  workers: number;
  onResult?: (done: number, result: R, index: number) => void;
  onProgress?: (progress: P, index: number) => void;
}

export async function runPool<J, R, P = unknown>(o: PoolOptions<J, R, P>): Promise<R[]> {
  const results: R[] = new Array(o.jobs.length);
  const finished = new Array<boolean>(o.jobs.length).fill(false);
  let done = 0;
  let next = 0;
  const n = Math.max(1, Math.min(o.workers, o.jobs.length));
  const pool = Array.from({ length: n }, () => spawnStudyWorker(o.entry, o.workerData));
  try {
    await Promise.all(
      pool.map(
        (w) =>
          new Promise<void>((resolve, reject) => {
            let current = -1;
            const feed = () => {
              if (next >= o.jobs.length) {
                w.postMessage({ close: true });
                resolve();
                return;
              }
              current = next++;
              w.postMessage({ job: o.jobs[current] });
            };
            w.on('message', (reply: WorkerReply<R, P>) => {
              if (reply.kind === 'progress') {
                o.onProgress?.(reply.progress, current);
              } else if (reply.kind === 'error') {
                reject(deserializeError(reply.error));
              } else {
                results[current] = reply.result;
                finished[current] = true;
                o.onResult?.(++done, reply.result, current);
                feed();
              }
            });
            w.on('error', reject);
            w.on('exit', (code) => {
              if (current >= 0 && !finished[current]) reject(new Error(`study worker ${o.entry} exited (code ${code}) during job ${current}`));
            });
            feed();
          }),
      ),
    );
  } finally {
    await Promise.all(pool.map((w) => w.terminate()));
  }
  return results;
}
