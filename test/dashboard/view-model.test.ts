import { describe, expect, it } from 'vitest';
import { formatInterval, formatValue, truncate, wrap } from '../../src/dashboard/format.js';
import { initialState, reduce, type DashKey, type DashState } from '../../src/dashboard/state.js';
import {
  bucketOf,
  buildDetail,
  buildMatrix,
  buildRanked,
  colourScale,
  computeLayout,
  legend,
  lensInfo,
  plainTable,
  prepareData,
  sparkline,
  windowStart,
} from '../../src/dashboard/view-model.js';
import { sampleMetrics, samplePredictions } from './sample.js';

const metrics = sampleMetrics();
const predictions = samplePredictions(metrics);
const data = prepareData({ metrics, predictions });
const ctx = { experts: data.experts, metricIds: data.metricIds, methods: data.methods, listLength: 10 };
const press = (s: DashState, ...keys: DashKey[]) => keys.reduce((st, k) => reduce(st, k, ctx).state, s);
const ch = (c: string): DashKey => ({ kind: 'char', ch: c });

describe('formatValue', () => {
  it('fits 7 characters and keeps 3 significant digits', () => {
    expect(formatValue(0.41234)).toBe('0.412');
    expect(formatValue(-0.0134)).toBe('-0.0134');
    expect(formatValue(12.3456)).toBe('12.346');
    expect(formatValue(266.71)).toBe('266.7');
    expect(formatValue(0.0028)).toBe('2.8e-3');
    expect(formatValue(123456)).toBe('1.2e5');
    expect(formatValue(0)).toBe('0');
    expect(formatValue(-99.9996)).toBe('-1.0e2');
    expect(formatValue(-1e-300)).toBe('-1e-300');
    expect(formatValue(null)).toBe('—');
    expect(formatValue(NaN)).toBe('—');
    for (const v of [-0.00999, -9999.94, -9999.96, -99.9994, -99.9996, -0.999, -0.99999, 1e-300, -1e300, -3e-12]) expect(formatValue(v).length).toBeLessThanOrEqual(7);
  });
  it('interval, truncate, wrap', () => {
    expect(formatInterval(0.7, 0.65, 0.75)).toBe('0.700 [0.650, 0.750]');
    expect(truncate('abcdef', 4)).toBe('abc…');
    expect(truncate('abc', 4)).toBe('abc');
    expect(wrap('aa bb cc dd', 5, 5)).toEqual(['aa bb', 'cc dd']);
    expect(wrap('aa bb cc dd ee ff', 5, 2)).toEqual(['aa bb', 'cc d…']);
  });
});

describe('prepareData', () => {
  it('indexes predictions by method and unordered pair', () => {
    expect(data.methods).toEqual(['weight_avg', 'task_arithmetic', 'ties']);
    const p = predictions.find((q) => q.method === 'ties' && q.a === 'kmnist' && q.b === 'svhn-gray')!;
    expect(data.byMethod.get('ties')!.get('2,4')).toBe(p);
  });
  it('rejects predictions naming an unknown expert', () => {
    expect(() => prepareData({ metrics, predictions: [{ ...predictions[0], a: 'nobody' }] })).toThrow(/"nobody".*not in the metrics file/);
  });
});

describe('colour buckets and legend', () => {
  it('bins tv_cosine into 5 equal ranges over all pairs', () => {
    const lens = lensInfo(data, initialState(ctx));
    const scale = colourScale(data, lens)!;
    const vals = metrics.pairs.map(([i, j]) => metrics.metrics.tv_cosine[i][j] as number);
    expect(scale.min).toBe(Math.min(...vals));
    expect(scale.max).toBe(Math.max(...vals));
    const step = (scale.max - scale.min) / 5;
    for (const v of vals) expect(bucketOf(scale, v)).toBe(Math.min(4, Math.floor((v - scale.min) / step)));
    expect(bucketOf(scale, scale.max)).toBe(4);
    expect(bucketOf(scale, scale.min)).toBe(0);
    const lg = legend(scale);
    expect(lg.map((e) => e.lo)).toEqual([0, 1, 2, 3, 4].map((b) => scale.min + b * step));
    expect(lg[4].hi).toBe(scale.max);
  });
  it('a constant scale lands in the middle bucket', () => {
    expect(bucketOf({ min: 1, max: 1, palette: [] }, 1)).toBe(2);
  });
});

