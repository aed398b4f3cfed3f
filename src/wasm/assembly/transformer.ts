// Causal multi-head attention for the built-in transformer (src/study/transformer/ops.ts), float64.
// q, k, v, out are [B·T, H·hd] row-major (head h in columns h·hd … h·hd+hd−1); P is [B, H, T, T].
// hd is even (RoPE rotates pairs), so every head row is walked as f64x2 lanes.

// @ts-ignore: decorator
@inline function dotHd(a: usize, b: usize, hd: usize): f64 {
  let s = f64x2.splat(0);
  for (let i: usize = 0; i < hd; i += 2) s = f64x2.add(s, f64x2.mul(v128.load(a + (i << 3)), v128.load(b + (i << 3))));
  return f64x2.extract_lane(s, 0) + f64x2.extract_lane(s, 1);
}

/** y[0..hd) += a·x[0..hd). */
// @ts-ignore: decorator
@inline function axpyHd(a: f64, x: usize, y: usize, hd: usize): void {
  const av = f64x2.splat(a);
  for (let i: usize = 0; i < hd; i += 2) {
    const o = i << 3;
    v128.store(y + o, f64x2.add(v128.load(y + o), f64x2.mul(av, v128.load(x + o))));
  }
}

/** P = softmax(q·kᵀ/√hd) over s ≤ t (0 above the diagonal); out_t = Σ_s P[t,s]·v_s. */
export function attnForward(q: usize, k: usize, v: usize, B: usize, T: usize, H: usize, hd: usize, P: usize, out: usize): void {
  const d = H * hd;
  const rs = d << 3;
  const scale = 1.0 / Math.sqrt(<f64>hd);
  for (let b: usize = 0; b < B; b++) {
    for (let h: usize = 0; h < H; h++) {
      const head = (b * T * d + h * hd) << 3;
      const pb = P + ((b * H + h) * T * T << 3);
      for (let t: usize = 0; t < T; t++) {
        const qt = q + head + t * rs;
        const pr = pb + (t * T << 3);
        let max = -Infinity;
        for (let s: usize = 0; s <= t; s++) {
          const x = dotHd(qt, k + head + s * rs, hd) * scale;
          store<f64>(pr + (s << 3), x);
          if (x > max) max = x;
        }
        let sum: f64 = 0;
        for (let s: usize = 0; s <= t; s++) {
          const e = Math.exp(load<f64>(pr + (s << 3)) - max);
          store<f64>(pr + (s << 3), e);
          sum += e;
        }
        const inv = 1.0 / sum;
        const ot = out + head + t * rs;
        memory.fill(ot, 0, hd << 3);
        for (let s: usize = 0; s <= t; s++) {
          const p = load<f64>(pr + (s << 3)) * inv;
          store<f64>(pr + (s << 3), p);
          axpyHd(p, v + head + s * rs, ot, hd);
        }
        if (t + 1 < T) memory.fill(pr + ((t + 1) << 3), 0, (T - t - 1) << 3);
      }
    }
  }
}

/**
 * Backward of attnForward given dOut: dq, dk, dv are overwritten. dS = P⊙(dP − Σ_s P·dP) with
 * dP[s] = dOut_t·v_s; dq_t = Σ_s dS·k_s/√hd, dk_s = Σ_t dS·q_t/√hd, dv_s = Σ_t P[t,s]·dOut_t.
 * dP is scratch for T float64.
 */
export function attnBackward(
  q: usize, k: usize, v: usize, P: usize, dOut: usize, B: usize, T: usize, H: usize, hd: usize,
  dq: usize, dk: usize, dv: usize, dP: usize,
): void {
  const d = H * hd;
  const rs = d << 3;
  const scale = 1.0 / Math.sqrt(<f64>hd);
  const bytes = (B * T * d) << 3;
  memory.fill(dq, 0, bytes);
  memory.fill(dk, 0, bytes);
  memory.fill(dv, 0, bytes);
  for (let b: usize = 0; b < B; b++) {
    for (let h: usize = 0; h < H; h++) {
      const head = (b * T * d + h * hd) << 3;
      const pb = P + ((b * H + h) * T * T << 3);
      for (let t: usize = 0; t < T; t++) {
        const ot = dOut + head + t * rs;
        const pr = pb + (t * T << 3);
        let pdp: f64 = 0;
        for (let s: usize = 0; s <= t; s++) {
          const p = load<f64>(pr + (s << 3));
          const x = dotHd(ot, v + head + s * rs, hd);
          store<f64>(dP + (s << 3), x);
          pdp += p * x;
          axpyHd(p, ot, dv + head + s * rs, hd);
        }
        const qt = q + head + t * rs;
        const dqt = dq + head + t * rs;
        for (let s: usize = 0; s <= t; s++) {
          const ds = load<f64>(pr + (s << 3)) * (load<f64>(dP + (s << 3)) - pdp) * scale;
          if (ds == 0) continue;
          axpyHd(ds, k + head + s * rs, dqt, hd);
          axpyHd(ds, qt, dk + head + s * rs, hd);
        }
      }
    }
  }
}
