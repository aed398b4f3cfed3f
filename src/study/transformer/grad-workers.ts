/**
 * Data-parallel gradients on worker threads: the parameters live in SharedArrayBuffers that every
 * worker reads (the optimizer updates them in place between steps, while the workers are idle),
 * each step sends one sub-batch per worker and sums the returned gradients weighted by each
 * sub-batch's scored tokens — the gradient of the whole batch's mean loss.
 */
import type { Worker } from 'node:worker_threads';
import { deserializeError, spawnStudyWorker, type WorkerReply } from '../pool.js';
import type { LossAndGrad } from './backward.js';
import type { TransformerConfig } from './config.js';
import type { Params } from './params.js';
import type { LmBatch } from './tokens.js';

/** What a worker starts from: the config and the shared parameter views. */
export interface GradWorkerData {
  cfg: TransformerConfig;
  params: [string, number[], Float64Array][];
}

export interface GradReply {
  loss: number;
  weight: number;
  correct: number;
  grads: [string, Float64Array][];
}

/** A copy of params whose arrays live in SharedArrayBuffers (so workers see in-place updates). */
export function shareParams(p: Params): Params {
  const out: Params = new Map();
  for (const [k, t] of p) {
    const data = new Float64Array(new SharedArrayBuffer(t.data.byteLength));
    data.set(t.data);
    out.set(k, { shape: t.shape.slice(), data });
  }
  return out;
}

export class GradWorkers {
  private constructor(
    private readonly workers: Worker[],
    private readonly shapes: Map<string, number[]>,
  ) {}

  /** Start n workers on `shared` (from shareParams). */
  static start(n: number, cfg: TransformerConfig, shared: Params): GradWorkers {
    const data: GradWorkerData = { cfg, params: [...shared].map(([k, t]) => [k, t.shape, t.data]) };
    const shapes = new Map([...shared].map(([k, t]) => [k, t.shape]));
    return new GradWorkers(
      Array.from({ length: n }, () => spawnStudyWorker('transformer/grad-worker', data)),
      shapes,
    );
  }

  get size(): number {
    return this.workers.length;
  }

  private ask(w: Worker, batch: LmBatch): Promise<GradReply> {
    return new Promise((resolve, reject) => {
      const onMsg = (m: WorkerReply<GradReply>) => {
        if (m.kind === 'progress') return;
        cleanup();
        if (m.kind === 'error') reject(deserializeError(m.error));
        else resolve(m.result);
      };
      const onErr = (e: Error) => {
        cleanup();
        reject(e);
      };
      const cleanup = () => {
        w.off('message', onMsg);
        w.off('error', onErr);
      };
      w.on('message', onMsg);
      w.on('error', onErr);
      w.postMessage({ job: batch });
    });
  }

  /** Loss and gradients of the union of `batches` (one per worker, at most size of them). */
  async lossAndGrad(batches: LmBatch[]): Promise<LossAndGrad> {
    if (batches.length > this.workers.length) throw new Error(`${batches.length} sub-batches for ${this.workers.length} workers`);
    const replies = await Promise.all(batches.map((b, i) => this.ask(this.workers[i], b)));
    const weight = replies.reduce((s, r) => s + r.weight, 0);
    const grads: Params = new Map();
    let loss = 0;
    let correct = 0;
    for (const r of replies) {
      const f = weight > 0 ? r.weight / weight : 0;
      loss += f * r.loss;
      correct += r.correct;
      for (const [name, g] of r.grads) {
        let acc = grads.get(name);
        if (!acc) grads.set(name, (acc = { shape: (this.shapes.get(name) ?? [g.length]).slice(), data: new Float64Array(g.length) }));
        for (let i = 0; i < g.length; i++) acc.data[i] += f * g[i];
      }
    }
    return { loss, weight, correct, grads };
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