describe('buildMatrix', () => {
  it('shows formatted values of the selected metric, diagonal as ·', () => {
    const s = press(initialState(ctx), ch('m')); // tv_l2
    const vm = buildMatrix(data, s, 80, 10);
    expect(vm.columns.map((c) => c.expert)).toEqual([0, 1, 2, 3, 4]);
    vm.rows.forEach((r, i) =>
      r.cells.forEach((c, j) => expect(c.text).toBe(i === j ? '·' : formatValue(metrics.metrics.tv_l2[i][j] as number))),
    );
    expect(vm.rows[0].cells[1].selected).toBe(true);
  });
  it('shows predicted values for the selected method', () => {
    const s = press(initialState(ctx), ch('M'), ch('M')); // task_arithmetic
    const vm = buildMatrix(data, s, 80, 10);
    const p = predictions.find((q) => q.method === 'task_arithmetic' && q.a === 'fashion-mnist' && q.b === 'svhn-gray')!;
    expect(vm.rows[4].cells[1].text).toBe(formatValue(p.predicted));
    expect(vm.rows[1].cells[4].value).toBe(p.predicted);
  });
  it('narrow terminals show fewer columns around the cursor and truncate names', () => {
    const s = press(initialState(ctx), { kind: 'end' });
    const vm = buildMatrix(data, s, 40, 3);
    // label ≤ 40/3 = 13 wide, (40 − 13 − 1) / 8 = 3 columns
    expect(vm.labelWidth).toBe(13);
    expect(vm.columns.map((c) => c.expert)).toEqual([2, 3, 4]);
    expect(vm.rows.map((r) => r.expert)).toEqual([2, 3, 4]);
    expect(vm.hiddenLeft).toBe(2);
    expect(vm.hiddenAbove).toBe(2);
    expect(vm.rows[1].label).toBe('emnist-lette…');
    expect(vm.rows[2].cells[2].selected).toBe(true);
  });
  it('windowStart keeps the cursor centred and in range', () => {
    expect(windowStart(0, 10, 4)).toBe(0);
    expect(windowStart(5, 10, 4)).toBe(3);
    expect(windowStart(9, 10, 4)).toBe(6);
    expect(windowStart(3, 3, 4)).toBe(0);
  });
});

describe('ranked list', () => {
  it('metric lens: highest first, lowest (worst first) as the second section', () => {
    const vm = buildRanked(data, initialState(ctx), 10);
    const sorted = metrics.pairs.map(([i, j]) => metrics.metrics.tv_cosine[i][j] as number).sort((a, b) => b - a);
    expect(vm.best.map((e) => e.value)).toEqual(sorted.slice(0, 5));
    expect(vm.avoid.map((e) => e.value)).toEqual(sorted.slice(5).reverse());
    expect(vm.best.map((e) => e.rank)).toEqual([1, 2, 3, 4, 5]);
    expect(vm.avoid[0].rank).toBe(10);
    expect(vm.bestTitle).toBe('Highest tv_cosine');
  });
  it('method lens: by predicted outcome, capped per section', () => {
    const s = press(initialState(ctx), ch('M'), ch('M'), ch('M')); // ties
    const vm = buildRanked(data, s, 3);
    const ties = predictions.filter((p) => p.method === 'ties').sort((a, b) => b.predicted - a.predicted);
    // The verdict's rule, checked directly: a pair is tied with the best unless its interval lies
    // entirely below the best's (hi < best.lo); those are the pairs to avoid, worst first.
    const top = ties[0];
    const tied = ties.filter((p) => !(p.hi < top.lo));
    const below = ties.filter((p) => p.hi < top.lo).reverse();
    expect(vm.best.map((e) => [e.a, e.b, e.value])).toEqual(tied.slice(0, 3).map((p) => [p.a, p.b, p.predicted]));
    expect(vm.avoid.map((e) => e.value)).toEqual(below.slice(0, 3).map((p) => p.predicted));
    expect(vm.bestTitle).toBe(tied.length > 1 ? `No clear winner among ${tied.length}` : 'Best pair for ties');
    expect(vm.entries).toHaveLength(Math.min(3, tied.length) + Math.min(3, below.length));
    // not the old "bottom half": a wide interval puts every pair in the leading group
    const wide = prepareData({ metrics, predictions: predictions.map((p) => ({ ...p, lo: p.predicted - 1, hi: p.predicted + 1 })) });
    const vw = buildRanked(wide, s, 10);
    expect(vw.avoid).toEqual([]);
    expect(vw.best).toHaveLength(10);
    // narrow intervals: every pair below the best separates → avoid, worst first
    const narrow = prepareData({ metrics, predictions: predictions.map((p) => ({ ...p, lo: p.predicted - 1e-9, hi: p.predicted + 1e-9 })) });
    const vn = buildRanked(narrow, s, 10);
    expect(vn.best.map((e) => e.value)).toEqual([ties[0].predicted]);
    expect(vn.avoid.map((e) => e.value)).toEqual(ties.slice(1).reverse().map((p) => p.predicted));
    expect(vn.avoidTitle).toBe(`Avoid ${ties.length - 1}: interval below the best`);
  });
  it('only pairs among filtered experts', () => {
    const s = press(initialState(ctx), ch('/'), ch('m'), ch('n'), ch('i'), { kind: 'enter' });
    const vm = buildRanked(data, s, 10);
    expect(vm.total).toBe(6); // 4 experts contain "mni"
    expect(vm.entries.every((e) => e.a !== 'svhn-gray' && e.b !== 'svhn-gray')).toBe(true);
  });
});

