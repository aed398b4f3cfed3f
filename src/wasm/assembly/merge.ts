// The fused merge kernel (src/merge/fused.ts): stored bytes of base + N experts in, encoded
// output bytes out, block by block in kernel memory — decode, task vectors, sparsify (TIES cut or
// DARE drop), combine (src/wasm/assembly/gta.ts, float64 in expert order) and encode — with the
// same float operations as the float32 pipeline it replaces, so the bytes written are identical.
import { decodePadded, CODE_F32, CODE_F16, CODE_BF16, CODE_DELTA } from './dtype';
import { applyCut, gtaCombine } from './gta';

/** Elements per block: every source's block stays in L1/L2 between decode and combine. */
const MB: usize = 1024;

/** What `mergeRange` computes. */
const KIND_LINEAR: u32 = 0; // θ = Σ wᵢθᵢ / wdiv (weight_avg)
const KIND_GTA: u32 = 1; // θ = θ₀ + λ·combine(sparsify(θᵢ − θ₀))
const KIND_SLERP: u32 = 2; // θ = s0·a + s1·b (a = base or expert 0, b = the last expert)

const FLAG_CUT: u32 = 1;
const FLAG_DROP: u32 = 2;
const FLAG_CONSENSUS: u32 = 4;
const FLAG_NORMALIZE: u32 = 8;
const FLAG_SLERP_BASE: u32 = 16;
const FLAG_READ_BASE: u32 = 32; // decode the base (and count its NaN/Inf) even when the rule does not use it

/** Bytes of scratch `mergeRange` needs for N experts: N + 2 float32 blocks, N DARE mask blocks, a pointer table and lane staging. */
export function mergeScratch(N: i32): usize {
  return (<usize>(2 * N + 2) * MB << 2) + (<usize>N << 2) + 64 + 128;
}

// ── DARE's drop mask: the xoshiro128** stream of src/merge/random.ts, started at the state the
// caller jumped to for this expert and element (so chunks and threads draw what a whole-tensor
// merge would), one draw per element in flat order.

// @ts-ignore: decorator
@inline function rotl(x: u32, k: u32): u32 {
  return (x << k) | (x >>> (32 - k));
}

/**
 * DARE drop in place over x[0, n): draw r (xoshiro128**, state 4 × u32 at st, advanced and
 * stored back), keep x[j] when r < thr (thr = density·2³², i.e. r/2³² < density), scaled by
 * `scale` in float64 and rounded to float32; zero it otherwise.
 */
export function dareDrop(x: usize, n: usize, st: usize, thr: f64, scale: f64): void {
  let a = load<u32>(st), b = load<u32>(st, 4), c = load<u32>(st, 8), d = load<u32>(st, 12);
  for (let j: usize = 0; j < n; j++) {
    const r = rotl(b * 5, 7) * 9;
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    const p = x + (j << 2);
    store<f32>(p, <f64>r < thr ? <f32>(<f64>load<f32>(p) * scale) : 0);
  }
  store<u32>(st, a);
  store<u32>(st, b, 4);
  store<u32>(st, c, 8);
  store<u32>(st, d, 12);
}

/**
 * DARE keep masks of one block for every expert at once: the experts' xoshiro128** streams run
 * side by side in the four i32 lanes (four experts a group), one draw per element, so each
 * stream yields exactly the numbers `dareDrop` draws one by one. Element j of expert i is kept
 * iff r < ⌈thr⌉ (for an integer r, the same as r < thr); mask words (all ones / zero) go to
 * masks + 4·(i·MB + j). Experts without a drop (thr < 0) draw nothing and get no mask. `lanes`:
 * 96 bytes of staging.
 */
