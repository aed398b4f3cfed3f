/**
 * tsv — TSV-Merge (Gargiulo et al., "Task Singular Vectors: Reducing Task Interference in
 * Model Merging", CVPR 2025), following the reference code (task_singular_vectors
 * `compute_and_sum_svd_mem_reduction`, and Demystifying Mergeability's `tsv` merger):
 *
 * For each tensor viewed as an m×n matrix (rows = first dim; r = min(m, n)), with the N
 * task vectors τᵢ = wᵢ·(θᵢ − θ₀):
 *   1. τᵢ = Uᵢ Σᵢ Vᵢᵀ; keep each task's top k = max(1, ⌊r/N⌋) singular triplets;
 *   2. concatenate: U = [U₁,k … U_N,k] (m × Nk), σ = [σ₁,k … σ_N,k], V = [V₁,k … V_N,k] (n × Nk);
 *   3. orthogonalise (Procrustes): U⊥ = P Qᵀ from U = P S Qᵀ, likewise V⊥;
 *      (null components, σ ≤ 1e-6·σ₁, are dropped in 1 and 3 — see svd.ts — so rank-deficient
 *      task vectors or shared directions give a unique result instead of arbitrary ones;)
 *   4. Δ = U⊥ diag(σ) V⊥ᵀ,  θ = θ₀ + α·Δ.
 * Scalars and 1-D tensors (biases, norms) take the mean of the task vectors, θ = θ₀ + α·Σwᵢτᵢ/Σwᵢ
 * (the reference code's "mean" rule, i.e. task arithmetic with λ = α/N).
 * Default α = 1.0 (the reference code applies TSV-M unscaled). The reference code skips ≥3-D
 * tensors; here they are merged as their 2-D view. Cost: N+2 full SVDs per matrix (see svd.ts).
 * With one expert, k = r and the result is exactly θ₁ (up to rounding); with two identical
 * experts it is θ₀ + α·(τ truncated to its top ⌊r/2⌋ components).
 */
import type { MergeMethod } from '../../types.js';
import { alphaParam, num, requireBase } from '../params.js';
import { fromMatrix, matrixShape, procrustes, reconstruct, thinSvd, toMatrix, type ThinSvd } from '../svd.js';
import { Matrix } from 'ml-matrix';
import { meanTaskVectorMerge } from '../gta.js';

export const tsv: MergeMethod = {
  id: 'tsv',
  aliases: ['tsv_m'],
  description:
    'Per matrix: keep each τᵢ\'s top ⌊r/N⌋ singular triplets, concatenate, orthogonalise U and V (Procrustes), Δ = U⊥ diag(σ) V⊥ᵀ, θ = θ₀ + α·Δ; 1-D tensors: θ₀ + α·mean τᵢ (α 1).',
  params: [alphaParam(1, 'Default 1 (TSV-M reference code).')],
  needsBase: true,
  minExperts: 1,
  maxExperts: Infinity,
  mergeTensor({ base, experts, weights, params, shape }) {
    const b = requireBase(base, 'tsv');
    const alpha = num(params, 'alpha');
    const dims = matrixShape(shape);
    if (!dims) return meanTaskVectorMerge(b, experts, weights, alpha);
    const [m, n] = dims;
    const N = experts.length;
    const k = Math.max(1, Math.floor(Math.min(m, n) / N));
    const parts: ThinSvd[] = [];
    const tau = new Float64Array(m * n);
    for (let e = 0; e < N; e++) {
      const w = weights[e];
      const x = experts[e];
      for (let j = 0; j < tau.length; j++) tau[j] = w * (x[j] - b[j]);
      parts.push(thinSvd(toMatrix(tau, m, n), k));
    }
    const c = parts.reduce((acc, p) => acc + p.s.length, 0);
    if (c === 0) return b.slice(); // every task vector is zero on this tensor
    const U = new Matrix(m, c);
    const V = new Matrix(n, c);
    const sigma: number[] = [];
    for (const p of parts) {
      for (let j = 0; j < p.s.length; j++) {
        U.setColumn(sigma.length, p.U.getColumn(j));
        V.setColumn(sigma.length, p.V.getColumn(j));
        sigma.push(p.s[j]);
      }
    }
    const delta = fromMatrix(reconstruct(procrustes(U), sigma, procrustes(V)));
    const out = new Float32Array(b.length);
    for (let j = 0; j < out.length; j++) out[j] = b[j] + alpha * delta[j];
    return out;
  },
};
