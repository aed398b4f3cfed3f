/**
 * The dashboard's search view (`mergelens dashboard --search`) driven with ink-testing-library
 * on the hand-made logs of test/report/search-sample.ts (best-so-far, best and Pareto front
 * worked out by hand there), plus its reducer and the plain text printed without a terminal.
 */
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { formatValue } from '../../src/dashboard/format.js';
import { SearchApp } from '../../src/dashboard/search-app.js';
import { searchDashboardModel } from '../../src/dashboard/search-run.js';
import { initialSearchState, reduceSearch } from '../../src/dashboard/search-state.js';
import { bar } from '../../src/dashboard/search-view-model.js';
import { SPARK_BLOCKS } from '../../src/dashboard/view-model.js';
import { validateSearchLog } from '../../src/report/search-load.js';
import { runCli } from '../helpers/cli.js';
import { KEY, type Mounted, mountNode } from './ink.js';
import { BEST_SO_FAR1, FRONT1, FRONT2, handLog, SEED1, SEED2 } from '../report/search-sample.js';

const logs = [1, 2].map((seed) => validateSearchLog(handLog(seed as 1 | 2), `/runs/seed${seed}/search.json`));
const vm = searchDashboardModel(logs);

const closeTo = (got: number[], want: number[]) => got.forEach((v, k) => expect(v).toBeCloseTo(want[k], 12));

let app: Mounted | undefined;
afterEach(() => {
  app?.unmount();
  app = undefined;
});

/** The list row of a candidate id ("▶ id …" or "  id …"), split into its cells. */
function listRow(m: Mounted, id: string): string[] {
  const line = m.lines().find((l) => l.slice(2).startsWith(id.padEnd(10)));
  expect(line, `list row ${id}`).toBeDefined();
  return line!.slice(2).trim().split(/\s+/);
}
/** The weight line of an expert in the detail pane: its value (the number after the bar). */
function weightOf(m: Mounted, expert: string): string {
  const line = m.lines().find((l) => l.startsWith(`${expert.padEnd(6)} `) && /[█·]/.test(l));
  expect(line, `weight line ${expert}`).toBeDefined();
  return line!.slice(7).split(/\s+/)[1];
}

