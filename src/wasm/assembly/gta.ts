// The combine step of the "generalized task arithmetic" merges (src/merge/gta.ts): per element,
// in float64, in expert order — the same operations as the TypeScript loop it replaces, so
// the merged float32 values are identical bit for bit, two elements per SIMD lane pair.

/**
 * out[e] = fround(base[e] + λ·num[e] / div[e]) for e < n (base = 0: fround(λ·num/div), no
 * addition), from N sparsified float32 task vectors (their offsets: u32 at `taus`) and float64
 * weights:
 *  - without consensus: num = Σᵢ wᵢτᵢ[e], div = wdiv (given);
 *  - with consensus: s = [Σᵢ wᵢτᵢ[e] ≥ 0], maskᵢ = s ? wᵢτᵢ[e] > 0 : wᵢτᵢ[e] < 0,
 *    num = Σᵢ maskᵢ·wᵢτᵢ[e], div = (normalize and Σᵢ maskᵢ·wᵢ ≠ 0) ? Σᵢ maskᵢ·wᵢ : 1.
 */
export function gtaCombine(base: usize, taus: usize, weights: usize, N: i32, n: usize, consensus: bool, normalize: bool, lambda: f64, wdiv: f64, out: usize): void {
  const lam = f64x2.splat(lambda);
  const zero = f64x2.splat(0);
  const one = f64x2.splat(1);
  let e: usize = 0;
  // four elements a step (one 16-byte load per expert, two float64 lane pairs), then pairs, then singles
  for (; e + 4 <= n; e += 4) {
    let tlo = zero, thi = zero;
    for (let i = 0; i < N; i++) {
      const t = v128.load(<usize>load<u32>(taus + (<usize>i << 2)) + (e << 2));
      const w = f64x2.splat(load<f64>(weights + (<usize>i << 3)));
      tlo = f64x2.add(tlo, f64x2.mul(w, f64x2.promote_low_f32x4(t)));
      thi = f64x2.add(thi, f64x2.mul(w, f64x2.promote_low_f32x4(v128.shuffle<i32>(t, t, 2, 3, 2, 3))));
    }
    let nlo = tlo, nhi = thi, dlo = f64x2.splat(wdiv), dhi = dlo;
    if (consensus) {
      const plo = f64x2.ge(tlo, zero), phi = f64x2.ge(thi, zero);
      nlo = zero;
      nhi = zero;
      let glo = zero, ghi = zero;
      for (let i = 0; i < N; i++) {
        const t = v128.load(<usize>load<u32>(taus + (<usize>i << 2)) + (e << 2));
        const w = f64x2.splat(load<f64>(weights + (<usize>i << 3)));
        const vlo = f64x2.mul(w, f64x2.promote_low_f32x4(t));
        const vhi = f64x2.mul(w, f64x2.promote_low_f32x4(v128.shuffle<i32>(t, t, 2, 3, 2, 3)));
        const mlo = v128.bitselect(f64x2.gt(vlo, zero), f64x2.lt(vlo, zero), plo);
        const mhi = v128.bitselect(f64x2.gt(vhi, zero), f64x2.lt(vhi, zero), phi);
        nlo = f64x2.add(nlo, v128.and(vlo, mlo));
        nhi = f64x2.add(nhi, v128.and(vhi, mhi));
        glo = f64x2.add(glo, v128.and(w, mlo));
        ghi = f64x2.add(ghi, v128.and(w, mhi));
      }
      dlo = normalize ? v128.bitselect(one, glo, f64x2.eq(glo, zero)) : one;
      dhi = normalize ? v128.bitselect(one, ghi, f64x2.eq(ghi, zero)) : one;
    }
    let rlo = f64x2.div(f64x2.mul(lam, nlo), dlo);
    let rhi = f64x2.div(f64x2.mul(lam, nhi), dhi);
    if (base) {
      const b = v128.load(base + (e << 2));
      rlo = f64x2.add(f64x2.promote_low_f32x4(b), rlo);
      rhi = f64x2.add(f64x2.promote_low_f32x4(v128.shuffle<i32>(b, b, 2, 3, 2, 3)), rhi);
    }
    v128.store(out + (e << 2), v128.shuffle<i32>(f32x4.demote_f64x2_zero(rlo), f32x4.demote_f64x2_zero(rhi), 0, 1, 4, 5));
  }
  for (; e + 2 <= n; e += 2) {
    let total = zero;
    for (let i = 0; i < N; i++) {
      const t = f64x2.promote_low_f32x4(v128.load64_zero(<usize>load<u32>(taus + (<usize>i << 2)) + (e << 2)));
      total = f64x2.add(total, f64x2.mul(f64x2.splat(load<f64>(weights + (<usize>i << 3))), t));
    }
    let num = total, div = f64x2.splat(wdiv);
    if (consensus) {
      const positive = f64x2.ge(total, zero);
      num = zero;
      let den = zero;
      for (let i = 0; i < N; i++) {
        const w = f64x2.splat(load<f64>(weights + (<usize>i << 3)));
        const v = f64x2.mul(w, f64x2.promote_low_f32x4(v128.load64_zero(<usize>load<u32>(taus + (<usize>i << 2)) + (e << 2))));
        const mask = v128.bitselect(f64x2.gt(v, zero), f64x2.lt(v, zero), positive);
        num = f64x2.add(num, v128.and(v, mask));
        den = f64x2.add(den, v128.and(w, mask));
      }
      div = normalize ? v128.bitselect(one, den, f64x2.eq(den, zero)) : one;
    }
    const q = f64x2.div(f64x2.mul(lam, num), div);
    const r = base ? f64x2.add(f64x2.promote_low_f32x4(v128.load64_zero(base + (e << 2))), q) : q;
    v128.store64_lane(out + (e << 2), f32x4.demote_f64x2_zero(r), 0);
  }
  for (; e < n; e++) {
    let total: f64 = 0;
    for (let i = 0; i < N; i++) total += load<f64>(weights + (<usize>i << 3)) * <f64>load<f32>(<usize>load<u32>(taus + (<usize>i << 2)) + (e << 2));
    let num = total, div = wdiv;
    if (consensus) {
      const positive = total >= 0;
      num = 0;
      let den: f64 = 0;
      for (let i = 0; i < N; i++) {
        const w = load<f64>(weights + (<usize>i << 3));
        const v = w * <f64>load<f32>(<usize>load<u32>(taus + (<usize>i << 2)) + (e << 2));
        if (positive ? v > 0 : v < 0) {
          num += v;
          den += w;
        }
      }
      div = normalize && den != 0 ? den : 1;
    }
    const q = (lambda * num) / div;
    store<f32>(out + (e << 2), <f32>(base ? <f64>load<f32>(base + (e << 2)) + q : q));
  }
}

