/**
 * task_arithmetic (Ilharco et al. 2023): θ = θ₀ + λ·Σᵢ wᵢτᵢ, τᵢ = θᵢ − θ₀.
 *
 * Default λ = 0.3: the value the Demystifying Mergeability code uses for its pairwise
 * merges (conf/merger/task_arithmetic.yaml, optimal_alpha: 0.3), whose outcomes our
 * predictors are built after. mergekit's default is λ = 1 — pass `lambda=1` to match it.
 * normalize = true divides Σ wᵢτᵢ by Σ wᵢ (default false, as mergekit).
 */
import type { MergeMethod } from '../../types.js';
import { gtaMerge } from '../gta.js';
import { bool, lambdaParam, normalizeParam, num, requireBase } from '../params.js';

export const taskArithmetic: MergeMethod = {
  id: 'task_arithmetic',
  aliases: [],
  description: 'θ = θ₀ + λ·Σ wᵢτᵢ with τᵢ = θᵢ − θ₀ (default λ = 0.3, the Demystifying Mergeability value for pairs; mergekit uses 1).',
  params: [
    lambdaParam(0.3, 'Default 0.3 (Demystifying Mergeability pairs); mergekit default 1.'),
    normalizeParam(false, 'Divide Σ wᵢτᵢ by Σ wᵢ.'),
  ],
  needsBase: true,
  minExperts: 1,
  maxExperts: Infinity,
  rowChunks: () => true, // purely elementwise
  mergeTensor({ base, experts, weights, params }) {
    return gtaMerge(requireBase(base, 'task_arithmetic'), experts, weights, {
      sparsify: 'none',
      consensus: false,
      density: 1,
      rescale: 'none',
      normalize: bool(params, 'normalize'),
      lambda: num(params, 'lambda'),
    });
  },
};
