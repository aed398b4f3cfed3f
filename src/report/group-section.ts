/**
 * The report's "Recommended groups" section: when the predictor carries group models
 * (src/predict/group-fit.ts), the best groups of each trained size k ≥ 3 among the report's
 * experts (group-screen.ts: exact or beam search, stated), with method, 95% interval, domain,
 * held-out prediction and the largest contributions; and the group models' out-of-fold quality
 * against the mean of pair predictions. Static HTML; every string escaped.
 */
import type { MetricsReport, PredictorFile } from '../types.js';
import { recommendGroups } from '../predict/group-screen.js';
import { domainTag } from '../predict/format.js';
import { escapeHtml as h } from './escape.js';
import { renderTable, type Cell } from './table.js';

const f3 = (x: number | null | undefined) => (x !== null && x !== undefined && Number.isFinite(x) ? x.toFixed(3) : '—');
const c3 = (x: number | null | undefined): Cell => ({ text: f3(x), sort: x !== null && x !== undefined && Number.isFinite(x) ? x : null });

export function groupSection(metrics: MetricsReport, predictor: PredictorFile | undefined): string {
  if (!predictor?.groups) return '';
  const r = recommendGroups(metrics, predictor);
  if (!r) {
    return `<section id="groups-section"><h2>Recommended groups</h2><p class="note">The predictor has group models, but not for these experts: too few experts, or the metrics they need are not in this report.</p></section>`;
  }
  const quality = renderTable(
    'group-quality-table',
    [{ label: 'Method' }, { label: 'group r', numeric: true }, { label: 'group RMSE', numeric: true }, { label: 'pairs-mean r', numeric: true }, { label: 'pairs-mean RMSE', numeric: true, title: 'mean of the pair predictions over the group\'s pairs (pair model fitted on the same fold)' }, { label: 'mean RMSE', numeric: true }],
    r.quality.map((q) => [q.method, c3(q.r), c3(q.rmse), c3(q.meanOfPairsR), c3(q.meanOfPairsRmse), c3(q.meanRmse)]),
  );
  const rows: Cell[][] = r.sizes.flatMap((s) =>
    s.groups.map((g) => {
      const ho = g.heldOut.find((p) => p.method === g.best.method);
      return [
        s.k,
        g.rank,
        g.experts.join(' + '),
        g.bestMethod ?? `no clear best (${g.tiedMethods.join(' ≈ ')})`,
        { text: `${f3(g.best.predicted)} [${f3(g.best.lo)}, ${f3(g.best.hi)}]`, sort: g.best.predicted },
        domainTag(g.best),
        ho ? { text: `${f3(ho.predicted)} [${f3(ho.lo)}, ${f3(ho.hi)}]`, sort: ho.predicted } : null,
        s.search === 'exact' ? `exact (${s.subsets})` : `beam ${s.beamWidth} (${s.evaluated}/${s.subsets})`,
        g.best.drivers.slice(0, 3).map((d) => `${d.feature} ${d.contribution >= 0 ? '+' : ''}${d.contribution.toFixed(3)}`).join(', ') || '(intercept only)',
      ];
    }),
  );
  const table = renderTable(
    'groups-table',
    [{ label: 'k', numeric: true }, { label: '#', numeric: true }, { label: 'Group' }, { label: 'Best method' }, { label: 'Predicted [95%]', numeric: true }, { label: 'Domain' }, { label: 'Held-out [95%]', numeric: true, title: r.heldOutDescription }, { label: 'Search' }, { label: 'Why (largest contributions)' }],
    rows,
  );
  return `<section id="groups-section"><h2>Recommended groups</h2>
<p class="note">Merges of k ≥ 3 experts, chosen with the predictor's group models (features: mean, min, max and spread of each pair metric over the group's pairs, and k). Outcome: ${h(r.outcome)}.</p>
${r.notes.map((n) => `<p class="note">${h(n)}</p>`).join('\n')}
${table}
<h3>Group models, out of fold (${h(r.scheme.split(':')[0])})</h3>
${quality}
</section>`;
}
