/** CSV view of a study dataset: one row per pair × method (a,b,method,outcome,acc_a,acc_b,<metrics…>). */
import type { StudyDataset } from '../types.js';

const cell = (v: string | number | undefined): string => {
  if (v === undefined) return '';
  const s = typeof v === 'number' ? (Number.isFinite(v) ? String(v) : '') : v;
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

export function studyToCsv(ds: StudyDataset): string {
  const header = ['a', 'b', 'method', 'outcome', 'acc_a', 'acc_b', ...ds.metricIds];
  const lines = [header.map(cell).join(',')];
  for (const r of ds.rows) {
    lines.push([r.a, r.b, r.method, r.outcome, r.extra?.acc_a, r.extra?.acc_b, ...ds.metricIds.map((id) => r.metrics[id])].map(cell).join(','));
  }
  return lines.join('\n') + '\n';
}
