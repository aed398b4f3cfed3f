/**
 * The targets table's work ceiling for the metrics pass (src/bench/report.ts passCeiling): beyond
 * its pair kernel a pass must read every byte from the page cache and sweep every expert-element
 * for the exact trim thresholds; the kernel's share of that CPU bounds the "70 % of kernel rate"
 * target, and the same work on the pass's threads bounds the 1-pair pass's GB/s. Hand-computed
 * from the figures below.
 */
import { describe, expect, it } from 'vitest';
import { renderTable } from '../../src/bench/report.js';
import { report } from './report-fixtures.js';

// 4 experts × 50M params, 0.1 GB per checkpoint
const pass = (experts: number, seconds: number, cpuSeconds: number) => ({
  label: `${experts} experts`,
  threads: 2,
  subspace: false,
  experts,
  result: { seconds, cpuSeconds, bytesRead: 0, params: 50e6, tensors: 10, pairs: (experts * (experts - 1)) / 2, peakRss: 2 ** 27, values: [] },
});
const run = (nsPerPairElement: number, cpuSeconds: number) => ({
  ...report('2026-01-01T00:00:00Z', []),
  metrics: [pass(4, 1, cpuSeconds), pass(2, 0.5, 0.8)],
  bandwidth: { readGBs: 20, copyGBs: 20, readAllThreadsGBs: 30, threads: 2, pageCacheGBs: 10, pageCacheCpuGBs: 5, method: 'x' },
  kernel: { experts: 4, positionsPerSecond: 1, nsPerPairElement, sweepNsPerElement: 0.5, twoExperts: { nsPerPairElement: 1, sweepNsPerElement: 0.25 } },
});
const rowOf = (text: string, start: string) => text.split('\n').find((l) => l.includes(start))!;

describe('bench: the work ceiling of the metrics-pass targets', () => {
  it('is the kernel CPU over kernel + reads + threshold sweep (hand-computed)', () => {
    // kernel 50M × 6 pairs × 0.5 ns = 0.15 s; reads 0.5 GB / 5 GB per CPU-s = 0.10 s;
    // sweep 4 × 50M × 0.5 ns = 0.10 s → 0.15 / 0.35 = 43 %; 0.35 of the pass's 1.4 CPU-s = 25 %
    const row = rowOf(renderTable(run(0.5, 1.4)), "(ceiling here: the kernel's CPU");
    expect(row).toContain('reads 0.10 s, threshold sweep 0.10 s');
    expect(row).toContain('0.15 / 0.35 s = 43%; this run 25% of it');
    expect(row).toContain('target above the ceiling');
  });

  it('flags nothing when the ceiling is above 70 %', () => {
    // kernel 50M × 6 × 5 ns = 1.5 s of 1.7 s = 88 %; 1.7 of 2 CPU-s = 85 %
    const row = rowOf(renderTable(run(5, 2)), "(ceiling here: the kernel's CPU");
    expect(row).toContain('1.50 / 1.70 s = 88%; this run 85% of it');
    expect(row).not.toContain('target above the ceiling');
  });

  it('bounds the 1-pair pass: the same work on its threads, as GB/s of the page-cache rate', () => {
    // kernel 50M × 1 ns = 0.05 s; reads 0.3 GB / 5 = 0.06 s; sweep 2 × 50M × 0.25 ns = 0.025 s → 0.135 s;
    // 0.3 GB × 2 threads / 0.135 s = 4.44 GB/s = 44 % of 10; this run 0.6 GB/s = 14 % of it
    const row = rowOf(renderTable(run(0.5, 1.4)), '(ceiling here: 2 threads doing only the pair kernel');
    expect(row).toContain('reads 0.06 s, threshold sweep 0.03 s');
    expect(row).toContain('4.44 / 10.00 GB/s = 44%; this run 14% of it');
    expect(row).not.toContain('target above the ceiling');
  });

  it('is left out of reports without the sweep figure', () => {
    const r = run(0.5, 1.4);
    delete (r.kernel as { sweepNsPerElement?: number }).sweepNsPerElement;
    delete (r.kernel as { twoExperts?: unknown }).twoExperts;
    expect(renderTable(r)).not.toContain('(ceiling here');
  });
});
