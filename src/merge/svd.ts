/**
 * Dense SVD helpers for the SVD-based merges (tsv, iso_c), on ml-matrix. A full (thin) SVD
 * of an m×n matrix costs O(m·n·min(m,n)) time and a few copies of the matrix in float64:
 * about 0.7 s for 256×784 here, so minutes-to-hours for the 4096×4096 and larger matrices of
 * LLMs — these methods are meant for small models or a few selected tensors.
 */
import { Matrix, SingularValueDecomposition } from 'ml-matrix';

export interface ThinSvd {
  /** rows × r, orthonormal columns. */
  U: Matrix;
  /** r singular values, descending. */
  s: number[];
  /** cols × r, orthonormal columns (A = U·diag(s)·Vᵀ). */
  V: Matrix;
}

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

export function thinSvd(a: Matrix): ThinSvd {
  const svd = new SingularValueDecomposition(a, { autoTranspose: true });
  return { U: svd.leftSingularVectors, s: svd.diagonal, V: svd.rightSingularVectors };
}

/**
 * Nearest matrix with orthonormal columns (or rows, if wide) to M in Frobenius norm — the
 * orthogonal Procrustes solution P·Qᵀ from M = P·Σ·Qᵀ.
 */
export function procrustes(m: Matrix): Matrix {
  const { U, V } = thinSvd(m);
  return U.mmul(V.transpose());
}

/** U·diag(s)·Vᵀ without forming diag(s). */
export function reconstruct(U: Matrix, s: ArrayLike<number>, V: Matrix): Matrix {
  const us = U.clone();
  for (let j = 0; j < s.length; j++) us.mulColumn(j, s[j]);
  return us.mmul(V.transpose());
}
