/**
 * Dense SVD helpers for the SVD-based merges (tsv, iso_c), on ml-matrix.
 *
 * Null components. Task vectors are routinely rank-deficient (MNIST pixels that are always 0
 * give exactly-zero columns; LoRA deltas have rank r; a frozen tensor is all zeros). The
 * singular vectors of zero singular values are arbitrary — whatever the SVD routine returns —
 * so a merge that uses them with non-zero weight (Iso-C's U·Vᵀ, a polar factor of dependent
 * columns) would add arbitrary directions. Here components with σ ≤ NULL_TOL·σ₁ (1e-6, the
 * float32 noise level of the inputs) are treated as exactly zero and dropped: the results are
 * then unique, and equal to the reference algorithms whenever the matrices have full rank.
 *
 * Speed. A thin SVD is computed from the eigendecomposition of the smaller Gram matrix
 * (A·Aᵀ or Aᵀ·A), 3–5× faster than ml-matrix's Golub–Kahan SVD at 256×784. Squaring the matrix
 * squares its condition number, so that path is taken only when every retained σ is ≥ COND·σ₁
 * (1e-5; singular vectors then accurate to ≈ 1e-6 relative) and no σ falls between NULL_TOL·σ₁
 * and COND·σ₁; otherwise the exact ml-matrix SVD is used. A decomposition costs
 * O(m·n·min(m,n)) time and a few float64 copies of the matrix: well under a second at 256×784,
 * minutes for the 4096×4096+ matrices of LLMs — these methods are for small models or a few
 * selected tensors.
 */
import { EigenvalueDecomposition, Matrix, SingularValueDecomposition } from 'ml-matrix';

export interface ThinSvd {
  /** rows × r, orthonormal columns (r = retained components, possibly 0). */
  U: Matrix;
  /** r singular values, descending, all > NULL_TOL·σ₁. */
  s: number[];
  /** cols × r, orthonormal columns (A ≈ U·diag(s)·Vᵀ). */
  V: Matrix;
}

/** σ ≤ NULL_TOL·σ₁ counts as an exact zero. */
export const NULL_TOL = 1e-6;
/** Smallest retained σ/σ₁ for which the Gram-matrix path is accurate enough. */
export const COND = 1e-5;

/**
 * The 2-D view SVD merges use for a tensor shape: [rows, cols] for ≥2-D tensors (rows = first
 * dim, the rest flattened, as a conv kernel [out, in, kh, kw] → [out, in·kh·kw]); null for
 * scalars and 1-D tensors, which the methods merge elementwise instead.
 */
export function matrixShape(shape: number[]): [number, number] | null {
  if (shape.length < 2) return null;
  const rows = shape[0];
  const cols = shape.slice(1).reduce((a, b) => a * b, 1);
  return [rows, cols];
}

export function toMatrix(data: ArrayLike<number>, rows: number, cols: number): Matrix {
  const rowArrays: Float64Array[] = [];
  for (let i = 0; i < rows; i++) {
    const row = new Float64Array(cols);
    const off = i * cols;
    for (let j = 0; j < cols; j++) row[j] = data[off + j];
    rowArrays.push(row);
  }
  return new Matrix(rowArrays as unknown as number[][]);
}

export function fromMatrix(m: Matrix): Float32Array {
  const out = new Float32Array(m.rows * m.columns);
  for (let i = 0; i < m.rows; i++) out.set(m.getRow(i), i * m.columns);
  return out;
}

function rowsOf(m: Matrix): Float64Array[] {
  const out: Float64Array[] = [];
  for (let i = 0; i < m.rows; i++) out.push(Float64Array.from(m.getRow(i)));
  return out;
}

/** A·B with row-major float64 loops (ml-matrix's mmul is several times slower at these sizes). */
export function matmul(a: Matrix, b: Matrix): Matrix {
  if (a.columns !== b.rows) throw new Error(`matmul: ${a.rows}×${a.columns} · ${b.rows}×${b.columns}`);
  const br = rowsOf(b);
  const n = b.columns;
  const out = new Matrix(a.rows, n);
  const c = new Float64Array(n);
  for (let i = 0; i < a.rows; i++) {
    const ai = a.getRow(i);
    c.fill(0);
    for (let k = 0; k < ai.length; k++) {
      const w = ai[k];
      if (w === 0) continue;
      const bk = br[k];
      for (let j = 0; j < n; j++) c[j] += w * bk[j];
    }
    out.setRow(i, c as unknown as number[]);
  }
  return out;
}

/** G = R·Rᵀ for the rows R (p × q) → p × p, float64. */
function gramOfRows(r: Float64Array[]): Matrix {
  const p = r.length;
  const g = new Matrix(p, p);
  for (let i = 0; i < p; i++) {
    const a = r[i];
    for (let j = i; j < p; j++) {
      const b = r[j];
      let s = 0;
      for (let k = 0; k < a.length; k++) s += a[k] * b[k];
      g.set(i, j, s);
      g.set(j, i, s);
    }
  }
  return g;
}

