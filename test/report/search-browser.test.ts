/**
 * The search section of the HTML report in real headless Chromium (playwright-core), opened from
 * file:// with the network blocked:
 *  - a real `mergelens search --study` run (3 experts, 7 evaluations), made into a report with
 *    `mergelens report --search`: curve, weights, Pareto front (parallel coordinates, 3 tasks)
 *    and tables checked against best-so-far / best / front recomputed here from search.json;
 *  - two hand-made seeds (search-sample.ts) with hostile names: side-by-side curves, the seed
 *    comparison table, the 2-task Pareto scatter per run, per-layer-group weights, escaping;
 *  - the full report (metrics + search) with both kinds of sections.
 * Screenshots go to test-output/report/search-*.png for review.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { renderReport } from '../../src/report/render.js';
import { renderSearchReport } from '../../src/report/search-page.js';
import { validateSearchLog } from '../../src/report/search-load.js';
import { searchViewModel } from '../../src/report/search-view.js';
import { formatNumber } from '../../src/report/format.js';
import { ROOT, runCli } from '../helpers/cli.js';
import { openWatched, type Watch } from '../helpers/browser.js';
import { chromiumPath } from '../setup/system-tools.js';
import { EVIL, EVIL_MARKUP, sampleInput } from './sample.js';
import { BEST_SO_FAR1, BEST_SO_FAR2, FRONT1, FRONT2, handLog, SEED1, SEED2 } from './search-sample.js';

const OUT_DIR = path.join(ROOT, 'test-output/report');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'mergelens-search-report-'));
const realFile = path.join(tmp, 'real.html');
const handFile = path.join(tmp, 'hand.html');
const fullFile = path.join(tmp, 'full.html');
let browser: Browser;
let log: RealLog;

interface RealCandidate {
  id: string;
  evaluation: number;
  weights: number[];
  status: string;
  normalized?: Record<string, number>;
  objective?: number;
}
interface RealLog {
  tasks: string[];
  experts: string[];
  start: { weights: number[] };
  candidates: RealCandidate[];
  pareto: string[];
}

const open = (file: string): Promise<Watch> => openWatched(browser, file);

interface Trace {
  type: string;
  name: string;
  x: unknown[];
  y: unknown[];
  z?: number[][];
  dimensions?: { label: string; values: number[] }[];
}
const traces = (page: Page, id: string): Promise<Trace[]> =>
  page.evaluate(
    (el) =>
      (document.getElementById(el) as unknown as { data: Trace[] }).data.map((t) => ({
        type: t.type,
        name: t.name,
        x: Array.from(t.x ?? []),
        y: Array.from(t.y ?? []),
        z: t.z,
        dimensions: t.dimensions?.map((d) => ({ label: d.label, values: Array.from(d.values) })),
      })),
    id,
  );
const unescapePlotly = (s: string) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
/** A table's cells as text (rows × columns), header first. */
const tableText = (page: Page, id: string) =>
  page.evaluate((t) => Array.from((document.getElementById(t) as HTMLTableElement).rows).map((r) => Array.from(r.cells).map((c) => (c.textContent ?? '').trim())), id);
const closeAll = (got: unknown[], want: number[]) => {
  expect(got.length).toBe(want.length);
  got.forEach((v, k) => expect(v as number).toBeCloseTo(want[k], 9));
};

