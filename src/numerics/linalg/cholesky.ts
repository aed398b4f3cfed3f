/**
 * Dense Cholesky factorisation and solve for small SPD systems (row-major float64), shared by the
 * lasso's active-set step, the domain guard's leverage and the study's ridge probe.
 */

/** Solve L·Lᵀ x = b in place (b becomes x), L from cholesky(): forward, then back substitution. */
export function choleskySolve(L: Float64Array, n: number, b: Float64Array): void {
  for (let i = 0; i < n; i++) {
    let v = b[i];
    for (let k = 0; k < i; k++) v -= L[i * n + k] * b[k];
    b[i] = v / L[i * n + i];
  }
  for (let i = n - 1; i >= 0; i--) {
    let v = b[i];
    for (let k = i + 1; k < n; k++) v -= L[k * n + i] * b[k];
    b[i] = v / L[i * n + i];
  }
}

/** In-place Cholesky of a row-major m×m SPD matrix (lower factor); false if not numerically SPD. */
export function cholesky(A: Float64Array, m: number): boolean {
  let maxDiag = 0;
  for (let i = 0; i < m; i++) maxDiag = Math.max(maxDiag, A[i * m + i]);
  for (let j = 0; j < m; j++) {
    let d = A[j * m + j];
    for (let k = 0; k < j; k++) d -= A[j * m + k] * A[j * m + k];
    if (!(d > 1e-12 * maxDiag)) return false;
    const ljj = Math.sqrt(d);
    A[j * m + j] = ljj;
    for (let i = j + 1; i < m; i++) {
      let v = A[i * m + j];
      for (let k = 0; k < j; k++) v -= A[i * m + k] * A[j * m + k];
      A[i * m + j] = v / ljj;
    }
  }
  return true;
}
