/**
 * `e` in the dashboard: write what is on screen (current view, lens and filter — all visible
 * experts/pairs, not just the scrolled window) as CSV and JSON. Values are written at full
 * precision; the screen's rounding is for display only.
 */
import path from 'node:path';
import { withOutputs } from '../util/output-policy.js';
import { csvText as csv } from '../util/csv.js';
import { activeFilter, type DashState, visibleExperts } from './state.js';
import { type DashboardData, lensInfo, lensValue, rankPairs, selectedPair, buildRanked, type Layout } from './view-model.js';

export interface ExportContent {
  baseName: string;
  csv: string;
  json: unknown;
}


/** 2026-11-23T10:48:53.123Z → 20261123T104853Z */
const stamp = (d: Date) => d.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');

export function exportContent(data: DashboardData, s: DashState, layout: Layout, now: Date): ExportContent {
  const lens = lensInfo(data, s);
  const filter = activeFilter(s);
  const ranked = buildRanked(data, s, layout.perSection);
  const sel = selectedPair(data, s, ranked);
  const common = {
    format: 'mergelens.dashboard-export',
    version: 1,
    createdAt: now.toISOString(),
    view: s.view,
    lens: { kind: lens.kind, id: lens.id, label: lens.label, unit: lens.unit },
    filter,
    selected: sel ? { a: data.experts[sel[0]], b: data.experts[sel[1]] } : null,
  };
  const baseName = `mergelens-${s.view}-${lens.id.replace(/[^A-Za-z0-9_-]/g, '_')}-${stamp(now)}`;
  if (s.view === 'matrix') {
    const visible = visibleExperts(data.experts, filter);
    const names = visible.map((i) => data.experts[i]);
    const values = visible.map((i) => visible.map((j) => lensValue(data, lens, i, j)));
    return { baseName, csv: csv([['expert', ...names], ...values.map((row, r) => [names[r], ...row])]), json: { ...common, experts: names, values } };
  }
  const pairs = rankPairs(data, s).map((e) => ({
    rank: e.rank,
    a: e.a,
    b: e.b,
    value: e.value,
    lo: e.prediction?.lo ?? null,
    hi: e.prediction?.hi ?? null,
    drivers: e.prediction?.drivers ?? null,
  }));
  return { baseName, csv: csv([['rank', 'a', 'b', lens.id, 'lo', 'hi'], ...pairs.map((p) => [p.rank, p.a, p.b, p.value, p.lo, p.hi])]), json: { ...common, pairs } };
}

/** Write `<dir>/<baseName>.csv` and `.json` atomically; returns both absolute paths. */
export async function exportView(
  data: DashboardData,
  s: DashState,
  layout: Layout,
  opts: { dir?: string; now?: Date } = {},
): Promise<{ csvPath: string; jsonPath: string }> {
  const content = exportContent(data, s, layout, opts.now ?? new Date());
  const dir = path.resolve(opts.dir ?? process.cwd());
  const csvPath = path.join(dir, `${content.baseName}.csv`);
  const jsonPath = path.join(dir, `${content.baseName}.json`);
  // Output policy: never over an existing file, locked against a concurrent export, atomic.
  await withOutputs([{ path: csvPath, kind: 'dashboard-export' }, { path: jsonPath, kind: 'dashboard-export' }], { inputs: [] }, async ([c, j]) => {
    await c.write(content.csv);
    await j.write(JSON.stringify(content.json, null, 2) + '\n');
  });
  return { csvPath, jsonPath };
}
