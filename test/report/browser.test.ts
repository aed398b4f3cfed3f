/**
 * The report in a real headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core;
 * test/setup/system-tools.ts installs it when missing),
 * opened from a file:// URL with the network blocked: it must load without errors or network
 * requests, draw every plot from the input data, react to its controls, sort its tables, and
 * show a hostile expert/tensor name as text. Saves test-output/report/report-screenshot.png for review.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { renderReport } from '../../src/report/render.js';
import { formatNumber } from '../../src/report/format.js';
import type { MetricsReport } from '../../src/types.js';
import { ROOT } from '../helpers/cli.js';
import { openWatched, type Watch } from '../helpers/browser.js';
import { chromiumPath } from '../setup/system-tools.js';
import { EVIL, EVIL_MARKUP, EVIL_TENSOR, sampleInput, sampleMetrics, sampleStudyAndPredictor } from './sample.js';
import { orderBreakdown } from '../../src/metrics/layer-order.js';

const CHROMIUM = chromiumPath();
const OUT_DIR = path.join(ROOT, 'test-output/report');
const SCREENSHOT = path.join(OUT_DIR, 'report-screenshot.png');

let browser: Browser;

const open = (file: string): Promise<Watch> => openWatched(browser, file);

function expectClean(w: Watch, file: string): void {
  expect(w.pageErrors).toEqual([]);
  expect(w.consoleErrors).toEqual([]);
  expect(w.dialogs).toEqual([]);
  expect(w.offline).toEqual([]);
  // The only request is the report itself (plotly and data are inline).
  expect(w.requests.filter((u) => !u.startsWith('data:') && !u.startsWith('blob:'))).toEqual([pathToFileURL(file).href]);
}

/** Plot labels are HTML-escaped for plotly; undo that to compare with the input names. */
const unescapePlotly = (s: string) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

interface TraceView {
  type: string;
  x: unknown[];
  y: unknown[];
  z?: (number | null)[][];
}
const traces = (page: Page, id: string) =>
  page.evaluate((el) => (document.getElementById(el) as unknown as { data: TraceView[] }).data.map((t) => ({ type: t.type, x: t.x, y: t.y, z: t.z })), id);

/** Rendered plot: an svg, at least one trace, and drawn marks of the expected kind. */
async function plotStats(page: Page, id: string) {
  return page.evaluate((el) => {
    const div = document.getElementById(el) as HTMLElement & { data?: unknown[] };
    const svg = div.querySelector('.main-svg') as SVGSVGElement | null;
    return {
      svgWidth: svg ? svg.getBoundingClientRect().width : 0,
      traces: div.data?.length ?? 0,
      heatmapImages: div.querySelectorAll('.heatmaplayer image').length,
      points: div.querySelectorAll('.scatterlayer .points path').length,
      lines: div.querySelectorAll('.scatterlayer .js-line').length,
      bars: div.querySelectorAll('.barlayer .point').length,
    };
  }, id);
}

const columnSortKeys = (page: Page, table: string, col: number) =>
  page.evaluate(
    ([t, c]) => Array.from((document.getElementById(t as string) as HTMLTableElement).tBodies[0].rows).map((r) => r.cells[c as number].getAttribute('data-sort') ?? r.cells[c as number].textContent),
    [table, col],
  );

