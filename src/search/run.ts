/**
 * `mergelens search`: merge-recipe search. CMA-ES (cmaes.ts) over one weight per expert — or per
 * (expert, layer group) with --layer-groups (layer-groups.ts) — and, optionally, method parameters
 * such as density. Before it, the predictor may choose the method (--method auto) and drop
 * experts predicted to merge badly (--drop predictor; guide.ts). Each candidate is merged with the `merge`
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
import type { Checkpoint, MergeMethod, ParamValue, Prediction, PredictorFile, ProgressSink } from '../types.js';
import { MergelensError } from '../errors.js';
import { openCheckpoint, openCheckpoints } from '../checkpoint/open.js';
import { getMethod, resolveParams } from '../merge/registry.js';
import { mergeToDisk, type MergeToDiskOptions } from '../merge/to-disk.js';
import { parseMergeConfig } from '../merge/config.js';
import { mergeCommand, mergekitDocument, mergekitYaml, type MergeSpec } from '../merge/mergekit/emit.js';
import { writeFileAtomic } from '../util/atomic.js';
import { isOutputOfKind } from '../util/output-policy.js';
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
import { poolPredictions, weightsFromPairs } from './guided-start.js';
import { guidePool, type ExpertAffinity, type MethodScore, type PoolGuidance } from './guide.js';
import { GROUPING_RULE, groupLayers, groupSetting, meanWeights } from './layer-groups.js';

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
  /**
   * Split the model's numbered layers into this many contiguous groups and search one weight per
   * (expert, group) (layer-groups.ts); default 1 (one weight per expert).
   */
  layerGroups?: number;
  /**
   * "predictor": drop the experts whose pairs the predictor predicts harmful (guide.ts) before
   * searching; default "none". `method: 'auto'` lets the predictor choose the method.
   */
  drop?: 'none' | 'predictor';
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
  /** One weight per (kept) expert; with layer groups, its mean over the groups weighted by their parameter counts. */
  weights: number[];
  /** With layer groups only: weight per expert (outer) and group (inner). */
  groupWeights?: number[][];
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
  start: { label: string; weights: number[]; objective: number | null; groupWeights?: number[][]; affinity?: Record<string, number> };
  best: SearchCandidate | null;
  /** Best objective so far after each evaluation (start point first). */
  bestSoFar: number[];
  /** Candidate ids on the Pareto front over the (normalised) per-task scores. */
  pareto: string[];
  candidates: SearchCandidate[];
  files: string[];
  timing: { wallSeconds: number; materialiseSeconds: number; evaluateSeconds: number };
  /** With --layer-groups > 1: the groups (layer names, tensor and parameter counts) and the rule. */
  layerGroups?: { count: number; rule: string; groups: { layers: string[]; tensors: number; numel: number }[] };
  /** With --method auto / --drop predictor: what the predictor decided, with its numbers (guide.ts). */
  guide?: {
    predictor: string;
    method: { given: string; chosen: string; separated: boolean | null; candidates: MethodScore[] };
    drop: 'none' | 'predictor';
    experts: ExpertAffinity[];
    dropped: string[];
  };
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
  layerGroups?: number;
  guide?: { method: 'auto' | 'given'; drop: 'none' | 'predictor'; dropped: string[] };
}

export interface SearchResult {
  summary: SearchSummary;
  interrupted: boolean;
}

const OWN_FILES = ['state.json', 'search.json', 'search.csv', 'recipe.yml', 'merge.sh', 'best', 'report.html'];

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
  // --force replaces a previous search only: never a sweep's folder (same journal file) or anything else.
  if (!(await isOutputOfKind('search', dir))) {
    throw new MergelensError('OUTPUT_NOT_OURS', `exists and is not a search folder${header ? ' (its journal belongs to a sweep)' : ''}; --force replaces only a previous search`, { file: dir, hint: 'remove it yourself if you mean to, or choose another -o folder' });
  }
  for (const f of [JOURNAL_FILE, ...OWN_FILES, 'evals', 'scratch']) await fsp.rm(path.join(dir, f), { recursive: true, force: true });
}

