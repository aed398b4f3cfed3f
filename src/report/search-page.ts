/**
 * `mergelens report --search DIR/search.json` without a metrics file: a self-contained page with
 * only the search section (same page shell, stylesheet and script as the full report).
 */
import { escapeHtml } from './escape.js';
import { htmlDocument } from './render.js';
import { renderSearchSection } from './search-section.js';
import type { SearchViewModel } from './search-view.js';

const h = escapeHtml;

export function renderSearchReport(vm: SearchViewModel, opts: { title?: string } = {}): string {
  const r0 = vm.runs[0];
  const title = opts.title ?? `mergelens search report: ${r0.method} over ${r0.experts.length} experts${vm.runs.length > 1 ? `, ${vm.runs.length} runs` : ''}`;
  const section = renderSearchSection(vm);
  const evaluations = vm.runs.reduce((s, r) => s + r.evaluations, 0);
  return htmlDocument({
    title,
    sub: `${h(vm.runs.length)} search log${vm.runs.length > 1 ? 's' : ''} · ${h(evaluations)} evaluations · tasks ${h(r0.tasks.join(', '))}`,
    nav: [['search-section', 'Search'], ['search-pareto-table', 'Pareto front'], ['search-top-table', 'Top candidates']],
    main: section.html,
    // The page script's own model: no metrics sections on this page.
    model: { experts: [], metricIds: [], pairs: [], definitions: {} },
    extra: [section.scripts],
  });
}
