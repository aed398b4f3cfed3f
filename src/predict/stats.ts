/**
 * Descriptive statistics used by the predictors and their validation, all in float64.
 * Pure functions over array-likes; undefined results (zero variance, empty input) are NaN
 * so callers decide how to report them instead of getting a silent 0.
 */

export type Vec = ArrayLike<number>;

export function mean(x: Vec): number {
  const n = x.length;
  if (n === 0) return NaN;
  let s = 0;
  for (let i = 0; i < n; i++) s += x[i];
  return s / n;
}

/** Standard deviation; ddof = 0 (population, the default) or 1 (sample). Two-pass for accuracy. */
export function std(x: Vec, ddof = 0): number {
  const n = x.length;
  if (n - ddof <= 0) return NaN;
  const m = mean(x);
  let ss = 0;
  for (let i = 0; i < n; i++) {
    const d = x[i] - m;
    ss += d * d;
  }
  return Math.sqrt(ss / (n - ddof));
}

function assertSameLength(x: Vec, y: Vec): void {
  if (x.length !== y.length) throw new RangeError(`length mismatch: ${x.length} vs ${y.length}`);
}

/** Pearson correlation; NaN when either side has zero variance or fewer than 2 points. */
export function pearson(x: Vec, y: Vec): number {
  assertSameLength(x, y);
  const n = x.length;
  if (n < 2) return NaN;
  const mx = mean(x);
  const my = mean(y);
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i] - mx;
    const dy = y[i] - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx === 0 || syy === 0) return NaN;
  // Clamp: rounding can push |r| a hair past 1 for perfectly collinear inputs.
  return Math.max(-1, Math.min(1, sxy / Math.sqrt(sxx * syy)));
}

/** 1-based ranks; tied values share the average of the ranks they span. */
export function ranks(x: Vec): Float64Array {
  const n = x.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => x[i] - x[j]);
  const r = new Float64Array(n);
  let i = 0;
  while (i < n) {
    let j = i;
    while (j + 1 < n && x[order[j + 1]] === x[order[i]]) j++;
    const avg = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) r[order[k]] = avg;
    i = j + 1;
  }
  return r;
}

/** Spearman rank correlation: Pearson of average ranks (the tie-corrected definition). */
export function spearman(x: Vec, y: Vec): number {
  assertSameLength(x, y);
  return pearson(ranks(x), ranks(y));
}

export function mae(pred: Vec, truth: Vec): number {
  assertSameLength(pred, truth);
  if (pred.length === 0) return NaN;
  let s = 0;
  for (let i = 0; i < pred.length; i++) s += Math.abs(pred[i] - truth[i]);
  return s / pred.length;
}

export function rmse(pred: Vec, truth: Vec): number {
  assertSameLength(pred, truth);
  if (pred.length === 0) return NaN;
  let s = 0;
  for (let i = 0; i < pred.length; i++) {
    const d = pred[i] - truth[i];
    s += d * d;
  }
  return Math.sqrt(s / pred.length);
}

/** Linear-interpolated quantile (numpy's default, "linear"), q in [0, 1]. */
export function quantile(x: Vec, q: number): number {
  const n = x.length;
  if (n === 0) return NaN;
  const s = Float64Array.from(x).sort();
  const pos = q * (n - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(n - 1, lo + 1);
  return s[lo] + (pos - lo) * (s[hi] - s[lo]);
}
