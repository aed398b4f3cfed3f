/**
 * Metric id → family, for `--exclude gradient,activation` style selections. A metrics file's
 * own definitions win when given, then mergelens' metric table, then the paper's metric names
 * (import/paper-metrics.ts); other ids (a user's own metrics in a CSV study) fall back to the
 * naming scheme (enc_grad_* / encoder_gradient_* → gradient, act_* / activation_* → …).
 */
import type { MetricDefinition, MetricFamily } from '../types.js';
import { MergelensError } from '../errors.js';
import { METRIC_DEFINITIONS } from '../metrics/definitions.js';
import { paperMetric } from './import/paper-metrics.js';

export const METRIC_FAMILIES: readonly MetricFamily[] = ['task_vector', 'sign', 'rank', 'subspace', 'gradient', 'activation'];

const RANK_IDS = new Set(['effective_rank', 'stable_rank', 'spectral_gap', 'singular_ratio', 'layerwise_effective_rank']);

export function metricFamily(id: string, definitions?: Record<string, MetricDefinition>): MetricFamily | undefined {
  const def = definitions?.[id] ?? METRIC_DEFINITIONS[id];
  if (def) return def.family;
  const paper = paperMetric(id);
  if (paper) return paper.family;
  if (/^(enc_grad_|input_grad_|encoder_gradient_|input_gradient_|gradient_)/.test(id)) return 'gradient';
  if (id.startsWith('act_') || id.startsWith('activation_')) return 'activation';
  if (id.startsWith('tv_') || id.startsWith('task_vector_')) return 'task_vector';
  if (id.startsWith('sign_')) return 'sign';
  if (RANK_IDS.has(id)) return 'rank';
  if (id === 'sv_overlap' || id.includes('subspace_overlap') || id.startsWith('interaction_')) return 'subspace';
  return undefined;
}

/** True when `id` is named in `exclude` directly or through its family. */
export function isExcluded(id: string, exclude: readonly string[], definitions?: Record<string, MetricDefinition>): boolean {
  if (exclude.includes(id)) return true;
  const fam = metricFamily(id, definitions);
  return fam !== undefined && exclude.includes(fam);
}

/**
 * Check every `--exclude` entry against the study: each must be a family some metric belongs to,
 * or a metric id in the study. An entry that matches nothing is an error (a typo or a family
 * name from another tool would otherwise exclude nothing while the predictor records it).
 */
export function checkExclusions(exclude: readonly string[], ids: readonly string[], definitions?: Record<string, MetricDefinition>): void {
  const families = new Set(ids.map((id) => metricFamily(id, definitions)).filter((f): f is MetricFamily => f !== undefined));
  const known = new Set(ids);
  const unmatched = exclude.filter((e) => !known.has(e) && !families.has(e as MetricFamily));
  if (unmatched.length) {
    const fams = [...families].sort();
    throw new MergelensError('BAD_INPUT', `--exclude ${unmatched.map((u) => JSON.stringify(u)).join(', ')} matches no metric or family in the study`, {
      hint: `families present: ${fams.join(', ') || '(none recognised)'}; metric ids: ${ids.join(', ')}`,
    });
  }
}
