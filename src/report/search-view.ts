/**
 * What the search views show, computed once from one or more search logs (search-load.ts) — the
 * HTML report's search section and the dashboard's search view are thin shells over this. Pure:
 * no I/O, no HTML, no terminal codes.
 *
 *   best-so-far    running maximum of the objective in evaluation order (failed candidates keep
 *                  the previous value; null before the first success)
 *   Pareto front   the search's own list when the log has one, else recomputed over the scores
 *                  the objective uses (src/search/objective.ts paretoFront)
 *   comparison     with several logs: runs grouped by (method, objective, experts, start), the
 *                  best-so-far at fixed evaluation counts as mean ± sd over each group's seeds
 */
import path from 'node:path';
import { paretoFront } from '../search/objective.js';
import type { SearchLog, SearchLogCandidate } from './search-load.js';

export interface SearchCandidateView {
  id: string;
  evaluation: number;
  generation: number;
  weights: number[];
  params: Record<string, number>;
  /** Per task (tasks order): the scores the objective uses (normalised with --study). */
  scores: (number | null)[];
  /** Per task: the raw scores. */
  raw: (number | null)[];
  objective: number | null;
  /** Lowest of `scores` (the worst task). */
  worst: number | null;
  pareto: boolean;
  method?: string;
  groupWeights?: number[][];
}

export interface SearchRunView {
  label: string;
  file: string;
  method: string;
  objective: string;
  normalization: string;
  /** True when `scores` differ from `raw` (normalised). */
  normalized: boolean;
  start: string;
  seed: number | null;
  experts: string[];
  tasks: string[];
  /** Method parameters searched (keys of the candidates' params), in first-seen order. */
  params: string[];
  groups: string[] | null;
  /** What the predictor decided before the search (--method auto / --drop predictor). */
  guide: { given: string | null; chosen: string | null; dropped: string[] } | null;
  evaluations: number;
  failed: number;
  /** Each candidate's objective, in evaluation order. */
  objectives: (number | null)[];
  bestSoFar: (number | null)[];
  startCandidate: SearchCandidateView | null;
  best: SearchCandidateView | null;
  /** Gain of the best over the start (objective units); null without both. */
  gain: number | null;
  /** Every successful candidate (for the 2-task scatter). */
  points: SearchCandidateView[];
  /** Pareto front, highest objective first. */
  pareto: SearchCandidateView[];
  /** Top candidates by objective (at most TOP_N). */
  top: SearchCandidateView[];
  /** Distinct methods when the search chose among several. */
  methods: string[];
}

export interface ComparisonGroup {
  label: string;
  runs: string[];
  seeds: (number | null)[];
  /** Best-so-far at each checkpoint: mean and sample sd over the runs (sd null for one run). */
  mean: (number | null)[];
  sd: (number | null)[];
  start: { mean: number | null; sd: number | null };
  final: { mean: number | null; sd: number | null };
  /** Evaluation at which each run reached its final best. */
  bestAt: (number | null)[];
}

export interface SearchComparison {
  /** Evaluation counts (1-based) the table reports: 1, 10, 20, … and the shortest run's length. */
  checkpoints: number[];
  groups: ComparisonGroup[];
}

export interface SearchViewModel {
  runs: SearchRunView[];
  comparison: SearchComparison | null;
}

export const TOP_N = 20;

const finite = (v: number | null | undefined): v is number => typeof v === 'number' && Number.isFinite(v);

/** Running maximum; nulls carry the previous value (null until the first number). */
export function runningBest(values: (number | null)[]): (number | null)[] {
  let best: number | null = null;
  return values.map((v) => (best = finite(v) && (best === null || v > best) ? v : best));
}

export function meanSd(xs: number[]): { mean: number | null; sd: number | null } {
  if (!xs.length) return { mean: null, sd: null };
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  if (xs.length < 2) return { mean, sd: null };
  return { mean, sd: Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1)) };
}

/** A run's display label: its folder name (what -o was), else the file name. */
export function runLabel(file: string): string {
  const dir = path.basename(path.dirname(path.resolve(file)));
  return dir && dir !== '.' ? dir : path.basename(file);
}

function candidateView(c: SearchLogCandidate, tasks: string[], front: Set<string>): SearchCandidateView {
  const scores = tasks.map((t) => (finite(c.normalized?.[t]) ? c.normalized![t]! : finite(c.scores?.[t]) ? c.scores![t]! : null));
  const raw = tasks.map((t) => (finite(c.scores?.[t]) ? c.scores![t]! : null));
  const ok = scores.filter(finite);
  return {
    id: c.id,
    evaluation: c.evaluation,
    generation: c.generation,
    weights: c.weights,
    params: c.params,
    scores,
    raw,
    objective: c.objective,
    worst: ok.length === tasks.length ? Math.min(...ok) : null,
    pareto: front.has(c.id),
    ...(c.method !== undefined ? { method: c.method } : {}),
    ...(c.groupWeights ? { groupWeights: c.groupWeights } : {}),
  };
}

