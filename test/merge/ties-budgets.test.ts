import { describe, expect, it } from 'vitest';
import { partBudgets } from '../../src/merge/ties-budgets.js';
import type { ThresholdTies } from '../../src/numerics/select/trim.js';

describe("TIES ties budgets of a block's parts, from the prescan's counts", () => {
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
  const cut = [true, false, true];

  it('each part gets the budget the parts before it leave, never below zero (hand-computed)', () => {
    // budgets at block 0's start: 5, (none), 1
    expect(partBudgets([5, 9, 1], cut, ties, 0, ties.parts[0]).map((b) => Array.from(b))).toEqual([
      [5, 9, 1],
      [2, 9, 1], // 5 − 3; expert 2's part 0 has no tie
    ]);
    // block 1 from budgets 4, 9, 6: expert 2's 7 ties in part 0 use up its 6
    expect(partBudgets([4, 9, 6], cut, ties, 1, ties.parts[1]).map((b) => Array.from(b))).toEqual([
      [4, 9, 6],
      [0, 9, 0],
    ]);
  });

  it('is null where the counts do not cover the block: the kernel counts instead', () => {
    expect(partBudgets([5, 9, 1], cut, undefined, 0, ties.parts[0])).toBeNull();
    expect(partBudgets([5, 9, 1], cut, ties, 2, ties.parts[0])).toBeNull(); // no such block
    expect(partBudgets([5, 9, 1], cut, ties, 0, [[0, 11], [11, 20]])).toBeNull(); // split elsewhere
    expect(partBudgets([5, 9, 1], [true, true, true], ties, 0, ties.parts[0])).toBeNull(); // expert 1 has a cut but no counts
  });
});
