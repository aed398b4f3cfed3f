/**
 * Training for the study: Adam on minibatches with seeded shuffles. `pretrain` fits one shared
 * encoder on a mix of tasks (each with its own head); `finetune` turns a copy of that base into
 * one task's expert (a head-only warm-up epoch, then encoder + head). Pure compute, no I/O.
 */
import { createRng, deriveSeed } from './rng.js';
import { INPUT_DIM, type Split, type TaskData } from './data.js';
import {
  cloneEncoder,
  createWorkspace,
  initHead,
  lossAndGradients,
  zeroGradients,
  clearGradients,
  type Dense,
  type Gradients,
  type Mlp,
  type Workspace,
} from './mlp.js';

export interface AdamConfig {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
}

export const DEFAULT_ADAM: AdamConfig = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8 };

/** Adam with per-array state, keyed by the parameter array itself. */
export class Adam {
  private state = new Map<Float64Array, { m: Float64Array; v: Float64Array; t: number }>();
  constructor(readonly cfg: AdamConfig = DEFAULT_ADAM) {}

  step(param: Float64Array, grad: Float64Array, lr = this.cfg.lr): void {
    let s = this.state.get(param);
    if (!s) {
      s = { m: new Float64Array(param.length), v: new Float64Array(param.length), t: 0 };
      this.state.set(param, s);
    }
    s.t++;
    const { beta1, beta2, eps } = this.cfg;
    const c1 = 1 - beta1 ** s.t;
    const c2 = 1 - beta2 ** s.t;
    const { m, v } = s;
    for (let i = 0; i < param.length; i++) {
      const g = grad[i];
      m[i] = beta1 * m[i] + (1 - beta1) * g;
      v[i] = beta2 * v[i] + (1 - beta2) * g * g;
      param[i] -= (lr * (m[i] / c1)) / (Math.sqrt(v[i] / c2) + eps);
    }
  }

  stepDense(param: Dense, grad: Dense, lr?: number): void {
    this.step(param.wt, grad.wt, lr);
    this.step(param.b, grad.b, lr);
  }
}

export interface TrainConfig {
  epochs: number;
  batch: number;
  lr: number;
  seed: number;
}

/** Called after every minibatch: batches done / total, running mean loss of the current epoch. */
export type TrainProgress = (done: number, total: number, loss: number) => void;

/** Gather rows `idx[start..start+rows)` of a split into contiguous batch buffers. */
function gather(split: Split, idx: Uint32Array, start: number, rows: number, x: Float32Array, y: Uint8Array): void {
  for (let r = 0; r < rows; r++) {
    const s = idx[start + r];
    x.set(split.x.subarray(s * INPUT_DIM, (s + 1) * INPUT_DIM), r * INPUT_DIM);
    y[r] = split.y[s];
  }
}

interface Job {
  split: Split;
  model: Mlp;
  grads: Gradients;
  updateEncoder: boolean;
}

/**
 * Minibatch Adam over several jobs sharing one optimizer: every epoch each job's split is shuffled
 * (seeded), cut into batches, and the batches of all jobs are interleaved in a seeded order.
 */
function runEpochs(jobs: Job[], cfg: TrainConfig, label: string, onProgress?: TrainProgress): void {
  const opt = new Adam({ ...DEFAULT_ADAM, lr: cfg.lr });
  const rng = createRng(deriveSeed(cfg.seed, `train:${label}`));
  const xb = new Float32Array(cfg.batch * INPUT_DIM);
  const yb = new Uint8Array(cfg.batch);
  const workspaces = new Map<Job, Workspace>(jobs.map((j) => [j, createWorkspace(j.model, cfg.batch)]));
  const perEpoch = jobs.reduce((s, j) => s + Math.ceil(j.split.n / cfg.batch), 0);
  const total = perEpoch * cfg.epochs;
  let done = 0;
  for (let e = 0; e < cfg.epochs; e++) {
    const plan: [number, number][] = [];
    const orders = jobs.map((j, ji) => {
      const order = rng.shuffle(Uint32Array.from({ length: j.split.n }, (_, i) => i));
      for (let s = 0; s < j.split.n; s += cfg.batch) plan.push([ji, s]);
      return order;
    });
    rng.shuffle(plan);
    let lossSum = 0;
    let steps = 0;
    for (const [ji, start] of plan) {
      const job = jobs[ji];
      const rows = Math.min(cfg.batch, job.split.n - start);
      gather(job.split, orders[ji], start, rows, xb, yb);
      clearGradients(job.grads);
      const { loss } = lossAndGradients(job.model, xb, yb, rows, workspaces.get(job)!, job.grads);
      if (job.updateEncoder) job.model.encoder.forEach((d, l) => opt.stepDense(d, job.grads.encoder[l]));
      opt.stepDense(job.model.head, job.grads.head);
      lossSum += loss;
      steps++;
      onProgress?.(++done, total, lossSum / steps);
    }
  }
}

/** Encoder weights trained on a mix of tasks, each task with its own head (returned in task order). */
export function pretrain(
  encoder: Dense[],
  tasks: TaskData[],
  cfg: TrainConfig,
  onProgress?: TrainProgress,
): { encoder: Dense[]; heads: Dense[] } {
  const enc = cloneEncoder(encoder);
  const feat = enc[enc.length - 1].outDim;
  const jobs: Job[] = tasks.map((t) => {
    const head = initHead(feat, t.task.classes, createRng(deriveSeed(cfg.seed, `head:base:${t.task.id}`)));
    const model: Mlp = { encoder: enc, head };
    return { split: t.train, model, grads: zeroGradients(model), updateEncoder: true };
  });
  runEpochs(jobs, cfg, 'pretrain', onProgress);
  return { encoder: enc, heads: jobs.map((j) => j.model.head) };
}

export interface FinetuneConfig extends TrainConfig {
  /** Head-only epochs before the encoder is unfrozen (a linear-probe warm-up keeps task vectors meaningful). */
  headEpochs: number;
}

/** One task's expert: a copy of the base encoder and a fresh head, fine-tuned on the task's training split. */
export function finetune(base: Dense[], data: TaskData, cfg: FinetuneConfig, onProgress?: TrainProgress): Mlp {
  const encoder = cloneEncoder(base);
  const head = initHead(encoder[encoder.length - 1].outDim, data.task.classes, createRng(deriveSeed(cfg.seed, `head:${data.task.id}`)));
  const model: Mlp = { encoder, head };
  const grads = zeroGradients(model);
  const batchesPerEpoch = Math.ceil(data.train.n / cfg.batch);
  const total = batchesPerEpoch * (cfg.headEpochs + cfg.epochs);
  if (cfg.headEpochs > 0) {
    runEpochs([{ split: data.train, model, grads, updateEncoder: false }], { ...cfg, epochs: cfg.headEpochs }, `probe:${data.task.id}`, (d, _t, l) =>
      onProgress?.(d, total, l),
    );
  }
  const offset = batchesPerEpoch * cfg.headEpochs;
  runEpochs([{ split: data.train, model, grads, updateEncoder: true }], cfg, `finetune:${data.task.id}`, (d, _t, l) => onProgress?.(offset + d, total, l));
  return model;
}
