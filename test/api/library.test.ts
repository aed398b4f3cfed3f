/**
 * The README's "Library API" walk-through, run for real on the shipped fixtures through the
 * package entry point (src/index.ts), with the numbers checked independently.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  computeMetricsParallel,
  loadPredictor,
  mergeToDisk,
  openCheckpoint,
  preflight,
  predictPairs,
  rankPairs,
  writeReport,
} from '../../src/index.js';
import { ROOT } from '../helpers/cli.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'mergelens-api-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const fx = (p: string) => path.join(ROOT, 'fixtures/tiny', p);

describe('library API walk-through', () => {
  it('opens, checks, measures, predicts, reports and merges through the public exports', async () => {
    const base = await openCheckpoint(fx('base'));
    const experts = await Promise.all(['expert-a.safetensors', 'expert-b.safetensors', 'expert-c.safetensors'].map((p) => openCheckpoint(fx(p))));

    const pre = await preflight(base, experts);
    expect(pre.counts.error).toBe(0);
    expect(pre.experts.map((e) => e.descendsFromBase)).toEqual([true, true, true]);

    const metrics = await computeMetricsParallel(base, experts, { threads: 2 });
    expect(metrics.experts).toHaveLength(3);
    expect(metrics.pairs).toEqual([[0, 1], [0, 2], [1, 2]]);

    const predictor = await loadPredictor(path.join(ROOT, 'fixtures/predictor/weights-only.json'));
    const predictions = predictPairs(predictor, metrics);
    const methods = Object.keys(predictor.methods);
    expect(predictions).toHaveLength(3 * methods.length);
    // independent evaluation of the calibrated linear model: intercept + Σ coef·(x − mean)/std
    for (const p of predictions) {
      const m = predictor.methods[p.method].calibrated;
      const feats = predictor.methods[p.method].features;
      const i = metrics.experts.indexOf(p.a);
      const j = metrics.experts.indexOf(p.b);
      let y = m.intercept;
      feats.forEach((f, k) => {
        const x = metrics.metrics[f][i][j] as number;
        if (m.coef[k] !== 0) y += (m.coef[k] * (x - m.mean[k])) / (m.std[k] || 1);
      });
      expect(p.predicted).toBeCloseTo(y, 9);
      expect(p.lo).toBeLessThanOrEqual(p.predicted);
      expect(p.hi).toBeGreaterThanOrEqual(p.predicted);
    }
    const { pairs } = rankPairs(predictions);
    const bests = pairs.map((r) => r.best.predicted);
    expect(bests).toEqual([...bests].sort((x, y) => y - x));

    await writeReport(path.join(tmp, 'team.html'), { metrics, predictor, predictions });
    const merged = await mergeToDisk(base, experts.slice(0, 2), { method: 'task_arithmetic', out: path.join(tmp, 'merged') });
    expect(merged.files.length).toBeGreaterThan(0);

    // task arithmetic by hand on one tensor: θ₀ + 0.3·(τa + τb)
    const out = await openCheckpoint(path.join(tmp, 'merged'));
    const name = 'model.layers.0.self_attn.q_proj.weight';
    const [b, ea, eb, m] = await Promise.all([base, experts[0], experts[1], out].map((c) => c.read(name)));
    for (let k = 0; k < b.length; k++) expect(m[k]).toBeCloseTo(b[k] + 0.3 * (ea[k] - b[k] + (eb[k] - b[k])), 5);
    await Promise.all([base, ...experts, out].map((c) => c.close()));
  });
});
