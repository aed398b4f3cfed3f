/**
 * What the dashboard's search view shows, as plain styled lines: best-so-far sparkline, the
 * start-vs-best summary, the Pareto front (or top candidates) as a navigable list, and the
 * selected candidate's weights (bars, per-layer-group blocks) and per-task scores. Pure: built
 * from the shared search view (src/report/search-view.ts), the state and the terminal size; the
 * ink component only draws the lines. Also the plain text printed without a terminal.
 */
import type { SearchLog } from '../report/search-load.js';
import type { SearchCandidateView, SearchRunView, SearchViewModel } from '../report/search-view.js';
import { escapeControl } from '../util/terminal.js';
import { formatValue, padLeft, padRight, truncate } from './format.js';
import type { SearchDashState } from './search-state.js';
import { SPARK_BLOCKS, sparkline, windowAround } from './view-model.js';

export interface ScreenLine {
  text: string;
  bold?: boolean;
  dim?: boolean;
  inverse?: boolean;
  color?: string;
}

const esc = escapeControl;
const escRecord = <T>(r: Record<string, T> | undefined) => r && Object.fromEntries(Object.entries(r).map(([k, v]) => [esc(k), v]));

/** Every name in a log made safe to print (ink gets only these). */
export function escapeSearchLog(log: SearchLog): SearchLog {
  return {
    ...log,
    experts: log.experts.map(esc),
    tasks: log.tasks.map(esc),
    method: esc(log.method),
    objective: esc(log.objective),
    normalization: esc(log.normalization),
    start: { ...log.start, label: esc(log.start.label) },
    ...(log.groups ? { groups: log.groups.map(esc) } : {}),
    ...(log.guide ? { guide: { given: log.guide.given && esc(log.guide.given), chosen: log.guide.chosen && esc(log.guide.chosen), dropped: log.guide.dropped.map(esc) } } : {}),
    bestId: log.bestId && esc(log.bestId),
    pareto: log.pareto && log.pareto.map(esc),
    candidates: log.candidates.map((c) => ({
      ...c,
      id: esc(c.id),
      params: escRecord(c.params)!,
      scores: escRecord(c.scores),
      normalized: escRecord(c.normalized),
      ...(c.method !== undefined ? { method: esc(c.method) } : {}),
      ...(c.reason !== undefined ? { reason: esc(c.reason) } : {}),
    })),
  };
}

/** The list the state shows for a run. */
export function listOf(run: SearchRunView, s: Pick<SearchDashState, 'list'>): SearchCandidateView[] {
  return s.list === 'pareto' ? run.pareto : run.top;
}

export function selectedCandidate(run: SearchRunView, s: SearchDashState): SearchCandidateView | null {
  const list = listOf(run, s);
  return list[Math.min(s.cursor, list.length - 1)] ?? null;
}

const signed = (v: number) => (v > 0 ? `+${formatValue(v)}` : formatValue(v));

/** "Best so far ▁▂▅██ 0.742 → 0.832 over 49 evaluations". */
export function curveLine(run: SearchRunView, width: number): string {
  const vals = run.bestSoFar;
  const first = vals.find((v) => v !== null) ?? null;
  const last = vals[vals.length - 1] ?? null;
  const tail = ` ${formatValue(first)} → ${formatValue(last)} over ${run.evaluations} evaluations${run.failed ? ` (${run.failed} failed)` : ''}`;
  const room = Math.max(4, width - 'Best so far '.length - tail.length);
  return `Best so far ${sparkline(vals, Math.min(room, vals.length)).text}${tail}`;
}

export function summaryLine(run: SearchRunView): string {
  const st = run.startCandidate;
  const b = run.best;
  const start = `start ${run.start} ${formatValue(st?.objective ?? null)}`;
  if (!b) return `${start} · no candidate succeeded`;
  const gain = run.gain === null ? '' : `, ${signed(run.gain)}`;
  return `${start} · best ${b.id} ${formatValue(b.objective)} (eval ${b.evaluation}${gain}) · worst task ${formatValue(b.worst)}`;
}

const ID_W = 10;
const NUM_W = 7;

