/**
 * The study's merge evaluations: merge a pair or a group of study experts with one method (through
 * mergeStream, as `mergelens merge` does) and measure each member task's test accuracy with its own
 * head; for a group, also the linear probe (probe.ts) on every task outside it; and the probe on
 * the unmerged base or one expert (the held-out references). The context holds what every job
 * needs (opened checkpoints, heads, test splits, probe training sets); it is built the same way on
 * the main thread and inside each worker (see pool.ts).
 */
import path from 'node:path';
import type { Checkpoint } from '../types.js';
import { openCheckpoint } from '../checkpoint/open.js';
import { mergeStream } from '../merge/stream.js';
import { buildTaskData, getTask, INPUT_DIM, type Split, type SplitSizes } from './data.js';
import { accuracy, type Dense } from './mlp.js';
import { probeTask } from './probe.js';
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
  /** Training samples per task for the linear probe (group and probe jobs); absent: no probe sets are built. */
  probeSamples?: number;
}

export interface EvalContext {
  spec: EvalSpec;
  base: Checkpoint;
  experts: Checkpoint[];
  heads: Dense[];
  tests: Split[];
  /** Per task, the probe's training set (a fixed prefix of its training split); empty without spec.probeSamples. */
  probeTrain: Split[];
  classes: number[];
  close(): Promise<void>;
}

/** A pair merge. */
export interface MergeJob {
  kind?: 'pair';
  i: number;
  j: number;
  method: string;
  seed: number;
}

export interface MergeResult extends MergeJob {
  accA: number;
  accB: number;
}

/** A group merge: experts by index (ascending), all other tasks probed when `probe` is set. */
export interface GroupJob {
  kind: 'group';
  experts: number[];
  method: string;
  seed: number;
  probe: boolean;
}

export interface GroupResult extends GroupJob {
  /** Held-in test accuracy per member, in `experts` order. */
  acc: number[];
  /** Task indices outside the group (ascending) and the merged encoder's probe accuracy on each (empty without probe). */
  heldOut: number[];
  probeAcc: number[];
}

/** The probe on an unmerged encoder (model −1: the base; else that expert) for the listed tasks. */
export interface ProbeJob {
  kind: 'probe';
  model: number;
  tasks: number[];
}

export interface ProbeResult extends ProbeJob {
  probeAcc: number[];
}

export type StudyJob = MergeJob | GroupJob | ProbeJob;
export type StudyJobResult = MergeResult | GroupResult | ProbeResult;
/** The result type of a job type (distributes over unions). */
export type ResultOf<J extends StudyJob> = J extends GroupJob ? GroupResult : J extends ProbeJob ? ProbeResult : MergeResult;

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
  const tests: Split[] = [];
  const probeTrain: Split[] = [];
  const classes: number[] = [];
  for (const t of spec.tasks) {
    const task = getTask(t.id);
    const d = buildTaskData(task, spec.dataSeed, spec.split);
    tests.push(d.test);
    classes.push(task.classes);
    if (spec.probeSamples) probeTrain.push(prefixCopy(d.train, spec.probeSamples));
  }
  return {
    spec,
    base,
    experts,
    heads,
    tests,
    probeTrain,
    classes,
    close: async () => {
      await Promise.all([base, ...experts].map((c) => c.close()));
    },
  };
}

/** The first n samples of a split as a compact copy (a subarray would keep the whole split alive in every worker). */
function prefixCopy(split: Split, n: number): Split {
  const m = Math.min(n, split.n);
  return { x: split.x.slice(0, m * INPUT_DIM), y: split.y.slice(0, m), n: m, source: split.source.slice(0, m) };
}