beforeAll(async () => {
  mkdirSync(OUT_DIR, { recursive: true });
  const hand = [1, 2].map((seed) => validateSearchLog(handLog(seed as 1 | 2, { evil: true, groups: true }), path.join(tmp, `seed${seed}`, 'search.json')));
  writeFileSync(handFile, renderSearchReport(searchViewModel(hand)));
  writeFileSync(fullFile, renderReport({ ...sampleInput(), search: searchViewModel([validateSearchLog(handLog(1), path.join(tmp, 'seed1', 'search.json'))]) }));
  if (!existsSync(chromiumPath())) throw new Error(`Chromium not found at ${chromiumPath()}: test/setup/system-tools.ts should have installed it`);
  browser = await chromium.launch({ executablePath: chromiumPath(), args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-sync'] });
});

afterAll(async () => {
  await browser?.close();
});

describe('search report from a real `mergelens search --study` run', () => {
  beforeAll(() => {
    // A real search on the built-in zoo: 3 experts, start + 2 generations of 3.
    const Z = path.join(ROOT, 'fixtures/study/experts');
    const dir = path.join(tmp, 'zoo-search');
    const s = runCli(['search', path.join(ROOT, 'fixtures/study/base.safetensors'), ...['digits', 'rot90', 'invert'].map((e) => path.join(Z, `${e}.safetensors`)),
      '--study', '--method', 'task_arithmetic', '--set', 'lambda=1', '--start', 'uniform:0.3', '--popsize', '3', '--budget', '6', '--seed', '1', '--no-best', '--no-progress', '-o', dir]);
    expect(s.status, s.stderr).toBe(0);
    expect(s.stdout).toContain('search.json');
    log = JSON.parse(readFileSync(path.join(dir, 'search.json'), 'utf8')) as RealLog;
    // search writes its own page too, from the same log.
    expect(s.stdout).toContain(path.join(dir, 'report.html'));
    const own = readFileSync(path.join(dir, 'report.html'), 'utf8');
    expect(own).toContain('mergelens search report: task_arithmetic over 3 experts');
    expect(own).toContain(log.candidates.find((c) => c.status === 'ok')!.id);
    const r = runCli(['report', '--search', path.join(dir, 'search.json'), '-o', realFile]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^wrote .*real\.html \(\d/);
  }, 240_000);

  it('draws best-so-far, the best weights and the Pareto front from search.json', async () => {
    const { page, problems } = await open(realFile);
    const ok = log.candidates.filter((c) => c.status === 'ok');
    // independent: running max in evaluation order, argmax, non-dominated set over the normalised scores
    const byEval = [...log.candidates].sort((a, b) => a.evaluation - b.evaluation);
    let m = -Infinity;
    const running = byEval.map((c) => (m = Math.max(m, c.objective ?? -Infinity)));
    const best = ok.reduce((b, c) => (c.objective! > b.objective! ? c : b));
    const vec = (c: RealCandidate) => log.tasks.map((t) => c.normalized![t]);
    const front = ok.filter((c) => !ok.some((d) => d !== c && vec(d).every((v, k) => v >= vec(c)[k]) && vec(d).some((v, k) => v > vec(c)[k])));
    expect(new Set(front.map((c) => c.id))).toEqual(new Set(log.pareto)); // the search agrees

    const [curve, dots] = await traces(page, 'search-curve');
    closeAll(curve.y, running);
    expect(curve.x).toEqual(byEval.map((_, k) => k + 1));
    closeAll(dots.y, ok.map((c) => c.objective!));

    const [bestBars, startBars] = await traces(page, 'search-weights');
    expect(bestBars.x).toEqual(log.experts);
    closeAll(bestBars.y, best.weights);
    closeAll(startBars.y, log.start.weights);
    expect(bestBars.name).toContain(`best (${best.id})`);

    // 3 tasks: parallel coordinates over the front, one axis per task plus the objective
    const [pc] = await traces(page, 'search-pareto');
    expect(pc.type).toBe('parcoords');
    expect(pc.dimensions!.map((d) => d.label)).toEqual([...log.tasks, 'objective']);
    const frontByObjective = [...front].sort((a, b) => b.objective! - a.objective! || a.evaluation - b.evaluation);
    const frontByEvaluation = [...front].sort((a, b) => a.evaluation - b.evaluation);
    log.tasks.forEach((t, k) => closeAll(pc.dimensions![k].values, frontByEvaluation.map((c) => c.normalized![t])));
    closeAll(pc.dimensions![log.tasks.length].values, frontByEvaluation.map((c) => c.objective!));

    const pareto = await tableText(page, 'search-pareto-table');
    expect(pareto.length - 1).toBe(front.length);
    expect(pareto.slice(1).map((r) => r[0])).toEqual(frontByObjective.map((c) => c.id));
    const header = pareto[0];
    expect(pareto[1][header.indexOf('Objective')]).toBe(formatNumber(frontByObjective[0].objective!));
    const top = await tableText(page, 'search-top-table');
    expect(top.length - 1).toBe(Math.min(20, ok.length));
    expect(top[1][0]).toBe(best.id);
    const runs = await tableText(page, 'search-runs-table');
    expect(runs[1][runs[0].indexOf('Best objective')]).toBe(formatNumber(best.objective!));
    expect(runs[1][runs[0].indexOf('Evaluations')]).toBe(String(log.candidates.length));
    await page.screenshot({ path: path.join(OUT_DIR, 'search-real.png'), fullPage: true });
    expect(problems).toEqual([]);
  }, 240_000);
});

describe('search report of two hand-made seeds with hostile names', () => {
  it('shows the runs side by side with mean ± sd, the per-run Pareto scatter and the group weights', async () => {
    const { page, problems } = await open(handFile);
    const curve = await traces(page, 'search-curve');
    expect(curve.length).toBe(2);
    closeAll(curve[0].y, BEST_SO_FAR1);
    closeAll(curve[1].y, BEST_SO_FAR2);
    // evaluation 1: .65/.60, evaluation 7: .75/.80 → 0.625 ± 0.03536, 0.775 ± 0.03536
    const cmp = await tableText(page, 'search-comparison-table');
    expect(cmp[0].slice(3, 5)).toEqual(['after 1', 'after 7']);
    expect(cmp[1].slice(1, 7)).toEqual(['2', '1, 2', `0.625 ± ${formatNumber(0.025 * Math.SQRT2)}`, `0.775 ± ${formatNumber(0.025 * Math.SQRT2)}`, `0.775 ± ${formatNumber(0.025 * Math.SQRT2)}`, '5, 6']);

    // weights: one bar trace per run's best (g2-0 of seed 1, g2-1 of seed 2); the hostile expert is a literal category
    const bars = await traces(page, 'search-weights');
    expect(bars.map((b) => b.y)).toEqual([SEED1[4].weights, SEED2[5].weights]);
    expect((bars[0].x as string[]).map(unescapePlotly)).toEqual(['alpha', EVIL, 'gamma']);

    // 2 tasks: scatter of all candidates, the front as a line sorted by the first task, the best as a star
    const front = async () => (await traces(page, 'search-pareto'))[1];
    const scores = (rows: typeof SEED1, ids: string[]) => ids.map((id) => rows.find((c) => c.id === id)!).sort((a, b) => a.a! - b.a!);
    let f = await front();
    expect(f.x).toEqual(scores(SEED1, FRONT1).map((c) => c.a));
    expect(f.y).toEqual(scores(SEED1, FRONT1).map((c) => c.b));
    const [all] = await traces(page, 'search-pareto');
    expect(all.x.length).toBe(SEED1.length - 1); // the failed candidate is left out
    // per-layer-group weights of seed 1's best: [expert][group] = w × (0.5, 1, 1.5)
    let [gw] = await traces(page, 'search-group-weights');
    expect(gw.z).toEqual(SEED1[4].weights.map((w) => [w * 0.5, w, w * 1.5]));
    expect(gw.x).toEqual(['1: layers.0…layers.1', '2: layers.2', '3: layers.3…layers.5']);
    await page.selectOption('#search-run', '1');
    f = await front();
    expect(f.x).toEqual(scores(SEED2, FRONT2).map((c) => c.a));
    expect(f.y).toEqual(scores(SEED2, FRONT2).map((c) => c.b));
    [gw] = await traces(page, 'search-group-weights');
    expect(gw.z).toEqual(SEED2[5].weights.map((w) => [w * 0.5, w, w * 1.5]));

    // tables: both runs' fronts, hostile names as text, nothing injected
    const pareto = await tableText(page, 'search-pareto-table');
    expect(pareto.slice(1).map((r) => `${r[0]} ${r[1]}`)).toEqual([...FRONT1.map((id) => `seed1 ${id}`), ...FRONT2.map((id) => `seed2 ${id}`)]);
    expect(pareto[0]).toContain(EVIL_MARKUP);
    expect(pareto[0]).toContain(`w ${EVIL}`);
    expect(await page.locator('img').count()).toBe(0);
    expect(await page.locator('#search-section table b').count()).toBe(0); // EVIL_MARKUP's <b> stayed text
    expect(await page.locator('a[href^="https:"]').count()).toBe(0);
    const ticks = await page.evaluate(() => Array.from(document.querySelectorAll('#search-weights .xtick text')).map((t) => t.textContent));
    expect(ticks).toContain(EVIL);
    await page.screenshot({ path: path.join(OUT_DIR, 'search-hand.png'), fullPage: true });
    expect(problems).toEqual([]);
  }, 240_000);
});

describe('full report with a search', () => {
  it('holds the metrics sections and the search section, linked from the navigation', async () => {
    const { page, problems } = await open(fullFile);
    expect(await page.locator('nav a[href="#search-section"]').count()).toBe(1);
    expect(await page.evaluate(() => document.querySelectorAll('#heatmap .heatmaplayer image').length)).toBe(1);
    const [curve] = await traces(page, 'search-curve');
    closeAll(curve.y, BEST_SO_FAR1);
    expect(problems).toEqual([]);
  }, 240_000);
});
