/**
 * From raw per-task scores to the outcome the predictors fit.
 *
 * Each expert owns some tasks (its own benchmarks). The normalised score of a merge of experts A
 * and B is the built-in study's measure generalised to several tasks per expert:
 *   norm_A = mean over A's tasks t of  merged[t] / A[t]      (A's own score on its own task)
 *   outcome = (norm_A + norm_B) / 2                          (1 = nothing lost by merging)
 * With one task per expert this is exactly src/study/outcome.ts's normalizedAccuracy.
 */
import { MergelensError } from '../errors.js';
import type { Outcome } from '../eval/runner.js';

export type ExpertTasks = Record<string, string[]>;

/** `--expert-tasks a=t1,t2` values → {a: [t1, t2]}. */
export function parseExpertTasks(values: readonly string[]): ExpertTasks {
  const out: ExpertTasks = {};
  for (const v of values) {
    const eq = v.indexOf('=');
    const tasks = eq > 0 ? v.slice(eq + 1).split(',').map((t) => t.trim()).filter(Boolean) : [];
    if (eq <= 0 || tasks.length === 0) throw new MergelensError('BAD_PARAM', `--expert-tasks "${v}" must look like EXPERT=task1,task2`);
    out[v.slice(0, eq).trim()] = tasks;
  }
  return out;
}

/**
 * The task list every model is scored on before ownership is known: --tasks if given, else the
 * tasks named in --expert-tasks plus the names of experts without a mapping (an expert named like
 * its benchmark owns it, as in the built-in zoo).
 */
export function taskUniverse(experts: readonly string[], explicit: ExpertTasks, tasks?: readonly string[]): string[] {
  if (tasks?.length) return [...new Set(tasks)];
  return [...new Set(experts.flatMap((e) => explicit[e] ?? [e]))];
}

/**
 * Each expert's tasks: as given; else a task named like the expert; else the task on which the
 * expert gains most over the base (or, without a base score, over the mean of the other experts).
 */
export function resolveExpertTasks(
  experts: readonly string[],
  explicit: ExpertTasks,
  universe: readonly string[],
  scores: { base?: Record<string, number>; experts: Record<string, Record<string, number> | undefined> },
): { tasks: ExpertTasks; inferred: string[] } {
  const unknown = Object.keys(explicit).filter((e) => !experts.includes(e));
  if (unknown.length) throw new MergelensError('BAD_PARAM', `--expert-tasks names unknown expert(s): ${unknown.join(', ')}`, { hint: `experts: ${experts.join(', ')}` });
  const tasks: ExpertTasks = {};
  const inferred: string[] = [];
  for (const e of experts) {
    if (explicit[e]) tasks[e] = explicit[e];
    else if (universe.includes(e)) tasks[e] = [e];
    else {
      const own = scores.experts[e];
      if (!own) continue; // its evaluation failed: no merge with it can be normalised
      let best: string | null = null;
      let bestGain = -Infinity;
      for (const t of universe) {
        const others = experts.filter((x) => x !== e && scores.experts[x]?.[t] !== undefined).map((x) => scores.experts[x]![t]);
        const ref = scores.base?.[t] ?? (others.length ? others.reduce((s, v) => s + v, 0) / others.length : NaN);
        const gain = (own[t] ?? NaN) - ref;
        if (Number.isFinite(gain) && gain > bestGain) {
          bestGain = gain;
          best = t;
        }
      }
      if (best === null) throw new MergelensError('BAD_INPUT', `cannot tell which task expert "${e}" is for`, { hint: `pass --expert-tasks ${e}=TASK` });
      tasks[e] = [best];
      inferred.push(`${e}=${best}`);
    }
  }
  return { tasks, inferred };
}

export interface Normalised {
  a: number;
  b: number;
  mean: number;
}

/** One expert's part of a normalised outcome: mean over its tasks of merged ÷ its own score; null when a score is missing or ≤ 0. */
export function ownTaskRatio(merged: Record<string, number>, own: Record<string, number>, tasks: readonly string[]): number | null {
  let s = 0;
  for (const t of tasks) {
    const e = own[t];
    const m = merged[t];
    if (!(e > 0) || !Number.isFinite(m)) return null;
    s += m / e;
  }
  return tasks.length ? s / tasks.length : null;
}

