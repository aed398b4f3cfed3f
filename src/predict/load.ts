/**
 * Reading a study (observed merges) from disk, in any of the forms mergelens accepts:
 *  - the JSON StudyDataset mergelens writes;
 *  - the paper's own results (a folder with pairwise_metrics_N*.json and
 *    <method>_all_pairwise_summary_N*.json, or that metrics file): import/paper.ts;
 *  - a wide CSV, one row per (pair, method):  a, b, method, outcome, <metric id>…, [extra_<name>…];
 *  - a long CSV, one measurement per line:    a, b, method, metric, value  (import/long-csv.ts).
 * CSV is RFC 4180 (csv-parse). Numeric cells: empty, null, None, NA and nan are missing values
 * (NaN; the fit's --missing policy decides), ±inf is an error naming the cell (import/values.ts).
 * `extra_*` columns are kept in row.extra (missing stays NaN) and never used as features.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { MetricsReport, PairMetrics, PredictorFile, StudyDataset, StudyRow } from '../types.js';
import { MergelensError } from '../errors.js';
import { readJsonFile } from '../checkpoint/json.js';
import { readCsvRecords, type CsvRecord } from './import/csv.js';
import { isLongHeader, parseLongCsv } from './import/long-csv.js';
import { importPaperStudy, isPaperMetricsJson, type PaperImportOptions } from './import/paper.js';
import { parseCell } from './import/values.js';
import { checkGroupSection, parseGroupRows } from './group-load.js';

const REQUIRED = ['a', 'b', 'method', 'outcome'] as const;

export interface StudyLoadOptions extends PaperImportOptions {}

export async function loadStudy(file: string, opts: StudyLoadOptions = {}): Promise<StudyDataset> {
  const st = await fsp.stat(file).catch(() => undefined);
  if (st?.isDirectory()) return importPaperStudy(file, opts);
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (e) {
    throw new MergelensError('NOT_FOUND', `cannot read study file (${(e as Error).message})`, { file });
  }
  if (file.toLowerCase().endsWith('.csv')) {
    if (opts.pairFilter) throw bad(file, '--pair-filter applies to the paper\'s result files only');
    return parseStudyCsv(text, file, opts);
  }
  const raw = safeJson(text);
  if (isPaperMetricsJson(raw)) return importPaperStudy(file, opts);
  // The pair filter is the paper importer's; refuse rather than ignore it for other formats.
  if (opts.pairFilter) throw bad(file, '--pair-filter applies to the paper\'s result files only');
  if (opts.outcome !== undefined) throw bad(file, '--outcome names a field of the paper\'s summaries or a CSV column; a mergelens study has one outcome');
  return parseStudyJson(text, file);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function bad(file: string, problem: string, hint?: string): MergelensError {
  return new MergelensError('BAD_INPUT', problem, { file, hint });
}

export function parseStudyJson(text: string, file: string): StudyDataset {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw bad(file, `not valid JSON (${(e as Error).message})`, 'give a mergelens study JSON or a CSV with a .csv extension');
  }
  const d = raw as Partial<StudyDataset>;
  if (!d || typeof d !== 'object' || d.format !== 'mergelens.study') {
    throw bad(file, `not a mergelens study (format is ${JSON.stringify((d as { format?: unknown })?.format)}, expected "mergelens.study")`, 'the paper\'s result files are read from their folder: mergelens fit path/to/folder');
  }
  if (!Array.isArray(d.rows)) throw bad(file, '"rows" must be an array');
  const metricIds = Array.isArray(d.metricIds) ? d.metricIds : [...new Set(d.rows.flatMap((r) => Object.keys(r?.metrics ?? {})))];
  const rows: StudyRow[] = d.rows.map((r, i) => {
    const where = `rows[${i}]`;
    if (!r || typeof r !== 'object') throw bad(file, `${where} is not an object`);
    for (const k of ['a', 'b', 'method'] as const) {
      if (typeof r[k] !== 'string' || r[k] === '') throw bad(file, `${where}.${k} must be a non-empty string`);
    }
    if (typeof r.outcome !== 'number' || !Number.isFinite(r.outcome)) throw bad(file, `${where}.outcome must be a finite number, got ${JSON.stringify(r.outcome)}`);
    if (!r.metrics || typeof r.metrics !== 'object') throw bad(file, `${where}.metrics must be an object of metric id → number`);
    const metrics: Record<string, number> = {};
    for (const id of metricIds) {
      const v = (r.metrics as Record<string, unknown>)[id];
      if (v === undefined || v === null) metrics[id] = NaN;
      else if (typeof v === 'number') metrics[id] = v;
      else if (typeof v === 'string') metrics[id] = parseCell(v, file, `${where}.metrics.${id}`);
      else throw bad(file, `${where}.metrics.${id} must be a number or null, got ${JSON.stringify(v)}`);
    }
    return { ...r, metrics };
  });
  return {
    format: 'mergelens.study',
    version: 1,
    createdAt: d.createdAt ?? '',
    description: d.description ?? path.basename(file),
    outcome: d.outcome ?? 'outcome',
    experts: d.experts ?? [...new Set(rows.flatMap((r) => [r.a, r.b]))].sort(),
    methods: d.methods ?? [...new Set(rows.map((r) => r.method))].sort(),
    metricIds,
    rows,
    ...groupFields(d, file),
    ...(d.source ? { source: d.source } : {}),
  };
}

/** The group study's fields (group-load.ts), present only when the file has groups. */
function groupFields(d: Partial<StudyDataset>, file: string): Partial<StudyDataset> {
  const groups = parseGroupRows(d.groups, file);
  if (!groups) return {};
  return { groups, ...(d.groupOutcome ? { groupOutcome: d.groupOutcome } : {}), ...(d.heldOutDescription ? { heldOutDescription: d.heldOutDescription } : {}) };
}

