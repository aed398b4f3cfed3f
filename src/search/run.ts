/**
 * `mergelens search`: merge-recipe search. CMA-ES (cmaes.ts) over one weight per expert (and,
 * optionally, method parameters such as density); each candidate is merged with the `merge`
 * path (mergeToDisk) into a scratch folder, scored by the shared evaluation runner
 * (src/eval/runner.ts: journal, retries, timeouts, --jobs, bounded disk) — the user's command
 * or, with --study, the built-in zoo's own evaluation in-process — and reduced to one objective
 * from its per-task scores (objective.ts).
 *
 * Resume: the search is a deterministic function of its inputs and seed (CMA-ES samples from
 * mulberry32(seed ⊕ generation); evaluations are journalled with their exact scores), so a
 * re-run replays the generations, takes every journalled candidate's scores from the journal
 * and evaluates only the rest: after kill -9 it ends exactly where an uninterrupted run ends.
 * `--budget` is not part of the identity, so a finished search can be extended.
 *
 * Files in DIR:
 *   journal.jsonl       every evaluation attempt (what a re-run resumes from)
 *   evals/<name>/       per evaluation: logs and result.json (command evaluations)
 *   state.json          the CMA-ES state after the last generation (plain JSON)
 *   search.json         inputs, every candidate (weights, params, per-task scores, objective),
 *                       best-so-far curve, Pareto front, best recipe, timing
 *   search.csv          one row per candidate
 *   recipe.yml          the best recipe: mergekit YAML, also read by `mergelens merge --config`
 *   merge.sh            the same merge as a `mergelens merge` command line
 *   best/               the best merged checkpoint (HF folder, with mergekit_config.yml)
 */
import { existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Checkpoint, ParamValue, PredictorFile, ProgressSink } from '../types.js';
import { MergelensError } from '../errors.js';
import { openCheckpoint, openCheckpoints } from '../checkpoint/open.js';
import { getMethod, resolveParams } from '../merge/registry.js';
import { mergeToDisk } from '../merge/to-disk.js';
import { mergeCommand, mergekitDocument, mergekitYaml, type MergeSpec } from '../merge/mergekit/emit.js';
import { writeFileAtomic } from '../util/atomic.js';
import { csvText } from '../util/csv.js';
import { checkTemplate } from '../eval/command.js';
import { openJournal } from '../eval/journal.js';
import type { MetricChoice } from '../eval/contract.js';
import { commandEvaluator, JOURNAL_FILE, runEvaluations, type Candidate, type Evaluator } from '../eval/runner.js';
import { safeName } from '../sweep/run.js';
import { defaultZooDir } from '../study/zoo.js';
import { ask, createCma, tell, type CmaState, type Sample } from './cmaes.js';
import { describeObjective, objectiveValue, paretoFront, parseObjective } from './objective.js';
import { studyEvaluation } from './study-eval.js';
import { predictorStart } from './guided-start.js';

/** Method parameters the search can tune, with the box it searches them in. */
export const SEARCHABLE_PARAMS: Record<string, [number, number]> = { density: [0.05, 1], lambda: [0.1, 2] };

export interface SearchOptions {
  base: string;
  experts: string[];
  method: string;
  /** Evaluation command (see src/eval/command.ts) … */
  eval?: string;
  /** … or the built-in zoo's evaluation (experts must be zoo experts; zooDir default fixtures/study) … */
  study?: boolean;
  zooDir?: string;
  /** … or any in-process evaluator (tests). */
  evaluator?: Evaluator;
  outDir: string;
  /** CMA-ES evaluations (the uniform start is evaluated on top of these). */
  budget: number;
  popsize?: number;
  seed?: number;
  /** Box of every expert weight (default [0, 1]). */
  bounds?: [number, number];
  /** mean | min | weighted:task=w,… (default mean). */
  objective?: string;
  /** Method parameters to search too (density, lambda). */
  searchParams?: string[];
  /** Fixed method parameters. */
  params?: Record<string, ParamValue>;
  /**
   * Starting weights: "uniform" (every weight 1/N), "uniform:V" (every weight V), "predictor" /
   * "predictor:V" (guided-start.ts: V scaled per expert by the predicted pair outcomes; needs
   * `predictor`), or an explicit list "w1,w2,…". Default "uniform".
   */
  start?: string;
  predictor?: { file: string; predictor: PredictorFile };
  /** Initial step size (default 0.3 × bound width, as mergekit-evolve's default σ≈1/3 of the range). */
  sigma0?: number;
  /** Tasks to score (default: the experts' names). */
  tasks?: string[];
  metric?: MetricChoice;
  jobs?: number;
  retries?: number;
  timeoutS?: number;
  /** Write the best merged checkpoint to DIR/best (default true). */
  writeBest?: boolean;
  force?: boolean;
  signal?: AbortSignal;
  onProgress?: ProgressSink;
  log?: (line: string) => void;
}

