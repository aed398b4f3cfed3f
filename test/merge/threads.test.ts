/**
 * The fused merge path split between the kernel pool's threads (src/merge/fused.ts: ranges of
 * ≥ 64Ki elements in one part per thread) writes the same bytes as the float32 path
 * (MERGELENS_FUSED=0, an independent TypeScript implementation) and as the fused path on one
 * thread, whole or in row chunks. The data is made for the hard cases: task vectors on a coarse
 * grid, so the TIES threshold has thousands of ties spread over both halves (the second part's
 * ties budget must be what the first consumed), and DARE masks that must continue each expert's
 * stream exactly where the other thread's part ends (five experts: two groups of SIMD lanes).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCheckpoint } from '../../src/checkpoint/open.js';
import { mergeToDisk } from '../../src/merge/to-disk.js';
import { writeSafetensors } from '../../src/safetensors/writer.js';
import type { Checkpoint, ParamValue } from '../../src/types.js';
import { testRng } from './reference.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'mergelens-threads-'));
// O_DIRECT outputs inside the repository (a disk; a tmpfs may refuse O_DIRECT before Linux 6.6)
const DIRECT_DIR = path.join(import.meta.dirname, '../../test-output/threads-direct');
const SHAPES: Record<string, number[]> = { 'big.weight': [300, 500], 'odd.weight': [257, 259], 'norm.weight': [500] };
let base: Checkpoint;
let experts: Checkpoint[];
let loraExpert: Checkpoint;

beforeAll(async () => {
  const rng = testRng(16);
  const baseValues: Record<string, Float32Array> = {};
  for (const [name, shape] of Object.entries(SHAPES)) {
    const n = shape.reduce((a, b) => a * b, 1);
    baseValues[name] = Float32Array.from({ length: n }, () => [1, -1, 0.5, -2][Math.floor(rng() * 4)]);
  }
  const write = (file: string, values: (name: string) => Float32Array) =>
    writeSafetensors(path.join(tmp, file), Object.entries(SHAPES).map(([name, shape]) => ({ name, shape, dtype: 'BF16' as const, data: values(name) })));
  await write('base.safetensors', (n) => baseValues[n]);
  // τ ∈ {−3 … 3}/64 (exact in BF16 next to these bases): few distinct magnitudes, so many ties
  for (let e = 0; e < 5; e++) await write(`e${e}.safetensors`, (n) => baseValues[n].map((b) => b + Math.round((rng() - 0.5) * 6.99) / 64));
  // a PEFT LoRA adapter on both matrices (ΔW = 2·B·A; odd.weight has an odd column count)
  const lora = path.join(tmp, 'lora');
  mkdirSync(lora);
  writeFileSync(path.join(lora, 'adapter_config.json'), JSON.stringify({ peft_type: 'LORA', r: 3, lora_alpha: 6, target_modules: ['big', 'odd'], lora_dropout: 0, bias: 'none', fan_in_fan_out: false }));
  const factor = (rows: number, cols: number) => Float32Array.from({ length: rows * cols }, () => (rng() < 0.1 ? 0 : (rng() - 0.5) * 0.1));
  await writeSafetensors(
    path.join(lora, 'adapter_model.safetensors'),
    ['big', 'odd'].flatMap((m) => {
      const [rows, cols] = SHAPES[`${m}.weight`];
      return [
        { name: `base_model.model.${m}.lora_A.weight`, shape: [3, cols], dtype: 'F32' as const, data: factor(3, cols) },
        { name: `base_model.model.${m}.lora_B.weight`, shape: [rows, 3], dtype: 'F32' as const, data: factor(rows, 3) },
      ];
    }),
  );
  mkdirSync(DIRECT_DIR, { recursive: true });
  base = await openCheckpoint(path.join(tmp, 'base.safetensors'));
  experts = await Promise.all([0, 1, 2, 3, 4].map((e) => openCheckpoint(path.join(tmp, `e${e}.safetensors`))));
  loraExpert = await openCheckpoint(lora);
});

afterAll(async () => {
  await Promise.all([base, ...experts, loraExpert].map((c) => c?.close()));
  rmSync(tmp, { recursive: true, force: true });
  rmSync(DIRECT_DIR, { recursive: true, force: true });
});

const saved = { fused: process.env.MERGELENS_FUSED, threads: process.env.MERGELENS_KERNEL_THREADS, direct: process.env.MERGELENS_DIRECT_IO };
afterAll(() => {
  for (const [k, v] of [['MERGELENS_FUSED', saved.fused], ['MERGELENS_KERNEL_THREADS', saved.threads], ['MERGELENS_DIRECT_IO', saved.direct]] as const) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

let runs = 0;
async function merged(method: string, params: Record<string, ParamValue>, env: { fused: boolean; threads: number; direct?: boolean }, chunkElements: number | undefined, dtype: 'BF16' | 'F32', withLora = false): Promise<string> {
  process.env.MERGELENS_FUSED = env.fused ? '1' : '0';
  process.env.MERGELENS_KERNEL_THREADS = String(env.threads);
  process.env.MERGELENS_DIRECT_IO = env.direct ? '1' : '0';
  const out = path.join(env.direct ? DIRECT_DIR : tmp, `out-${runs++}.safetensors`);
  const es = withLora ? [loraExpert, experts[0], experts[1]] : method === 'slerp' ? experts.slice(0, 2) : experts;
  await mergeToDisk(base, es, { method, params, seed: 5, out, dtype, chunkElements, allowDifferentBase: true });
  const bytes = readFileSync(out);
  rmSync(out);
  return createHash('sha256').update(bytes).digest('hex');
}

const cases: { method: string; params: Record<string, ParamValue>; lora?: boolean }[] = [
  { method: 'weight_avg', params: {} },
  { method: 'task_arithmetic', params: { lambda: 0.7 } },
  { method: 'ties', params: { density: 0.3 } },
  { method: 'ties', params: { density: 0.05, normalize: false } },
  { method: 'dare', params: { density: 0.3 } },
  { method: 'dare', params: { density: 0.6, rescale: 'none', normalize: true } },
  { method: 'dare_ties', params: { density: 0.2 } },
  { method: 'slerp', params: { t: 0.3 } },
  // a LoRA expert (ΔW rows in the kernel) next to two dense ones
  { method: 'weight_avg', params: {}, lora: true },
  { method: 'task_arithmetic', params: { lambda: 0.7 }, lora: true },
  { method: 'dare_ties', params: { density: 0.2 }, lora: true },
];

describe('fused merge on two threads = float32 path = one thread', () => {
  for (const c of cases) {
    it(`${c.method} ${JSON.stringify(c.params)}${c.lora ? ', LoRA expert' : ''}`, async () => {
      for (const dtype of ['BF16', 'F32'] as const) {
        const reference = await merged(c.method, c.params, { fused: false, threads: 1 }, undefined, dtype, c.lora);
        // whole tensors (150k elements: split in two) and row chunks of 100k elements (each split in two)
        for (const chunk of [undefined, 100_000]) {
          for (const threads of [1, 2]) {
            expect(await merged(c.method, c.params, { fused: true, threads }, chunk, dtype, c.lora), `${dtype}, ${threads} thread(s), chunk ${chunk ?? 'whole'}`).toBe(reference);
          }
        }
      }
    });
  }
});

// The fused path writes its chunks to a direct (O_DIRECT) output from the kernels' memory, laid
// out at each chunk's file offset modulo 4 KiB, with no staging copy: the same file as through
// the page cache. (Whether the in-place writes happen is test/io/output-file.test.ts's case.)
describe('fused merge written through O_DIRECT = through the page cache', () => {
  for (const c of cases.filter((x) => !x.lora && ['weight_avg', 'ties', 'slerp'].includes(x.method))) {
    it(`${c.method} ${JSON.stringify(c.params)}`, async () => {
      for (const dtype of ['BF16', 'F32'] as const) {
        for (const chunk of [undefined, 7_777, 100_000]) {
          const cached = await merged(c.method, c.params, { fused: true, threads: 2 }, chunk, dtype);
          expect(await merged(c.method, c.params, { fused: true, threads: 2, direct: true }, chunk, dtype), `${dtype}, chunk ${chunk ?? 'whole'}`).toBe(cached);
        }
      }
    });
  }
});
