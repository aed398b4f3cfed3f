/**
 * Features of a group of k ≥ 3 experts from the pairwise metrics of its pairs: per metric the
 * mean, min, max and spread (max − min) over the group's k(k−1)/2 pairs, and k itself. One-pass
 * metrics already give every pair, so a group needs no measurement of its own. Pure.
 */
import type { PairMetrics, StudyRow } from '../types.js';

export const GROUP_AGGREGATES = ['mean', 'min', 'max', 'spread'] as const;
export type GroupAggregate = (typeof GROUP_AGGREGATES)[number];

/** Feature names in model order: `k`, then `<agg>:<metric>` for each metric and aggregate. */
export function groupFeatureNames(metrics: readonly string[]): string[] {
  return ['k', ...metrics.flatMap((m) => GROUP_AGGREGATES.map((a) => `${a}:${m}`))];
}

/** Split a feature name into its aggregate and metric (`k` has neither). */
export function parseGroupFeature(name: string): { agg: GroupAggregate; metric: string } | null {
  const i = name.indexOf(':');
  if (i < 0) return null;
  const agg = name.slice(0, i) as GroupAggregate;
  return GROUP_AGGREGATES.includes(agg) ? { agg, metric: name.slice(i + 1) } : null;
}

/** Order-free key of a pair of experts. */
export function pairKey(a: string, b: string): string {
  return a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`;
}

/** Metric values per pair, from study rows (any method's row of a pair: metrics do not depend on the method) or PairMetrics. */
export function pairIndex(source: readonly StudyRow[] | readonly PairMetrics[]): Map<string, Record<string, number>> {
  const out = new Map<string, Record<string, number>>();
  for (const r of source) {
    const key = pairKey(r.a, r.b);
    if (!out.has(key)) out.set(key, 'values' in r ? r.values : r.metrics);
  }
  return out;
}

/** The k(k−1)/2 pairs of a group, in group order. */
export function pairsOfGroup(experts: readonly string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < experts.length; i++) for (let j = i + 1; j < experts.length; j++) out.push([experts[i], experts[j]]);
  return out;
}

/** Pairs of a group the index lacks (a group's features need every pair). */
export function missingPairs(experts: readonly string[], index: ReadonlyMap<string, Record<string, number>>): [string, string][] {
  return pairsOfGroup(experts).filter(([a, b]) => !index.has(pairKey(a, b)));
}

/**
 * Feature vector of one group in `groupFeatureNames(metrics)` order; NaN where a pair lacks a
 * metric. Throws when a pair is absent altogether (callers check missingPairs first).
 */
export function groupFeatureVector(experts: readonly string[], metrics: readonly string[], index: ReadonlyMap<string, Record<string, number>>): Float64Array {
  const pairs = pairsOfGroup(experts).map(([a, b]) => {
    const v = index.get(pairKey(a, b));
    if (!v) throw new Error(`no metrics for the pair ${a}–${b}`);
    return v;
  });
  const x = new Float64Array(1 + metrics.length * GROUP_AGGREGATES.length);
  x[0] = experts.length;
  metrics.forEach((id, j) => {
    let s = 0;
    let lo = Infinity;
    let hi = -Infinity;
    for (const p of pairs) {
      const v = p[id];
      s += v;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    const ok = Number.isFinite(s);
    const at = 1 + j * GROUP_AGGREGATES.length;
    x[at] = ok ? s / pairs.length : NaN;
    x[at + 1] = ok ? lo : NaN;
    x[at + 2] = ok ? hi : NaN;
    x[at + 3] = ok ? hi - lo : NaN;
  });
  return x;
}
