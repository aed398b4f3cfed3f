/**
 * The built-in study, end to end, through the same paths a user's own checkpoints take:
 * zoo files (safetensors) → calibration gradient/activation files → metrics engine → every pair ×
 * every merge method merged by `mergeStream` → each task evaluated with its own expert head →
 * StudyDataset (JSON + CSV) → predictors → HTML report.
 */
import { pairRow, pairsOf, resolveMethods, stageTimer, underCwd } from './common.js';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import type { GroupRow, MetricsReport, PredictorFile, ProgressSink, StudyDataset, StudyRow } from '../types.js';
import { MergelensError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import { writeSafetensors } from '../safetensors/writer.js';
import { openCheckpoint } from '../checkpoint/open.js';
import { computeMetrics } from '../metrics/engine.js';
import { getMethod, listMethods } from '../merge/registry.js';
import { fitPredictors } from '../predict/fit.js';
import { fitGroupPredictors } from '../predict/group-fit.js';
import { predictPairs } from '../predict/predict.js';
import { writeReport } from '../report/render.js';
import { defaultBudgets, learningCurve, type Curve } from '../sweep/curve.js';
import { buildTaskData, getTask, headOf, INPUT_DIM, type TaskData } from './data.js';
import { accuracy } from './mlp.js';
import { calibrationStats } from './calibration.js';
import { GROUP_OUTCOME_DESCRIPTION, HELD_OUT_DESCRIPTION, heldOutRatio, normalizedAccuracies } from './outcome.js';
import { encoderFromTensors, type NamedTensor } from './tensors.js';
import { readAllTensors, readHead, runMergeJobs, type EvalSpec, type GroupJob, type GroupResult, type MergeJob, type MergeResult, type ProbeJob, type ProbeResult, type StudyJob } from './evaluate.js';
import { groupsToCsv, studyToCsv } from './csv.js';
import { DEFAULT_GROUPS_PER_SIZE, groupSizes, QUICK_GROUPS_PER_SIZE, sampleGroups, type GroupSample } from './groups.js';
import { PROBE_SAMPLES } from './probe.js';
import { DEFAULT_ZOO_CONFIG, defaultZooDir, readZooManifest, trainZoo, type ZooManifest } from './zoo.js';

/** The --quick subset: two input transforms, the original digits and a label task; four methods (one random). */
export const QUICK_TASKS = ['digits', 'rot90', 'invert', 'parity'];
export const QUICK_METHODS = ['weight_avg', 'task_arithmetic', 'ties', 'dare'];

export const OUTCOME_DESCRIPTION =
  'normalized accuracy: for each task of the pair, merged-encoder test accuracy (with that task\'s own expert head) ÷ the expert\'s own test accuracy; mean of the two';

export interface StudyOptions {
  /** Output folder (default DEFAULT_STUDY_OUT, relative to the working directory — never the package). */
  outDir?: string;
  /** Zoo folder (default: the committed fixtures/study). */
  zooDir?: string;
  /** Train the zoo again (into zooDir) before the study. */
  retrain?: boolean;
  /** Training seed with --retrain; merge seed (DARE) always. Default: the zoo's seed. */
  seed?: number;
  /** Method ids or aliases (default: every registered method). */
  methods?: string[];
  /** Task ids (default: every task of the zoo). */
  tasks?: string[];
  /** Small subset for tests and smoke runs (QUICK_TASKS × QUICK_METHODS), no predictor/report refresh of the shipped default. */
  quick?: boolean;
  /**
   * The group study: seeded groups of k = 3…8 experts per size (DEFAULT_GROUPS_PER_SIZE, or
   * QUICK_GROUPS_PER_SIZE with quick), 'all' for every group, 0 for none. See groups.ts.
   */
  groups?: GroupSample;
  /** Fit predictors and write predictor.json (default true). */
  fit?: boolean;
  /** Write the HTML report (default true). */
  report?: boolean;
  /**
   * Compute the budgeted sweep's learning curve (curve.json, and a table in the report). Default
   * false: it refits the predictors ~90 times (8 s on 2 quiet cores for the full study, ~58 s without).
   */
  curve?: boolean;
  /**
   * Also write the fitted predictors here as default.json (every metric family) and weights-only.json
   * (without gradient/activation metrics) — the shipped ones are shippedPredictorDir(). Default: none;
   * the shipped predictors change only when asked (`mergelens study --update-shipped`).
   */
  predictorDir?: string | null;
  /** Worker threads for training (--retrain) and the merges (default: available cores, at most 4; 1 = inline). */
  workers?: number;
  onProgress?: ProgressSink;
  /** One line per stage (the CLI prints these on stderr). */
  log?: (line: string) => void;
}

export interface StudyResult {
  dataset: StudyDataset;
  metrics: MetricsReport;
  predictor?: PredictorFile;
  /** The same fit without gradient/activation metrics. */
  weightsOnlyPredictor?: PredictorFile;
  manifest: ZooManifest;
  /** Expert test accuracy per task, measured now from the zoo files. */
  expertAccuracy: Record<string, number>;
  /** Linear-probe test accuracy of the unmerged base and experts per task, where the group study needed it (probes.json). */
  probeReference?: ProbeReference;
  files: string[];
  seconds: Record<string, number>;
}

/** The held-out references: probe accuracy by encoder ('base' or an expert id), then by task. */
export type ProbeReference = Record<string, Record<string, number>>;

/** Where a study writes by default: an ignored folder under the working directory. */
export const DEFAULT_STUDY_OUT = path.join('mergelens-out', 'study');

/** fixtures/predictor inside the package: where `screen` finds its shipped predictors. */
export function shippedPredictorDir(): string {
  return path.join(defaultZooDir(), '..', 'predictor');
}

/** Families left out of the weights-only predictor (they need calibration data, not just weights). */
export const DATA_FAMILIES = ['gradient', 'activation'];

function resolveTasks(ids: string[] | undefined, manifest: ZooManifest, zooDir: string): string[] {
  const have = manifest.tasks.map((t) => t.id);
  if (!ids || ids.length === 0) return have;
  const out = [...new Set(ids)];
  for (const id of out) {
    getTask(id); // unknown task names get the list of known ones
    if (!have.includes(id)) {
      throw new MergelensError('BAD_INPUT', `the zoo has no expert for task "${id}"`, { file: path.join(zooDir, 'manifest.json'), hint: `experts: ${have.join(', ')}` });
    }
  }
  if (out.length < 2) throw new MergelensError('BAD_INPUT', 'the study needs at least 2 tasks to form a pair');
  return out;
}

export async function runStudy(opts: StudyOptions = {}): Promise<StudyResult> {
  const t0 = performance.now();
  const { seconds, lap } = stageTimer();
  const log = opts.log ?? (() => {});
  const outDir = opts.outDir ?? DEFAULT_STUDY_OUT;
  const zooDir = opts.zooDir ?? defaultZooDir();
  const files: string[] = [];

  // Names are checked before any work (training included).
  const methods = resolveMethods(opts.methods ?? (opts.quick ? QUICK_METHODS : undefined));
  for (const id of opts.tasks ?? []) getTask(id);
  if (opts.retrain) {
    log(`training the zoo into ${zooDir} (seed ${opts.seed ?? DEFAULT_ZOO_CONFIG.seed})`);
    await trainZoo(zooDir, { ...DEFAULT_ZOO_CONFIG, seed: opts.seed ?? DEFAULT_ZOO_CONFIG.seed }, { onProgress: opts.onProgress, workers: opts.workers });
    lap('train');
  }
  const manifest = await readZooManifest(zooDir);
  const taskIds = resolveTasks(opts.tasks ?? (opts.quick ? QUICK_TASKS : undefined), manifest, zooDir);
  const seed = opts.seed ?? manifest.config.seed;
  const full = !opts.quick && taskIds.length === manifest.tasks.length && methods.length === listMethods().length;
  // The shipped predictors stand for the whole study: never refresh them from a subset.
  if (opts.predictorDir && (!full || opts.zooDir) && path.resolve(opts.predictorDir) === path.resolve(shippedPredictorDir())) {
    throw new MergelensError('BAD_PARAM', 'the shipped predictors are refreshed only by a full study (every task, every method, the committed zoo)', { hint: 'drop --quick/--tasks/--methods/--zoo, or write the predictors elsewhere with --out' });
  }

  // Data: the zoo's own splits (its seed), so test images were never trained on.
  const data = new Map<string, TaskData>();
  for (const id of taskIds) data.set(id, buildTaskData(getTask(id), manifest.config.seed, manifest.config.split));
  lap('data');

  // Models, read back from the zoo files like any user checkpoint.
  const entries = taskIds.map((id) => manifest.tasks.find((t) => t.id === id)!);
  const base = await openCheckpoint(underCwd(path.join(zooDir, manifest.base)));
  const experts = await Promise.all(entries.map((e) => openCheckpoint(underCwd(path.join(zooDir, e.expert)))));
  const layers = manifest.config.encoderDims.length - 1;
  const expertAccuracy: Record<string, number> = {};
  const calib = { grads: [] as string[], acts: [] as string[] };
  try {
    for (let k = 0; k < entries.length; k++) {
      const e = entries[k];
      const head = await readHead(path.join(zooDir, e.head));
      const encoder = encoderFromTensors(await readAllTensors(experts[k]), layers, experts[k].path, INPUT_DIM);
      const td = data.get(e.id)!;
      expertAccuracy[e.id] = accuracy({ encoder, head }, td.test.x, td.test.y, td.test.n);
      // Calibration artefacts in the documented gradient/activation file format.
      const stats = calibrationStats({ encoder, head }, headOf(td.train, manifest.config.calibrationSamples));
      const meta = { 'mergelens.study.task': e.id, 'mergelens.study.calibration_samples': String(manifest.config.calibrationSamples) };
      const gradFile = path.join(outDir, 'calibration', 'grads', `${e.id}.safetensors`);
      const actFile = path.join(outDir, 'calibration', 'acts', `${e.id}.safetensors`);
      const f32 = (ts: NamedTensor[]) => ts.map((t) => ({ ...t, dtype: 'F32' as const }));
      await writeSafetensors(gradFile, f32(stats.grads), meta);
      await writeSafetensors(actFile, f32(stats.acts), meta);
      calib.grads.push(gradFile);
      calib.acts.push(actFile);
      opts.onProgress?.({ phase: 'calibrate', done: k + 1, total: entries.length, unit: 'items', detail: e.id });
    }
    const drift = entries.filter((e) => Math.abs(expertAccuracy[e.id] - e.expertAccuracy) > 1e-9).map((e) => e.id);
    if (drift.length) log(`warning: expert accuracy differs from the zoo manifest for ${drift.join(', ')}`);
    lap('calibration');

    log(`metrics for ${taskIds.length} experts (${(taskIds.length * (taskIds.length - 1)) / 2} pairs)`);
    // Recorded as given: cwd-relative paths keep the committed report free of this machine's paths.
    const metrics = await computeMetrics(base, experts, { grads: calib.grads.map(underCwd), acts: calib.acts.map(underCwd), onProgress: opts.onProgress });
    lap('metrics');
    const metricIds = Object.keys(metrics.metrics);

    // Every pair × every method: merge the encoders, evaluate both tasks with their own heads.
    // Groups (k ≥ 3) and their held-out probe references go through the same workers and merge path.
    const pairs = pairsOf(taskIds.length);
    const pairJobs: MergeJob[] = pairs.flatMap(([i, j]) => methods.map((method) => ({ i, j, method, seed })));
    const groupPlan = planGroups(taskIds.length, methods, opts.groups ?? (opts.quick ? QUICK_GROUPS_PER_SIZE : DEFAULT_GROUPS_PER_SIZE), seed);
    // Heaviest jobs first, so the pool's tail is made of short pair merges.
    const jobs: StudyJob[] = [...groupPlan.probeJobs, ...groupPlan.groupJobs, ...pairJobs];
    const total = jobs.length;
    const workers = Math.max(1, Math.min(opts.workers ?? Math.min(4, availableParallelism()), total));
    log(
      `merging ${pairs.length} pairs × ${methods.length} methods (${pairJobs.length} merges)` +
        (groupPlan.groupJobs.length ? ` and ${groupPlan.groupCount} groups of ${groupPlan.sizes.join('/')} (${groupPlan.groupJobs.length} merges, ${groupPlan.probeJobs.length} probe references)` : '') +
        ` on ${workers} thread(s)`,
    );
    const spec: EvalSpec = {
      zooDir,
      base: manifest.base,
      tasks: entries.map((e) => ({ id: e.id, expert: e.expert, head: e.head })),
      dataSeed: manifest.config.seed,
      split: manifest.config.split,
      layers,
      probeSamples: groupPlan.probeJobs.length ? PROBE_SAMPLES : undefined,
    };
    const all = await runMergeJobs(spec, jobs, workers, (done, r) =>
      opts.onProgress?.({ phase: 'merge', done, total, unit: 'items', detail: jobDetail(r, taskIds) }),
    );
    const probeResults = all.slice(0, groupPlan.probeJobs.length) as ProbeResult[];
    const groupResults = all.slice(probeResults.length, probeResults.length + groupPlan.groupJobs.length) as GroupResult[];
    const results = all.slice(probeResults.length + groupResults.length) as MergeResult[];
    const probeReference = groupPlan.probeJobs.length ? probeReferenceOf(probeResults, taskIds) : undefined;
    const groups = groupPlan.groupJobs.length ? groupResults.map((g) => groupRow(g, taskIds, expertAccuracy, probeReference)) : undefined;
    const rows: StudyRow[] = results.map((r) => pairRow(metrics, taskIds, expertAccuracy, r));
    lap('merges');

    const dataset: StudyDataset = {
      format: 'mergelens.study',
      version: 1,
      createdAt: new Date().toISOString(),
      description:
        `mergelens built-in MNIST study: ${taskIds.length} experts (${taskIds.join(', ')}) fine-tuned from one ` +
        `${manifest.config.encoderDims.join('→')} MLP encoder; every pair merged with ${methods.join(', ')} ` +
        `(method defaults, merge seed ${seed}); ${manifest.config.split.test} test images per task; ` +
        `gradient/activation metrics on ${manifest.config.calibrationSamples} calibration samples per expert`,
      outcome: OUTCOME_DESCRIPTION,
      experts: taskIds,
      methods,
      metricIds,
      rows,
      ...(groups ? { groups, groupOutcome: GROUP_OUTCOME_DESCRIPTION, heldOutDescription: HELD_OUT_DESCRIPTION } : {}),
    };
    if (groups) {
      const used = new Set(groupPlan.sizes.flatMap((k) => groupPlan.methodsBySize.get(k)!));
      const pairOnly = methods.filter((m) => !used.has(m));
      dataset.description +=
        `; groups of k = ${groupPlan.sizes.join(', ')} experts (${groupPlan.perSizeText} per size, seeded by ${seed}) merged with ` +
        `${[...used].join(', ')}${pairOnly.length ? ` (${pairOnly.join(', ')}: pairs only)` : ''}; held-out tasks probed linearly (${PROBE_SAMPLES} training images per task)`;
    }
    const studyJson = path.join(outDir, 'study.json');
    const studyCsv = path.join(outDir, 'study.csv');
    const metricsJson = path.join(outDir, 'metrics.json');
    await writeFileAtomic(studyJson, JSON.stringify(dataset, null, 2) + '\n');
    await writeFileAtomic(studyCsv, studyToCsv(dataset));
    await writeFileAtomic(metricsJson, JSON.stringify(metrics) + '\n');
    files.push(studyJson, studyCsv, metricsJson);
    if (groups) {
      const groupsCsv = path.join(outDir, 'study-groups.csv');
      const probesJson = path.join(outDir, 'probes.json');
      await writeFileAtomic(groupsCsv, groupsToCsv(dataset));
      await writeFileAtomic(probesJson, JSON.stringify({ description: HELD_OUT_DESCRIPTION, probeAccuracy: probeReference }, null, 2) + '\n');
      files.push(groupsCsv, probesJson);
    }
    files.push(...calib.grads, ...calib.acts);

    let predictor: PredictorFile | undefined;
    let weightsOnlyPredictor: PredictorFile | undefined;
    if (opts.fit !== false) {
      log('fitting predictors (all metrics, then weights-only)');
      predictor = fitPredictors(dataset, { seed, onProgress: opts.onProgress });
      weightsOnlyPredictor = fitPredictors(dataset, { seed, exclude: DATA_FAMILIES, onProgress: opts.onProgress });
      // Group models (src/predict/group-fit.ts) when the study merged groups of k ≥ 3.
      predictor.groups = fitGroupPredictors(dataset, { seed });
      weightsOnlyPredictor.groups = fitGroupPredictors(dataset, { seed, exclude: DATA_FAMILIES });
      const shipDir = opts.predictorDir ?? null;
      const outputs: [string, PredictorFile][] = [
        [path.join(outDir, 'predictor.json'), predictor],
        [path.join(outDir, 'predictor-weights-only.json'), weightsOnlyPredictor],
      ];
      if (shipDir) outputs.push([path.join(shipDir, 'default.json'), predictor], [path.join(shipDir, 'weights-only.json'), weightsOnlyPredictor]);
      for (const [file, p] of outputs) {
        await writeFileAtomic(file, JSON.stringify(p, null, 2) + '\n');
        files.push(file);
      }
      lap('fit');
    }
    let curve: Curve | undefined;
    if (opts.curve) {
      // The budgeted sweep's learning curve (as `mergelens sweep-curve study.json`), for the report.
      log('learning curve of budgeted sweeps (selected vs random)');
      curve = learningCurve(dataset, { budgets: defaultBudgets(dataset.rows.length) });
      const curveJson = path.join(outDir, 'curve.json');
      await writeFileAtomic(curveJson, JSON.stringify(curve, null, 2) + '\n');
      files.push(curveJson);
      lap('curve');
    }
    if (opts.report !== false) {
      const html = path.join(outDir, 'index.html');
      const predictions = predictor ? predictPairs(predictor, metrics) : undefined;
      await writeReport(html, { metrics, predictor, study: dataset, predictions, curve, title: 'mergelens built-in study (MNIST experts)' });
      files.push(html);
      lap('report');
    }
    seconds.total = (performance.now() - t0) / 1000;
    return { dataset, metrics, predictor, weightsOnlyPredictor, manifest, expertAccuracy, probeReference, files, seconds };
  } finally {
    await Promise.all([base, ...experts].map((c) => c.close()));
  }
}

// ───────────────────────────── group study ─────────────────────────────

interface GroupPlan {
  sizes: number[];
  groupCount: number;
  perSizeText: string;
  methodsBySize: Map<number, string[]>;
  groupJobs: GroupJob[];
  probeJobs: ProbeJob[];
}

/**
 * The group merges (every sampled group × every method that takes k experts — slerp takes two)
 * and the probe references they need: the base on every task some group holds out, and each
 * expert on the tasks held out by a group it belongs to.
 */
function planGroups(n: number, methods: string[], perSize: GroupSample, seed: number): GroupPlan {
  const sizes = perSize === 0 ? [] : groupSizes(n);
  const groupJobs: GroupJob[] = [];
  const methodsBySize = new Map<number, string[]>();
  const baseTasks = new Set<number>();
  const expertTasks = Array.from({ length: n }, () => new Set<number>());
  let groupCount = 0;
  for (const k of sizes) {
    const ms = methods.filter((m) => getMethod(m).maxExperts >= k);
    methodsBySize.set(k, ms);
    for (const experts of sampleGroups(n, k, perSize, seed)) {
      groupCount++;
      const probe = k < n;
      for (const method of ms) groupJobs.push({ kind: 'group', experts, method, seed, probe });
      if (!probe) continue;
      for (let t = 0; t < n; t++) {
        if (experts.includes(t)) continue;
        baseTasks.add(t);
        for (const e of experts) expertTasks[e].add(t);
      }
    }
  }
  const sorted = (s: Set<number>) => [...s].sort((a, b) => a - b);
  const probeJobs: ProbeJob[] = [];
  if (groupJobs.length && baseTasks.size) probeJobs.push({ kind: 'probe', model: -1, tasks: sorted(baseTasks) });
  if (groupJobs.length) expertTasks.forEach((ts, e) => ts.size && probeJobs.push({ kind: 'probe', model: e, tasks: sorted(ts) }));
  return { sizes: groupJobs.length ? sizes : [], groupCount, perSizeText: perSize === 'all' ? 'every group' : `${perSize} group(s)`, methodsBySize, groupJobs, probeJobs };
}

function jobDetail(r: MergeResult | GroupResult | ProbeResult, ids: string[]): string {
  if (r.kind === 'probe') return `probe ${r.model < 0 ? 'base' : ids[r.model]}`;
  if (r.kind === 'group') return `${r.method} ${r.experts.map((k) => ids[k]).join(' + ')}`;
  return `${r.method} ${ids[r.i]} + ${ids[r.j]}`;
}

function probeReferenceOf(results: ProbeResult[], ids: string[]): ProbeReference {
  const ref: ProbeReference = {};
  for (const r of results) {
    const byTask: Record<string, number> = {};
    r.tasks.forEach((t, q) => (byTask[ids[t]] = r.probeAcc[q]));
    ref[r.model < 0 ? 'base' : ids[r.model]] = byTask;
  }
  return ref;
}

/** One GroupRow: held-in outcome as for pairs, held-out probe ratio to the base, and the experts' own ratios for comparison. */
function groupRow(g: GroupResult, ids: string[], expertAccuracy: Record<string, number>, ref: ProbeReference | undefined): GroupRow {
  const members = g.experts.map((k) => ids[k]);
  const norm = normalizedAccuracies(g.acc, members.map((id) => expertAccuracy[id]));
  const extra: Record<string, number> = { k: members.length };
  members.forEach((id, q) => {
    extra[`acc_${id}`] = g.acc[q];
    extra[`norm_${id}`] = norm.ratios[q];
  });
  const row: GroupRow = { experts: members, method: g.method, outcome: norm.mean, extra };
  if (g.heldOut.length && ref) {
    const out = g.heldOut.map((t) => ids[t]);
    const base = out.map((t) => ref.base[t]);
    out.forEach((t, q) => (extra[`probe_${t}`] = g.probeAcc[q]));
    row.heldOut = heldOutRatio(g.probeAcc, base);
    const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
    extra.heldout_probe = mean(g.probeAcc);
    extra.heldout_base = mean(base);
    const experts = members.map((e) => heldOutRatio(out.map((t) => ref[e][t]), base));
    extra.heldout_experts = mean(experts);
    extra.heldout_best_expert = Math.max(...experts);
  }
  return row;
}