function dareMasks(states: usize, N: i32, len: usize, masks: usize, lanes: usize): void {
  for (let g = 0; g < N; g += 4) {
    // stage lane l = expert g + l: state words, threshold, always-keep (lanes past N or without a drop: all kept)
    let any = false;
    for (let l = 0; l < 4; l++) {
      const i = g + l;
      const sp = states + (<usize>i << 5);
      const drop = i < N && load<f64>(sp, 16) >= 0;
      any = any || drop;
      for (let w = 0; w < 4; w++) store<u32>(lanes + (<usize>w << 4) + (<usize>l << 2), drop ? load<u32>(sp + (<usize>w << 2)) : 0);
      const T = drop ? Math.ceil(load<f64>(sp, 16)) : 0;
      store<u32>(lanes + 64 + (<usize>l << 2), T < 4294967296 ? <u32>T : 0);
      store<u32>(lanes + 80 + (<usize>l << 2), !drop || T >= 4294967296 ? 0xffffffff : 0);
    }
    if (!any) continue;
    let a = v128.load(lanes), b = v128.load(lanes, 16), c = v128.load(lanes, 32), d = v128.load(lanes, 48);
    const T = v128.load(lanes, 64), always = v128.load(lanes, 80);
    const m0p = masks + (<usize>g * MB << 2);
    const rows = min(4, N - g);
    let j: usize = 0;
    for (; j < len; j += 4) {
      // four draws (elements j … j + 3), lanes = experts
      let m0 = i32x4.splat(0), m1 = m0, m2 = m0, m3 = m0;
      const steps = min<usize>(4, len - j);
      for (let k: usize = 0; k < steps; k++) {
        // r = rotl(b·5, 7)·9, then the state update (b·5 = (b << 2) + b, y·9 = (y << 3) + y)
        const b5 = i32x4.add(i32x4.shl(b, 2), b);
        const y = v128.or(i32x4.shl(b5, 7), i32x4.shr_u(b5, 25));
        const r = i32x4.add(i32x4.shl(y, 3), y);
        const t = i32x4.shl(b, 9);
        c = v128.xor(c, a);
        d = v128.xor(d, b);
        b = v128.xor(b, c);
        a = v128.xor(a, d);
        c = v128.xor(c, t);
        d = v128.or(i32x4.shl(d, 11), i32x4.shr_u(d, 21));
        const m = v128.or(i32x4.lt_u(r, T), always);
        if (k == 0) m0 = m;
        else if (k == 1) m1 = m;
        else if (k == 2) m2 = m;
        else m3 = m;
      }
      // transpose: rows (elements) × lanes (experts) → one row of four elements per expert
      const t0 = v128.shuffle<i32>(m0, m1, 0, 4, 1, 5), t1 = v128.shuffle<i32>(m2, m3, 0, 4, 1, 5);
      const t2 = v128.shuffle<i32>(m0, m1, 2, 6, 3, 7), t3 = v128.shuffle<i32>(m2, m3, 2, 6, 3, 7);
      const at = m0p + (j << 2);
      v128.store(at, v128.shuffle<i32>(t0, t1, 0, 1, 4, 5));
      if (rows > 1) v128.store(at + (MB << 2), v128.shuffle<i32>(t0, t1, 2, 3, 6, 7));
      if (rows > 2) v128.store(at + (MB << 3), v128.shuffle<i32>(t2, t3, 0, 1, 4, 5));
      if (rows > 3) v128.store(at + (3 * MB << 2), v128.shuffle<i32>(t2, t3, 2, 3, 6, 7));
    }
    v128.store(lanes, a);
    v128.store(lanes, b, 16);
    v128.store(lanes, c, 32);
    v128.store(lanes, d, 48);
    for (let l = 0; l < rows; l++) {
      const sp = states + (<usize>(g + l) << 5);
      if (load<f64>(sp, 16) < 0) continue;
      for (let w = 0; w < 4; w++) store<u32>(sp + (<usize>w << 2), load<u32>(lanes + (<usize>w << 4) + (<usize>l << 2)));
    }
  }
}

/** x[0, L) = mask ? fround(x·scale) (in float64) : 0, four at a time (L a multiple of 4; x zero past len). */
function applyDrop(x: usize, L: usize, mask: usize, scale: f64): void {
  const s = f64x2.splat(scale);
  const scaled = scale != 1;
  for (let j: usize = 0; j < L; j += 4) {
    let v = v128.load(x + (j << 2));
    if (scaled) {
      const lo = f64x2.mul(f64x2.promote_low_f32x4(v), s);
      const hi = f64x2.mul(f64x2.promote_low_f32x4(v128.shuffle<i32>(v, v, 2, 3, 2, 3)), s);
      v = v128.shuffle<i32>(f32x4.demote_f64x2_zero(lo), f32x4.demote_f64x2_zero(hi), 0, 1, 4, 5);
    }
    v128.store(x + (j << 2), v128.and(v, v128.load(mask + (j << 2))));
  }
}

