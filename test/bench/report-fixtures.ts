/** Minimal bench reports for the latest.md tests. */
import type { BenchReport } from '../../src/bench/report.js';

const GB = 1e9;
export const merge = (method: string, seconds: number) => ({ method, experts: 4, result: { seconds, cpuSeconds: seconds * 1.5, bytesIn: 0.5 * GB, bytesOut: 0.1 * GB, tensors: 100, peakRss: 2 ** 27 } });

export const report = (createdAt: string, merges: BenchReport['merges'], metrics = false): BenchReport => ({
  format: 'mergelens.bench',
  version: 1,
  createdAt,
  seconds: 100,
  scale: 'small',
  machine: { cpu: 'x', cores: 2, memoryGB: 8, node: 'v20', platform: 'linux', loadAverage: [1, 1] },
  synth: { shape: { vocab: 1, hidden: 1, intermediate: 1, layers: 1, heads: 1, kvHeads: 1 }, params: 50e6, experts: 4, bytesPerCheckpoint: 0.1 * GB, seconds: 0, reused: true, dir: '/tmp' },
  metrics: metrics ? [{ label: '2 threads', threads: 2, subspace: false, result: { seconds: 1, cpuSeconds: 2, bytesRead: 0.5 * GB, params: 50e6, tensors: 100, pairs: 6, peakRss: 2 ** 27, values: [] } }] : [],
  merges,
});

