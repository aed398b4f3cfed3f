/**
 * Plain-text and CSV presentation of predictors and predictions (for the fit / predict /
 * screen commands). No computation beyond formatting.
 */
import type { Prediction, PredictorFile } from '../types.js';
import type { Ranking } from './predict.js';
import { buildVerdict, type PairDecision, type Verdict } from './verdict.js';
import { rankCoefficients } from './fingerprint.js';
import { csvText } from '../util/csv.js';

const f3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : '—');
/** Signed value; null/NaN (too few folds to compare) print as n/a instead of crashing. */
const signed = (x: number | null | undefined) =>
  x === null || x === undefined || !Number.isFinite(x) ? 'n/a' : (x >= 0 ? '+' : '') + (Math.abs(x) < 1e-3 && x !== 0 ? x.toExponential(1) : x.toFixed(3));

export function table(header: string[], rows: string[][], alignRight: boolean[] = []): string {
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
  const over = (n: number | undefined) => (n === undefined ? '' : ` (over ${n}${fp.methodPairs !== undefined ? ` of ${fp.methodPairs}` : ''} method pair(s))`);
  out.push(`  across methods: mean top-5 overlap ${f3(fp.meanTop5Overlap)}${over(fp.overlapPairs)}, mean sign agreement ${f3(fp.meanSignAgreement)}${over(fp.signPairs)}`);
  return out.join('\n');
}

function drivers(p: Prediction, n = 3): string {
  return p.drivers
    .filter((d) => d.contribution !== 0)
    .slice(0, n)
    .map((d) => `${d.metric} ${signed(d.contribution)}`)
    .join(', ');
}

const interval = (p: Prediction) => `${f3(p.predicted)} [${f3(p.lo)}, ${f3(p.hi)}]`;

/** A prediction's domain in a few characters: "in", "OOD ×28" (distance in thresholds), "?" (unknown); "!range" when beyond the possible outcomes. */
export function domainTag(p: Pick<Prediction, 'domain'>): string {
  const d = p.domain;
  if (!d) return '?';
  const tag = d.inDomain ? 'in' : `OOD ×${d.distance >= 10 ? d.distance.toFixed(0) : d.distance.toFixed(1)}`;
  return d.beyondPossible ? `${tag} !range` : tag;
}

/** Why a prediction is out of domain, in words (empty when in domain or unknown). */
export function domainReason(p: Pick<Prediction, 'domain'>, maxMetrics = 3): string {
  const d = p.domain;
  if (!d || d.inDomain) return '';
  const parts: string[] = [];
  if (d.distance > 1) parts.push(`leverage ${f3(d.leverage)} is ${d.distance.toFixed(1)}× the training threshold`);
  if (d.outOfRange.length) {
    const shown = d.outOfRange.slice(0, maxMetrics).map((o) => `${o.metric} ${f3(o.value)} outside [${f3(o.min)}, ${f3(o.max)}]`);
    parts.push(shown.join(', ') + (d.outOfRange.length > maxMetrics ? ` and ${d.outOfRange.length - maxMetrics} more metric(s)` : ''));
  }
  return parts.join('; ');
}

/** "tsv" when the verdict names a best method, else "no clear best (tsv ≈ ties ≈ dare)". */
export function bestMethodText(p: PairDecision, maxTied = 3): string {
  if (p.bestMethod) return p.bestMethod;
  const t = p.tiedMethods;
  return `no clear best (${t.slice(0, maxTied).join(' ≈ ')}${t.length > maxTied ? ` +${t.length - maxTied}` : ''})`;
}

