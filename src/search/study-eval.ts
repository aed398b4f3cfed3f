/**
 * The built-in zoo's evaluation as an in-process runner Evaluator: the same measurement as
 * `evaluateMnistModel` (src/eval/mnist.ts) and `mergelens eval-mnist` — test accuracy of a
 * model's encoder with each task's own expert head — with the heads and test splits built once
 * per search instead of once per model (MNIST loading dominates a single evaluation).
 */
import path from 'node:path';
import { openCheckpoint } from '../checkpoint/open.js';
import { MergelensError } from '../errors.js';
import type { Evaluator } from '../eval/runner.js';
import { buildTaskData, getTask, INPUT_DIM, loadMnist, type Split } from '../study/data.js';
import { readAllTensors, readHead } from '../study/evaluate.js';
import { accuracy, type Dense } from '../study/mlp.js';
import { encoderFromTensors } from '../study/tensors.js';
import { readZooManifest, type ZooManifest } from '../study/zoo.js';

export interface StudyEvaluation {
  evaluator: Evaluator;
  manifest: ZooManifest;
  /** Task → the expert's own accuracy on it (the denominator of normalised accuracy). */
  expertAccuracy: Record<string, number>;
}

export async function studyEvaluation(zooDir: string, tasks: string[]): Promise<StudyEvaluation> {
  const manifest = await readZooManifest(zooDir);
  const entries = tasks.map((id) => {
    const e = manifest.tasks.find((t) => t.id === id);
    if (!e) throw new MergelensError('BAD_INPUT', `the zoo has no task "${id}"`, { file: path.join(zooDir, 'manifest.json'), hint: `tasks: ${manifest.tasks.map((t) => t.id).join(', ')}` });
    return e;
  });
  const mnist = loadMnist();
  const heads = new Map<string, Dense>();
  const tests = new Map<string, Split>();
  for (const e of entries) {
    heads.set(e.id, await readHead(path.join(zooDir, e.head)));
    tests.set(e.id, buildTaskData(getTask(e.id), manifest.config.seed, manifest.config.split, mnist).test);
  }
  const layers = manifest.config.encoderDims.length - 1;
  const evaluator: Evaluator = async (ctx) => {
    const ck = await openCheckpoint(ctx.model);
    let encoder;
    try {
      encoder = encoderFromTensors(await readAllTensors(ck), layers, ck.path, INPUT_DIM);
    } finally {
      await ck.close();
    }
    const scores: Record<string, number> = {};
    for (const t of ctx.candidate.tasks) {
      const test = tests.get(t);
      if (!test) throw new Error(`task ${t} is not one of the search's tasks`);
      scores[t] = accuracy({ encoder, head: heads.get(t)! }, test.x, test.y, test.n);
    }
    return { scores, contract: 'mergelens-study' };
  };
  return { evaluator, manifest, expertAccuracy: Object.fromEntries(entries.map((e) => [e.id, e.expertAccuracy])) };
}
