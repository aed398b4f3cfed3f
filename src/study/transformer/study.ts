/**
 * The built-in transformer study, end to end, through the paths a user's own LLM checkpoints
 * take: zoo folders (HF Llama-style models and PEFT LoRA adapters) → calibration gradient /
 * activation files → metrics engine → every pair × every merge method merged by `mergeStream`
 * (LoRA experts merged as adapters) → both tasks scored on their held-out splits → one
 * StudyDataset per expert kind (full fine-tunes, LoRA adapters) → predictors → HTML report →
 * transfer between studies (transfer.ts). Mirrors src/study/run.ts (the MNIST study).
 */
import { pairRow, pairsOf, resolveMethods, stageTimer, underCwd } from '../common.js';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import type { Checkpoint, MetricsReport, PredictorFile, ProgressSink, StudyDataset, StudyRow } from '../../types.js';
import { MergelensError } from '../../errors.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { writeSafetensors } from '../../safetensors/writer.js';
import { openCheckpoint } from '../../checkpoint/open.js';
import { computeMetrics } from '../../metrics/engine.js';
import { fitPredictors } from '../../predict/fit.js';
import { predictPairs } from '../../predict/predict.js';
import { writeReport } from '../../report/render.js';
import { studyToCsv } from '../csv.js';
import { DATA_FAMILIES, shippedPredictorDir } from '../run.js';
import { loadPredictor, loadStudy } from '../../predict/load.js';
import { compareKinds, kindTable, lotoTable, transfer, transferRow, transferTable, type KindComparison, type TransferResult } from './transfer.js';
import { lossAndGrad, mergeLora, promptBatch, readHfFolder, readLoraAdapter, type Params, type TransformerConfig } from './model.js';
import { buildTextTaskData, getTextTask, headOfExamples, seqFor, taskAccuracy, toPromptExamples, type TextExample, type TextTaskData } from './tasks.js';
import { runPairMerges, type MergeEvalSpec, type PairMergeJob } from './merge-eval.js';
import {
  DEFAULT_TRANSFORMER_ZOO_CONFIG,
  EXPERT_KINDS,
  defaultTransformerZooDir,
  readTransformerZooManifest,
  trainTransformerZoo,
  type ExpertKind,
  type TransformerZooConfig,
  type TransformerZooManifest,
} from './zoo.js';

/** The --quick subset: a word task, a phonetic task, a text classification and a next-byte task; four methods. */
export const TRANSFORMER_QUICK_TASKS = ['gender', 'syllables', 'party', 'moby'];
export const TRANSFORMER_QUICK_METHODS = ['weight_avg', 'task_arithmetic', 'ties', 'dare'];

export const TRANSFORMER_OUTCOME_DESCRIPTION =
  "normalized accuracy: for each task of the pair, the merged model's held-out accuracy (label byte among the task's labels, or next byte among all 256) ÷ the expert's own held-out accuracy; mean of the two";

/** The top-level file of a transformer study folder (transfer and LoRA-vs-full results); it marks the folder as a study's for the output policy. */
export const SUMMARY_FILE = 'summary.json';
export const SUMMARY_FORMAT = 'mergelens.study-transformer';

/** Where the study writes by default: an ignored folder under the working directory. */
export const DEFAULT_TRANSFORMER_STUDY_OUT = path.join('mergelens-out', 'study-transformer');

