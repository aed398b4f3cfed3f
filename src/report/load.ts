/**
 * Reading the report's inputs from disk with checks that name the file and the problem, so a
 * malformed metrics file fails here rather than as a broken page.
 */
import type { MetricBreakdown, MetricsReport, Prediction } from '../types.js';
import { MergelensError } from '../errors.js';
import type { PreflightIssue, PreflightReport } from '../check/preflight.js';
import { readJsonFile } from '../checkpoint/json.js';

const bad = (file: string, problem: string, hint?: string) => new MergelensError('BAD_INPUT', problem, { file, hint });

const readJson = (file: string, what: string): Promise<unknown> => readJsonFile(file, 'BAD_INPUT', what);

const isNumOrNull = (v: unknown) => v === null || typeof v === 'number';

function checkBreakdown(file: string, key: string, b: unknown, nPairs: number): void {
  if (b === undefined) return;
  const br = b as Partial<MetricBreakdown>;
  if (!br || !Array.isArray(br.groups) || !br.values || typeof br.values !== 'object') throw bad(file, `${key} must have groups[] and values{}`);
  if (br.numel !== undefined && (!Array.isArray(br.numel) || br.numel.length !== br.groups.length)) throw bad(file, `${key}.numel must have one entry per group (${br.groups.length})`);
  for (const [id, rows] of Object.entries(br.values)) {
    if (!Array.isArray(rows) || rows.length !== nPairs) throw bad(file, `${key}.values.${id} must have one row per pair (${nPairs})`);
    rows.forEach((row, p) => {
      if (!Array.isArray(row) || row.length !== br.groups!.length || !row.every(isNumOrNull)) {
        throw bad(file, `${key}.values.${id}[${p}] must be ${br.groups!.length} numbers or nulls (one per group)`);
      }
    });
  }
}

/** Check the structure the report relies on; throws BAD_INPUT naming the field. */
export function validateMetricsReport(raw: unknown, file: string): MetricsReport {
  const r = raw as Partial<MetricsReport>;
  if (!r || typeof r !== 'object' || r.format !== 'mergelens.metrics') {
    throw bad(file, `not a mergelens metrics report (format ${JSON.stringify((r as { format?: unknown })?.format)}, expected "mergelens.metrics")`, 'create one with: mergelens metrics BASE EXPERT… -o metrics.json');
  }
  if (!Array.isArray(r.experts) || !r.experts.every((e) => typeof e === 'string')) throw bad(file, 'experts must be an array of names');
  const n = r.experts.length;
  if (!r.metrics || typeof r.metrics !== 'object') throw bad(file, 'metrics must be an object of metric id → N×N matrix');
  for (const [id, m] of Object.entries(r.metrics)) {
    if (!Array.isArray(m) || m.length !== n || !m.every((row) => Array.isArray(row) && row.length === n && row.every(isNumOrNull))) {
      throw bad(file, `metrics.${id} must be a ${n}×${n} matrix of numbers or nulls (one row/column per expert)`);
    }
  }
  if (!Array.isArray(r.pairs) || !r.pairs.every((p) => Array.isArray(p) && p.length === 2 && p.every((i) => Number.isInteger(i) && i >= 0 && i < n) && p[0] !== p[1])) {
    throw bad(file, `pairs must be [i, j] index pairs into experts (0…${n - 1})`);
  }
  checkBreakdown(file, 'perLayer', r.perLayer, r.pairs.length);
  checkBreakdown(file, 'perTensor', r.perTensor, r.pairs.length);
  return {
    ...r,
    definitions: r.definitions ?? {},
    warnings: Array.isArray(r.warnings) ? r.warnings : [],
    perLayer: r.perLayer ?? { groups: [], numel: [], values: {} },
    perTensor: r.perTensor ?? { groups: [], numel: [], values: {} },
  } as MetricsReport;
}

export async function loadMetricsReport(file: string): Promise<MetricsReport> {
  return validateMetricsReport(await readJson(file, 'metrics file'), file);
}

/** Predictions: a Prediction[] or the `{predictions: [...]}` object `mergelens predict --json` writes. */
export async function loadPredictions(file: string): Promise<Prediction[]> {
  const raw = (await readJson(file, 'predictions file')) as unknown;
  const list = Array.isArray(raw) ? raw : (raw as { predictions?: unknown })?.predictions;
  if (!Array.isArray(list)) throw bad(file, 'expected an array of predictions or {predictions: [...]} (from mergelens predict --json)');
  list.forEach((p, i) => {
    const ok = p && typeof p.a === 'string' && typeof p.b === 'string' && typeof p.method === 'string' && ['predicted', 'lo', 'hi'].every((k) => isNumOrNull(p[k]));
    if (!ok) throw bad(file, `predictions[${i}] must have a, b, method (strings) and predicted, lo, hi (numbers)`);
  });
  // JSON has no NaN: nulls (e.g. an unknown interval) become NaN, which the report shows as "—".
  return list.map((p) => ({ score: NaN, drivers: [], ...p, predicted: p.predicted ?? NaN, lo: p.lo ?? NaN, hi: p.hi ?? NaN }));
}

/** Most issues listed per code; the rest are counted in one line. */
const MAX_ISSUES_PER_CODE = 10;

/**
 * Pre-flight warnings for the report from a `mergelens check --json` result: its errors and
 * warnings (info-level notes such as dtype differences are left out), at most
 * MAX_ISSUES_PER_CODE per code.
 */
export function preflightWarnings(report: PreflightReport): string[] {
  const out: string[] = [];
  const byCode = new Map<string, PreflightIssue[]>();
  for (const i of report.issues) if (i.severity !== 'info') byCode.set(i.code, [...(byCode.get(i.code) ?? []), i]);
  for (const [code, issues] of byCode) {
    for (const i of issues.slice(0, MAX_ISSUES_PER_CODE)) {
      out.push(`${i.severity} [${code}] ${i.expert ? `${i.expert}: ` : ''}${i.tensor ? `tensor "${i.tensor}": ` : ''}${i.message}`);
    }
    if (issues.length > MAX_ISSUES_PER_CODE) out.push(`… and ${issues.length - MAX_ISSUES_PER_CODE} more [${code}] (see mergelens check)`);
  }
  return out;
}

export async function loadPreflight(file: string): Promise<string[]> {
  const raw = (await readJson(file, 'pre-flight file')) as Partial<PreflightReport>;
  if (!raw || raw.format !== 'mergelens.check' || !Array.isArray(raw.issues)) {
    throw bad(file, 'not a mergelens pre-flight result (format "mergelens.check")', 'create one with: mergelens check BASE EXPERT… --json > check.json');
  }
  return preflightWarnings(raw as PreflightReport);
}
