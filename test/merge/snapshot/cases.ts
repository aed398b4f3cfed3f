/**
 * The merge-output snapshot: every method (and the parameter variants whose code paths differ)
 * on the tiny fixtures, F32 / F16 / BF16 inputs and a LoRA expert, written as F32, F16 and BF16,
 * hashed over the written tensor bytes. `make-hashes.ts` records the hashes of a given version
 * of the code; `merge-snapshot.test.ts` checks that the current code writes the same bytes for
 * any chunk size (see docs/merge-methods.md for the one documented change: DARE's mask).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openCheckpoint } from '../../../src/checkpoint/open.js';
import { mergeToDisk } from '../../../src/merge/to-disk.js';
import type { ParamValue } from '../../../src/types.js';
import { ROOT } from '../../helpers/cli.js';

const TINY = path.join(ROOT, 'fixtures/tiny');

export interface SnapshotCase {
  id: string;
  method: string;
  base: string;
  experts: string[];
  params?: Record<string, ParamValue>;
  weights?: number[];
  seed?: number;
}

const F32 = { base: 'base', experts: ['expert-a.safetensors', 'expert-b.safetensors', 'expert-c.safetensors'] };
const sets: Record<string, { base: string; experts: string[] }> = {
  f32: F32,
  bf16: { base: 'bf16/base.safetensors', experts: ['bf16/expert-a.safetensors', 'bf16/expert-b.safetensors', 'bf16/expert-c.safetensors'] },
  f16: { base: 'f16/base.safetensors', experts: ['f16/expert-a.safetensors', 'f16/expert-b.safetensors', 'f16/expert-c.safetensors'] },
  lora: { base: 'base', experts: ['lora-expert', 'expert-a.safetensors'] },
};

const variants: { method: string; tag: string; params?: Record<string, ParamValue>; weights?: boolean; seed?: number; two?: boolean }[] = [
  { method: 'weight_avg', tag: 'default' },
  { method: 'weight_avg', tag: 'weighted-sum', params: { normalize: false }, weights: true },
  { method: 'task_arithmetic', tag: 'default' },
  { method: 'task_arithmetic', tag: 'normalized', params: { lambda: 1, normalize: true }, weights: true },
  { method: 'ties', tag: 'default' },
  { method: 'ties', tag: 'sum', params: { density: 0.5, normalize: false, lambda: 0.7 }, weights: true },
  { method: 'dare', tag: 'default', seed: 7 },
  { method: 'dare', tag: 'l1', params: { density: 0.4, rescale: 'l1' }, seed: 11 },
  { method: 'dare', tag: 'none-normalized', params: { density: 0.6, rescale: 'none', normalize: true }, weights: true, seed: 3 },
  { method: 'dare_ties', tag: 'default', seed: 5 },
  { method: 'dare_ties', tag: 'mean', params: { density: 0.3, normalize: true }, weights: true, seed: 9 },
  { method: 'slerp', tag: 'two-experts', params: { t: 0.3 }, two: true },
  { method: 'slerp', tag: 'base-expert', params: { t: 0.6 }, two: false },
  { method: 'tsv', tag: 'default' },
  { method: 'iso_c', tag: 'default' },
];

export function snapshotCases(): SnapshotCase[] {
  const out: SnapshotCase[] = [];
  for (const [setName, set] of Object.entries(sets)) {
    for (const v of variants) {
      let experts = set.experts;
      if (v.method === 'slerp') experts = v.two ? experts.slice(0, 2) : experts.slice(0, 1);
      const weights = v.weights ? [0.7, 0.3, 0.5].slice(0, experts.length) : undefined;
      out.push({ id: `${setName}/${v.method}/${v.tag}`, method: v.method, base: set.base, experts, params: v.params, weights, seed: v.seed });
    }
  }
  return out;
}

export const OUT_DTYPES = ['F32', 'F16', 'BF16'] as const;

/** SHA-256 over the data bytes of every tensor of a safetensors file, in sorted-name order (the header is not hashed). */
export function hashTensors(file: string): string {
  const buf = readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, { data_offsets: [number, number] }>;
  const h = createHash('sha256');
  for (const name of Object.keys(header).filter((k) => k !== '__metadata__').sort()) {
    const [b, e] = header[name].data_offsets;
    h.update(name);
    h.update(buf.subarray(8 + n + b, 8 + n + e));
  }
  return h.digest('hex').slice(0, 32);
}

/** Merge one case to a single file in `dtype` and hash it. */
export async function runCase(c: SnapshotCase, dtype: (typeof OUT_DTYPES)[number], chunkElements?: number): Promise<string> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mergelens-snap-'));
  const base = await openCheckpoint(path.join(TINY, c.base));
  const experts = await Promise.all(c.experts.map((e) => openCheckpoint(path.join(TINY, e))));
  try {
    const out = path.join(dir, 'out.safetensors');
    await mergeToDisk(base, experts, { method: c.method, params: c.params, weights: c.weights, seed: c.seed, out, dtype, chunkElements, allowDifferentBase: true });
    return hashTensors(out);
  } finally {
    await Promise.all([base, ...experts].map((x) => x.close()));
    rmSync(dir, { recursive: true, force: true });
  }
}
