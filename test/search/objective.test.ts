import { describe, expect, it } from 'vitest';
import { objectiveValue, paretoFront, parseObjective } from '../../src/search/objective.js';
import { weightsFromPairs } from '../../src/search/guided-start.js';

const tasks = ['a', 'b', 'c'];
const s = { a: 0.9, b: 0.5, c: 0.7 };

describe('search objective', () => {
  it('mean, min and weighted mean of the per-task scores (hand-computed)', () => {
    expect(objectiveValue(parseObjective('mean', tasks), s, tasks)).toBeCloseTo(0.7, 15);
    expect(objectiveValue(parseObjective('min', tasks), s, tasks)).toBe(0.5);
    // (2·0.9 + 1·0.5) / 3 = 2.3/3
    expect(objectiveValue(parseObjective('weighted:a=2,b=1', tasks), s, tasks)).toBeCloseTo(2.3 / 3, 15);
  });

  it('refuses unknown kinds, tasks and bad weights', () => {
    expect(() => parseObjective('median', tasks)).toThrow(/mean, min or weighted/);
    expect(() => parseObjective('weighted:z=1', tasks)).toThrow(/unknown task "z"/);
    expect(() => parseObjective('weighted:a=-1', tasks)).toThrow(/weight ≥ 0/);
    expect(() => parseObjective('weighted:a=0', tasks)).toThrow(/> 0/);
  });

  it('Pareto front keeps exactly the non-dominated points', () => {
    const pts = [
      [1, 0], // front
      [0, 1], // front
      [0.5, 0.5], // front (nothing is ≥ on both and > on one)
      [0.4, 0.4], // dominated by [0.5, 0.5]
      [1, 0], // duplicate of a front point: kept
      [0.9, 0], // dominated by [1, 0]
    ];
    expect(paretoFront(pts)).toEqual([0, 1, 2, 4]);
  });
});

describe('predictor-guided start weights', () => {
  it('scale the uniform value by each expert’s mean predicted pair outcome ÷ the mean (hand-computed)', () => {
    const pairs = [
      { a: 'x', b: 'y', predicted: 0.9 },
      { a: 'x', b: 'z', predicted: 0.7 },
      { a: 'y', b: 'z', predicted: 0.5 },
    ];
    // affinity x = 0.8, y = 0.7, z = 0.6; mean 0.7 → weights 0.3·(8/7, 1, 6/7)
    const g = weightsFromPairs(['x', 'y', 'z'], pairs, 0.3, [0, 1]);
    expect(g.affinity.x).toBeCloseTo(0.8, 15);
    expect(g.weights[0]).toBeCloseTo((0.3 * 8) / 7, 12);
    expect(g.weights[1]).toBeCloseTo(0.3, 12);
    expect(g.weights[2]).toBeCloseTo((0.3 * 6) / 7, 12);
    // Clipped to the bounds.
    expect(weightsFromPairs(['x', 'y', 'z'], pairs, 0.3, [0, 0.32]).weights[0]).toBe(0.32);
  });
});
