/**
 * Metrics reports written before the pre-flight gate could hold an expert identical to its base:
 * with no task vector, its cosines are 0/0 (stored as null) in every pair, and every prediction
 * for those pairs would fail on a missing metric. Such experts are dropped here, by name, the way
 * `metrics` now excludes them before the pass. Pure.
 */
import type { MetricsReport } from '../types.js';

/** The metric whose absence marks an expert without a task vector (undefined only when a norm is 0). */
const MARKER = 'tv_cosine';

/** Indices of experts whose `tv_cosine` is missing in every one of their pairs (while present in others). */
export function expertsWithoutTaskVector(report: MetricsReport): number[] {
  const m = report.metrics[MARKER];
  if (!m) return [];
  const defined = (i: number, j: number) => Number.isFinite(m[i]?.[j] ?? m[j]?.[i] ?? NaN);
  const n = report.experts.length;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const pairs = report.pairs.filter(([a, b]) => a === i || b === i);
    if (pairs.length > 0 && pairs.every(([a, b]) => !defined(a, b))) out.push(i);
  }
  // When every pair lacks it the metric is simply absent from the report, not a sign of one bad expert.
  return out.length === n ? [] : out;
}

/** The report without the pairs of experts that have no task vector, and their names. */
export function dropExpertsWithoutTaskVector(report: MetricsReport): { report: MetricsReport; dropped: string[] } {
  const bad = new Set(expertsWithoutTaskVector(report));
  if (bad.size === 0) return { report, dropped: [] };
  return {
    report: { ...report, pairs: report.pairs.filter(([a, b]) => !bad.has(a) && !bad.has(b)) },
    dropped: [...bad].map((i) => report.experts[i]),
  };
}
