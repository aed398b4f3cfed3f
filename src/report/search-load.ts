/**
 * Reading a `mergelens search` log (search.json, src/search/run.ts) for the report and the
 * dashboard. Tolerant of fields added later (per-layer-group weights, a method per candidate):
 * only what the views draw is required, and each problem names the file and the field.
 */
import { MergelensError } from '../errors.js';
import { readJsonFile } from '../checkpoint/json.js';

/** One evaluated candidate, as the views read it. */
export interface SearchLogCandidate {
  id: string;
  generation: number;
  /** Evaluation order (1-based). */
  evaluation: number;
  weights: number[];
  params: Record<string, number>;
  status: string;
  reason?: string;
  /** Raw per-task scores; absent for a failed candidate. */
  scores?: Record<string, number | null>;
  /** The scores the objective and the Pareto front use (normalised with --study). */
  normalized?: Record<string, number | null>;
  objective: number | null;
  /** Set when the search chooses the method too. */
  method?: string;
  /** Per-layer-group weights ([expert][group]), when the search searched them (--layer-groups). */
  groupWeights?: number[][];
}

export interface SearchLog {
  file: string;
  createdAt: string;
  experts: string[];
  tasks: string[];
  method: string;
  objective: string;
  normalization: string;
  seed: number | null;
  budget: number | null;
  start: { label: string; weights: number[]; objective: number | null };
  /** Layer-group labels (first…last layer), when the weights are per layer group. */
  groups?: string[];
  /** What the predictor decided before the search (--method auto / --drop predictor). */
  guide?: { given: string | null; chosen: string | null; dropped: string[] };
  /** The best candidate's id as the search reported it (null: none succeeded). */
  bestId: string | null;
  /** Pareto-front ids as the search reported them (null: not in the file). */
  pareto: string[] | null;
  candidates: SearchLogCandidate[];
}

const bad = (file: string, problem: string) =>
  new MergelensError('BAD_INPUT', problem, { file, hint: 'give the search.json that `mergelens search -o DIR` writes into DIR' });

const isObj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');
const isNumbers = (v: unknown): v is number[] => Array.isArray(v) && v.every((x) => typeof x === 'number');

function scoreRecord(file: string, where: string, v: unknown): Record<string, number | null> | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObj(v) || !Object.values(v).every((x) => x === null || typeof x === 'number')) throw bad(file, `${where} must be an object of task → number`);
  return v as Record<string, number | null>;
}

function groupWeights(file: string, where: string, v: unknown, n: number, g: number | undefined): number[][] {
  // [expert][group]: every expert has the same number of groups (the log's layer groups when named).
  const ok = Array.isArray(v) && v.length === n && v.every((r) => isNumbers(r) && r.length === (g ?? (v[0] as number[]).length) && r.length > 0);
  if (!ok) throw bad(file, `${where} must be ${n} lists (one per expert) of ${g ?? 'the same number of'} weights (one per layer group)`);
  return v as number[][];
}

/** "3: layers.4…layers.7" from the log's layerGroups entry (names kept as written; escaped by each view). */
function groupLabels(file: string, raw: unknown): string[] | undefined {
  if (raw === undefined || raw === null) return undefined;
  const groups = isObj(raw) ? raw.groups : undefined;
  if (!Array.isArray(groups)) throw bad(file, 'layerGroups.groups must be an array of {layers: [...]}');
  return groups.map((gr: unknown, k: number) => {
    const layers = isObj(gr) && isStrings(gr.layers) ? gr.layers : [];
    const span = layers.length === 0 ? '' : layers.length === 1 ? layers[0] : `${layers[0]}…${layers[layers.length - 1]}`;
    return span ? `${k + 1}: ${span}` : `group ${k + 1}`;
  });
}

