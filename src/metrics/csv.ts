/** CSV view of a metrics report: one row per pair, columns a, b, then every metric id. */
import type { MetricsReport } from '../types.js';
import { csvText } from '../util/csv.js';
import { METRIC_IDS } from './definitions.js';

export function metricsCsv(report: MetricsReport): string {
  const ids = [...METRIC_IDS, ...Object.keys(report.metrics).filter((k) => !METRIC_IDS.includes(k))];
  const rows = report.pairs.map(([i, j]) => [report.experts[i], report.experts[j], ...ids.map((id) => report.metrics[id]?.[i]?.[j] ?? null)]);
  return csvText([['a', 'b', ...ids], ...rows]);
}
