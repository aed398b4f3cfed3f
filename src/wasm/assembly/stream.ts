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

/** Elements of a float32 array that are NaN or ±Inf. */
export function countNonFinite(ptr: usize, n: usize): u32 {
  const em = i32x4.splat(0x7f800000);
  let bad = i32x4.splat(0);
  let e: usize = 0;
  for (; e + 4 <= n; e += 4) bad = i32x4.sub(bad, i32x4.eq(v128.and(v128.load(ptr + (e << 2)), em), em));
  let c = <u32>(i32x4.extract_lane(bad, 0) + i32x4.extract_lane(bad, 1) + i32x4.extract_lane(bad, 2) + i32x4.extract_lane(bad, 3));
  for (; e < n; e++) if ((load<u32>(ptr + (e << 2)) & 0x7f800000) == 0x7f800000) c++;
  return c;
}
