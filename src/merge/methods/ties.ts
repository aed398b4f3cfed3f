/**
 * ties (Yadav et al. 2023, "TIES-Merging"), with mergekit's parameter names and rules:
 *
 *   1. trim:  τ̂ᵢ = top-k(|τᵢ|) entries of τᵢ, k = max(1, ⌊density·numel⌋), others 0
 *   2. elect: s = sign(Σᵢ wᵢτ̂ᵢ) per entry, ties (sum 0) → +   ("mass" rule)
 *   3. disjoint mean: Δ = Σᵢ [sign(wᵢτ̂ᵢ) = s]·wᵢτ̂ᵢ / Σᵢ [sign(wᵢτ̂ᵢ) = s]·wᵢ
 *      (an entry trimmed to 0 counts as disagreeing; divisor 0 → 1)
 *   θ = θ₀ + λ·Δ
 *
 * Defaults: density = 0.2 (the TIES paper's top-20%), normalize = true (disjoint mean),
 * λ = 1 (TIES paper and mergekit). Note: the Demystifying Mergeability code merges pairs
 * with TIES at λ = 0.3 (conf/merger/ties.yaml, scaling_coefficient: 0.3) — pass
 * `lambda=0.3` to reproduce its numbers.
 */
import type { MergeMethod } from '../../types.js';
import { gtaMerge } from '../gta.js';
import { bool, densityParam, lambdaParam, normalizeParam, num, requireBase } from '../params.js';

export const ties: MergeMethod = {
  id: 'ties',
  aliases: [],
  description:
    'Trim each τᵢ to its top-density magnitudes, elect sign s = sign(Σ wᵢτ̂ᵢ) (ties → +), disjoint mean of agreeing entries Σ wᵢτ̂ᵢ·maskᵢ / Σ wᵢ·maskᵢ, θ = θ₀ + λ·Δ (density 0.2, λ 1).',
  params: [
    densityParam(0.2, 'Fraction of each task vector kept by magnitude (k = max(1, ⌊density·numel⌋)).'),
    lambdaParam(1, 'Default 1 (TIES paper, mergekit); Demystifying Mergeability used 0.3.'),
    normalizeParam(true, 'Disjoint mean (divide by Σ wᵢ·maskᵢ); false: disjoint sum.'),
  ],
  needsBase: true,
  minExperts: 1,
  maxExperts: Infinity,
  mergeTensor({ base, experts, weights, params }) {
    return gtaMerge(requireBase(base, 'ties'), experts, weights, {
      sparsify: 'magnitude',
      consensus: true,
      density: num(params, 'density'),
      rescale: 'none',
      normalize: bool(params, 'normalize'),
      lambda: num(params, 'lambda'),
    });
  },
};
