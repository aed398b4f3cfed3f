/**
 * What a merge method costs at a given checkpoint size, for the recommendations: estimated
 * seconds and a memory class, from measured throughput. Figures for the streamed methods are
 * the benchmark's merge table (`npm run bench -- --small`, reports/bench/latest.md: 49.5M-param
 * BF16 checkpoints, 4 experts, 2 cores, to-disk sharded output, run of 2026-12-01): checkpoint
 * bytes read per second. tsv and iso_c are not in the benchmark; their figure is the issue-18
 * measurement (one pair of a 50M-param BF16 model took 5.5 min) and grows faster than the bytes
 * (a full SVD of every matrix: ~hidden³ per matrix), so it is a lower bound for larger models.
 */
import { getMethod } from '../registry.js';
import { inMergekit } from './emit.js';

export const COST_SOURCE =
  'throughput from reports/bench/latest.md (npm run bench -- --small: 49.5M-param BF16, 2 cores, 2026-12-01); tsv/iso_c from the issue-18 report (5.5 min per 50M-param pair), a lower bound above that size';

/** Checkpoint bytes read per second, GB/s. */
const READ_RATE: Record<string, number> = {
  weight_avg: 0.21,
  task_arithmetic: 0.21,
  ties: 0.17,
  dare: 0.12,
  dare_ties: 0.12,
  slerp: 0.18,
  // 3 × 0.099 GB read in 330 s
  tsv: 0.0009,
  iso_c: 0.0009,
};

export interface MethodCost {
  method: string;
  /** Estimated wall time of one pair merge at this size, seconds. */
  seconds: number;
  /** Relative to weight_avg at the same size. */
  relative: number;
  /** 'streamed': bounded by the row-chunk size (~0.4 GB RSS measured); 'whole-tensor SVD': float64 copies of the largest matrix, more for bigger models. */
  memory: 'streamed' | 'whole-tensor SVD';
  mergekit: boolean;
}

/** Cost of merging one pair (2 experts, plus the base when the method reads it) of checkpoints of `checkpointBytes` each. */
export function mergeCost(method: string, checkpointBytes: number): MethodCost {
  const m = getMethod(method);
  const inputs = (id: string) => 2 + (getMethod(id).needsBase ? 1 : 0);
  const seconds = (id: string) => (inputs(id) * checkpointBytes) / 1e9 / (READ_RATE[id] ?? READ_RATE.tsv);
  const svd = m.id === 'tsv' || m.id === 'iso_c';
  return {
    method: m.id,
    seconds: seconds(m.id),
    relative: seconds(m.id) / seconds('weight_avg'),
    memory: svd ? 'whole-tensor SVD' : 'streamed',
    mergekit: inMergekit(m.id),
  };
}

const fmtTime = (s: number) => (s < 90 ? `${s.toFixed(s < 10 ? 1 : 0)} s` : s < 5400 ? `${(s / 60).toFixed(0)} min` : `${(s / 3600).toFixed(1)} h`);

/** One line per method: estimated time, relative cost, memory class, whether mergekit runs it. */
export function formatCosts(costs: MethodCost[], checkpointBytes: number): string {
  const w = Math.max(...costs.map((c) => c.method.length));
  const lines = costs.map(
    (c) => `  ${c.method.padEnd(w)}  ~${fmtTime(c.seconds).padStart(7)}  ${`×${c.relative < 10 ? c.relative.toFixed(1) : c.relative.toFixed(0)}`.padStart(6)}  ${c.memory.padEnd(16)}  ${c.mergekit ? 'mergekit: yes' : 'mergekit: no (mergelens only)'}`,
  );
  return [`Merge cost per pair at this size (${(checkpointBytes / 1e9).toFixed(2)} GB per checkpoint; estimates, ${COST_SOURCE}):`, ...lines].join('\n');
}
