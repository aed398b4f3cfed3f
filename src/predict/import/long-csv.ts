/**
 * Long-format study CSV: one measurement per line,
 *
 *   a,b,method,metric,value
 *   cars,mnist,,tv_cosine,0.12          ← empty method: a metric of the pair, shared by every method
 *   cars,mnist,ties,outcome,0.81        ← the outcome (metric name `outcome`, or the name given as outcome)
 *   cars,mnist,ties,extra_acc_a,0.9     ← extra_* names are kept in row.extra, never features
 *
 * Pairs are unordered ("b,a" is the pair "a,b"). One StudyRow per (pair, method) with an outcome.
 * Missing cells (empty, null, None, nan) stay missing; ±inf is an error naming the line.
 */
import type { StudyDataset, StudyRow } from '../../types.js';
import { MergelensError } from '../../errors.js';
import type { CsvRecord } from './csv.js';
import { parseCell } from './values.js';

export const LONG_COLUMNS = ['a', 'b', 'metric', 'value'] as const;

export function isLongHeader(header: readonly string[]): boolean {
  return LONG_COLUMNS.every((c) => header.includes(c)) && !header.includes('outcome');
}

export function parseLongCsv(records: CsvRecord[], file: string, opts: { outcome?: string } = {}): Omit<StudyDataset, 'description'> {
  const bad = (problem: string, hint?: string) => new MergelensError('BAD_INPUT', problem, { file, hint });
  const outcomeName = opts.outcome ?? 'outcome';
  const header = records[0].fields.map((h) => h.trim());
  const col = (name: string) => header.indexOf(name);
  const [ca, cb, cm, cv, cmethod] = [col('a'), col('b'), col('metric'), col('value'), col('method')];
  // pair key → {a, b, shared metrics, per-method metrics and outcome}
  type MethodCells = { outcome?: number; metrics: Map<string, number> };
  type Pair = { a: string; b: string; shared: Map<string, number>; methods: Map<string, MethodCells> };
  const pairs = new Map<string, Pair>();
  const seen = new Map<string, number>();
  const metricIds: string[] = [];
  const metricSet = new Set<string>();
  for (const rec of records.slice(1)) {
    const f = rec.fields;
    if (f.length !== header.length) throw bad(`line ${rec.line}: ${f.length} fields, header has ${header.length}`);
    const at = (j: number) => `line ${rec.line}, column ${j + 1} ("${header[j]}")`;
    const text = (j: number) => {
      const s = f[j].trim();
      if (s === '') throw bad(`${at(j)}: empty value`);
      return s;
    };
    const a = text(ca);
    const b = text(cb);
    const metric = text(cm);
    const method = cmethod >= 0 ? f[cmethod].trim() : '';
    const value = parseCell(f[cv], file, at(cv));
    const key = a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`;
    const dupKey = `${key}\u0000${method}\u0000${metric}`;
    const prev = seen.get(dupKey);
    if (prev !== undefined) throw bad(`line ${rec.line}: ${metric} of ${a}–${b}${method ? ` (${method})` : ''} already given on line ${prev}`);
    seen.set(dupKey, rec.line);
    let p = pairs.get(key);
    if (!p) pairs.set(key, (p = { a, b, shared: new Map(), methods: new Map() }));
    if (metric === outcomeName) {
      if (!method) throw bad(`line ${rec.line}: the outcome needs a method (column "method")`);
      if (Number.isNaN(value)) throw bad(`${at(cv)}: missing outcome`);
      const m: MethodCells = p.methods.get(method) ?? { metrics: new Map() };
      m.outcome = value;
      p.methods.set(method, m);
      continue;
    }
    if (!metric.startsWith('extra_') && !metricSet.has(metric)) {
      metricSet.add(metric);
      metricIds.push(metric);
    }
    if (method) {
      const m: MethodCells = p.methods.get(method) ?? { metrics: new Map() };
      m.metrics.set(metric, value);
      p.methods.set(method, m);
    } else p.shared.set(metric, value);
  }
  const rows: StudyRow[] = [];
  for (const p of pairs.values()) {
    for (const [method, m] of p.methods) {
      if (m.outcome === undefined) continue;
      const metrics: Record<string, number> = {};
      const extra: Record<string, number> = {};
      for (const src of [p.shared, m.metrics]) {
        for (const [id, v] of src) {
          if (id.startsWith('extra_')) extra[id.slice('extra_'.length)] = v;
          else metrics[id] = v;
        }
      }
      for (const id of metricIds) if (!(id in metrics)) metrics[id] = NaN;
      const row: StudyRow = { a: p.a, b: p.b, method, outcome: m.outcome, metrics };
      if (Object.keys(extra).length) row.extra = extra;
      rows.push(row);
    }
  }
  if (rows.length === 0) throw bad(`no outcome rows (metric "${outcomeName}" with a method)`, 'the outcome of each merge is a line a,b,method,outcome,value — or name the outcome metric with --outcome');
  if (metricIds.length === 0) throw bad('no metric rows besides the outcome');
  return {
    format: 'mergelens.study',
    version: 1,
    createdAt: '',
    outcome: outcomeName,
    experts: [...new Set(rows.flatMap((r) => [r.a, r.b]))].sort(),
    methods: [...new Set(rows.map((r) => r.method))].sort(),
    metricIds,
    rows,
  };
}
