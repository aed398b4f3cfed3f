/**
 * Which way a metric points: for most metrics a higher value means the two experts are more
 * alike (cosines, overlaps, sign agreement), for a few a lower value does (distances, angles,
 * the rank of the stacked pair, sign conflict). The report uses this to derive clustering
 * distances and to rank pairs when no predictor is given.
 */

const LOWER_IS_SIMILAR = new Set([
  'tv_l2',
  'tv_angle',
  'sign_conflict',
  'effective_rank',
  'stable_rank',
  'singular_ratio',
  'layerwise_effective_rank',
  'enc_grad_l2',
  'input_grad_l2',
  'act_l2',
]);

/** True when a lower value of metric `id` means the experts are more alike. */
export function lowerIsSimilar(id: string): boolean {
  if (LOWER_IS_SIMILAR.has(id)) return true;
  // Unknown ids: distances and angles by naming convention, everything else a similarity.
  return /(_l2|_angle|_distance|conflict)$/.test(id);
}
