/**
 * Worker-thread entry of GradWorkers (grad-workers.ts): holds the shared parameters (views on
 * SharedArrayBuffers the main thread updates between steps) and answers each batch with its
 * loss and gradients.
 */
import { serveJobs } from '../worker-serve.js';
import { lossAndGrad } from './backward.js';
import type { TransformerConfig } from './config.js';
import type { Params } from './params.js';
import type { LmBatch } from './tokens.js';
import type { GradReply, GradWorkerData } from './grad-workers.js';

serveJobs<{ cfg: TransformerConfig; params: Params }, LmBatch, GradReply>(
  async (data) => {
    const d = data as GradWorkerData;
    return { cfg: d.cfg, params: new Map(d.params.map(([name, shape, data]) => [name, { shape, data }])) };
  },
  async (ctx, batch) => {
    const r = lossAndGrad(ctx.params, ctx.cfg, batch);
    return { loss: r.loss, weight: r.weight, correct: r.correct, grads: [...r.grads].map(([n, t]) => [n, t.data]) };
  },
);
