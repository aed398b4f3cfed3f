/**
 * Worker-thread entry for parallel merge evaluation (pool.ts): builds its own EvalContext from
 * the spec in workerData, then answers one MergeResult per MergeJob message.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createEvalContext, evaluateMerge, type EvalSpec, type MergeJob } from './evaluate.js';

const port = parentPort!;
const ready = createEvalContext(workerData as EvalSpec);
port.on('message', (msg: MergeJob | 'close') => {
  ready
    .then(async (ctx) => {
      if (msg === 'close') {
        await ctx.close();
        port.close();
        return;
      }
      port.postMessage({ ok: true, result: await evaluateMerge(ctx, msg) });
    })
    .catch((e: unknown) => {
      const err = e as { name?: string; code?: string; message?: string; file?: string; tensor?: string; hint?: string };
      port.postMessage({ ok: false, error: { name: err.name, code: err.code, message: err.message ?? String(e), file: err.file, tensor: err.tensor, hint: err.hint } });
    });
});