export interface TransformerStudyOptions {
  outDir?: string;
  /** Zoo folder (default: the committed fixtures/study-transformer). */
  zooDir?: string;
  /** Train the zoo again (into zooDir) first. */
  retrain?: boolean;
  /** Zoo configuration for --retrain (default DEFAULT_TRANSFORMER_ZOO_CONFIG; tests pass a tiny one). */
  zooConfig?: TransformerZooConfig;
  /** Training seed with --retrain; merge seed (DARE) always. Default: the zoo's seed. */
  seed?: number;
  methods?: string[];
  tasks?: string[];
  /** Expert kinds to study (default both). */
  kinds?: ExpertKind[];
  quick?: boolean;
  fit?: boolean;
  /** Bootstrap resamples of the fits (default: the fit's own; tests pass 0 for speed). */
  fitBootstrap?: number;
  report?: boolean;
  workers?: number;
  /**
   * Transfer between studies (transfer.md and summary.json; needs fit). Default true. The MNIST side
   * is the shipped MNIST study (reports/study.json) and predictors (fixtures/predictor) unless given.
   */
  transfer?: boolean;
  mnistStudyFile?: string;
  mnistPredictorDir?: string;
  onProgress?: ProgressSink;
  log?: (line: string) => void;
}

/** The study of one expert kind. */
export interface KindStudy {
  kind: ExpertKind;
  dataset: StudyDataset;
  metrics: MetricsReport;
  predictor?: PredictorFile;
  weightsOnlyPredictor?: PredictorFile;
  /** Held-out accuracy per task, measured now from the zoo files. */
  expertAccuracy: Record<string, number>;
  dir: string;
}

export interface TransformerStudyResult {
  manifest: TransformerZooManifest;
  studies: KindStudy[];
  transfer?: TransferResult[];
  kindComparison?: KindComparison[];
  files: string[];
  seconds: Record<string, number>;
}

function resolveTasks(ids: string[] | undefined, manifest: TransformerZooManifest, zooDir: string): string[] {
  const have = manifest.tasks.map((t) => t.id);
  if (!ids || ids.length === 0) return have;
  const out = [...new Set(ids)];
  for (const id of out) {
    getTextTask(id);
    if (!have.includes(id)) throw new MergelensError('BAD_INPUT', `the zoo has no expert for task "${id}"`, { file: path.join(zooDir, 'manifest.json'), hint: `experts: ${have.join(', ')}` });
  }
  if (out.length < 2) throw new MergelensError('BAD_INPUT', 'the study needs at least 2 tasks to form a pair');
  return out;
}

export interface CalibrationFiles {
  grads: { name: string; shape: number[]; data: Float32Array }[];
  acts: { name: string; shape: number[]; data: Float32Array }[];
  loss: number;
}

/**
 * Calibration statistics of one expert on examples of its own task (the gradient/activation
 * file format of src/study/calibration.ts, with the transformer's names): the mean gradient of
 * the target-byte loss w.r.t. every parameter (HF names, [out, in]) plus `input`, the gradient
 * w.r.t. the input embeddings summed over positions [d]; the mean activation of each layer's
 * residual output (`model.layers.N`) and of the final norm (`model.norm`) over scored positions.
 */
export function transformerCalibration(params: Params, cfg: TransformerConfig, examples: readonly TextExample[]): CalibrationFiles {
  const b = promptBatch(toPromptExamples(examples), seqFor(examples));
  const r = lossAndGrad(params, cfg, b, { inputGrad: true, collectActivations: true });
  const f32 = (name: string, shape: number[], d: ArrayLike<number>) => ({ name, shape, data: Float32Array.from(d) });
  const grads = [...r.grads].map(([name, t]) => f32(name, t.shape, t.data));
  if (r.inputGrad) grads.push(f32('input', [r.inputGrad.length], r.inputGrad));
  const acts = [...(r.activations ?? new Map<string, Float64Array>())].map(([name, a]) => f32(name, [a.length], a));
  return { grads, acts, loss: r.loss };
}

