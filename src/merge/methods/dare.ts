/**
 * dare (Yu et al. 2024, "Language Models are Super Mario") and dare_ties:
 *
 *   τ̃ᵢ = mᵢ ⊙ τᵢ · r,  mᵢ ~ Bernoulli(density) per entry  (drop rate p = 1 − density)
 *   r = 1/(1−p)                        rescale = "inverse" (default; the DARE paper's rule, unbiased)
 *   r = ‖τᵢ‖₁ / ‖mᵢ⊙τᵢ‖₁               rescale = "l1" (mergekit's rule; `rescale: true` in a mergekit config)
 *   r = 1                              rescale = "none"
 *   dare:      θ = θ₀ + λ·Σᵢ wᵢτ̃ᵢ                         (mergekit `dare_linear`)
 *   dare_ties: TIES sign election + disjoint combination of the τ̃ᵢ (see ties.ts), θ = θ₀ + λ·Δ
 *
 * Defaults: density = 0.1 (p = 0.9, the DARE paper and Demystifying Mergeability), λ = 1,
 * normalize = false (as mergekit's dare_linear / dare_ties). The Demystifying Mergeability
 * `dare` config averages the dropped task vectors — that is `normalize=true`.
 *
 * The mask is drawn from TensorMergeInput.random, a stream seeded from (seed, tensor name):
 * the same seed gives bit-identical output. Draws are consumed expert by expert, entry by
 * entry in flat order.
 */
import type { MergeMethod, ParamSpec, ParamValue, TensorMergeInput } from '../../types.js';
import { gtaMerge } from '../gta.js';
import { bool, densityParam, lambdaParam, normalizeParam, num, requireBase, str } from '../params.js';
import type { RescaleRule } from '../sparsify.js';

const rescaleParam: ParamSpec = {
  name: 'rescale',
  type: 'string',
  default: 'inverse',
  choices: ['inverse', 'l1', 'none'],
  fromBoolean: { true: 'l1', false: 'none' },
  doc: 'How survivors are rescaled: "inverse" = ×1/density (DARE paper), "l1" = match the L1 norm (mergekit; true in a mergekit config), "none".',
};

function dareParams(normalizeDefault: boolean, normalizeDoc: string): ParamSpec[] {
  return [
    densityParam(0.1, 'Keep probability per entry (drop rate p = 1 − density; default p = 0.9).'),
    rescaleParam,
    lambdaParam(1, 'Default 1.'),
    normalizeParam(normalizeDefault, normalizeDoc),
  ];
}

function dareMerge(input: TensorMergeInput, consensus: boolean, id: string): Float32Array {
  const { base, experts, weights, params, random, expertRandom, expertParams } = input;
  return gtaMerge(requireBase(base, id), experts, weights, {
    sparsify: 'random',
    consensus,
    density: num(params, 'density'),
    densities: expertParams?.density, // mergekit's per-model density
    rescale: str(params, 'rescale') as RescaleRule,
    normalize: bool(params, 'normalize'),
    lambda: num(params, 'lambda'),
    random,
    randomFor: expertRandom,
  });
}

/** Elementwise given the per-expert streams, except the "l1" rescale, which needs whole-tensor norms. */
const dareRowChunks = (params: Record<string, ParamValue>, expertParams?: Record<string, number[]>) =>
  str(params, 'rescale') !== 'l1' || (expertParams?.density ?? [num(params, 'density')]).every((d) => d >= 1);

export const dare: MergeMethod = {
  id: 'dare',
  aliases: ['dare_linear'],
  description:
    'Drop each τᵢ entry with probability p = 1 − density, rescale survivors by 1/(1−p), θ = θ₀ + λ·Σ wᵢτ̃ᵢ (density 0.1, λ 1; seeded).',
  params: dareParams(false, 'Divide Σ wᵢτ̃ᵢ by Σ wᵢ (true reproduces the Demystifying Mergeability mean).'),
  needsBase: true,
  minExperts: 1,
  maxExperts: Infinity,
  perExpertParams: ['density'],
  mergeTensor: (input) => dareMerge(input, false, 'dare'),
  rowChunks: dareRowChunks,
};

export const dareTies: MergeMethod = {
  id: 'dare_ties',
  aliases: [],
  description:
    'DARE drop-and-rescale of each τᵢ, then TIES sign election and disjoint combination, θ = θ₀ + λ·Δ (density 0.1, λ 1, normalize false; seeded).',
  params: dareParams(false, 'Disjoint mean (divide by Σ wᵢ·maskᵢ) instead of the disjoint sum.'),
  needsBase: true,
  minExperts: 1,
  maxExperts: Infinity,
  perExpertParams: ['density'],
  mergeTensor: (input) => dareMerge(input, true, 'dare_ties'),
  rowChunks: dareRowChunks,
};
