/**
 * How merging changes with the number of experts: per method, the mean held-in outcome and mean
 * held-out probe ratio at each group size k (the pairs count as k = 2), and the least-squares slope
 * of the held-in outcome against k with its standard error — a negative slope is "merging gets
 * harder as more experts are added". Pure arithmetic over a StudyDataset.
 */
import type { StudyDataset } from '../types.js';
import { mean, std } from '../predict/stats.js';

export interface TrendCell {
  /** Merges at this k. */
  n: number;
  heldIn: number;
  /** Standard error of the held-in mean (sd/√n; 0 for one merge). */
  heldInSe: number;
  heldOut?: number;
  heldOutSe?: number;
}

export interface Slope {
  slope: number;
  se: number;
  /** Merges the line was fitted on. */
  n: number;
}

export interface MethodTrend {
  method: string;
  byK: Record<number, TrendCell>;
  /** Held-in outcome against k over every pair and group merge of this method (undefined: fewer than 3 merges or one k). */
  heldInSlope?: Slope;
  /** The same over the groups only (k ≥ 3): whether it keeps falling beyond pairs. */
  groupsSlope?: Slope;
  /** Held-out ratio against k over the groups with a held-out measurement. */
  heldOutSlope?: Slope;
  /**
   * Held-out generalization of the merge against its own unmerged experts (extras heldout_experts,
   * heldout_best_expert): means over the groups that have them, and how many merges beat the best expert.
   */
  vsExperts?: { n: number; merged: number; experts: number; bestExpert: number; beatsBest: number; beatsMean: number };
}

export interface GroupTrend {
  sizes: number[];
  methods: MethodTrend[];
}

/** Mean and standard error of the mean (sample sd/√n; 0 when n = 1). */
export function meanSe(v: number[]): { mean: number; se: number } {
  return { mean: mean(v), se: v.length < 2 ? 0 : std(v, 1) / Math.sqrt(v.length) };
}

/** Ordinary least-squares slope of y on x with its standard error (residual variance / Sxx). */
export function olsSlope(x: number[], y: number[]): Slope | undefined {
  const n = x.length;
  if (n < 3) return undefined;
  const mx = mean(x);
  const my = mean(y);
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    sxx += (x[i] - mx) ** 2;
    sxy += (x[i] - mx) * (y[i] - my);
  }
  if (sxx === 0) return undefined;
  const slope = sxy / sxx;
  let ssr = 0;
  for (let i = 0; i < n; i++) ssr += (y[i] - my - slope * (x[i] - mx)) ** 2;
  return { slope, se: Math.sqrt(ssr / (n - 2) / sxx), n };
}

export function groupTrend(ds: StudyDataset): GroupTrend {
  const groups = ds.groups ?? [];
  const sizes = [...new Set([...(ds.rows.length ? [2] : []), ...groups.map((g) => g.experts.length)])].sort((a, b) => a - b);
  const methods = ds.methods.filter((m) => groups.some((g) => g.method === m));
  return {
    sizes,
    methods: methods.map((method) => {
      const merges = [
        ...ds.rows.filter((r) => r.method === method).map((r) => ({ k: 2, heldIn: r.outcome, heldOut: undefined as number | undefined })),
        ...groups.filter((g) => g.method === method).map((g) => ({ k: g.experts.length, heldIn: g.outcome, heldOut: g.heldOut })),
      ];
      const byK: Record<number, TrendCell> = {};
      for (const k of sizes) {
        const at = merges.filter((m) => m.k === k);
        if (!at.length) continue;
        const hi = meanSe(at.map((m) => m.heldIn));
        const out = at.map((m) => m.heldOut).filter((v): v is number => v !== undefined);
        const ho = out.length ? meanSe(out) : undefined;
        byK[k] = { n: at.length, heldIn: hi.mean, heldInSe: hi.se, ...(ho ? { heldOut: ho.mean, heldOutSe: ho.se } : {}) };
      }
      const withOut = merges.filter((m) => m.heldOut !== undefined);
      const groupMerges = merges.filter((m) => m.k > 2);
      const compared = groups.filter((g) => g.method === method && g.heldOut !== undefined && g.extra?.heldout_experts !== undefined && g.extra?.heldout_best_expert !== undefined);
      const vsExperts = compared.length
        ? {
            n: compared.length,
            merged: mean(compared.map((g) => g.heldOut!)),
            experts: mean(compared.map((g) => g.extra!.heldout_experts)),
            bestExpert: mean(compared.map((g) => g.extra!.heldout_best_expert)),
            beatsBest: compared.filter((g) => g.heldOut! > g.extra!.heldout_best_expert).length,
            beatsMean: compared.filter((g) => g.heldOut! > g.extra!.heldout_experts).length,
          }
        : undefined;
      return {
        method,
        byK,
        ...(vsExperts ? { vsExperts } : {}),
        heldInSlope: olsSlope(
          merges.map((m) => m.k),
          merges.map((m) => m.heldIn),
        ),
        groupsSlope: olsSlope(
          groupMerges.map((m) => m.k),
          groupMerges.map((m) => m.heldIn),
        ),
        heldOutSlope: olsSlope(
          withOut.map((m) => m.k),
          withOut.map((m) => m.heldOut!),
        ),
      };
    }),
  };
}