// ── encode

/** float32 bits → bfloat16 bits, round to nearest even (NaN stays a quiet NaN). */
// @ts-ignore: decorator
@inline function bf16x4(x: v128): v128 {
  const nan = i32x4.gt_u(v128.and(x, i32x4.splat(0x7fffffff)), i32x4.splat(0x7f800000));
  const rounded = i32x4.shr_u(i32x4.add(i32x4.add(x, i32x4.splat(0x7fff)), v128.and(i32x4.shr_u(x, 16), i32x4.splat(1))), 16);
  const quiet = v128.or(i32x4.shr_u(x, 16), i32x4.splat(0x0040));
  return v128.bitselect(quiet, rounded, nan);
}

/** float32 bits → float16 bits, round to nearest even (as src/safetensors/dtype.ts f32BitsToF16Bits). */
function f16Of(x: u32): u32 {
  const sign = (x >>> 16) & 0x8000;
  const exp = <i32>((x >>> 23) & 0xff);
  const mant = x & 0x7fffff;
  if (exp == 0xff) return mant ? sign | 0x7e00 | (mant >>> 13) : sign | 0x7c00;
  const e = exp - 112;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    const sig = mant | 0x800000;
    const shift = <u32>(14 - e);
    let m = sig >>> shift;
    const rem = sig & ((1 << shift) - 1);
    const half: u32 = 1 << (shift - 1);
    if (rem > half || (rem == half && (m & 1) != 0)) m++;
    return sign | m;
  }
  let h = (<u32>e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (h & 1) != 0)) h++;
  return sign | h;
}

/** out = n float32 values at x encoded as `code` (F32 / F16 / BF16). */
export function encodeBlock(x: usize, n: usize, code: u32, out: usize): void {
  if (code == CODE_F32) {
    memory.copy(out, x, n << 2);
    return;
  }
  let j: usize = 0;
  if (code == CODE_BF16) {
    for (; j + 8 <= n; j += 8) {
      v128.store(out + (j << 1), i16x8.narrow_i32x4_u(bf16x4(v128.load(x + (j << 2))), bf16x4(v128.load(x + (j << 2), 16))));
    }
    for (; j < n; j++) {
      const b = load<u32>(x + (j << 2));
      store<u16>(out + (j << 1), <u16>((b & 0x7fffffff) > 0x7f800000 ? (b >>> 16) | 0x40 : (b + 0x7fff + ((b >>> 16) & 1)) >>> 16));
    }
  } else if (code == CODE_F16) {
    for (; j < n; j++) store<u16>(out + (j << 1), <u16>f16Of(load<u32>(x + (j << 2))));
  }
}

// ── counts

/** #NaN/Inf in n float32 values. */
function nonFinite(x: usize, n: usize): u32 {
  const em = i32x4.splat(0x7f800000);
  let bad = i32x4.splat(0);
  let j: usize = 0;
  for (; j + 4 <= n; j += 4) bad = i32x4.sub(bad, i32x4.eq(v128.and(v128.load(x + (j << 2)), em), em));
  let c = <u32>(i32x4.extract_lane(bad, 0) + i32x4.extract_lane(bad, 1) + i32x4.extract_lane(bad, 2) + i32x4.extract_lane(bad, 3));
  for (; j < n; j++) if ((load<u32>(x + (j << 2)) & 0x7f800000) == 0x7f800000) c++;
  return c;
}

/**
 * Expert i's weights θ for elements [e, e + len) as float32 at x, zero-padded to L (src as in
 * mergeRange); a LoRA expert's θ = fround(θ₀ + ΔW), as the float32 path forms it (base32 holds θ₀).
 */
// @ts-ignore: decorator
@inline function decodeExpert(src: usize, i: i32, e: usize, len: usize, L: usize, base32: usize, x: usize): void {
  const d = src + (<usize>(i + 1) << 3);
  const code = load<u32>(d, 4);
  decodePadded(load<u32>(d), code == CODE_DELTA ? CODE_F32 : code, e, len, L, x);
  if (code == CODE_DELTA) for (let j: usize = 0; j < L; j += 4) v128.store(x + (j << 2), f32x4.add(v128.load(x + (j << 2)), v128.load(base32 + (j << 2))));
}

