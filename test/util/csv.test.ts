/**
 * csvText (src/util/csv.ts), the one CSV writer behind metrics --csv, study.csv and the
 * dashboard export: RFC 4180 quoting checked by hand on hostile cells, and a round trip
 * through an independent parser (csv-parse) that must give back every cell.
 */
import { parse } from 'csv-parse/sync';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { csvText } from '../../src/util/csv.js';

describe('csvText', () => {
  it('quotes exactly the cells that need it and writes numbers at full precision', () => {
    const text = csvText([
      ['a', 'b,c', 'say "hi"', 'two\nlines', 'cr\r'],
      [0.1 + 0.2, -0, 1e-300, NaN, Infinity],
      [null, undefined, '', 42, -1.5],
    ]);
    expect(text).toBe('a,"b,c","say ""hi""","two\nlines","cr\r"\n' + '0.30000000000000004,0,1e-300,,\n' + ',,,42,-1.5\n');
  });

  it('round-trips any strings and finite numbers through csv-parse', () => {
    fc.assert(
      fc.property(fc.array(fc.array(fc.oneof(fc.string(), fc.double({ noNaN: true, noDefaultInfinity: true })), { minLength: 3, maxLength: 3 }), { minLength: 1, maxLength: 5 }), (rows) => {
        const back = parse(csvText(rows), { relax_column_count: false }) as string[][];
        expect(back).toEqual(rows.map((r) => r.map((c) => (typeof c === 'number' ? String(c) : c))));
      }),
      { numRuns: 200 },
    );
  });
});
