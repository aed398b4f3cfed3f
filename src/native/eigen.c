// Native twin of src/numerics/linalg/symmetric-eigen.ts (tred2 + tql2 on Vᵀ in a flat buffer):
// every value is formed by the same operations in the same order as there, so the bytes are
// the same (test/numerics/linalg/symmetric-eigen-native.test.ts). Why: the SVD merges (tsv,
// iso_c) spend most of their time here. The speed comes from loops whose order is free:
// elementwise updates run SIMD-wide, and the strict-order dot products of different rows —
// independent of each other — run four at a time, each still in its own order.
#include "common.h"
#include <math.h>

/** √(a² + b²) as symmetric-eigen.ts's hypot (not libm's: different rounding). */
static inline double hyp(double a, double b) {
  const double x = fabs(a), y = fabs(b);
  if (x > y) { const double r = y / x; return x * sqrt(1 + r * r); }
  if (y == 0) return 0;
  const double r = x / y;
  return y * sqrt(1 + r * r);
}

/** y[k] += x[k]·f over [0, len): one rounding per product and per sum, as the scalar loop. */
CLONES static void add_scaled(double *restrict y, const double *restrict x, double f, size_t len) {
  for (size_t k = 0; k < len; k++) y[k] += x[k] * f;
}

/** y[k] −= x[k]·f over [0, len). */
CLONES static void sub_scaled(double *restrict y, const double *restrict x, double f, size_t len) {
  for (size_t k = 0; k < len; k++) y[k] -= f * x[k];
}

/** y[k] −= f·a[k] + g·b[k] over [0, len). */
CLONES static void sub_rank2(double *restrict y, const double *restrict a, const double *restrict b, double f, double g, size_t len) {
  for (size_t k = 0; k < len; k++) y[k] -= f * a[k] + g * b[k];
}

/**
 * g[r] += Σ_k rows[r][k]·x[k] for four rows over [0, len), each sum in k order (one chain per
 * row, as the scalar loop): four independent chains hide the add latency one chain waits on.
 */
static void dot4(const double *r0, const double *r1, const double *r2, const double *r3, const double *x, size_t len, double g[4]) {
  double g0 = g[0], g1 = g[1], g2 = g[2], g3 = g[3];
  for (size_t k = 0; k < len; k++) {
    const double v = x[k];
    g0 += r0[k] * v;
    g1 += r1[k] * v;
    g2 += r2[k] * v;
    g3 += r3[k] * v;
  }
  g[0] = g0, g[1] = g1, g[2] = g2, g[3] = g3;
}

/**
 * tred2's e = A·u over the active block [0, i): per row j (in order) g = e[j] + T[j][j]·d[j]
 * + Σ_{k>j} T[j][k]·d[k] and e[k] += T[j][k]·d[j] for k > j. Row j's sum reads only T and d,
 * and its start e[j] has every update from rows < j once those rows have run; so each block
 * of four rows first makes its updates (row order, SIMD along k) and then its four sums.
 */
static void tred2_reduce(double *T, size_t n, size_t i, double *d, double *e) {
  for (size_t j0 = 0; j0 < i; j0 += 4) {
    const size_t rows = i - j0 < 4 ? i - j0 : 4;
    for (size_t r = j0; r < j0 + rows; r++) {
      T[i * n + r] = d[r];
      add_scaled(e + r + 1, T + r * n + r + 1, d[r], i - r - 1);
    }
    double g[4] = {0, 0, 0, 0};
    // the staggered heads: row r's sum from its diagonal up to the block's end, one at a time
    for (size_t r = j0; r < j0 + rows; r++) {
      const double *row = T + r * n;
      double s = e[r] + row[r] * d[r];
      for (size_t k = r + 1; k < j0 + rows; k++) s += row[k] * d[k];
      g[r - j0] = s;
    }
    const size_t k0 = j0 + rows;
    if (rows == 4) {
      dot4(T + j0 * n + k0, T + (j0 + 1) * n + k0, T + (j0 + 2) * n + k0, T + (j0 + 3) * n + k0, d + k0, i - k0, g);
    } else {
      for (size_t r = 0; r < rows; r++) {
        const double *row = T + (j0 + r) * n;
        for (size_t k = k0; k < i; k++) g[r] += row[k] * d[k];
      }
    }
    for (size_t r = 0; r < rows; r++) e[j0 + r] = g[r];
  }
}

