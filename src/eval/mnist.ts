/**
 * The built-in study's evaluation as a function of one model file: test accuracy of an encoder
 * (the base, an expert, or any merge of them) on each task with that task's own expert head —
 * exactly what `mergelens study` measures for a merge (src/study/evaluate.ts), reachable from
 * outside through `mergelens eval-mnist`, so the sweep can drive it as an external command.
 */
import path from 'node:path';
import { openCheckpoint } from '../checkpoint/open.js';
import { MergelensError } from '../errors.js';
import { buildTaskData, getTask, INPUT_DIM, loadMnist } from '../study/data.js';
import { readAllTensors, readHead } from '../study/evaluate.js';
import { accuracy } from '../study/mlp.js';
import { encoderFromTensors } from '../study/tensors.js';
import { defaultZooDir, readZooManifest } from '../study/zoo.js';

export interface MnistEvalOptions {
  /** Zoo folder with the heads and the data seed/split (default: the committed fixtures/study). */
  zooDir?: string;
  /** Tasks to score (default: every task of the zoo). */
  tasks?: string[];
}

/** Task → test accuracy of `model`'s encoder with that task's head. */
export async function evaluateMnistModel(model: string, opts: MnistEvalOptions = {}): Promise<Record<string, number>> {
  const zooDir = opts.zooDir ?? defaultZooDir();
  const manifest = await readZooManifest(zooDir);
  const tasks = opts.tasks?.length ? opts.tasks : manifest.tasks.map((t) => t.id);
  const entries = tasks.map((id) => {
    getTask(id);
    const e = manifest.tasks.find((t) => t.id === id);
    if (!e) throw new MergelensError('BAD_INPUT', `the zoo has no head for task "${id}"`, { file: path.join(zooDir, 'manifest.json'), hint: `tasks: ${manifest.tasks.map((t) => t.id).join(', ')}` });
    return e;
  });
  const ck = await openCheckpoint(model);
  let encoder;
  try {
    encoder = encoderFromTensors(await readAllTensors(ck), manifest.config.encoderDims.length - 1, ck.path, INPUT_DIM);
  } finally {
    await ck.close();
  }
  const mnist = loadMnist();
  const scores: Record<string, number> = {};
  for (const e of entries) {
    const head = await readHead(path.join(zooDir, e.head));
    const test = buildTaskData(getTask(e.id), manifest.config.seed, manifest.config.split, mnist).test;
    scores[e.id] = accuracy({ encoder, head }, test.x, test.y, test.n);
  }
  return scores;
}
