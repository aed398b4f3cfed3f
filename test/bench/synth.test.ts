import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openCheckpoint } from '../../src/checkpoint/open.js';
import { computeMetrics } from '../../src/metrics/engine.js';
import { fitLayers, generateSynthetic, llamaSpecs, paramCount, SHAPE_1B, SHAPE_SMALL, synthBytes, type ModelShape } from '../../src/bench/synth.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'mergelens-synth-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('synthetic checkpoints', () => {
  it('declares the parameter counts of the documented shapes (hand-computed)', () => {
    // 2·8000·512 + 512 + 14·(2·512 + 512² + 2·256·512 + 512² + 3·1408·512)
    expect(paramCount(SHAPE_SMALL)).toBe(49_494_528);
    // TinyLlama-1.1B: 2·32000·2048 + 2048 + 22·(2·2048 + 2048² + 2·256·2048 + 2048² + 3·5632·2048)
    expect(paramCount(SHAPE_1B)).toBe(1_100_048_384);
    expect(synthBytes(SHAPE_1B, 8)).toBe(1_100_048_384 * 2 * 9);
    // Scaling down to a disk budget keeps as many layers as fit.
    const l = fitLayers(SHAPE_1B, 8, 10e9);
    expect(synthBytes({ ...SHAPE_1B, layers: l }, 8)).toBeLessThanOrEqual(10e9);
    expect(synthBytes({ ...SHAPE_1B, layers: l + 1 }, 8)).toBeGreaterThan(10e9);
  });

  it('writes sharded HF folders that openCheckpoint reads, with the declared parameters and correlated task vectors', async () => {
    const shape: ModelShape = { vocab: 512, hidden: 128, intermediate: 256, layers: 3, heads: 4, kvHeads: 2 };
    const r = await generateSynthetic({ dir, shape, experts: 4, shardBytes: 200_000 });
    expect(r.params).toBe(paramCount(shape));
    const specs = llamaSpecs(shape);
    const base = await openCheckpoint(r.base);
    const experts = await Promise.all(r.experts.map((p) => openCheckpoint(p)));
    try {
      for (const c of [base, ...experts]) {
        expect(c.kind).toBe('hf-sharded');
        expect(c.tensorNames().length).toBe(specs.length);
        let n = 0;
        for (const name of c.tensorNames()) {
          const loc = c.location(name)!;
          expect(loc.dtype).toBe('BF16');
          n += loc.shape.reduce((a, b) => a * b, 1);
        }
        expect(n).toBe(paramCount(shape));
        expect(c.warnings ?? []).toEqual([]);
      }
      const index = JSON.parse(readFileSync(path.join(r.base, 'model.safetensors.index.json'), 'utf8'));
      expect(new Set(Object.values(index.weight_map)).size).toBeGreaterThan(1);
      expect(index.metadata.total_size).toBe(paramCount(shape) * 2);
      expect(JSON.parse(readFileSync(path.join(r.base, 'config.json'), 'utf8')).hidden_size).toBe(128);
      // Task vectors follow the model: cos ≈ cᵢ·cⱼ within a group, ≈ 0 across (BF16 rounding
      // adds ~0.3% noise variance; 230k parameters leave ~0.005 sampling error).
      const m = await computeMetrics(base, experts, { subspace: false });
      expect(r.group).toEqual([0, 0, 1, 1]);
      expect(Math.abs(m.metrics.tv_cosine[0][1]! - r.correlation[0] * r.correlation[1])).toBeLessThan(0.03);
      expect(Math.abs(m.metrics.tv_cosine[0][2]!)).toBeLessThan(0.03);
      expect(Math.abs(m.metrics.tv_cosine[2][3]! - r.correlation[2] * r.correlation[3])).toBeLessThan(0.03);
    } finally {
      await Promise.all([base, ...experts].map((c) => c.close()));
    }
  }, 60_000);
});
