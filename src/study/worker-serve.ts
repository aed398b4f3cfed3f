/**
 * Worker side of pool.ts: build a context once from workerData, then answer each job message with
 * its result (or its error, serialized so a MergelensError keeps its code), and close on request.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { SerializedError, WorkerReply } from './pool.js';

export function serveJobs<C, J, R, P = unknown>(
  init: (data: unknown) => Promise<C>,
  handle: (ctx: C, job: J, progress: (p: P) => void) => Promise<R>,
  close?: (ctx: C) => Promise<void>,
): void {
  const port = parentPort!;
  const ready = init(workerData);
  const send = (m: WorkerReply<R, P>) => port.postMessage(m);
  port.on('message', (msg: { job?: J; close?: boolean }) => {
    ready
      .then(async (ctx) => {
        if (msg.close) {
          await close?.(ctx);
          port.close();
          return;
        }
        send({ kind: 'result', result: await handle(ctx, msg.job as J, (progress) => send({ kind: 'progress', progress })) });
      })
      .catch((e: unknown) => {
        const err = e as Partial<SerializedError>;
        send({ kind: 'error', error: { name: err.name, code: err.code, message: err.message ?? String(e), file: err.file, tensor: err.tensor, hint: err.hint } });
      });
  });
}
