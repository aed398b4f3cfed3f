/**
 * Turn accumulated sums (a complete MetricsPartial) into the MetricsReport: whole-model
 * matrices, per-layer and per-tensor breakdowns. Tensors are always processed in sorted-name
 * order, so the result does not depend on file order or on how the work was sharded.
 */
import type { MetricBreakdown, MetricMatrix, MetricsReport, PairIndex, PairMetrics } from '../types.js';
import { shardsComplete, sumAccumulators, type MetricsPartial, type TensorAccumulator } from './accumulators.js';
import { METRIC_DEFINITIONS, METRIC_IDS } from './definitions.js';
import { pairList } from './gram.js';
import { rankFromGram } from './rank.js';
import { PAIR_FIELDS } from './sign-agreement.js';
import { SUBSPACE_METRICS } from './subspace-defaults.js';
import { compareLayers, sortLayers } from './layer-order.js';

type Values = Record<string, number | null>;

/** Metrics that are formed from one group's sums (global, a layer or a tensor alike). */
export const GROUP_METRICS = [
  'tv_cosine', 'tv_l2', 'tv_dot', 'tv_angle', 'tv_magnitude_ratio',
  'sign_agreement', 'sign_agreement_trimmed', 'sign_agreement_weighted', 'sign_conflict',
  'effective_rank', 'stable_rank', 'spectral_gap', 'singular_ratio',
  ...SUBSPACE_METRICS,
];

const ratio = (num: number, den: number) => (den > 0 ? num / den : null);

/** Task-vector, sign and rank values of pair (i,j) with lexicographic index p from summed sums. */
export function valuesFromSums(gram: ArrayLike<number>, pairs: ArrayLike<number>, kept: ArrayLike<number>, N: number, i: number, j: number, p: number): Values {
  const aa = gram[i * N + i];
  const bb = gram[j * N + j];
  const ab = gram[i * N + j];
  const na = Math.sqrt(aa);
  const nb = Math.sqrt(bb);
  const cos = na > 0 && nb > 0 ? Math.max(-1, Math.min(1, ab / (na * nb))) : null;
  const o = p * PAIR_FIELDS;
  const [ag, dis, wag, wdis, tag, tdis, d2] = Array.from({ length: PAIR_FIELDS }, (_, f) => pairs[o + f]);
  const union = kept[i] + kept[j] - (tag + tdis);
  const rank = rankFromGram(aa, bb, ab);
  return {
    tv_cosine: cos,
    tv_l2: Math.sqrt(d2),
    tv_dot: ab,
    tv_angle: cos === null ? null : (Math.acos(cos) * 180) / Math.PI,
    tv_magnitude_ratio: na === 0 && nb === 0 ? null : Math.min(na, nb) / Math.max(na, nb),
    sign_agreement: ratio(ag, ag + dis),
    sign_agreement_trimmed: ratio(tag, tag + tdis),
    sign_agreement_weighted: ratio(wag, wag + wdis),
    sign_conflict: ratio(tdis, union),
    effective_rank: rank?.effective_rank ?? null,
    stable_rank: rank?.stable_rank ?? null,
    spectral_gap: rank?.spectral_gap ?? null,
    singular_ratio: rank?.singular_ratio ?? null,
  };
}

/** Mean of the subspace values of pair p over tensors where defined. */
function subspaceMeans(accs: TensorAccumulator[], p: number): Values {
  const out: Values = {};
  for (const id of SUBSPACE_METRICS) {
    let s = 0;
    let c = 0;
    for (const a of accs) {
      const v = a.subspace?.[p]?.[id];
      if (v !== null && v !== undefined) {
        s += v;
        c++;
      }
    }
    out[id] = c > 0 ? s / c : null;
  }
  return out;
}

/** Values of every group metric for every pair, for one group of tensors. */
function groupValues(accs: TensorAccumulator[], N: number): Values[] {
  const { gram, pairs, kept } = sumAccumulators(accs, N);
  return pairList(N).map(([i, j], p) => ({ ...valuesFromSums(gram, pairs, kept, N, i, j, p), ...subspaceMeans(accs, p) }));
}

function emptyMatrix(N: number): MetricMatrix {
  return Array.from({ length: N }, () => Array.from({ length: N }, () => null));
}

function breakdown(groups: string[], members: TensorAccumulator[][], N: number): MetricBreakdown {
  const perGroup = members.map((accs) => groupValues(accs, N));
  const P = (N * (N - 1)) / 2;
  const values: Record<string, (number | null)[][]> = {};
  for (const id of GROUP_METRICS) {
    values[id] = Array.from({ length: P }, (_, p) => perGroup.map((g) => g[p][id] ?? null));
  }
  return { groups, numel: members.map((m) => m.reduce((s, a) => s + a.numel, 0)), values };
}

