/**
 * Metric id → family, for `--exclude gradient,activation` style selections. A metrics file's
 * own definitions win when given, then mergelens' metric table; unknown ids (a user's own
 * metrics in a CSV study) fall back to the naming scheme (enc_grad_* → gradient, act_* → …).
 */
import type { MetricDefinition, MetricFamily } from '../types.js';
import { METRIC_DEFINITIONS } from '../metrics/definitions.js';

export const METRIC_FAMILIES: readonly MetricFamily[] = ['task_vector', 'sign', 'rank', 'subspace', 'gradient', 'activation'];

const RANK_IDS = new Set(['effective_rank', 'stable_rank', 'spectral_gap', 'singular_ratio', 'layerwise_effective_rank']);

export function metricFamily(id: string, definitions?: Record<string, MetricDefinition>): MetricFamily | undefined {
  const def = definitions?.[id] ?? METRIC_DEFINITIONS[id];
  if (def) return def.family;
  if (id.startsWith('enc_grad_') || id.startsWith('input_grad_')) return 'gradient';
  if (id.startsWith('act_')) return 'activation';
  if (id.startsWith('tv_')) return 'task_vector';
  if (id.startsWith('sign_')) return 'sign';
  if (RANK_IDS.has(id)) return 'rank';
  if (id === 'sv_overlap' || id.includes('subspace_overlap') || id.startsWith('interaction_overlap')) return 'subspace';
  return undefined;
}

/** True when `id` is named in `exclude` directly or through its family. */
export function isExcluded(id: string, exclude: readonly string[], definitions?: Record<string, MetricDefinition>): boolean {
  if (exclude.includes(id)) return true;
  const fam = metricFamily(id, definitions);
  return fam !== undefined && exclude.includes(fam);
}
