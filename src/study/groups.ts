/**
 * Which groups of experts the group study merges: for each size k, every k-subset of the experts
 * in a seeded random order, of which the first `perSize` are taken. The order depends only on
 * (seed, k, number of experts), so a smaller sample is always a prefix of a larger one and the
 * default study's groups are part of every bigger run with the same seed.
 */
import { MergelensError } from '../errors.js';
import { createRng, deriveSeed } from './rng.js';

export const MIN_GROUP = 3;
export const MAX_GROUP = 8;

/** Groups per size by default (study), with --quick, and the exhaustive choice. */
export const DEFAULT_GROUPS_PER_SIZE = 2;
export const QUICK_GROUPS_PER_SIZE = 1;
export type GroupSample = number | 'all';

/** Every k-subset of 0…n−1 in lexicographic order, each ascending. */
export function combinations(n: number, k: number): number[][] {
  const out: number[][] = [];
  if (k < 0 || k > n) return out;
  const c = Array.from({ length: k }, (_, i) => i);
  for (;;) {
    out.push(c.slice());
    let i = k - 1;
    while (i >= 0 && c[i] === n - k + i) i--;
    if (i < 0) return out;
    c[i]++;
    for (let j = i + 1; j < k; j++) c[j] = c[j - 1] + 1;
  }
}

/** n choose k (exact for the small counts the study uses). */
export function choose(n: number, k: number): number {
  if (k < 0 || k > n) return 0;
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return Math.round(r);
}

/** Sizes the study samples for n experts: MIN_GROUP … min(MAX_GROUP, n). */
export function groupSizes(n: number): number[] {
  const out: number[] = [];
  for (let k = MIN_GROUP; k <= Math.min(MAX_GROUP, n); k++) out.push(k);
  return out;
}

/** Above this many subsets of one size, `all` is refused (the study would run for days). */
const MAX_ENUMERATED = 100_000;

/**
 * The seeded sample of groups of size k from n experts: `perSize` of them (all when fewer exist),
 * or every one with 'all'. Groups are ascending index lists; the list is in sampled order.
 */
export function sampleGroups(n: number, k: number, perSize: GroupSample, seed: number): number[][] {
  const total = choose(n, k);
  if (total > MAX_ENUMERATED) throw new MergelensError('BAD_PARAM', `${total} groups of ${k} among ${n} experts: too many to enumerate`);
  const all = combinations(n, k);
  createRng(deriveSeed(seed, `groups:${n}:${k}`)).shuffle(all);
  return perSize === 'all' ? all : all.slice(0, Math.max(0, perSize));
}

/** Parse a `--groups` value: off (0), all/full, or a non-negative integer of groups per size. */
export function parseGroupSample(s: string): GroupSample {
  const v = s.trim().toLowerCase();
  if (v === 'off' || v === 'none') return 0;
  if (v === 'all' || v === 'full') return 'all';
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 10_000) {
    throw new MergelensError('BAD_PARAM', `--groups must be off, all, or a number of groups per size in [0, 10000], got "${s}"`);
  }
  return n;
}
