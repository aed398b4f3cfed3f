/** The study's outcome measures, kept separate so they are defined (and tested) in one place. */
import { MergelensError } from '../errors.js';
import { PROBE_DESCRIPTION } from './probe.js';

/** Per task merged/expert accuracy and their mean (1 = no loss from merging). */
export function normalizedAccuracies(merged: readonly number[], expert: readonly number[]): { ratios: number[]; mean: number } {
  if (merged.length !== expert.length || merged.length === 0) throw new Error(`normalizedAccuracies: ${merged.length} merged vs ${expert.length} expert accuracies`);
  for (const e of expert) {
    if (!(e > 0)) throw new MergelensError('BAD_INPUT', `expert accuracy must be > 0 to normalize, got ${e}`);
  }
  const ratios = merged.map((m, k) => m / expert[k]);
  return { ratios, mean: ratios.reduce((s, r) => s + r, 0) / ratios.length };
}

/**
 * Normalized accuracy of a merge on a pair: for each of the two tasks, merged accuracy divided by
 * that task's own expert accuracy, then the mean of the two ratios (1 = no loss from merging).
 */
export function normalizedAccuracy(merged: readonly [number, number], expert: readonly [number, number]): { a: number; b: number; mean: number } {
  const { ratios, mean } = normalizedAccuracies(merged, expert);
  return { a: ratios[0], b: ratios[1], mean };
}

export const GROUP_OUTCOME_DESCRIPTION =
  "normalized accuracy over the group: for each task of the group, merged-encoder test accuracy (with that task's own expert head) ÷ the expert's own test accuracy; mean over the group's k tasks";

/**
 * Held-out outcome of a merged encoder on the tasks outside its group: per held-out task, the
 * linear probe's test accuracy on the merged encoder ÷ the same probe's accuracy on the base
 * encoder, then the mean over those tasks (1 = features as useful as the base's; > 1 = better).
 */
export function heldOutRatio(mergedProbe: readonly number[], baseProbe: readonly number[]): number {
  if (mergedProbe.length !== baseProbe.length || mergedProbe.length === 0) throw new Error(`heldOutRatio: ${mergedProbe.length} merged vs ${baseProbe.length} base probe accuracies`);
  for (const b of baseProbe) {
    if (!(b > 0)) throw new MergelensError('BAD_INPUT', `base probe accuracy must be > 0 to normalize, got ${b}`);
  }
  return mergedProbe.reduce((s, m, k) => s + m / baseProbe[k], 0) / mergedProbe.length;
}

export const HELD_OUT_DESCRIPTION =
  "held-out generalization: for each task outside the group, the linear probe's test accuracy on the merged encoder ÷ the same probe's " +
  'accuracy on the base encoder; mean over the held-out tasks (1 = as good as the base, > 1 = better; absent when the group holds every task). ' +
  `Probe: ${PROBE_DESCRIPTION}. Extras: heldout_probe / heldout_base = mean raw probe accuracy of the merged / base encoder over the held-out tasks; ` +
  'heldout_experts = the same ratio for the unmerged experts of the group (mean over them), heldout_best_expert = the best of them';
