import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { formatInterval, formatValue, truncate } from '../../src/dashboard/format.js';
import { prepareData } from '../../src/dashboard/view-model.js';
import { KEY, type Mounted, mount } from './ink.js';
import { sampleMetrics, samplePredictions } from './sample.js';

const metrics = sampleMetrics();
const predictions = samplePredictions(metrics);
const data = prepareData({ metrics, predictions });
const E = metrics.experts;
const metricIds = Object.keys(metrics.metrics);

let app: Mounted | undefined;
afterEach(() => {
  app?.unmount();
  app = undefined;
});

/** Cell texts of the matrix row of expert `name` (everything after its label). */
function matrixRow(m: Mounted, name: string, labelWidth = 14): string[] {
  const line = m.lines().find((l) => l.startsWith(truncate(name, labelWidth).padEnd(labelWidth)));
  expect(line, `matrix row for ${name}`).toBeDefined();
  return line!.slice(labelWidth).trim().split(/\s+/);
}

const metricRow = (i: number, id: string) => E.map((_, j) => (i === j ? '·' : formatValue(metrics.metrics[id][i][j])));
const predOf = (method: string, i: number, j: number) =>
  predictions.find((p) => p.method === method && ((p.a === E[i] && p.b === E[j]) || (p.a === E[j] && p.b === E[i])))!;

/** The detail-pane line for a metric id: "▶id   value label" or " id   value label". */
function detailValue(m: Mounted, id: string): string {
  const key = truncate(id, 20).padEnd(20);
  const line = m.lines().find((l) => l.slice(1).startsWith(key));
  expect(line, `detail line for ${id}`).toBeDefined();
  return line!.slice(21).trim().split(/\s+/)[0];
}