/** The out-of-fold quality table printed with every verdict. */
export function formatQuality(v: Verdict): string {
  const q = Object.values(v.quality);
  if (!q.length) return 'Out-of-fold quality: unknown (predictions given without their predictor).';
  const schemes = [...new Set(q.map((x) => x.scheme))];
  const scheme = schemes.length === 1 && schemes[0] === 'loto' ? 'leave-one-task-out: new experts' : schemes.join('/');
  const rows = q.map((x) => [
    x.method,
    f3(x.r),
    f3(x.rmse),
    f3(x.baselineRmse),
    x.beatsMean === null ? 'unknown' : x.beatsMean ? 'yes' : 'NO: withheld',
    x.gain ? `${signed(x.gain.value)} [${signed(x.gain.lo)}, ${signed(x.gain.hi)}]` : '',
  ]);
  return [`Out-of-fold quality of this predictor (calibrated model, ${scheme}):`, table(['method', 'r', 'RMSE', 'mean RMSE', 'beats mean', 'gain [95%]'], rows, [false, true, true, true])].join('\n');
}

/**
 * The screen/predict verdict: the predictor's out-of-fold quality, the verdict's notes (domain,
 * withheld methods, ties), the leading group and the pairs to avoid — every row with its
 * interval and domain.
 */
export function formatVerdict(v: Verdict, opts: { top?: number; outcome?: string } = {}): string {
  const out: string[] = [];
  if (opts.outcome) out.push(`Outcome: ${opts.outcome}`, '');
  out.push(formatQuality(v), '');
  for (const n of v.notes) out.push(n);
  if (v.notes.length) out.push('');
  const top = opts.top ?? v.pairs.length;
  const row = (p: PairDecision) => {
    const others = p.methods.filter((m) => m !== p.best);
    return [
      String(p.rank),
      `${p.a} + ${p.b}`,
      bestMethodText(p),
      interval(p.best),
      domainTag(p.best),
      others[0] ? `${others[0].method} ${f3(others[0].predicted)}` : '—',
      drivers(p.best) || '(intercept only)',
    ];
  };
  const header = ['#', 'pair', 'best method', 'predicted [95% interval]', 'domain', 'runner-up', 'why (largest contributions)'];
  const lead = v.lead.slice(0, top);
  out.push(
    v.lead.length > 1
      ? `No clear winner among these ${v.lead.length} pairs (intervals overlap the best pair's; best usable method each):`
      : 'Best pair (its interval lies above every other pair\'s):',
  );
  out.push(table(header, lead.map(row), [true]));
  if (v.lead.length > top) out.push(`… ${v.lead.length - top} more tied pair(s); use --top or --json`);
  const ood = lead.filter((p) => p.best.domain && !p.best.domain.inDomain);
  for (const p of ood.slice(0, 3)) out.push(`  OOD ${p.a} + ${p.b}: ${domainReason(p.best)}`);
  if (ood.length > 3) out.push(`  … ${ood.length - 3} more OOD pair(s) (see --json)`);
  out.push('');
  if (v.avoid.length) {
    out.push('Pairs to avoid (even the best method\'s interval lies entirely below the best pair\'s):');
    out.push(table(header, v.avoid.slice(0, top).map(row), [true]));
    if (v.avoid.length > top) out.push(`… ${v.avoid.length - top} more; use --top or --json`);
  } else out.push('Pairs to avoid: none (no pair\'s interval lies entirely below the best pair\'s).');
  return out.join('\n');
}

/** A Ranking printed by the verdict's rules (library API; no predictor, so no out-of-fold quality). */
export function formatRanking(r: Ranking, opts: { top?: number; outcome?: string } = {}): string {
  return formatVerdict(buildVerdict(r.pairs.flatMap((p) => p.methods)), opts);
}

export function predictionsToCsv(preds: Prediction[]): string {
  const header = ['a', 'b', 'method', 'predicted', 'lo', 'hi', 'score', 'in_domain', 'leverage', 'distance', 'beyond_possible', 'drivers'];
  const rows = preds.map((p) => {
    const d = p.domain;
    return [p.a, p.b, p.method, p.predicted, p.lo, p.hi, p.score, d && String(d.inDomain), d?.leverage, d?.distance, d && String(d.beyondPossible), p.drivers.map((x) => `${x.metric}:${x.contribution}`).join(';')];
  });
  return csvText([header, ...rows]);
}
