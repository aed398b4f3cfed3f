// Panel products for the subspace SVDs (see src/numerics/linalg/panel.ts for the panel layout): A is a
// row-major m×n float32 or float64 matrix, panels are float64 vectors stored one after another.
// Products of float32 elements are exact in float64 and every sum is accumulated in float64.

/** Elements 4c..4c+1 and 4c+2..4c+3 of A as float64 pairs (T = f32 or f64). */
// @ts-ignore: decorator
@inline function lo2<T>(p: usize): v128 {
  if (sizeof<T>() == 4) return f64x2.promote_low_f32x4(v128.load64_zero(p));
  return v128.load(p);
}
// @ts-ignore: decorator
@inline function hi2<T>(p: usize): v128 {
  if (sizeof<T>() == 4) return f64x2.promote_low_f32x4(v128.load64_zero(p + 8));
  return v128.load(p + 16);
}

// @ts-ignore: decorator
@inline function hsum(v: v128): f64 {
  return f64x2.extract_lane(v, 0) + f64x2.extract_lane(v, 1);
}

/** Σ_c a[c]·x[c] for a row of A (type T) and a float64 vector. */
function dotRow<T>(a: usize, x: usize, n: usize): f64 {
  const es = sizeof<T>();
  let s0 = f64x2.splat(0), s1 = f64x2.splat(0);
  let c: usize = 0;
  for (; c + 4 <= n; c += 4) {
    s0 = f64x2.add(s0, f64x2.mul(lo2<T>(a + c * es), v128.load(x + (c << 3))));
    s1 = f64x2.add(s1, f64x2.mul(hi2<T>(a + c * es), v128.load(x + (c << 3), 16)));
  }
  let s = hsum(f64x2.add(s0, s1));
  for (; c < n; c++) s += <f64>load<T>(a + c * es) * load<f64>(x + (c << 3));
  return s;
}

/**
 * Y[j·ldy + i] = Σ_c A[i·n + c]·X[j·n + c] for i < m, j < count (a row range of a bigger
 * product when ldy > m). Register tile of 2 rows × 4 vectors: each A element loaded feeds four
 * products, each X element two.
 */