/** Householder reduction to tridiagonal form (symmetric-eigen.ts tred2). */
static void tred2(double *T, size_t n, double *d, double *e) {
  for (size_t j = 0; j < n; j++) d[j] = T[j * n + n - 1];
  for (size_t i = n - 1; i > 0; i--) {
    double scale = 0, h = 0;
    for (size_t k = 0; k < i; k++) scale += fabs(d[k]);
    if (scale == 0) {
      e[i] = d[i - 1];
      for (size_t j = 0; j < i; j++) {
        d[j] = T[j * n + i - 1];
        T[j * n + i] = 0;
        T[i * n + j] = 0;
      }
    } else {
      for (size_t k = 0; k < i; k++) {
        d[k] /= scale;
        h += d[k] * d[k];
      }
      double f = d[i - 1];
      double g = sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (size_t j = 0; j < i; j++) e[j] = 0;
      tred2_reduce(T, n, i, d, e);
      f = 0;
      for (size_t j = 0; j < i; j++) {
        e[j] /= h;
        f += e[j] * d[j];
      }
      const double hh = f / (h + h);
      for (size_t j = 0; j < i; j++) e[j] -= hh * d[j];
      for (size_t j = 0; j < i; j++) {
        double *row = T + j * n;
        sub_rank2(row + j, e + j, d + j, d[j], e[j], i - j);
        d[j] = row[i - 1];
        row[i] = 0;
      }
    }
    d[i] = h;
  }
  // Accumulate the transformations: rows j ≤ i are independent (each reads row i+1 and itself).
  for (size_t i = 0; i + 1 < n; i++) {
    T[i * n + n - 1] = T[i * n + i];
    T[i * n + i] = 1;
    const double h = d[i + 1];
    const double *next = T + (i + 1) * n;
    const size_t len = i + 1;
    if (h != 0) {
      for (size_t k = 0; k < len; k++) d[k] = next[k] / h;
      size_t j = 0;
      for (; j + 4 <= len; j += 4) {
        double g[4] = {0, 0, 0, 0};
        dot4(T + j * n, T + (j + 1) * n, T + (j + 2) * n, T + (j + 3) * n, next, len, g);
        for (size_t r = 0; r < 4; r++) sub_scaled(T + (j + r) * n, d, g[r], len);
      }
      for (; j < len; j++) {
        double g = 0;
        const double *row = T + j * n;
        for (size_t k = 0; k < len; k++) g += next[k] * row[k];
        sub_scaled(T + j * n, d, g, len);
      }
    }
    memset(T + (i + 1) * n, 0, len * sizeof(double));
  }
  for (size_t j = 0; j < n; j++) {
    d[j] = T[j * n + n - 1];
    T[j * n + n - 1] = 0;
  }
  T[(n - 1) * n + n - 1] = 1;
  e[0] = 0;
}

/** Rotate rows a and b (length n) by (c, s): b ← s·a + c·b, a ← c·a − s·b. */
CLONES static void rotate(double *restrict a, double *restrict b, double c, double s, size_t n) {
  for (size_t k = 0; k < n; k++) {
    const double t = b[k], u = a[k];
    b[k] = s * u + c * t;
    a[k] = c * u - s * t;
  }
}

/** Implicit QL with shifts (symmetric-eigen.ts tql2); 0, or 1 when an eigenvalue took over 60 sweeps. */
static int tql2(double *T, size_t n, double *d, double *e) {
  const double EPS = 0x1p-52;
  for (size_t i = 1; i < n; i++) e[i - 1] = e[i];
  e[n - 1] = 0;
  double f = 0, tst1 = 0;
  for (size_t l = 0; l < n; l++) {
    const double t = fabs(d[l]) + fabs(e[l]);
    tst1 = t != t || tst1 != tst1 ? NAN : t > tst1 ? t : tst1; // Math.max: NaN wins
    size_t m = l;
    while (m < n - 1 && fabs(e[m]) > EPS * tst1) m++;
    if (m > l) {
      int iter = 0;
      do {
        if (++iter > 60) return 1;
        double g = d[l];
        double p = (d[l + 1] - g) / (2 * e[l]);
        double r = hyp(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l] / (p + r);
        d[l + 1] = e[l] * (p + r);
        const double dl1 = d[l + 1];
        double h = g - d[l];
        for (size_t i = l + 2; i < n; i++) d[i] -= h;
        f += h;
        p = d[m];
        double c = 1, c2 = 1, c3 = 1, s = 0, s2 = 0;
        const double el1 = e[l + 1];
        for (size_t i = m; i-- > l;) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i];
          h = c * p;
          r = hyp(p, e[i]);
          e[i + 1] = s * r;
          s = e[i] / r;
          c = p / r;
          p = c * d[i] - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]);
          rotate(T + i * n, T + (i + 1) * n, c, s, n);
        }
        p = (-s * s2 * c3 * el1 * e[l]) / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (fabs(e[l]) > EPS * tst1);
    }
    d[l] += f;
    e[l] = 0;
  }
  return 0;
}

/** A Float64Array argument's data and length; false with a TypeError pending when it is not one. */
static int float64_arg(napi_env env, napi_value v, double **data, size_t *length) {
  napi_typedarray_type type;
  void *p;
  if (napi_get_typedarray_info(env, v, &type, length, &p, NULL, NULL) != napi_ok || type != napi_float64_array) {
    napi_throw_type_error(env, NULL, "mergelens native symmetricEigen: T, d and e must be Float64Arrays");
    return 0;
  }
  *data = p;
  return 1;
}

/**
 * symmetricEigen(T, d, e): tred2 then tql2 in place, n = d.length (T holds the n×n matrix,
 * e at least n); returns 0, or 1 when tql2 did not converge (symmetric-eigen.ts throws).
 */
napi_value symmetric_eigen_js(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3) {
    napi_throw_error(env, NULL, "mergelens native symmetricEigen: expected (T, d, e)");
    return NULL;
  }
  double *T, *d, *e;
  size_t lt, n, le;
  if (!float64_arg(env, argv[0], &T, &lt) || !float64_arg(env, argv[1], &d, &n) || !float64_arg(env, argv[2], &e, &le)) return NULL;
  if (lt < n * n || le < n) {
    napi_throw_range_error(env, NULL, "mergelens native symmetricEigen: T shorter than n×n or e shorter than n (n = d.length)");
    return NULL;
  }
  if (n == 0) return twin_result(env, 0);
  tred2(T, n, d, e);
  return twin_result(env, tql2(T, n, d, e));
}
