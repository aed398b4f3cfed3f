/**
 * Importer for the paper's own result files (Mergeability-Bench / demystifying-mergeability):
 *
 *   pairwise_metrics_N<k>.json            {datasets: [names], metrics: {name: {matrix: k×k upper triangle, pairs?: {"A__B": v}}}}
 *   <method>_all_pairwise_summary_N<k>.json  {"A__B": {A: [...], B: [...], avg: [{"acc/test/avg": v, …}]} | {error: "…"}}
 *
 * given as a folder (searched, with its metrics/ and merges/ subfolders) or as the metrics file.
 * One StudyRow per (pair, method); a metric that is null stays NaN so the fit's `--missing`
 * policy decides (the default for this source is drop-rows, as the paper).
 *
 * Pair filter (`pairFilter: 'paper'`, the default, as `src/model_merging/data_loader.py`): a pair is
 * kept only if *every* method of the run has a result for it (no `error`, a non-null outcome), so
 * all methods are fitted on the same pairs. 'none' keeps each method's own results.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { StudyDataset, StudyRow } from '../../types.js';
import { MergelensError } from '../../errors.js';
import { readJsonFile } from '../../checkpoint/json.js';
import { jsonNumber } from './values.js';

export interface PaperImportOptions {
  /**
   * Methods of the run: `name` (file `<name>_all_pairwise_summary_N*.json`) or `name=file` to give
   * a method another name (`ties=ties_v2`). Default: every summary file found.
   */
  methods?: string[];
  /** Field of `avg[0]` used as the outcome (default `acc/test/avg`, what the paper's released results use). */
  outcome?: string;
  pairFilter?: 'paper' | 'none';
}

export const PAPER_DEFAULT_OUTCOME = 'acc/test/avg';
const METRICS_RE = /^pairwise_metrics_N\d+\.json$/;
const SUMMARY_RE = /^(.+)_all_pairwise_summary_N\d+\.json$/;

function bad(file: string, problem: string, hint?: string): MergelensError {
  return new MergelensError('BAD_INPUT', problem, { file, hint });
}

async function listDir(dir: string): Promise<string[]> {
  return fsp.readdir(dir).catch(() => [] as string[]);
}

/** Files of a paper-layout folder: the metrics file and one summary per method. */
export async function findPaperFiles(input: string): Promise<{ metrics: string; summaries: Map<string, string> }> {
  const st = await fsp.stat(input).catch(() => undefined);
  if (!st) throw new MergelensError('NOT_FOUND', 'study not found', { file: input });
  const root = st.isDirectory() ? input : path.dirname(input);
  const dirs = [root, path.join(root, 'metrics'), path.join(root, 'merges')];
  if (!st.isDirectory()) dirs.push(path.join(root, '..', 'merges'));
  const metricsFiles: string[] = [];
  const summaries = new Map<string, string>();
  for (const d of dirs) {
    for (const name of (await listDir(d)).sort()) {
      if (METRICS_RE.test(name)) metricsFiles.push(path.join(d, name));
      const m = SUMMARY_RE.exec(name);
      if (m && !summaries.has(m[1])) summaries.set(m[1], path.join(d, name));
    }
  }
  const metrics = st.isDirectory() ? metricsFiles : [input];
  if (metrics.length !== 1) {
    throw bad(input, metrics.length === 0 ? 'no pairwise_metrics_N*.json found (looked in the folder, metrics/ and merges/)' : `several metrics files: ${metrics.join(', ')}`, 'give the metrics file itself');
  }
  if (summaries.size === 0) throw bad(input, 'no <method>_all_pairwise_summary_N*.json merge summaries found (looked in the folder, metrics/ and merges/)');
  return { metrics: metrics[0], summaries };
}

export function isPaperMetricsJson(raw: unknown): boolean {
  const d = raw as { datasets?: unknown; metrics?: unknown; format?: unknown };
  return !!d && typeof d === 'object' && d.format === undefined && Array.isArray(d.datasets) && !!d.metrics && typeof d.metrics === 'object';
}