describe('search view (ink)', () => {
  it('fits 80×24: best-so-far sparkline, start vs best, the Pareto front and the best selected', async () => {
    app = await mountNode(<SearchApp vm={vm} />);
    const lines = app.lines();
    expect(lines.length).toBeLessThanOrEqual(24);
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThanOrEqual(80);
    expect(lines[0]).toContain('search │ seed1 1/2 │ task_arithmetic · objective mean');
    // best-so-far .65 .65 .70 .70 .75 .75 .75 (objectives as the log has them: mean of the two scores)
    let best = -Infinity;
    const running = SEED1.map((c) => (best = c.a === undefined ? best : Math.max(best, (c.a + c.b!) / 2)));
    closeTo(running, BEST_SO_FAR1);
    const [lo, hi] = [Math.min(...running), Math.max(...running)];
    const levels = running.map((v) => SPARK_BLOCKS[Math.round(((v - lo) / (hi - lo)) * (SPARK_BLOCKS.length - 1))]).join('');
    expect(levels.startsWith('▁▁') && levels.endsWith('███')).toBe(true);
    expect(app.frame()).toContain(`Best so far ${levels} 0.650 → 0.750 over 7 evaluations (1 failed)`);
    expect(app.frame()).toContain('start uniform:0.3 0.650 · best g2-0 0.750 (eval 5, +0.100) · worst task 0.750');
    expect(app.frame()).toContain('Pareto front: 4 of 6 candidates');
    // rows in objective order with their per-task scores
    for (const id of FRONT1) {
      const c = SEED1.find((x) => x.id === id)!;
      expect(listRow(app, id)).toEqual([id, String(SEED1.indexOf(c) + 1), formatValue((c.a! + c.b!) / 2), formatValue(Math.min(c.a!, c.b!)), formatValue(c.a!), formatValue(c.b!)]);
    }
    expect(lines.findIndex((l) => l.startsWith('▶ g2-0'))).toBeLessThan(lines.findIndex((l) => l.startsWith('  g1-1')));
    // detail of the best: weights with bars on the run's [0, 1] scale, tasks with raw scores
    expect(app.frame()).toContain('▶ g2-0 · evaluation 5 · objective 0.750 · on the Pareto front · best');
    ['alpha', 'beta', 'gamma'].forEach((e, k) => expect(weightOf(app!, e)).toBe(formatValue(SEED1[4].weights[k])));
    expect(app.frame()).toContain(`alpha    0.750 (${formatValue(0.75 * 0.9)})`);
  });

  it('↓ selects the next front candidate and the detail follows; tab shows the top list', async () => {
    app = await mountNode(<SearchApp vm={vm} />);
    await app.press(KEY.down);
    expect(app.frame()).toContain('▶ g1-1 · evaluation 3 · objective 0.700 · on the Pareto front');
    ['alpha', 'beta', 'gamma'].forEach((e, k) => expect(weightOf(app!, e)).toBe(formatValue(SEED1[2].weights[k])));
    expect(app.frame()).toMatch(/alpha +0\.550 \(0\.495\) ◂ worst/);
    await app.press('j', 'j', 'j', 'j'); // clamped at the last of 4
    expect(app.frame()).toContain('▶ g2-2 · evaluation 7');
    await app.press(KEY.tab);
    expect(app.frame()).toContain('Top 6 of 6 candidates by objective');
    // the top list holds candidates off the front too (start, g2-1), cursor back on the best
    expect(listRow(app, 'g2-1')[2]).toBe(formatValue((0.6 + 0.55) / 2));
    expect(app.frame()).toContain('▶ g2-0 · evaluation 5');
    await app.press(KEY.down, KEY.down, KEY.down); // g2-0, g1-1, then start / g1-0 (tied .65), …
    expect(app.frame()).not.toContain('on the Pareto front · best');
  });

  it('r switches to the next run (seed 2: its own best and front), ? shows help, q quits', async () => {
    const onQuit = vi.fn();
    app = await mountNode(<SearchApp vm={vm} onQuit={onQuit} />);
    await app.press('r');
    expect(app.lines()[0]).toContain('seed2 2/2');
    expect(app.frame()).toContain('best g2-1 0.800 (eval 6, +0.200)');
    expect(app.frame()).toContain(`Pareto front: ${FRONT2.length} of 7 candidates`);
    ['alpha', 'beta', 'gamma'].forEach((e, k) => expect(weightOf(app!, e)).toBe(formatValue(SEED2[5].weights[k])));
    await app.press('?');
    expect(app.frame()).toContain('next / previous run');
    await app.press(KEY.escape, 'q');
    expect(onQuit).toHaveBeenCalledTimes(1);
  });

  it('shows per-layer-group weights as blocks on the same scale as the bars', async () => {
    const g = searchDashboardModel([validateSearchLog(handLog(1, { groups: true }), '/runs/groups/search.json')]);
    app = await mountNode(<SearchApp vm={g} />);
    // best g2-0: alpha 0.6 → groups 0.3 0.6 0.9 on the run scale [0, max(1, 1.35)] (gamma of g2-1: 0.9 × 1.5)
    const top = SPARK_BLOCKS.length - 1;
    const blocks = [0.3, 0.6, 0.9].map((v) => SPARK_BLOCKS[Math.round((v / 1.35) * top)]).join('');
    expect(app.lines().find((l) => l.startsWith('alpha '))).toMatch(new RegExp(`0\\.600 ${blocks} `));
  });

  it('reducer: cursor clamps to the list, tab resets it, r with one run says so', () => {
    const ctx = { runs: 1, listLength: () => 3 };
    let s = initialSearchState();
    for (let k = 0; k < 5; k++) s = reduceSearch(s, { kind: 'down' }, ctx).state;
    expect(s.cursor).toBe(2);
    s = reduceSearch(s, { kind: 'tab' }, ctx).state;
    expect([s.list, s.cursor]).toEqual(['top', 0]);
    s = reduceSearch(s, { kind: 'char', ch: 'r' }, ctx).state;
    expect(s.status).toMatch(/one search log loaded/);
    expect(reduceSearch(s, { kind: 'char', ch: 'q' }, ctx).effect).toBe('quit');
    expect(bar(0.5, 0, 1, 10)).toBe('█████·····');
  });

  it('escapes control characters in names before they reach the terminal', async () => {
    const raw = handLog(1);
    raw.experts = ['alpha', 'be\u001b[2Jta', 'gamma'];
    const evil = searchDashboardModel([validateSearchLog(raw, '/runs/x\u001b]0;t\u0007/search.json')]);
    app = await mountNode(<SearchApp vm={evil} />);
    expect(app.frame()).toContain('be\\x1b[2Jta');
    expect(app.lines()[0]).toContain('x\\x1b]0;t\\x07');
    expect(app.frame()).not.toContain('\u001b[2J');
  });
});

describe('mergelens dashboard --search without a terminal', () => {
  it('prints every run: best-so-far, best weights and the Pareto front', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mergelens-search-dash-'));
    const files = [1, 2].map((seed) => {
      const f = path.join(dir, `seed${seed}`, 'search.json');
      mkdirSync(path.dirname(f));
      writeFileSync(f, JSON.stringify(handLog(seed as 1 | 2)));
      return f;
    });
    const r = runCli(['dashboard', '--search', files[0], '--search', files[1]], { env: { CI: '' } });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('search seed1: task_arithmetic over 3 experts, objective mean over 2 tasks');
    expect(r.stdout).toContain('best g2-0 0.750 (eval 5, +0.100)');
    expect(r.stdout).toContain('best g2-1 0.800 (eval 6, +0.200)');
    const front = r.stdout.split('\n').filter((l) => /^ {2}g\d-\d /.test(l)).map((l) => l.trim().split(/\s+/)[0]);
    expect(front).toEqual([...FRONT1, ...FRONT2]);
    const bad = runCli(['dashboard', files[0], '--search', files[1]]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('either a metrics file or --search');
  });
});
