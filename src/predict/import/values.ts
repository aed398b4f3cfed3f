/**
 * One rule for numeric cells in every study format (wide CSV, long CSV, paper JSON):
 * empty, `null`, `None`, `NA`, `nan` (any case) mean "missing" (NaN); ±inf is an error that names
 * the cell — an infinite metric is a bug upstream, not a value to fit on; anything else that is
 * not a number is an error too.
 */
import { MergelensError } from '../../errors.js';

const MISSING = /^(|null|none|na|n\/a|nan)$/i;
const INFINITE = /^[+-]?(inf|infinity)$/i;

/** Parse one cell; `where` names it in errors ("s.csv: line 3, column 5 (\"tv_l2\")"). */
export function parseCell(raw: string, file: string, where: string): number {
  const s = raw.trim();
  if (MISSING.test(s)) return NaN;
  if (INFINITE.test(s)) throw new MergelensError('BAD_INPUT', `${where}: infinite value ${JSON.stringify(s)} (fix the source; missing values are written empty, null, None or nan)`, { file });
  const v = Number(s);
  if (!Number.isFinite(v)) throw new MergelensError('BAD_INPUT', `${where}: not a number: ${JSON.stringify(s)}`, { file });
  return v;
}

/** A JSON value where a number is expected: null (and the strings parseCell accepts) → NaN. */
export function jsonNumber(v: unknown, file: string, where: string): number {
  if (v === null || v === undefined) return NaN;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new MergelensError('BAD_INPUT', `${where}: non-finite value ${v}`, { file });
    return v;
  }
  if (typeof v === 'string') return parseCell(v, file, where);
  throw new MergelensError('BAD_INPUT', `${where}: expected a number or null, got ${JSON.stringify(v)}`, { file });
}