/** counts[1 + i] += #NaN/Inf among expert i's n decoded values at x. */
// @ts-ignore: decorator
@inline function countInput(counts: usize, i: i32, x: usize, n: usize): void {
  const c = counts + (<usize>(i + 1) << 2);
  store<u32>(c, load<u32>(c) + nonFinite(x, n));
}

/** #{|x| > 65504}: finite float32 values an F16 output would turn into ±Inf. */
function overF16(x: usize, n: usize): u32 {
  let c: u32 = 0;
  const lim = f32x4.splat(65504);
  let acc = i32x4.splat(0);
  let j: usize = 0;
  for (; j + 4 <= n; j += 4) acc = i32x4.sub(acc, f32x4.gt(f32x4.abs(v128.load(x + (j << 2))), lim));
  c = <u32>(i32x4.extract_lane(acc, 0) + i32x4.extract_lane(acc, 1) + i32x4.extract_lane(acc, 2) + i32x4.extract_lane(acc, 3));
  for (; j < n; j++) if (abs(load<f32>(x + (j << 2))) > 65504) c++;
  return c;
}

/**
 * Merge elements [e0, e0 + count) of one tensor. src: (N+1) × [ptr u32, code u32] over stored
 * bytes (entry 0 the base; its ptr may be 0 when the method does not read it). Per expert i:
 * weights f64 at w + 8i; cut threshold f32 at cuts + 8i (< 0: no cut) and ties-left u32 at
 * cuts + 8i + 4 (updated: row chunks cut in order keep what the whole tensor would); DARE at
 * states + 32i: stream state 4 × u32 at element e0 (advanced), then f64 thr (< 0: no drop) and
 * f64 scale (see dareDrop). The result is
 * encoded as outCode at out. counts (u32): [0] base, [1 + i] expert i NaN/Inf inputs, [N + 1]
 * NaN/Inf outputs, [N + 2] outputs beyond the F16 range — all added to.
 */
export function mergeRange(
  src: usize, N: i32, e0: usize, count: usize, kind: u32, flags: u32,
  w: usize, lambda: f64, wdiv: f64, s0: f64, s1: f64,
  cuts: usize, states: usize,
  out: usize, outCode: u32, counts: usize, scratch: usize,
): void {
  const base32 = scratch;
  const out32 = scratch + (MB << 2);
  const masks = scratch + (<usize>(N + 2) * MB << 2);
  const table = masks + (<usize>N * MB << 2);
  const lanes = (table + (<usize>N << 2) + 63) & ~63;
  const outSize: usize = outCode == CODE_F32 ? 4 : 2;
  const basePtr = load<u32>(src), baseCode = load<u32>(src, 4);
  const needBase = kind == KIND_GTA || (flags & (FLAG_SLERP_BASE | FLAG_READ_BASE)) != 0;
  // Rules that keep every input's value (no cut, drop or sign election) turn any NaN/Inf input
  // into a NaN/Inf output (finite weights; 0·Inf and 0·NaN are NaN), so their inputs are counted
  // only in a block whose output has one: the same counts, without a pass per expert and block.
  const lazyCount = (flags & (FLAG_CUT | FLAG_DROP | FLAG_CONSENSUS)) == 0;
  for (let i = 0; i < N; i++) store<u32>(table + (<usize>i << 2), <u32>(out32 + (<usize>(i + 1) * MB << 2)));
  for (let b0: usize = 0; b0 < count; b0 += MB) {
    const len = min(MB, count - b0);
    const L = (len + 3) & ~3;
    const e = e0 + b0;
    if (needBase) {
      decodePadded(basePtr, baseCode, e, len, L, base32);
      store<u32>(counts, load<u32>(counts) + nonFinite(base32, len));
    }
    if (kind == KIND_GTA && (flags & FLAG_CUT) == 0 && (flags & FLAG_DROP) != 0) dareMasks(states, N, len, masks, lanes);
    for (let i = 0; i < N; i++) {
      const x = <usize>load<u32>(table + (<usize>i << 2));
      decodeExpert(src, i, e, len, L, base32, x);
      if (!lazyCount) countInput(counts, i, x, len);
      if (kind != KIND_GTA) continue;
      // τ = θ − θ₀ in float32: the correctly rounded difference, as fround of the float64 one
      for (let j: usize = 0; j < L; j += 4) v128.store(x + (j << 2), f32x4.sub(v128.load(x + (j << 2)), v128.load(base32 + (j << 2))));
      if (flags & FLAG_CUT) {
        const cp = cuts + (<usize>i << 3);
        if (load<f32>(cp) >= 0) store<u32>(cp, applyCut(x, len, load<f32>(cp), load<u32>(cp, 4)), 4);
      } else if (flags & FLAG_DROP) {
        const sp = states + (<usize>i << 5);
        if (load<f64>(sp, 16) >= 0) applyDrop(x, L, masks + (<usize>i * MB << 2), load<f64>(sp, 24));
      }
    }
    if (kind == KIND_SLERP) {
      const a = (flags & FLAG_SLERP_BASE) != 0 ? base32 : <usize>load<u32>(table);
      const b = <usize>load<u32>(table + (<usize>(N - 1) << 2));
      for (let j: usize = 0; j < len; j++) {
        store<f32>(out32 + (j << 2), <f32>(s0 * <f64>load<f32>(a + (j << 2)) + s1 * <f64>load<f32>(b + (j << 2))));
      }
    } else {
      const consensus = (flags & FLAG_CONSENSUS) != 0;
      const normalize = (flags & FLAG_NORMALIZE) != 0;
      gtaCombine(kind == KIND_GTA ? base32 : 0, table, w, N, len, consensus, normalize, kind == KIND_GTA ? lambda : 1, wdiv, out32);
    }
    const cb = counts + (<usize>(N + 1) << 2);
    const badOut = nonFinite(out32, len);
    store<u32>(cb, load<u32>(cb) + badOut);
    if (lazyCount && badOut != 0) {
      // the inputs of this block again, as decoded above (the buffers now hold task vectors)
      for (let i = 0; i < N; i++) {
        const x = <usize>load<u32>(table + (<usize>i << 2));
        decodeExpert(src, i, e, len, L, base32, x);
        countInput(counts, i, x, len);
      }
    }
    if (outCode == CODE_F16) store<u32>(cb, load<u32>(cb, 4) + overF16(out32, len), 4);
    encodeBlock(out32, len, outCode, out + b0 * outSize);
  }
}

