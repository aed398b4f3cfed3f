/**
 * Feature matrices for the predictors: column-major float64 (one Float64Array per feature),
 * which is what coordinate descent walks, plus the two feature scalings the models use.
 * Scalers are fitted on a training fold and applied unchanged to validation / new pairs.
 */

/** n rows × p features, stored as p columns of length n. */
export interface Design {
  n: number;
  cols: Float64Array[];
}

export function designFromRows(rows: ArrayLike<number>[], p: number): Design {
  const n = rows.length;
  const cols = Array.from({ length: p }, () => new Float64Array(n));
  for (let i = 0; i < n; i++) for (let j = 0; j < p; j++) cols[j][i] = rows[i][j];
  return { n, cols };
}

/** Rows `idx` of a design (for folds and bootstrap resamples). */
export function subsetRows(d: Design, idx: ArrayLike<number>): Design {
  const m = idx.length;
  const cols = d.cols.map((c) => {
    const out = new Float64Array(m);
    for (let i = 0; i < m; i++) out[i] = c[idx[i]];
    return out;
  });
  return { n: m, cols };
}

export function subsetVec(y: ArrayLike<number>, idx: ArrayLike<number>): Float64Array {
  const out = new Float64Array(idx.length);
  for (let i = 0; i < idx.length; i++) out[i] = y[idx[i]];
  return out;
}

export interface MinMax {
  min: number[];
  max: number[];
}

export function fitMinMax(d: Design): MinMax {
  const min: number[] = [];
  const max: number[] = [];
  for (const c of d.cols) {
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < c.length; i++) {
      if (c[i] < lo) lo = c[i];
      if (c[i] > hi) hi = c[i];
    }
    min.push(lo);
    max.push(hi);
  }
  return { min, max };
}

/** x ↦ 2(x − min)/(max − min) − 1, so the training range maps to [−1, 1]; constant features ↦ 0. */
export function minMaxValue(x: number, min: number, max: number): number {
  const range = max - min;
  return range > 0 ? (2 * (x - min)) / range - 1 : 0;
}

export function applyMinMax(d: Design, s: MinMax): Design {
  return {
    n: d.n,
    cols: d.cols.map((c, j) => {
      const out = new Float64Array(c.length);
      const lo = s.min[j];
      const range = s.max[j] - lo;
      // Same arithmetic as minMaxValue, in a plain loop (this runs for every inner fold).
      if (range > 0) for (let i = 0; i < c.length; i++) out[i] = (2 * (c[i] - lo)) / range - 1;
      return out;
    }),
  };
}

export interface Standardizer {
  mean: number[];
  /** Population std; 0 marks a constant feature, which then standardises to 0. */
  std: number[];
}

export function fitStandardizer(d: Design): Standardizer {
  const mean: number[] = [];
  const std: number[] = [];
  for (const c of d.cols) {
    let s = 0;
    for (let i = 0; i < c.length; i++) s += c[i];
    const m = s / c.length;
    let ss = 0;
    for (let i = 0; i < c.length; i++) ss += (c[i] - m) * (c[i] - m);
    mean.push(m);
    // Relative cut-off: a feature whose spread is rounding noise is constant, not informative.
    const sd = Math.sqrt(ss / c.length);
    std.push(sd > 1e-12 * Math.max(1, Math.abs(m)) ? sd : 0);
  }
  return { mean, std };
}

export function zValue(x: number, mean: number, std: number): number {
  return std > 0 ? (x - mean) / std : 0;
}

export function applyStandardizer(d: Design, s: Standardizer): Design {
  return {
    n: d.n,
    cols: d.cols.map((c, j) => c.map((x) => zValue(x, s.mean[j], s.std[j]))),
  };
}

/** Σ_j coef_j · col_j, row by row. */
export function linearCombination(d: Design, coef: ArrayLike<number>, offset = 0): Float64Array {
  const out = new Float64Array(d.n).fill(offset);
  for (let j = 0; j < d.cols.length; j++) {
    const b = coef[j];
    if (b === 0) continue;
    const c = d.cols[j];
    for (let i = 0; i < d.n; i++) out[i] += b * c[i];
  }
  return out;
}
