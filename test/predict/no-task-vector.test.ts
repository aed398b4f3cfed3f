/**
 * A metrics report written before the pre-flight gate, with an expert identical to its base:
 * `predict` leaves that expert's pairs out (with a warning) and predicts the rest exactly as
 * from a report that never had it.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT, runCli } from '../helpers/cli.js';
import { openCheckpoint } from '../../src/checkpoint/open.js';
import { computeMetrics } from '../../src/metrics/engine.js';
import { expertsWithoutTaskVector } from '../../src/predict/no-task-vector.js';
import type { MetricsReport, Prediction } from '../../src/types.js';

const TINY = path.join(ROOT, 'fixtures', 'tiny');
const PREDICTOR = path.join(ROOT, 'fixtures', 'predictor', 'weights-only.json');
const dir = mkdtempSync(path.join(tmpdir(), 'ml-no-tv-'));

async function report(experts: string[]): Promise<MetricsReport> {
  const base = await openCheckpoint(path.join(TINY, 'base'));
  const opened = await Promise.all(experts.map((e) => openCheckpoint(e)));
  try {
    // The engine itself has no gate: this is what `metrics` wrote before it had one.
    return JSON.parse(JSON.stringify(await computeMetrics(base, opened, {}))) as MetricsReport;
  } finally {
    await Promise.all([base, ...opened].map((c) => c.close()));
  }
}

const predicted = (stdout: string) =>
  (JSON.parse(stdout) as { predictions: Prediction[] }).predictions.map((p) => [p.a, p.b, p.method, p.predicted, p.lo, p.hi]);

describe('predict on a report holding an expert identical to the base', () => {
  it('drops exactly that expert and predicts the other pairs as without it', async () => {
    const a = path.join(TINY, 'expert-a.safetensors');
    const b = path.join(TINY, 'expert-b.safetensors');
    const same = path.join(TINY, 'base', 'model.safetensors');
    const withSame = await report([a, same, b]);
    // 0/0 cosines were stored as null for both of its pairs, and only there.
    expect(withSame.metrics.tv_cosine[0][1]).toBeNull();
    expect(withSame.metrics.tv_cosine[1][2]).toBeNull();
    expect(Number.isFinite(withSame.metrics.tv_cosine[0][2])).toBe(true);
    expect(expertsWithoutTaskVector(withSame)).toEqual([1]);

    const without = await report([a, b]);
    const f1 = path.join(dir, 'with-same.json');
    const f2 = path.join(dir, 'without.json');
    writeFileSync(f1, JSON.stringify(withSame));
    writeFileSync(f2, JSON.stringify(without));
    const r1 = runCli(['predict', PREDICTOR, f1, '--json']);
    const r2 = runCli(['predict', PREDICTOR, f2, '--json']);
    expect(r2.status).toBe(0);
    expect(r1.status).toBe(0);
    expect(r1.stderr).toContain(`expert ${withSame.experts[1]} has no task vector (identical to the base): its pairs are excluded`);
    expect(r2.stderr).not.toContain('no task vector');
    expect(predicted(r1.stdout)).toEqual(predicted(r2.stdout));
    expect(predicted(r1.stdout).length).toBeGreaterThan(0);
  });
});
