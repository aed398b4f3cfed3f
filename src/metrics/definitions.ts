/**
 * Exact definitions of every metric mergelens reports; shipped inside each metrics file.
 * Notation: τᵢ = θᵢ − θ₀ (expert minus base, float32 per element, all sums float64); "global"
 * means all selected tensors concatenated into one vector; a "layer" is a layer group (layers.ts).
 */
import type { MetricDefinition, MetricFamily } from '../types.js';

const GLOBAL = 'global: all selected tensors concatenated into one vector (per-layer/per-tensor values use the same formula on that slice)';
const POOLED = 'global: counts/weights pooled over all selected tensors (= numel-weighted, not a mean of per-tensor fractions)';
const GRAM = 'global: from the whole-model 2×2 Gram matrix (per-layer/per-tensor values from that slice\'s Gram matrix)';
const SUBSPACE_MEAN = 'plain mean over the selected 2-D tensors where the value is defined (per-layer: mean over the layer\'s 2-D tensors; per-tensor: the tensor\'s own value)';

function def(id: string, family: MetricFamily, label: string, description: string, unit: string, aggregation: string): MetricDefinition {
  return { id, family, label, description, unit, aggregation };
}

const list: MetricDefinition[] = [
  def('tv_cosine', 'task_vector', 'Task-vector cosine', 'τᵢ·τⱼ / (‖τᵢ‖‖τⱼ‖), signed (not |cos|). The global cosine is NOT the mean of per-layer cosines (see tv_cosine_layer_mean).', 'cosine ∈ [−1,1]', GLOBAL),
  def('tv_l2', 'task_vector', 'Task-vector L2 distance', '‖τᵢ − τⱼ‖₂ = ‖θᵢ − θⱼ‖₂, accumulated directly as Σ(τᵢ−τⱼ)².', 'L2 norm (weight units)', GLOBAL),
  def('tv_dot', 'task_vector', 'Task-vector dot product', 'τᵢ·τⱼ = Σ τᵢ[e]τⱼ[e].', 'weight units²', GLOBAL),
  def('tv_angle', 'task_vector', 'Task-vector angle', 'arccos(tv_cosine) in degrees (cosine clamped to [−1,1]).', 'degrees ∈ [0,180]', GLOBAL),
  def('tv_magnitude_ratio', 'task_vector', 'Task-vector magnitude ratio', 'min(‖τᵢ‖,‖τⱼ‖) / max(‖τᵢ‖,‖τⱼ‖); 0 when exactly one is zero, null when both are.', 'ratio ∈ [0,1]', GLOBAL),
  def('tv_cosine_layer_mean', 'task_vector', 'Task-vector cosine, mean over layers', 'Plain (unweighted) mean over layer groups of the per-layer cosine τᵢ,L·τⱼ,L/(‖τᵢ,L‖‖τⱼ,L‖), over layers where both norms are non-zero. Differs from tv_cosine, which weights layers by their norms.', 'cosine ∈ [−1,1]', 'plain mean over layer groups (whole-model only)'),
  def('sign_agreement', 'sign', 'Sign agreement', '#{e: τᵢ[e]·τⱼ[e] > 0} / #{e: τᵢ[e] ≠ 0 and τⱼ[e] ≠ 0}: among coordinates both experts changed, the fraction changed in the same direction. Not in the paper; TIES-style.', 'fraction ∈ [0,1]', POOLED),
  def('sign_agreement_trimmed', 'sign', 'Sign agreement after top-k trim', 'As sign_agreement, after each τ keeps only its top-`trimFraction` (default 20%, as TIES) coordinates by |τ| per tensor: kept iff τ ≠ 0 and |τ| ≥ the k-th largest |τ| of that tensor, k = max(1, ⌊trim·numel⌋). Thresholds are exact (radix selection), also for tensors streamed in chunks (two histogram passes over the chunks).', 'fraction ∈ [0,1]', POOLED),
  def('sign_agreement_weighted', 'sign', 'Magnitude-weighted sign agreement', 'Σ w[e]·[τᵢ[e]τⱼ[e] > 0] / Σ w[e]·[τᵢ[e]τⱼ[e] ≠ 0] with w[e] = min(|τᵢ[e]|, |τⱼ[e]|): a coordinate counts as much as the weaker of the two updates.', 'fraction ∈ [0,1]', POOLED),
  def('sign_conflict', 'sign', 'TIES sign conflict', 'Among coordinates kept by at least one trimmed τ (same trim as sign_agreement_trimmed), the fraction kept by both with opposite signs: #{both kept, τᵢτⱼ < 0} / #{kept by i or j}. These are the coordinates TIES sign election must resolve against one expert.', 'fraction ∈ [0,1]', POOLED),
  def('effective_rank', 'rank', 'Effective rank of [τᵢ; τⱼ]', 'exp(H(p)), p = σ/(σ₁+σ₂), H = −Σ p log p, σ₁ ≥ σ₂ the singular values of the 2×D stack [τᵢ; τⱼ], from the eigenvalues of its 2×2 Gram matrix (no D-dimensional SVD). 1 = parallel, 2 = orthogonal with equal norms.', 'rank ∈ [1,2]', GRAM),
  def('stable_rank', 'rank', 'Stable rank of [τᵢ; τⱼ]', '(σ₁+σ₂)²/(σ₁²+σ₂²), as the paper\'s code computes it (the textbook stable rank is Σσ²/σ₁²).', 'rank ∈ [1,2]', GRAM),
  def('spectral_gap', 'rank', 'Spectral gap of [τᵢ; τⱼ]', '(σ₁ − σ₂)/σ₁.', 'fraction ∈ [0,1]', GRAM),
  def('singular_ratio', 'rank', 'Singular-value ratio of [τᵢ; τⱼ]', 'σ₂/σ₁.', 'fraction ∈ [0,1]', GRAM),
  def('layerwise_effective_rank', 'rank', 'Layer-wise effective rank', 'Σ_L w_L·effective_rank_L / Σ_L w_L over layer groups L with both ‖τᵢ,L‖, ‖τⱼ,L‖ > 0, weights w_L = ‖τᵢ,L‖ + ‖τⱼ,L‖ (the paper loops over parameter tensors; mergelens over layer groups).', 'rank ∈ [1,2]', 'weighted mean over layer groups (whole-model only)'),
  def('sv_overlap', 'subspace', 'Singular-spectrum overlap', 'Per 2-D tensor: cosine between the top-`spectrumK` (default 100) singular values of Δᵢ and of Δⱼ, zero-padded (cosine is scale-free, so the paper\'s division by Σσ does not change it).', 'cosine ∈ [0,1]', SUBSPACE_MEAN),
  def('left_subspace_overlap', 'subspace', 'Left subspace overlap (top-k)', 'Per 2-D tensor: ‖Uᵢ,ₖᵀUⱼ,ₖ‖²_F / k with Uₖ the top-k left singular vectors, k = min(K, ranks) (K = `subspaceK`, default 10) = mean squared cosine of the principal angles. Equals k·(paper value)², the paper dividing ‖·‖_F by k.', 'fraction ∈ [0,1]', SUBSPACE_MEAN),
  def('right_subspace_overlap_top', 'subspace', 'Right subspace overlap (top-k)', 'Per 2-D tensor: ‖Vᵢ,ₖᵀVⱼ,ₖ‖²_F / k with Vₖ the top-k right singular vectors. Equals (paper value)², the paper dividing ‖·‖_F by √k.', 'fraction ∈ [0,1]', SUBSPACE_MEAN),
  def('right_subspace_overlap_bottom', 'subspace', 'Right subspace overlap (bottom-k)', 'As right_subspace_overlap_top with the bottom-k right singular vectors: the k smallest non-zero singular values of the rank-min(m,n) spectrum (the paper\'s V[-k:] for full-rank Δ; for rank-deficient Δ such as LoRA the null-space part is not unique, so the lowest used directions are taken). Needs an exact SVD: tensors with min(m,n) > settings.bottomMaxDim are left out (warning).', 'fraction ∈ [0,1]', SUBSPACE_MEAN),
  def('interaction_overlap_top', 'subspace', 'Interaction-matrix overlap (top-k)', 'Per 2-D tensor: cosine between the rank-k interaction matrices Gᵢ = Vᵢ,ₖΣᵢ,ₖ²Vᵢ,ₖᵀ (= ΔWᵢ,ₖᵀΔWᵢ,ₖ): Σ_ab σᵢₐ²σⱼᵦ²(vᵢₐ·vⱼᵦ)² / √(Σσᵢₐ⁴·Σσⱼᵦ⁴). The paper\'s mean σ²(VᵢᵀVⱼ) equals right_subspace_overlap_top exactly under our normalisation, so mergelens weights by energy instead.', 'cosine ∈ [0,1]', SUBSPACE_MEAN),
  def('interaction_overlap_bottom', 'subspace', 'Interaction-matrix overlap (bottom-k)', 'As interaction_overlap_top with the bottom-k right singular vectors and values (same exact-SVD cap as right_subspace_overlap_bottom).', 'cosine ∈ [0,1]', SUBSPACE_MEAN),
  def('enc_grad_l2', 'gradient', 'Encoder-gradient L2 distance', '‖gᵢ − gⱼ‖₂, g = mean gradient of the expert\'s own-task loss w.r.t. the encoder parameters: all tensors of the gradient file except `input`, concatenated (tensors present in both files).', 'L2 norm (gradient units)', 'global vector over the gradient tensors'),
  def('enc_grad_cosine', 'gradient', 'Encoder-gradient cosine', 'gᵢ·gⱼ/(‖gᵢ‖‖gⱼ‖) over the encoder-gradient tensors.', 'cosine ∈ [−1,1]', 'global vector over the gradient tensors'),
  def('enc_grad_dot', 'gradient', 'Encoder-gradient dot product', 'gᵢ·gⱼ over the encoder-gradient tensors.', 'gradient units²', 'global vector over the gradient tensors'),
  def('input_grad_l2', 'gradient', 'Input-gradient L2 distance', '‖xᵢ − xⱼ‖₂, x = the `input` tensor of the gradient file (mean gradient of the loss w.r.t. the input).', 'L2 norm', 'the `input` tensor'),
  def('input_grad_cosine', 'gradient', 'Input-gradient cosine', 'xᵢ·xⱼ/(‖xᵢ‖‖xⱼ‖) of the `input` tensors.', 'cosine ∈ [−1,1]', 'the `input` tensor'),
  def('input_grad_dot', 'gradient', 'Input-gradient dot product', 'xᵢ·xⱼ of the `input` tensors.', 'gradient units²', 'the `input` tensor'),
  def('act_l2', 'activation', 'Activation L2 distance', '‖aᵢ − aⱼ‖₂, a = mean activations on calibration inputs, all tensors of the activation file (one per layer) concatenated (tensors present in both files).', 'L2 norm (activation units)', 'global vector over the activation tensors'),
  def('act_cosine', 'activation', 'Activation cosine', 'aᵢ·aⱼ/(‖aᵢ‖‖aⱼ‖).', 'cosine ∈ [−1,1]', 'global vector over the activation tensors'),
  def('act_dot', 'activation', 'Activation dot product', 'aᵢ·aⱼ.', 'activation units²', 'global vector over the activation tensors'),
  def('act_magnitude_ratio', 'activation', 'Activation magnitude ratio', 'min(‖aᵢ‖,‖aⱼ‖)/max(‖aᵢ‖,‖aⱼ‖).', 'ratio ∈ [0,1]', 'global vector over the activation tensors'),
];

export const METRIC_DEFINITIONS: Record<string, MetricDefinition> = Object.fromEntries(list.map((d) => [d.id, d]));

/** Metric ids in documentation order. */
export const METRIC_IDS: string[] = list.map((d) => d.id);
