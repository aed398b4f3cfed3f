/**
 * weight_avg (alias `linear`, "model soup"): weighted mean of the full weights.
 *
 *   θ = Σᵢ wᵢθᵢ / Σᵢ wᵢ      (normalize = true, default; mergekit `linear`)
 *   θ = Σᵢ wᵢθᵢ              (normalize = false)
 *
 * The base is not part of the average (as in mergekit `linear` and the Demystifying
 * Mergeability `weight_avg`); weights default to 1, i.e. the plain mean of the experts.
 */
import type { MergeMethod } from '../../types.js';
import { combine } from '../gta.js';
import { bool, normalizeParam } from '../params.js';

export const weightAvg: MergeMethod = {
  id: 'weight_avg',
  aliases: ['linear'],
  description: 'θ = Σ wᵢθᵢ / Σ wᵢ — weighted mean of the experts\' full weights (model soup); the base is not averaged in.',
  params: [normalizeParam(true, 'Divide by Σ wᵢ (false: plain weighted sum).')],
  needsBase: false,
  minExperts: 1,
  maxExperts: Infinity,
  rowChunks: () => true, // purely elementwise
  mergeTensor({ experts, weights, params }) {
    let wsum = 0;
    for (const w of weights) wsum += w;
    const div = bool(params, 'normalize') && Math.abs(wsum) >= 1e-8 ? wsum : 1;
    // Σ wᵢθᵢ / div in float64, expert order: the GTA combine with no base, λ = 1
    return combine(null, experts, weights, false, false, 1, div);
  },
};