export interface SearchCandidate {
  id: string;
  /** 0 for the start point, then CMA-ES generation 1, 2, … */
  generation: number;
  /** Evaluation order (1-based), start point first. */
  evaluation: number;
  weights: number[];
  params: Record<string, number>;
  status: 'ok' | 'failed';
  reason?: string;
  scores?: Record<string, number>;
  /** Scores ÷ each task's expert score (study), else the raw scores. */
  normalized?: Record<string, number>;
  objective?: number;
}

export interface SearchSummary {
  format: 'mergelens.search';
  version: 1;
  createdAt: string;
  identity: SearchIdentity;
  experts: string[];
  tasks: string[];
  /** How per-task scores are normalised before the objective. */
  normalization: string;
  expertScores: Record<string, number> | null;
  objective: string;
  budget: number;
  evaluations: number;
  start: { label: string; weights: number[]; objective: number | null; affinity?: Record<string, number> };
  best: SearchCandidate | null;
  /** Best objective so far after each evaluation (start point first). */
  bestSoFar: number[];
  /** Candidate ids on the Pareto front over the (normalised) per-task scores. */
  pareto: string[];
  candidates: SearchCandidate[];
  files: string[];
  timing: { wallSeconds: number; materialiseSeconds: number; evaluateSeconds: number };
}

export interface SearchIdentity {
  kind: 'search';
  base: string;
  experts: string[];
  method: string;
  eval: string;
  seed: number;
  popsize: number;
  bounds: [number, number];
  objective: string;
  searchParams: string[];
  params: Record<string, ParamValue>;
  start: string;
  predictor: string | null;
  sigma0: number;
  tasks: string[];
}

export interface SearchResult {
  summary: SearchSummary;
  interrupted: boolean;
}

const OWN_FILES = ['state.json', 'search.json', 'search.csv', 'recipe.yml', 'merge.sh', 'best'];

/** The expert's display name: its file or folder name without .safetensors. */
export const expertName = (p: string) => safeName(path.basename(p.replace(/[\\/]+$/, '')).replace(/\.safetensors$/, ''));

/** A path as given, absolute when it exists here (so the recipe works from any folder). */
const portable = (p: string) => (existsSync(p) ? path.resolve(p) : p);

async function prepareDir(dir: string, identity: SearchIdentity, force: boolean): Promise<void> {
  const entries = await fsp.readdir(dir).catch(() => null);
  if (!entries || entries.length === 0) return;
  const text = await fsp.readFile(path.join(dir, JOURNAL_FILE), 'utf8').catch(() => null);
  let header: { identity?: unknown } | null = null;
  try {
    header = text ? (JSON.parse(text.slice(0, text.indexOf('\n'))) as { identity?: unknown }) : null;
  } catch {
    header = null;
  }
  if (header && JSON.stringify(header.identity) === JSON.stringify(identity)) return;
  if (!force) {
    throw new MergelensError('OUTPUT_EXISTS', header ? 'folder holds a search (or sweep) of other inputs (models, method, seed, bounds, objective or evaluation differ)' : 'output folder is not empty and holds no search journal', {
      file: dir,
      hint: 'choose an empty or new -o folder, re-run with the same inputs to resume, or pass --force to start over',
    });
  }
  for (const f of [JOURNAL_FILE, ...OWN_FILES, 'evals', 'scratch']) await fsp.rm(path.join(dir, f), { recursive: true, force: true });
}

