/**
 * The paper's metric names (Mergeability-Bench / demystifying-mergeability,
 * `src/model_merging/metrics/mergeability.py`) against mergelens metric ids (src/metrics/definitions.ts).
 *
 *  - same:     same formula; values are comparable (up to the calibration data for activation/gradient metrics).
 *  - differs:  a related mergelens metric exists but the numbers are not the same (given in `note`).
 *  - none:     mergelens does not compute it.
 *
 * Used for `--exclude` families, for the "not computed by mergelens" warning and for showing the
 * mergelens counterpart next to a paper name in fingerprints. docs/paper-import.md prints this table.
 */
import type { MetricFamily } from '../../types.js';

export type PaperRelation = 'same' | 'differs' | 'none';

export interface PaperMetric {
  paper: string;
  family: MetricFamily;
  /** The mergelens metric id it corresponds to (same) or is closest to (differs). */
  mergelens?: string;
  relation: PaperRelation;
  note?: string;
}

const m = (paper: string, family: MetricFamily, mergelens: string | undefined, relation: PaperRelation, note?: string): PaperMetric => ({ paper, family, mergelens, relation, note });

export const PAPER_METRICS: readonly PaperMetric[] = [
  m('task_vector_cosine_similarity', 'task_vector', 'tv_cosine', 'same'),
  m('task_vector_l2_distance', 'task_vector', 'tv_l2', 'same'),
  m('task_vector_dot_product', 'task_vector', 'tv_dot', 'same'),
  m('weight_space_angle', 'task_vector', 'tv_angle', 'same'),
  m('task_vector_magnitude_ratio', 'task_vector', 'tv_magnitude_ratio', 'same'),
  m('effective_rank', 'rank', 'effective_rank', 'same'),
  m('effective_rank_mergeability_score', 'rank', 'effective_rank', 'differs', '2 − effective_rank, clipped to [0, 1] (a linear transform: redundant with effective_rank)'),
  m('stable_rank', 'rank', 'stable_rank', 'same'),
  m('spectral_gap', 'rank', 'spectral_gap', 'same'),
  m('singular_value_ratio', 'rank', 'singular_ratio', 'same'),
  m('layerwise_effective_rank', 'rank', 'layerwise_effective_rank', 'differs', 'the paper averages over parameter tensors, mergelens over layer groups'),
  m('layerwise_effective_rank_mergeability_score', 'rank', 'layerwise_effective_rank', 'differs', '2 − layerwise_effective_rank, clipped to [0, 1]'),
  m('singular_value_overlap', 'subspace', 'sv_overlap', 'same'),
  m('subspace_overlap', 'subspace', 'left_subspace_overlap', 'differs', 'per tensor ‖U₁ₖᵀU₂ₖ‖_F / k; mergelens uses ‖·‖²_F / k (= k·paper² per tensor, then averaged)'),
  m('right_subspace_overlap_top_k', 'subspace', 'right_subspace_overlap_top', 'differs', 'per tensor ‖V₁ₖV₂ₖᵀ‖_F / √k; mergelens uses ‖·‖²_F / k (= paper² per tensor, then averaged)'),
  m('right_subspace_overlap_bottom_k', 'subspace', 'right_subspace_overlap_bottom', 'differs', 'per tensor ‖V₁ₖV₂ₖᵀ‖_F / √k on the bottom-k; mergelens uses ‖·‖²_F / k (= paper² per tensor, then averaged)'),
  m('interaction_matrix_overlap_top_k', 'subspace', 'right_subspace_overlap_top', 'same', "mean σ² of V₁ₖV₂ₖᵀ = ‖V₁ₖV₂ₖᵀ‖²_F / k, which is mergelens's right_subspace_overlap_top; mergelens's interaction_overlap_top is a different, energy-weighted metric"),
  m('interaction_matrix_overlap_bottom_k', 'subspace', 'right_subspace_overlap_bottom', 'same', "as interaction_matrix_overlap_top_k, on the bottom-k: mergelens's right_subspace_overlap_bottom"),
  m('right_subspace_overlap', 'subspace', undefined, 'none', 'an earlier single right-overlap score (v1 only; the final paper drops it)'),
  m('activation_l2_distance', 'activation', 'act_l2', 'same'),
  m('activation_cosine_similarity', 'activation', 'act_cosine', 'same'),
  m('activation_magnitude_ratio', 'activation', 'act_magnitude_ratio', 'same'),
  m('activation_dot_product', 'activation', 'act_dot', 'same'),
  m('encoder_gradient_cosine_similarity', 'gradient', 'enc_grad_cosine', 'same'),
  m('encoder_gradient_l2_distance', 'gradient', 'enc_grad_l2', 'same'),
  m('encoder_gradient_dot_product', 'gradient', 'enc_grad_dot', 'same'),
  m('input_gradient_cosine_similarity', 'gradient', 'input_grad_cosine', 'same'),
  m('input_gradient_l2_distance', 'gradient', 'input_grad_l2', 'same'),
  m('input_gradient_dot_product', 'gradient', 'input_grad_dot', 'same'),
];

export const PAPER_METRIC_BY_NAME: ReadonlyMap<string, PaperMetric> = new Map(PAPER_METRICS.map((p) => [p.paper, p]));

export function paperMetric(name: string): PaperMetric | undefined {
  return PAPER_METRIC_BY_NAME.get(name);
}
