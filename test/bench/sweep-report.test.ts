/**
 * The bench's sweep-overhead section (src/bench/sweep-phase.ts) and its place in latest.md
 * (src/bench/report.ts): the share is sweep.json's overheadSeconds over its wallSeconds, and
 * latest.md shows the newest run that has the figures (a run limited with --only has no metrics).
 */
import { describe, expect, it } from 'vitest';
import { renderMarkdown, selectLatest, type BenchReport } from '../../src/bench/report.js';
import { renderSweep, type SweepFigures } from '../../src/bench/sweep-phase.js';

const figures = (overhead: number, wall: number): SweepFigures => ({
  experts: ['digits', 'rot90', 'invert', 'parity'],
  methods: ['task_arithmetic', 'ties'],
  jobs: 2,
  evaluations: 17,
  timing: { wallSeconds: wall, metricsSeconds: 2.8, mergeSeconds: 6.1, evaluateSeconds: 210.3, fitSeconds: 11.6, overheadSeconds: overhead, peakMaterialised: 3 },
  overheadShare: overhead / wall,
  cliSeconds: wall + 1.5,
  command: 'mergelens sweep fixtures/study/base.safetensors …',
});

const report = (createdAt: string, sweep: SweepFigures): BenchReport => ({
  format: 'mergelens.bench',
  version: 1,
  createdAt,
  seconds: 130,
  scale: 'small',
  machine: { cpu: 'x', cores: 2, memoryGB: 8, node: 'v20', platform: 'linux', loadAverage: [2, 3] },
  synth: { shape: { vocab: 1, hidden: 1, intermediate: 1, layers: 1, heads: 1, kvHeads: 1 }, params: 1, experts: 4, bytesPerCheckpoint: 1, seconds: 0, reused: true, dir: '/tmp' },
  metrics: [],
  merges: [],
  sweep,
});

describe('bench: sweep overhead', () => {
  it('states the overhead as a share of the sweep wall time, against the 5 % target', () => {
    const md = renderSweep(figures(0.52, 125.6)).join('\n');
    expect(md).toContain('Sweep overhead = 0.41 % of wall time (target < 5 %)'); // 0.52 / 125.6 = 0.00414
    expect(md).toContain('| **sweep overhead** (nothing else running) | **0.52** |');
    expect(md).toContain('| evaluating (Σ over 2 slots) | 210.3 |');
    expect(md).toContain('12 merges'); // 17 evaluations − base − 4 experts
  });

  it('latest.md shows the newest run that measured it', () => {
    const md = renderMarkdown(selectLatest([report('2026-01-02T00:00:00Z', figures(1, 100)), report('2026-01-01T00:00:00Z', figures(9, 100))]));
    expect(md).toContain('## Sweep overhead on the built-in zoo (run of 2026-01-02T00:00:00Z, load average 2.0 → 3.0)');
    expect(md).toContain('Sweep overhead = 1.00 % of wall time');
    expect(md.includes('9.00 %')).toBe(false);
  });
});