export async function runSearch(o: SearchOptions): Promise<SearchResult> {
  const t0 = performance.now();
  const log = o.log ?? (() => {});
  const method = getMethod(o.method);
  if (method.usesWeights === false) throw new MergelensError('BAD_PARAM', `${method.id} takes no per-expert weights: nothing to search`, { hint: 'use task_arithmetic, ties, dare, dare_ties or weight_avg' });
  if (o.experts.length < 2) throw new MergelensError('BAD_INPUT', 'a search needs at least 2 experts');
  const modes = [!!o.eval, !!o.study, !!o.evaluator].filter(Boolean).length;
  if (modes !== 1) throw new MergelensError('USAGE', 'give exactly one evaluation: --eval CMD or --study');
  if (o.eval) checkTemplate(o.eval);
  if (!Number.isInteger(o.budget) || o.budget < 1) throw new MergelensError('BAD_PARAM', `--budget must be a positive integer, got ${o.budget}`);
  const names = o.experts.map(expertName);
  if (new Set(names).size !== names.length) throw new MergelensError('BAD_INPUT', `two experts have the same name (${names.join(', ')})`, { hint: 'rename one of the files' });
  const n = names.length;
  const [lo, hi] = o.bounds ?? [0, 1];
  if (!(Number.isFinite(lo) && Number.isFinite(hi) && lo < hi)) throw new MergelensError('BAD_PARAM', `--bounds must be LO,HI with LO < HI, got ${lo},${hi}`);
  const searchParams = [...new Set(o.searchParams ?? [])];
  for (const p of searchParams) {
    if (!SEARCHABLE_PARAMS[p]) throw new MergelensError('BAD_PARAM', `--param ${p} cannot be searched`, { hint: `searchable: ${Object.keys(SEARCHABLE_PARAMS).join(', ')}` });
    if (!method.params.some((mp) => mp.name === p)) throw new MergelensError('BAD_PARAM', `${method.id} has no parameter "${p}"`, { hint: `its parameters: ${method.params.map((mp) => mp.name).join(', ') || 'none'}` });
  }
  const fixed = resolveParams(method, o.params ?? {});
  const tasks = o.tasks?.length ? o.tasks : names;
  const objective = parseObjective(o.objective ?? 'mean', tasks);
  const startText = (o.start ?? 'uniform').trim();
  const startKind = /^uniform(:|$)/.test(startText) ? 'uniform' : /^predictor(:|$)/.test(startText) ? 'predictor' : 'given';
  const startValue = startKind === 'given' ? NaN : startText.includes(':') ? Number(startText.slice(startText.indexOf(':') + 1)) : 1 / n;
  if (startKind !== 'given' && !(startValue >= lo && startValue <= hi)) throw new MergelensError('BAD_PARAM', `--start ${startText}: the value must be a number within the bounds [${lo}, ${hi}]`);
  if (startKind === 'predictor' && !o.predictor) throw new MergelensError('USAGE', '--start predictor needs a predictor', { hint: 'pass --predictor FILE (default: the shipped weights-only predictor)' });
  let given: number[] | null = null;
  if (startKind === 'given') {
    given = startText.split(',').map(Number);
    if (given.length !== n || given.some((w) => !(w >= lo && w <= hi))) throw new MergelensError('BAD_PARAM', `--start "${startText}": give uniform, predictor or ${n} weights within [${lo}, ${hi}]`);
  }
  const lower = [...names.map(() => lo), ...searchParams.map((p) => SEARCHABLE_PARAMS[p][0])];
  const upper = [...names.map(() => hi), ...searchParams.map((p) => SEARCHABLE_PARAMS[p][1])];
  const sigma0 = o.sigma0 ?? 0.3 * (hi - lo);
  const seed = o.seed ?? 0;
  const dims = n + searchParams.length;
  const popsize = o.popsize ?? 4 + Math.floor(3 * Math.log(dims));
  if (o.budget < popsize) throw new MergelensError('BAD_PARAM', `--budget ${o.budget} is below one generation (popsize ${popsize})`, { hint: `give --budget ≥ ${popsize} (whole generations of ${popsize} are evaluated) or a smaller --popsize` });
  const identity: SearchIdentity = {
    kind: 'search',
    base: path.resolve(o.base),
    experts: o.experts.map((e) => path.resolve(e)),
    method: method.id,
    eval: o.eval ?? (o.study ? `(built-in zoo ${path.resolve(o.zooDir ?? defaultZooDir())})` : '(in-process evaluator)'),
    seed,
    popsize,
    bounds: [lo, hi],
    objective: describeObjective(objective),
    searchParams,
    params: fixed,
    start: startText,
    predictor: startKind === 'predictor' ? path.resolve(o.predictor!.file) : null,
    sigma0,
    tasks,
  };
  await prepareDir(o.outDir, identity, !!o.force);
  await (await openJournal(path.join(o.outDir, JOURNAL_FILE), identity)).close();

  let evaluator: Evaluator;
  let expertScores: Record<string, number> | null = null;
  if (o.study) {
    const se = await studyEvaluation(o.zooDir ?? defaultZooDir(), tasks);
    evaluator = se.evaluator;
    expertScores = se.expertAccuracy;
  } else evaluator = o.evaluator ?? commandEvaluator({ command: o.eval!, metric: o.metric, timeoutS: o.timeoutS });
  const normalise = (s: Record<string, number>) => (expertScores ? Object.fromEntries(tasks.map((t) => [t, s[t] / expertScores![t]])) : Object.fromEntries(tasks.map((t) => [t, s[t]])));
  const normalization = expertScores ? 'normalized accuracy: score on each task ÷ that task’s expert’s own accuracy (zoo manifest)' : 'raw scores as the evaluation reports them';

  const split = (x: number[]) => ({
    weights: x.slice(0, n),
    params: Object.fromEntries(searchParams.map((p, k) => [p, x[n + k]])) as Record<string, number>,
  });
  const specOf = (x: number[]): MergeSpec => {
    const { weights, params } = split(x);
    return { method: method.id, base: portable(o.base), experts: o.experts.map(portable), weights, params: { ...fixed, ...params }, seed };
  };

  const base = await openCheckpoint(o.base);
  const opened: Checkpoint[] = [base];
  const candidates: SearchCandidate[] = [];
  let matS = 0;
  let evalS = 0;
  try {
    const experts = await openCheckpoints(o.experts);
    opened.push(...experts);
    let x0w = given ?? names.map(() => startValue);
    let affinity: Record<string, number> | undefined;
    if (startKind === 'predictor') {
      log(`predictor-guided start: pairwise metrics, then ${path.basename(o.predictor!.file)} predictions for ${method.id}`);
      const g = await predictorStart(base, experts, names, o.predictor!.predictor, method.id, startValue, [lo, hi], o.onProgress);
      x0w = g.weights;
      affinity = g.affinity;
      log(`start weights: ${names.map((e, i) => `${e}=${x0w[i].toFixed(3)}`).join(' ')}`);
    }
    const x0 = [...x0w, ...searchParams.map((p) => Number(fixed[p]))];
    const evaluateAll = async (xs: number[][], generation: number): Promise<SearchCandidate[] | null> => {
      const cs: Candidate[] = xs.map((x, k) => {
        const id = generation === 0 ? 'start' : `g${generation}-${k}`;
        const spec = specOf(x);
        return {
          id,
          name: id,
          tasks,
          meta: { generation, weights: spec.weights, params: split(x).params },
          materialise: async (dir) => {
            await mergeToDisk(base, experts, { method: method.id, weights: spec.weights, params: spec.params, seed, out: dir, force: true, allowNegativeWeights: lo < 0 });
            return dir;
          },
        };
      });
      const r = await runEvaluations({ dir: o.outDir, identity, candidates: cs, evaluator, jobs: o.jobs, retries: o.retries, signal: o.signal, onProgress: o.onProgress, phase: generation === 0 ? 'start' : `generation ${generation}` });
      matS += r.timing.materialiseSeconds;
      evalS += r.timing.evaluateSeconds;
      if (r.interrupted) return null;
      return cs.map((c, k) => {
        const out = r.outcomes.get(c.id)!;
        const { weights, params } = split(xs[k]);
        const row: SearchCandidate = { id: c.id, generation, evaluation: candidates.length + k + 1, weights, params, status: out.status === 'ok' ? 'ok' : 'failed' };
        if (out.status !== 'ok') return { ...row, reason: out.reason };
        const normalized = normalise(out.scores!);
        return { ...row, scores: out.scores, normalized, objective: objectiveValue(objective, normalized, tasks) };
      });
    };

    log(`${method.id} over ${n} experts (${names.join(', ')}), ${x0.length} dimensions, popsize ${popsize}, budget ${o.budget}, objective ${describeObjective(objective)}`);
    const start = await evaluateAll([x0], 0);
    if (!start) return interrupted();
    candidates.push(...start);
    const startObjective = start[0].objective ?? null;
    log(`start (${startText}): objective ${startObjective?.toFixed(4) ?? 'failed'}`);

    let state: CmaState = createCma({ x0, sigma0, popsize, seed, lower, upper });
    while (state.evals + state.lambda <= o.budget) {
      const pop: Sample[] = ask(state);
      const got = await evaluateAll(pop.map((p) => p.repaired), state.gen + 1);
      if (!got) return interrupted();
      candidates.push(...got);
      // A failed candidate ranks below every scored one.
      const worst = Math.min(0, ...candidates.filter((c) => c.objective !== undefined).map((c) => c.objective!));
      state = tell(state, pop, got.map((c) => -(c.objective ?? worst - 1)));
      await writeFileAtomic(path.join(o.outDir, 'state.json'), JSON.stringify(state) + '\n');
      const best = Math.max(...candidates.map((c) => c.objective ?? -Infinity));
      log(`generation ${state.gen}: ${state.evals}/${o.budget} evaluations, best ${best.toFixed(4)}, σ ${state.sigma.toPrecision(3)}`);
    }

    // Results.
    const ok = candidates.filter((c) => c.status === 'ok');
    const best = ok.reduce<SearchCandidate | null>((b, c) => (!b || c.objective! > b.objective! ? c : b), null);
    let running = -Infinity;
    const bestSoFar = candidates.map((c) => (running = Math.max(running, c.objective ?? -Infinity)));
    const front = paretoFront(ok.map((c) => tasks.map((t) => c.normalized![t])));
    const files: string[] = [];
    const write = async (f: string, text: string) => {
      await writeFileAtomic(path.join(o.outDir, f), text);
      files.push(path.join(o.outDir, f));
    };
    if (best) {
      const spec = specOf([...best.weights, ...searchParams.map((p) => best.params[p])]);
      const doc = mergekitDocument(spec);
      const comments = [
        `mergelens search: best of ${candidates.length} evaluations, objective ${describeObjective(objective)} = ${best.objective!.toFixed(4)} (${normalization.split(':')[0]})`,
        `mergelens: mergelens merge --config recipe.yml -o merged`,
        `mergekit:  mergekit-yaml recipe.yml merged`,
      ];
      await write('recipe.yml', mergekitYaml(doc, comments));
      await write('merge.sh', `#!/bin/sh\n# The best recipe of \`mergelens search\` (same as recipe.yml)\n${mergeCommand(spec, 'merged')}\n`);
      if (o.writeBest !== false) {
        log('writing the best merged checkpoint');
        const out = path.join(o.outDir, 'best');
        await mergeToDisk(base, experts, { method: method.id, weights: spec.weights, params: spec.params, seed, out, force: true, allowNegativeWeights: lo < 0, mergekitConfig: doc });
        files.push(out);
      }
    }
    const summary: SearchSummary = {
      format: 'mergelens.search',
      version: 1,
      createdAt: new Date().toISOString(),
      identity,
      experts: names,
      tasks,
      normalization,
      expertScores,
      objective: describeObjective(objective),
      budget: o.budget,
      evaluations: candidates.length,
      start: { label: startText, weights: x0w, objective: startObjective, ...(affinity ? { affinity } : {}) },
      best,
      bestSoFar,
      pareto: front.map((i) => ok[i].id),
      candidates,
      files: [],
      timing: { wallSeconds: (performance.now() - t0) / 1000, materialiseSeconds: matS, evaluateSeconds: evalS },
    };
    await write('search.csv', searchCsv(summary, searchParams));
    summary.files = [...files, path.join(o.outDir, 'search.json')];
    await write('search.json', JSON.stringify(summary, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n');
    return { summary, interrupted: false };
  } finally {
    await Promise.all(opened.map((c) => c.close().catch(() => {})));
  }

  function interrupted(): SearchResult {
    return { summary: { identity, candidates } as unknown as SearchSummary, interrupted: true };
  }
}

function searchCsv(s: SearchSummary, searchParams: string[]): string {
  const front = new Set(s.pareto);
  const header = ['evaluation', 'id', 'generation', 'status', 'objective', 'pareto', ...s.experts.map((e) => `w_${e}`), ...searchParams, ...s.tasks.map((t) => `score_${t}`), ...s.tasks.map((t) => `norm_${t}`), 'reason'];
  const rows = s.candidates.map((c) => [
    c.evaluation,
    c.id,
    c.generation,
    c.status,
    c.objective ?? '',
    front.has(c.id) ? 1 : 0,
    ...c.weights,
    ...searchParams.map((p) => c.params[p]),
    ...s.tasks.map((t) => c.scores?.[t] ?? ''),
    ...s.tasks.map((t) => c.normalized?.[t] ?? ''),
    c.reason ?? '',
  ]);
  return csvText([header, ...rows]);
}
