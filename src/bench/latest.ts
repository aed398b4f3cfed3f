/**
 * reports/bench/latest.md and the runs it is built from. Each bench run writes its own JSON
 * report (git-ignored: one per run); latest.md draws its sections from several of them, so
 * those runs are kept, committed, in latest.json. A fresh clone that runs one phase
 * (`--only merge`) then updates that phase and keeps every other figure, where rendering from
 * the ignored reports alone would drop them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';
import { latestRuns, renderMarkdown, selectLatest, type BenchReport } from './report.js';

export const LATEST_RUNS = 'latest.json';

interface KeptRuns {
  format: 'mergelens.bench-latest';
  version: 1;
  runs: BenchReport[];
}

/** A bench report file's runs: one run (a run's report) or several (latest.json); a clear error otherwise. */
function readRuns(file: string): BenchReport[] {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: not a bench report (${(e as Error).message})`);
  }
  const d = doc as Partial<KeptRuns> & Partial<BenchReport>;
  if (d.format === 'mergelens.bench-latest' && Array.isArray(d.runs)) return d.runs.filter((r) => r?.format === 'mergelens.bench');
  if (d.format === 'mergelens.bench') return [d as BenchReport];
  return []; // some other JSON in the folder
}

/** Every run in the reports directory: its run reports and the kept runs, each once (by time and scale). */
export function readReports(dir: string): BenchReport[] {
  const byKey = new Map<string, BenchReport>();
  const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort((a, b) => (a === LATEST_RUNS ? -1 : b === LATEST_RUNS ? 1 : a.localeCompare(b)));
  for (const f of files) for (const r of readRuns(path.join(dir, f))) byKey.set(`${r.createdAt} ${r.scale}`, r); // a run's own report wins over its kept copy
  return [...byKey.values()];
}

/** Rewrite latest.md and latest.json (the runs it draws on) from the reports directory. */
export async function writeLatest(dir: string): Promise<void> {
  const all = readReports(dir);
  // other markdown files here are earlier figures kept on purpose (e.g. before a change): linked
  const earlier = readdirSync(dir).filter((f) => f.endsWith('.md') && f !== 'latest.md').sort();
  const sel = selectLatest(all); // one selection for both files
  const kept: KeptRuns = { format: 'mergelens.bench-latest', version: 1, runs: latestRuns(sel) };
  await writeFileAtomic(path.join(dir, LATEST_RUNS), JSON.stringify(kept, null, 1) + '\n');
  await writeFileAtomic(path.join(dir, 'latest.md'), renderMarkdown(sel, earlier));
}