/** "A__B" → [A, B] using the dataset names (a name may itself contain "__"). */
function splitPair(key: string, names: ReadonlySet<string>): [string, string] | undefined {
  let at = key.indexOf('__');
  while (at >= 0) {
    const a = key.slice(0, at);
    const b = key.slice(at + 2);
    if (names.has(a) && names.has(b)) return [a, b];
    at = key.indexOf('__', at + 1);
  }
  return undefined;
}

interface MethodResults {
  method: string;
  file: string;
  outcome: Map<string, number>;
  errors: number;
  nullOutcome: number;
}

function readSummary(raw: unknown, method: string, file: string, outcomeField: string, names: ReadonlySet<string>): MethodResults {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw bad(file, 'merge summary must be an object {"A__B": {avg: [{…}]} | {error}}');
  const out: MethodResults = { method, file, outcome: new Map(), errors: 0, nullOutcome: 0 };
  const fields = new Set<string>();
  for (const [key, entry] of Object.entries(raw as Record<string, unknown>)) {
    const pair = splitPair(key, names);
    if (!pair) throw bad(file, `pair key ${JSON.stringify(key)} does not name two datasets of the metrics file`);
    const e = entry as { error?: unknown; avg?: unknown };
    if (!e || typeof e !== 'object') throw bad(file, `${key}: expected an object`);
    if (e.error !== undefined) {
      out.errors++;
      continue;
    }
    const avg = Array.isArray(e.avg) ? (e.avg[0] as Record<string, unknown> | undefined) : undefined;
    if (!avg || typeof avg !== 'object') throw bad(file, `${key}: no avg[0] object (expected {"avg": [{"${outcomeField}": …}]})`);
    for (const f of Object.keys(avg)) fields.add(f);
    const v = jsonNumber(avg[outcomeField], file, `${key}.avg[0]["${outcomeField}"]`);
    if (Number.isNaN(v)) out.nullOutcome++;
    else out.outcome.set(pair.join('__'), v);
  }
  if (out.outcome.size === 0) {
    throw bad(file, `no pair has a value for outcome "${outcomeField}"`, `fields in avg[0]: ${[...fields].join(', ') || '(none)'}; choose one with --outcome`);
  }
  return out;
}

