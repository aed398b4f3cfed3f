/**
 * Static HTML tables for the report, made sortable by the page script (click a header).
 * Cells carry their sort key in data-sort, so formatted numbers sort numerically.
 */
import { escapeAttr, escapeHtml } from './escape.js';
import { formatNumber } from './format.js';

export interface Column {
  label: string;
  /** Hover text for the header (e.g. a metric definition). */
  title?: string;
  numeric?: boolean;
}

/** A cell: a number (formatted, sorted numerically), a string, null (blank), or explicit parts. */
export type Cell = number | string | null | { text: string; sort?: number | string | null; title?: string; html?: string };

function cellHtml(c: Cell, numeric: boolean): string {
  const cls = numeric ? ' class="num"' : '';
  if (c === null || (typeof c === 'number' && !Number.isFinite(c))) return `<td${cls} data-sort="">—</td>`;
  if (typeof c === 'number') return `<td${cls} data-sort="${c}">${escapeHtml(formatNumber(c))}</td>`;
  if (typeof c === 'string') return `<td${cls}>${escapeHtml(c)}</td>`;
  const sort = c.sort === undefined ? '' : ` data-sort="${c.sort === null ? '' : escapeAttr(String(c.sort))}"`;
  const title = c.title ? ` title="${escapeAttr(c.title)}"` : '';
  // `html` is trusted markup built by the caller from escaped parts; `text` is escaped here.
  return `<td${cls}${sort}${title}>${c.html ?? escapeHtml(c.text)}</td>`;
}

export function renderTable(id: string, columns: Column[], rows: Cell[][]): string {
  const head = columns
    .map((c) => `<th scope="col"${c.numeric ? ' class="num"' : ''}${c.title ? ` title="${escapeAttr(c.title)}"` : ''}><button type="button">${escapeHtml(c.label)}</button></th>`)
    .join('');
  const body = rows.map((r) => `<tr>${r.map((c, k) => cellHtml(c, !!columns[k]?.numeric)).join('')}</tr>`).join('\n');
  return `<div class="table-wrap"><table class="sortable" id="${escapeAttr(id)}"><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table></div>`;
}
