/**
 * Down-sampling of per-layer / per-tensor breakdowns so a report for a large model (thousands
 * of tensors, many pairs) stays a reasonable size. Consecutive groups are merged into at most
 * `cap` buckets of near-equal count; a bucket's value is the numel-weighted mean of its
 * non-null values (so it is the value the merged slice of the model would have for mean-type
 * metrics), and its label names the first and last group.
 */
import type { MetricBreakdown } from '../types.js';
import { roundSignificant } from './format.js';

/** Bucket start indices for `n` groups in at most `cap` buckets; last entry is n. */
export function bucketStarts(n: number, cap: number): number[] {
  if (n <= 0) return [0];
  const buckets = Math.max(1, Math.min(n, Math.floor(cap)));
  const starts: number[] = [];
  for (let b = 0; b <= buckets; b++) starts.push(Math.round((b * n) / buckets));
  return starts;
}

/** Numel-weighted mean of the non-null values in each bucket (null when a bucket has none). */
export function downsampleSeries(values: (number | null)[], numel: number[], starts: number[]): (number | null)[] {
  const out: (number | null)[] = [];
  for (let b = 0; b + 1 < starts.length; b++) {
    let sum = 0;
    let weight = 0;
    for (let g = starts[b]; g < starts[b + 1]; g++) {
      const v = values[g];
      if (v === null || v === undefined || !Number.isFinite(v)) continue;
      const w = numel[g] > 0 ? numel[g] : 1;
      sum += w * v;
      weight += w;
    }
    out.push(weight > 0 ? sum / weight : null);
  }
  return out;
}

export interface CompactBreakdown {
  /** Bucket labels: the group name, or "first … last (count)" for a merged bucket. */
  groups: string[];
  numel: number[];
  /** metric → pair → bucket, rounded to `digits` significant digits; a pair's row is null when it is not embedded (pairsEmbedded). */
  values: Record<string, (number | null)[][]>;
  /** Number of groups before down-sampling. */
  originalGroups: number;
  /** Largest number of groups merged into one bucket (1 = not down-sampled). */
  bucketSize: number;
  /** Pairs whose series are embedded; the others' rows are null (report size cap, say so on the page). */
  pairsEmbedded: number;
  pairsTotal: number;
}

export interface DownsampleOptions {
  /** Most points per series (per metric per pair). */
  maxPoints: number;
  /** Budget for all values of one breakdown (metrics × pairs × points); lowers maxPoints if needed. */
  maxValues: number;
  /** Never go below this many points per series because of the budget. */
  minPoints: number;
  /** Significant digits kept in the embedded data. */
  digits: number;
}

export const DEFAULT_DOWNSAMPLE: DownsampleOptions = { maxPoints: 200, maxValues: 400_000, minPoints: 16, digits: 5 };

/** Metrics of a breakdown that have at least one finite value (all-null series are dropped). */
export function metricsWithValues(b: MetricBreakdown): string[] {
  return Object.keys(b.values).filter((id) => b.values[id].some((row) => row.some((v) => v !== null && Number.isFinite(v))));
}

/**
 * Compact a breakdown for embedding: drop all-null metrics, bucket groups, round values. When even
 * `minPoints` per series would break the `maxValues` budget (many experts: 200 experts are 19,900
 * pairs, a 121 MB page in the audit), only the first pairs of `pairPriority` (default: pair order)
 * keep their series — as many as the budget allows at `minPoints` — and the others' rows are null.
 */
export function compactBreakdown(b: MetricBreakdown, opts: DownsampleOptions = DEFAULT_DOWNSAMPLE, pairPriority?: readonly number[]): CompactBreakdown {
  const ids = metricsWithValues(b);
  const pairsTotal = ids.length ? b.values[ids[0]].length : 0;
  const minPoints = Math.min(opts.minPoints, opts.maxPoints);
  const maxPairs = Math.max(1, Math.floor(opts.maxValues / Math.max(1, ids.length * minPoints)));
  const kept = pairsTotal > maxPairs ? new Set((pairPriority ?? [...Array(pairsTotal).keys()]).slice(0, maxPairs)) : null;
  const nPairs = kept ? kept.size : pairsTotal;
  const series = Math.max(1, ids.length * nPairs);
  // The budget may lower the cap to minPoints, but an explicit maxPoints below that wins.
  const cap = Math.max(Math.min(opts.minPoints, opts.maxPoints), Math.min(opts.maxPoints, Math.floor(opts.maxValues / series)));
  const n = b.groups.length;
  const starts = bucketStarts(n, cap);
  const numel = b.numel.length === n ? b.numel : new Array<number>(n).fill(1);
  const groups: string[] = [];
  const bucketNumel: number[] = [];
  let bucketSize = 1;
  for (let k = 0; k + 1 < starts.length; k++) {
    const [s, e] = [starts[k], starts[k + 1]];
    bucketSize = Math.max(bucketSize, e - s);
    groups.push(e - s === 1 ? b.groups[s] : `${b.groups[s]} … ${b.groups[e - 1]} (${e - s})`);
    bucketNumel.push(numel.slice(s, e).reduce((t, v) => t + v, 0));
  }
  const values: Record<string, (number | null)[][]> = {};
  for (const id of ids) {
    values[id] = b.values[id].map((row, p) => (kept && !kept.has(p) ? (null as unknown as (number | null)[]) : downsampleSeries(row, numel, starts).map((v) => roundSignificant(v, opts.digits))));
  }
  return { groups, numel: bucketNumel, values, originalGroups: n, bucketSize, pairsEmbedded: nPairs, pairsTotal };
}