function mulPanel<T>(A: usize, m: usize, n: usize, X: usize, count: usize, Y: usize, ldy: usize): void {
  const es = sizeof<T>();
  const n4 = n & ~3;
  const xs = n << 3;
  let i: usize = 0;
  for (; i + 2 <= m; i += 2) {
    const a0 = A + i * n * es;
    const a1 = a0 + n * es;
    let j: usize = 0;
    for (; j + 4 <= count; j += 4) {
      const x0 = X + j * xs;
      const x1 = x0 + xs, x2 = x1 + xs, x3 = x2 + xs;
      let s00 = f64x2.splat(0), s01 = f64x2.splat(0), s02 = f64x2.splat(0), s03 = f64x2.splat(0);
      let s10 = f64x2.splat(0), s11 = f64x2.splat(0), s12 = f64x2.splat(0), s13 = f64x2.splat(0);
      for (let c: usize = 0; c < n4; c += 4) {
        const p0 = a0 + c * es, p1 = a1 + c * es;
        const u0 = lo2<T>(p0), v0 = hi2<T>(p0);
        const u1 = lo2<T>(p1), v1 = hi2<T>(p1);
        const o = c << 3;
        let wl = v128.load(x0 + o), wh = v128.load(x0 + o, 16);
        s00 = f64x2.add(s00, f64x2.add(f64x2.mul(u0, wl), f64x2.mul(v0, wh)));
        s10 = f64x2.add(s10, f64x2.add(f64x2.mul(u1, wl), f64x2.mul(v1, wh)));
        wl = v128.load(x1 + o); wh = v128.load(x1 + o, 16);
        s01 = f64x2.add(s01, f64x2.add(f64x2.mul(u0, wl), f64x2.mul(v0, wh)));
        s11 = f64x2.add(s11, f64x2.add(f64x2.mul(u1, wl), f64x2.mul(v1, wh)));
        wl = v128.load(x2 + o); wh = v128.load(x2 + o, 16);
        s02 = f64x2.add(s02, f64x2.add(f64x2.mul(u0, wl), f64x2.mul(v0, wh)));
        s12 = f64x2.add(s12, f64x2.add(f64x2.mul(u1, wl), f64x2.mul(v1, wh)));
        wl = v128.load(x3 + o); wh = v128.load(x3 + o, 16);
        s03 = f64x2.add(s03, f64x2.add(f64x2.mul(u0, wl), f64x2.mul(v0, wh)));
        s13 = f64x2.add(s13, f64x2.add(f64x2.mul(u1, wl), f64x2.mul(v1, wh)));
      }
      let t00 = hsum(s00), t01 = hsum(s01), t02 = hsum(s02), t03 = hsum(s03);
      let t10 = hsum(s10), t11 = hsum(s11), t12 = hsum(s12), t13 = hsum(s13);
      for (let c = n4; c < n; c++) {
        const a = <f64>load<T>(a0 + c * es), b = <f64>load<T>(a1 + c * es);
        const o = c << 3;
        const w0 = load<f64>(x0 + o), w1 = load<f64>(x1 + o), w2 = load<f64>(x2 + o), w3 = load<f64>(x3 + o);
        t00 += a * w0; t01 += a * w1; t02 += a * w2; t03 += a * w3;
        t10 += b * w0; t11 += b * w1; t12 += b * w2; t13 += b * w3;
      }
      const y = Y + (j * ldy + i) * 8;
      const ms = ldy << 3;
      store<f64>(y, t00); store<f64>(y + 8, t10);
      store<f64>(y + ms, t01); store<f64>(y + ms + 8, t11);
      store<f64>(y + 2 * ms, t02); store<f64>(y + 2 * ms + 8, t12);
      store<f64>(y + 3 * ms, t03); store<f64>(y + 3 * ms + 8, t13);
    }
    for (; j < count; j++) {
      store<f64>(Y + (j * ldy + i) * 8, dotRow<T>(a0, X + j * xs, n));
      store<f64>(Y + (j * ldy + i + 1) * 8, dotRow<T>(a1, X + j * xs, n));
    }
  }
  for (; i < m; i++) for (let j: usize = 0; j < count; j++) store<f64>(Y + (j * ldy + i) * 8, dotRow<T>(A + i * n * es, X + j * xs, n));
}

/** Rows of A per pass of mulTPanel: a 128-row strip of 4 columns stays in L1 across the vector tiles. */
const RB: usize = 128;

/**
 * Z[j·ldz + c] = Σ_i A[i·lda + c]·Q[j·m + i] for c < n, j < count (Z is overwritten; a column
 * range of a bigger product when lda, ldz > n). Register tile of 4 columns × 4 vectors over a
 * strip of RB rows; each strip's partial sums are added to Z.
 */