export async function runTransformerStudy(opts: TransformerStudyOptions = {}): Promise<TransformerStudyResult> {
  const t0 = performance.now();
  const { seconds, lap } = stageTimer();
  const log = opts.log ?? (() => {});
  const outDir = opts.outDir ?? DEFAULT_TRANSFORMER_STUDY_OUT;
  const zooDir = opts.zooDir ?? defaultTransformerZooDir();
  const files: string[] = [];
  const workers = Math.max(1, opts.workers ?? Math.min(4, availableParallelism()));

  const methods = resolveMethods(opts.methods ?? (opts.quick ? TRANSFORMER_QUICK_METHODS : undefined));
  for (const id of opts.tasks ?? []) getTextTask(id);
  const kinds = [...new Set(opts.kinds ?? EXPERT_KINDS)];
  if (opts.retrain) {
    const config = { ...(opts.zooConfig ?? DEFAULT_TRANSFORMER_ZOO_CONFIG) };
    if (opts.seed !== undefined) config.seed = opts.seed;
    log(`training the transformer zoo into ${zooDir} (seed ${config.seed})`);
    await trainTransformerZoo(zooDir, config, { onProgress: opts.onProgress, workers, log });
    lap('train');
  }
  const manifest = await readTransformerZooManifest(zooDir);
  const taskIds = resolveTasks(opts.tasks ?? (opts.quick ? TRANSFORMER_QUICK_TASKS : undefined), manifest, zooDir);
  const seed = opts.seed ?? manifest.config.seed;
  const cfg = manifest.config.model;
  const entries = taskIds.map((id) => manifest.tasks.find((t) => t.id === id)!);

  const data = new Map<string, TextTaskData>();
  for (const id of taskIds) data.set(id, buildTextTaskData(getTextTask(id), manifest.config.seed, manifest.config.split));
  lap('data');

  const baseDir = path.join(zooDir, manifest.base);
  const baseParams = (await readHfFolder(baseDir)).params;
  const studies: KindStudy[] = [];
  for (const kind of kinds) {
    const dir = path.join(outDir, kind);
    const expertDirs = entries.map((e) => path.join(zooDir, kind === 'full' ? e.full : e.lora));
    const expertAccuracy: Record<string, number> = {};
    const calib = { grads: [] as string[], acts: [] as string[] };
    for (let k = 0; k < entries.length; k++) {
      const e = entries[k];
      const td = data.get(e.id)!;
      const params = kind === 'full' ? (await readHfFolder(expertDirs[k])).params : mergeLora(baseParams, cfg, await readLoraAdapter(expertDirs[k]));
      expertAccuracy[e.id] = taskAccuracy(params, cfg, td.task, td.test);
      const stats = transformerCalibration(params, cfg, headOfExamples(td.train, manifest.config.calibrationSamples));
      const meta = { 'mergelens.study.task': e.id, 'mergelens.study.expert_kind': kind, 'mergelens.study.calibration_samples': String(manifest.config.calibrationSamples) };
      const gradFile = path.join(dir, 'calibration', 'grads', `${e.id}.safetensors`);
      const actFile = path.join(dir, 'calibration', 'acts', `${e.id}.safetensors`);
      await writeSafetensors(gradFile, stats.grads.map((t) => ({ ...t, dtype: 'F32' as const })), meta);
      await writeSafetensors(actFile, stats.acts.map((t) => ({ ...t, dtype: 'F32' as const })), meta);
      calib.grads.push(gradFile);
      calib.acts.push(actFile);
      opts.onProgress?.({ phase: `calibrate ${kind}`, done: k + 1, total: entries.length, unit: 'items', detail: e.id });
    }
    const recorded = (e: (typeof entries)[number]) => (kind === 'full' ? e.fullAccuracy : e.loraAccuracy);
    const drift = entries.filter((e) => Math.abs(expertAccuracy[e.id] - recorded(e)) > 1e-9).map((e) => e.id);
    if (drift.length) log(`warning: ${kind} expert accuracy differs from the zoo manifest for ${drift.join(', ')}`);
    const weak = entries.filter((e) => !(expertAccuracy[e.id] > 0)).map((e) => e.id);
    if (weak.length) throw new MergelensError('BAD_INPUT', `${kind} expert(s) with zero held-out accuracy cannot normalise an outcome: ${weak.join(', ')}`, { file: zooDir });
    lap('calibration');

    log(`${kind}: metrics for ${taskIds.length} experts (${(taskIds.length * (taskIds.length - 1)) / 2} pairs)`);
    const base = await openCheckpoint(underCwd(baseDir));
    const experts: Checkpoint[] = [];
    let metrics: MetricsReport;
    try {
      for (const d of expertDirs) experts.push(await openCheckpoint(underCwd(d)));
      metrics = await computeMetrics(base, experts, { grads: calib.grads.map(underCwd), acts: calib.acts.map(underCwd), onProgress: opts.onProgress });
    } finally {
      await Promise.all([base, ...experts].map((c) => c.close()));
    }
    lap('metrics');
    const metricIds = Object.keys(metrics.metrics);

    const pairs = pairsOf(taskIds.length);
    const total = pairs.length * methods.length;
    const w = Math.min(workers, total);
    log(`${kind}: merging ${pairs.length} pairs × ${methods.length} methods (${total} merges) on ${w} thread(s)`);
    const jobs: PairMergeJob[] = pairs.flatMap(([i, j]) => methods.map((method) => ({ i, j, method, seed })));
    const spec: MergeEvalSpec = {
      role: 'merge',
      zooDir,
      base: manifest.base,
      tasks: entries.map((e) => ({ id: e.id, expert: kind === 'full' ? e.full : e.lora })),
      dataSeed: manifest.config.seed,
      split: manifest.config.split,
      model: cfg,
    };
    const results = await runPairMerges(spec, jobs, w, (done, r) =>
      opts.onProgress?.({ phase: `merge ${kind}`, done, total, unit: 'items', detail: `${r.method} ${taskIds[r.i]} + ${taskIds[r.j]}` }),
    );
    const rows: StudyRow[] = results.map((r) => pairRow(metrics, taskIds, expertAccuracy, r));
    lap('merges');

    const kindWords = kind === 'full' ? 'full fine-tunes (HF Llama-style folders)' : `PEFT LoRA adapters (r ${manifest.config.lora.r}, merged as adapters)`;
    const dataset: StudyDataset = {
      format: 'mergelens.study',
      version: 1,
      createdAt: new Date().toISOString(),
      description:
        `mergelens built-in transformer study (${kind}): ${taskIds.length} experts (${taskIds.join(', ')}), ${kindWords} of one byte-level ` +
        `Llama-style base (d ${cfg.dModel}, ${cfg.nLayers} layers); every pair merged with ${methods.join(', ')} (method defaults, merge seed ${seed}); ` +
        `${manifest.config.split.test} held-out examples per task; gradient/activation metrics on ${manifest.config.calibrationSamples} calibration examples per expert`,
      outcome: TRANSFORMER_OUTCOME_DESCRIPTION,
      experts: taskIds,
      methods,
      metricIds,
      rows,
    };
    const studyJson = path.join(dir, 'study.json');
    const studyCsv = path.join(dir, 'study.csv');
    const metricsJson = path.join(dir, 'metrics.json');
    await writeFileAtomic(studyJson, JSON.stringify(dataset, null, 2) + '\n');
    await writeFileAtomic(studyCsv, studyToCsv(dataset));
    await writeFileAtomic(metricsJson, JSON.stringify(metrics) + '\n');
    files.push(studyJson, studyCsv, metricsJson, ...calib.grads, ...calib.acts);

    const study: KindStudy = { kind, dataset, metrics, expertAccuracy, dir };
    if (opts.fit !== false) {
      log(`${kind}: fitting predictors (all metrics, then weights-only)`);
      const bootstrap = opts.fitBootstrap;
      study.predictor = fitPredictors(dataset, { seed, bootstrap, onProgress: opts.onProgress });
      study.weightsOnlyPredictor = fitPredictors(dataset, { seed, bootstrap, exclude: DATA_FAMILIES, onProgress: opts.onProgress });
      for (const [file, p] of [
        [path.join(dir, 'predictor.json'), study.predictor],
        [path.join(dir, 'predictor-weights-only.json'), study.weightsOnlyPredictor],
      ] as const) {
        await writeFileAtomic(file, JSON.stringify(p, null, 2) + '\n');
        files.push(file);
      }
      lap('fit');
    }
    studies.push(study);
  }
  let transfers: TransferResult[] | undefined;
  let kindComparison: KindComparison[] | undefined;
  let notes: string[] = [];
  if (opts.fit !== false && opts.transfer !== false) {
    const r = await transferStep(studies, opts, log);
    transfers = r.transfers;
    kindComparison = r.kindComparison;
    notes = r.notes;
    const md = path.join(outDir, 'transfer.md');
    await writeFileAtomic(md, r.markdown);
    files.push(md);
    lap('transfer');
  }
  // Reports last, so each carries the transfer table of the studies it is part of.
  if (opts.report !== false) {
    for (const { kind, dir, metrics, predictor, dataset } of studies) {
      const html = path.join(dir, 'index.html');
      const predictions = predictor ? predictPairs(predictor, metrics) : undefined;
      const transfer = transfers?.map(transferRow);
      await writeReport(html, { metrics, predictor, study: dataset, predictions, transfer, title: `mergelens built-in study (transformer, ${kind === 'full' ? 'full fine-tunes' : 'LoRA adapters'})` });
      files.push(html);
    }
    lap('report');
  }
  // Always written: it also marks the folder as a study's output (what --force may replace).
  const json = path.join(outDir, SUMMARY_FILE);
  const summary = { format: SUMMARY_FORMAT, version: 1, createdAt: new Date().toISOString(), zoo: manifest.createdAt, kinds: studies.map((x) => ({ kind: x.kind, dir: x.kind, expertAccuracy: x.expertAccuracy })), transfer: transfers, loraVsFull: kindComparison, notes };
  await writeFileAtomic(json, JSON.stringify(summary, null, 2) + '\n');
  files.push(json);
  seconds.total = (performance.now() - t0) / 1000;
  return { manifest, studies, transfer: transfers, kindComparison, files, seconds };
}

