/** The study's outcome measure, kept separate so it is defined (and tested) in one place. */
import { MergelensError } from '../errors.js';

/**
 * Normalized accuracy of a merge on a pair: for each of the two tasks, merged accuracy divided by
 * that task's own expert accuracy, then the mean of the two ratios (1 = no loss from merging).
 */
export function normalizedAccuracy(merged: readonly [number, number], expert: readonly [number, number]): { a: number; b: number; mean: number } {
  for (const e of expert) {
    if (!(e > 0)) throw new MergelensError('BAD_INPUT', `expert accuracy must be > 0 to normalize, got ${e}`);
  }
  const a = merged[0] / expert[0];
  const b = merged[1] / expert[1];
  return { a, b, mean: (a + b) / 2 };
}
