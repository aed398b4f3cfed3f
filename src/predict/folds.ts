/**
 * Validation folds over study rows (pairs).
 *
 * Leave-one-task-out (the paper's scheme; tasks = experts): for each expert t, train on rows
 * whose two experts are both ≠ t, validate on rows that contain t. Pairs share experts, so
 * random k-fold lets a validation pair's experts leak in through other training pairs; LOTO
 * asks the real question ("how well do we predict merges involving an expert never seen?").
 * Every pair is validated twice in LOTO (once per expert), as in the reference code.
 *
 * k-fold over rows: a seeded shuffle cut into k near-equal folds; each row validated once.
 */
import { tensorRandom } from '../merge/random.js';

export interface Fold {
  /** Held-out expert (LOTO) or `fold i` (k-fold). */
  label: string;
  train: number[];
  val: number[];
}

export function lotoFolds(pairs: readonly { a: string; b: string }[]): Fold[] {
  const tasks = [...new Set(pairs.flatMap((p) => [p.a, p.b]))].sort();
  return tasks.map((t) => {
    const train: number[] = [];
    const val: number[] = [];
    pairs.forEach((p, i) => {
      if (p.a === t || p.b === t) val.push(i);
      else train.push(i);
    });
    return { label: t, train, val };
  });
}

/** Seeded Fisher–Yates permutation of 0..n−1. */
export function permutation(n: number, seed: number, stream = 'permutation'): number[] {
  const rnd = tensorRandom(seed, stream);
  const idx = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  return idx;
}

export function kfoldFolds(n: number, k: number, seed: number): Fold[] {
  const kk = Math.max(1, Math.min(k, n));
  const perm = permutation(n, seed, 'kfold');
  const folds: Fold[] = [];
  for (let f = 0; f < kk; f++) {
    const lo = Math.floor((f * n) / kk);
    const hi = Math.floor(((f + 1) * n) / kk);
    const val = perm.slice(lo, hi).sort((x, y) => x - y);
    const inVal = new Set(val);
    const train: number[] = [];
    for (let i = 0; i < n; i++) if (!inVal.has(i)) train.push(i);
    folds.push({ label: `fold ${f + 1}`, train, val });
  }
  return folds;
}