/**
 * mergeRange for one part of a range split between threads: with a TIES cut, first takes off
 * each expert's ties budget (u32 at cuts + 8i + 4) what a cut of the elements
 * [tiesFrom, e0) before this part consumes (tiesEqual), so the part keeps exactly what one cut
 * in flat order would. tiesFrom = e0 for the first part, and for every part whose budget the
 * caller set from the prescan's counts (src/merge/ties-budgets.ts).
 */
export function mergePart(
  src: usize, N: i32, e0: usize, count: usize, kind: u32, flags: u32,
  w: usize, lambda: f64, wdiv: f64, s0: f64, s1: f64,
  cuts: usize, states: usize,
  out: usize, outCode: u32, counts: usize, scratch: usize, tiesFrom: usize,
): void {
  if ((flags & FLAG_CUT) != 0 && tiesFrom < e0) {
    const eq = scratch + (<usize>(N + 2) * MB << 2); // the mask blocks, unused by a cut
    tiesEqual(src, N, tiesFrom, e0 - tiesFrom, cuts, eq, scratch);
    for (let i = 0; i < N; i++) {
      const cp = cuts + (<usize>i << 3);
      if (load<f32>(cp) < 0) continue;
      const ties = load<u32>(cp, 4), c = load<u32>(eq + (<usize>i << 2));
      store<u32>(cp, ties > c ? ties - c : 0, 4);
    }
  }
  mergeRange(src, N, e0, count, kind, flags, w, lambda, wdiv, s0, s1, cuts, states, out, outCode, counts, scratch);
}

/**
 * Rows [r0, r0 + rows) of a LoRA delta ΔW = scale·B·A (B [m, r], A [r, n], float32) as float32
 * at out: per row, Σₖ B[row, k]·A[k, :] in float64 in k order (skipping B = 0), then ×scale and
 * rounded — the arithmetic of src/checkpoint/lowrank.ts denseDeltaRows, two columns a lane pair.
 * acc: n float64 of scratch.
 */