/** Split CSV text into records of fields, with the 1-based line each record starts on. */
export function parseCsvRecords(text: string, file: string): CsvRecord[] {
  return readCsvRecords(text, file);
}

/**
 * A study CSV: wide (a,b,method,<outcome>,<metric ids>…) or long (a,b,method,metric,value).
 * `opts.outcome` names the outcome column (wide) or outcome metric (long); default "outcome".
 */
export function parseStudyCsv(text: string, file: string, opts: { outcome?: string } = {}): StudyDataset {
  const records = parseCsvRecords(text, file);
  if (records.length === 0) throw bad(file, 'empty CSV (expected a header row: a,b,method,outcome,<metric ids>… or a,b,method,metric,value)');
  const header = records[0].fields.map((h) => h.trim());
  const seen = new Set<string>();
  header.forEach((h, j) => {
    if (h === '') throw bad(file, `line 1, column ${j + 1}: empty column name`);
    if (seen.has(h)) throw bad(file, `line 1, column ${j + 1}: duplicate column "${h}"`);
    seen.add(h);
  });
  if (isLongHeader(header) && !(opts.outcome && header.includes(opts.outcome))) {
    const long = parseLongCsv(records, file, opts);
    return { ...long, description: path.basename(file), source: { kind: 'long-csv', files: [file], notes: [`long CSV: ${long.rows.length} (pair, method) rows, ${long.metricIds.length} metrics`] } };
  }
  const outcomeCol = opts.outcome ?? 'outcome';
  const required = ['a', 'b', 'method', outcomeCol];
  for (const req of required) {
    if (!header.includes(req)) {
      throw bad(file, `line 1: missing required column "${req}" (header is ${header.join(',')})`, `columns: a,b,method,${outcomeCol}, then one column per metric id (extra_* columns are kept aside) — or long format a,b,method,metric,value`);
    }
  }
  const col = { a: header.indexOf('a'), b: header.indexOf('b'), method: header.indexOf('method'), outcome: header.indexOf(outcomeCol) };
  const isMetric = (h: string) => !required.includes(h) && !(REQUIRED as readonly string[]).includes(h) && !h.startsWith('extra_');
  const metricCols = header.map((h, j) => ({ h, j })).filter(({ h }) => isMetric(h));
  const extraCols = header.map((h, j) => ({ h, j })).filter(({ h }) => h.startsWith('extra_'));
  if (metricCols.length === 0) throw bad(file, `line 1: no metric columns after a,b,method,${outcomeCol}`);
  const rows: StudyRow[] = [];
  for (const rec of records.slice(1)) {
    const f = rec.fields;
    if (f.length !== header.length) throw bad(file, `line ${rec.line}: ${f.length} fields, header has ${header.length}`);
    const at = (j: number) => `line ${rec.line}, column ${j + 1} ("${header[j]}")`;
    const text = (j: number) => {
      const s = f[j].trim();
      if (s === '') throw bad(file, `${at(j)}: empty value`);
      return s;
    };
    const outcome = parseCell(f[col.outcome], file, at(col.outcome));
    if (Number.isNaN(outcome)) throw bad(file, `${at(col.outcome)}: ${f[col.outcome].trim() === '' ? 'empty value' : `missing outcome ${JSON.stringify(f[col.outcome].trim())}`}`, 'leave out merges without a measured outcome');
    const row: StudyRow = {
      a: text(col.a),
      b: text(col.b),
      method: text(col.method),
      outcome,
      metrics: Object.fromEntries(metricCols.map(({ h, j }) => [h, parseCell(f[j], file, at(j))])),
    };
    if (extraCols.length) row.extra = Object.fromEntries(extraCols.map(({ h, j }) => [h.slice('extra_'.length), parseCell(f[j], file, at(j))]));
    rows.push(row);
  }
  if (rows.length === 0) throw bad(file, 'no data rows after the header');
  return {
    format: 'mergelens.study',
    version: 1,
    createdAt: '',
    description: path.basename(file),
    outcome: outcomeCol,
    experts: [...new Set(rows.flatMap((r) => [r.a, r.b]))].sort(),
    methods: [...new Set(rows.map((r) => r.method))].sort(),
    metricIds: metricCols.map((c) => c.h),
    rows,
  };
}

