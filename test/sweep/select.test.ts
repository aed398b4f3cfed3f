import { describe, expect, it } from 'vitest';
import { methodShares, selectInformative, selectRandom, standardise } from '../../src/sweep/select.js';
import { normalisedScore, parseExpertTasks, resolveExpertTasks, taskUniverse } from '../../src/sweep/outcome.js';
import { normalizedAccuracy } from '../../src/study/outcome.js';
import { learningCurve } from '../../src/sweep/curve.js';
import { mulberry32 } from '../../src/util/mulberry32.js';
import type { StudyDataset, StudyRow } from '../../src/types.js';

const allPairs = (n: number) => {
  const out: [number, number][] = [];
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) out.push([i, j]);
  return out;
};

describe('budget selection', () => {
  it('splits the budget equally over methods, remainder first', () => {
    expect(methodShares(10, ['a', 'b', 'c'], 45)).toEqual([4, 3, 3]);
    expect(methodShares(10, ['a', 'b'], 3)).toEqual([3, 3]); // never more than the pairs
  });

  it('standardises to mean 0 / sd 1 and drops constant or non-finite columns', () => {
    const z = standardise([
      [1, 5, NaN],
      [3, 5, 1],
    ]);
    expect(z).toEqual([[-1], [1]]);
  });

  it('covers every expert first, then picks by max-min distance (checked against brute force)', () => {
    const rnd = mulberry32(3);
    const experts = 6;
    const pairs = allPairs(experts);
    const features = pairs.map(() => [rnd(), rnd(), rnd() * 10]);
    const picks = selectInformative({ pairs, features, methods: ['m'], experts, budget: 6 });
    expect(picks).toHaveLength(6);
    const chosen = picks.map((p) => p.pair);
    // coverage: the first ⌈6/2⌉ = 3 picks already cover all six experts
    expect(new Set(chosen.slice(0, 3).flatMap((p) => pairs[p])).size).toBe(6);
    // after coverage each pick maximises the distance to the nearest earlier pick
    const z = standardise(features);
    const d2 = (a: number, b: number) => z[a].reduce((s, v, k) => s + (v - z[b][k]) ** 2, 0);
    for (let k = 3; k < chosen.length; k++) {
      const minTo = (p: number) => Math.min(...chosen.slice(0, k).map((q) => d2(p, q)));
      const best = Math.max(...pairs.map((_, p) => (chosen.slice(0, k).includes(p) ? -Infinity : minTo(p))));
      expect(minTo(chosen[k])).toBe(best);
    }
    expect(new Set(chosen).size).toBe(chosen.length);
  });

  it('random selection has the same shares, no repeats, and depends on the seed', () => {
    const pairs = allPairs(10);
    const a = selectRandom({ pairs, methods: ['x', 'y'], experts: 10, budget: 9 }, 1);
    expect(a.filter((p) => p.method === 'x')).toHaveLength(5);
    expect(new Set(a.map((p) => `${p.pair}${p.method}`)).size).toBe(9);
    expect(selectRandom({ pairs, methods: ['x', 'y'], experts: 10, budget: 9 }, 2)).not.toEqual(a);
  });
});

describe('sweep outcome', () => {
  it('with one task per expert equals the built-in study’s normalized accuracy exactly', () => {
    const n = normalisedScore({ a: 0.81, b: 0.6 }, { a: 0.9 }, ['a'], { b: 0.75 }, ['b'])!;
    expect(n).toEqual(normalizedAccuracy([0.81, 0.6], [0.9, 0.75]));
  });

  it('averages over an expert’s tasks, and refuses to divide by a score ≤ 0', () => {
    const n = normalisedScore({ t1: 0.5, t2: 0.2, u: 1 }, { t1: 1, t2: 0.4 }, ['t1', 't2'], { u: 0.5 }, ['u'])!;
    expect(n.a).toBeCloseTo((0.5 + 0.5) / 2, 15);
    expect(n.mean).toBeCloseTo((0.5 + 2) / 2, 15);
    expect(normalisedScore({ t: 1 }, { t: 0 }, ['t'], { t: 1 }, ['t'])).toBeNull();
  });

  it('maps experts to tasks: explicit, by name, else by the largest gain over the base', () => {
    expect(parseExpertTasks(['math=gsm8k,minerva'])).toEqual({ math: ['gsm8k', 'minerva'] });
    expect(() => parseExpertTasks(['math'])).toThrow(/EXPERT=task1,task2/);
    expect(taskUniverse(['a', 'b'], { b: ['x', 'y'] })).toEqual(['a', 'x', 'y']);
    const r = resolveExpertTasks(['code', 'chat'], { chat: ['mtbench'] }, ['humaneval', 'mtbench'], {
      base: { humaneval: 0.3, mtbench: 0.5 },
      experts: { code: { humaneval: 0.5, mtbench: 0.55 }, chat: { humaneval: 0.3, mtbench: 0.7 } },
    });
    expect(r.tasks).toEqual({ code: ['humaneval'], chat: ['mtbench'] });
    expect(r.inferred).toEqual(['code=humaneval']);
  });
});

describe('learning curve', () => {
  it('on outcomes exactly linear in one metric, every fitted budget predicts the rest almost perfectly', () => {
    const rnd = mulberry32(7);
    const experts = Array.from({ length: 8 }, (_, i) => `e${i}`);
    const rows: StudyRow[] = [];
    for (const [i, j] of allPairs(8)) {
      const x = rnd();
      const noise = rnd();
      for (const method of ['m1', 'm2']) rows.push({ a: experts[i], b: experts[j], method, outcome: (method === 'm1' ? 1 : 0.5) + 0.3 * x, metrics: { tv_cosine: x, sign_agreement: noise } });
    }
    const ds: StudyDataset = { format: 'mergelens.study', version: 1, createdAt: '', description: 'synthetic', outcome: 'y', experts, methods: ['m1', 'm2'], metricIds: ['tv_cosine', 'sign_agreement'], rows };
    const c = learningCurve(ds, { budgets: [16, 28], randomSeeds: 3 });
    for (const p of c.points) {
      expect(p.heldOut).toBe(rows.length - p.budget);
      expect(p.selected.methodR).toBeGreaterThan(0.99);
      expect(p.selected.rmse).toBeLessThan(0.02);
      expect(p.random.mean.methodR).toBeGreaterThan(0.99);
    }
    expect(c.all.kfold.methodR).toBeGreaterThan(0.99);
  });
});
