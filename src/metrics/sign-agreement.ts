/**
 * Sign-agreement kernels (TIES-style; the paper has no such metric). For a pair (τᵢ, τⱼ) and
 * per-expert trim thresholds tᵢ, tⱼ, over elements e of one tensor:
 *   agree / disagree     : τᵢ·τⱼ > 0 / < 0 (i.e. both non-zero, same / opposite sign)
 *   wAgree / wDisagree   : the same, each coordinate weighted by min(|τᵢ|, |τⱼ|) — a coordinate
 *                          counts only as much as the weaker update, so a large-vs-negligible pair
 *                          is not a strong conflict and tiny noisy entries barely count
 *   tAgree / tDisagree   : the same after trimming: coordinate kept by τ iff τ ≠ 0 and |τ| ≥ t
 *   kept[i]              : number of coordinates kept by τᵢ (its trimmed support size)
 *   diff2                : Σ(τᵢ−τⱼ)², accumulated here (same pair loop) so the L2 distance avoids the
 *                          cancellation of ‖τᵢ‖²+‖τⱼ‖²−2τᵢ·τⱼ for near-identical experts
 * Metrics then are agree/(agree+disagree), etc.; the TIES conflict fraction is
 * tDisagree / |keptᵢ ∪ keptⱼ| with |∪| = keptᵢ + keptⱼ − (tAgree + tDisagree).
 *
 * The trim threshold t is the k-th largest |τ| of the tensor, k = max(1, ⌊trim·numel⌋) (TIES /
 * mergekit keep the top `density` fraction per tensor); found exactly by quickselect on a copy.
 */

/** Number of per-pair sums, laid out [agree, disagree, wAgree, wDisagree, tAgree, tDisagree, diff2]. */
export const PAIR_FIELDS = 7;

/** counts[p*7 + f] += …, p = lexicographic pair index; kept[i] += trimmed support size. */
export function accumulateSigns(tau: Float32Array[], from: number, to: number, thresholds: Float64Array, counts: Float64Array, kept: Float64Array): void {
  const N = tau.length;
  for (let i = 0; i < N; i++) {
    const a = tau[i];
    const ta = thresholds[i];
    let k = 0;
    for (let e = from; e < to; e++) {
      const x = a[e];
      if (x !== 0 && Math.abs(x) >= ta) k++;
    }
    kept[i] += k;
  }
  let p = 0;
  for (let i = 0; i < N; i++) {
    const a = tau[i];
    const ta = thresholds[i];
    for (let j = i + 1; j < N; j++, p++) {
      const b = tau[j];
      const tb = thresholds[j];
      let ag = 0, dis = 0, wag = 0, wdis = 0, tag = 0, tdis = 0, d2 = 0;
      for (let e = from; e < to; e++) {
        const x = a[e];
        const y = b[e];
        const d = x - y;
        d2 += d * d;
        // float32 values multiplied in float64 never underflow, so the product's sign is exact.
        const prod = x * y;
        if (prod === 0) continue;
        const ax = Math.abs(x);
        const ay = Math.abs(y);
        const w = ax < ay ? ax : ay;
        const both = ax >= ta && ay >= tb;
        if (prod > 0) {
          ag++;
          wag += w;
          if (both) tag++;
        } else {
          dis++;
          wdis += w;
          if (both) tdis++;
        }
      }
      const o = p * PAIR_FIELDS;
      counts[o] += ag;
      counts[o + 1] += dis;
      counts[o + 2] += wag;
      counts[o + 3] += wdis;
      counts[o + 4] += tag;
      counts[o + 5] += tdis;
      counts[o + 6] += d2;
    }
  }
}

/** How many coordinates a trim fraction keeps in a tensor of `numel` elements. */
export function keepCount(numel: number, trim: number): number {
  return Math.max(1, Math.floor(trim * numel));
}

/**
 * The k-th largest |v| (1-based k), exactly, by in-place quickselect (Hoare partition,
 * median-of-three pivot) on a float32 copy of |v|. O(n) expected; allocates one copy.
 */
export function kthLargestAbs(v: Float32Array, k: number): number {
  const n = v.length;
  if (n === 0) return 0;
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.abs(v[i]);
  // k-th largest = element at ascending position n−k.
  const target = n - Math.min(Math.max(k, 1), n);
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    // median of three → pivot value
    const x = a[lo], y = a[mid], z = a[hi];
    const pivot = x < y ? (y < z ? y : x < z ? z : x) : x < z ? x : y < z ? z : y;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        const t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else return a[target];
  }
  return a[target];
}

/**
 * Trim threshold of one τ: k-th largest |τ| with k = keepCount(length, trim). Given a row
 * sample of a huge tensor instead of the whole tensor, this is the sample's quantile.
 */
export function trimThreshold(tau: Float32Array, trim: number): number {
  if (trim >= 1) return 0;
  return kthLargestAbs(tau, keepCount(tau.length, trim));
}
