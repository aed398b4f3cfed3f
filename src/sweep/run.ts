/**
 * `mergelens sweep`: the user's own study. Pairwise metrics first (one pass of the metrics
 * engine); then the base and every expert scored alone by the user's evaluation command (for
 * normalisation); then each selected pair × method merged into a scratch folder (the `merge`
 * path: mergeToDisk, config/tokenizer copied), scored by the command, deleted. The outcomes become
 * a study dataset in DIR that `fit`, `screen --predictor`, `report` and `dashboard` read like the
 * built-in one; with --budget only an informative subset is evaluated and the rest predicted.
 *
 * All evaluation goes through the shared runner (src/eval/runner.ts): journal, resume, retries,
 * timeouts, --jobs, bounded disk, progress.
 *
 * Files in DIR:
 *   journal.jsonl      every evaluation attempt (append-only; what a re-run resumes from)
 *   evals/<name>/      per evaluation: attempt-<k>.stdout.log / .stderr.log, result.json
 *   metrics.json       pairwise metrics (computed once, reused on resume)
 *   study.json/.csv    evaluated merges as a study dataset (what `mergelens fit` reads), plus
 *                      `predicted`: the merges not evaluated, with their predictions
 *   predictor.json     predictors fitted on study.json (when a method has ≥ 4 evaluated merges)
 *   predictions.json   every pair × method: measured or predicted (`report --predictions` reads it)
 *   sweep.json         summary: inputs, base/expert scores, task ownership, failures, timing
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Checkpoint, MetricsReport, PredictorFile, Prediction, ProgressSink, StudyDataset, StudyRow } from '../types.js';
import { MergelensError } from '../errors.js';
import { openCheckpoint, openCheckpoints } from '../checkpoint/open.js';
import { isLora } from '../checkpoint/lowrank.js';
import { computeMetrics } from '../metrics/engine.js';
import { getMethod, listMethods } from '../merge/registry.js';
import { mergeToDisk } from '../merge/to-disk.js';
import { fitPredictors } from '../predict/fit.js';
import { pairMetricsFromReport, predictPairs } from '../predict/predict.js';
import { studyToCsv } from '../study/csv.js';
import { writeFileAtomic } from '../util/atomic.js';
import { isOutputOfKind } from '../util/output-policy.js';
import { checkTemplate } from '../eval/command.js';
import { openJournal } from '../eval/journal.js';
import type { MetricChoice } from '../eval/contract.js';
import { commandEvaluator, JOURNAL_FILE, runEvaluations, type Candidate, type Evaluator, type Outcome, type RunnerTiming } from '../eval/runner.js';
import { resolveExpertTasks, settleMerge, taskUniverse, type ExpertTasks } from './outcome.js';
import { selectInformative } from './select.js';
import { DEFAULT_SWEEP_GROUPS, GROUP_OUTCOME_TEXT, groupCandidates, groupRows, sweepGroups, type GroupMerge } from './groups.js';
import { fitGroupPredictors } from '../predict/group-fit.js';

export interface SweepOptions {
  base: string;
  experts: string[];
  /** Evaluation command template (see src/eval/command.ts); or give `evaluator`. */
  eval?: string;
  /** In-process evaluator instead of a command (tests, benchmarks, other drivers). */
  evaluator?: Evaluator;
  outDir: string;
  /** Merge methods (default: every registered method). */
  methods?: string[];
  /** Only these pairs, "a+b" by expert name (default: all). */
  pairs?: string[];
  /** Evaluate only this many merges, chosen to be informative; predict the rest. */
  budget?: number;
  jobs?: number;
  timeoutS?: number;
  retries?: number;
  /** Merge seed (DARE masks); default 0. */
  seed?: number;
  /** Every task the command scores (default: see taskUniverse). */
  tasks?: string[];
  expertTasks?: ExpertTasks;
  metric?: MetricChoice;
  /** Outcome to fit: normalised (default) or the raw mean score over the pair's tasks. */
  outcome?: 'normalized' | 'raw';
  /** Fit predictors on the evaluated merges (default true). */
  fit?: boolean;
  /** Also merge seeded groups of this many experts (≥ 3) with every method: StudyDataset.groups (groups.ts). */
  groupSize?: number;
  /** Groups of --group-size to sample (default DEFAULT_SWEEP_GROUPS), or 'all'. */
  groups?: number | 'all';
  /** Start over in a folder holding something else (a sweep of other inputs). */
  force?: boolean;
  signal?: AbortSignal;
  onProgress?: ProgressSink;
  log?: (line: string) => void;
}

