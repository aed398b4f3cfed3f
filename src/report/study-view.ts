/**
 * Predicted-vs-actual data for the report's study section: each study row's outcome against
 * the predictor's calibrated prediction from the same row's metrics, per method, with r.
 */
import type { PredictorFile, StudyDataset } from '../types.js';
import { predictMethod } from '../predict/predict.js';
import { pearson } from '../predict/stats.js';

export interface ScatterSeries {
  method: string;
  actual: number[];
  predicted: number[];
  /** "a × b" per point. */
  labels: string[];
  /** Pearson r of predicted vs actual; null when undefined (fewer than 2 points, no variance). */
  r: number | null;
  n: number;
}

/**
 * One series per method present in both the study and the predictor, in study method order.
 * Rows whose metrics lack a feature the method uses (prediction not finite) are left out.
 */
export function studyScatter(study: StudyDataset, predictor: PredictorFile): ScatterSeries[] {
  const methods = [...new Set([...study.methods, ...study.rows.map((r) => r.method)])].filter((m) => predictor.methods[m]);
  const out: ScatterSeries[] = [];
  for (const method of methods) {
    const mp = predictor.methods[method];
    const s: ScatterSeries = { method, actual: [], predicted: [], labels: [], r: null, n: 0 };
    for (const row of study.rows) {
      if (row.method !== method || !Number.isFinite(row.outcome)) continue;
      const p = predictMethod(mp, { a: row.a, b: row.b, values: row.metrics }).predicted;
      if (!Number.isFinite(p)) continue;
      s.actual.push(row.outcome);
      s.predicted.push(p);
      s.labels.push(`${row.a} × ${row.b}`);
    }
    s.n = s.actual.length;
    const r = pearson(s.predicted, s.actual);
    s.r = Number.isFinite(r) ? r : null;
    if (s.n) out.push(s);
  }
  return out;
}
