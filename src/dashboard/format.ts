/**
 * Text formatting shared by every dashboard surface (screen, plain table, tests), so a number
 * reads the same everywhere and fits a 7-character matrix cell.
 */

/** Format a metric/prediction value in at most 7 characters; null/NaN → "—". */
export function formatValue(v: number | null | undefined): string {
  if (v === null || v === undefined || Number.isNaN(v)) return '—';
  if (!Number.isFinite(v)) return v > 0 ? '∞' : '−∞';
  if (v === 0) return '0';
  const a = Math.abs(v);
  const exp = (digits: number) => v.toExponential(digits).replace('e+', 'e');
  let s: string;
  // Very large / very small magnitudes (gradient norms, dot products) need exponent form to fit.
  if (a >= 1e4 || a < 1e-2) s = exp(1);
  else if (a >= 100) s = v.toFixed(1);
  else if (a >= 1) s = v.toFixed(3);
  // Three significant digits below 1, so 0.0134 does not collapse to 0.013.
  else s = v.toPrecision(3);
  // Rounding can add a digit (−99.9996 → "−100.000"), three-digit exponents too: shorten.
  if (s.length > 7) s = exp(1);
  if (s.length > 7) s = exp(0);
  return s;
}

/** "0.712 [0.653, 0.771]" */
export function formatInterval(predicted: number, lo: number, hi: number): string {
  return `${formatValue(predicted)} [${formatValue(lo)}, ${formatValue(hi)}]`;
}

/** Signed contribution, e.g. "+0.021" / "-0.031". */
export function formatSigned(v: number): string {
  const s = formatValue(v);
  return v > 0 ? `+${s}` : s;
}

/** Cut to `width` columns, marking the cut with an ellipsis. */
export function truncate(s: string, width: number): string {
  if (width <= 0) return '';
  if (s.length <= width) return s;
  return width === 1 ? '…' : s.slice(0, width - 1) + '…';
}

export function padRight(s: string, width: number): string {
  const t = truncate(s, width);
  return t + ' '.repeat(width - t.length);
}

export function padLeft(s: string, width: number): string {
  const t = truncate(s, width);
  return ' '.repeat(width - t.length) + t;
}

/** Greedy word wrap to `width` columns, at most `maxLines` lines (last one truncated). */
export function wrap(text: string, width: number, maxLines: number): string[] {
  const lines: string[] = [];
  let cur = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (cur && cur.length + 1 + word.length > width) {
      lines.push(cur);
      cur = word;
    } else cur = cur ? `${cur} ${word}` : word;
  }
  if (cur) lines.push(cur);
  if (lines.length > maxLines) {
    const kept = lines.slice(0, maxLines);
    kept[maxLines - 1] = truncate(kept[maxLines - 1] + ' …', width);
    return kept;
  }
  return lines.map((l) => truncate(l, width));
}
