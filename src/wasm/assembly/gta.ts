// The combine step of the "generalized task arithmetic" merges (src/merge/gta.ts): per element,
// in float64, in expert order — the same operations as the TypeScript loop it replaces, so
// the merged float32 values are identical bit for bit, two elements per SIMD lane pair.

/**
 * out[e] = fround(base[e] + λ·num[e] / div[e]) for e < n, from N sparsified float32 task vectors
 * (their offsets: u32 at `taus`) and float64 weights:
 *  - without consensus: num = Σᵢ wᵢτᵢ[e], div = wdiv (given);
 *  - with consensus: s = [Σᵢ wᵢτᵢ[e] ≥ 0], maskᵢ = s ? wᵢτᵢ[e] > 0 : wᵢτᵢ[e] < 0,
 *    num = Σᵢ maskᵢ·wᵢτᵢ[e], div = (normalize and Σᵢ maskᵢ·wᵢ ≠ 0) ? Σᵢ maskᵢ·wᵢ : 1.
 */
export function gtaCombine(base: usize, taus: usize, weights: usize, N: i32, n: usize, consensus: bool, normalize: bool, lambda: f64, wdiv: f64, out: usize): void {
  const lam = f64x2.splat(lambda);
  const zero = f64x2.splat(0);
  const one = f64x2.splat(1);
  let e: usize = 0;
  for (; e + 2 <= n; e += 2) {
    const b = f64x2.promote_low_f32x4(v128.load64_zero(base + (e << 2)));
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
    const r = f64x2.add(b, f64x2.div(f64x2.mul(lam, num), div));
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
    store<f32>(out + (e << 2), <f32>(<f64>load<f32>(base + (e << 2)) + (lambda * num) / div));
  }
}