// The study's real outcome name is a whole definition (170 characters): axis titles must shorten it.
const LONG_OUTCOME = 'normalized accuracy: for each task of the pair, merged-encoder test accuracy (with that task\'s own expert head) ÷ the expert\'s own test accuracy; mean of the two';
const plain = sampleInput();
const input = { ...plain, predictor: { ...plain.predictor, outcome: LONG_OUTCOME }, study: { ...plain.study, outcome: LONG_OUTCOME } };
const evilInput = sampleInput({ evil: true });
const reportFile = path.join(OUT_DIR, 'report.html');
const evilFile = path.join(OUT_DIR, 'report-evil.html');
const minimalFile = path.join(OUT_DIR, 'report-minimal.html');

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: the test setup (test/setup/system-tools.ts) should have installed it; see its message above.`);
  }
  mkdirSync(OUT_DIR, { recursive: true });
  writeFileSync(reportFile, renderReport({ ...input, preflight: ['expert kmnist: 3 tensors stored as BF16, base as F32'] }));
  writeFileSync(evilFile, renderReport(evilInput));
  // Smallest case: 2 experts, no per-tensor data, a study but no predictor.
  const minimal = sampleMetrics({ experts: 2, layers: 3, tensorsPerLayer: 1 });
  minimal.perTensor = { groups: [], numel: [], values: {} };
  writeFileSync(minimalFile, renderReport({ metrics: minimal, study: sampleStudyAndPredictor().study }));
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
  });
});

afterAll(async () => {
  await browser?.close();
});

describe('HTML report in headless Chromium', () => {
  let w: Watch;
  beforeAll(async () => {
    w = await open(reportFile);
  });

  it('draws every plot from the data', async () => {
    const { page } = w;
    const n = input.metrics.experts.length;
    const heat = await plotStats(page, 'heatmap');
    expect(heat.svgWidth).toBeGreaterThan(300);
    expect(heat.heatmapImages).toBe(1);
    const layer = await plotStats(page, 'layer-plot');
    expect(layer.lines).toBe(2); // the pair's series and the whole-model line
    expect(layer.points).toBeGreaterThanOrEqual(input.metrics.perLayer.groups.length);
    expect((await plotStats(page, 'pred-heatmap')).heatmapImages).toBe(1);
    const scatter = await plotStats(page, 'scatter-plot');
    expect(scatter.points).toBe(input.study.rows.length);
    const fp = await plotStats(page, 'fp-plot');
    const firstMethod = Object.values(input.predictor.methods)[0];
    // zero coefficients are not drawn; the rest split into a positive and a negative trace (the legend)
    const coef = firstMethod.calibrated.coef;
    const zeros = coef.filter((c) => c === 0).length;
    expect(zeros).toBeGreaterThan(0); // the sample has some, so hiding them is exercised
    expect(fp.bars).toBe(coef.length - zeros);
    const fpTraces = await page.evaluate(() => {
      const el = document.getElementById('fp-plot') as unknown as { data: { name: string; x: number[] }[]; layout: { xaxis: { title: { text: string } } } };
      return { data: el.data.map((t) => ({ name: t.name, x: Array.from(t.x) })), layout: { xaxis: { title: { text: el.layout.xaxis.title.text } } } };
    });
    expect(fpTraces.data.map((t) => t.name)).toEqual(['raises the prediction (+)', 'lowers it (−)']);
    expect(fpTraces.data[0].x.every((v) => v > 0) && fpTraces.data[1].x.every((v) => v < 0)).toBe(true);
    expect(fpTraces.data[0].x.length + fpTraces.data[1].x.length).toBe(coef.length - zeros);
    expect(fpTraces.layout.xaxis.title.text).toBe(`calibrated coefficient · ${zeros} zero, not shown`);
    // axis titles are short (definitions are in the captions): plotly cuts long ones off
    const titles = await page.evaluate(() =>
      ['heatmap', 'layer-plot', 'pred-heatmap', 'scatter-plot', 'fp-plot'].flatMap((id) => {
        const l = (document.getElementById(id) as unknown as { layout: Record<string, { title?: { text?: string } }> }).layout;
        return ['xaxis', 'yaxis'].map((ax) => l[ax]?.title?.text ?? '');
      }),
    );
    for (const t of titles) expect(t.length, t).toBeLessThanOrEqual(60);
    expect(titles).toContain('predicted normalized accuracy');
    expect(titles).toContain('actual normalized accuracy');
    for (const id of ['overlap-plot', 'sign-plot']) expect((await plotStats(page, id)).heatmapImages).toBe(1);
    // prediction matrix: z[pair][method] is the input prediction
    const [pred] = await traces(page, 'pred-heatmap');
    for (const p of input.predictions) {
      const r = (pred.y as string[]).map(unescapePlotly).indexOf(`${p.a} × ${p.b}`);
      const c = (pred.x as string[]).indexOf(p.method);
      expect(pred.z![r][c]).toBe(p.predicted);
    }
    expect((pred.y as string[]).length).toBe(n * (n - 1) / 2);
    // rows sorted by their best prediction; every cell printed with its value; the row's highest marked ★
    const text = await page.evaluate(() => (document.getElementById('pred-heatmap') as unknown as { data: { text: string[][]; texttemplate: string }[] }).data[0]);
    expect(text.texttemplate).toBe('%{text}');
    const rowMax = (pred.z as (number | null)[][]).map((row) => Math.max(...row.filter((v): v is number => v !== null)));
    for (let r = 1; r < rowMax.length; r++) expect(rowMax[r]).toBeLessThanOrEqual(rowMax[r - 1]);
    (pred.z as (number | null)[][]).forEach((row, r) =>
      row.forEach((v, c) => {
        if (v === null) return;
        const cell = text.text[r][c];
        expect(cell.replace('★ ', '')).toBe(formatNumber(v)); // the page's fmt follows report/format.ts
        expect(cell.startsWith('★ ')).toBe(v === rowMax[r]);
      }),
    );
  });

  it('the metric selector switches the heatmap to that metric matrix, in clustered order', async () => {
    const { page } = w;
    const m = input.metrics;
    for (const id of ['tv_cosine', 'tv_l2', 'sign_agreement_trimmed', 'enc_grad_l2']) {
      await page.selectOption('#metric-select', id);
      const [t] = await traces(page, 'heatmap');
      const names = (t.x as string[]).map(unescapePlotly);
      expect((t.y as string[]).map(unescapePlotly)).toEqual(names);
      const idx = names.map((nm) => m.experts.indexOf(nm));
      expect([...idx].sort()).toEqual(m.experts.map((_, i) => i));
      idx.forEach((i, r) => idx.forEach((j, c) => expect(t.z![r][c]).toBe(m.metrics[id][i][j])));
      expect(await page.textContent('#metric-caption')).toContain(m.definitions[id].label);
    }
    // The sample's experts come in two families (even / odd index); clustering on the
    // task-vector cosine must put each family in one contiguous block.
    await page.selectOption('#metric-select', 'tv_cosine');
    const [t] = await traces(page, 'heatmap');
    const fam = (t.x as string[]).map((nm) => m.experts.indexOf(unescapePlotly(nm)) % 2);
    expect(fam.filter((f, k) => k > 0 && f !== fam[k - 1]).length).toBe(1);
    // definitions on hover: each option carries its metric's description
    const title = await page.getAttribute('#metric-select option[value="tv_l2"]', 'title');
    expect(title).toBe(m.definitions.tv_l2.description);
  });

  it('choosing a pair, metric and level updates the per-layer plot with that breakdown', async () => {
    const { page } = w;
    // The report shows layers and tensors in depth order (metrics/layer-order.ts), whatever the file's order.
    const m = { ...input.metrics, perLayer: orderBreakdown(input.metrics.perLayer), perTensor: orderBreakdown(input.metrics.perTensor) };
    const close = (got: unknown[], want: (number | null)[]) => {
      expect(got.length).toBe(want.length);
      got.forEach((v, k) => (want[k] === null ? expect(v).toBeNull() : expect(v as number).toBeCloseTo(want[k] as number, 4)));
    };
    for (const p of [0, 3, 9]) {
      await page.selectOption('#pair-select', String(p));
      await page.selectOption('#layer-metric', 'sign_agreement');
      const [series, whole] = await traces(page, 'layer-plot');
      expect(series.x).toEqual(m.perLayer.groups);
      close(series.y, m.perLayer.values.sign_agreement[p]);
      const [i, j] = m.pairs[p];
      expect(whole.y).toEqual([m.metrics.sign_agreement[i][j], m.metrics.sign_agreement[i][j]]);
    }
    await page.selectOption('#layer-level', 'tensor');
    await page.selectOption('#layer-metric', 'tv_cosine');
    await page.selectOption('#pair-select', '5');
    let [series] = await traces(page, 'layer-plot');
    expect(series.x).toEqual(m.perTensor.groups);
    close(series.y, m.perTensor.values.tv_cosine[5]);
    await page.selectOption('#layer-kind', 'bar');
    [series] = await traces(page, 'layer-plot');
    expect(series.type).toBe('bar');
    expect((await plotStats(page, 'layer-plot')).bars).toBe(m.perTensor.groups.length);
  });

  it('sorts tables by clicking a header: numbers numerically, text alphabetically, toggling direction', async () => {
    const { page } = w;
    const header = (table: string, label: string) => page.locator(`#${table} thead th button`, { hasText: new RegExp(`^${label}$`) });
    await header('predictions-table', 'Predicted').click();
    const asc = (await columnSortKeys(page, 'predictions-table', 2)).map(Number);
    expect(asc).toEqual(input.predictions.map((p) => p.predicted).sort((a, b) => a - b));
    expect(await page.getAttribute('#predictions-table thead th:nth-child(3)', 'aria-sort')).toBe('ascending');
    await header('predictions-table', 'Predicted').click();
    const desc = (await columnSortKeys(page, 'predictions-table', 2)).map(Number);
    expect(desc).toEqual([...asc].reverse());
    // the rows moved with their keys: the first row is now the best prediction's pair/method
    const best = input.predictions.reduce((a, b) => (b.predicted > a.predicted ? b : a));
    const firstRow = await page.evaluate(() => Array.from((document.getElementById('predictions-table') as HTMLTableElement).tBodies[0].rows[0].cells).map((c) => c.textContent));
    expect(firstRow.slice(0, 2)).toEqual([`${best.a} × ${best.b}`, best.method]);
    await header('pairs-table', 'Pair').click();
    const pairs = await columnSortKeys(page, 'pairs-table', 0);
    expect(pairs).toEqual([...pairs].sort((a, b) => a!.toLowerCase().localeCompare(b!.toLowerCase())));
  });

  it('loads with no errors and no network access, and saves a screenshot', async () => {
    const { page } = w;
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.selectOption('#layer-level', 'layer');
    await page.selectOption('#layer-kind', 'line');
    await page.selectOption('#pair-select', '0');
    mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(existsSync(SCREENSHOT)).toBe(true);
    expectClean(w, reportFile);
  });
});

