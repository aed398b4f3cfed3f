/**
 * Independent dense float64 reference implementations of the merge methods, written
 * directly from the formulas (plain arrays, explicit argsort, ml-matrix linear algebra),
 * to check the optimised kernels in src/merge against.
 */
import { Matrix, SingularValueDecomposition } from 'ml-matrix';
import { mulberry32 } from '../../src/util/mulberry32.js';

export type Vec = number[];

export const f64 = (a: ArrayLike<number>): Vec => Array.from(a);

export function refWeightAvg(experts: Vec[], w: number[], normalize = true): Vec {
  const sw = w.reduce((a, b) => a + b, 0);
  return experts[0].map((_, j) => experts.reduce((acc, e, i) => acc + w[i] * e[j], 0) / (normalize ? sw : 1));
}

/** Top-k by |x| with a stable argsort (lower index first among equal magnitudes). */
export function refTopK(x: Vec, density: number): Vec {
  if (density >= 1) return x.slice();
  const k = Math.max(1, Math.floor(density * x.length));
  const order = x.map((v, i) => [Math.abs(v), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  const keep = new Set(order.slice(0, k).map((p) => p[1]));
  return x.map((v, i) => (keep.has(i) ? v : 0));
}

/** mergekit GTA with given (already sparsified) task vectors. */
export function refGta(base: Vec, taus: Vec[], w: number[], o: { consensus: boolean; normalize: boolean; lambda: number }): Vec {
  return base.map((b, j) => {
    const v = taus.map((t, i) => w[i] * t[j]);
    let num: number;
    let den: number;
    if (o.consensus) {
      const s = v.reduce((a, c) => a + c, 0) >= 0 ? 1 : -1;
      const mask = v.map((x) => Math.sign(x) === s);
      num = v.reduce((a, x, i) => a + (mask[i] ? x : 0), 0);
      den = w.reduce((a, x, i) => a + (mask[i] ? x : 0), 0);
      if (den === 0) den = 1;
    } else {
      num = v.reduce((a, c) => a + c, 0);
      den = w.reduce((a, c) => a + c, 0);
      if (Math.abs(den) < 1e-8) den = 1;
    }
    return b + o.lambda * (o.normalize ? num / den : num);
  });
}

export const taskVectors = (base: Vec, experts: Vec[]): Vec[] => experts.map((e) => e.map((x, j) => x - base[j]));

export function refSlerp(t: number, a: Vec, b: Vec): Vec {
  const norm = (v: Vec) => Math.hypot(...v);
  const na = norm(a) > 1e-8 ? norm(a) : 1;
  const nb = norm(b) > 1e-8 ? norm(b) : 1;
  const dot = a.reduce((s, x, i) => s + (x / na) * (b[i] / nb), 0);
  if (Math.abs(dot) > 0.9995) return a.map((x, i) => (1 - t) * x + t * b[i]);
  const om = Math.acos(dot);
  return a.map((x, i) => (Math.sin((1 - t) * om) * x + Math.sin(t * om) * b[i]) / Math.sin(om));
}

const mat = (v: Vec, m: number, n: number) => Matrix.from1DArray(m, n, v);

/** Exact SVD keeping only σ > 1e-6·σ₁ (components below are exact zeros by definition), top k. */
function nonNullSvd(M: Matrix, k = Infinity) {
  const s = new SingularValueDecomposition(M, { autoTranspose: true });
  const d = s.diagonal;
  let r = 0;
  while (r < Math.min(k, d.length) && d[r] > 1e-6 * d[0]) r++;
  const cols = (X: Matrix) => Matrix.from1DArray(X.rows, r, X.to2DArray().flatMap((row) => row.slice(0, r)));
  return { U: cols(s.leftSingularVectors), s: d.slice(0, r), V: cols(s.rightSingularVectors) };
}

/** Polar factor P·Qᵀ over the non-null singular values. */
function polar(M: Matrix): Matrix {
  const { U, V } = nonNullSvd(M);
  return U.mmul(V.transpose());
}

export function refTsvDelta(taus: Vec[], m: number, n: number): Vec {
  const N = taus.length;
  const k = Math.max(1, Math.floor(Math.min(m, n) / N));
  const Us: Matrix[] = [];
  const Vs: Matrix[] = [];
  const sig: number[] = [];
  for (const t of taus) {
    const s = nonNullSvd(mat(t, m, n), k);
    Us.push(s.U);
    Vs.push(s.V);
    sig.push(...s.s);
  }
  const U = polar(hstack(Us));
  const V = polar(hstack(Vs));
  return U.mmul(Matrix.diag(sig)).mmul(V.transpose()).to1DArray();
}

function hstack(ms: Matrix[]): Matrix {
  const rows = ms[0].rows;
  const cols = ms.reduce((a, m) => a + m.columns, 0);
  const out = new Matrix(rows, cols);
  let c0 = 0;
  for (const m of ms) {
    if (m.columns) out.setSubMatrix(m, 0, c0);
    c0 += m.columns;
  }
  return out;
}

export function refIsoDelta(taus: Vec[], w: number[], m: number, n: number): Vec {
  const sum = taus[0].map((_, j) => taus.reduce((a, t, i) => a + w[i] * t[j], 0));
  const s = nonNullSvd(mat(sum, m, n));
  const mean = s.s.reduce((a, b) => a + b, 0) / Math.min(m, n);
  return s.U.mmul(s.V.transpose()).mul(mean).to1DArray();
}

export function singularValues(v: ArrayLike<number>, m: number, n: number): number[] {
  return new SingularValueDecomposition(mat(Array.from(v), m, n), { autoTranspose: true }).diagonal;
}

/** Deterministic pseudo-random test data (mulberry32), independent of src/merge/random.ts. */
export const testRng = mulberry32;

export function randn(rng: () => number, n: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = Math.max(rng(), 1e-12);
    out[i] = scale * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
  }
  return out;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}
