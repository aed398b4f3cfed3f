/**
 * Which merges to evaluate when the budget does not cover every pair × method.
 *
 * The predictors are per method and linear in the standardised pairwise metrics, so each method
 * needs its own rows spread over metric space. `selectInformative` spends the budget round-robin
 * over methods (equal shares) and, within a method, picks pairs by greedy max-min distance
 * (farthest-point sampling) on the z-scored metrics: the first pick is the most central pair (the
 * medoid), every next one the pair farthest from those the method already has — far-apart rows
 * pin a linear fit and bound where later predictions must extrapolate. Two constraints come first:
 * while an expert appears in no chosen merge, only pairs with an uncovered expert qualify (two
 * uncovered preferred); and a method's first pick avoids pairs other methods already hold.
 *
 * `selectRandom` is the baseline: the same per-method shares, pairs drawn uniformly (seeded).
 * Pure: indices in, indices out.
 */
import { mulberry32 } from '../util/mulberry32.js';

export interface SelectionInput {
  /** Per pair: its two expert indices. */
  pairs: readonly (readonly [number, number])[];
  /** Per pair: metric values (same order for every pair; non-finite entries allowed). */
  features: readonly (readonly number[])[];
  methods: readonly string[];
  experts: number;
  /** Merges to pick, at most pairs × methods. */
  budget: number;
}

export interface Pick {
  pair: number;
  method: string;
}

/** Per-method shares of the budget: equal, the remainder to the first methods. */
export function methodShares(budget: number, methods: readonly string[], pairs: number): number[] {
  const m = methods.length;
  const share = methods.map((_, k) => Math.floor(budget / m) + (k < budget % m ? 1 : 0));
  return share.map((s) => Math.min(s, pairs));
}

/** z-scored features; columns that are constant or non-finite anywhere are dropped. */
export function standardise(features: readonly (readonly number[])[]): number[][] {
  const n = features.length;
  const p = n ? features[0].length : 0;
  const keep: { j: number; mean: number; sd: number }[] = [];
  for (let j = 0; j < p; j++) {
    let ok = true;
    let s = 0;
    for (let i = 0; i < n; i++) {
      const v = features[i][j];
      if (!Number.isFinite(v)) ok = false;
      s += v;
    }
    if (!ok) continue;
    const mean = s / n;
    let ss = 0;
    for (let i = 0; i < n; i++) ss += (features[i][j] - mean) ** 2;
    const sd = Math.sqrt(ss / n);
    if (sd > 1e-12 * Math.max(1, Math.abs(mean))) keep.push({ j, mean, sd });
  }
  return features.map((row) => keep.map(({ j, mean, sd }) => (row[j] - mean) / sd));
}

const dist2 = (a: readonly number[], b: readonly number[]) => {
  let s = 0;
  for (let k = 0; k < a.length; k++) s += (a[k] - b[k]) ** 2;
  return s;
};

export function selectInformative(input: SelectionInput): Pick[] {
  const z = standardise(input.features);
  const P = input.pairs.length;
  const shares = methodShares(input.budget, input.methods, P);
  const chosen = input.methods.map(() => [] as number[]);
  const taken = new Set<string>();
  const heldBy = new Array<number>(P).fill(0);
  const covered = new Array<boolean>(input.experts).fill(false);
  // The medoid: least total squared distance to all pairs.
  const centrality = z.map((a) => z.reduce((s, b) => s + dist2(a, b), 0));
  const picks: Pick[] = [];
  const rounds = Math.max(0, ...shares);
  for (let round = 0; round < rounds; round++) {
    input.methods.forEach((method, m) => {
      if (chosen[m].length >= shares[m]) return;
      const free = [...Array(P).keys()].filter((p) => !taken.has(`${p}\0${method}`));
      const uncovered = (p: number) => Number(!covered[input.pairs[p][0]]) + Number(!covered[input.pairs[p][1]]);
      const bestCover = Math.max(0, ...free.map(uncovered));
      const pool = bestCover > 0 ? free.filter((p) => uncovered(p) === bestCover) : free;
      let best = -1;
      let bestKey: number[] = [];
      for (const p of pool) {
        // Larger key wins, compared lexicographically; ties go to the lower pair index.
        const key =
          chosen[m].length === 0
            ? [-heldBy[p], -centrality[p]]
            : [Math.min(...chosen[m].map((q) => dist2(z[p], z[q]))), -heldBy[p]];
        if (best < 0 || key[0] > bestKey[0] || (key[0] === bestKey[0] && key[1] > bestKey[1])) {
          best = p;
          bestKey = key;
        }
      }
      if (best < 0) return;
      chosen[m].push(best);
      taken.add(`${best}\0${method}`);
      heldBy[best]++;
      covered[input.pairs[best][0]] = covered[input.pairs[best][1]] = true;
      picks.push({ pair: best, method });
    });
  }
  return picks;
}

export function selectRandom(input: Omit<SelectionInput, 'features'>, seed: number): Pick[] {
  const rnd = mulberry32(seed);
  const P = input.pairs.length;
  const shares = methodShares(input.budget, input.methods, P);
  const picks: Pick[] = [];
  input.methods.forEach((method, m) => {
    const order = [...Array(P).keys()];
    for (let i = P - 1; i > 0; i--) {
      const j = Math.floor(rnd() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    for (const p of order.slice(0, shares[m])) picks.push({ pair: p, method });
  });
  return picks;
}
