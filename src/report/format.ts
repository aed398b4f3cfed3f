/**
 * Number formatting for the report's static text and tables (the page script formats plot
 * labels with the same rules). Fixed rules so tables line up and tiny gradient values stay
 * readable: 4 significant digits, scientific notation outside [1e-3, 1e5).
 */

export function formatNumber(v: number | null | undefined): string {
  if (v === null || v === undefined || Number.isNaN(v)) return '—';
  if (!Number.isFinite(v)) return v > 0 ? '∞' : '−∞';
  if (v === 0) return '0';
  const a = Math.abs(v);
  const s = a >= 1e5 || a < 1e-3 ? v.toExponential(2) : String(Number(v.toPrecision(4)));
  return s.replace('-', '−');
}

/** Large counts with a unit suffix: 6.74 B, 12.3 M, 950 K. */
export function formatCount(n: number): string {
  const units: [number, string][] = [[1e12, 'T'], [1e9, 'B'], [1e6, 'M'], [1e3, 'K']];
  for (const [size, suffix] of units) {
    if (Math.abs(n) >= size) return `${Number((n / size).toPrecision(3))} ${suffix}`;
  }
  return String(n);
}

/** Round to `digits` significant digits (for compact embedded data; null/non-finite → null). */
export function roundSignificant(v: number | null, digits: number): number | null {
  if (v === null || !Number.isFinite(v)) return null;
  return v === 0 ? 0 : Number(v.toPrecision(digits));
}
