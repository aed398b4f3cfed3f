import { describe, expect, it } from 'vitest';
import { bucketStarts, compactBreakdown, downsampleSeries } from '../../src/report/downsample.js';
import { formatCount, formatNumber, roundSignificant } from '../../src/report/format.js';
import { buildReportModel, orderedMetricIds, predictionMatrix } from '../../src/report/model.js';
import { recommend, recommendFromMetric, recommendFromPredictions } from '../../src/report/recommend.js';
import { studyScatter } from '../../src/report/study-view.js';
import { rankPairs } from '../../src/predict/predict.js';
import type { MetricBreakdown, Prediction } from '../../src/types.js';
import { calibrated, sampleInput, sampleMetrics, SAMPLE_METHODS } from './sample.js';

describe('down-sampling', () => {
  it('bucket bounds cover all groups in near-equal consecutive runs', () => {
    expect(bucketStarts(10, 3)).toEqual([0, 3, 7, 10]);
    expect(bucketStarts(5, 10)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(bucketStarts(0, 10)).toEqual([0]);
  });

  it('bucket value is the element-weighted mean of the non-null values (hand case)', () => {
    // bucket 0: (1·1 + 2·3)/(1+3) = 1.75; bucket 1: only 4 (null skipped); bucket 2: all null
    expect(downsampleSeries([1, 2, null, 4, null], [1, 3, 5, 1, 2], [0, 2, 4, 5])).toEqual([1.75, 4, null]);
  });

  it('a large breakdown is capped per series and every bucket matches a direct float64 computation', () => {
    const groups = Array.from({ length: 1003 }, (_, g) => `t.${g}`);
    const numel = groups.map((_, g) => 1 + (g % 7) * 100);
    const series = (p: number) => groups.map((_, g) => (g % 11 === 0 ? null : Math.sin(g * 0.37 + p) * 10 ** (p - 3)));
    const b: MetricBreakdown = { groups, numel, values: { m1: [series(0), series(1)], m2: [series(2), series(3)], allNull: [groups.map(() => null), groups.map(() => null)] } };
    const c = compactBreakdown(b, { maxPoints: 100, maxValues: 1e9, minPoints: 16, digits: 12 });
    expect(Object.keys(c.values)).toEqual(['m1', 'm2']); // all-null series dropped
    expect(c.groups.length).toBe(100);
    expect(c.originalGroups).toBe(1003);
    expect(c.bucketSize).toBe(11);
    expect(c.numel.reduce((s, v) => s + v, 0)).toBe(numel.reduce((s, v) => s + v, 0));
    expect(c.groups[0]).toBe('t.0 … t.9 (10)');
    // independent check of bucket k: recompute its range from the label and average directly
    for (const [id, p] of [['m1', 0], ['m2', 1]] as const) {
      c.groups.forEach((label, k) => {
        const m = /^t\.(\d+) … t\.(\d+) \((\d+)\)$/.exec(label)!;
        const [s, e] = [Number(m[1]), Number(m[2])];
        expect(Number(m[3])).toBe(e - s + 1);
        let num = 0;
        let den = 0;
        for (let g = s; g <= e; g++) {
          const v = b.values[id][p][g];
          if (v !== null) {
            num += numel[g] * v;
            den += numel[g];
          }
        }
        expect(c.values[id][p][k]).toBeCloseTo(num / den, 10);
      });
    }
  });

  it('the value budget lowers the points per series, never below minPoints', () => {
    const groups = Array.from({ length: 500 }, (_, g) => `g${g}`);
    const row = groups.map((_, g) => g);
    const values = Object.fromEntries(Array.from({ length: 10 }, (_, m) => [`m${m}`, Array.from({ length: 20 }, () => row)]));
    const b: MetricBreakdown = { groups, numel: groups.map(() => 1), values };
    // 10 metrics × 20 pairs = 200 series; 8000 / 200 = 40 points
    expect(compactBreakdown(b, { maxPoints: 200, maxValues: 8000, minPoints: 16, digits: 5 }).groups.length).toBe(40);
    expect(compactBreakdown(b, { maxPoints: 200, maxValues: 100, minPoints: 16, digits: 5 }).groups.length).toBe(16);
    expect(compactBreakdown(b, { maxPoints: 5, maxValues: 1e9, minPoints: 16, digits: 5 }).groups.length).toBe(5);
    const small = compactBreakdown({ groups: ['a', 'b'], numel: [1, 1], values: { m: [[0.123456789, null]] } });
    expect(small).toEqual({ groups: ['a', 'b'], numel: [1, 1], values: { m: [[0.12346, null]] }, originalGroups: 2, bucketSize: 1, pairsEmbedded: 1, pairsTotal: 1 });
  });
});

describe('formatting', () => {
  it('formats numbers with 4 significant digits, scientific outside [1e-3, 1e5)', () => {
    expect(formatNumber(0.812345)).toBe('0.8123');
    expect(formatNumber(-12.5)).toBe('−12.5');
    expect(formatNumber(0.0004567)).toBe('4.57e−4');
    expect(formatNumber(123456)).toBe('1.23e+5');
    expect(formatNumber(null)).toBe('—');
    expect(formatNumber(NaN)).toBe('—');
    expect(formatNumber(0)).toBe('0');
    expect(formatCount(6_738_415_616)).toBe('6.74 B');
    expect(formatCount(950)).toBe('950');
    expect(roundSignificant(123.456, 2)).toBe(120);
    expect(roundSignificant(Infinity, 2)).toBe(null);
  });
});

const pred = (a: string, b: string, method: string, predicted: number): Prediction => ({ a, b, method, predicted, lo: predicted - 0.05, hi: predicted + 0.05, score: 0, drivers: [] });

describe('recommendations', () => {
  it('from predictions: best method per pair, pairs ranked by it (hand case)', () => {
    const ps = [
      pred('x', 'y', 'm1', 0.7), pred('x', 'y', 'm2', 0.8),
      pred('x', 'z', 'm1', 0.6), pred('x', 'z', 'm2', 0.5),
      pred('y', 'z', 'm1', 0.9), pred('y', 'z', 'm2', 0.1),
      pred('w', 'z', 'm1', 0.2), pred('w', 'z', 'm2', 0.3),
    ];
    const r = recommendFromPredictions(ps)!;
    expect(r.basis).toBe('predictions');
    expect(r.ranked.map((v) => [v.a, v.b, v.bestMethod, v.value])).toEqual([
      ['y', 'z', 'm1', 0.9],
      ['x', 'y', 'm2', 0.8],
      ['x', 'z', 'm1', 0.6],
      ['w', 'z', 'm2', 0.3],
    ]);
    // pairs to avoid follow the predictor's rule (rankPairs); best pairs never overlap them
    const key = (v: { a: string; b: string }) => `${v.a}${v.b}`;
    expect(r.avoid.map(key)).toEqual(rankPairs(ps).avoid.map(key));
    expect(r.best.length).toBeGreaterThan(0);
    expect(r.best.map(key)).toEqual(r.ranked.slice(0, r.best.length).map(key));
    for (const b of r.best) expect(r.avoid.map(key)).not.toContain(key(b));
    expect(r.ranked[0].lo).toBeCloseTo(0.85, 12);
    expect(r.ranked[1].methods!.map((m) => m.method)).toEqual(['m2', 'm1']);
  });

  it('without predictions: ranks by a compatibility metric in its own direction', () => {
    const m = sampleMetrics();
    const r = recommendFromMetric(m)!;
    expect(r.basis).toBe('metric');
    expect(r.metric).toBe('sign_agreement_trimmed');
    const values = m.pairs.map(([i, j]) => m.metrics.sign_agreement_trimmed[i][j] as number).sort((a, b) => b - a);
    expect(r.ranked.map((v) => v.value)).toEqual(values);
    expect(r.best.length).toBe(3);
    expect(r.avoid[0].value).toBe(values[values.length - 1]);
    expect(recommend(m, [])!.basis).toBe('metric');
    const none = { ...m, metrics: { tv_l2: m.metrics.tv_l2 } };
    expect(recommend(none)).toBeNull();
  });
});

describe('study scatter', () => {
  it('pairs each study row with its calibrated prediction and reports Pearson r', () => {
    const { study, predictor } = sampleInput();
    const series = studyScatter(study, predictor);
    expect(series.map((s) => s.method)).toEqual(SAMPLE_METHODS);
    for (const s of series) {
      const rows = study.rows.filter((r) => r.method === s.method);
      expect(s.n).toBe(rows.length);
      expect(s.actual).toEqual(rows.map((r) => r.outcome));
      rows.forEach((r, k) => expect(s.predicted[k]).toBeCloseTo(calibrated(predictor.methods[s.method], r.metrics), 12));
      // r by the textbook sum formula
      const n = s.n;
      const sx = s.predicted.reduce((a, v) => a + v, 0);
      const sy = s.actual.reduce((a, v) => a + v, 0);
      const sxy = s.predicted.reduce((a, v, k) => a + v * s.actual[k], 0);
      const sxx = s.predicted.reduce((a, v) => a + v * v, 0);
      const syy = s.actual.reduce((a, v) => a + v * v, 0);
      expect(s.r!).toBeCloseTo((n * sxy - sx * sy) / Math.sqrt((n * sxx - sx * sx) * (n * syy - sy * sy)), 8);
      // outcomes were generated as prediction + noise of known std: residuals must match it
      const resid = s.actual.map((a, k) => a - s.predicted[k]);
      const rstd = Math.sqrt(resid.reduce((a, v) => a + v * v, 0) / n);
      const sd = predictor.methods[s.method].calibrated.residualStd;
      expect(rstd).toBeGreaterThan(0.5 * sd);
      expect(rstd).toBeLessThan(1.6 * sd);
    }
  });
});

describe('report model', () => {
  it('prediction matrix holds each prediction at its pair row and method column', () => {
    const { metrics, predictions } = sampleInput();
    const pm = predictionMatrix(metrics, predictions)!;
    expect(pm.methods).toEqual(SAMPLE_METHODS);
    expect(pm.pairs).toEqual(metrics.pairs.map(([i, j]) => [metrics.experts[i], metrics.experts[j]]));
    for (const p of predictions) {
      const r = pm.pairs.findIndex(([a, b]) => a === p.a && b === p.b);
      const c = pm.methods.indexOf(p.method);
      expect([pm.predicted[r][c], pm.lo[r][c], pm.hi[r][c]]).toEqual([p.predicted, p.lo, p.hi]);
    }
  });

  it('orders metrics by family, drops empty ones, keeps matrices verbatim and fingerprints per method', () => {
    const input = sampleInput();
    const m = input.metrics;
    m.metrics.act_dot = m.experts.map(() => m.experts.map(() => null));
    const model = buildReportModel(input);
    expect(orderedMetricIds(m)).not.toContain('act_dot');
    const fams = model.metricIds.map((id) => model.definitions[id].family);
    const order = ['task_vector', 'sign', 'rank', 'subspace', 'gradient', 'activation'];
    expect(fams.map((f) => order.indexOf(f))).toEqual([...fams.map((f) => order.indexOf(f))].sort((a, b) => a - b));
    expect(model.defaultMetric).toBe('tv_cosine');
    expect(model.matrices.tv_l2).toBe(m.metrics.tv_l2);
    for (const id of model.metricIds) expect([...model.orders[id]].sort()).toEqual([0, 1, 2, 3, 4]);
    const fp = model.fingerprints!;
    fp.methods.forEach((method, k) => {
      const mp = input.predictor.methods[method];
      mp.features.forEach((f, j) => {
        expect(fp.paper[k][fp.features.indexOf(f)]).toBe(mp.paper.coef[j]);
        expect(fp.calibrated[k][fp.features.indexOf(f)]).toBe(mp.calibrated.coef[j]);
        expect(fp.calibratedLo![k][fp.features.indexOf(f)]).toBe(mp.bootstrap!.lo[j]);
      });
      fp.methods.forEach((other, l) => expect(fp.top5Overlap[k][l]).toBe(input.predictor.fingerprints.top5Overlap[method][other]));
    });
    expect(model.scatter!.length).toBe(SAMPLE_METHODS.length);
    expect(model.outcomes).toBeNull();
    expect(buildReportModel({ metrics: m, study: input.study }).outcomes!.map((o) => o.values.length)).toEqual(SAMPLE_METHODS.map(() => 28));
  });
});
