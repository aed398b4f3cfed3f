/**
 * Cheap value samples for pre-flight checks: a few evenly spaced contiguous blocks of a
 * tensor (positioned reads), identical positions for base and expert so they compare.
 */
import type { Checkpoint } from '../types.js';

export interface SampleRange {
  start: number;
  count: number;
}

/**
 * `blocks` evenly spaced blocks of `blockSize` elements over [0, numel) — the whole range
 * when it is small. Deterministic, sorted, non-overlapping.
 */
export function sampleRanges(numel: number, blocks: number, blockSize: number): SampleRange[] {
  if (numel <= 0) return [];
  if (numel <= blocks * blockSize || blocks <= 1) return [{ start: 0, count: Math.min(numel, blocks <= 1 ? blockSize : numel) }];
  const out: SampleRange[] = [];
  const span = numel - blockSize;
  for (let b = 0; b < blocks; b++) out.push({ start: Math.floor((b * span) / (blocks - 1)), count: blockSize });
  return out;
}

/** Read the ranges of a tensor and concatenate them. */
export async function readSample(c: Checkpoint, name: string, ranges: readonly SampleRange[]): Promise<Float32Array> {
  const parts = await Promise.all(ranges.map((r) => c.read(name, r.start, r.count)));
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export interface SampleComparison {
  /** ‖e−b‖/‖b‖ over the finite pairs; null when ‖b‖ = 0 or nothing finite. */
  relDelta: number | null;
  baseNonFinite: number;
  expertNonFinite: number;
  /** Σ b² over finite pairs and how many pairs that covers. */
  baseSumSq: number;
  compared: number;
}

/** Compare two equally long samples in float64. */
export function compareSamples(base: Float32Array, expert: Float32Array): SampleComparison {
  let dd = 0;
  let bb = 0;
  let bad = 0;
  let ebad = 0;
  let n = 0;
  for (let i = 0; i < base.length; i++) {
    const b = base[i];
    const e = expert[i];
    const bf = Number.isFinite(b);
    const ef = Number.isFinite(e);
    if (!bf) bad++;
    if (!ef) ebad++;
    if (!bf || !ef) continue;
    const d = e - b;
    dd += d * d;
    bb += b * b;
    n++;
  }
  return { relDelta: bb > 0 ? Math.sqrt(dd / bb) : null, baseNonFinite: bad, expertNonFinite: ebad, baseSumSq: bb, compared: n };
}

export { countNonFinite } from '../wasm/arrays.js';

export function median(xs: readonly number[]): number | null {
  if (!xs.length) return null;
  const s = xs.slice().sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
