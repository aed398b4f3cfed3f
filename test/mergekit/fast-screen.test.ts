import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { memoryCheckpoint } from '../../src/checkpoint/memory.js';
import { computeMetrics } from '../../src/metrics/engine.js';
import { engineSettings, familiesNeeded } from '../../src/cli/engine-options.js';
import { loadPredictor } from '../../src/predict/load.js';
import type { PredictorFile, ProgressEvent } from '../../src/types.js';
import { ROOT, runCli } from '../helpers/cli.js';
import { mulberry32 } from '../../src/util/mulberry32.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'mergelens-fast-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('fast screen', () => {
  it('computes only the families the predictor uses', async () => {
    const shipped = await loadPredictor(path.join(ROOT, 'fixtures/predictor/weights-only.json'));
    expect([...familiesNeeded(shipped)].sort()).toEqual(['rank', 'sign', 'subspace', 'task_vector']);
    // A predictor whose models use no subspace metric: the pass runs without SVDs.
    const slim: PredictorFile = { ...shipped, methods: Object.fromEntries(Object.entries(shipped.methods).map(([k, m]) => [k, { ...m, features: ['tv_cosine', 'sign_conflict'] }])) };
    expect(familiesNeeded(slim).has('subspace')).toBe(false);
    expect(familiesNeeded(shipped, ['ties']).has('subspace')).toBe(true);
    expect(engineSettings({ threads: '2', memoryBudget: '64', k: '5' })).toEqual({ threads: 2, memoryBudget: 64 * 2 ** 20, subspaceK: 5 });
    expect(() => engineSettings({ threads: '0' })).toThrow(/--threads/);
  });

  it('takes the metrics options (threads, k, spectrum-k, …)', () => {
    const tiny = path.join(ROOT, 'fixtures/tiny');
    const saved = path.join(tmp, 'm.json');
    const r = runCli(['screen', path.join(tiny, 'base'), path.join(tiny, 'expert-a.safetensors'), path.join(tiny, 'expert-b.safetensors'), '--threads', '1', '--k', '4', '--spectrum-k', '7', '--save-metrics', saved, '--no-progress']);
    expect(r.status, r.stderr).toBe(0);
    const m = JSON.parse(readFileSync(saved, 'utf8'));
    expect(m.settings).toMatchObject({ subspaceK: 4, spectrumK: 7, subspace: true });
  });

  it('progress counts SVD work, not only bytes: a 2-D tensor weighs more than a 1-D one of the same size', async () => {
    const r = mulberry32(1);
    const t = (shape: number[], shift = 0) => ({ shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => r() + shift) });
    const base = { 'a.weight': t([64, 64]), 'b.weight': t([4096]) };
    const ex = (k: number) => memoryCheckpoint(`e${k}`, { 'a.weight': t([64, 64], 0.1), 'b.weight': t([4096], 0.1) });
    const events: ProgressEvent[] = [];
    await computeMetrics(memoryCheckpoint('base', base), [ex(1), ex(2)], { onProgress: (e) => events.push(e) });
    const afterFirst = events.find((e) => e.detail?.startsWith('1/2 tensors'))!;
    // work = bytes + 0.6·N·rows·cols·min(rows, cols, max(k, spectrumK) + oversample): 3·4096·4 B each, SVD 0.6·2·64·64·64 for a.weight
    const bytes = 3 * 4096 * 4;
    const svd = 0.6 * 2 * 64 * 64 * 64;
    expect(afterFirst.done / afterFirst.total).toBeCloseTo((bytes + svd) / (2 * bytes + svd), 9);
    expect(afterFirst.done / afterFirst.total).toBeGreaterThan(0.85); // bytes alone would say 0.5
  });
});