export async function runSearch(o: SearchOptions): Promise<SearchResult> {
  const t0 = performance.now();
  const log = o.log ?? (() => {});
  const auto = o.method === 'auto';
  const drop = (o.drop ?? 'none') === 'predictor';
  if (o.drop !== undefined && o.drop !== 'none' && o.drop !== 'predictor') throw new MergelensError('BAD_PARAM', `--drop must be none or predictor, got "${o.drop}"`);
  if (!auto) checkMethod(getMethod(o.method));
  if (o.experts.length < 2) throw new MergelensError('BAD_INPUT', 'a search needs at least 2 experts');
  const modes = [!!o.eval, !!o.study, !!o.evaluator].filter(Boolean).length;
  if (modes !== 1) throw new MergelensError('USAGE', 'give exactly one evaluation: --eval CMD or --study');
  if (o.eval) checkTemplate(o.eval);
  if (!Number.isInteger(o.budget) || o.budget < 1) throw new MergelensError('BAD_PARAM', `--budget must be a positive integer, got ${o.budget}`);
  const groupCount = o.layerGroups ?? 1;
  if (!Number.isInteger(groupCount) || groupCount < 1) throw new MergelensError('BAD_PARAM', `--layer-groups must be a positive integer, got ${groupCount}`);
  const allNames = o.experts.map(expertName);
  if (new Set(allNames).size !== allNames.length) throw new MergelensError('BAD_INPUT', `two experts have the same name (${allNames.join(', ')})`, { hint: 'rename one of the files' });
  const [lo, hi] = o.bounds ?? [0, 1];
  if (!(Number.isFinite(lo) && Number.isFinite(hi) && lo < hi)) throw new MergelensError('BAD_PARAM', `--bounds must be LO,HI with LO < HI, got ${lo},${hi}`);
  const searchParams = [...new Set(o.searchParams ?? [])];
  for (const p of searchParams) if (!SEARCHABLE_PARAMS[p]) throw new MergelensError('BAD_PARAM', `--param ${p} cannot be searched`, { hint: `searchable: ${Object.keys(SEARCHABLE_PARAMS).join(', ')}` });
  const tasks = o.tasks?.length ? o.tasks : allNames;
  const objective = parseObjective(o.objective ?? 'mean', tasks);
  const startText = (o.start ?? 'uniform').trim();
  const startKind = /^uniform(:|$)/.test(startText) ? 'uniform' : /^predictor(:|$)/.test(startText) ? 'predictor' : 'given';
  const usesPredictor = auto || drop || startKind === 'predictor';
  if (usesPredictor && !o.predictor) throw new MergelensError('USAGE', `${auto ? '--method auto' : drop ? '--drop predictor' : '--start predictor'} needs a predictor`, { hint: 'pass --predictor FILE (default: the shipped weights-only predictor)' });
  if (startKind === 'given' && drop) throw new MergelensError('USAGE', `--start "${startText}" gives one weight per expert, but --drop predictor decides the experts later`, { hint: 'use --start uniform[:V] or predictor[:V] with --drop predictor' });

  const base = await openCheckpoint(o.base);
  const opened: Checkpoint[] = [base];
  const candidates: SearchCandidate[] = [];
  let matS = 0;
  let evalS = 0;
  try {
    const allExperts = await openCheckpoints(o.experts);
    opened.push(...allExperts);

    // Predictor guidance: one metrics pass, every pair × method predicted, then the method, the experts and the start.
    let predictions: Prediction[] = [];
    let guide: PoolGuidance | null = null;
    if (usesPredictor) {
      log(`predictor guidance: pairwise metrics of ${allNames.length} experts, then ${path.basename(o.predictor!.file)}`);
      predictions = await poolPredictions(base, allExperts, allNames, o.predictor!.predictor, o.onProgress);
      if (auto || drop) {
        const fixedNames = Object.keys(o.params ?? {});
        const needs = (m: string) => {
          const spec = getMethod(m);
          const lacking = [...searchParams, ...fixedNames].filter((p) => !spec.params.some((mp) => mp.name === p));
          return lacking.length ? `has no parameter ${lacking.join(', ')} (given with --param/--set)` : null;
        };
        guide = guidePool(allNames, predictions, o.predictor!.predictor, { method: auto ? 'auto' : getMethod(o.method).id, drop, needs });
        if (auto) log(`method: ${guide.method} (highest mean predicted pair outcome among ${guide.methods.filter((m) => m.excluded === null).map((m) => `${m.method} ${m.mean.toFixed(3)}±${m.halfWidth.toFixed(3)}`).join(', ')}${guide.separated === false ? '; not separated from the runner-up' : ''})`);
        if (drop) log(guide.dropped.length ? `dropped: ${guide.dropped.join(', ')} (mean predicted pair outcome below the others' by more than its interval)` : 'dropped: none (no expert’s pairs are predicted worse than the others’ by more than the interval)');
      }
    }
    const method = getMethod(guide?.method ?? o.method);
    checkMethod(method);
    for (const p of searchParams) if (!method.params.some((mp) => mp.name === p)) throw new MergelensError('BAD_PARAM', `${method.id} has no parameter "${p}"`, { hint: `its parameters: ${method.params.map((mp) => mp.name).join(', ') || 'none'}` });
    const fixed = resolveParams(method, o.params ?? {});
    const keep = allNames.map((nm) => !guide || guide.kept.includes(nm));
    const names = allNames.filter((_, i) => keep[i]);
    const expertPaths = o.experts.filter((_, i) => keep[i]);
    const experts = allExperts.filter((_, i) => keep[i]);
    const n = names.length;

    const grouping = groupCount > 1 ? groupLayers(base.tensorNames().map((t) => ({ name: t, numel: base.location(t)!.shape.reduce((a, b) => a * b, 1) })), groupCount) : null;
    const G = grouping?.count ?? 1;

    const startValue = startKind === 'given' ? NaN : startText.includes(':') ? Number(startText.slice(startText.indexOf(':') + 1)) : 1 / n;
    if (startKind !== 'given' && !(startValue >= lo && startValue <= hi)) throw new MergelensError('BAD_PARAM', `--start ${startText}: the value must be a number within the bounds [${lo}, ${hi}]`);
    let given: number[] | null = null;
    if (startKind === 'given') {
      given = startText.split(',').map(Number);
      if (![n, n * G].includes(given.length) || given.some((w) => !(w >= lo && w <= hi))) throw new MergelensError('BAD_PARAM', `--start "${startText}": give uniform, predictor or ${n} weights${G > 1 ? ` (or ${n}×${G}, expert by expert)` : ''} within [${lo}, ${hi}]`);
    }
    const dimsW = n * G;
    const lower = [...new Array<number>(dimsW).fill(lo), ...searchParams.map((p) => SEARCHABLE_PARAMS[p][0])];
    const upper = [...new Array<number>(dimsW).fill(hi), ...searchParams.map((p) => SEARCHABLE_PARAMS[p][1])];
    const sigma0 = o.sigma0 ?? 0.3 * (hi - lo);
    const seed = o.seed ?? 0;
    const dims = dimsW + searchParams.length;
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
      predictor: usesPredictor ? path.resolve(o.predictor!.file) : null,
      sigma0,
      tasks,
      // Only when used, so the journals of searches without them still resume.
      ...(G > 1 ? { layerGroups: G } : {}),
      ...(guide ? { guide: { method: auto ? 'auto' : 'given', drop: drop ? 'predictor' : 'none', dropped: guide.dropped } } : {}),
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

    /** x = [w(e0,g0) … w(e0,gG−1), w(e1,g0) …, params…] → per-expert group weights, their per-expert means, params. */
    const split = (x: number[]) => {
      const groupWeights = names.map((_, i) => x.slice(i * G, (i + 1) * G));
      return {
        groupWeights,
        weights: grouping ? meanWeights(grouping, groupWeights) : groupWeights.map((g) => g[0]),
        params: Object.fromEntries(searchParams.map((p, k) => [p, x[dimsW + k]])) as Record<string, number>,
      };
    };
    const recipePath = path.join(o.outDir, 'recipe.yml');
    /** The candidate's recipe (mergekit document) and the merge options that build exactly it. */
    const recipeOf = (x: number[]): { spec: MergeSpec; doc: Record<string, unknown>; merge: Pick<MergeToDiskOptions, 'weights' | 'params' | 'perTensor'> } => {
      const { groupWeights, weights, params } = split(x);
      const spec: MergeSpec = { method: method.id, base: portable(o.base), experts: expertPaths.map(portable), weights, params: { ...fixed, ...params }, seed };
      const doc = mergekitDocument(spec);
      if (!grouping) return { spec, doc, merge: { weights: spec.weights, params: spec.params } };
      // Per-group weights as mergekit's {filter, value} lists; the merge reads the same document `mergelens merge --config` reads.
      (doc.models as { parameters: Record<string, unknown> }[]).forEach((m, i) => (m.parameters.weight = groupSetting(grouping, groupWeights[i])));
      const cfg = parseMergeConfig(JSON.stringify(doc), recipePath);
      return { spec, doc, merge: { weights: cfg.weights, params: cfg.params, perTensor: cfg.perTensor } };
    };

    let x0w = given ? (given.length === n ? given.flatMap((w) => new Array<number>(G).fill(w)) : given) : new Array<number>(dimsW).fill(startValue);
    let affinity: Record<string, number> | undefined;
    if (startKind === 'predictor') {
      const kept = new Set(names);
      const g = weightsFromPairs(names, predictions.filter((p) => p.method === method.id && kept.has(p.a) && kept.has(p.b)), startValue, [lo, hi]);
      x0w = g.weights.flatMap((w) => new Array<number>(G).fill(w));
      affinity = g.affinity;
      log(`start weights: ${names.map((e, i) => `${e}=${g.weights[i].toFixed(3)}`).join(' ')}`);
    }
    const x0 = [...x0w, ...searchParams.map((p) => Number(fixed[p]))];
    const evaluateAll = async (xs: number[][], generation: number): Promise<SearchCandidate[] | null> => {
      const cs: Candidate[] = xs.map((x, k) => {
        const id = generation === 0 ? 'start' : `g${generation}-${k}`;
        const { groupWeights, weights, params } = split(x);
        return {
          id,
          name: id,
          tasks,
          meta: { generation, weights, params, ...(grouping ? { groupWeights } : {}) },
          materialise: async (dir) => {
            await mergeToDisk(base, experts, { method: method.id, ...recipeOf(x).merge, seed, out: dir, force: true, allowNegativeWeights: lo < 0 });
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
        const { groupWeights, weights, params } = split(xs[k]);
        const row: SearchCandidate = { id: c.id, generation, evaluation: candidates.length + k + 1, weights, ...(grouping ? { groupWeights } : {}), params, status: out.status === 'ok' ? 'ok' : 'failed' };
        if (out.status !== 'ok') return { ...row, reason: out.reason };
        const normalized = normalise(out.scores!);
        return { ...row, scores: out.scores, normalized, objective: objectiveValue(objective, normalized, tasks) };
      });
    };

    log(`${method.id} over ${n} experts (${names.join(', ')})${G > 1 ? ` × ${G} layer groups` : ''}, ${x0.length} dimensions, popsize ${popsize}, budget ${o.budget}, objective ${describeObjective(objective)}`);
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
      const { spec, doc, merge } = recipeOf([...(best.groupWeights ?? best.weights.map((w) => [w])).flat(), ...searchParams.map((p) => best.params[p])]);
      const comments = [
        `mergelens search: best of ${candidates.length} evaluations, objective ${describeObjective(objective)} = ${best.objective!.toFixed(4)} (${normalization.split(':')[0]})`,
        ...(grouping ? [`per-layer-group weights (${G} groups: ${grouping.layers.map((ls) => (ls.length > 1 ? `${ls[0]}…${ls.at(-1)}` : ls[0])).join(' | ')}) as {filter, value} lists; first matching filter wins`] : []),
        `mergelens: mergelens merge --config recipe.yml -o merged`,
        `mergekit:  mergekit-yaml recipe.yml merged`,
      ];
      await write('recipe.yml', mergekitYaml(doc, comments));
      const command = grouping ? 'mergelens merge --config "$(dirname "$0")/recipe.yml" -o merged' : mergeCommand(spec, 'merged');
      await write('merge.sh', `#!/bin/sh\n# The best recipe of \`mergelens search\` (same as recipe.yml)\n${command}\n`);
      if (o.writeBest !== false) {
        log('writing the best merged checkpoint');
        const out = path.join(o.outDir, 'best');
        await mergeToDisk(base, experts, { method: method.id, ...merge, seed, out, force: true, allowNegativeWeights: lo < 0, mergekitConfig: doc });
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
      start: { label: startText, weights: split(x0).weights, objective: startObjective, ...(grouping ? { groupWeights: split(x0).groupWeights } : {}), ...(affinity ? { affinity } : {}) },
      best,
      bestSoFar,
      pareto: front.map((i) => ok[i].id),
      candidates,
      files: [],
      timing: { wallSeconds: (performance.now() - t0) / 1000, materialiseSeconds: matS, evaluateSeconds: evalS },
      ...(grouping
        ? { layerGroups: { count: G, rule: GROUPING_RULE, groups: grouping.layers.map((layers, k) => ({ layers, tensors: grouping.tensors[k], numel: grouping.numel[k] })) } }
        : {}),
      ...(guide
        ? {
            guide: {
              predictor: path.resolve(o.predictor!.file),
              method: { given: auto ? 'auto' : method.id, chosen: method.id, separated: guide.separated, candidates: guide.methods },
              drop: drop ? 'predictor' : 'none',
              experts: guide.experts,
              dropped: guide.dropped,
            },
          }
        : {}),
    };
    await write('search.csv', searchCsv(summary, searchParams));
    summary.files = [...files, path.join(o.outDir, 'search.json')];
    await write('search.json', JSON.stringify(summary, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n');
    return { summary, interrupted: false };
  } finally {
    await Promise.all(opened.map((c) => c.close().catch(() => {})));
  }

  function interrupted(): SearchResult {
    return { summary: { candidates } as unknown as SearchSummary, interrupted: true };
  }
}

function checkMethod(method: MergeMethod): void {
  if (method.usesWeights === false) throw new MergelensError('BAD_PARAM', `${method.id} takes no per-expert weights: nothing to search`, { hint: 'use task_arithmetic, ties, dare, dare_ties or weight_avg' });
}

function searchCsv(s: SearchSummary, searchParams: string[]): string {
  const front = new Set(s.pareto);
  const G = s.layerGroups?.count ?? 1;
  const groupCols = G > 1 ? s.experts.flatMap((e) => Array.from({ length: G }, (_, k) => `w_${e}_g${k + 1}`)) : [];
  const header = ['evaluation', 'id', 'generation', 'status', 'objective', 'pareto', ...s.experts.map((e) => `w_${e}`), ...groupCols, ...searchParams, ...s.tasks.map((t) => `score_${t}`), ...s.tasks.map((t) => `norm_${t}`), 'reason'];
  const rows = s.candidates.map((c) => [
    c.evaluation,
    c.id,
    c.generation,
    c.status,
    c.objective ?? '',
    front.has(c.id) ? 1 : 0,
    ...c.weights,
    ...(G > 1 ? c.groupWeights!.flat() : []),
    ...searchParams.map((p) => c.params[p]),
    ...s.tasks.map((t) => c.scores?.[t] ?? ''),
    ...s.tasks.map((t) => c.normalized?.[t] ?? ''),
    c.reason ?? '',
  ]);
  return csvText([header, ...rows]);
}
