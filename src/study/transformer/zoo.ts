/**
 * The transformer study's model zoo: one base pretrained as a byte-level language model on the
 * study corpus, and per task two experts fine-tuned from it — a full fine-tune (a Hugging Face
 * Llama-style folder) and a PEFT LoRA adapter (adapter_config.json + adapter_model.safetensors)
 * — written as a user's downloaded models would be, with a manifest. The committed zoo lives in
 * fixtures/study-transformer; `mergelens study --study transformer --retrain` writes it again.
 * Mirrors src/study/zoo.ts (the MNIST zoo).
 */
import { promises as fsp } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ProgressSink } from '../../types.js';
import { MergelensError } from '../../errors.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { deriveSeed } from '../rng.js';
import { runPool } from '../pool.js';
import {
  cloneParams,
  fit,
  fitLora,
  initLora,
  mergeLora,
  paramCount,
  pretrainBase,
  promptBatch,
  readHfFolder,
  readLoraAdapter,
  toNamedF32,
  writeHfFolder,
  writeLoraAdapter,
  type LinearModule,
  type LoraAdapter,
  type NamedF32,
  type Params,
  type SaveDType,
  type TransformerConfig,
} from './model.js';
import { buildTextTaskData, getTextTask, pretrainCorpus, seqFor, taskAccuracy, toPromptExamples, type TextSplitSizes, type TextTaskData } from './tasks.js';

export type ExpertKind = 'full' | 'lora';
export const EXPERT_KINDS: readonly ExpertKind[] = ['full', 'lora'];

export interface TransformerZooConfig {
  seed: number;
  tasks: string[];
  split: TextSplitSizes;
  model: TransformerConfig;
  pretrain: { steps: number; batch: number; seq: number; lr: number };
  /** Full fine-tunes: every parameter trains. */
  finetune: { steps: number; batch: number; lr: number };
  /** LoRA fine-tunes: only the adapter factors train (PEFT semantics, B starts at zero). */
  lora: { steps: number; batch: number; lr: number; r: number; alpha: number; targetModules: LinearModule[] };
  /** Training examples per expert behind its gradient/activation calibration files (a fixed prefix of its training split). */
  calibrationSamples: number;
  /** Storage dtype of every written weight. */
  dtype: SaveDType;
}

export const DEFAULT_TRANSFORMER_ZOO_CONFIG: TransformerZooConfig = {
  seed: 1,
  tasks: ['gender', 'syllables', 'stress', 'final', 'party', 'era', 'source', 'moby', 'speech'],
  split: { train: 1200, test: 100 },
  model: { vocabSize: 256, dModel: 64, nLayers: 2, nHeads: 4, dFf: 176, maxSeq: 64, tieEmbeddings: false, ropeTheta: 10000, normEps: 1e-5 },
  pretrain: { steps: 600, batch: 16, seq: 64, lr: 3e-3 },
  finetune: { steps: 150, batch: 16, lr: 2e-3 },
  lora: { steps: 150, batch: 16, lr: 1e-2, r: 4, alpha: 8, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] },
  calibrationSamples: 32,
  dtype: 'F16',
};

export interface TransformerZooTask {
  id: string;
  description: string;
  kind: 'classify' | 'next-byte';
  labels?: string[];
  /** Full fine-tune folder and LoRA adapter folder, relative to the zoo. */
  full: string;
  lora: string;
  /** Test accuracy of the base, and of each expert as stored (dtype), on this task's test split. */
  baseAccuracy: number;
  fullAccuracy: number;
  loraAccuracy: number;
  /** Mean training loss of the last 10% of steps. */
  finalLoss: { full: number; lora: number };
  trainSeconds: { full: number; lora: number };
  pretrainOverlap: string;
}

export interface TransformerZooManifest {
  format: 'mergelens.study-zoo-transformer';
  version: 1;
  createdAt: string;
  config: TransformerZooConfig;
  corpus: string;
  model: string;
  optimizer: string;
  calibration: string;
  base: string;
  /** Pretraining: held-out loss vs the unigram entropy it must beat (nats/byte). */
  pretrain: { trainLoss: number; heldOutLoss: number; unigramEntropy: number; seconds: number };
  tasks: TransformerZooTask[];
  timing: { pretrainSeconds: number; finetuneSeconds: number; totalSeconds: number; workers: number };
}

