/**
 * Reading a study (observed merges) from disk: the JSON StudyDataset mergelens writes, or a CSV
 * a user fills from their own evaluation harness.
 *
 * CSV columns (header row required, comma-separated, RFC 4180 quoting):
 *   a, b, method, outcome, <metric id>, <metric id>, …, [extra_<name>, …]
 * One row per (pair, method). Empty metric cells are missing values (NaN; the fit drops such
 * features and says so). `extra_*` columns are kept in row.extra and never used as features.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { MetricsReport, PairMetrics, PredictorFile, StudyDataset, StudyRow } from '../types.js';
import { MergelensError } from '../errors.js';
import { readJsonFile } from '../checkpoint/json.js';

const REQUIRED = ['a', 'b', 'method', 'outcome'] as const;

export async function loadStudy(file: string): Promise<StudyDataset> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (e) {
    throw new MergelensError('NOT_FOUND', `cannot read study file (${(e as Error).message})`, { file });
  }
  return file.toLowerCase().endsWith('.csv') ? parseStudyCsv(text, file) : parseStudyJson(text, file);
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
    throw bad(file, `not a mergelens study (format is ${JSON.stringify((d as { format?: unknown })?.format)}, expected "mergelens.study")`);
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
  };
}

/** Split CSV text into records of fields, tracking the 1-based line each record starts on. */
export function parseCsvRecords(text: string, file: string): { line: number; fields: string[] }[] {
  const out: { line: number; fields: string[] }[] = [];
  let fields: string[] = [];
  let field = '';
  let inQuotes = false;
  let line = 1;
  let start = 1;
  let sawAny = false;
  const endRecord = () => {
    fields.push(field);
    if (!(fields.length === 1 && fields[0].trim() === '')) out.push({ line: start, fields });
    fields = [];
    field = '';
    sawAny = false;
  };
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inQuotes) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else inQuotes = false;
      } else {
        if (ch === '\n') line++;
        field += ch;
      }
      continue;
    }
    if (ch === '"' && field === '') {
      inQuotes = true;
      sawAny = true;
    } else if (ch === ',') {
      fields.push(field);
      field = '';
      sawAny = true;
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      endRecord();
      line++;
      start = line;
    } else {
      field += ch;
      sawAny = true;
    }
  }
  if (inQuotes) throw bad(file, `line ${start}: unterminated quoted field`);
  if (sawAny || field !== '') endRecord();
  return out;
}

export function parseStudyCsv(text: string, file: string): StudyDataset {
  const records = parseCsvRecords(text.replace(/^\uFEFF/, ''), file);
  if (records.length === 0) throw bad(file, 'empty CSV (expected a header row: a,b,method,outcome,<metric ids>…)');
  const header = records[0].fields.map((h) => h.trim());
  for (const req of REQUIRED) {
    if (!header.includes(req)) {
      throw bad(file, `line 1: missing required column "${req}" (header is ${header.join(',')})`, 'columns: a,b,method,outcome, then one column per metric id; extra_* columns are ignored');
    }
  }
  const seen = new Set<string>();
  header.forEach((h, j) => {
    if (h === '') throw bad(file, `line 1, column ${j + 1}: empty column name`);
    if (seen.has(h)) throw bad(file, `line 1, column ${j + 1}: duplicate column "${h}"`);
    seen.add(h);
  });
  const col = Object.fromEntries(REQUIRED.map((r) => [r, header.indexOf(r)])) as Record<(typeof REQUIRED)[number], number>;
  const metricCols = header.map((h, j) => ({ h, j })).filter(({ h }) => !(REQUIRED as readonly string[]).includes(h) && !h.startsWith('extra_'));
  const extraCols = header.map((h, j) => ({ h, j })).filter(({ h }) => h.startsWith('extra_'));
  if (metricCols.length === 0) throw bad(file, 'line 1: no metric columns after a,b,method,outcome');
  const rows: StudyRow[] = [];
  for (const rec of records.slice(1)) {
    const f = rec.fields;
    if (f.length !== header.length) throw bad(file, `line ${rec.line}: ${f.length} fields, header has ${header.length}`);
    const at = (j: number) => `line ${rec.line}, column ${j + 1} ("${header[j]}")`;
    const num = (j: number, allowEmpty: boolean): number => {
      const s = f[j].trim();
      if (s === '') {
        if (allowEmpty) return NaN;
        throw bad(file, `${at(j)}: empty value`);
      }
      const v = Number(s);
      if (!Number.isFinite(v) && !/^nan$/i.test(s)) throw bad(file, `${at(j)}: not a number: ${JSON.stringify(s)}`);
      if (!allowEmpty && !Number.isFinite(v)) throw bad(file, `${at(j)}: outcome must be finite, got ${JSON.stringify(s)}`);
      return Number.isFinite(v) ? v : NaN;
    };
    const text = (j: number) => {
      const s = f[j].trim();
      if (s === '') throw bad(file, `${at(j)}: empty value`);
      return s;
    };
    const row: StudyRow = {
      a: text(col.a),
      b: text(col.b),
      method: text(col.method),
      outcome: num(col.outcome, false),
      metrics: Object.fromEntries(metricCols.map(({ h, j }) => [h, num(j, true)])),
    };
    if (extraCols.length) row.extra = Object.fromEntries(extraCols.map(({ h, j }) => [h.slice('extra_'.length), Number(f[j])]));
    rows.push(row);
  }
  if (rows.length === 0) throw bad(file, 'no data rows after the header');
  return {
    format: 'mergelens.study',
    version: 1,
    createdAt: '',
    description: path.basename(file),
    outcome: 'outcome',
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
