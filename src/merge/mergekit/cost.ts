/**
 * What a merge method costs at a given checkpoint size, for the recommendations: estimated
 * seconds and a memory class, from measured throughput: seconds = START_S + bytes read / rate.
 * Rates of the streamed methods: the benchmark's 1.1B × 8 merges (`npm run bench`,
 * reports/bench/latest.md, run of 2026-12-02 14:50: checkpoint bytes read per second by the
 * first merge in a process, 2 cores, sharded BF16 output to disk). START_S: what a merge costs
 * besides reading (threads, kernels, files) — the small set's merges (49.5M params × 4, same
 * day) less their reading at those rates, 0.22–0.54 s. tsv and iso_c: one pair of the small
 * set's checkpoints merged by the CLI (56 s and 20 s, same day); they grow faster than the
 * bytes (dense eigenproblems of every matrix: ~hidden³ each), so above that size they are lower
 * bounds.
 */
import { getMethod } from '../registry.js';
import { inMergekit } from './emit.js';

export const COST_SOURCE =
  'npm run bench of 2026-12-02 (1.1B × 8 BF16 merges, 2 cores); tsv/iso_c from a 50M-param pair (56 s / 20 s), lower bounds above that size';

/** Checkpoint bytes read per second, GB/s. */
const READ_RATE: Record<string, number> = {
  weight_avg: 3.15,
  task_arithmetic: 3.54,
  ties: 1.39,
  dare: 2.38,
  dare_ties: 2.07,
  slerp: 1.15,
  // 3 × 0.099 GB read in 56.3 s and 20.5 s
  tsv: 0.0053,
  iso_c: 0.0145,
};

/** A merge's cost besides reading, seconds. */
const START_S = 0.35;

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
  const seconds = (id: string) => START_S + (inputs(id) * checkpointBytes) / 1e9 / (READ_RATE[id] ?? READ_RATE.tsv);
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