/** Eigenpairs of a symmetric matrix, eigenvalues descending; vectors as columns. */
function symEig(g: Matrix): { values: number[]; vectors: Matrix } {
  const e = new EigenvalueDecomposition(g, { assumeSymmetric: true });
  const values = e.realEigenvalues;
  const order = values.map((_, i) => i).sort((a, b) => values[b] - values[a]);
  const vecs = e.eigenvectorMatrix;
  const out = new Matrix(vecs.rows, order.length);
  order.forEach((src, dst) => out.setColumn(dst, vecs.getColumn(src)));
  return { values: order.map((i) => values[i]), vectors: out };
}

/**
 * How many of the leading σ = √λ (λ descending) to keep, at most `k`: those above NULL_TOL·σ₁.
 * undefined when one of them is in the zone the Gram path cannot resolve accurately.
 */
function gramRank(values: number[], k: number): number | undefined {
  const s1 = Math.sqrt(Math.max(values[0] ?? 0, 0));
  if (s1 === 0) return 0;
  const limit = Math.min(k, values.length);
  for (let j = 0; j < limit; j++) {
    const s = Math.sqrt(Math.max(values[j], 0));
    if (s >= COND * s1) continue;
    return s > NULL_TOL * s1 ? undefined : j;
  }
  return limit;
}

function exactRank(s: number[], k: number): number {
  const limit = Math.min(k, s.length);
  let r = 0;
  while (r < limit && s[r] > NULL_TOL * s[0]) r++;
  return r;
}

const firstColumns = (m: Matrix, r: number) => (r === m.columns ? m : r === 0 ? new Matrix(m.rows, 0) : m.subMatrix(0, m.rows - 1, 0, r - 1));

/** Exact thin SVD (ml-matrix, Golub–Kahan), non-null components only, at most k. */
export function exactSvd(a: Matrix, k = Infinity): ThinSvd {
  const svd = new SingularValueDecomposition(a, { autoTranspose: true });
  const r = exactRank(svd.diagonal, k);
  return { U: firstColumns(svd.leftSingularVectors, r), s: svd.diagonal.slice(0, r), V: firstColumns(svd.rightSingularVectors, r) };
}

/** Thin SVD via the smaller Gram matrix, or undefined when that would be inaccurate. */
function gramSvd(a: Matrix, k: number): ThinSvd | undefined {
  const wide = a.rows <= a.columns;
  const rows = rowsOf(wide ? a : a.transpose()); // p × q, p ≤ q
  const { values, vectors } = symEig(gramOfRows(rows));
  const r = gramRank(values, k);
  if (r === undefined) return undefined;
  const q = rows[0]?.length ?? 0;
  const s = values.slice(0, r).map(Math.sqrt);
  const P = firstColumns(vectors, r);
  // Q = Rᵀ·P·Σ⁻¹ (q × r): column j accumulates the rows of R weighted by P[:, j].
  const Q = new Matrix(q, r);
  const col = new Float64Array(q);
  for (let j = 0; j < r; j++) {
    col.fill(0);
    for (let i = 0; i < rows.length; i++) {
      const w = P.get(i, j);
      const row = rows[i];
      for (let c = 0; c < q; c++) col[c] += w * row[c];
    }
    const inv = 1 / s[j];
    for (let c = 0; c < q; c++) col[c] *= inv;
    Q.setColumn(j, col as unknown as number[]);
  }
  return wide ? { U: P, s, V: Q } : { U: Q, s, V: P };
}

/**
 * Thin SVD of A restricted to its non-null components (σ > NULL_TOL·σ₁), at most the top k:
 * the Gram-matrix path when accurate, else the exact SVD.
 */
export function thinSvd(a: Matrix, k = Infinity): ThinSvd {
  return gramSvd(a, k) ?? exactSvd(a, k);
}

/**
 * Orthogonal Procrustes: the nearest matrix with orthonormal columns (rows, if wide) to M,
 * W = P·Qᵀ from M = P·S·Qᵀ, over M's non-null singular values (so W is unique even when
 * M's columns are dependent). Fast path: M·(MᵀM)^(−1/2) (or (MMᵀ)^(−1/2)·M when wide) on the
 * range of the small Gram matrix.
 */
export function procrustes(m: Matrix): Matrix {
  const tall = m.rows >= m.columns;
  const { values, vectors } = symEig(gramOfRows(rowsOf(tall ? m.transpose() : m)));
  const r = gramRank(values, Infinity);
  if (r === undefined) {
    const { U, V } = exactSvd(m);
    return matmul(U, V.transpose());
  }
  if (r === 0) return new Matrix(m.rows, m.columns);
  const Qr = firstColumns(vectors, r);
  const scaled = Qr.clone();
  for (let j = 0; j < r; j++) scaled.mulColumn(j, 1 / Math.sqrt(values[j]));
  const invSqrt = matmul(scaled, Qr.transpose());
  return tall ? matmul(m, invSqrt) : matmul(invSqrt, m);
}

/** U·diag(s)·Vᵀ without forming diag(s). */
export function reconstruct(U: Matrix, s: ArrayLike<number>, V: Matrix): Matrix {
  const us = U.clone();
  for (let j = 0; j < s.length; j++) us.mulColumn(j, s[j]);
  return matmul(us, V.transpose());
}