export const TRANSFORMER_MANIFEST_FILE = 'manifest.json';

/** fixtures/study-transformer inside the installed package (three levels above this module in src/ and dist/). */
export function defaultTransformerZooDir(): string {
  return fileURLToPath(new URL('../../../fixtures/study-transformer', import.meta.url));
}

/** One fine-tune job and its result (plain data: it crosses worker threads). */
export interface FinetuneJob {
  task: string;
  kind: ExpertKind;
}
export interface FinetuneResult {
  tensors: NamedF32[];
  finalLoss: number;
  seconds: number;
}
export interface FinetuneWorkerData {
  role: 'finetune';
  config: TransformerZooConfig;
  base: NamedF32[];
}

export const paramsFromNamed = (ts: readonly NamedF32[]): Params => new Map(ts.map((t) => [t.name, { shape: t.shape.slice(), data: Float64Array.from(t.data) }]));

const tailMean = (losses: Float64Array): number => {
  const k = Math.max(1, Math.floor(losses.length / 10));
  let s = 0;
  for (let i = losses.length - k; i < losses.length; i++) s += losses[i];
  return s / k;
};

/** Minibatches cycling through the (already shuffled) training split, `batch` examples a step. */
export function cyclingBatches(data: TextTaskData, batch: number) {
  const ex = data.train;
  const seq = seqFor(ex);
  return (step: number) => {
    const rows = Array.from({ length: batch }, (_, k) => ex[(step * batch + k) % ex.length]);
    return promptBatch(toPromptExamples(rows), seq);
  };
}

/** Fine-tune one expert from the base (inline or in a worker). Same result whatever the thread. */
export function finetuneExpert(base: Params, data: TextTaskData, config: TransformerZooConfig, kind: ExpertKind, onStep?: (step: number, loss: number) => void): FinetuneResult {
  const cfg = config.model;
  if (kind === 'full') {
    const params = cloneParams(base);
    const r = fit(params, cfg, cyclingBatches(data, config.finetune.batch), { steps: config.finetune.steps, lr: config.finetune.lr }, (p) => onStep?.(p.step, p.loss));
    return { tensors: toNamedF32(params), finalLoss: tailMean(r.losses), seconds: r.seconds };
  }
  const lc = { r: config.lora.r, alpha: config.lora.alpha, targetModules: config.lora.targetModules };
  const adapter = initLora(cfg, lc, deriveSeed(config.seed, `lora:${data.task.id}`));
  const r = fitLora(base, cfg, adapter, cyclingBatches(data, config.lora.batch), { steps: config.lora.steps, lr: config.lora.lr }, (p) => onStep?.(p.step, p.loss));
  return { tensors: toNamedF32(adapter.tensors), finalLoss: tailMean(r.losses), seconds: r.seconds };
}

export interface TrainTransformerZooOptions {
  onProgress?: ProgressSink;
  /** Threads for pretraining and the fine-tunes (default: cores, at most 4; 1 = inline). */
  workers?: number;
  log?: (line: string) => void;
  /**
   * A base already pretrained with this config's seed, model and pretrain settings (e.g. a previous
   * zoo's, read back): pretraining is skipped and its recorded figures are kept. The caller vouches
   * that it is what pretraining would produce.
   */
  pretrained?: { params: Params; pretrain: TransformerZooManifest['pretrain'] };
}