/** Check the structure the views rely on; throws BAD_INPUT naming the field. */
export function validateSearchLog(raw: unknown, file: string): SearchLog {
  if (!isObj(raw) || raw.format !== 'mergelens.search') {
    throw bad(file, `not a mergelens search log (format ${JSON.stringify(isObj(raw) ? raw.format : undefined)}, expected "mergelens.search")`);
  }
  if (!isStrings(raw.experts) || raw.experts.length === 0) throw bad(file, 'experts must be a non-empty array of names');
  if (!isStrings(raw.tasks) || raw.tasks.length === 0) throw bad(file, 'tasks must be a non-empty array of names');
  if (!Array.isArray(raw.candidates)) throw bad(file, 'candidates must be an array');
  const n = raw.experts.length;
  const groups = groupLabels(file, raw.layerGroups);
  const identity = isObj(raw.identity) ? raw.identity : {};
  const seen = new Set<string>();
  const candidates = raw.candidates.map((c: unknown, k: number): SearchLogCandidate => {
    const where = `candidates[${k}]`;
    if (!isObj(c) || typeof c.id !== 'string') throw bad(file, `${where} must be an object with an id`);
    if (seen.has(c.id)) throw bad(file, `${where}: candidate id "${c.id}" appears twice`);
    seen.add(c.id);
    if (!isNumbers(c.weights) || c.weights.length !== n) throw bad(file, `${where}.weights must be ${n} numbers (one per expert)`);
    const params = isObj(c.params) ? Object.fromEntries(Object.entries(c.params).filter(([, v]) => typeof v === 'number')) as Record<string, number> : {};
    const objective = c.objective === undefined || c.objective === null ? null : num(c.objective);
    if (c.objective !== undefined && c.objective !== null && objective === null) throw bad(file, `${where}.objective must be a number`);
    return {
      id: c.id,
      generation: num(c.generation) ?? 0,
      evaluation: num(c.evaluation) ?? k + 1,
      weights: c.weights,
      params,
      status: typeof c.status === 'string' ? c.status : objective === null ? 'failed' : 'ok',
      ...(typeof c.reason === 'string' ? { reason: c.reason } : {}),
      scores: scoreRecord(file, `${where}.scores`, c.scores),
      normalized: scoreRecord(file, `${where}.normalized`, c.normalized),
      objective,
      ...(typeof c.method === 'string' ? { method: c.method } : {}),
      ...(c.groupWeights !== undefined && c.groupWeights !== null ? { groupWeights: groupWeights(file, `${where}.groupWeights`, c.groupWeights, n, groups?.length) } : {}),
    };
  });
  candidates.sort((a, b) => a.evaluation - b.evaluation);
  const start = isObj(raw.start) ? raw.start : {};
  const best = isObj(raw.best) && typeof raw.best.id === 'string' ? raw.best.id : null;
  if (best !== null && !seen.has(best)) throw bad(file, `best names candidate "${best}", which is not among the candidates`);
  const pareto = isStrings(raw.pareto) ? raw.pareto : null;
  const missing = pareto?.find((id) => !seen.has(id));
  if (missing !== undefined) throw bad(file, `pareto names candidate "${missing}", which is not among the candidates`);
  const str = (v: unknown, d: string) => (typeof v === 'string' ? v : d);
  const guide = isObj(raw.guide) ? raw.guide : null;
  const guideMethod = guide && isObj(guide.method) ? guide.method : {};
  return {
    file,
    createdAt: str(raw.createdAt, ''),
    experts: raw.experts,
    tasks: raw.tasks,
    method: str(identity.method, str(raw.method, '?')),
    objective: str(raw.objective, str(identity.objective, 'mean')),
    normalization: str(raw.normalization, ''),
    seed: num(identity.seed),
    budget: num(raw.budget),
    start: { label: str(start.label, str(identity.start, 'start')), weights: isNumbers(start.weights) ? start.weights : [], objective: num(start.objective) },
    ...(groups ? { groups } : {}),
    ...(guide ? { guide: { given: str(guideMethod.given, '') || null, chosen: str(guideMethod.chosen, '') || null, dropped: isStrings(guide.dropped) ? guide.dropped : [] } } : {}),
    bestId: best,
    pareto,
    candidates,
  };
}

export async function loadSearchLog(file: string): Promise<SearchLog> {
  return validateSearchLog(await readJsonFile(file, 'BAD_INPUT', 'search log'), file);
}
