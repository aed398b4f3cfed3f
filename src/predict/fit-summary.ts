/**
 * Plain-text summary `fit` prints after the validation table: how λ was chosen, what missing
 * values cost, and per method whether the calibrated model beats predicting the mean out of fold
 * (with its interval). Presentation only.
 */
import type { PredictorFile } from '../types.js';
import { paperMetric } from './import/paper-metrics.js';
import { rankCoefficients } from './fingerprint.js';

const f3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : '—');
const g2 = (x: number) => (Number.isFinite(x) ? x.toPrecision(2) : '—');
const pct = (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(1)} %` : '—');

export function formatFitSummary(pf: PredictorFile): string {
  const out: string[] = [];
  const ms = Object.values(pf.methods);
  out.push('Paper-model λ (λ_max = the smallest λ that zeroes every coefficient; docs/predictors.md):');
  for (const m of ms) {
    const s = m.lambdaSelection;
    if (!s) continue;
    const nz = m.paper.coef.filter((c) => c !== 0).length;
    const loto = m.validation.find((v) => v.scheme === 'loto')?.perFold ?? [];
    const rhos = loto.map((f) => f.rho).filter((r): r is number => r !== undefined).sort((a, b) => a - b);
    const foldRange = rhos.length ? `; per LOTO fold λ/λ_max ${g2(rhos[0])}–${g2(rhos[rhos.length - 1])}` : '';
    const what = s.mode === 'auto' ? `auto: λ/λ_max = ${g2(s.value)} (inner LOTO)` : s.mode === 'relative' ? `fixed λ/λ_max = ${g2(s.value)}` : `paper scale λ = ${g2(s.value)} (= ${g2(s.value / s.lambdaMax)} λ_max)`;
    out.push(`  ${m.method}: ${what}, paper-scale λ ${g2(s.paperLambda)}, λ_max ${g2(s.lambdaMax)}; ${nz}/${m.features.length} coefficients kept${foldRange}`);
  }
  out.push('');
  out.push('Calibrated model vs predicting the training mean (out of fold; interval: 95 % over resampled folds):');
  for (const m of ms) {
    const v = m.verdict;
    if (!v) continue;
    const verdict = v.beatsMean ? 'BEATS the mean' : v.hi < 0 ? 'WORSE than the mean' : 'NOT shown better than the mean';
    out.push(
      `  ${m.method}: ${verdict} (${v.scheme}) — RMSE ${f3(v.calibratedRmse)} vs mean ${f3(v.baselineRmse)}, gain ${f3(v.gain)} [${f3(v.lo)}, ${f3(v.hi)}] = ${pct(v.relativeGain)} of the mean's error`,
    );
  }
  const weak = ms.filter((m) => m.verdict && !m.verdict.beatsMean).map((m) => m.method);
  if (weak.length) out.push(`  → calibrated predictions for ${weak.join(', ')} are no better than the mean outcome; use the paper score to rank pairs, not to predict accuracy.`);
  const missing = ms.filter((m) => m.missing && (m.missing.rowsDropped > 0 || m.missing.featuresDropped.length > 0));
  if (missing.length) {
    out.push('');
    out.push('Missing values:');
    for (const m of missing) {
      const x = m.missing!;
      out.push(`  ${m.method} (${x.policy}): ${x.rowsDropped} row(s) dropped, ${x.featuresDropped.length} feature(s) dropped${x.featuresDropped.length ? ` (${x.featuresDropped.join(', ')})` : ''}; fitted on ${m.trainRows} rows`);
    }
  }
  const named = ms.flatMap((m) => rankCoefficients(m.features, m.paper.coef).slice(0, 5).map((c) => c.metric)).filter((id) => paperMetric(id));
  const uniq = [...new Set(named)];
  if (uniq.length) {
    out.push('');
    out.push('Paper metric names in the fingerprints, with their mergelens counterpart:');
    for (const id of uniq) {
      const p = paperMetric(id)!;
      out.push(`  ${id}: ${p.relation === 'same' ? `= ${p.mergelens}` : p.relation === 'differs' ? `≈ ${p.mergelens} (differs: ${p.note})` : `not computed by mergelens${p.note ? ` (${p.note})` : ''}`}`);
    }
  }
  return out.join('\n');
}
