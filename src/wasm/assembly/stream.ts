// A pure streaming read, for measuring memory bandwidth the way the kernels see it.

/** Σ of n float64 values (n a multiple of 16), eight SIMD accumulators: one 128-byte stride per iteration. */
export function sumF64(ptr: usize, n: usize): f64 {
  let s0 = f64x2.splat(0), s1 = f64x2.splat(0), s2 = f64x2.splat(0), s3 = f64x2.splat(0);
  let s4 = f64x2.splat(0), s5 = f64x2.splat(0), s6 = f64x2.splat(0), s7 = f64x2.splat(0);
  const end = ptr + (n << 3);
  for (let p = ptr; p < end; p += 128) {
    s0 = f64x2.add(s0, v128.load(p));
    s1 = f64x2.add(s1, v128.load(p, 16));
    s2 = f64x2.add(s2, v128.load(p, 32));
    s3 = f64x2.add(s3, v128.load(p, 48));
    s4 = f64x2.add(s4, v128.load(p, 64));
    s5 = f64x2.add(s5, v128.load(p, 80));
    s6 = f64x2.add(s6, v128.load(p, 96));
    s7 = f64x2.add(s7, v128.load(p, 112));
  }
  const s = f64x2.add(f64x2.add(f64x2.add(s0, s1), f64x2.add(s2, s3)), f64x2.add(f64x2.add(s4, s5), f64x2.add(s6, s7)));
  return f64x2.extract_lane(s, 0) + f64x2.extract_lane(s, 1);
}