export async function importPaperStudy(input: string, opts: PaperImportOptions = {}): Promise<StudyDataset> {
  const outcomeField = opts.outcome ?? PAPER_DEFAULT_OUTCOME;
  const filter = opts.pairFilter ?? 'paper';
  const found = await findPaperFiles(input);
  const raw = await readJsonFile(found.metrics, 'BAD_INPUT', 'paper metrics file');
  if (!isPaperMetricsJson(raw)) throw bad(found.metrics, 'not a paper metrics file (expected {datasets: [...], metrics: {name: {matrix}}})');
  const doc = raw as { datasets: unknown[]; metrics: Record<string, { matrix?: unknown; pairs?: unknown }> };
  const datasets = doc.datasets.map((d, i) => {
    if (typeof d !== 'string' || d === '') throw bad(found.metrics, `datasets[${i}] must be a non-empty string`);
    return d;
  });
  const names = new Set(datasets);
  const metricIds = Object.keys(doc.metrics);
  if (metricIds.length === 0) throw bad(found.metrics, 'no metrics');
  const k = datasets.length;
  // value(metric, i, j) for i < j in dataset order: the pairs table when present, else the matrix upper triangle.
  const values = new Map<string, Float64Array>();
  for (const id of metricIds) {
    const entry = doc.metrics[id];
    const M = entry?.matrix;
    if (!Array.isArray(M) || M.length !== k || !M.every((r) => Array.isArray(r) && r.length === k)) {
      throw bad(found.metrics, `metrics.${id}.matrix must be ${k}×${k} (one row and column per dataset)`);
    }
    const pairs = (entry.pairs && typeof entry.pairs === 'object' ? entry.pairs : {}) as Record<string, unknown>;
    const v = new Float64Array(k * k).fill(NaN);
    for (let i = 0; i < k; i++) {
      for (let j = i + 1; j < k; j++) {
        const key = `${datasets[i]}__${datasets[j]}`;
        const cell = key in pairs ? pairs[key] : (M[i] as unknown[])[j] ?? (M[j] as unknown[])[i];
        v[i * k + j] = jsonNumber(cell, found.metrics, `metrics.${id} ${key}`);
      }
    }
    values.set(id, v);
  }

  const available = [...found.summaries.keys()].sort();
  const specs = (opts.methods && opts.methods.length ? opts.methods : available).map((s) => {
    const [name, file = name] = s.split('=').map((x) => x.trim());
    if (!found.summaries.has(file)) {
      throw bad(input, `no merge summary for method "${file}"`, `summaries found: ${available.join(', ')} (rename with name=file, e.g. ties=ties_v2)`);
    }
    return { name, file };
  });
  const dup = specs.map((s) => s.name).find((n, i, all) => all.indexOf(n) !== i);
  if (dup) throw bad(input, `method "${dup}" given twice`);
  const results: MethodResults[] = [];
  for (const s of specs) {
    const file = found.summaries.get(s.file)!;
    results.push(readSummary(await readJsonFile(file, 'BAD_INPUT', `merge summary (${s.file})`), s.name, file, outcomeField, names));
  }

  const notes: string[] = [];
  const allPairs: [number, number][] = [];
  for (let i = 0; i < k; i++) for (let j = i + 1; j < k; j++) allPairs.push([i, j]);
  for (const r of results) {
    const missing = allPairs.length - r.outcome.size - r.errors - r.nullOutcome;
    const parts = [`${r.outcome.size} results`];
    if (r.errors) parts.push(`${r.errors} failed merges ({error})`);
    if (r.nullOutcome) parts.push(`${r.nullOutcome} null "${outcomeField}"`);
    if (missing > 0) parts.push(`${missing} pairs absent`);
    notes.push(`${r.method} (${path.basename(r.file)}): ${parts.join(', ')}`);
  }
  const rows: StudyRow[] = [];
  let kept = 0;
  for (const [i, j] of allPairs) {
    const key = `${datasets[i]}__${datasets[j]}`;
    const have = results.filter((r) => r.outcome.has(key));
    if (filter === 'paper' && have.length !== results.length) continue;
    if (have.length) kept++;
    const metrics: Record<string, number> = {};
    for (const id of metricIds) metrics[id] = values.get(id)![i * k + j];
    for (const r of have) rows.push({ a: datasets[i], b: datasets[j], method: r.method, outcome: r.outcome.get(key)!, metrics: { ...metrics } });
  }
  if (filter === 'paper') {
    notes.push(`pair filter (paper): kept ${kept} of ${allPairs.length} pairs — those every method (${results.map((r) => r.method).join(', ')}) merged without error`);
  }
  if (rows.length === 0) throw bad(input, 'no pair left after the pair filter', 'try fewer methods (--methods) or --pair-filter none');
  return {
    format: 'mergelens.study',
    version: 1,
    createdAt: '',
    description: `paper data ${path.basename(path.resolve(input))} (${k} tasks; outcome ${outcomeField})`,
    outcome: outcomeField === PAPER_DEFAULT_OUTCOME ? 'acc/test/avg: raw test accuracy of the merged model, mean over the two tasks' : outcomeField,
    experts: [...datasets].sort(),
    methods: results.map((r) => r.method).sort(),
    metricIds,
    rows,
    source: { kind: 'paper', files: [found.metrics, ...results.map((r) => r.file)], missingDefault: 'drop-rows', notes, pairs: { seen: allPairs.length, kept } },
  };
}