function mulTPanel<T>(A: usize, m: usize, n: usize, lda: usize, Q: usize, count: usize, Z: usize, ldz: usize): void {
  const es = sizeof<T>();
  const n4 = n & ~3;
  const qs = m << 3, zs = ldz << 3;
  for (let j: usize = 0; j < count; j++) memory.fill(Z + j * zs, 0, n << 3);
  for (let i0: usize = 0; i0 < m; i0 += RB) {
    const i1 = min(m, i0 + RB);
    for (let c: usize = 0; c < n4; c += 4) {
      let j: usize = 0;
      for (; j + 4 <= count; j += 4) {
        const q0 = Q + j * qs;
        let s00 = f64x2.splat(0), s01 = f64x2.splat(0), s10 = f64x2.splat(0), s11 = f64x2.splat(0);
        let s20 = f64x2.splat(0), s21 = f64x2.splat(0), s30 = f64x2.splat(0), s31 = f64x2.splat(0);
        let a = A + (i0 * lda + c) * es;
        for (let i = i0; i < i1; i++, a += lda * es) {
          const xl = lo2<T>(a), xh = hi2<T>(a);
          const qi = q0 + (i << 3);
          let q = v128.load64_splat(qi);
          s00 = f64x2.add(s00, f64x2.mul(xl, q)); s01 = f64x2.add(s01, f64x2.mul(xh, q));
          q = v128.load64_splat(qi + qs);
          s10 = f64x2.add(s10, f64x2.mul(xl, q)); s11 = f64x2.add(s11, f64x2.mul(xh, q));
          q = v128.load64_splat(qi + 2 * qs);
          s20 = f64x2.add(s20, f64x2.mul(xl, q)); s21 = f64x2.add(s21, f64x2.mul(xh, q));
          q = v128.load64_splat(qi + 3 * qs);
          s30 = f64x2.add(s30, f64x2.mul(xl, q)); s31 = f64x2.add(s31, f64x2.mul(xh, q));
        }
        const z = Z + j * zs + (c << 3);
        v128.store(z, f64x2.add(v128.load(z), s00)); v128.store(z, f64x2.add(v128.load(z, 16), s01), 16);
        v128.store(z + zs, f64x2.add(v128.load(z + zs), s10)); v128.store(z + zs, f64x2.add(v128.load(z + zs, 16), s11), 16);
        v128.store(z + 2 * zs, f64x2.add(v128.load(z + 2 * zs), s20)); v128.store(z + 2 * zs, f64x2.add(v128.load(z + 2 * zs, 16), s21), 16);
        v128.store(z + 3 * zs, f64x2.add(v128.load(z + 3 * zs), s30)); v128.store(z + 3 * zs, f64x2.add(v128.load(z + 3 * zs, 16), s31), 16);
      }
      for (; j < count; j++) {
        const q0 = Q + j * qs;
        let s0 = f64x2.splat(0), s1 = f64x2.splat(0);
        let a = A + (i0 * lda + c) * es;
        for (let i = i0; i < i1; i++, a += lda * es) {
          const q = v128.load64_splat(q0 + (i << 3));
          s0 = f64x2.add(s0, f64x2.mul(lo2<T>(a), q));
          s1 = f64x2.add(s1, f64x2.mul(hi2<T>(a), q));
        }
        const z = Z + j * zs + (c << 3);
        v128.store(z, f64x2.add(v128.load(z), s0)); v128.store(z, f64x2.add(v128.load(z, 16), s1), 16);
      }
    }
    for (let c = n4; c < n; c++) {
      for (let j: usize = 0; j < count; j++) {
        let s: f64 = 0;
        for (let i = i0; i < i1; i++) s += <f64>load<T>(A + (i * lda + c) * es) * load<f64>(Q + j * qs + (i << 3));
        const z = Z + j * zs + (c << 3);
        store<f64>(z, load<f64>(z) + s);
      }
    }
  }
}

export function mulPanelF32(A: usize, m: usize, n: usize, X: usize, count: usize, Y: usize, ldy: usize): void {
  mulPanel<f32>(A, m, n, X, count, Y, ldy);
}
export function mulPanelF64(A: usize, m: usize, n: usize, X: usize, count: usize, Y: usize, ldy: usize): void {
  mulPanel<f64>(A, m, n, X, count, Y, ldy);
}
export function mulTPanelF32(A: usize, m: usize, n: usize, lda: usize, Q: usize, count: usize, Z: usize, ldz: usize): void {
  mulTPanel<f32>(A, m, n, lda, Q, count, Z, ldz);
}
export function mulTPanelF64(A: usize, m: usize, n: usize, lda: usize, Q: usize, count: usize, Z: usize, ldz: usize): void {
  mulTPanel<f64>(A, m, n, lda, Q, count, Z, ldz);
}

/** Σ a[i]·b[i], float64 vectors of length n. */
export function dot64(a: usize, b: usize, n: usize): f64 {
  return dotRow<f64>(a, b, n);
}

/** y += α·x, float64 vectors of length n. */
export function axpy64(alpha: f64, x: usize, y: usize, n: usize): void {
  const av = f64x2.splat(alpha);
  let i: usize = 0;
  for (; i + 2 <= n; i += 2) v128.store(y + (i << 3), f64x2.add(v128.load(y + (i << 3)), f64x2.mul(av, v128.load(x + (i << 3)))));
  for (; i < n; i++) store<f64>(y + (i << 3), load<f64>(y + (i << 3)) + alpha * load<f64>(x + (i << 3)));
}
