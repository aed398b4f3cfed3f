/**
 * The search views' shared model (src/report/search-view.ts) and log reader (search-load.ts),
 * on hand-made logs whose best-so-far, best and Pareto front are worked out in search-sample.ts.
 */
import { describe, expect, it } from 'vitest';
import { validateSearchLog } from '../../src/report/search-load.js';
import { checkpoints, compareRuns, runningBest, searchRunView, searchViewModel } from '../../src/report/search-view.js';
import { BEST_SO_FAR1, BEST_SO_FAR2, FRONT1, FRONT2, handLog, SEED1 } from './search-sample.js';

const log1 = validateSearchLog(handLog(1), '/runs/seed1/search.json');
const log2 = validateSearchLog(handLog(2), '/runs/seed2/search.json');
const close = (got: (number | null)[], want: number[]) => {
  expect(got.length).toBe(want.length);
  got.forEach((v, k) => expect(v).toBeCloseTo(want[k], 12));
};

describe('search view model', () => {
  it('best-so-far, best, gain and the Pareto front of one run (front from the log)', () => {
    const r = searchRunView(log1);
    expect(r.label).toBe('seed1');
    close(r.bestSoFar, BEST_SO_FAR1);
    expect(r.objectives[3]).toBeNull(); // the failed candidate
    expect(r.failed).toBe(1);
    expect(r.best!.id).toBe('g2-0');
    expect(r.best!.evaluation).toBe(5);
    expect(r.gain!).toBeCloseTo(0.1, 12);
    expect(r.best!.worst).toBe(0.75);
    expect(r.pareto.map((c) => c.id)).toEqual(FRONT1);
    expect(r.top.map((c) => c.id).slice(0, 2)).toEqual(['g2-0', 'g1-1']);
    expect(r.top.length).toBe(SEED1.length - 1);
    // normalised scores for the objective, raw ones beside them
    const g11 = r.pareto.find((c) => c.id === 'g1-1')!;
    expect(g11.scores).toEqual([0.55, 0.85]);
    close(g11.raw, [0.55 * 0.9, 0.85 * 0.9]);
    expect(r.normalized).toBe(true);
  });

  it('computes the front when the log has none, and it matches the hand-worked one', () => {
    const r = searchRunView(log2);
    expect(r.pareto.map((c) => c.id)).toEqual(FRONT2);
    close(r.bestSoFar, BEST_SO_FAR2);
    // the same front is computed for seed 1 when its own list is removed
    const raw = handLog(1);
    delete raw.pareto;
    expect(searchRunView(validateSearchLog(raw, 'x/search.json')).pareto.map((c) => c.id)).toEqual(FRONT1);
  });

  it('runningBest carries the previous value over failures and starts at null', () => {
    expect(runningBest([null, 1, null, 0.5, 2, null])).toEqual([null, 1, 1, 1, 2, 2]);
  });

  it('compares seeds of the same start: mean ± sd at 1, 10, 20, … and the last evaluation', () => {
    expect(checkpoints(7)).toEqual([1, 7]);
    expect(checkpoints(25)).toEqual([1, 10, 20, 25]);
    expect(checkpoints(20)).toEqual([1, 10, 20]);
    const vm = searchViewModel([log1, log2]);
    const c = compareRuns(vm.runs)!;
    expect(c.checkpoints).toEqual([1, 7]);
    expect(c.groups.length).toBe(1);
    const g = c.groups[0];
    expect(g.runs).toEqual(['seed1', 'seed2']);
    expect(g.seeds).toEqual([1, 2]);
    // evaluation 1: .65 and .60; evaluation 7: .75 and .80 → means .625, .775; sd = 0.025·√2
    expect(g.mean[0]!).toBeCloseTo(0.625, 12);
    expect(g.mean[1]!).toBeCloseTo(0.775, 12);
    expect(g.sd[0]!).toBeCloseTo(0.025 * Math.SQRT2, 12);
    expect(g.sd[1]!).toBeCloseTo(0.025 * Math.SQRT2, 12);
    expect(g.bestAt).toEqual([5, 6]);
    // a different start is its own group
    const other = handLog(2);
    (other.start as { label: string }).label = 'predictor:0.3';
    const c2 = compareRuns(searchViewModel([log1, log2, validateSearchLog(other, '/runs/guided/search.json')]).runs)!;
    expect(c2.groups.map((x) => [x.label, x.runs.length])).toEqual([
      ['start uniform:0.3', 2],
      ['start predictor:0.3', 1],
    ]);
    expect(c2.groups[1].sd[0]).toBeNull();
    expect(searchViewModel([log1]).comparison).toBeNull();
  });

  it('labels repeated folder names apart', () => {
    const vm = searchViewModel([log1, validateSearchLog(handLog(2), '/other/seed1/search.json')]);
    expect(vm.runs.map((r) => r.label)).toEqual(['seed1', 'seed1 (2)']);
  });

  it('reads per-layer-group weights ([expert][group]) and names the groups by their layers', () => {
    const log = validateSearchLog(handLog(1, { groups: true }), 'g/search.json');
    expect(log.groups).toEqual(['1: layers.0…layers.1', '2: layers.2', '3: layers.3…layers.5']);
    const best = searchRunView(log).best!;
    expect(best.groupWeights).toEqual([0.6, 0.6, 0.1].map((w) => [w * 0.5, w, w * 1.5]));
  });

  it('refuses a malformed log naming the field', () => {
    const err = (raw: unknown) => {
      try {
        validateSearchLog(raw, 'bad/search.json');
      } catch (e) {
        return (e as Error).message;
      }
      return 'no error';
    };
    expect(err({ format: 'mergelens.metrics' })).toMatch(/not a mergelens search log/);
    const noWeights = handLog(1);
    (noWeights.candidates as { weights: number[] }[])[2].weights = [1, 2];
    expect(err(noWeights)).toMatch(/candidates\[2\]\.weights must be 3 numbers/);
    const badPareto = { ...handLog(1), pareto: ['g9-9'] };
    expect(err(badPareto)).toMatch(/pareto names candidate "g9-9"/);
    const badGroups = handLog(1, { groups: true });
    (badGroups.candidates as { groupWeights: number[][] }[])[0].groupWeights = [[1], [1], [1]];
    expect(err(badGroups)).toMatch(/candidates\[0\]\.groupWeights must be 3 lists \(one per expert\) of 3 weights/);
    const badScore = handLog(1);
    (badScore.candidates as { normalized: unknown }[])[0].normalized = { alpha: 'high' };
    expect(err(badScore)).toMatch(/candidates\[0\]\.normalized must be an object of task → number/);
  });
});
