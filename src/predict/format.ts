/**
 * Plain-text and CSV presentation of predictors and predictions (for the fit / predict /
 * screen commands). No computation beyond formatting.
 */
import type { Prediction, PredictorFile } from '../types.js';
import type { Ranking } from './predict.js';
import { rankCoefficients } from './fingerprint.js';

const f3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : '—');
const signed = (x: number) => (x >= 0 ? '+' : '') + (Math.abs(x) < 1e-3 && x !== 0 ? x.toExponential(1) : x.toFixed(3));

function table(header: string[], rows: string[][], alignRight: boolean[] = []): string {
  const w = header.map((h, j) => Math.max(h.length, ...rows.map((r) => r[j].length)));
  const fmt = (r: string[]) => r.map((c, j) => (alignRight[j] ? c.padStart(w[j]) : c.padEnd(w[j]))).join('  ').trimEnd();
  return [fmt(header), w.map((n) => '─'.repeat(n)).join('  '), ...rows.map(fmt)].join('\n');
}

/** Per-method validation table plus each method's fingerprint (paper coefficients, ranked). */
export function formatValidation(pf: PredictorFile): string {
  const out: string[] = [];
  const schemes = [...new Set(Object.values(pf.methods).flatMap((m) => m.validation.map((v) => v.scheme)))];
  for (const scheme of schemes) {
    const rows = Object.values(pf.methods).flatMap((m) => {
      const v = m.validation.find((x) => x.scheme === scheme);
      if (!v) return [];
      const nz = m.paper.coef.filter((c) => c !== 0).length;
      return [[m.method, String(m.trainRows), `${nz}/${m.features.length}`, String(v.folds), f3(v.meanFoldR), f3(v.pooledR), f3(v.spearman), f3(v.calibrated.mae), f3(v.calibrated.rmse), f3(v.calibrated.pooledR), f3(v.baseline.mae), f3(v.baseline.rmse)]];
    });
    out.push(`Validation (${scheme === 'loto' ? 'leave-one-task-out' : 'k-fold over pairs'}, out of fold):`);
    out.push(
      table(
        ['method', 'rows', 'paper β≠0', 'folds', 'paper fold r', 'pooled r', 'ρ', 'cal. MAE', 'cal. RMSE', 'cal. r', 'mean MAE', 'mean RMSE'],
        rows,
        [false, true, true, true, true, true, true, true, true, true, true, true],
      ),
    );
    out.push('');
  }
  out.push('Fingerprints (paper model, non-zero β ranked by |β|):');
  for (const m of Object.values(pf.methods)) {
    const ranked = rankCoefficients(m.features, m.paper.coef).slice(0, 6);
    out.push(`  ${m.method}: ${ranked.length ? ranked.map((c) => `${c.metric} (${signed(c.coef)})`).join(', ') : 'all coefficients zero at this λ'}`);
  }
  const fp = pf.fingerprints;
  out.push(`  across methods: mean top-5 overlap ${f3(fp.meanTop5Overlap)}, mean sign agreement ${f3(fp.meanSignAgreement)}`);
  return out.join('\n');
}

function drivers(p: Prediction, n = 3): string {
  return p.drivers
    .filter((d) => d.contribution !== 0)
    .slice(0, n)
    .map((d) => `${d.metric} ${signed(d.contribution)}`)
    .join(', ');
}

/** The ranked screen/predict table: best pairs with their best method, then pairs to avoid. */
export function formatRanking(r: Ranking, opts: { top?: number; outcome?: string } = {}): string {
  const top = opts.top ?? r.pairs.length;
  const out: string[] = [];
  const rows = r.pairs.slice(0, top).map((p, i) => {
    const second = p.methods[1];
    return [
      String(i + 1),
      `${p.a} + ${p.b}`,
      p.best.method,
      `${f3(p.best.predicted)} [${f3(p.best.lo)}, ${f3(p.best.hi)}]`,
      second ? `${second.method} ${f3(second.predicted)}` : '—',
      drivers(p.best) || '(intercept only)',
    ];
  });
  if (opts.outcome) out.push(`Outcome: ${opts.outcome}`, '');
  out.push('Best pairs (predicted outcome of the best method, 95% interval):');
  out.push(table(['#', 'pair', 'best method', 'predicted [interval]', 'runner-up', 'why (largest contributions)'], rows, [true]));
  if (r.pairs.length > top) out.push(`… ${r.pairs.length - top} more pair(s); use --top or --json`);
  if (r.avoid.length) {
    out.push('');
    out.push('Pairs to avoid (even their best method is predicted > 1 residual std below the best pair):');
    for (const p of r.avoid) {
      const worst = p.methods[p.methods.length - 1];
      out.push(`  ${p.a} + ${p.b}: best ${p.best.method} ${f3(p.best.predicted)} [${f3(p.best.lo)}, ${f3(p.best.hi)}], worst ${worst.method} ${f3(worst.predicted)}; driven by ${drivers(p.best) || 'the intercept only'}`);
    }
  }
  return out.join('\n');
}

function csvField(s: string): string {
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function predictionsToCsv(preds: Prediction[]): string {
  const lines = ['a,b,method,predicted,lo,hi,score,drivers'];
  for (const p of preds) {
    lines.push(
      [p.a, p.b, p.method, String(p.predicted), String(p.lo), String(p.hi), String(p.score), p.drivers.map((d) => `${d.metric}:${d.contribution}`).join(';')]
        .map(csvField)
        .join(','),
    );
  }
  return lines.join('\n') + '\n';
}