/** The package's committed MNIST study outputs (reports/, next to fixtures/). */
const shippedMnistStudy = () => path.join(shippedPredictorDir(), '..', '..', 'reports', 'study.json');

async function transferStep(studies: KindStudy[], opts: TransformerStudyOptions, log: (line: string) => void) {
  const notes: string[] = [];
  const results: TransferResult[] = [];
  const full = studies.find((s) => s.kind === 'full');
  const lora = studies.find((s) => s.kind === 'lora');
  const tf = (s: KindStudy) => `transformer ${s.kind === 'full' ? 'full' : 'LoRA'}`;
  let mnist: { study?: StudyDataset; predictor?: PredictorFile; weightsOnly?: PredictorFile } = {};
  const predDir = opts.mnistPredictorDir ?? shippedPredictorDir();
  const studyFile = opts.mnistStudyFile ?? shippedMnistStudy();
  try {
    mnist = {
      study: await loadStudy(studyFile),
      predictor: await loadPredictor(path.join(predDir, 'default.json')),
      weightsOnly: await loadPredictor(path.join(predDir, 'weights-only.json')),
    };
  } catch (e) {
    notes.push(`MNIST side left out: ${(e as Error).message}`);
    log(`warning: transfer without the MNIST study (${(e as Error).message})`);
  }
  for (const s of studies) {
    if (!s.predictor) continue;
    const target = { name: tf(s), value: s.dataset };
    if (mnist.predictor) results.push(transfer({ name: 'MNIST (all metrics)', value: mnist.predictor }, target, s.predictor));
    if (mnist.weightsOnly) results.push(transfer({ name: 'MNIST (weights only)', value: mnist.weightsOnly }, target, s.weightsOnlyPredictor));
  }
  if (full?.predictor && lora?.predictor) {
    results.push(transfer({ name: 'transformer full', value: full.predictor }, { name: 'transformer LoRA', value: lora.dataset }, lora.predictor));
    results.push(transfer({ name: 'transformer LoRA', value: lora.predictor }, { name: 'transformer full', value: full.dataset }, full.predictor));
  }
  if (mnist.study && mnist.predictor) {
    for (const s of studies) if (s.predictor) results.push(transfer({ name: tf(s), value: s.predictor }, { name: 'MNIST', value: mnist.study }, mnist.predictor));
  }
  const kindComparison = full && lora ? compareKinds(full.dataset, lora.dataset, full.predictor, lora.predictor) : undefined;
  const parts = ['# Transformer study: LOTO, transfer, LoRA vs full', ''];
  for (const s of studies) {
    if (!s.predictor) continue;
    parts.push(`## ${tf(s)}: leave-one-task-out validation (all metrics)`, '', lotoTable(s.predictor));
    if (s.weightsOnlyPredictor) parts.push(`## ${tf(s)}: LOTO, weights-only predictor`, '', lotoTable(s.weightsOnlyPredictor));
  }
  parts.push('## Transfer', '', 'A predictor fitted on one study, applied unchanged to another study\'s rows; "own LOTO" is the target study\'s own out-of-fold figure with its own predictor (same metric set). "in domain": target rows the source predictor\'s domain guard accepts.', '', transferTable(results));
  if (kindComparison) parts.push('## LoRA vs full fine-tunes, per method', '', kindTable(kindComparison));
  if (notes.length) parts.push('## Notes', '', ...notes.map((n) => `- ${n}`), '');
  return { transfers: results, kindComparison, notes, markdown: parts.join('\n') };
}

