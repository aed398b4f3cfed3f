/**
 * iso_c — Iso-C (Marczak et al., "No Task Left Behind: Isotropic Model Merging with Common
 * and Task-Specific Subspaces", 2025), following the Demystifying Mergeability
 * `isotropic_sum` code:
 *
 * For each tensor viewed as an m×n matrix (rows = first dim):
 *   M = Σᵢ wᵢτᵢ = U Σ Vᵀ (thin SVD, r = min(m, n) components)
 *   Δ = σ̄·U Vᵀ,  σ̄ = (1/r)·Σⱼ σⱼ      (the spectrum flattened to its mean: "isotropic")
 *   θ = θ₀ + α·Δ
 * Scalars and 1-D tensors take the mean of the task vectors, θ = θ₀ + α·Σwᵢτᵢ/Σwᵢ (the
 * reference code's rule, task arithmetic with λ = α/N).
 * Default α = 1.0: the iso-merging configs tune α per model and task count (e.g. 1.0–1.5 for
 * 8–20 ViT tasks) and fall back to 1.0, which is what the Demystifying Mergeability pairs use.
 * If M is rank-deficient, U·Vᵀ is taken over its non-null components only (σ > 1e-6·σ₁; the
 * reference code also adds σ̄ times whatever singular vectors its SVD returns for the zero
 * singular values — arbitrary directions); then Δ has rank(M) equal singular values σ̄.
 * Cost: one full SVD per matrix (see svd.ts).
 */
import type { MergeMethod } from '../../types.js';
import { alphaParam, num, requireBase } from '../params.js';
import { fromMatrix, matmul, matrixShape, thinSvd, toMatrix } from '../svd.js';
import { meanTaskVectorMerge } from '../gta.js';

export const isoC: MergeMethod = {
  id: 'iso_c',
  aliases: ['isotropic'],
  description: 'Per matrix: M = Σ wᵢτᵢ = UΣVᵀ, Δ = mean(σ)·UVᵀ (isotropic spectrum), θ = θ₀ + α·Δ; 1-D tensors: θ₀ + α·mean τᵢ (α 1).',
  params: [alphaParam(1, 'Default 1 (iso-merging fallback, used for pairs).')],
  needsBase: true,
  minExperts: 1,
  maxExperts: Infinity,
  mergeTensor({ base, experts, weights, params, shape }) {
    const b = requireBase(base, 'iso_c');
    const alpha = num(params, 'alpha');
    const dims = matrixShape(shape);
    if (!dims) return meanTaskVectorMerge(b, experts, weights, alpha);
    const [m, n] = dims;
    const sum = new Float64Array(m * n);
    for (let e = 0; e < experts.length; e++) {
      const w = weights[e];
      const x = experts[e];
      for (let j = 0; j < sum.length; j++) sum[j] += w * (x[j] - b[j]);
    }
    const { U, s, V } = thinSvd(toMatrix(sum, m, n));
    if (s.length === 0) return b.slice(); // Σ wᵢτᵢ = 0 on this tensor
    // σ̄ over all min(m, n) singular values (null ones count as 0), as the reference code.
    let mean = 0;
    for (const v of s) mean += v;
    mean /= Math.min(m, n);
    const delta = fromMatrix(matmul(U, V.transpose()));
    const out = new Float32Array(b.length);
    for (let j = 0; j < out.length; j++) out[j] = b[j] + alpha * mean * delta[j];
    return out;
  },
};