export interface SweepMerge {
  a: string;
  b: string;
  method: string;
  status: 'evaluated' | 'failed' | 'predicted' | 'skipped';
  measured?: number;
  reason?: string;
}

export interface SweepSummary {
  format: 'mergelens.sweep';
  version: 1;
  createdAt: string;
  identity: SweepIdentity;
  experts: string[];
  methods: string[];
  tasks: string[];
  expertTasks: ExpertTasks;
  inferredTasks: string[];
  outcome: string;
  budget: number | null;
  scores: { base: Record<string, number> | null; experts: Record<string, Record<string, number> | null> };
  merges: SweepMerge[];
  /** Group merges (--group-size), when asked for. */
  groupMerges?: GroupMerge[];
  failures: { id: string; reason: string; attempts: number }[];
  timing: SweepTiming;
}

export interface SweepTiming {
  wallSeconds: number;
  metricsSeconds: number;
  /** Σ over merges of mergeToDisk time, Σ over evaluations of command time (this run). */
  mergeSeconds: number;
  evaluateSeconds: number;
  fitSeconds: number;
  /** Wall time while no merge, evaluation, metrics pass or fit was running: the sweep's own overhead. */
  overheadSeconds: number;
  peakMaterialised: number;
}

export interface SweepIdentity {
  base: string;
  experts: string[];
  eval: string;
  seed: number;
}

export interface SweepResult {
  dataset: StudyDataset;
  summary: SweepSummary;
  predictor?: PredictorFile;
  predictions: (Prediction & { evaluated: boolean; measured?: number })[];
  metrics: MetricsReport;
  interrupted: boolean;
  files: string[];
}

const OWN_FILES = ['study.json', 'study.csv', 'predictor.json', 'predictions.json', 'sweep.json', 'metrics.json'];

/** File-name-safe form of a model name. */
export const safeName = (s: string) => s.replace(/[^A-Za-z0-9._=-]+/g, '_').slice(0, 80) || '_';

export const mergeId = (method: string, a: string, b: string) => `merge:${method}:${a}+${b}`;

/**
 * Refuse a folder that holds something other than a sweep of these inputs (unless force, which
 * removes the previous sweep's own files only — never anything else in the folder).
 */
async function prepareDir(dir: string, identity: SweepIdentity, force: boolean): Promise<void> {
  const entries = await fsp.readdir(dir).catch(() => null);
  if (!entries || entries.length === 0) return;
  const journal = path.join(dir, JOURNAL_FILE);
  const header = await fsp.readFile(journal, 'utf8').then((t) => {
    try {
      return JSON.parse(t.slice(0, t.indexOf('\n'))) as { identity?: unknown };
    } catch {
      return null;
    }
  }, () => null);
  const same = header && JSON.stringify(header.identity) === JSON.stringify(identity);
  if (same) return;
  if (!force) {
    throw new MergelensError('OUTPUT_EXISTS', header ? 'folder holds a sweep of other inputs (models, command or seed differ)' : 'output folder is not empty and holds no sweep journal', {
      file: dir,
      hint: 'choose an empty or new -o folder, re-run with the same inputs to resume, or pass --force to start over',
    });
  }
  // --force replaces a previous sweep only: never a search's folder (same journal file) or anything else.
  if (!(await isOutputOfKind('sweep', dir))) throw new MergelensError('OUTPUT_NOT_OURS', 'exists and is not a sweep folder; --force replaces only a previous sweep', { file: dir, hint: 'remove it yourself if you mean to, or choose another -o folder' });
  for (const f of [JOURNAL_FILE, ...OWN_FILES, 'evals', 'scratch']) await fsp.rm(path.join(dir, f), { recursive: true, force: true });
}

async function loadOrComputeMetrics(file: string, base: Checkpoint, experts: Checkpoint[], onProgress?: ProgressSink): Promise<{ report: MetricsReport; computed: boolean }> {
  const prior = await fsp.readFile(file, 'utf8').then((t) => JSON.parse(t) as MetricsReport, () => null);
  if (prior?.format === 'mergelens.metrics' && prior.experts.length === experts.length) return { report: prior, computed: false };
  const report = await computeMetrics(base, experts, { onProgress });
  await writeFileAtomic(file, JSON.stringify(report) + '\n');
  return { report, computed: true };
}

