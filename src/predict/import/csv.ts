/**
 * CSV records (RFC 4180 via csv-parse) with the 1-based line each record starts on, and errors
 * that name the file and line.
 */
import { parse, CsvError } from 'csv-parse/sync';
import { MergelensError } from '../../errors.js';

export interface CsvRecord {
  line: number;
  fields: string[];
}

const NEWLINES = /\r\n|\r|\n/g;

export function readCsvRecords(text: string, file: string): CsvRecord[] {
  let parsed: { record: string[]; info: { lines: number } }[];
  try {
    parsed = parse(text, { info: true, bom: true, relax_column_count: true, skip_empty_lines: true }) as unknown as { record: string[]; info: { lines: number } }[];
  } catch (e) {
    if (e instanceof CsvError) {
      const line = (e as CsvError & { lines?: number }).lines;
      const what = e.code === 'CSV_QUOTE_NOT_CLOSED' ? 'unterminated quoted field' : e.message.replace(/^[^:]*:\s*/, '');
      throw new MergelensError('BAD_INPUT', `line ${line ?? '?'}: ${what}`, { file });
    }
    throw e;
  }
  const out: CsvRecord[] = [];
  for (const { record, info } of parsed) {
    // A line of blanks is not a record.
    if (record.length === 1 && record[0].trim() === '') continue;
    let inner = 0;
    for (const f of record) inner += f.match(NEWLINES)?.length ?? 0;
    out.push({ line: info.lines - inner, fields: record });
  }
  return out;
}