const byObjective = (a: SearchCandidateView, b: SearchCandidateView) => (b.objective ?? -Infinity) - (a.objective ?? -Infinity) || a.evaluation - b.evaluation;

export function searchRunView(log: SearchLog, label = runLabel(log.file)): SearchRunView {
  const { tasks } = log;
  const ok = log.candidates.filter((c) => c.objective !== null && c.status === 'ok');
  let front: Set<string>;
  if (log.pareto) front = new Set(log.pareto);
  else {
    const pts = ok.map((c) => tasks.map((t) => c.normalized?.[t] ?? c.scores?.[t] ?? NaN));
    const usable = pts.map((p, k) => (p.every(Number.isFinite) ? k : -1)).filter((k) => k >= 0);
    front = new Set(paretoFront(usable.map((k) => pts[k])).map((i) => ok[usable[i]].id));
  }
  const all = log.candidates.map((c) => candidateView(c, tasks, front));
  const points = all.filter((c) => c.objective !== null);
  const objectives = all.map((c) => c.objective);
  const bestId = log.bestId ?? [...points].sort(byObjective)[0]?.id ?? null;
  const best = all.find((c) => c.id === bestId) ?? null;
  const startCandidate = all.find((c) => c.generation === 0) ?? all[0] ?? null;
  const params = [...new Set(log.candidates.flatMap((c) => Object.keys(c.params)))];
  const methods = [...new Set(log.candidates.map((c) => c.method).filter((m): m is string => !!m))];
  const startObjective = startCandidate?.objective ?? log.start.objective;
  return {
    label,
    file: log.file,
    method: log.method,
    objective: log.objective,
    normalization: log.normalization,
    normalized: all.some((c) => c.scores.some((v, k) => v !== c.raw[k])),
    start: log.start.label,
    seed: log.seed,
    experts: log.experts,
    tasks,
    params,
    groups: log.groups ?? null,
    guide: log.guide ?? null,
    evaluations: log.candidates.length,
    failed: log.candidates.length - points.length,
    objectives,
    bestSoFar: runningBest(objectives),
    startCandidate,
    best,
    gain: finite(best?.objective) && finite(startObjective) ? best!.objective! - startObjective : null,
    points,
    pareto: all.filter((c) => c.pareto).sort(byObjective),
    top: [...points].sort(byObjective).slice(0, TOP_N),
    methods,
  };
}

/** Evaluation counts for the comparison table: 1, 10, 20, …, and `n` itself. */
export function checkpoints(n: number): number[] {
  if (n < 1) return [];
  const out = [1];
  for (let k = 10; k < n; k += 10) out.push(k);
  if (n > 1) out.push(n);
  return out;
}

/** Runs grouped by what they searched and how they started; null for a single run. */
export function compareRuns(runs: SearchRunView[]): SearchComparison | null {
  if (runs.length < 2) return null;
  const keyOf = (r: SearchRunView) => JSON.stringify([r.method, r.objective, r.experts, r.tasks, r.start]);
  const byKey = new Map<string, SearchRunView[]>();
  for (const r of runs) byKey.set(keyOf(r), [...(byKey.get(keyOf(r)) ?? []), r]);
  const manyMethods = new Set(runs.map((r) => r.method)).size > 1;
  const manyPools = new Set(runs.map((r) => JSON.stringify([r.experts, r.tasks, r.objective]))).size > 1;
  const cps = checkpoints(Math.min(...runs.map((r) => r.evaluations)));
  const groups = [...byKey.values()].map((rs): ComparisonGroup => {
    const at = cps.map((k) => meanSd(rs.map((r) => r.bestSoFar[k - 1]).filter(finite)));
    const label = [
      `start ${rs[0].start}`,
      manyMethods ? rs[0].method : '',
      manyPools ? `${rs[0].experts.length} experts, objective ${rs[0].objective}` : '',
    ].filter(Boolean).join(' · ');
    return {
      label,
      runs: rs.map((r) => r.label),
      seeds: rs.map((r) => r.seed),
      mean: at.map((s) => s.mean),
      sd: at.map((s) => s.sd),
      start: meanSd(rs.map((r) => r.startCandidate?.objective ?? null).filter(finite)),
      final: meanSd(rs.map((r) => r.best?.objective ?? null).filter(finite)),
      bestAt: rs.map((r) => r.best?.evaluation ?? null),
    };
  });
  return { checkpoints: cps, groups };
}

/** Labels made unique (a folder name can repeat across parents): "name", "name (2)", … */
function uniqueLabels(labels: string[]): string[] {
  const seen = new Map<string, number>();
  return labels.map((l) => {
    const k = (seen.get(l) ?? 0) + 1;
    seen.set(l, k);
    return k === 1 ? l : `${l} (${k})`;
  });
}

export function searchViewModel(logs: SearchLog[], labels?: string[]): SearchViewModel {
  const names = uniqueLabels(labels ?? logs.map((l) => runLabel(l.file)));
  const runs = logs.map((l, k) => searchRunView(l, names[k]));
  return { runs, comparison: compareRuns(runs) };
}
