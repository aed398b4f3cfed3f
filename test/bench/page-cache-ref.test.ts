/**
 * The page-cache rate each merge target is measured against (src/bench/report.ts pageCacheRef):
 * the fastest reading in its run of the merge's inputs (read alone just before each merge), where
 * the run recorded them, else the one-shard rate of the run the merge comes from — never another
 * run's (latest.md mixes runs; ratios stay within one).
 */
import { describe, expect, it } from 'vitest';
import { renderMarkdown, renderTable, selectLatest, type BenchReport } from '../../src/bench/report.js';
import { report } from './report-fixtures.js';

const GB = 1e9;
const bandwidth = (pageCacheGBs: number) => ({ readGBs: 20, copyGBs: 20, readAllThreadsGBs: 30, threads: 2, pageCacheGBs, method: 'x' });
// 17.6 GB in 5 s = 3.52 GB/s
const weightAvg = (inputsRead?: { bytes: number; seconds: number }, method = 'weight_avg', experts = 8): BenchReport['merges'][number] => ({
  method,
  experts,
  result: { seconds: 5, cpuSeconds: 8, bytesIn: 17.6 * GB, bytesOut: 2.2 * GB, tensors: 1, peakRss: 2 ** 27 },
  ...(inputsRead ? { inputsRead } : {}),
});
const row = (text: string, start: string) => text.split('\n').find((l) => l.startsWith(`| ${start}`));

describe('bench: the page-cache reference of the merge targets', () => {
  it("is the merge's own inputs read just before it, with the one-shard rate beside it", () => {
    // inputs: 17.6 GB in 4 s = 4.4 GB/s → 3.52 / 4.4 = 80 %; one shard at 14 GB/s → 25 %
    const text = renderTable({ ...report('2026-01-01T00:00:00Z', [weightAvg({ bytes: 17.6 * GB, seconds: 4 })]), bandwidth: bandwidth(14) });
    expect(row(text, 'weight_avg ≥ 30% of page-cache read rate (its inputs, fastest read in the run)')).toContain('3.52 / 4.40 GB/s = 80%');
    expect(row(text, 'weight_avg ≥ 30% of page-cache read rate')).toMatch(/\| +met \|$/);
    expect(row(text, '(same, against one 0.5 GB shard re-read')).toContain('3.52 / 14.00 GB/s = 25%');
    expect(row(text, '(same, against one 0.5 GB shard re-read')).toContain('not met');
    expect(row(text, 'weight_avg ')).toContain('|             4.40 |'); // the table's inputs column
  });

  it('is the fastest reading of the same inputs in the run, not a slow one', () => {
    // ties read the same 17.6 GB at 1.1 GB/s (16 s) after weight_avg read them at 4.4 GB/s: both use 4.4;
    // a 2-expert merge reads other files and keeps its own 2.2 GB/s (1.1 GB in 0.5 s)
    const merges = [weightAvg({ bytes: 17.6 * GB, seconds: 4 }), weightAvg({ bytes: 17.6 * GB, seconds: 16 }, 'ties'), weightAvg({ bytes: 1.1 * GB, seconds: 0.5 }, 'slerp', 2)];
    const text = renderTable({ ...report('2026-01-01T00:00:00Z', merges), bandwidth: bandwidth(14) });
    expect(row(text, 'ties ≥ 15% of page-cache read rate')).toContain('3.52 / 4.40 GB/s = 80%');
    expect(row(text, 'slerp ≥ 30% of page-cache read rate')).toContain('3.52 / 2.20 GB/s = 160%');
  });

  it('falls back to the one-shard rate where the run did not read the inputs', () => {
    const text = renderTable({ ...report('2026-01-01T00:00:00Z', [weightAvg()]), bandwidth: bandwidth(10) });
    expect(row(text, 'weight_avg ≥ 30% of page-cache read rate (one shard re-read)')).toContain('3.52 / 10.00 GB/s = 35%');
    expect(text).not.toContain('(same, against one 0.5 GB shard re-read');
  });

  it("in latest.md takes each part's reference from its own run", () => {
    // metrics run: one shard at 5 GB/s; the newer merge run: 14 GB/s and no inputs read
    const metricsRun = { ...report('2026-01-01T00:00:00Z', [], true), bandwidth: bandwidth(5) };
    const mergeRun = { ...report('2026-01-02T00:00:00Z', [weightAvg()]), bandwidth: bandwidth(14) };
    // and an older run's merge, read at 2.2 and 4.4 GB/s: its own run's fastest, not the newer run's figures
    const olderRun = { ...report('2025-12-31T00:00:00Z', [weightAvg({ bytes: 17.6 * GB, seconds: 8 }, 'tsv'), weightAvg({ bytes: 17.6 * GB, seconds: 4 }, 'iso_c')]), bandwidth: bandwidth(9) };
    const md = renderMarkdown(selectLatest([metricsRun, mergeRun, olderRun]));
    expect(row(md, 'weight_avg ≥ 30% of page-cache read rate (one shard re-read)')).toContain('3.52 / 14.00 GB/s = 25%');
    expect(row(md, 'tsv (reported) of page-cache read rate (its inputs, fastest read in the run)')).toContain('3.52 / 4.40 GB/s = 80%');
    // the metrics run's bandwidth is shown (its own), not the newer run's
    expect(md).toContain('page-cache positioned reads 5.0 GB/s');
    expect(md).not.toContain('(Bandwidth from the run of');
  });
});