export function loraRows(A: usize, B: usize, r: i32, n: usize, r0: usize, rows: usize, scale: f64, out: usize, acc: usize): void {
  const s = f64x2.splat(scale);
  for (let i: usize = 0; i < rows; i++) {
    memory.fill(acc, 0, n << 3);
    const bRow = B + ((r0 + i) * <usize>r << 2);
    for (let k = 0; k < r; k++) {
      const b = <f64>load<f32>(bRow + (<usize>k << 2));
      if (b == 0) continue;
      const bv = f64x2.splat(b);
      const aRow = A + (<usize>k * n << 2);
      let j: usize = 0;
      for (; j + 2 <= n; j += 2) v128.store(acc + (j << 3), f64x2.add(v128.load(acc + (j << 3)), f64x2.mul(bv, f64x2.promote_low_f32x4(v128.load64_zero(aRow + (j << 2))))));
      for (; j < n; j++) store<f64>(acc + (j << 3), load<f64>(acc + (j << 3)) + b * <f64>load<f32>(aRow + (j << 2)));
    }
    const o = out + (i * n << 2);
    let j: usize = 0;
    for (; j + 2 <= n; j += 2) v128.store64_lane(o + (j << 2), f32x4.demote_f64x2_zero(f64x2.mul(s, v128.load(acc + (j << 3)))), 0);
    for (; j < n; j++) store<f32>(o + (j << 2), <f32>(scale * load<f64>(acc + (j << 3))));
  }
}

/**
 * How many |τᵢ| equal expert i's TIES cut threshold over elements [e0, e0 + count), into u32 at
 * out + 4i (0 for experts without a cut): what a cut of that range consumes of the ties budget,
 * so the next range (another thread's) starts with what a cut in flat order would have left.
 * src, cuts and scratch as in mergeRange.
 */
export function tiesEqual(src: usize, N: i32, e0: usize, count: usize, cuts: usize, out: usize, scratch: usize): void {
  const base32 = scratch;
  const x = scratch + (MB << 2);
  for (let i = 0; i < N; i++) store<u32>(out + (<usize>i << 2), 0);
  for (let b0: usize = 0; b0 < count; b0 += MB) {
    const len = min(MB, count - b0);
    const L = (len + 3) & ~3;
    decodePadded(load<u32>(src), load<u32>(src, 4), e0 + b0, len, L, base32);
    for (let i = 0; i < N; i++) {
      const t = load<f32>(cuts + (<usize>i << 3));
      if (t < 0) continue;
      const d = src + (<usize>(i + 1) << 3);
      decodePadded(load<u32>(d), load<u32>(d, 4), e0 + b0, len, L, x);
      const tv = f32x4.splat(t);
      let acc = i32x4.splat(0);
      let j: usize = 0;
      for (; j + 4 <= len; j += 4) acc = i32x4.sub(acc, f32x4.eq(f32x4.abs(f32x4.sub(v128.load(x + (j << 2)), v128.load(base32 + (j << 2)))), tv));
      let c = <u32>(i32x4.extract_lane(acc, 0) + i32x4.extract_lane(acc, 1) + i32x4.extract_lane(acc, 2) + i32x4.extract_lane(acc, 3));
      for (; j < len; j++) if (abs(load<f32>(x + (j << 2)) - load<f32>(base32 + (j << 2))) == t) c++;
      const o = out + (<usize>i << 2);
      store<u32>(o, load<u32>(o) + c);
    }
  }
}

/**
 * SLERP's whole-tensor sums over elements [e0, e0 + count), as src/merge/methods/slerp.ts
 * SlerpSums: eight float64 lanes each of Σa², Σb², Σab at sums (24 f64: a² lanes, b² lanes, ab
 * lanes), then at sums + 192 the elements summed so far (f64) — the block's first element goes
 * to lane (that count) mod 8, so chunks summed in row order give the whole tensor's lanes. Eight
 * elements a step in four f64x2 registers per sum (the products of float32 values are exact in
 * float64). a = base (useBase) or expert 0, b = the last expert (src as in mergeRange).
 */
