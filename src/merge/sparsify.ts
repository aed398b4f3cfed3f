/**
 * Sparsification of task vectors, the first step of TIES and DARE. Pure functions on typed
 * arrays (the magnitude cut runs on the WebAssembly kernels); they return new arrays and never
 * touch their input.
 */
import { countAbove, cut, kthLargestAbs } from '../wasm/arrays.js';

/**
 * Number of entries a magnitude trim keeps: ⌊density·n⌋, at least 1. mergekit asserts k>0 and
 * the TIES reference code keeps at least one entry; we keep one so tiny tensors (biases with
 * few entries) are not silently zeroed.
 */
export function keepCount(n: number, density: number): number {
  return Math.max(1, Math.floor(density * n));
}

/**
 * A magnitude trim as a cut: keep every |τ| > threshold, plus the first `ties` entries (flat
 * order) with |τ| = threshold. `ties` counts down as entries are kept, so the row chunks of
 * one tensor, trimmed in order with one cut, keep exactly what trimming it whole would.
 */
export interface TrimCut {
  threshold: number;
  ties: number;
}

/** Keep the entries `c` selects, zero the rest (decrements c.ties). */
export function applyCut(tau: Float32Array, c: TrimCut): Float32Array {
  const r = cut(tau, c.threshold, c.ties);
  c.ties = r.ties;
  return r.out;
}

export { countAbove };

/**
 * TIES "trim": keep the k = keepCount(n, density) entries of largest |τ|, zero the rest.
 * Exactly k entries survive; among equal magnitudes at the threshold the lower flat index
 * wins (deterministic, like a stable argsort). density ≥ 1 returns a copy unchanged. The
 * threshold (k-th largest |τ|) comes from an exact radix selection, not a sort.
 */
export function magnitudeTrim(tau: Float32Array, density: number): Float32Array {
  if (density >= 1) return tau.slice();
  return applyCut(tau, magnitudeCut(tau, density));
}

/** The cut of a whole-tensor magnitude trim (density < 1): threshold = k-th largest |τ|, and how many ties at it to keep. */
export function magnitudeCut(tau: Float32Array, density: number): TrimCut {
  const k = keepCount(tau.length, density);
  const threshold = kthLargestAbs(tau, k);
  return { threshold, ties: k - countAbove(tau, threshold) };
}

export type RescaleRule = 'inverse' | 'l1' | 'none';

/**
 * DARE "drop and rescale": each entry survives with probability `density` (one draw of
 * `random()` per entry, in flat order: keep when random() < density), then
 *  - 'inverse': survivors × 1/density (the DARE paper's rule; unbiased: E[τ̃] = τ),
 *  - 'l1': survivors × ‖τ‖₁/‖τ̃‖₁ (mergekit's rule; skipped when either norm < 1e-7),
 *  - 'none': survivors unchanged.
 * density ≥ 1 returns a copy and draws nothing (as mergekit).
 */
export function randomDrop(tau: Float32Array, density: number, random: () => number, rescale: RescaleRule): Float32Array {
  const n = tau.length;
  const out = new Float32Array(n);
  if (density >= 1) {
    out.set(tau);
    return out;
  }
  const scale = rescale === 'inverse' ? 1 / density : 1;
  let l1Before = 0;
  let l1After = 0;
  for (let i = 0; i < n; i++) {
    const v = tau[i];
    l1Before += Math.abs(v);
    if (random() < density) {
      out[i] = v * scale;
      l1After += Math.abs(v);
    }
  }
  if (rescale === 'l1' && l1Before >= 1e-7 && l1After >= 1e-7) {
    const r = l1Before / l1After;
    for (let i = 0; i < n; i++) out[i] *= r;
  }
  return out;
}