/** Column header and rows of the candidate list, with as many task columns as fit. */
export function listColumns(run: SearchRunView, width: number): { header: string; row: (c: SearchCandidateView) => string; shownTasks: number } {
  const fixed = 2 + ID_W + 1 + 4 + 1 + (NUM_W + 1) * 2;
  const shownTasks = Math.max(0, Math.min(run.tasks.length, Math.floor((width - fixed) / (NUM_W + 1))));
  const more = run.tasks.length - shownTasks;
  const header = `  ${padRight('candidate', ID_W)} ${padLeft('eval', 4)} ${padLeft('object.', NUM_W)} ${padLeft('worst', NUM_W)}${run.tasks
    .slice(0, shownTasks)
    .map((t) => ` ${padLeft(t, NUM_W)}`)
    .join('')}${more ? ` +${more}` : ''}`;
  const row = (c: SearchCandidateView) =>
    `${padRight(c.id, ID_W)} ${padLeft(String(c.evaluation), 4)} ${padLeft(formatValue(c.objective), NUM_W)} ${padLeft(formatValue(c.worst), NUM_W)}${c.scores
      .slice(0, shownTasks)
      .map((v) => ` ${padLeft(formatValue(v), NUM_W)}`)
      .join('')}`;
  return { header, row, shownTasks };
}

/** A bar of `width` cells filled in proportion to (v − lo)/(hi − lo). */
export function bar(v: number, lo: number, hi: number, width: number): string {
  const f = hi > lo ? Math.max(0, Math.min(1, (v - lo) / (hi - lo))) : 0.5;
  const n = Math.round(f * width);
  return '█'.repeat(n) + '·'.repeat(width - n);
}

/** One block per layer group on a common [lo, hi] scale (▁ lowest … █ highest). */
export function groupBlocks(values: number[], lo: number, hi: number): string {
  const top = SPARK_BLOCKS.length - 1;
  return values.map((v) => SPARK_BLOCKS[hi > lo ? Math.max(0, Math.min(top, Math.round(((v - lo) / (hi - lo)) * top))) : Math.floor(top / 2)]).join('');
}

/** Weight scale over the whole run, so bars compare across candidates: [min(0, lowest), max(1, highest)]. */
function weightScale(run: SearchRunView): [number, number] {
  const all = run.points.flatMap((c) => [...c.weights, ...(c.groupWeights?.flat() ?? [])]);
  return [Math.min(0, ...all), Math.max(1, ...all)];
}

/** Left column: weights (with per-group blocks) and searched parameters; right: per-task scores. */
export function detailColumns(run: SearchRunView, c: SearchCandidateView, width: number): { left: string[]; right: string[] } {
  const [lo, hi] = weightScale(run);
  const nameW = Math.min(14, Math.max(6, ...run.experts.map((e) => e.length), ...run.params.map((p) => p.length)));
  const groups = c.groupWeights ? c.groupWeights[0].length : 0;
  const barW = Math.max(3, width - nameW - 1 - NUM_W - 1 - (groups ? groups + 1 : 0));
  const left = ['weights' + (groups ? ` (bars: mean over ${groups} layer groups; blocks: each group)` : '')];
  run.experts.forEach((e, k) => {
    const blocks = c.groupWeights ? ` ${groupBlocks(c.groupWeights[k], lo, hi)}` : '';
    left.push(`${padRight(e, nameW)} ${bar(c.weights[k], lo, hi, barW)} ${padLeft(formatValue(c.weights[k]), NUM_W)}${blocks}`);
  });
  for (const p of run.params) {
    const v = c.params[p];
    left.push(`${padRight(p, nameW)} ${v === undefined ? ' '.repeat(barW) : bar(v, 0, Math.max(1, v), barW)} ${padLeft(formatValue(v ?? null), NUM_W)}`);
  }
  if (c.method) left.push(`${padRight('method', nameW)} ${c.method}`);
  const taskW = Math.min(14, Math.max(6, ...run.tasks.map((t) => t.length)));
  const right = [run.normalized ? 'tasks: normalised (raw)' : 'tasks: score'];
  run.tasks.forEach((t, k) => {
    const mark = c.worst !== null && c.scores[k] === c.worst ? ' ◂ worst' : '';
    right.push(`${padRight(t, taskW)} ${padLeft(formatValue(c.scores[k]), NUM_W)}${run.normalized ? ` (${formatValue(c.raw[k])})` : ''}${mark}`);
  });
  return { left, right };
}

export const SEARCH_HELP: [string, string][] = [
  ['↑ ↓ / j k', 'select a candidate in the list'],
  ['Home / End', 'first / last candidate'],
  ['tab', 'switch Pareto front ↔ top candidates'],
  ['r / R', 'next / previous run (one per --search file)'],
  ['?', 'this help (Esc or ? closes)'],
  ['q', 'quit'],
];

