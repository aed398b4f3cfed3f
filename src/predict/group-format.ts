/**
 * Plain-text and CSV presentation of group models and group screening (fit, screen). Formatting
 * only.
 */
import type { GroupPredictorSection } from '../types.js';
import { csvText } from '../util/csv.js';
import { domainReason, domainTag, table } from './format.js';
import type { GroupPrediction } from './group-predict.js';
import { groupModelQuality, type GroupDecision, type GroupScreen, type GroupSizeResult } from './group-screen.js';

const f3 = (x: number | null | undefined) => (x !== null && x !== undefined && Number.isFinite(x) ? x.toFixed(3) : '—');
const signed = (x: number) => (x >= 0 ? '+' : '') + (Math.abs(x) < 1e-3 && x !== 0 ? x.toExponential(1) : x.toFixed(3));
const interval = (p: GroupPrediction) => `${f3(p.predicted)} [${f3(p.lo)}, ${f3(p.hi)}]`;
/** An outcome description up to its first colon (the full text is in the predictor file). */
const short = (d: string) => d.split(':')[0];
const yesNo = (b: boolean | null) => (b === null ? 'n/a' : b ? 'yes' : 'NO');

function drivers(p: GroupPrediction, n = 3): string {
  return p.drivers.filter((d) => d.contribution !== 0).slice(0, n).map((d) => `${d.feature} ${signed(d.contribution)}`).join(', ') || '(intercept only)';
}

/** The group models' validation: both models (group model, mean of pair predictions) and the mean, per method and target. */
export function formatGroupValidation(section: GroupPredictorSection): string {
  const out: string[] = [`Group models (${section.scheme}):`];
  const targets: [string, Record<string, import('../types.js').GroupMethodPredictor> | undefined][] = [
    [`held-in (${short(section.outcome)})`, section.methods],
    [`held-out (${short(section.heldOutDescription ?? '')})`, section.heldOut],
  ];
  for (const [label, models] of targets) {
    if (!models || Object.keys(models).length === 0) continue;
    const rows = Object.values(models).map((m) => {
      const q = groupModelQuality(m);
      return [m.method, String(m.trainRows), m.ks.join(','), String(m.validation.folds), f3(q.r), f3(q.rmse), f3(q.meanOfPairsR), f3(q.meanOfPairsRmse), f3(q.meanRmse), yesNo(q.beatsMeanOfPairs), yesNo(q.beatsMean)];
    });
    out.push(`  ${label}`);
    out.push(
      table(['method', 'groups', 'k', 'folds', 'group r', 'group RMSE', 'pairs-mean r', 'pairs-mean RMSE', 'mean RMSE', 'beats pairs-mean', 'beats mean'], rows, [false, true, false, true, true, true, true, true, true, false, false])
        .split('\n')
        .map((l) => `  ${l}`)
        .join('\n'),
    );
  }
  for (const w of section.warnings) out.push(`  note: ${w}`);
  return out.join('\n');
}

function sizeHeader(s: GroupSizeResult, n: number): string {
  return s.search === 'exact'
    ? `Groups of ${s.k} (exact: all C(${n},${s.k}) = ${s.subsets} subsets evaluated):`
    : `Groups of ${s.k} (beam search, width ${s.beamWidth}: ${s.evaluated} of C(${n},${s.k}) = ${s.subsets} subsets evaluated — not exhaustive):`;
}

function bestText(g: GroupDecision): string {
  if (g.bestMethod) return g.bestMethod;
  const t = g.tiedMethods;
  return `no clear best (${t.slice(0, 3).join(' ≈ ')}${t.length > 3 ? ` +${t.length - 3}` : ''})`;
}

/** `screen --group-size`: per size, the best groups with method, interval, domain and why. */
export function formatGroupScreen(r: GroupScreen, opts: { outcome?: boolean } = {}): string {
  const out: string[] = [];
  if (opts.outcome !== false) out.push(`Group outcome: ${r.outcome}`);
  if (r.heldOutDescription) out.push(`Held-out outcome: ${short(r.heldOutDescription)} (details: --json)`);
  out.push('');
  out.push(`Out-of-fold quality of the group models (${r.scheme.split(':')[0]}):`);
  out.push(
    table(
      ['method', 'r', 'RMSE', 'pairs-mean RMSE', 'mean RMSE', 'beats mean'],
      r.quality.map((q) => [q.method, f3(q.r), f3(q.rmse), f3(q.meanOfPairsRmse), f3(q.meanRmse), q.beatsMean === false ? (r.withheld.includes(q.method) ? 'NO: withheld' : 'NO') : yesNo(q.beatsMean)]),
      [false, true, true, true, true],
    ),
  );
  out.push('');
  for (const n of r.notes) out.push(n);
  if (r.notes.length) out.push('');
  const header = ['#', 'group', 'best method', 'predicted [95% interval]', 'domain', ...(r.heldOutDescription ? ['held-out [95%]'] : []), 'why (largest contributions)'];
  for (const s of r.sizes) {
    out.push(sizeHeader(s, r.experts.length));
    const rows = s.groups.map((g) => {
      const ho = g.heldOut.find((p) => p.method === g.best.method);
      return [`${g.rank}${g.tiedWithTop && g.rank > 1 ? '≈' : ''}`, g.experts.join(' + '), bestText(g), interval(g.best), domainTag(g.best), ...(r.heldOutDescription ? [ho ? interval(ho) : '—'] : []), drivers(g.best)];
    });
    out.push(table(header, rows, [true]));
    const tied = s.groups.filter((g) => g.tiedWithTop).length;
    if (tied > 1) out.push(`  ≈: ${tied - 1} of the listed group(s) are not separated from the best one (intervals overlap).`);
    const ood = s.groups.filter((g) => g.best.domain && !g.best.domain.inDomain).slice(0, 2);
    for (const g of ood) out.push(`  OOD ${g.experts.join(' + ')}: ${domainReason(g.best) || `k = ${s.k} not among the trained group sizes`}`);
    out.push('');
  }
  return out.join('\n').trimEnd();
}

/** One CSV row per listed group × method × target. */
export function groupsToCsv(r: GroupScreen): string {
  const header = ['k', 'search', 'rank', 'experts', 'method', 'target', 'predicted', 'lo', 'hi', 'best', 'in_domain', 'leverage', 'distance', 'drivers'];
  const rows = r.sizes.flatMap((s) =>
    s.groups.flatMap((g) =>
      [...g.methods, ...g.heldOut].map((p) => {
        const d = p.domain;
        return [s.k, s.search, g.rank, g.experts.join('+'), p.method, p.target, p.predicted, p.lo, p.hi, String(p === g.best), d && String(d.inDomain), d?.leverage, d?.distance, p.drivers.map((x) => `${x.feature}:${x.contribution}`).join(';')];
      }),
    ),
  );
  return csvText([header, ...rows]);
}
