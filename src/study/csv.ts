/**
 * CSV view of a study dataset: one row per pair × method,
 * `a,b,method,outcome,<metric ids…>,extra_<name>…`. Extra measurements carry the `extra_`
 * prefix so `mergelens fit` (src/predict/load.ts) never mistakes them for metric features.
 */
import type { StudyDataset } from '../types.js';

const cell = (v: string | number | undefined): string => {
  if (v === undefined) return '';
  const s = typeof v === 'number' ? (Number.isFinite(v) ? String(v) : '') : v;
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

export function studyToCsv(ds: StudyDataset): string {
  const extraNames = [...new Set(ds.rows.flatMap((r) => Object.keys(r.extra ?? {})))];
  const header = ['a', 'b', 'method', 'outcome', ...ds.metricIds, ...extraNames.map((n) => `extra_${n}`)];
  const lines = [header.map(cell).join(',')];
  for (const r of ds.rows) {
    const fields = [r.a, r.b, r.method, r.outcome, ...ds.metricIds.map((id) => r.metrics[id]), ...extraNames.map((n) => r.extra?.[n])];
    lines.push(fields.map(cell).join(','));
  }
  return lines.join('\n') + '\n';
}
