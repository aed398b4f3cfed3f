/**
 * CSV text from rows (RFC 4180 quoting by csv-stringify): numbers at full precision in their
 * shortest round-trip form, NaN/±Inf and missing values as empty cells, one '\n' after each row.
 */
import { stringify } from 'csv-stringify/sync';

export type CsvCell = string | number | null | undefined;

export function csvText(rows: CsvCell[][]): string {
  return stringify(rows, { cast: { number: (v: number) => (Number.isFinite(v) ? String(v) : '') } });
}
