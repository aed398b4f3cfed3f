import { describe, expect, it } from 'vitest';
import { choose, combinations, groupSizes, parseGroupSample, sampleGroups } from '../../src/study/groups.js';
import { groupTrend, meanSe, olsSlope } from '../../src/study/group-trend.js';
import type { StudyDataset } from '../../src/types.js';

describe('group sampling', () => {
  it('enumerates every k-subset once, ascending', () => {
    expect(combinations(4, 2)).toEqual([
      [0, 1],
      [0, 2],
      [0, 3],
      [1, 2],
      [1, 3],
      [2, 3],
    ]);
    // 10 experts: C(10, k) for k = 3…8 (Pascal's triangle)
    expect([3, 4, 5, 6, 7, 8].map((k) => choose(10, k))).toEqual([120, 210, 252, 210, 120, 45]);
    for (const k of [3, 5, 8]) {
      const all = combinations(10, k);
      expect(all).toHaveLength(choose(10, k));
      expect(new Set(all.map((g) => g.join(','))).size).toBe(all.length);
      for (const g of all) for (let i = 1; i < g.length; i++) expect(g[i]).toBeGreaterThan(g[i - 1]);
    }
    expect(groupSizes(10)).toEqual([3, 4, 5, 6, 7, 8]);
    expect(groupSizes(4)).toEqual([3, 4]);
    expect(groupSizes(2)).toEqual([]);
  });

  it('is seeded and nested: a smaller sample is a prefix of a larger one and of "all"', () => {
    const all = sampleGroups(10, 4, 'all', 1);
    expect(all).toHaveLength(210);
    expect(sampleGroups(10, 4, 2, 1)).toEqual(all.slice(0, 2));
    expect(sampleGroups(10, 4, 12, 1)).toEqual(all.slice(0, 12));
    expect(sampleGroups(10, 4, 12, 1)).toEqual(sampleGroups(10, 4, 12, 1));
    expect(sampleGroups(10, 4, 12, 2)).not.toEqual(sampleGroups(10, 4, 12, 1));
    // more than exist: all of them
    expect(sampleGroups(4, 3, 10, 1)).toHaveLength(4);
    expect(sampleGroups(10, 3, 0, 1)).toEqual([]);
  });

  it('parses --groups', () => {
    expect(parseGroupSample('off')).toBe(0);
    expect(parseGroupSample('all')).toBe('all');
    expect(parseGroupSample('full')).toBe('all');
    expect(parseGroupSample('6')).toBe(6);
    expect(() => parseGroupSample('-1')).toThrow(/--groups must be/);
    expect(() => parseGroupSample('some')).toThrow(/--groups must be/);
  });
});

describe('trend with group size', () => {
  it('mean ± SE and the OLS slope match hand computations', () => {
    // 1, 2, 3: mean 2, sd 1, SE 1/√3
    expect(meanSe([1, 2, 3]).mean).toBe(2);
    expect(meanSe([1, 2, 3]).se).toBeCloseTo(1 / Math.sqrt(3), 14);
    // y = 1 − 0.1x exactly: slope −0.1, SE 0
    const exact = olsSlope([2, 3, 4, 5], [0.8, 0.7, 0.6, 0.5])!;
    expect(exact.slope).toBeCloseTo(-0.1, 14);
    expect(exact.se).toBeCloseTo(0, 12);
    // x = 0,1,2; y = 0,2,1: slope 0.5, residuals −0.5, 1, −0.5 → s² = 1.5/1, Sxx = 2, SE = √0.75
    const s = olsSlope([0, 1, 2], [0, 2, 1])!;
    expect(s.slope).toBeCloseTo(0.5, 14);
    expect(s.se).toBeCloseTo(Math.sqrt(0.75), 14);
    expect(olsSlope([1, 1, 1], [1, 2, 3])).toBeUndefined();
  });

  it('groups pairs as k = 2 and groups by size, per method', () => {
    const ds: StudyDataset = {
      format: 'mergelens.study',
      version: 1,
      createdAt: '',
      description: '',
      outcome: '',
      experts: ['a', 'b', 'c', 'd'],
      methods: ['m', 'slerp'],
      metricIds: [],
      rows: [
        { a: 'a', b: 'b', method: 'm', outcome: 0.9, metrics: {} },
        { a: 'c', b: 'd', method: 'm', outcome: 0.8, metrics: {} },
        { a: 'a', b: 'b', method: 'slerp', outcome: 0.95, metrics: {} },
      ],
      groups: [
        { experts: ['a', 'b', 'c'], method: 'm', outcome: 0.7, heldOut: 1.1, extra: { heldout_experts: 1.0, heldout_best_expert: 1.05 } },
        { experts: ['b', 'c', 'd'], method: 'm', outcome: 0.6, heldOut: 0.9, extra: { heldout_experts: 0.95, heldout_best_expert: 1.0 } },
        { experts: ['a', 'b', 'c', 'd'], method: 'm', outcome: 0.5 },
      ],
    };
    const t = groupTrend(ds);
    expect(t.sizes).toEqual([2, 3, 4]);
    expect(t.methods.map((m) => m.method)).toEqual(['m']); // slerp merged no group
    const m = t.methods[0];
    expect(m.byK[2].n).toBe(2);
    expect(m.byK[2].heldIn).toBeCloseTo(0.85, 14);
    expect(m.byK[2].heldOut).toBeUndefined();
    expect(m.byK[3].heldIn).toBeCloseTo(0.65, 14);
    expect(m.byK[3].heldOut).toBeCloseTo(1, 14);
    expect(m.byK[4]).toMatchObject({ n: 1, heldIn: 0.5, heldInSe: 0 });
    expect(m.heldInSlope!.n).toBe(5);
    expect(m.heldInSlope!.slope).toBeCloseTo(olsSlope([2, 2, 3, 3, 4], [0.9, 0.8, 0.7, 0.6, 0.5])!.slope, 14);
    expect(m.heldInSlope!.slope).toBeLessThan(0);
    expect(m.heldOutSlope).toBeUndefined(); // held-out only at one k
    expect(m.groupsSlope!.slope).toBeCloseTo(olsSlope([3, 3, 4], [0.7, 0.6, 0.5])!.slope, 14);
    // the first merge beats its best expert (1.1 > 1.05), the second beats neither (0.9 < 0.95)
    expect(m.vsExperts).toMatchObject({ n: 2, beatsBest: 1, beatsMean: 1 });
    expect(m.vsExperts!.merged).toBeCloseTo(1, 14);
    expect(m.vsExperts!.experts).toBeCloseTo(0.975, 14);
    expect(m.vsExperts!.bestExpert).toBeCloseTo(1.025, 14);
  });
});