function resolvePairs(names: string[], wanted?: string[]): [number, number][] {
  const all: [number, number][] = [];
  for (let i = 0; i < names.length; i++) for (let j = i + 1; j < names.length; j++) all.push([i, j]);
  if (!wanted?.length) return all;
  return wanted.map((w) => {
    const [a, b, extra] = w.split('+').map((s) => s.trim());
    const i = names.indexOf(a);
    const j = names.indexOf(b);
    if (extra !== undefined || i < 0 || j < 0 || i === j) throw new MergelensError('BAD_PARAM', `--pairs: "${w}" is not EXPERT+EXPERT of two different experts`, { hint: `experts: ${names.join(', ')}` });
    return i < j ? [i, j] : [j, i];
  });
}

export async function runSweep(o: SweepOptions): Promise<SweepResult> {
  const t0 = performance.now();
  const log = o.log ?? (() => {});
  if (!o.evaluator) {
    if (!o.eval) throw new MergelensError('BAD_INPUT', 'no evaluation command', { hint: 'pass --eval "CMD {model} … {out}"' });
    checkTemplate(o.eval);
  }
  if (o.experts.length < 2) throw new MergelensError('BAD_INPUT', 'a sweep needs at least 2 experts to form a pair');
  const methods = [...new Set((o.methods?.length ? o.methods : listMethods().map((m) => m.id)).map((m) => getMethod(m).id))];
  const seed = o.seed ?? 0;
  const identity: SweepIdentity = { base: path.resolve(o.base), experts: o.experts.map((e) => path.resolve(e)), eval: o.eval ?? '(in-process evaluator)', seed };
  await prepareDir(o.outDir, identity, !!o.force);
  // The journal (with the identity) exists before anything else is written, so a folder with our
  // files but no journal is never ours, and metrics.json is only reused for the same inputs.
  await (await openJournal(path.join(o.outDir, JOURNAL_FILE), identity)).close();
  const files: string[] = [];

  const base = await openCheckpoint(o.base);
  const opened: Checkpoint[] = [base];
  try {
    const experts = await openCheckpoints(o.experts);
    opened.push(...experts);
    const tm = performance.now();
    log(`pairwise metrics of ${experts.length} experts`);
    const metricsFile = path.join(o.outDir, 'metrics.json');
    const { report: metrics, computed } = await loadOrComputeMetrics(metricsFile, base, experts, o.onProgress);
    if (!computed) log('metrics.json from the previous run reused');
    files.push(metricsFile);
    const metricsSeconds = (performance.now() - tm) / 1000;
    const names = metrics.experts;
    const pairs = resolvePairs(names, o.pairs);

    const evaluator = o.evaluator ?? commandEvaluator({ command: o.eval!, metric: o.metric, timeoutS: o.timeoutS });
    const explicit = o.expertTasks ?? {};
    const universe = taskUniverse(names, explicit, o.tasks);
    const run = (candidates: Candidate[], phase: string) =>
      runEvaluations({ dir: o.outDir, identity, candidates, evaluator, jobs: o.jobs, retries: o.retries, signal: o.signal, onProgress: o.onProgress, phase });

    // 1. Base and experts alone, every task.
    log(`scoring the base and ${names.length} experts alone on ${universe.join(', ')}`);
    const singles: Candidate[] = [
      { id: 'model:base', name: 'base', tasks: universe, model: o.base, meta: { role: 'base' } },
      ...names.map((n, k): Candidate => {
        const c = { id: `model:expert:${n}`, name: `expert__${safeName(n)}`, tasks: universe, meta: { role: 'expert', expert: n } };
        if (!isLora(experts[k])) return { ...c, model: o.experts[k] };
        // A LoRA adapter is scored as the full model it makes (θ₀ + Δ), so {model} is always a full model.
        return {
          ...c,
          materialise: async (dir) => {
            await mergeToDisk(base, [experts[k]], { method: 'task_arithmetic', params: { lambda: 1 }, seed, out: dir, force: true });
            return dir;
          },
        };
      }),
    ];
    const first = await run(singles, 'score');
    const ok = (out: Outcome | undefined) => (out?.status === 'ok' ? out.scores! : undefined);
    const baseScores = ok(first.outcomes.get('model:base'));
    const expertScores = Object.fromEntries(names.map((n) => [n, ok(first.outcomes.get(`model:expert:${n}`))]));
    const timings: RunnerTiming[] = [first.timing];
    const failures: SweepSummary['failures'] = [];
    for (const out of first.outcomes.values()) if (out.status === 'failed') failures.push({ id: out.id, reason: out.reason ?? '', attempts: out.attempts });
    if (first.interrupted) return await finishInterrupted();
    const { tasks: expertTasks, inferred } = resolveExpertTasks(names, explicit, universe, { base: baseScores, experts: expertScores });
    if (inferred.length) log(`task ownership inferred from the scores (override with --expert-tasks): ${inferred.join(' ')}`);

    // 2. Which merges: all, or an informative subset of the budget.
    const all = pairs.flatMap((p, k) => methods.map((method) => ({ pair: k, method })));
    const features = pairs.map(([i, j]) => Object.keys(metrics.metrics).map((id) => metrics.metrics[id][i]?.[j] ?? NaN));
    const picked =
      o.budget !== undefined && o.budget < all.length
        ? selectInformative({ pairs, features, methods, experts: names.length, budget: o.budget })
        : all;
    const pickedKey = new Set(picked.map((p) => `${p.pair}\0${p.method}`));
    const merges: SweepMerge[] = [];
    const candidates: Candidate[] = [];
    for (const { pair, method } of all) {
      const [i, j] = pairs[pair];
      const [a, b] = [names[i], names[j]];
      if (!pickedKey.has(`${pair}\0${method}`)) {
        merges.push({ a, b, method, status: 'predicted' });
        continue;
      }
      const missing = [a, b].filter((e) => !expertTasks[e] || !expertScores[e]);
      if (missing.length) {
        merges.push({ a, b, method, status: 'skipped', reason: `no score for expert(s) ${missing.join(', ')} alone` });
        continue;
      }
      merges.push({ a, b, method, status: 'failed' }); // until evaluated
      candidates.push({
        id: mergeId(method, a, b),
        name: `${safeName(method)}__${safeName(a)}+${safeName(b)}`,
        tasks: [...new Set([...expertTasks[a], ...expertTasks[b]])],
        materialise: async (dir) => {
          await mergeToDisk(base, [experts[i], experts[j]], { method, seed, out: dir, force: true });
          return dir;
        },
        meta: { a, b, method },
      });
    }
    // Groups of k ≥ 3 (--group-size): same runner, journal and resume as the pairs (groups.ts).
    const groupPlan = o.groupSize
      ? groupCandidates(sweepGroups(names, o.groupSize, o.groups ?? DEFAULT_SWEEP_GROUPS, seed), methods, { names, base, experts, seed, expertTasks, scores: expertScores, safeName })
      : undefined;
    if (groupPlan) log(`and ${groupPlan.candidates.length} group merges of ${o.groupSize} experts`);
    log(`merging and scoring ${candidates.length} of ${all.length} merges (${pairs.length} pairs × ${methods.length} methods)`);
    const second = await run([...candidates, ...(groupPlan?.candidates ?? [])], 'merge+score');
    timings.push(second.timing);
    if (second.interrupted) return await finishInterrupted();

    // 3. Outcomes → study rows.
    const rows: StudyRow[] = [];
    const metricIds = Object.keys(metrics.metrics);
    for (const m of merges) {
      if (m.status !== 'failed') continue;
      const settled = settleMerge(m, second.outcomes.get(mergeId(m.method, m.a, m.b)), [m.a, m.b], { scores: expertScores, expertTasks, outcome: o.outcome }, failures);
      if (!settled) continue;
      const { raw, norm, outcome, scores } = settled;
      const i = names.indexOf(m.a);
      const j = names.indexOf(m.b);
      const values: Record<string, number> = {};
      for (const id of metricIds) {
        const v = metrics.metrics[id][i]?.[j];
        if (typeof v === 'number' && Number.isFinite(v)) values[id] = v;
      }
      const extra: Record<string, number> = { evaluated: 1, raw_mean: raw };
      if (norm) Object.assign(extra, { norm_a: norm.parts[0], norm_b: norm.parts[1], normalized: norm.mean });
      for (const [t, v] of Object.entries(scores)) extra[`score_${t}`] = v;
      rows.push({ a: m.a, b: m.b, method: m.method, outcome, metrics: values, extra });
    }
    const outcomeText =
      o.outcome === 'raw'
        ? 'raw score: mean over the pair’s own tasks of the merged model’s score'
        : 'normalized score: for each expert of the pair, mean over its own tasks of merged score ÷ the expert’s own score; mean of the two';
    const groups = groupPlan ? groupRows(groupPlan.merges, second.outcomes, { scores: expertScores, expertTasks, outcome: o.outcome }, failures) : undefined;
    const dataset: StudyDataset = {
      ...(groups?.length ? { groups, groupOutcome: GROUP_OUTCOME_TEXT[o.outcome ?? 'normalized'] } : {}),
      format: 'mergelens.study',
      version: 1,
      createdAt: new Date().toISOString(),
      description: `mergelens sweep of ${names.length} experts (${names.join(', ')}) on ${path.basename(o.base)}: ${rows.length} evaluated merges (${methods.join(', ')}, merge seed ${seed}) scored by \`${identity.eval}\``,
      outcome: outcomeText,
      experts: names,
      methods,
      metricIds,
      rows,
    };

    // 4. Fit on what was measured; predict every pair × method.
    const tf = performance.now();
    let predictor: PredictorFile | undefined;
    const perMethod = new Map<string, number>();
    for (const r of rows) perMethod.set(r.method, (perMethod.get(r.method) ?? 0) + 1);
    if (o.fit !== false && [...perMethod.values()].some((n) => n >= 4)) {
      log('fitting predictors on the evaluated merges');
      predictor = fitPredictors(dataset, { seed });
      predictor.groups = fitGroupPredictors(dataset, { seed, pairMetrics: pairMetricsFromReport(metrics) });
      for (const w of [...(predictor.warnings ?? []), ...(predictor.groups?.warnings ?? [])]) log(`fit: ${w}`);
    } else if (o.fit !== false) log('too few evaluated merges per method to fit (need ≥ 4): no predictor');
    const fitSeconds = (performance.now() - tf) / 1000;
    const predicted = predictor ? predictPairs(predictor, pairMetricsFromReport(metrics)) : [];
    const byKey = new Map(predicted.map((p) => [`${p.method}\0${p.a}\0${p.b}`, p]));
    const predictions = merges.map((m) => {
      const p = byKey.get(`${m.method}\0${m.a}\0${m.b}`) ?? { a: m.a, b: m.b, method: m.method, predicted: NaN, lo: NaN, hi: NaN, score: NaN, drivers: [] };
      return { ...p, evaluated: m.status === 'evaluated', ...(m.measured !== undefined ? { measured: m.measured } : {}) };
    });
    const notEvaluated = predictions.filter((p) => !p.evaluated).map((p) => ({ a: p.a, b: p.b, method: p.method, predicted: p.predicted, lo: p.lo, hi: p.hi }));

    const wall = (performance.now() - t0) / 1000;
    const busy = timings.reduce((s, t) => s + t.busySeconds, 0);
    const summary: SweepSummary = {
      format: 'mergelens.sweep',
      version: 1,
      createdAt: new Date().toISOString(),
      identity,
      experts: names,
      methods,
      tasks: universe,
      expertTasks,
      inferredTasks: inferred,
      outcome: outcomeText,
      budget: o.budget ?? null,
      scores: { base: baseScores ?? null, experts: Object.fromEntries(names.map((n) => [n, expertScores[n] ?? null])) },
      merges,
      ...(groupPlan ? { groupMerges: groupPlan.merges } : {}),
      failures,
      timing: {
        wallSeconds: wall,
        metricsSeconds,
        mergeSeconds: timings.reduce((s, t) => s + t.materialiseSeconds, 0),
        evaluateSeconds: timings.reduce((s, t) => s + t.evaluateSeconds, 0),
        fitSeconds,
        overheadSeconds: Math.max(0, wall - busy - metricsSeconds - fitSeconds),
        peakMaterialised: Math.max(...timings.map((t) => t.peakMaterialised)),
      },
    };
    const out = (f: string) => path.join(o.outDir, f);
    const write = async (f: string, text: string) => {
      await writeFileAtomic(out(f), text);
      files.push(out(f));
    };
    await write('study.json', JSON.stringify({ ...dataset, predicted: notEvaluated }, null, 2) + '\n');
    await write('study.csv', studyToCsv(dataset));
    if (predictor) await write('predictor.json', JSON.stringify(predictor, null, 2) + '\n');
    await write('predictions.json', JSON.stringify({ predictions }, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n');
    await write('sweep.json', JSON.stringify(summary, null, 2) + '\n');
    return { dataset, summary, predictor, predictions, metrics, interrupted: false, files };

    async function finishInterrupted(): Promise<SweepResult> {
      const empty: StudyDataset = { format: 'mergelens.study', version: 1, createdAt: new Date().toISOString(), description: 'interrupted sweep', outcome: '', experts: names, methods, metricIds: [], rows: [] };
      const summary = { identity, failures } as unknown as SweepSummary;
      return { dataset: empty, summary, predictions: [], metrics, interrupted: true, files };
    }
  } finally {
    await Promise.all(opened.map((c) => c.close().catch(() => {})));
  }
}
