/**
 * Merge one pair of transformer-study experts with one method, through the normal merge path
 * (`mergeStream`, as `mergelens merge` runs it: LoRA experts stay adapters, their ΔW = (α/r)·B·A
 * is expanded by the merge itself), and score both tasks on their held-out splits. The context
 * is built the same way on the main thread and in each worker (worker.ts).
 */
import path from 'node:path';
import type { Checkpoint } from '../../types.js';
import { openCheckpoint } from '../../checkpoint/open.js';
import { mergeStream } from '../../merge/stream.js';
import { runPool } from '../pool.js';
import { paramsFromLookup, type TransformerConfig } from './model.js';
import { buildTextTaskData, getTextTask, taskAccuracy, type TextExample, type TextSplitSizes, type TextTask } from './tasks.js';

/** Plain data (structured-clone safe) describing one set of experts to merge and score. */
export interface MergeEvalSpec {
  role: 'merge';
  zooDir: string;
  base: string;
  /** Per task, in study order: id and the expert's folder (model or adapter) relative to zooDir. */
  tasks: { id: string; expert: string }[];
  dataSeed: number;
  split: TextSplitSizes;
  model: TransformerConfig;
}

export interface MergeEvalContext {
  spec: MergeEvalSpec;
  base: Checkpoint;
  experts: Checkpoint[];
  tasks: TextTask[];
  tests: TextExample[][];
  close(): Promise<void>;
}

export interface PairMergeJob {
  i: number;
  j: number;
  method: string;
  seed: number;
}

export interface PairMergeResult extends PairMergeJob {
  accA: number;
  accB: number;
}

export async function createMergeEvalContext(spec: MergeEvalSpec): Promise<MergeEvalContext> {
  const base = await openCheckpoint(path.join(spec.zooDir, spec.base));
  const experts = await Promise.all(spec.tasks.map((t) => openCheckpoint(path.join(spec.zooDir, t.expert))));
  const tasks = spec.tasks.map((t) => getTextTask(t.id));
  const tests = tasks.map((t) => buildTextTaskData(t, spec.dataSeed, spec.split).test);
  return { spec, base, experts, tasks, tests, close: async () => void (await Promise.all([base, ...experts].map((c) => c.close()))) };
}

/** Merge experts i and j with `method` and score both tasks with the merged model. */
export async function evaluatePairMerge(ctx: MergeEvalContext, job: PairMergeJob): Promise<PairMergeResult> {
  const { i, j, method, seed } = job;
  const merged = new Map<string, { shape: number[]; data: Float32Array }>();
  for await (const t of mergeStream(ctx.base, [ctx.experts[i], ctx.experts[j]], { method, seed })) merged.set(t.name, t);
  const where = `${method} merge of ${ctx.spec.tasks[i].id} + ${ctx.spec.tasks[j].id}`;
  const params = paramsFromLookup(ctx.spec.model, (n) => merged.get(n), where);
  return {
    ...job,
    accA: taskAccuracy(params, ctx.spec.model, ctx.tasks[i], ctx.tests[i]),
    accB: taskAccuracy(params, ctx.spec.model, ctx.tasks[j], ctx.tests[j]),
  };
}

/** Every job, inline (workers = 1) or on worker threads; results in job order either way. */
export async function runPairMerges(spec: MergeEvalSpec, jobs: PairMergeJob[], workers: number, onDone?: (done: number, r: PairMergeResult) => void): Promise<PairMergeResult[]> {
  if (Math.min(workers, jobs.length) > 1) {
    return runPool<PairMergeJob, PairMergeResult>({ entry: 'transformer/worker', workerData: spec, jobs, workers, onResult: (d, r) => onDone?.(d, r) });
  }
  const ctx = await createMergeEvalContext(spec);
  try {
    const out: PairMergeResult[] = [];
    for (const job of jobs) {
      out.push(await evaluatePairMerge(ctx, job));
      onDone?.(out.length, out[out.length - 1]);
    }
    return out;
  } finally {
    await ctx.close();
  }
}
