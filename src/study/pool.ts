/**
 * Run the study's merge jobs on worker threads (one EvalContext per worker), or inline when one
 * worker is asked for. Results come back in job order whatever the scheduling, so a study is
 * identical for any worker count.
 */
import { Worker } from 'node:worker_threads';
import { MergelensError, type ErrorCode } from '../errors.js';
import { createEvalContext, evaluateMerge, type EvalSpec, type MergeJob, type MergeResult } from './evaluate.js';

type Reply = { ok: true; result: MergeResult } | { ok: false; error: { name?: string; code?: string; message: string; file?: string; tensor?: string; hint?: string } };

/**
 * A worker running merge-worker. From TypeScript sources (tests, tsx) the worker registers tsx
 * itself, since loader hooks of the parent thread do not reach worker threads.
 */
function spawn(spec: EvalSpec): Worker {
  const fromSource = import.meta.url.endsWith('.ts');
  const entry = new URL(fromSource ? './merge-worker.ts' : './merge-worker.js', import.meta.url).href;
  const code = fromSource
    ? `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); })`
    : `import(${JSON.stringify(entry)})`;
  return new Worker(code, { eval: true, workerData: spec });
}

function toError(e: Extract<Reply, { ok: false }>['error']): Error {
  if (e.name === 'MergelensError' && e.code) {
    // the message already carries file/tensor/hint; keep the code so the CLI reports it as bad input
    const err = new MergelensError(e.code as ErrorCode, e.message);
    return Object.assign(err, { file: e.file, tensor: e.tensor, hint: e.hint });
  }
  return new Error(e.message);
}

export async function runMergeJobs(spec: EvalSpec, jobs: MergeJob[], workers: number, onDone?: (done: number, r: MergeResult) => void): Promise<MergeResult[]> {
  const results: MergeResult[] = new Array(jobs.length);
  let done = 0;
  const n = Math.max(1, Math.min(workers, jobs.length));
  if (n === 1) {
    const ctx = await createEvalContext(spec);
    try {
      for (let k = 0; k < jobs.length; k++) {
        results[k] = await evaluateMerge(ctx, jobs[k]);
        onDone?.(++done, results[k]);
      }
    } finally {
      await ctx.close();
    }
    return results;
  }
  let next = 0;
  const pool = Array.from({ length: n }, () => spawn(spec));
  try {
    await Promise.all(
      pool.map(
        (w) =>
          new Promise<void>((resolve, reject) => {
            let current = -1;
            const feed = () => {
              if (next >= jobs.length) {
                w.postMessage('close');
                resolve();
                return;
              }
              current = next++;
              w.postMessage(jobs[current]);
            };
            w.on('message', (reply: Reply) => {
              if (!reply.ok) {
                reject(toError(reply.error));
                return;
              }
              results[current] = reply.result;
              onDone?.(++done, reply.result);
              feed();
            });
            w.on('error', reject);
            w.on('exit', (code) => {
              if (current >= 0 && results[current] === undefined) reject(new Error(`merge worker exited (code ${code}) during job ${current}`));
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
