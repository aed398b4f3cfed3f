import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StudyDataset } from '../../src/types.js';
import { openCheckpoint } from '../../src/checkpoint/open.js';
import { isLora } from '../../src/checkpoint/lora.js';
import { parseStudyJson } from '../../src/predict/load.js';
import { mergeLora, readHfFolder, readLoraAdapter, type Params } from '../../src/study/transformer/model.js';
import { buildTextTaskData, getTextTask, taskAccuracy } from '../../src/study/transformer/tasks.js';
import { DEFAULT_TRANSFORMER_ZOO_CONFIG, readTransformerZooManifest, type TransformerZooConfig } from '../../src/study/transformer/zoo.js';
import { runTransformerStudy, type TransformerStudyResult } from '../../src/study/transformer/study.js';
import { runPairMerges, type MergeEvalSpec } from '../../src/study/transformer/merge-eval.js';

/** A zoo small enough to train in seconds: the pipeline, not the accuracy, is under test. */
const TINY: TransformerZooConfig = {
  ...DEFAULT_TRANSFORMER_ZOO_CONFIG,
  tasks: ['gender', 'syllables', 'final', 'moby'],
  split: { train: 48, test: 24 },
  model: { ...DEFAULT_TRANSFORMER_ZOO_CONFIG.model, dModel: 16, nLayers: 1, nHeads: 2, dFf: 32, maxSeq: 48 },
  pretrain: { steps: 6, batch: 4, seq: 32, lr: 3e-3 },
  finetune: { steps: 8, batch: 8, lr: 1e-2 },
  lora: { ...DEFAULT_TRANSFORMER_ZOO_CONFIG.lora, steps: 8, batch: 8, lr: 3e-2 },
  calibrationSamples: 8,
  dtype: 'F32',
};

const tmp = mkdtempSync(path.join(os.tmpdir(), 'mergelens-tstudy-'));
const zooDir = path.join(tmp, 'zoo');
const outDir = path.join(tmp, 'out');
let result: TransformerStudyResult;

beforeAll(async () => {
  result = await runTransformerStudy({ retrain: true, zooConfig: TINY, zooDir, outDir, methods: ['weight_avg', 'task_arithmetic'], workers: 1, report: false, transfer: false, fitBootstrap: 0 });
}, 600_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const mean2 = (a: Params, b: Params): Params => {
  const out: Params = new Map();
  for (const [k, t] of a) {
    const u = b.get(k)!;
    out.set(k, { shape: t.shape, data: t.data.map((x, i) => (x + u.data[i]) / 2) });
  }
  return out;
};

describe('transformer study (tiny zoo, end to end)', () => {
  it('writes the zoo as HF folders and PEFT adapters that mergelens opens like downloaded ones', async () => {
    const m = await readTransformerZooManifest(zooDir);
    expect(m.tasks.map((t) => t.id)).toEqual(TINY.tasks);
    const full = await openCheckpoint(path.join(zooDir, m.tasks[0].full));
    const lora = await openCheckpoint(path.join(zooDir, m.tasks[0].lora));
    try {
      expect(isLora(full)).toBe(false);
      expect(full.tensorNames()).toContain('model.layers.0.self_attn.q_proj.weight');
      expect(isLora(lora)).toBe(true);
      if (isLora(lora)) expect(lora.lowRankNames()).toContain('model.layers.0.mlp.down_proj.weight');
      const cfg = JSON.parse(readFileSync(path.join(zooDir, m.tasks[0].lora, 'adapter_config.json'), 'utf8'));
      expect([cfg.peft_type, cfg.r, cfg.base_model_name_or_path]).toEqual(['LORA', TINY.lora.r, '../../base']);
    } finally {
      await Promise.all([full.close(), lora.close()]);
    }
  });

  it('produces one dataset per expert kind: every pair × method, in the study format fit reads', () => {
    expect(result.studies.map((s) => s.kind)).toEqual(['full', 'lora']);
    for (const s of result.studies) {
      const ds: StudyDataset = parseStudyJson(readFileSync(path.join(outDir, s.kind, 'study.json'), 'utf8'), 'study.json');
      expect(ds.rows.length).toBe(6 * 2);
      expect(ds.experts).toEqual(TINY.tasks);
      // Gradient and activation metrics came from the calibration files.
      expect(ds.metricIds).toEqual(expect.arrayContaining(['enc_grad_cosine', 'input_grad_cosine', 'act_cosine', 'tv_cosine']));
      for (const r of ds.rows) expect(r.outcome).toBeCloseTo((r.extra!.acc_a / r.extra!.expert_acc_a + r.extra!.acc_b / r.extra!.expert_acc_b) / 2, 12);
      expect(s.predictor?.methods.weight_avg).toBeDefined();
    }
  });

  /** The study's weight_avg row of tasks a, b: both accuracies equal `merged` evaluated independently. */
  function expectWeightAvgRow(study: number, a: string, b: string, merged: Parameters<typeof taskAccuracy>[0]) {
    const da = buildTextTaskData(getTextTask(a), TINY.seed, TINY.split);
    const db = buildTextTaskData(getTextTask(b), TINY.seed, TINY.split);
    const row = result.studies[study].dataset.rows.find((r) => r.a === a && r.b === b && r.method === 'weight_avg')!;
    expect(row.extra!.acc_a).toBe(taskAccuracy(merged, TINY.model, da.task, da.test));
    expect(row.extra!.acc_b).toBe(taskAccuracy(merged, TINY.model, db.task, db.test));
    return { row, da };
  }

  it('a full-fine-tune row matches an independent evaluation: float64 mean of the two folders', async () => {
    const m = await readTransformerZooManifest(zooDir);
    const [ta, tb] = [m.tasks[0], m.tasks[2]];
    const a = (await readHfFolder(path.join(zooDir, ta.full))).params;
    const b = (await readHfFolder(path.join(zooDir, tb.full))).params;
    const { row, da } = expectWeightAvgRow(0, ta.id, tb.id, mean2(a, b));
    expect(row.extra!.expert_acc_a).toBe(taskAccuracy(a, TINY.model, da.task, da.test));
  });

  it('a LoRA row matches an independent evaluation: base + the mean of the two adapters’ (α/r)·B·A', async () => {
    const m = await readTransformerZooManifest(zooDir);
    const [ta, tb] = [m.tasks[1], m.tasks[3]];
    const base = (await readHfFolder(path.join(zooDir, 'base'))).params;
    const a = mergeLora(base, TINY.model, await readLoraAdapter(path.join(zooDir, ta.lora)));
    const b = mergeLora(base, TINY.model, await readLoraAdapter(path.join(zooDir, tb.lora)));
    // Averaging the two merged models = base + mean of the deltas.
    expectWeightAvgRow(1, ta.id, tb.id, mean2(a, b));
  });

  it('merge results are the same on worker threads as inline', async () => {
    const m = await readTransformerZooManifest(zooDir);
    const spec: MergeEvalSpec = { role: 'merge', zooDir, base: m.base, tasks: m.tasks.map((t) => ({ id: t.id, expert: t.lora })), dataSeed: m.config.seed, split: m.config.split, model: m.config.model };
    const jobs = [
      { i: 0, j: 1, method: 'ties', seed: 1 },
      { i: 2, j: 3, method: 'dare', seed: 1 },
      { i: 0, j: 3, method: 'task_arithmetic', seed: 1 },
    ];
    const inline = await runPairMerges(spec, jobs, 1);
    const threaded = await runPairMerges(spec, jobs, 2);
    expect(threaded).toEqual(inline);
  }, 300_000);
});
