/** Small pieces both built-in studies (MNIST, src/study/run.ts; transformer, src/study/transformer/study.ts) use. */
import path from 'node:path';
import type { MetricsReport, StudyRow } from '../types.js';
import { getMethod, listMethods } from '../merge/registry.js';
import { normalizedAccuracy } from './outcome.js';

/**
 * A checkpoint path as the metrics report records it: relative to the working directory when
 * it lies below it (so a committed report holds no machine's absolute paths), else absolute.
 */
export function underCwd(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}

/** Every pair (i < j) of n items, in row order. */
export const pairsOf = (n: number): [number, number][] => {
  const out: [number, number][] = [];
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) out.push([i, j]);
  return out;
};

/** Method ids or aliases to canonical ids, unknown ones refused by the registry; none = every method. */
export function resolveMethods(ids: string[] | undefined): string[] {
  if (!ids || ids.length === 0) return listMethods().map((m) => m.id);
  return [...new Set(ids.map((id) => getMethod(id).id))];
}

/** One pair's study row: its metrics from the report, and the normalized accuracy of the merge on both tasks. */
export function pairRow(
  metrics: MetricsReport,
  taskIds: readonly string[],
  expertAccuracy: Record<string, number>,
  r: { i: number; j: number; method: string; accA: number; accB: number },
): StudyRow {
  const { i, j, method, accA, accB } = r;
  const values: Record<string, number> = {};
  for (const [id, m] of Object.entries(metrics.metrics)) {
    const v = m[i]?.[j];
    if (typeof v === 'number' && Number.isFinite(v)) values[id] = v;
  }
  const ea = expertAccuracy[taskIds[i]];
  const eb = expertAccuracy[taskIds[j]];
  const norm = normalizedAccuracy([accA, accB], [ea, eb]);
  return { a: taskIds[i], b: taskIds[j], method, outcome: norm.mean, metrics: values, extra: { acc_a: accA, acc_b: accB, expert_acc_a: ea, expert_acc_b: eb, norm_a: norm.a, norm_b: norm.b } };
}

/** Wall seconds per stage: `lap(name)` adds the time since the previous lap (or the start) to `seconds[name]`. */
export function stageTimer(): { seconds: Record<string, number>; lap: (name: string) => void } {
  const seconds: Record<string, number> = {};
  let mark = performance.now();
  return {
    seconds,
    lap: (name) => {
      const now = performance.now();
      seconds[name] = (seconds[name] ?? 0) + (now - mark) / 1000;
      mark = now;
    },
  };
}
