import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fitGroupPredictors } from '../../src/predict/group-fit.js';
import { groupFeatureVector, pairIndex } from '../../src/predict/group-features.js';
import { groupPoint, prepareGroupModel } from '../../src/predict/group-predict.js';
import { beam, binomial, combinations, screenGroups } from '../../src/predict/group-screen.js';
import { formatGroupScreen, groupsToCsv } from '../../src/predict/group-format.js';
import { loadPredictor, loadStudy } from '../../src/predict/load.js';
import type { PairMetrics, PredictorFile } from '../../src/types.js';
import { errorOf } from '../helpers/errors.js';
import { ROOT, runCli } from '../helpers/cli.js';
import { syntheticGroupStudy } from './group-synthetic.js';

const study = syntheticGroupStudy({ methods: ['ties', 'linear'] });
const section = fitGroupPredictors(study, { seed: 0 })!;
const pairs: PairMetrics[] = study.rows.filter((r) => r.method === 'ties').map((r) => ({ a: r.a, b: r.b, values: r.metrics }));

describe('subset enumeration', () => {
  it('lists every k-subset once, C(n, k) of them', () => {
    const all = [...combinations(6, 3)];
    expect(all.length).toBe(20);
    expect(binomial(6, 3)).toBe(20);
    expect(binomial(6, 4)).toBe(15);
    expect([...combinations(6, 4)].length).toBe(15);
    expect(binomial(40, 8)).toBe(76904685);
    expect(new Set(all.map((s) => s.join(','))).size).toBe(20);
    expect(all.every((s) => s.every((x, i) => i === 0 || x > s[i - 1]))).toBe(true);
  });

  it('beam search finds the maximum of an additive score exactly', () => {
    const w = [5, -1, 3, 0.5, 7, 2, -4, 1];
    const best = beam(w.length, 4, 8, 1000, (idx) => idx.reduce((s, i) => s + w[i], 0))[0];
    expect(best).toEqual([0, 2, 4, 5]);
  });
});

describe('screenGroups', () => {
  it('exact search returns the subset and method with the highest prediction (checked by brute force)', () => {
    const r = screenGroups(section, pairs, { sizes: [4], top: 3 });
    const s = r.sizes[0];
    expect(s.search).toBe('exact');
    expect(s.subsets).toBe(210);
    expect(s.evaluated).toBe(210);
    // Independent brute force over every subset and method with the fitted models.
    const index = pairIndex(pairs);
    let best = { v: -Infinity, key: '' };
    for (const idx of combinations(10, 4)) {
      const e = idx.map((i) => study.experts[i]);
      const x = groupFeatureVector(e, section.metrics, index);
      for (const m of Object.values(section.methods)) {
        const v = groupPoint(prepareGroupModel(m, section.metrics), x);
        if (v > best.v) best = { v, key: `${e.join('+')} ${m.method}` };
      }
    }
    const g = s.groups[0];
    expect(`${g.experts.join('+')} ${g.best.method}`).toBe(best.key);
    expect(g.best.predicted).toBeCloseTo(best.v, 12);
    expect(g.best.lo).toBeLessThan(g.best.predicted);
    expect(g.heldOut.length).toBe(2);
    expect(s.groups.map((x) => x.best.predicted)).toEqual([...s.groups.map((x) => x.best.predicted)].sort((a, b) => b - a));
  });

  it('beam search (forced by a low exact limit) says so and finds the exact search\'s best group here', () => {
    const exact = screenGroups(section, pairs, { sizes: [5], top: 1 }).sizes[0].groups[0];
    const r = screenGroups(section, pairs, { sizes: [5], top: 1, exactLimit: 100, beamWidth: 16 });
    expect(r.sizes[0].search).toBe('beam');
    expect(r.sizes[0].evaluated).toBeLessThan(r.sizes[0].subsets);
    expect(r.sizes[0].groups[0].experts).toEqual(exact.experts);
    expect(formatGroupScreen(r)).toContain('beam search, width 16');
  });

  it('--max-group style sizes, table and CSV', () => {
    const r = screenGroups(section, pairs, { sizes: [3, 4, 5], top: 2 });
    expect(r.sizes.map((s) => s.k)).toEqual([3, 4, 5]);
    const text = formatGroupScreen(r);
    expect(text).toContain('Groups of 3 (exact: all C(10,3) = 120 subsets evaluated)');
    expect(text).toContain('why (largest contributions)');
    const csv = groupsToCsv(r).trim().split('\n');
    // header + 3 sizes × 2 groups × (2 held-in + 2 held-out methods)
    expect(csv.length).toBe(1 + 3 * 2 * 4);
    expect(csv[0]).toBe('k,search,rank,experts,method,target,predicted,lo,hi,best,in_domain,leverage,distance,drivers');
  });

  it('explains a predictor without group models, missing metrics and impossible sizes', () => {
    expect(errorOf(() => screenGroups(undefined, pairs, { sizes: [3], file: 'p.json' })).message).toMatch(/^p\.json: this predictor has no group models/);
    const lacking = pairs.map((p) => ({ ...p, values: { tv_cosine: p.values.tv_cosine } }));
    expect(errorOf(() => screenGroups(section, lacking, { sizes: [3] })).code).toBe('MISSING_METRICS');
    expect(errorOf(() => screenGroups(section, pairs, { sizes: [11] })).code).toBe('USAGE');
    expect(errorOf(() => screenGroups(section, pairs, { sizes: [2] })).code).toBe('USAGE');
    expect(errorOf(() => screenGroups(section, pairs, { sizes: [3], methods: ['slerp'] })).code).toBe('UNKNOWN_METHOD');
    const some = screenGroups(section, pairs, { sizes: [3], methods: ['ties', 'slerp'] });
    expect(some.notes[0]).toBe('No group model for: slerp (left out of the group choice).');
    expect(some.sizes[0].groups[0].methods.map((p) => p.method)).toEqual(['ties']);
  });
});

