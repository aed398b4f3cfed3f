/** CSV view of a metrics report: one row per pair, columns a, b, then every metric id. */
import type { MetricsReport } from '../types.js';
import { METRIC_IDS } from './definitions.js';

function cell(v: string | number | null | undefined): string {
  if (v === null || v === undefined) return '';
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function metricsCsv(report: MetricsReport): string {
  const ids = [...METRIC_IDS, ...Object.keys(report.metrics).filter((k) => !METRIC_IDS.includes(k))];
  const lines = [['a', 'b', ...ids].map(cell).join(',')];
  for (const [i, j] of report.pairs) {
    lines.push([report.experts[i], report.experts[j], ...ids.map((id) => report.metrics[id]?.[i]?.[j] ?? null)].map(cell).join(','));
  }
  return lines.join('\n') + '\n';
}
