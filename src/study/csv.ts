/**
 * CSV view of a study dataset: one row per pair × method,
 * `a,b,method,outcome,<metric ids…>,extra_<name>…`. Extra measurements carry the `extra_`
 * prefix so `mergelens fit` (src/predict/load.ts) never mistakes them for metric features.
 */
import type { StudyDataset } from '../types.js';
import { csvText } from '../util/csv.js';

export function studyToCsv(ds: StudyDataset): string {
  const extraNames = [...new Set(ds.rows.flatMap((r) => Object.keys(r.extra ?? {})))];
  const header = ['a', 'b', 'method', 'outcome', ...ds.metricIds, ...extraNames.map((n) => `extra_${n}`)];
  const rows = ds.rows.map((r) => [r.a, r.b, r.method, r.outcome, ...ds.metricIds.map((id) => r.metrics[id]), ...extraNames.map((n) => r.extra?.[n])]);
  return csvText([header, ...rows]);
}