describe('hostile names in the report', () => {
  it('render as text: no dialog, no injected element, the literal name visible in HTML and plots', async () => {
    const w = await open(evilFile);
    const { page } = w;
    const m: MetricsReport = evilInput.metrics;
    expect(await page.locator('ul.experts li', { hasText: EVIL }).count()).toBe(1);
    expect(await page.locator('ul.experts li', { hasText: EVIL }).isVisible()).toBe(true);
    expect(await page.locator('img').count()).toBe(0);
    expect(await page.locator('b', { hasText: 'bold' }).count()).toBe(0);
    expect(await page.evaluate(() => document.querySelectorAll('script').length)).toBe(3);
    // plotly tick labels show the literal text
    const ticks = await page.evaluate(() => Array.from(document.querySelectorAll('#heatmap .xtick text')).map((t) => t.textContent));
    expect(ticks).toContain(EVIL);
    expect(ticks).toContain(EVIL_MARKUP);
    expect(await page.locator('a[href^="https:"]').count()).toBe(0);
    expect(await page.locator('ul.experts li', { hasText: EVIL_MARKUP }).count()).toBe(1);
    // the hostile tensor name appears as an x category of the per-tensor view
    await page.selectOption('#layer-level', 'tensor');
    const [series] = await traces(page, 'layer-plot');
    expect((series.x as string[]).map(unescapePlotly)).toContain(EVIL_TENSOR);
    expect(await page.locator('#pair-select option', { hasText: EVIL }).count()).toBe(m.experts.length - 1);
    expect(await page.textContent('ul.warnings')).toContain(EVIL_TENSOR);
    expectClean(w, evilFile);
  });
});

describe('minimal report (2 experts, metrics + study only)', () => {
  it('renders the sections it has data for, without errors', async () => {
    const w = await open(minimalFile);
    const { page } = w;
    expect((await plotStats(page, 'heatmap')).heatmapImages).toBe(1);
    expect((await plotStats(page, 'layer-plot')).lines).toBe(2);
    expect(await page.isDisabled('#layer-level option[value="tensor"]')).toBe(true);
    // study without predictor: outcomes per method as box plots, no predictions or fingerprints
    expect(await page.evaluate(() => (document.getElementById('outcome-plot') as unknown as { data: unknown[] }).data.length)).toBe(5);
    for (const id of ['pred-heatmap', 'scatter-plot', 'fp-plot']) expect(await page.locator(`#${id}`).count()).toBe(0);
    expect(await page.textContent('#summary')).toContain('a heuristic, not a performance prediction');
    expectClean(w, minimalFile);
  });
});