/** Merge the listed experts' encoders with `method` through mergeStream. */
async function mergedEncoder(ctx: EvalContext, members: number[], method: string, seed: number): Promise<Dense[]> {
  const merged = new Map<string, { shape: number[]; data: Float32Array }>();
  for await (const t of mergeStream(ctx.base, members.map((k) => ctx.experts[k]), { method, seed })) merged.set(t.name, t);
  const where = `${method} merge of ${members.map((k) => ctx.spec.tasks[k].id).join(' + ')}`;
  return encoderFromTensors((n) => merged.get(n), ctx.spec.layers, where, INPUT_DIM);
}

const heldInAccuracy = (ctx: EvalContext, encoder: Dense[], k: number): number => accuracy({ encoder, head: ctx.heads[k] }, ctx.tests[k].x, ctx.tests[k].y, ctx.tests[k].n);

function probeAccuracies(ctx: EvalContext, encoder: Dense[], tasks: number[]): number[] {
  if (tasks.length && ctx.probeTrain.length === 0) throw new Error('probe job on an evaluation context built without probeSamples');
  return tasks.map((t) => probeTask(encoder, ctx.probeTrain[t], ctx.tests[t], ctx.classes[t]));
}

/** Merge experts i and j with `method` (through mergeStream, as `mergelens merge` does) and evaluate both tasks. */
export async function evaluateMerge(ctx: EvalContext, job: MergeJob): Promise<MergeResult> {
  const { i, j, method, seed } = job;
  const encoder = await mergedEncoder(ctx, [i, j], method, seed);
  return { ...job, accA: heldInAccuracy(ctx, encoder, i), accB: heldInAccuracy(ctx, encoder, j) };
}

/** Merge a group and evaluate every member task (own heads) and, with job.probe, every other task (probe). */
export async function evaluateGroup(ctx: EvalContext, job: GroupJob): Promise<GroupResult> {
  const encoder = await mergedEncoder(ctx, job.experts, job.method, job.seed);
  const heldOut = job.probe ? ctx.spec.tasks.map((_, t) => t).filter((t) => !job.experts.includes(t)) : [];
  return { ...job, acc: job.experts.map((k) => heldInAccuracy(ctx, encoder, k)), heldOut, probeAcc: probeAccuracies(ctx, encoder, heldOut) };
}

/** The probe on the base (model −1) or one expert's encoder, unmerged. */
export async function evaluateProbe(ctx: EvalContext, job: ProbeJob): Promise<ProbeResult> {
  const ck = job.model < 0 ? ctx.base : ctx.experts[job.model];
  const get = await readAllTensors(ck);
  const encoder = encoderFromTensors(get, ctx.spec.layers, ck.path, INPUT_DIM);
  return { ...job, probeAcc: probeAccuracies(ctx, encoder, job.tasks) };
}

export function evaluateJob<J extends StudyJob>(ctx: EvalContext, job: J): Promise<ResultOf<J>>;
export async function evaluateJob(ctx: EvalContext, job: StudyJob): Promise<StudyJobResult> {
  if (job.kind === 'group') return evaluateGroup(ctx, job);
  if (job.kind === 'probe') return evaluateProbe(ctx, job);
  return evaluateMerge(ctx, job);
}

/**
 * Evaluate every job (pairs, groups and probe references may be mixed, sharing one pool of
 * workers), inline (workers = 1) or on worker threads; results in job order either way.
 */
export async function runMergeJobs<J extends StudyJob>(spec: EvalSpec, jobs: J[], workers: number, onDone?: (done: number, r: ResultOf<J>) => void): Promise<ResultOf<J>[]> {
  if (Math.min(workers, jobs.length) > 1) {
    return runPool<J, ResultOf<J>>({ entry: 'merge-worker', workerData: spec, jobs, workers, onResult: (d, r) => onDone?.(d, r) });
  }
  const ctx = await createEvalContext(spec);
  try {
    const out: ResultOf<J>[] = [];
    for (const job of jobs) {
      out.push(await evaluateJob(ctx, job));
      onDone?.(out.length, out[out.length - 1]);
    }
    return out;
  } finally {
    await ctx.close();
  }
}