const readJson = (file: string, what: string): Promise<unknown> => readJsonFile(file, 'BAD_INPUT', what);

/** Read a predictor file written by `mergelens fit` (or shipped in fixtures/predictor). */
export async function loadPredictor(file: string): Promise<PredictorFile> {
  const p = (await readJson(file, 'predictor')) as Partial<PredictorFile>;
  if (!p || p.format !== 'mergelens.predictor') throw bad(file, `not a mergelens predictor (format ${JSON.stringify(p?.format)}, expected "mergelens.predictor")`, 'create one with: mergelens fit STUDY.json -o predictor.json');
  if (!p.methods || typeof p.methods !== 'object' || Object.keys(p.methods).length === 0) throw bad(file, 'predictor has no methods');
  for (const [name, m] of Object.entries(p.methods)) {
    const n = m?.features?.length;
    const ok = Array.isArray(m?.features) && m.paper?.coef?.length === n && m.calibrated?.coef?.length === n && m.calibrated.mean?.length === n && m.calibrated.std?.length === n;
    if (!ok) throw bad(file, `methods.${name}: features and coefficient arrays are missing or of different lengths`);
  }
  // JSON has no NaN: a residual std written as null means "unknown"; keep it NaN so intervals say so.
  for (const m of Object.values(p.methods)) if (m.calibrated.residualStd === null) m.calibrated.residualStd = NaN;
  checkGroupSection(p.groups, file); // optional: predictors without group models load unchanged
  return p as PredictorFile;
}

/** Read metrics for prediction: a MetricsReport (`mergelens metrics` output) or a PairMetrics[] array. */
export async function loadPairMetricsInput(file: string): Promise<MetricsReport | PairMetrics[]> {
  const m = (await readJson(file, 'metrics file')) as unknown;
  if (Array.isArray(m)) {
    m.forEach((p, i) => {
      if (!p || typeof p.a !== 'string' || typeof p.b !== 'string' || !p.values || typeof p.values !== 'object') {
        throw bad(file, `[${i}] must be {a, b, values: {metric id: number}}`);
      }
    });
    return m as PairMetrics[];
  }
  const r = m as Partial<MetricsReport>;
  if (!r || r.format !== 'mergelens.metrics') throw bad(file, 'not a mergelens metrics report (format "mergelens.metrics") nor an array of {a, b, values}');
  if (!Array.isArray(r.experts) || !Array.isArray(r.pairs) || !r.metrics) throw bad(file, 'metrics report lacks experts, pairs or metrics');
  return r as MetricsReport;
}