export function slerpSums(src: usize, N: i32, e0: usize, count: usize, useBase: bool, sums: usize, scratch: usize): void {
  const a32 = scratch, b32 = scratch + (MB << 2);
  const ad = useBase ? src : src + 8;
  const bd = src + (<usize>N << 3);
  const seen = <usize>load<f64>(sums, 192);
  for (let b0: usize = 0; b0 < count; b0 += MB) {
    const len = min(MB, count - b0);
    decodePadded(load<u32>(ad), load<u32>(ad, 4), e0 + b0, len, len, a32);
    decodePadded(load<u32>(bd), load<u32>(bd, 4), e0 + b0, len, len, b32);
    const first = seen + b0;
    let j: usize = 0;
    // up to the next multiple of 8, then eight at a time, then the rest: each element in its lane
    for (; j < len && ((first + j) & 7) != 0; j++) slerpLane(sums, (first + j) & 7, load<f32>(a32 + (j << 2)), load<f32>(b32 + (j << 2)));
    let aa0 = v128.load(sums), aa1 = v128.load(sums, 16), aa2 = v128.load(sums, 32), aa3 = v128.load(sums, 48);
    let bb0 = v128.load(sums, 64), bb1 = v128.load(sums, 80), bb2 = v128.load(sums, 96), bb3 = v128.load(sums, 112);
    let ab0 = v128.load(sums, 128), ab1 = v128.load(sums, 144), ab2 = v128.load(sums, 160), ab3 = v128.load(sums, 176);
    for (; j + 8 <= len; j += 8) {
      const A0 = v128.load(a32 + (j << 2)), A1 = v128.load(a32 + (j << 2), 16);
      const B0 = v128.load(b32 + (j << 2)), B1 = v128.load(b32 + (j << 2), 16);
      const a0 = f64x2.promote_low_f32x4(A0), a1 = f64x2.promote_low_f32x4(v128.shuffle<i32>(A0, A0, 2, 3, 2, 3));
      const a2 = f64x2.promote_low_f32x4(A1), a3 = f64x2.promote_low_f32x4(v128.shuffle<i32>(A1, A1, 2, 3, 2, 3));
      const c0 = f64x2.promote_low_f32x4(B0), c1 = f64x2.promote_low_f32x4(v128.shuffle<i32>(B0, B0, 2, 3, 2, 3));
      const c2 = f64x2.promote_low_f32x4(B1), c3 = f64x2.promote_low_f32x4(v128.shuffle<i32>(B1, B1, 2, 3, 2, 3));
      aa0 = f64x2.add(aa0, f64x2.mul(a0, a0));
      aa1 = f64x2.add(aa1, f64x2.mul(a1, a1));
      aa2 = f64x2.add(aa2, f64x2.mul(a2, a2));
      aa3 = f64x2.add(aa3, f64x2.mul(a3, a3));
      bb0 = f64x2.add(bb0, f64x2.mul(c0, c0));
      bb1 = f64x2.add(bb1, f64x2.mul(c1, c1));
      bb2 = f64x2.add(bb2, f64x2.mul(c2, c2));
      bb3 = f64x2.add(bb3, f64x2.mul(c3, c3));
      ab0 = f64x2.add(ab0, f64x2.mul(a0, c0));
      ab1 = f64x2.add(ab1, f64x2.mul(a1, c1));
      ab2 = f64x2.add(ab2, f64x2.mul(a2, c2));
      ab3 = f64x2.add(ab3, f64x2.mul(a3, c3));
    }
    store4(sums, aa0, aa1, aa2, aa3);
    store4(sums + 64, bb0, bb1, bb2, bb3);
    store4(sums + 128, ab0, ab1, ab2, ab3);
    for (; j < len; j++) slerpLane(sums, (first + j) & 7, load<f32>(a32 + (j << 2)), load<f32>(b32 + (j << 2)));
  }
  store<f64>(sums, <f64>(seen + count), 192);
}

/** Four v128 at p, one after another. */
// @ts-ignore: decorator
@inline function store4(p: usize, x0: v128, x1: v128, x2: v128, x3: v128): void {
  v128.store(p, x0);
  v128.store(p, x1, 16);
  v128.store(p, x2, 32);
  v128.store(p, x3, 48);
}

/** One element's terms into lane l of each of SLERP's sums. */
// @ts-ignore: decorator
@inline function slerpLane(sums: usize, l: usize, x: f32, y: f32): void {
  const a = <f64>x, b = <f64>y;
  const p = sums + (l << 3);
  store<f64>(p, load<f64>(p) + a * a);
  store<f64>(p, load<f64>(p, 64) + b * b, 64);
  store<f64>(p, load<f64>(p, 128) + a * b, 128);
}
