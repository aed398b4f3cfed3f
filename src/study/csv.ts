/**
 * CSV views of a study dataset. Pairs: one row per pair × method,
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

/**
 * CSV view of a study's groups: one row per group × method,
 * `experts,k,method,outcome,held_out,extra_<name>…`, the experts joined by '+' in dataset order.
 */
export function groupsToCsv(ds: StudyDataset): string {
  const groups = ds.groups ?? [];
  const seen = new Set(groups.flatMap((g) => Object.keys(g.extra ?? {})));
  seen.delete('k');
  // Per-task columns in dataset order (held-in accuracy, its ratio, held-out probe), then the summaries.
  const perTask = ['acc', 'norm', 'probe'].flatMap((p) => ds.experts.map((id) => `${p}_${id}`)).filter((n) => seen.has(n));
  const extraNames = [...perTask, ...[...seen].filter((n) => !perTask.includes(n))];
  const header = ['experts', 'k', 'method', 'outcome', 'held_out', ...extraNames.map((n) => `extra_${n}`)];
  const rows = groups.map((g) => [g.experts.join('+'), g.experts.length, g.method, g.outcome, g.heldOut, ...extraNames.map((n) => g.extra?.[n])]);
  return csvText([header, ...rows]);
}