/** τ = fround(θ − θ₀) of float32 weights, subtracted in float64 as the TypeScript code does. */
// @ts-ignore: decorator
@inline function tau4(theta: usize, base: usize, e: usize): v128 {
  const t = v128.load(theta + (e << 2)), b = v128.load(base + (e << 2));
  const lo = f64x2.sub(f64x2.promote_low_f32x4(t), f64x2.promote_low_f32x4(b));
  const hi = f64x2.sub(f64x2.promote_low_f32x4(v128.shuffle<i32>(t, t, 2, 3, 2, 3)), f64x2.promote_low_f32x4(v128.shuffle<i32>(b, b, 2, 3, 2, 3)));
  return v128.shuffle<i32>(f32x4.demote_f64x2_zero(lo), f32x4.demote_f64x2_zero(hi), 0, 1, 4, 5);
}

/** out = fround(θ − θ₀) for n float32 weights (out may be θ). */
export function taskVector(theta: usize, base: usize, n: usize, out: usize): void {
  let e: usize = 0;
  for (; e + 4 <= n; e += 4) v128.store(out + (e << 2), tau4(theta, base, e));
  for (; e < n; e++) store<f32>(out + (e << 2), <f32>(<f64>load<f32>(theta + (e << 2)) - <f64>load<f32>(base + (e << 2))));
}

/** #{e < n : |x[e]| > t}. */
export function countAbove(ptr: usize, n: usize, t: f32): u32 {
  const tv = f32x4.splat(t);
  let c = i32x4.splat(0);
  let e: usize = 0;
  for (; e + 4 <= n; e += 4) c = i32x4.sub(c, f32x4.gt(f32x4.abs(v128.load(ptr + (e << 2))), tv));
  let r = <u32>(i32x4.extract_lane(c, 0) + i32x4.extract_lane(c, 1) + i32x4.extract_lane(c, 2) + i32x4.extract_lane(c, 3));
  for (; e < n; e++) if (abs(load<f32>(ptr + (e << 2))) > t) r++;
  return r;
}

/**
 * A magnitude cut in place: keep x[e] when |x[e]| > t, and the first `ties` (flat order) with
 * |x[e]| = t; zero the rest. Returns the ties left (so row chunks cut in order keep exactly what
 * cutting the whole tensor would).
 */
export function applyCut(ptr: usize, n: usize, t: f32, ties: u32): u32 {
  const tv = f32x4.splat(t);
  let e: usize = 0;
  for (; e + 4 <= n; e += 4) {
    const p = ptr + (e << 2);
    const x = v128.load(p);
    const m = f32x4.abs(x);
    const eq = f32x4.eq(m, tv);
    if (ties > 0 && v128.any_true(eq)) {
      for (let l: usize = 0; l < 4; l++) {
        const a = abs(load<f32>(p + (l << 2)));
        if (a == t && ties > 0) ties--;
        else if (!(a > t)) store<f32>(p + (l << 2), 0);
      }
    } else {
      v128.store(p, v128.and(x, f32x4.gt(m, tv)));
    }
  }
  for (; e < n; e++) {
    const a = abs(load<f32>(ptr + (e << 2)));
    if (a == t && ties > 0) ties--;
    else if (!(a > t)) store<f32>(ptr + (e << 2), 0);
  }
  return ties;
}