describe('dashboard App (ink)', () => {
  it('fits 80×24 and shows the matrix, legend, and the first pair', async () => {
    app = await mount({ data });
    const lines = app.lines();
    expect(lines.length).toBeLessThanOrEqual(24);
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThanOrEqual(80);
    expect(lines[0]).toContain('pair matrix │ tv_cosine │ 5 experts');
    E.forEach((name, i) => expect(matrixRow(app!, name)).toEqual(metricRow(i, 'tv_cosine')));
    expect(app.frame()).toContain(`▶ ${E[0]} × ${E[1]}`);
    expect(app.frame()).toMatch(/scale -0\.112 ■ .* ■ 0\.897/);
  });

  it('arrow keys move the selection; the detail pane shows that pair’s values', async () => {
    app = await mount({ data });
    await app.press(KEY.down, KEY.right); // row 1, col 2
    expect(app.frame()).toContain(`▶ ${E[1]} × ${E[2]}`);
    for (const id of metricIds) expect(detailValue(app, id)).toBe(formatValue(metrics.metrics[id][1][2]));
    for (const method of data.methods) {
      const p = predOf(method, 1, 2);
      expect(app.frame()).toContain(`${method.padEnd(15)} ${formatInterval(p.predicted, p.lo, p.hi)}`);
    }
    await app.press(KEY.down, KEY.down, KEY.down, KEY.left, KEY.left); // row 4 (clamped), col 0
    expect(app.frame()).toContain(`▶ ${E[4]} × ${E[0]}`);
    expect(detailValue(app, 'tv_l2')).toBe(formatValue(metrics.metrics.tv_l2[4][0]));
    await app.press(KEY.up, KEY.up, KEY.up, KEY.up, KEY.right, KEY.right, KEY.right); // row 0, col 3
    expect(app.frame()).toContain(`▶ ${E[0]} × ${E[3]}`);
  });

  it('m cycles metrics: matrix cells and the sparkline switch to the next metric', async () => {
    app = await mount({ data });
    await app.press('m');
    expect(app.lines()[0]).toContain('│ tv_l2 │');
    E.forEach((name, i) => expect(matrixRow(app!, name)).toEqual(metricRow(i, 'tv_l2')));
    expect(app.frame()).toContain('tv_l2 per layer (6)');
    expect(app.frame()).toContain('‖Δa − Δb‖₂ over all');
    await app.press('m', 'm');
    expect(app.lines()[0]).toContain('│ tv_angle │');
    E.forEach((name, i) => expect(matrixRow(app!, name)).toEqual(metricRow(i, 'tv_angle')));
    // the selected metric is marked in the detail list
    expect(app.lines().some((l) => l.startsWith('▶tv_angle'))).toBe(true);
  });

  it('M cycles methods: cells show each method’s predicted outcome', async () => {
    app = await mount({ data });
    for (const method of ['weight_avg', 'task_arithmetic', 'ties']) {
      await app.press('M');
      expect(app.lines()[0]).toContain(`│ ${method} (predicted) │`);
      E.forEach((name, i) =>
        expect(matrixRow(app!, name)).toEqual(E.map((_, j) => (i === j ? '·' : formatValue(predOf(method, i, j).predicted)))),
      );
    }
    await app.press('M'); // wraps to the first method
    expect(app.lines()[0]).toContain('│ weight_avg (predicted) │');
    await app.press('m'); // back to the same metric
    expect(app.lines()[0]).toContain('│ tv_cosine │');
  });

  it('/ filters experts live, Enter applies, Esc clears', async () => {
    app = await mount({ data });
    await app.press('/', 'f', 'a');
    expect(app.frame()).toContain('/fa▏');
    await app.press(KEY.backspace, KEY.backspace, 'mnist');
    const rows = () => E.filter((name) => app!.lines().some((l) => l.startsWith(name.padEnd(14))));
    expect(rows()).toEqual(['mnist-digits', 'fashion-mnist', 'kmnist', 'emnist-letters']);
    await app.press(KEY.enter);
    expect(app.lines()[0]).toContain('filter "mnist" 4/5');
    expect(app.frame()).not.toContain('svhn-gray');
    // cells of a filtered row are the 4 remaining columns
    expect(matrixRow(app, 'kmnist')).toEqual([0, 1, 2, 3].map((j) => (j === 2 ? '·' : formatValue(metrics.metrics.tv_cosine[2][j]))));
    await app.press(KEY.escape);
    expect(rows()).toEqual(E);
    expect(app.lines()[0]).toContain('5 experts');
  });

  it('tab shows the ranked list in the right order; ↓ selects the next pair', async () => {
    app = await mount({ data });
    await app.press('M', 'M'); // task_arithmetic
    await app.press(KEY.tab);
    const ranked = predictions.filter((p) => p.method === 'task_arithmetic').sort((a, b) => b.predicted - a.predicted);
    const rankLines = app.lines().filter((l) => /^\s*\d+\. /.test(l));
    const shown = rankLines.map((l) => {
      const m = /^\s*(\d+)\. .* × .*?\s(-?[\d.e-]+)\s{2}/.exec(l)!;
      return [Number(m[1]), m[2]];
    });
    // The verdict's rule: pairs whose interval overlaps the best's are tied (listed first, by rank);
    // pairs whose interval lies entirely below it are to avoid (worst first).
    const perSection = Math.max(1, Math.floor((24 - 1 - 2 - 3) / 2));
    const tied = ranked.map((p, k) => [k, p] as const).filter(([, p]) => !(p.hi < ranked[0].lo));
    const below = ranked.map((p, k) => [k, p] as const).filter(([, p]) => p.hi < ranked[0].lo).reverse();
    const expected = [...tied.slice(0, perSection), ...below.slice(0, perSection)].map(([k, p]) => [k + 1, formatValue(p.predicted)]);
    expect(shown).toEqual(expected);
    expect(app.frame()).toContain(`No clear winner among ${tied.length}`);
    expect(app.frame()).toContain(below.length ? `Avoid ${below.length}: interval below the best` : 'Avoid: none (all overlap the best)');
    expect(app.frame()).toContain(`▶ ${ranked[0].a} × ${ranked[0].b}`);
    await app.press(KEY.down);
    expect(app.frame()).toContain(`▶ ${ranked[1].a} × ${ranked[1].b}`);
    await app.press(KEY.tab);
    expect(app.lines()[0]).toContain('best method');
    await app.press(KEY.tab);
    expect(app.lines()[0]).toContain('pair matrix');
  });

  it('best-method view (b, or screen --tui at start): the verdict, with ties, domain and the selected pair', async () => {
    app = await mount({ data, initial: { view: 'verdict' } });
    const v = data.verdict!;
    expect(app.lines()[0]).toContain('best method');
    expect(app.frame()).toContain(v.lead.length > 1 ? `No clear winner among these ${v.lead.length} pairs` : 'Best pair (interval above every other pair)');
    // rows: rank. pair, best method (or "no clear best"), interval of the pair's best method, domain ("?": sample has no domain)
    const rows = app.lines().filter((l) => /^\s*\d+\. /.test(l));
    const first = v.lead[0];
    expect(rows[0]).toContain(`1. ${first.a} × ${first.b}`);
    expect(rows[0]).toContain(formatInterval(first.best.predicted, first.best.lo, first.best.hi));
    expect(rows[0]).toMatch(first.bestMethod ? new RegExp(` ${first.bestMethod} `) : /no clear best/);
    expect(rows[0].trimEnd().endsWith('?')).toBe(true);
    expect(app.frame()).toContain(`▶ ${first.a} × ${first.b}`);
    await app.press(KEY.down);
    const second = [...v.lead, ...v.avoid][1];
    expect(app.frame()).toContain(`▶ ${second.a} × ${second.b}`);
    // from the matrix, b opens the same view
    app.unmount();
    app = await mount({ data });
    await app.press('b');
    expect(app.lines()[0]).toContain('best method');
  });

  it('? shows help, ? closes it', async () => {
    app = await mount({ data });
    await app.press('?');
    expect(app.frame()).toContain('Keys');
    expect(app.frame()).toMatch(/q\s+quit/);
    expect(app.frame()).toMatch(/\/\s+filter experts by name/);
    await app.press('?');
    expect(app.frame()).not.toContain('this help');
    expect(app.frame()).toContain(`▶ ${E[0]} × ${E[1]}`);
  });

  it('q quits: onQuit is called and the app stops reacting', async () => {
    const onQuit = vi.fn();
    app = await mount({ data, onQuit });
    await app.press('q');
    expect(onQuit).toHaveBeenCalledTimes(1);
    const n = app.frames();
    await app.press('m', KEY.down);
    expect(app.frames()).toBe(n);
  });

  it('e exports the matrix view as CSV and JSON with full-precision values', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ml-dash-'));
    const onExport = vi.fn();
    app = await mount({ data, exportDir: dir, now: () => new Date('2026-02-03T04:05:06.789Z'), onExport });
    await app.press('m', 'e');
    await vi.waitFor(() => expect(onExport).toHaveBeenCalled());
    const base = 'mergelens-matrix-tv_l2-20260203T040506Z';
    expect(readdirSync(dir).sort()).toEqual([`${base}.csv`, `${base}.json`]);
    await vi.waitFor(() => expect(app!.frame()).toContain(`exported ${path.join(dir, base)}.csv`));
    const csv = readFileSync(path.join(dir, `${base}.csv`), 'utf8').trimEnd().split('\n');
    expect(csv[0]).toBe(['expert', ...E].join(','));
    csv.slice(1).forEach((line, i) => {
      const cells = line.split(',');
      expect(cells[0]).toBe(E[i]);
      cells.slice(1).forEach((c, j) => expect(c === '' ? null : Number(c)).toBe(metrics.metrics.tv_l2[i][j]));
    });
    const json = JSON.parse(readFileSync(path.join(dir, `${base}.json`), 'utf8'));
    expect(json).toMatchObject({ format: 'mergelens.dashboard-export', view: 'matrix', lens: { kind: 'metric', id: 'tv_l2' }, experts: E, selected: { a: E[0], b: E[1] } });
    expect(json.values).toEqual(metrics.metrics.tv_l2);
  });

  it('e in the ranked list exports the ranking with intervals', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ml-dash-'));
    const onExport = vi.fn();
    app = await mount({ data, exportDir: dir, now: () => new Date('2026-02-03T04:05:06Z'), onExport });
    await app.press('M', KEY.tab, 'e');
    await vi.waitFor(() => expect(onExport).toHaveBeenCalled());
    const { csvPath, jsonPath } = onExport.mock.calls[0][0];
    expect(path.basename(csvPath)).toBe('mergelens-list-weight_avg-20260203T040506Z.csv');
    const ranked = predictions.filter((p) => p.method === 'weight_avg').sort((a, b) => b.predicted - a.predicted);
    const csv = readFileSync(csvPath, 'utf8').trimEnd().split('\n');
    expect(csv[0]).toBe('rank,a,b,weight_avg,lo,hi');
    expect(csv.slice(1)).toEqual(ranked.map((p, k) => [k + 1, p.a, p.b, p.predicted, p.lo, p.hi].join(',')));
    const json = JSON.parse(readFileSync(jsonPath, 'utf8'));
    expect(json.pairs.map((p: { a: string; b: string }) => `${p.a}|${p.b}`)).toEqual(ranked.map((p) => `${p.a}|${p.b}`));
    expect(json.pairs[0].drivers).toEqual(ranked[0].drivers);
  });

  it('resizes: a narrow terminal shows fewer columns and truncated names', async () => {
    app = await mount({ data });
    await app.press(KEY.down, KEY.down, KEY.right); // row 2, col 2 (diagonal)
    await app.resize(44, 20);
    const lines = app.lines();
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThanOrEqual(44);
    expect(lines.length).toBeLessThanOrEqual(20);
    // label width ⌊44/3⌋ = 14, (44 − 14 − 1) / 8 = 3 columns centred on col 2
    const header = lines[1];
    expect(header.trim().split(/\s+/)).toEqual(['◂1', 'fashio…', 'kmnist', 'emnist…', '▸1']);
    expect(matrixRow(app, 'kmnist')).toEqual([formatValue(metrics.metrics.tv_cosine[2][1]), '·', formatValue(metrics.metrics.tv_cosine[2][3])]);
    await app.resize(80, 24);
    expect(matrixRow(app, 'kmnist')).toEqual(metricRow(2, 'tv_cosine'));
  });

  it('without predictions, M explains what is missing', async () => {
    app = await mount({ data: prepareData({ metrics }) });
    expect(app.frame()).toContain('no predictions (pass --predictor)');
    await app.press('M');
    expect(app.frame()).toContain('no predictions loaded');
    expect(app.lines()[0]).toContain('│ tv_cosine │');
  });
});
