/**
 * Hand-made search logs (the search.json format of src/search/run.ts) whose best-so-far, best
 * candidate and Pareto front are worked out by hand below, for the report and dashboard tests.
 *
 * Two tasks, three experts, 7 evaluations each (one failed in seed 1). Normalised scores (a, b),
 * objective = mean:
 *   seed 1: start (.70,.60) g1-0 (.80,.50) g1-1 (.55,.85) g1-2 failed g2-0 (.75,.75) g2-1 (.60,.55) g2-2 (.90,.38)
 *     best-so-far .65 .65 .70 .70 .75 .75 .75; best g2-0 (evaluation 5), gain +.10
 *     front: g1-0, g1-1, g2-0, g2-2 (start is beaten by g2-0, g2-1 by start)
 *   seed 2: start (.62,.58) g1-0 (.70,.66) g1-1 (.50,.60) g1-2 (.66,.66) g2-0 (.80,.64) g2-1 (.78,.82) g2-2 (.40,.90)
 *     best-so-far .60 .68 .68 .68 .72 .80 .80; best g2-1 (evaluation 6)
 *     front: g2-0, g2-1, g2-2 (g2-1 beats start, g1-0, g1-1, g1-2)
 * Seed 1 carries the search's own `pareto` list; seed 2 leaves it out, so the views compute it.
 */
import { EVIL, EVIL_MARKUP } from './sample.js';

export interface HandCandidate {
  id: string;
  a?: number;
  b?: number;
  weights: number[];
}

export const SEED1: HandCandidate[] = [
  { id: 'start', a: 0.7, b: 0.6, weights: [0.3, 0.3, 0.3] },
  { id: 'g1-0', a: 0.8, b: 0.5, weights: [0.5, 0.2, 0.4] },
  { id: 'g1-1', a: 0.55, b: 0.85, weights: [0.1, 0.9, 0.2] },
  { id: 'g1-2', weights: [0.0, 0.0, 0.0] },
  { id: 'g2-0', a: 0.75, b: 0.75, weights: [0.6, 0.6, 0.1] },
  { id: 'g2-1', a: 0.6, b: 0.55, weights: [0.4, 0.4, 0.9] },
  { id: 'g2-2', a: 0.9, b: 0.38, weights: [0.9, 0.1, 0.5] },
];
export const SEED2: HandCandidate[] = [
  { id: 'start', a: 0.62, b: 0.58, weights: [0.3, 0.3, 0.3] },
  { id: 'g1-0', a: 0.7, b: 0.66, weights: [0.2, 0.5, 0.3] },
  { id: 'g1-1', a: 0.5, b: 0.6, weights: [0.7, 0.1, 0.1] },
  { id: 'g1-2', a: 0.66, b: 0.66, weights: [0.3, 0.6, 0.2] },
  { id: 'g2-0', a: 0.8, b: 0.64, weights: [0.8, 0.2, 0.3] },
  { id: 'g2-1', a: 0.78, b: 0.82, weights: [0.55, 0.45, 0.35] },
  { id: 'g2-2', a: 0.4, b: 0.9, weights: [0.1, 0.95, 0.2] },
];
export const FRONT1 = ['g2-0', 'g1-1', 'g1-0', 'g2-2']; // objective order (ties: evaluation order)
export const FRONT2 = ['g2-1', 'g2-0', 'g2-2'];
export const BEST_SO_FAR1 = [0.65, 0.65, 0.7, 0.7, 0.75, 0.75, 0.75];
export const BEST_SO_FAR2 = [0.6, 0.68, 0.68, 0.68, 0.72, 0.8, 0.8];

export const EXPERTS = ['alpha', 'beta', 'gamma'];
export const TASKS = ['alpha', 'beta'];
/** A hostile expert and task name for the escaping checks. */
export const EVIL_EXPERTS = ['alpha', EVIL, 'gamma'];
export const EVIL_TASKS = ['alpha', EVIL_MARKUP];

/** The raw search.json object for one seed. Raw scores are the normalised ones × 0.9 (study-like). */
export function handLog(seed: 1 | 2, opts: { evil?: boolean; groups?: boolean } = {}): Record<string, unknown> {
  const experts = opts.evil ? EVIL_EXPERTS : EXPERTS;
  const tasks = opts.evil ? EVIL_TASKS : TASKS;
  const rows = seed === 1 ? SEED1 : SEED2;
  const G = 3;
  const candidates = rows.map((c, k) => {
    const base = { id: c.id, generation: k === 0 ? 0 : Math.ceil(k / 3), evaluation: k + 1, weights: c.weights, params: {} };
    // per-layer-group weights: group g of expert i = weight × (0.5 + 0.5 g), so the groups differ visibly
    const groupWeights = opts.groups ? { groupWeights: c.weights.map((w) => Array.from({ length: G }, (_, g) => w * (0.5 + 0.5 * g))) } : {};
    if (c.a === undefined) return { ...base, ...groupWeights, status: 'failed', reason: 'merge failed: all weights are 0' };
    const normalized = { [tasks[0]]: c.a, [tasks[1]]: c.b! };
    const scores = { [tasks[0]]: c.a * 0.9, [tasks[1]]: c.b! * 0.9 };
    return { ...base, ...groupWeights, status: 'ok', scores, normalized, objective: (c.a + c.b!) / 2 };
  });
  const ok = candidates.filter((c) => 'objective' in c) as { id: string; objective: number }[];
  const best = ok.reduce((b, c) => (c.objective > b.objective ? c : b));
  return {
    format: 'mergelens.search',
    version: 1,
    createdAt: '2026-12-01T00:00:00.000Z',
    identity: { kind: 'search', method: 'task_arithmetic', seed, objective: 'mean', start: 'uniform:0.3' },
    experts,
    tasks,
    normalization: 'normalized accuracy: score on each task ÷ that task’s expert’s own accuracy (zoo manifest)',
    expertScores: { [tasks[0]]: 0.9, [tasks[1]]: 0.9 },
    objective: 'mean',
    budget: 6,
    evaluations: candidates.length,
    start: { label: 'uniform:0.3', weights: [0.3, 0.3, 0.3], objective: (candidates[0] as { objective?: number }).objective },
    best: candidates.find((c) => c.id === best.id),
    ...(seed === 1 ? { pareto: ['g1-0', 'g1-1', 'g2-0', 'g2-2'] } : {}),
    ...(opts.groups ? { layerGroups: { count: G, rule: 'contiguous', groups: [{ layers: ['layers.0', 'layers.1'], tensors: 4, numel: 100 }, { layers: ['layers.2'], tensors: 2, numel: 50 }, { layers: ['layers.3', 'layers.4', 'layers.5'], tensors: 6, numel: 150 }] } } : {}),
    candidates,
    files: [],
    timing: { wallSeconds: 1, materialiseSeconds: 0.5, evaluateSeconds: 0.5 },
  };
}