/** Normalised outcome of a merge of experts a and b; null when a score it needs is missing or ≤ 0. */
export function normalisedScore(merged: Record<string, number>, expertA: Record<string, number>, tasksA: readonly string[], expertB: Record<string, number>, tasksB: readonly string[]): Normalised | null {
  const n = normalisedMergeScore(merged, ['a', 'b'], { a: expertA, b: expertB }, { a: [...tasksA], b: [...tasksB] });
  return n && { a: n.parts[0], b: n.parts[1], mean: n.mean };
}

/** Normalised outcome of a merge of any experts: each expert's ownTaskRatio and their mean; null when one cannot be computed. */
export function normalisedMergeScore(merged: Record<string, number>, experts: readonly string[], scores: Record<string, Record<string, number> | undefined>, tasks: ExpertTasks): { parts: number[]; mean: number } | null {
  const parts: number[] = [];
  for (const e of experts) {
    const own = scores[e];
    const r = own ? ownTaskRatio(merged, own, tasks[e] ?? []) : null;
    if (r === null) return null;
    parts.push(r);
  }
  return { parts, mean: parts.reduce((s, v) => s + v, 0) / parts.length };
}

export interface MergeOutcome {
  /** Mean over the experts' own tasks (each once) of the merged model's score. */
  raw: number;
  norm: { parts: number[]; mean: number } | null;
  /** What the sweep records (raw or normalised, per --outcome); undefined when it cannot be computed. */
  outcome: number | undefined;
}

/** A merge's outcome from its scores, the same way for pairs and groups. */
export function mergeOutcome(merged: Record<string, number>, experts: readonly string[], scores: Record<string, Record<string, number> | undefined>, tasks: ExpertTasks, kind: 'normalized' | 'raw' = 'normalized'): MergeOutcome {
  const norm = normalisedMergeScore(merged, experts, scores, tasks);
  const own = [...new Set(experts.flatMap((e) => tasks[e] ?? []))];
  const raw = own.reduce((s, t) => s + merged[t], 0) / own.length;
  const outcome = kind === 'raw' ? raw : norm?.mean;
  return { raw, norm, outcome: outcome !== undefined && Number.isFinite(outcome) ? outcome : undefined };
}

/** A sweep merge's state, as pairs and groups record it. */
export interface SettledMerge {
  status: 'evaluated' | 'failed' | 'skipped' | 'predicted';
  reason?: string;
  measured?: number;
}

/** An evaluation that could not become an outcome: what sweep.json lists under failures. */
export interface SweepFailure {
  id: string;
  reason: string;
  attempts: number;
}

/**
 * The runner's outcome of merge m (experts in order) → its scores and outcome, with m marked
 * evaluated; or null, with m's reason set: not run (m skipped), failed, or not normalisable (an
 * expert scores ≤ 0 on its own task) — the last two listed in `failures`. Pairs and groups alike.
 */
export function settleMerge(
  m: SettledMerge,
  out: Outcome | undefined,
  experts: readonly string[],
  ctx: { scores: Record<string, Record<string, number> | undefined>; expertTasks: ExpertTasks; outcome?: 'normalized' | 'raw' },
  failures: SweepFailure[],
): (MergeOutcome & { scores: Record<string, number>; outcome: number }) | null {
  if (!out || out.status !== 'ok') {
    m.reason = out?.reason;
    if (!out || out.status === 'pending') m.status = 'skipped';
    else failures.push({ id: out.id, reason: out.reason ?? '', attempts: out.attempts });
    return null;
  }
  const scores = out.scores!;
  const r = mergeOutcome(scores, experts, ctx.scores, ctx.expertTasks, ctx.outcome);
  if (r.outcome === undefined) {
    m.reason = 'cannot normalise: an expert scores ≤ 0 on its own task';
    failures.push({ id: out.id, reason: m.reason, attempts: out.attempts });
    return null;
  }
  m.status = 'evaluated';
  m.measured = r.outcome;
  return { ...r, scores, outcome: r.outcome };
}
