/** Shared fixtures for the metrics tests: seeded data, in-memory checkpoints, a fake LoRA adapter. */
import type { Checkpoint, LoraCheckpoint, LowRankDelta } from '../../src/types.js';
import { memoryCheckpoint, type MemoryTensor } from '../../src/checkpoint/memory.js';
import { mulberry32 } from '../../src/util/mulberry32.js';

/** mulberry32 uniform in [−0.5, 0.5). */
export function rng(seed: number): () => number {
  const u = mulberry32(seed);
  return () => u() - 0.5;
}

export const numel = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

export function randomTensors(shapes: Record<string, number[]>, seed: number, scale = 1): Record<string, MemoryTensor> {
  const r = rng(seed);
  return Object.fromEntries(Object.entries(shapes).map(([n, s]) => [n, { shape: s, data: Float32Array.from({ length: numel(s) }, () => scale * r()) }]));
}

/** θ = base + τ, with τ given per tensor (missing tensors: τ = 0). */
export function expertFrom(name: string, base: Record<string, MemoryTensor>, tau: Record<string, Float32Array>): Checkpoint {
  return memoryCheckpoint(
    name,
    Object.fromEntries(Object.entries(base).map(([n, t]) => [n, { shape: t.shape, data: tau[n] ? t.data.map((v, i) => v + tau[n][i]) : t.data.slice() }])),
  );
}

/** The τ actually seen by the engine: fround(θ − θ₀) elementwise, as float64 numbers. */
export function effectiveTau(base: Checkpoint, expert: Checkpoint, name: string): Promise<Float64Array> {
  return Promise.all([base.read(name), expert.read(name)]).then(([b, e]) => Float64Array.from(e, (v, i) => Math.fround(v - b[i])));
}

/** An in-memory PEFT-like adapter: low-rank deltas for some base tensors, nothing else. */
export function fakeLora(name: string, deltas: Record<string, LowRankDelta>): LoraCheckpoint {
  const dense = memoryCheckpoint(name, {});
  return {
    ...dense,
    path: `memory:${name}`,
    name,
    kind: 'lora',
    adapterConfig: { peft_type: 'LORA' },
    lowRankNames: () => Object.keys(deltas).sort(),
    lowRank: async (n: string) => deltas[n],
    lowRankSpec: (n: string) => {
      const d = deltas[n];
      return d && { shape: d.shape, rank: d.rank, scale: d.scale, dtype: 'F32', module: n.replace(/\.weight$/, ''), transposed: false };
    },
  };
}

export function randomDelta(m: number, n: number, r: number, seed: number, scale = 0.5): LowRankDelta {
  const g = rng(seed);
  return { shape: [m, n], rank: r, scale, A: Float32Array.from({ length: r * n }, g), B: Float32Array.from({ length: m * r }, g) };
}

/** Dense ΔW = s·B·A in float64. */
export function denseDelta(d: LowRankDelta): Float64Array {
  const [m, n] = d.shape;
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let q = 0; q < d.rank; q++) for (let c = 0; c < n; c++) out[i * n + c] += d.scale * d.B[i * d.rank + q] * d.A[q * n + c];
  return out;
}
