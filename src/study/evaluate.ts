/**
 * Merge one pair of study experts with one method and measure both tasks' test accuracy with their
 * own heads. The context holds what every merge needs (opened checkpoints, heads, test splits);
 * it is built the same way on the main thread and inside each worker (see pool.ts).
 */
import path from 'node:path';
import type { Checkpoint } from '../types.js';
import { openCheckpoint } from '../checkpoint/open.js';
import { mergeStream } from '../merge/stream.js';
import { buildTaskData, getTask, INPUT_DIM, type Split, type SplitSizes } from './data.js';
import { accuracy, type Dense } from './mlp.js';
import { runPool } from './pool.js';
import { denseFromTensors, encoderFromTensors, type TensorLookup } from './tensors.js';

/** Plain data (structured-clone safe) describing the experts to evaluate. */
export interface EvalSpec {
  zooDir: string;
  base: string;
  /** Per task, in study order: id, expert and head files relative to zooDir. */
  tasks: { id: string; expert: string; head: string }[];
  dataSeed: number;
  split: SplitSizes;
  layers: number;
}

export interface EvalContext {
  spec: EvalSpec;
  base: Checkpoint;
  experts: Checkpoint[];
  heads: Dense[];
  tests: Split[];
  close(): Promise<void>;
}

export interface MergeJob {
  i: number;
  j: number;
  method: string;
  seed: number;
}

export interface MergeResult extends MergeJob {
  accA: number;
  accB: number;
}

/** All tensors of a checkpoint in memory (the study's models are small). */
export async function readAllTensors(ck: Checkpoint): Promise<TensorLookup> {
  const m = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const name of ck.tensorNames()) m.set(name, { shape: ck.location(name)!.shape, data: await ck.read(name) });
  return (name) => m.get(name);
}

export async function readHead(file: string): Promise<Dense> {
  const ck = await openCheckpoint(file);
  try {
    return denseFromTensors(await readAllTensors(ck), 'head', file);
  } finally {
    await ck.close();
  }
}

export async function createEvalContext(spec: EvalSpec): Promise<EvalContext> {
  const base = await openCheckpoint(path.join(spec.zooDir, spec.base));
  const experts = await Promise.all(spec.tasks.map((t) => openCheckpoint(path.join(spec.zooDir, t.expert))));
  const heads = await Promise.all(spec.tasks.map((t) => readHead(path.join(spec.zooDir, t.head))));
  const tests = spec.tasks.map((t) => buildTaskData(getTask(t.id), spec.dataSeed, spec.split).test);
  return {
    spec,
    base,
    experts,
    heads,
    tests,
    close: async () => {
      await Promise.all([base, ...experts].map((c) => c.close()));
    },
  };
}

/** Merge experts i and j with `method` (through mergeStream, as `mergelens merge` does) and evaluate both tasks. */
export async function evaluateMerge(ctx: EvalContext, job: MergeJob): Promise<MergeResult> {
  const { i, j, method, seed } = job;
  const merged = new Map<string, { shape: number[]; data: Float32Array }>();
  for await (const t of mergeStream(ctx.base, [ctx.experts[i], ctx.experts[j]], { method, seed })) merged.set(t.name, t);
  const where = `${method} merge of ${ctx.spec.tasks[i].id} + ${ctx.spec.tasks[j].id}`;
  const encoder = encoderFromTensors((n) => merged.get(n), ctx.spec.layers, where, INPUT_DIM);
  const a = ctx.tests[i];
  const b = ctx.tests[j];
  return {
    ...job,
    accA: accuracy({ encoder, head: ctx.heads[i] }, a.x, a.y, a.n),
    accB: accuracy({ encoder, head: ctx.heads[j] }, b.x, b.y, b.n),
  };
}

/** Evaluate every job, inline (workers = 1) or on worker threads; results in job order either way. */
export async function runMergeJobs(spec: EvalSpec, jobs: MergeJob[], workers: number, onDone?: (done: number, r: MergeResult) => void): Promise<MergeResult[]> {
  if (Math.min(workers, jobs.length) > 1) {
    return runPool<MergeJob, MergeResult>({ entry: 'merge-worker', workerData: spec, jobs, workers, onResult: (d, r) => onDone?.(d, r) });
  }
  const ctx = await createEvalContext(spec);
  try {
    const out: MergeResult[] = [];
    for (const job of jobs) {
      out.push(await evaluateMerge(ctx, job));
      onDone?.(out.length, out[out.length - 1]);
    }
    return out;
  } finally {
    await ctx.close();
  }
}
