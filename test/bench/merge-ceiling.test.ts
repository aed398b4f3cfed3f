/**
 * The targets table's write ceiling per merge (src/bench/report.ts targets): a merge cannot end
 * before its output is written, so bytes in / (the time its output takes written alone) bounds
 * its GB/s, and a target above that bound is flagged as out of reach on the machine, not as
 * missed work.
 */
import { describe, expect, it } from 'vitest';
import { renderTable } from '../../src/bench/report.js';
import { report } from './report-fixtures.js';

const GB = 1e9;
// the floor wrote 4.4 GB: a 2.2 GB output takes half its time
const run = (floorSeconds: number, seconds: number) => ({
  ...report('2026-01-01T00:00:00Z', [{ method: 'weight_avg', experts: 8, result: { seconds, cpuSeconds: seconds, bytesIn: 17.6 * GB, bytesOut: 2.2 * GB, tensors: 1, peakRss: 2 ** 27 }, writeFloor: { seconds: floorSeconds, bytes: 4.4 * GB } }]),
  bandwidth: { readGBs: 20, copyGBs: 20, readAllThreadsGBs: 30, threads: 2, pageCacheGBs: 10, method: 'x' },
});
const ceilingRow = (text: string) => text.split('\n').find((l) => l.includes('(ceiling here'))!;

describe('bench: the output-write ceiling of each merge target', () => {
  it('is bytes in over the output write time (hand-computed), and this run as a share of it', () => {
    // 2.2 GB of a 4.4 GB floor of 8.8 s = 4.4 s; 17.6 GB / 4.4 s = 4.0 GB/s = 40% of 10 GB/s; 17.6 / 5 s = 3.52 GB/s = 88% of 4.0
    const text = renderTable(run(8.8, 5));
    const row = ceilingRow(text);
    expect(row).toContain('2.20 GB output alone, written as merges write, takes 4.40 s');
    expect(row).toContain('4.00 / 10.00 GB/s = 40%; this run 88% of it');
    expect(row).not.toContain('target above the ceiling'); // 30% < 40%
    expect(text).toContain('4.40 GB in 8.80 s, 0.50 GB/s'); // the floor itself, under the merge table
  });

  it('is left out where the run measured no floor', () => {
    const r = run(8.8, 5);
    delete r.merges[0].writeFloor;
    expect(renderTable(r)).not.toContain('(ceiling here');
  });

  it('flags a target the ceiling puts out of reach', () => {
    // 2.2 GB in 8.8 s → 2.0 GB/s = 20% < the 30% target; 1.76 GB/s = 88% of it
    const row = ceilingRow(renderTable(run(17.6, 10)));
    expect(row).toContain('2.00 / 10.00 GB/s = 20%; this run 88% of it');
    expect(row).toContain('target above the ceiling');
  });
});
