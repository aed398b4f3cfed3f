/**
 * worker_threads entry of the parallel metrics pass (see parallel.ts): opens the inputs once,
 * then computes the engine's partial for each work unit the main thread sends.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Checkpoint } from '../types.js';
import { MergelensError } from '../errors.js';
import { openCheckpoint } from '../checkpoint/open.js';
import { computeMetricsPartial } from './engine.js';
import type { WorkerReply, WorkerRequest, WorkerSetup } from './parallel.js';

const setup = workerData as WorkerSetup;
const port = parentPort!;
const post = (m: WorkerReply) => port.postMessage(m);

let opened: Promise<{ base: Checkpoint; experts: Checkpoint[] }> | undefined;
const open = () =>
  (opened ??= Promise.all([openCheckpoint(setup.base), ...setup.experts.map((p) => openCheckpoint(p))]).then(([base, ...experts]) => ({ base, experts })));

async function run(unit: number, shard: [number, number]): Promise<void> {
  const { base, experts } = await open();
  // Progress at most every 100 ms: a message per chunk would cost more than it tells.
  let last = 0;
  const partial = await computeMetricsPartial(base, experts, {
    ...setup.opts,
    grads: setup.grads,
    acts: setup.acts,
    shard,
    onProgress: (e) => {
      const now = Date.now();
      if (now - last < 100 && e.done < e.total) return;
      last = now;
      post({ type: 'progress', unit, done: e.done, total: e.total });
    },
  });
  post({ type: 'result', unit, partial });
}

port.on('message', (msg: WorkerRequest) => {
  if ('stop' in msg) {
    void opened?.then(({ base, experts }) => Promise.all([base, ...experts].map((c) => c.close()))).finally(() => port.close());
    if (!opened) port.close();
    return;
  }
  run(msg.unit, msg.shard).catch((e: unknown) => {
    const err = e as Error;
    const ml = e instanceof MergelensError ? e : undefined;
    post({ type: 'error', error: { code: ml?.code, message: err.message ?? String(e), file: ml?.file, tensor: ml?.tensor, hint: ml?.hint, stack: err.stack } });
  });
});
