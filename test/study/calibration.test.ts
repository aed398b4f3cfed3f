import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openCheckpoint } from '../../src/checkpoint/open.js';
import { writeSafetensors } from '../../src/safetensors/writer.js';
import { calibrationStats } from '../../src/study/calibration.js';
import { buildTaskData, getTask, headOf, INPUT_DIM } from '../../src/study/data.js';
import { createWorkspace, forward, initEncoder, initHead, lossAndGradients, zeroGradients, type Mlp } from '../../src/study/mlp.js';
import { createRng } from '../../src/study/rng.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'mergelens-calib-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('calibration statistics', () => {
  const rng = createRng(77);
  const model: Mlp = { encoder: initEncoder([784, 12, 6], rng), head: initHead(6, 2, rng) };
  const samples = headOf(buildTaskData(getTask('parity'), 3, { train: 40, test: 10 }).train, 8);
  const stats = calibrationStats(model, samples);

  it('gradients and activations are the means of per-sample values (computed one sample at a time)', () => {
    const n = samples.n;
    const sumW0 = new Float64Array(12 * 784); // checkpoint layout [out, in]
    const sumInput = new Float64Array(INPUT_DIM);
    const sumAct1 = new Float64Array(6);
    for (let r = 0; r < n; r++) {
      const x = samples.x.subarray(r * INPUT_DIM, (r + 1) * INPUT_DIM);
      const g = zeroGradients(model);
      const dx = new Float64Array(INPUT_DIM);
      const ws = createWorkspace(model, 1);
      lossAndGradients(model, x, [samples.y[r]], 1, ws, g, dx);
      for (let i = 0; i < 784; i++) for (let o = 0; o < 12; o++) sumW0[o * 784 + i] += g.encoder[0].wt[i * 12 + o];
      for (let i = 0; i < INPUT_DIM; i++) sumInput[i] += dx[i];
      forward(model, x, 1, ws);
      for (let o = 0; o < 6; o++) sumAct1[o] += ws.hidden[1][o];
    }
    const byName = new Map(stats.grads.map((t) => [t.name, t]));
    expect([...byName.keys()].sort()).toEqual(['encoder.0.bias', 'encoder.0.weight', 'encoder.1.bias', 'encoder.1.weight', 'input']);
    expect(byName.get('encoder.0.weight')!.shape).toEqual([12, 784]);
    expect(byName.get('input')!.shape).toEqual([784]);
    const w0 = byName.get('encoder.0.weight')!.data;
    for (let k = 0; k < w0.length; k++) expect(w0[k]).toBeCloseTo(sumW0[k] / n, 6);
    const input = byName.get('input')!.data;
    for (let i = 0; i < INPUT_DIM; i++) expect(input[i]).toBeCloseTo(sumInput[i] / n, 6);
    expect(input.some((v) => Math.abs(v) > 1e-5)).toBe(true);
    expect(stats.acts.map((t) => [t.name, t.shape])).toEqual([
      ['encoder.0', [12]],
      ['encoder.1', [6]],
    ]);
    for (let o = 0; o < 6; o++) expect(stats.acts[1].data[o]).toBeCloseTo(sumAct1[o] / n, 6);
  });

  it('round-trips through the project writer and reader with names and shapes intact', async () => {
    const file = path.join(tmp, 'g.safetensors');
    await writeSafetensors(file, stats.grads.map((t) => ({ ...t, dtype: 'F32' as const })));
    const ck = await openCheckpoint(file);
    expect(ck.tensorNames()).toEqual(stats.grads.map((t) => t.name).sort());
    expect(Array.from(await ck.read('input'))).toEqual(Array.from(stats.grads.find((t) => t.name === 'input')!.data));
    await ck.close();
  });
});
