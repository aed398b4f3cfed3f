import { describe, expect, it } from 'vitest';
import { fitGroupPredictors, leaveOneExpertOutFolds } from '../../src/predict/group-fit.js';
import { groupFeatureNames, groupFeatureVector, pairIndex, pairKey } from '../../src/predict/group-features.js';
import { predictGroup } from '../../src/predict/group-predict.js';
import { tensorRandom } from '../../src/merge/random.js';
import { GROUP_NOISE, groupTruth, randomGroup, syntheticGroupStudy } from './group-synthetic.js';

describe('group features', () => {
  it('aggregates each metric over the group\'s pairs (hand-computed)', () => {
    const index = new Map([
      [pairKey('a', 'b'), { m: 1, n: 10 }],
      [pairKey('a', 'c'), { m: 4, n: 10 }],
      [pairKey('b', 'c'), { m: -2, n: 10 }],
    ]);
    const x = groupFeatureVector(['a', 'b', 'c'], ['m', 'n'], index);
    expect(groupFeatureNames(['m', 'n'])).toEqual(['k', 'mean:m', 'min:m', 'max:m', 'spread:m', 'mean:n', 'min:n', 'max:n', 'spread:n']);
    expect(Array.from(x)).toEqual([3, 1, -2, 4, 6, 10, 10, 10, 0]);
  });

  it('marks a metric missing for one pair as NaN in all four aggregates', () => {
    const index = new Map([
      [pairKey('a', 'b'), { m: 1 }],
      [pairKey('a', 'c'), { m: NaN }],
      [pairKey('b', 'c'), { m: 2 }],
    ]);
    expect(Array.from(groupFeatureVector(['a', 'b', 'c'], ['m'], index)).slice(1).every(Number.isNaN)).toBe(true);
  });
});

describe('leave-one-expert-out folds', () => {
  it('never trains on a group that holds the validated expert, and validates every group once per expert', () => {
    const groups = [['a', 'b', 'c'], ['b', 'c', 'd'], ['a', 'd', 'e'], ['c', 'd', 'e']];
    const folds = leaveOneExpertOutFolds(groups);
    expect(folds.map((f) => f.label)).toEqual(['a', 'b', 'c', 'd', 'e']);
    for (const f of folds) {
      for (const i of f.train) expect(groups[i]).not.toContain(f.label);
      for (const i of f.val) expect(groups[i]).toContain(f.label);
      expect(f.train.length + f.val.length).toBe(groups.length);
    }
    expect(folds.reduce((s, f) => s + f.val.length, 0)).toBe(groups.reduce((s, g) => s + g.length, 0));
  });
});

describe('group predictor on a known rule', () => {
  const study = syntheticGroupStudy();
  const section = fitGroupPredictors(study, { seed: 0 })!;
  const m = section.methods.ties;

  it('recovers the rule out of fold far better than the mean of pair predictions', () => {
    const v = m.validation;
    expect(v.scheme).toBe('leave-one-expert-out');
    expect(v.folds).toBe(10);
    // Each group is validated once per expert in it.
    expect(v.validated).toBe(study.groups!.reduce((s, g) => s + g.experts.length, 0));
    // Out-of-fold error near the noise floor; the mean of pairs misses min(sign) and k.
    expect(v.model.r).toBeGreaterThan(0.9);
    expect(v.model.rmse).toBeLessThan(3 * GROUP_NOISE);
    expect(v.meanOfPairs).not.toBeNull();
    expect(v.model.rmse).toBeLessThan(0.5 * v.meanOfPairs!.rmse);
    expect(v.model.rmse).toBeLessThan(0.5 * v.mean.rmse);
    // The two real drivers carry the largest standardised weights; pure noise (act_l2) has little.
    const w = (f: string) => Math.abs(m.calibrated.coef[m.features.indexOf(f)] ?? 0);
    const noise = Math.max(0, ...m.features.filter((f) => f.endsWith(':act_l2')).map(w));
    expect(w('mean:tv_cosine')).toBeGreaterThan(4 * noise);
    expect(w('min:sign_agreement')).toBeGreaterThan(4 * noise);
    expect(m.ks).toEqual([3, 4, 5, 6, 7, 8]);
  });

  it('fits the held-out outcome too', () => {
    expect(section.heldOut?.ties.target).toBe('held-out');
    expect(section.heldOut!.ties.validation.model.r).toBeGreaterThan(0.9);
  });

  it('gives new groups 95% intervals that cover their true outcome about 95% of the time', () => {
    // Fresh groups of the same experts (new subsets, new noise), predicted by the full model.
    const rnd = tensorRandom(7, 'fresh');
    const index = pairIndex(study.rows);
    const pm = (a: string, b: string) => index.get(pairKey(a, b))!;
    let covered = 0;
    let total = 0;
    for (const k of [3, 4, 5, 6, 7, 8]) {
      for (let s = 0; s < 40; s++) {
        const e = randomGroup(study.experts, k, rnd);
        const truth = groupTruth(e, pm) + GROUP_NOISE * (rnd() + rnd() + rnd() - 1.5) * 2;
        const [p] = predictGroup(section, e, groupFeatureVector(e, section.metrics, index));
        expect(p.lo).toBeLessThan(p.predicted);
        expect(p.hi).toBeGreaterThan(p.predicted);
        if (truth >= p.lo && truth <= p.hi) covered++;
        total++;
      }
    }
    expect(covered / total).toBeGreaterThan(0.85);
  });

  it('flags a group far outside the training features, and a k never trained on', () => {
    const index = pairIndex(study.rows);
    const e = ['t0', 't1', 't2'];
    const inside = predictGroup(section, e, groupFeatureVector(e, section.metrics, index))[0];
    expect(inside.domain?.inDomain).toBe(true);
    const far = new Map(index);
    for (const [a, b] of [['t0', 't1'], ['t0', 't2'], ['t1', 't2']]) far.set(pairKey(a, b), { tv_cosine: 40, sign_agreement: -40, act_l2: 0 });
    const out = predictGroup(section, e, groupFeatureVector(e, section.metrics, far))[0];
    expect(out.domain?.inDomain).toBe(false);
    expect(out.domain!.outOfRange.map((o) => o.metric)).toContain('mean:tv_cosine');
    const e9 = study.experts.slice(0, 9);
    const big = predictGroup(section, e9, groupFeatureVector(e9, section.metrics, index))[0];
    expect(big.domain?.inDomain).toBe(false);
  });
});