describe('group sections on disk', () => {
  it('a study keeps its groups through JSON, and a predictor its group models; old predictors still load', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ml-groups-'));
    const sf = path.join(dir, 'study.json');
    writeFileSync(sf, JSON.stringify(study));
    const back = await loadStudy(sf);
    expect(back.groups?.length).toBe(study.groups!.length);
    expect(back.heldOutDescription).toBe(study.heldOutDescription);
    const old = await loadPredictor('fixtures/predictor/default.json');
    const pf: PredictorFile = { ...old, groups: section };
    const pfile = path.join(dir, 'p.json');
    writeFileSync(pfile, JSON.stringify(pf));
    const loaded = await loadPredictor(pfile);
    expect(loaded.groups?.methods.ties.features).toEqual(section.methods.ties.features);
    const broken = { ...pf, groups: { ...section, methods: { ties: { ...section.methods.ties, features: ['mean:nope'] } } } };
    writeFileSync(pfile, JSON.stringify(broken));
    const e = await loadPredictor(pfile).catch((x) => x);
    expect(e.message).toContain('groups.methods.ties');
    const badStudy = path.join(dir, 'bad.json');
    writeFileSync(badStudy, JSON.stringify({ ...study, groups: [{ experts: ['t0', 't1'], method: 'ties', outcome: 1 }] }));
    expect((await loadStudy(badStudy).catch((x) => x)).message).toContain('groups[0].experts must list at least 3');
  });
});

describe('screen --group-size (CLI)', () => {
  it('names the predictor and how to get group models when it has none', () => {
    const z = 'fixtures/study';
    // a pairs-only predictor: the shipped one without its group models
    const dir = mkdtempSync(path.join(tmpdir(), 'ml-groups-cli-'));
    const { groups: _, ...pairsOnly } = JSON.parse(readFileSync(path.join(ROOT, 'fixtures/predictor/weights-only.json'), 'utf8')) as { groups?: unknown };
    const pfile = path.join(dir, 'pairs-only.json');
    writeFileSync(pfile, JSON.stringify(pairsOnly));
    const r = runCli(['screen', `${z}/base.safetensors`, `${z}/experts/digits.safetensors`, `${z}/experts/rot90.safetensors`, `${z}/experts/invert.safetensors`, '--group-size', '3', '--predictor', pfile]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('pairs-only.json');
    expect(r.stderr).toContain('no group models');
    expect(r.stderr).toContain('mergelens study');
    const u = runCli(['screen', `${z}/base.safetensors`, `${z}/experts/digits.safetensors`, `${z}/experts/rot90.safetensors`, '--group-size', '3']);
    expect(u.status).toBe(2);
    expect(u.stderr).toContain('needs at least 3 experts');
  });
});

describe('recommended groups in the report', () => {
  it('lists the best group per trained size, escaped, with the models\' quality', async () => {
    const { recommendGroups } = await import('../../src/predict/group-screen.js');
    const { groupSection } = await import('../../src/report/group-section.js');
    const experts = study.experts.map((e, i) => (i === 0 ? '<b>t0</b>' : e));
    const n = experts.length;
    const pairsIdx: [number, number][] = [];
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) pairsIdx.push([i, j]);
    const metrics: Record<string, (number | null)[][]> = {};
    for (const id of study.metricIds) {
      metrics[id] = Array.from({ length: n }, () => Array(n).fill(null));
      for (const [i, j] of pairsIdx) {
        const r = study.rows.find((x) => x.method === 'ties' && x.a === study.experts[i] && x.b === study.experts[j])!;
        metrics[id][i][j] = metrics[id][j][i] = r.metrics[id];
      }
    }
    const report = { format: 'mergelens.metrics', experts, pairs: pairsIdx, metrics } as never;
    const pf = { ...(await loadPredictor('fixtures/predictor/default.json')), groups: section };
    const rec = recommendGroups(report, pf, 1)!;
    expect(rec.sizes.map((s) => s.k)).toEqual([3, 4, 5, 6, 7, 8]);
    // The same choice screenGroups makes from the same pair metrics.
    const direct = screenGroups(section, pairs.map((p) => ({ ...p, a: p.a === 't0' ? '<b>t0</b>' : p.a })), { sizes: [4], top: 1 });
    expect(rec.sizes[1].groups[0].experts).toEqual(direct.sizes[0].groups[0].experts);
    const html = groupSection(report, pf);
    expect(html).toContain('<h2>Recommended groups</h2>');
    expect(html).not.toContain('<b>t0</b>');
    expect(recommendGroups(report, await loadPredictor('fixtures/predictor/default.json'))).toBeNull();
  });
});