describe('detail pane', () => {
  it('lists every metric for the pair, predictions with intervals and drivers', () => {
    const d = buildDetail(data, initialState(ctx), [1, 3], 20);
    expect(d.title).toBe('fashion-mnist × emnist-letters');
    expect(d.metrics.map((m) => m.id)).toEqual(Object.keys(metrics.metrics));
    for (const m of d.metrics) expect(m.value).toBe(metrics.metrics[m.id][1][3]);
    expect(d.metrics[0].selected).toBe(true);
    const wa = predictions.find((p) => p.method === 'weight_avg' && p.a === 'fashion-mnist' && p.b === 'emnist-letters')!;
    expect(d.predictions[0].text).toBe(formatInterval(wa.predicted, wa.lo, wa.hi));
    const top = wa.drivers[0];
    expect(d.predictions[0].drivers.startsWith(`${top.metric} ${top.contribution > 0 ? '+' : ''}${formatValue(top.contribution)}`)).toBe(true);
    expect(d.description).toContain(metrics.definitions.tv_cosine.description);
  });
  it('the sparkline follows the selected metric per layer', () => {
    const s = press(initialState(ctx), ch('m'), ch('m')); // tv_dot
    const d = buildDetail(data, s, [0, 2], 20);
    const slot = metrics.pairs.findIndex(([i, j]) => i === 0 && j === 2);
    const series = metrics.perLayer.values.tv_dot[slot] as number[];
    expect(d.sparkline!.metric).toBe('tv_dot');
    expect(d.sparkline!.min).toBe(Math.min(...series));
    expect(d.sparkline!.max).toBe(Math.max(...series));
    const lo = Math.min(...series);
    const hi = Math.max(...series);
    expect(d.sparkline!.text).toBe(series.map((v) => '▁▂▃▄▅▆▇█'[Math.round(((v - lo) / (hi - lo)) * 7)]).join(''));
  });
  it('diagonal and empty selections explain themselves', () => {
    expect(buildDetail(data, initialState(ctx), [2, 2], 20).note).toMatch(/diagonal/);
    expect(buildDetail(data, initialState(ctx), null, 20).note).toMatch(/no experts/);
  });
});

describe('sparkline', () => {
  it('maps min→▁ and max→█, blanks for missing', () => {
    expect(sparkline([0, 7, 3.5, null, 1]).text).toBe('▁█▅ ▂');
    expect(sparkline([2, 2]).text).toBe('▄▄');
  });
  it('averages long series into the width', () => {
    const r = sparkline([0, 2, 10, 12, 4, 6], 3); // bins → 1, 11, 5
    expect([r.min, r.max]).toEqual([1, 11]);
    expect(r.text).toBe('▁█▄');
  });
});

describe('layout', () => {
  it('80×23 leaves room for every part', () => {
    const l = computeLayout(80, 23, 5);
    expect(l.body).toBe(21);
    expect(l.matrixRows).toBe(5);
    // header row + 5 rows + legend + pair title + detail = body
    expect(1 + l.matrixRows + 1 + 1 + l.detailRows).toBe(l.body);
    expect(l.leftWidth + 1 + l.rightWidth).toBe(80);
  });
  it('many experts: the matrix shrinks to keep 8 detail rows', () => {
    const l = computeLayout(80, 23, 40);
    expect(l.detailRows).toBe(8);
    expect(l.matrixRows).toBe(21 - 3 - 8);
  });
});

describe('plainTable', () => {
  it('one line per pair with the metric and each method’s prediction', () => {
    const t = plainTable(data, 'sign_agreement');
    const lines = t.trimEnd().split('\n');
    expect(lines[0]).toContain('5 experts, 10 pairs; sign_agreement = Sign agreement');
    const rows = lines.slice(-10);
    metrics.pairs.forEach(([i, j], k) => {
      const cols = rows[k].split(/\s{2,}/);
      expect(cols[0]).toBe(metrics.experts[i]);
      expect(cols[1]).toBe(metrics.experts[j]);
      expect(cols[2]).toBe(formatValue(metrics.metrics.sign_agreement[i][j]));
      data.methods.forEach((m, mi) => {
        const p = data.byMethod.get(m)!.get(`${i},${j}`)!;
        expect(cols[3 + mi]).toBe(formatInterval(p.predicted, p.lo, p.hi));
      });
    });
  });
});