/** The study in words for the terminal: expert accuracies, per-kind outcomes per method, LOTO, transfer, LoRA vs full. */
export function formatTransformerStudySummary(r: TransformerStudyResult): string {
  const lines: string[] = [];
  const m = r.manifest;
  lines.push(`transformer study: base held-out accuracy ${m.tasks.map((t) => `${t.id} ${(t.baseAccuracy * 100).toFixed(0)}%`).join(', ')}`);
  for (const s of r.studies) {
    lines.push(`${s.kind} experts: ${s.dataset.experts.map((id) => `${id} ${(s.expertAccuracy[id] * 100).toFixed(0)}%`).join(', ')}`);
    lines.push(`  normalized accuracy after merging (${s.dataset.rows.length} merges):`);
    lines.push(`    ${'method'.padEnd(16)} ${'mean'.padStart(6)} ${'min'.padStart(6)} ${'max'.padStart(6)}`);
    for (const method of s.dataset.methods) {
      const v = s.dataset.rows.filter((x) => x.method === method).map((x) => x.outcome);
      const mean = v.reduce((a, b) => a + b, 0) / v.length;
      lines.push(`    ${method.padEnd(16)} ${mean.toFixed(3).padStart(6)} ${Math.min(...v).toFixed(3).padStart(6)} ${Math.max(...v).toFixed(3).padStart(6)}`);
    }
    if (s.predictor) lines.push('', `  ${s.kind}: leave-one-task-out validation (all metrics)`, lotoTable(s.predictor));
  }
  if (r.transfer?.length) lines.push('transfer between studies:', transferTable(r.transfer));
  if (r.kindComparison?.length) lines.push('LoRA vs full, per method:', kindTable(r.kindComparison));
  lines.push(`time: ${Object.entries(r.seconds).map(([k, s]) => `${k} ${s.toFixed(1)}s`).join(', ')}`);
  lines.push('wrote:');
  for (const f of r.files.filter((f) => !f.includes('calibration'))) lines.push(`  ${f}`);
  return lines.join('\n') + '\n';
}