/** Whole-model matrices, per-layer and per-tensor breakdowns from a complete set of sums. */
export function finalizeReport(partial: MetricsPartial, createdAt = new Date().toISOString()): MetricsReport {
  const N = partial.experts.length;
  const tensors = [...partial.tensors].sort((a, b) => compareLayers(a.name, b.name)); // depth order (layer-order.ts)
  const pairs = pairList(N) as PairIndex[];
  const layerNames = sortLayers([...new Set(tensors.map((t) => t.layer))]);
  const layerMembers = layerNames.map((l) => tensors.filter((t) => t.layer === l));
  const perLayer = breakdown(layerNames, layerMembers, N);
  const perTensor = breakdown(tensors.map((t) => t.name), tensors.map((t) => [t]), N);

  const metrics: Record<string, MetricMatrix> = {};
  const global = groupValues(tensors, N);
  const layerSums = layerMembers.map((m) => sumAccumulators(m, N));
  const set = (id: string, i: number, j: number, v: number | null) => {
    metrics[id] ??= emptyMatrix(N);
    metrics[id][i][j] = v;
    metrics[id][j][i] = v;
  };
  pairs.forEach(([i, j], p) => {
    for (const id of GROUP_METRICS) set(id, i, j, global[p][id] ?? null);
    // Plain mean of per-layer cosines, and the paper's norm-weighted layer-wise effective rank.
    let cosSum = 0, cosCount = 0, wSum = 0, wrSum = 0;
    layerSums.forEach((ls) => {
      const aa = ls.gram[i * N + i];
      const bb = ls.gram[j * N + j];
      if (!(aa > 0 && bb > 0)) return;
      const ab = ls.gram[i * N + j];
      cosSum += ab / Math.sqrt(aa * bb);
      cosCount++;
      const w = Math.sqrt(aa) + Math.sqrt(bb);
      wSum += w;
      wrSum += w * rankFromGram(aa, bb, ab)!.effective_rank;
    });
    set('tv_cosine_layer_mean', i, j, cosCount > 0 ? cosSum / cosCount : null);
    set('layerwise_effective_rank', i, j, wSum > 0 ? wrSum / wSum : null);
  });
  for (const [id, m] of Object.entries(partial.vectors)) metrics[id] = m;
  for (const id of METRIC_IDS) metrics[id] ??= emptyMatrix(N);

  return {
    format: 'mergelens.metrics',
    version: 1,
    createdAt,
    base: partial.base,
    experts: partial.experts,
    inputs: partial.inputs,
    settings: { ...partial.settings, shard: shardsComplete(partial.shards) ? '1/1' : partial.shards.join(',') },
    definitions: METRIC_DEFINITIONS,
    metrics,
    pairs,
    perLayer,
    perTensor,
    warnings: [...partial.warnings, ...subspaceWarnings(tensors, partial)],
    stats: partial.stats,
  };
}

/** Warnings about tensors whose subspace metrics are partial, derived from the sums (so shards agree). */
function subspaceWarnings(tensors: TensorAccumulator[], partial: MetricsPartial): string[] {
  const list = (names: string[]) => `${names.slice(0, 3).join(', ')}${names.length > 3 ? ', …' : ''}`;
  const skipped = tensors.filter((t) => t.subspaceMode === 'skipped').map((t) => t.name);
  const topOnly = tensors.filter((t) => t.subspaceMode === 'top-only').map((t) => t.name);
  const out: string[] = [];
  if (skipped.length) out.push(`subspace metrics skipped for ${skipped.length} 2-D tensor(s) above ${partial.settings.subspaceMaxElements ?? partial.settings.wholeTensorElements} elements (subspaceMaxElements): ${list(skipped)}`);
  if (topOnly.length) out.push(`bottom-k subspace metrics skipped for ${topOnly.length} tensor(s) with min(rows, cols) > ${partial.settings.bottomMaxDim} (exact-SVD cap): ${list(topOnly)}`);
  return out;
}

/** Flatten a report into one record per pair (what predictors consume); null values are left out. */
export function pairMetrics(report: MetricsReport): PairMetrics[] {
  return report.pairs.map(([i, j]) => {
    const values: Record<string, number> = {};
    for (const [id, m] of Object.entries(report.metrics)) {
      const v = m[i]?.[j];
      if (typeof v === 'number' && Number.isFinite(v)) values[id] = v;
    }
    return { a: report.experts[i], b: report.experts[j], values };
  });
}
