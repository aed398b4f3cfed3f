import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openCheckpoint } from '../../src/checkpoint/open.js';
import { buildTaskData, getTask, INPUT_DIM } from '../../src/study/data.js';
import { accuracy, ENCODER_DIMS, initEncoder } from '../../src/study/mlp.js';
import { createRng } from '../../src/study/rng.js';
import { denseFromTensors, encoderFromTensors, type TensorLookup } from '../../src/study/tensors.js';
import { finetune } from '../../src/study/train.js';
import { DEFAULT_ZOO_CONFIG, defaultZooDir, readZooManifest, trainZoo, type ZooConfig } from '../../src/study/zoo.js';

async function lookup(file: string): Promise<TensorLookup> {
  const ck = await openCheckpoint(file);
  const m = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const n of ck.tensorNames()) m.set(n, { shape: ck.location(n)!.shape, data: await ck.read(n) });
  await ck.close();
  return (n) => m.get(n);
}

describe('training', () => {
  it('learns original digits from scratch to ≥ 88% test accuracy in 2 epochs (chance 10%)', () => {
    // measured: 0.908 with this seed (untrained encoder + trained head: 0.158); a broken backward or optimizer stays far below
    const td = buildTaskData(getTask('digits'), 1, { train: 2000, test: 500 });
    const encoder = initEncoder(ENCODER_DIMS, createRng(123));
    const model = finetune(encoder, td, { epochs: 2, headEpochs: 0, batch: 64, lr: 1e-3, seed: 1 });
    const acc = accuracy(model, td.test.x, td.test.y, td.test.n);
    expect(acc).toBeGreaterThanOrEqual(0.88);
    // the untrained model is near chance, so the floor is a real bar
    const untrained = accuracy({ encoder, head: model.head }, td.test.x, td.test.y, td.test.n);
    expect(untrained).toBeLessThan(0.6);
  });

  it('trains a zoo to the same bytes inline and on 2 worker threads', async () => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'mergelens-zoo-'));
    try {
      const config: ZooConfig = {
        ...DEFAULT_ZOO_CONFIG,
        tasks: ['digits', 'invert', 'parity'],
        pretrainTasks: ['digits'],
        split: { train: 128, test: 64 },
        encoderDims: [784, 16, 8],
        pretrain: { epochs: 1, batch: 32, lr: 1e-3 },
        finetune: { epochs: 1, headEpochs: 1, batch: 32, lr: 1e-3 },
      };
      const a = await trainZoo(path.join(tmp, 'a'), config, { workers: 1 });
      const b = await trainZoo(path.join(tmp, 'b'), config, { workers: 2 });
      expect(b.timing.workers).toBe(2);
      expect(b.tasks.map((t) => t.expertAccuracy)).toEqual(a.tasks.map((t) => t.expertAccuracy));
      for (const f of ['base.safetensors', ...a.tasks.flatMap((t) => [t.expert, t.head])]) {
        expect(readFileSync(path.join(tmp, 'b', f)).equals(readFileSync(path.join(tmp, 'a', f)))).toBe(true);
      }
      // and the experts really differ from the base
      expect(readFileSync(path.join(tmp, 'a', a.tasks[0].expert)).equals(readFileSync(path.join(tmp, 'a', 'base.safetensors')))).toBe(false);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('is deterministic for a seed', () => {
    const td = buildTaskData(getTask('parity'), 2, { train: 256, test: 64 });
    const run = () => finetune(initEncoder([784, 16, 8], createRng(5)), td, { epochs: 1, headEpochs: 1, batch: 32, lr: 1e-3, seed: 9 });
    const a = run();
    const b = run();
    expect(Array.from(a.encoder[0].wt)).toEqual(Array.from(b.encoder[0].wt));
    expect(Array.from(a.head.wt)).toEqual(Array.from(b.head.wt));
  });
});

describe('the committed zoo (fixtures/study)', () => {
  // Floors per task, set a few points below the measured accuracies (README "The built-in study").
  const FLOORS: Record<string, number> = {
    digits: 0.9,
    rot90: 0.88,
    invert: 0.83,
    permuted: 0.88,
    shifted: 0.87,
    noisy: 0.85,
    digits0to4: 0.95,
    parity: 0.92,
    ge5: 0.92,
    mod3: 0.9,
  };

  it('every expert, read back from its safetensors files, reaches its stated test accuracy', async () => {
    const dir = defaultZooDir();
    const manifest = await readZooManifest(dir);
    expect(manifest.tasks.map((t) => t.id).sort()).toEqual(Object.keys(FLOORS).sort());
    const base = encoderFromTensors(await lookup(path.join(dir, manifest.base)), 2, 'base', INPUT_DIM);
    for (const t of manifest.tasks) {
      const td = buildTaskData(getTask(t.id), manifest.config.seed, manifest.config.split);
      const encoder = encoderFromTensors(await lookup(path.join(dir, t.expert)), 2, t.expert, INPUT_DIM);
      const head = denseFromTensors(await lookup(path.join(dir, t.head)), 'head', t.head);
      expect(head.outDim).toBe(getTask(t.id).classes);
      const acc = accuracy({ encoder, head }, td.test.x, td.test.y, td.test.n);
      expect(acc).toBe(t.expertAccuracy); // the manifest records what the files give
      expect(acc).toBeGreaterThanOrEqual(FLOORS[t.id]);
      // fine-tuning moved the encoder: its own encoder beats the base encoder under the same head
      expect(acc).toBeGreaterThan(accuracy({ encoder: base, head }, td.test.x, td.test.y, td.test.n));
    }
  });
});
