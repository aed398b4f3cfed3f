/**
 * TIES keeps, per expert, the |τᵢ| above its threshold and the first `ties` equal to it in flat
 * order. A block merged in parts on several threads therefore needs each part's budget: what the
 * parts before it leave. The kernel can count the ties of those parts again (decoding them a
 * second time: 6 % of a TIES merge's CPU at 1.1B × 8, and the later parts ran longer than the
 * first); this takes them from the prescan's sweep instead, which counted them per part already.
 */
import type { ThresholdTies } from '../numerics/select/trim.js';

/**
 * Each part's budgets (u32 per expert, as the kernel's cuts hold them at 8i + 4) for block
 * `block` of a tensor, split as `ranges`, from the budgets at the block's start: a part's budget
 * is the one before it less that part's ties, never below 0. Null when the prescan's counts do
 * not cover this block for every expert with a cut (`hasCut`), or it split the block otherwise.
 */
export function partBudgets(start: ArrayLike<number>, hasCut: readonly boolean[], equal: ThresholdTies | undefined, block: number, ranges: readonly (readonly [number, number])[]): Uint32Array[] | null {
  const swept = equal?.parts[block];
  if (!equal || !swept || swept.length !== ranges.length || swept.some(([a, b], p) => a !== ranges[p][0] || b !== ranges[p][1])) return null;
  if (hasCut.some((cut, i) => cut && !equal.counts[i])) return null;
  const left = Array.from(start);
  return ranges.map((_, p) => {
    const budget = Uint32Array.from(left);
    hasCut.forEach((cut, i) => {
      if (cut) left[i] = Math.max(0, left[i] - equal.counts[i]![block][p]);
    });
    return budget;
  });
}
