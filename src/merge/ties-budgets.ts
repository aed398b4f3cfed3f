/**
 * TIES keeps, per expert, the |τᵢ| above its threshold and the first `ties` equal to it in flat
 * order. A block merged in parts on several threads therefore needs each part's budget: what the
 * parts before it leave. The kernel can count the ties of those parts again (decoding them a
 * second time: 6 % of a TIES merge's CPU at 1.1B × 8, and the later parts ran longer than the
 * first); this takes them from the prescan's sweep instead, which counted them per part already.
 */
import type { ThresholdTies } from '../numerics/select/trim.js';

/**
 * Each part's cuts for block `block` of a tensor, split as `ranges`, from the cuts at the
 * block's start (as the kernel holds them: per expert, the threshold's float32 bits — negative:
 * no cut — and the ties budget): a part's budget is the one before it less that part's ties,
 * never below 0. Null when the prescan's counts do not cover this block for every expert with a
 * cut, or it split the block otherwise (the kernel then counts).
 */
export function partCuts(cuts: Uint32Array, equal: ThresholdTies | undefined, block: number, ranges: readonly (readonly [number, number])[]): Uint32Array[] | null {
  const swept = equal?.parts[block];
  if (!equal || !swept || swept.length !== ranges.length || swept.some(([a, b], p) => a !== ranges[p][0] || b !== ranges[p][1])) return null;
  // experts with a cut: a threshold of sign bit 0 (−1 marks none)
  const cut = Array.from({ length: cuts.length / 2 }, (_, i) => cuts[2 * i] >>> 31 === 0);
  if (cut.some((c, i) => c && !equal.counts[i])) return null;
  const left = Uint32Array.from(cuts);
  return ranges.map((_, p) => {
    const part = left.slice();
    cut.forEach((c, i) => {
      if (c) left[2 * i + 1] = Math.max(0, left[2 * i + 1] - equal.counts[i]![block][p]);
    });
    return part;
  });
}
