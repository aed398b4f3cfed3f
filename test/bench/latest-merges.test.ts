/**
 * latest.md's merge table (src/bench/report.ts renderMarkdown): the newest run that timed merges,
 * plus each method it did not time from the newest run that did (tsv and iso_c are timed only
 * when asked for), each borrowed row named with its run.
 */
import { describe, expect, it } from 'vitest';
import { renderMarkdown, selectLatest } from '../../src/bench/report.js';
import { merge, report } from './report-fixtures.js';

describe('bench: latest.md merge table', () => {
  it('takes each method from the newest run that timed it, and says which run', () => {
    const md = renderMarkdown(selectLatest([
      report('2026-01-03T00:00:00Z', [], true), // metrics only
      report('2026-01-02T00:00:00Z', [merge('weight_avg', 0.5), merge('ties', 0.9)]),
      report('2026-01-01T00:00:00Z', [merge('weight_avg', 7), merge('tsv', 240), merge('iso_c', 46)]),
    ]));
    const rows = md.split('\n').filter((l) => /^\| (weight_avg|ties|tsv|iso_c) /.test(l));
    expect(rows.map((l) => l.split('|')[1].trim())).toEqual(['weight_avg', 'ties', 'tsv', 'iso_c']);
    expect(rows.map((l) => Number(l.split('|')[3]))).toEqual([0.5, 0.9, 240, 46]); // weight_avg from the newer run, not 7
    expect(md).toContain('(Merge figures from the run of 2026-01-02T00:00:00Z: same files, the same kind of machine.)');
    expect(md).toContain('(tsv, iso_c merge figures from the run of 2026-01-01T00:00:00Z: same files, the same kind of machine.)');
  });
});
