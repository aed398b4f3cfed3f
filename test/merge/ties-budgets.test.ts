import { describe, expect, it } from 'vitest';
import { partCuts } from '../../src/merge/ties-budgets.js';
import type { ThresholdTies } from '../../src/numerics/select/trim.js';

/** Cuts as the kernel holds them: per expert [threshold's float32 bits (−1: no cut), ties budget]. */
function cutsOf(thresholds: number[], budgets: number[]): Uint32Array {
  const u = new Uint32Array(2 * thresholds.length);
  const f = new Float32Array(u.buffer);
  thresholds.forEach((t, i) => {
    f[2 * i] = t;
    u[2 * i + 1] = budgets[i];
  });
  return u;
}
const budgetsOf = (cuts: Uint32Array) => Array.from(cuts.filter((_, j) => j % 2 === 1));

describe("TIES cuts of a block's parts, from the prescan's counts", () => {
  // two blocks, each swept in two parts; expert 0: ties 3, 4 | 5, 1; expert 1: no cut; expert 2: 0, 2 | 7, 7
  const ties: ThresholdTies = {
    parts: [
      [
        [0, 10],
        [10, 20],
      ],
      [
        [0, 8],
        [8, 16],
      ],
    ],
    counts: [
      [
        [3, 4],
        [5, 1],
      ],
      null,
      [
        [0, 2],
        [7, 7],
      ],
    ],
  };
  const thresholds = [0.5, -1, 0.25];

  it('each part gets the budget the parts before it leave, never below zero, thresholds kept (hand-computed)', () => {
    // budgets at block 0's start: 5, (none), 1
    const block0 = partCuts(cutsOf(thresholds, [5, 9, 1]), ties, 0, ties.parts[0])!;
    expect(block0.map(budgetsOf)).toEqual([
      [5, 9, 1],
      [2, 9, 1], // 5 − 3; expert 2's part 0 has no tie
    ]);
    for (const part of block0) expect(Array.from(new Float32Array(part.buffer).filter((_, j) => j % 2 === 0))).toEqual(thresholds);
    // block 1 from budgets 4, 9, 6: expert 2's 7 ties in part 0 use up its 6
    expect(partCuts(cutsOf(thresholds, [4, 9, 6]), ties, 1, ties.parts[1])!.map(budgetsOf)).toEqual([
      [4, 9, 6],
      [0, 9, 0],
    ]);
    // a cut at threshold 0 is a cut
    expect(partCuts(cutsOf([0, -1, 0.25], [5, 9, 1]), ties, 0, ties.parts[0])!.map(budgetsOf)[1]).toEqual([2, 9, 1]);
  });

  it('is null where the counts do not cover the block: the kernel counts instead', () => {
    const cuts = cutsOf(thresholds, [5, 9, 1]);
    expect(partCuts(cuts, undefined, 0, ties.parts[0])).toBeNull();
    expect(partCuts(cuts, ties, 2, ties.parts[0])).toBeNull(); // no such block
    expect(partCuts(cuts, ties, 0, [[0, 11], [11, 20]])).toBeNull(); // split elsewhere
    expect(partCuts(cutsOf([0.5, 0.1, 0.25], [5, 9, 1]), ties, 0, ties.parts[0])).toBeNull(); // expert 1 has a cut but no counts
  });
});