/** Train the whole zoo and write it to `dir` (folders first, manifest last). */
export async function trainTransformerZoo(dir: string, config: TransformerZooConfig = DEFAULT_TRANSFORMER_ZOO_CONFIG, opts: TrainTransformerZooOptions = {}): Promise<TransformerZooManifest> {
  const { onProgress } = opts;
  const t0 = performance.now();
  const workers = Math.max(1, opts.workers ?? Math.min(4, availableParallelism()));
  const corpus = pretrainCorpus(config.seed);
  const data = new Map<string, TextTaskData>();
  config.tasks.forEach((id, i) => {
    data.set(id, buildTextTaskData(getTextTask(id), config.seed, config.split));
    onProgress?.({ phase: 'data', done: i + 1, total: config.tasks.length, unit: 'items', detail: id });
  });

  let pre: { params: Params } & TransformerZooManifest['pretrain'];
  if (opts.pretrained) {
    opts.log?.('using the given pretrained base');
    pre = { params: opts.pretrained.params, ...opts.pretrained.pretrain };
  } else {
    opts.log?.(`pretraining the base (${paramCount(config.model)} parameters, ${config.pretrain.steps} steps) on ${corpus.bytes} bytes`);
    const r = await pretrainBase(corpus.text, config.model, { ...config.pretrain, seed: config.seed, workers }, (p) =>
      onProgress?.({ phase: 'pretrain', done: p.step, total: p.steps, unit: 'items', detail: `loss ${p.loss.toFixed(3)}` }),
    );
    pre = { params: r.params, trainLoss: r.trainLoss, heldOutLoss: r.heldOutLoss, unigramEntropy: r.unigramEntropy, seconds: r.seconds };
  }
  const t1 = performance.now();

  const baseDir = path.join(dir, 'base');
  const meta = (extra: Record<string, string>) => ({ 'mergelens.study.seed': String(config.seed), ...extra });
  await writeHfFolder(baseDir, config.model, pre.params, config.dtype, meta({ 'mergelens.study.role': 'base' }));
  // Experts start from the base as stored (what a user downloading it would fine-tune).
  const base = (await readHfFolder(baseDir)).params;

  const jobs: FinetuneJob[] = config.tasks.flatMap((task) => EXPERT_KINDS.map((kind) => ({ task, kind })));
  const stepsOf = (j: FinetuneJob) => (j.kind === 'full' ? config.finetune.steps : config.lora.steps);
  const total = jobs.reduce((s, j) => s + stepsOf(j), 0);
  const doneBy = new Array<number>(jobs.length).fill(0);
  const report = (k: number, step: number, loss: number) => {
    doneBy[k] = step;
    onProgress?.({ phase: 'finetune', done: doneBy.reduce((a, b) => a + b, 0), total, unit: 'items', detail: `${jobs[k].kind} ${jobs[k].task} loss ${loss.toFixed(3)}` });
  };
  opts.log?.(`fine-tuning ${jobs.length} experts (full and LoRA per task) on ${Math.min(workers, jobs.length)} thread(s)`);
  let trained: FinetuneResult[];
  if (workers > 1) {
    const workerData: FinetuneWorkerData = { role: 'finetune', config, base: toNamedF32(base) };
    trained = await runPool<FinetuneJob, FinetuneResult, { step: number; loss: number }>({
      entry: 'transformer/worker',
      workerData,
      jobs,
      workers,
      onProgress: (p, k) => report(k, p.step, p.loss),
    });
  } else {
    trained = jobs.map((j, k) => finetuneExpert(base, data.get(j.task)!, config, j.kind, (s, l) => report(k, s, l)));
  }

  const entries: TransformerZooTask[] = [];
  for (const id of config.tasks) {
    const td = data.get(id)!;
    const kFull = jobs.findIndex((j) => j.task === id && j.kind === 'full');
    const kLora = jobs.findIndex((j) => j.task === id && j.kind === 'lora');
    const fullDir = `full/${id}`;
    const loraDir = `lora/${id}`;
    const expertMeta = meta({ 'mergelens.study.role': 'expert', 'mergelens.study.task': id });
    await writeHfFolder(path.join(dir, fullDir), config.model, paramsFromNamed(trained[kFull].tensors), config.dtype, expertMeta);
    const adapter: LoraAdapter = { config: { r: config.lora.r, alpha: config.lora.alpha, targetModules: config.lora.targetModules }, tensors: paramsFromNamed(trained[kLora].tensors) };
    // base_model_name_or_path as PEFT writes a local path: relative to the adapter folder.
    await writeLoraAdapter(path.join(dir, loraDir), adapter, '../../base', config.dtype);
    // Accuracies of the files as stored, read back the way every other reader reads them.
    const full = (await readHfFolder(path.join(dir, fullDir))).params;
    const lora = mergeLora(base, config.model, await readLoraAdapter(path.join(dir, loraDir)));
    entries.push({
      id,
      description: td.task.description,
      kind: td.task.kind,
      labels: td.task.labels,
      full: fullDir,
      lora: loraDir,
      baseAccuracy: taskAccuracy(base, config.model, td.task, td.test),
      fullAccuracy: taskAccuracy(full, config.model, td.task, td.test),
      loraAccuracy: taskAccuracy(lora, config.model, td.task, td.test),
      finalLoss: { full: trained[kFull].finalLoss, lora: trained[kLora].finalLoss },
      trainSeconds: { full: trained[kFull].seconds, lora: trained[kLora].seconds },
      pretrainOverlap: td.task.pretrainOverlap,
    });
  }
  const t2 = performance.now();
  const pretrainSeconds = opts.pretrained ? opts.pretrained.pretrain.seconds : (t1 - t0) / 1000;
  const m = config.model;
  const manifest: TransformerZooManifest = {
    format: 'mergelens.study-zoo-transformer',
    version: 1,
    createdAt: new Date().toISOString(),
    config,
    corpus: corpus.description,
    model:
      `byte-level Llama-style decoder: vocab ${m.vocabSize}, d ${m.dModel}, ${m.nLayers} layers, ${m.nHeads} heads, SwiGLU ${m.dFf}, ` +
      `RoPE, RMSNorm pre-norm, untied lm_head; ${paramCount(m)} parameters; weights stored as ${config.dtype}`,
    optimizer:
      `AdamW (β1 0.9, β2 0.99), warm-up + cosine schedule, gradient clip 1; full fine-tunes ${config.finetune.steps} steps × ${config.finetune.batch} at lr ${config.finetune.lr}; ` +
      `LoRA r ${config.lora.r}, alpha ${config.lora.alpha} on ${config.lora.targetModules.join(', ')}, ${config.lora.steps} steps × ${config.lora.batch} at lr ${config.lora.lr}`,
    calibration:
      `per expert, the first ${config.calibrationSamples} examples of its own task's shuffled training split: mean gradient of its loss on the ` +
      'target byte w.r.t. every parameter (HF names) and w.r.t. the input embeddings (tensor "input", [d], summed over positions); ' +
      'mean activation of each layer\'s residual output ("model.layers.N") and of the final norm ("model.norm")',
    base: 'base',
    pretrain: { trainLoss: pre.trainLoss, heldOutLoss: pre.heldOutLoss, unigramEntropy: pre.unigramEntropy, seconds: pre.seconds },
    tasks: entries,
    timing: { pretrainSeconds: pretrainSeconds, finetuneSeconds: (t2 - t1) / 1000, totalSeconds: pretrainSeconds + (t2 - t1) / 1000, workers },
  };
  await writeFileAtomic(path.join(dir, TRANSFORMER_MANIFEST_FILE), JSON.stringify(manifest, null, 2) + '\n');
  return manifest;
}

export async function readTransformerZooManifest(dir: string): Promise<TransformerZooManifest> {
  const file = path.join(dir, TRANSFORMER_MANIFEST_FILE);
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch {
    throw new MergelensError('NOT_FOUND', 'no transformer study zoo here', { file, hint: 'run `mergelens study --study transformer --retrain` to train one' });
  }
  let m: TransformerZooManifest;
  try {
    m = JSON.parse(text) as TransformerZooManifest;
  } catch (e) {
    throw new MergelensError('BAD_INPUT', `invalid JSON: ${(e as Error).message}`, { file });
  }
  if (m.format !== 'mergelens.study-zoo-transformer' || m.version !== 1 || !Array.isArray(m.tasks)) {
    throw new MergelensError('BAD_INPUT', 'not a mergelens transformer study zoo manifest (format "mergelens.study-zoo-transformer", version 1)', { file });
  }
  return m;
}
