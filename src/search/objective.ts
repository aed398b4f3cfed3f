/**
 * What the search maximises, from a candidate's per-task scores: their mean, their minimum (the
 * worst task), or a weighted mean (`weighted:taskA=2,taskB=1`); and the Pareto front over tasks
 * of everything evaluated. Pure functions.
 */
import { MergelensError } from '../errors.js';

export type Objective = { kind: 'mean' } | { kind: 'min' } | { kind: 'weighted'; weights: Record<string, number> };

export function parseObjective(text: string, tasks: readonly string[]): Objective {
  const t = text.trim();
  if (t === 'mean' || t === 'min') return { kind: t };
  if (t.startsWith('weighted:')) {
    const weights: Record<string, number> = {};
    for (const part of t.slice('weighted:'.length).split(',')) {
      const eq = part.indexOf('=');
      const task = part.slice(0, eq).trim();
      const w = Number(part.slice(eq + 1));
      if (eq <= 0 || !Number.isFinite(w) || w < 0) throw new MergelensError('BAD_PARAM', `--objective: "${part}" is not task=weight with a weight ≥ 0`);
      if (!tasks.includes(task)) throw new MergelensError('BAD_PARAM', `--objective: unknown task "${task}"`, { hint: `tasks: ${tasks.join(', ')}` });
      weights[task] = w;
    }
    if (!Object.values(weights).some((w) => w > 0)) throw new MergelensError('BAD_PARAM', '--objective: at least one weight must be > 0');
    return { kind: 'weighted', weights };
  }
  throw new MergelensError('BAD_PARAM', `--objective must be mean, min or weighted:task=w,…, got "${text}"`);
}

export function objectiveValue(o: Objective, scores: Record<string, number>, tasks: readonly string[]): number {
  const v = tasks.map((t) => scores[t]);
  if (o.kind === 'mean') return v.reduce((a, b) => a + b, 0) / v.length;
  if (o.kind === 'min') return Math.min(...v);
  let s = 0;
  let w = 0;
  for (const [t, wt] of Object.entries(o.weights)) {
    s += wt * scores[t];
    w += wt;
  }
  return s / w;
}

export const describeObjective = (o: Objective) => (o.kind === 'weighted' ? `weighted:${Object.entries(o.weights).map(([t, w]) => `${t}=${w}`).join(',')}` : o.kind);

/**
 * Indices of the non-dominated points (maximisation on every coordinate): no other point is ≥ on
 * every task and > on one. Duplicates are all kept. O(n²·d), fine for search logs.
 */
export function paretoFront(points: readonly number[][]): number[] {
  const out: number[] = [];
  for (let i = 0; i < points.length; i++) {
    const p = points[i];
    const dominated = points.some((q, j) => j !== i && q.every((v, k) => v >= p[k]) && q.some((v, k) => v > p[k]));
    if (!dominated) out.push(i);
  }
  return out;
}