/** The whole screen (width × height) as lines: title, body, footer. */
export function buildSearchScreen(vm: SearchViewModel, s: SearchDashState, width: number, height: number): ScreenLine[] {
  const w = Math.max(40, width);
  const h = Math.max(12, height);
  const run = vm.runs[s.run % vm.runs.length];
  const cut = (t: string) => truncate(t, w);
  const runTag = vm.runs.length > 1 ? `${run.label} ${s.run + 1}/${vm.runs.length}` : run.label;
  const title: ScreenLine = { text: padRight(` mergelens │ search │ ${runTag} │ ${run.method} · objective ${run.objective} │ ? help`, w), inverse: true };
  const footer: ScreenLine = { text: cut(s.status || `↑↓ select  tab ${s.list === 'pareto' ? 'top candidates' : 'Pareto front'}${vm.runs.length > 1 ? '  r next run' : ''}  ? help  q quit`), dim: !s.status };
  const body: ScreenLine[] = [];
  if (s.help) {
    body.push({ text: 'Keys', bold: true });
    for (const [k, d] of SEARCH_HELP) body.push({ text: cut(`${padRight(k, 14)}${d}`) });
    body.push({ text: ' ' });
    for (const t of [
      'Best so far: the highest objective after each evaluation (▁ lowest … █ highest).',
      'Pareto front: candidates no other candidate beats on every task.',
      `Scores: ${run.normalization || 'as the evaluation reported them'}.`,
    ])
      body.push({ text: cut(t), dim: true });
  } else {
    body.push({ text: cut(curveLine(run, w)) });
    body.push({ text: cut(summaryLine(run)) });
    const list = listOf(run, s);
    const cursor = Math.min(s.cursor, Math.max(0, list.length - 1));
    const sel = list[cursor] ?? null;
    const detail = sel ? detailColumns(run, sel, Math.floor((w - 1) / 2)) : { left: [], right: [] };
    const bodyRows = h - 2;
    const detailRows = Math.min(Math.max(detail.left.length, detail.right.length), Math.max(3, bodyRows - 2 - 2 - 1 - 3));
    const listRows = Math.max(1, bodyRows - 2 - 2 - 1 - detailRows);
    const other = s.list === 'pareto' ? `tab: top ${run.top.length}` : 'tab: Pareto front';
    const what = s.list === 'pareto' ? `Pareto front: ${run.pareto.length} of ${run.points.length} candidates` : `Top ${run.top.length} of ${run.points.length} candidates by objective`;
    const win = windowAround(list, cursor, listRows);
    body.push({ text: cut(`${what}${win.before ? ` ↑${win.before}` : ''}${win.after ? ` ↓${win.after}` : ''} · ${other}`), bold: true });
    const cols = listColumns(run, w);
    body.push({ text: cut(cols.header), dim: true });
    if (!list.length) body.push({ text: '  (none: no candidate succeeded)', dim: true });
    win.items.forEach((c, k) => {
      const on = win.before + k === cursor;
      body.push({ text: cut(`${on ? '▶ ' : '  '}${cols.row(c)}`), inverse: on, color: c.id === run.best?.id ? 'green' : undefined });
    });
    if (sel) {
      body.push({ text: cut(`▶ ${sel.id} · evaluation ${sel.evaluation} · objective ${formatValue(sel.objective)}${sel.pareto ? ' · on the Pareto front' : ''}${sel.id === run.best?.id ? ' · best' : ''}`), bold: true });
      const half = Math.floor((w - 1) / 2);
      for (let r = 0; r < detailRows; r++) {
        const l = detail.left[r] ?? '';
        const rt = detail.right[r] ?? '';
        body.push({ text: cut(`${padRight(l, half)} ${rt}`), bold: r === 0, dim: false });
      }
    }
  }
  const rows = body.slice(0, h - 2);
  while (rows.length < h - 2) rows.push({ text: ' ' });
  return [title, ...rows, footer];
}

/** Without a terminal: every run's summary, best weights and Pareto front as text. */
export function searchPlainText(vm: SearchViewModel, width = 100): string {
  const out: string[] = [];
  for (const run of vm.runs) {
    out.push(`search ${run.label}: ${run.method} over ${run.experts.length} experts, objective ${run.objective} over ${run.tasks.length} tasks`);
    out.push(curveLine(run, width));
    out.push(summaryLine(run));
    if (run.best) {
      out.push('best weights:');
      for (const l of detailColumns(run, run.best, Math.min(60, width)).left.slice(1)) out.push(`  ${l}`);
    }
    const cols = listColumns(run, width);
    out.push(`Pareto front (${run.pareto.length} of ${run.points.length} candidates):`);
    out.push(cols.header);
    for (const c of run.pareto) out.push(`  ${cols.row(c)}`);
    out.push('');
  }
  return out.join('\n');
}
