// Native twin of the fused merge kernel (src/wasm/assembly/merge.ts mergePart / mergeRange):
// same memory layout, same float operations in the same order (float64 sums in expert order,
// float32 task vectors, the same TIES ties budget and DARE xoshiro128** streams, round to
// nearest even on encode), so the bytes written are identical to the WebAssembly kernel's
// (test/merge/native.test.ts). Built at install when a C compiler is present
// (scripts/build-native.mjs); without it the WebAssembly kernel runs. Why: WebAssembly SIMD is
// two float64 lanes and cannot prefetch; here the compiler uses AVX2/AVX-512, the decode fuses
// into the sum, and the next block is prefetched.
//
// Build flags keep the arithmetic exact: -ffp-contract=off (no FMA fusion), no -ffast-math.
#include "common.h"

enum { KIND_LINEAR = 0, KIND_GTA = 1, KIND_SLERP = 2 };
enum { FLAG_CUT = 1, FLAG_DROP = 2, FLAG_CONSENSUS = 4, FLAG_NORMALIZE = 8, FLAG_SLERP_BASE = 16, FLAG_READ_BASE = 32 };

/** #{|x| > 65504}: finite float32 values an F16 output would turn into ±Inf. */
CLONES static uint32_t over_f16(const float *x, size_t n) {
  uint32_t c = 0;
  for (size_t j = 0; j < n; j++) c += __builtin_fabsf(x[j]) > 65504.0f;
  return c;
}

/** float32 bits → float16 bits, round to nearest even (merge.ts f16Of). */
static uint32_t f16_of(uint32_t x) {
  uint32_t sign = (x >> 16) & 0x8000u, mant = x & 0x7fffffu;
  int32_t exp = (int32_t)((x >> 23) & 0xffu);
  if (exp == 0xff) return mant ? sign | 0x7e00u | (mant >> 13) : sign | 0x7c00u;
  int32_t e = exp - 112;
  if (e >= 31) return sign | 0x7c00u;
  if (e <= 0) {
    if (e < -10) return sign;
    uint32_t sig = mant | 0x800000u, shift = (uint32_t)(14 - e);
    uint32_t m = sig >> shift, rem = sig & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (m & 1))) m++;
    return sign | m;
  }
  uint32_t h = ((uint32_t)e << 10) | (mant >> 13), rem = mant & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1))) h++;
  return sign | h;
}

/** float32 bits → BF16 bits, round to nearest even, NaN kept quiet (merge.ts encodeBlock). */
static inline uint16_t bf16_of(uint32_t b) { return (uint16_t)((b & 0x7fffffffu) > 0x7f800000u ? (b >> 16) | 0x40u : (b + 0x7fffu + ((b >> 16) & 1u)) >> 16); }

/** n float32 values encoded as `code` (F32 / F16 / BF16) at out (merge.ts encodeBlock). */
CLONES static void encode_block(const float *x, size_t n, uint32_t code, uint8_t *out) {
  if (code == CODE_F32) {
    memcpy(out, x, 4 * n);
    return;
  }
  const uint32_t *u = (const uint32_t *)x;
  uint16_t *o = (uint16_t *)out;
  if (code == CODE_BF16) {
    for (size_t j = 0; j < n; j++) o[j] = bf16_of(u[j]);
  } else if (code == CODE_F16) {
    for (size_t j = 0; j < n; j++) o[j] = (uint16_t)f16_of(u[j]);
  }
}

/** acc[j] += w·θ[j] for a BF16 source, decoded on the fly (θ exact in float32, the product in float64). */
CLONES static void acc_bf16(double *restrict acc, const uint16_t *restrict p, size_t n, double w) {
  size_t j = 0;
  for (; j + 32 <= n; j += 32) {
    PREFETCH_NEXT(p, j);
    for (size_t k = j; k < j + 32; k++) acc[k] += w * (double)bits_f32((uint32_t)p[k] << 16);
  }
  for (; j < n; j++) acc[j] += w * (double)bits_f32((uint32_t)p[j] << 16);
}

/** acc[j] += w·θ[j] for a BF16 source's task vector τ = fround(θ − θ₀) (float32 subtraction). */
CLONES static void acc_bf16_tau(double *restrict acc, const uint16_t *restrict p, const float *restrict b, size_t n, double w) {
  size_t j = 0;
  for (; j + 32 <= n; j += 32) {
    PREFETCH_NEXT(p, j);
    for (size_t k = j; k < j + 32; k++) acc[k] += w * (double)(bits_f32((uint32_t)p[k] << 16) - b[k]);
  }
  for (; j < n; j++) acc[j] += w * (double)(bits_f32((uint32_t)p[j] << 16) - b[j]);
}

/** acc[j] += w·x[j] for float32 x (weights, or task vectors already formed). */
CLONES static void acc_f32(double *restrict acc, const float *restrict x, size_t n, double w) {
  for (size_t j = 0; j < n; j++) acc[j] += w * (double)x[j];
}

/** out[j] = fround(base[j] + λ·acc[j] / div), or fround(λ·acc[j] / div) without a base (gta.ts gtaCombine, no consensus). */
CLONES static void finish(const double *restrict acc, const float *restrict base, size_t n, double lambda, double div, float *restrict out) {
  if (base) for (size_t j = 0; j < n; j++) out[j] = (float)((double)base[j] + (lambda * acc[j]) / div);
  else for (size_t j = 0; j < n; j++) out[j] = (float)((lambda * acc[j]) / div);
}

CLONES static void slerp_block(const float *restrict a, const float *restrict b, size_t n, double s0, double s1, float *restrict out) {
  for (size_t j = 0; j < n; j++) out[j] = (float)(s0 * (double)a[j] + s1 * (double)b[j]);
}

/** Element k: merged, encoded to o[k]; 1 when the merged value is NaN/Inf. */
static inline uint32_t slerp_bf16_one(const uint16_t *restrict pa, const uint16_t *restrict pb, size_t k, double s0, double s1, uint16_t *restrict o) {
  const uint32_t r = f32_bits((float)(s0 * (double)bits_f32((uint32_t)pa[k] << 16) + s1 * (double)bits_f32((uint32_t)pb[k] << 16)));
  o[k] = bf16_of(r);
  return (r & 0x7f800000u) == 0x7f800000u;
}

/**
 * slerp_block, non_finite and encode_block in one loop for two BF16 sources and a BF16 output:
 * the same float operations, without the decoded and merged float32 blocks in between (decode
 * and encode were two fifths of a 1.1B SLERP's merge-kernel time). Returns #NaN/Inf results.
 */
CLONES static uint32_t slerp_bf16(const uint16_t *restrict pa, const uint16_t *restrict pb, size_t n, double s0, double s1, uint16_t *restrict o) {
  uint32_t bad = 0;
  size_t j = 0;
  for (; j + 32 <= n; j += 32) {
    PREFETCH_NEXT(pa, j);
    PREFETCH_NEXT(pb, j);
    for (size_t k = j; k < j + 32; k++) bad += slerp_bf16_one(pa, pb, k, s0, s1, o);
  }
  for (; j < n; j++) bad += slerp_bf16_one(pa, pb, j, s0, s1, o);
  return bad;
}

/** Expert i's weights θ as float32 at x, zero-padded to L (a LoRA expert: fround(θ₀ + ΔW), base32 holding θ₀). */
static void decode_expert(const uint8_t *mem, uint32_t src, int i, size_t e, size_t len, size_t L, const float *base32, float *x) {
  const uint32_t *d = (const uint32_t *)(mem + src) + 2 * (i + 1);
  uint32_t code = d[1];
  decode_padded(mem, d[0], code == CODE_DELTA ? CODE_F32 : code, e, len, L, x);
  if (code == CODE_DELTA) for (size_t j = 0; j < L; j++) x[j] = x[j] + base32[j];
}

/** The first `ties` set bits of m (flat order = bit order). */
static inline uint32_t first_bits(uint32_t m, uint32_t ties) {
  uint32_t out = 0;
  for (uint32_t u = 0; u < ties && m; u++) {
    out |= m & -m;
    m &= m - 1;
  }
  return out;
}

/** apply_cut element by element (the steps' tail). */
static uint32_t cut_elements(float *x, size_t n, float t, uint32_t ties) {
  for (size_t j = 0; j < n; j++) {
    const float a = __builtin_fabsf(x[j]);
    if (a == t && ties > 0) ties--;
    else if (!(a > t)) x[j] = 0.0f;
  }
  return ties;
}

/**
 * A magnitude cut in place (gta.ts applyCut): keep |x| > t and the first `ties` with |x| = t, in
 * flat order; zero the rest (NaN included). Returns the ties left. Sixteen elements a step: the
 * equal ones as a bit mask, of which the budget keeps the first (the element-by-element loop
 * this replaces ran while the budget lasted, which with BF16 task vectors is most of a tensor).
 */
CLONES static uint32_t apply_cut_plain(float *x, size_t n, float t, uint32_t ties) {
  size_t j = 0;
  for (; j + 16 <= n; j += 16) {
    uint32_t eq = 0;
    for (uint32_t k = 0; k < 16; k++) eq |= (uint32_t)(__builtin_fabsf(x[j + k]) == t) << k;
    const uint32_t c = (uint32_t)__builtin_popcount(eq);
    const uint32_t keep = c <= ties ? eq : first_bits(eq, ties);
    ties = c <= ties ? ties - c : 0;
    for (uint32_t k = 0; k < 16; k++) x[j + k] = __builtin_fabsf(x[j + k]) > t || ((keep >> k) & 1u) ? x[j + k] : 0.0f;
  }
  return cut_elements(x + j, n - j, t, ties);
}

#ifdef HAVE_AVX512_PATH
/**
 * The lanes a cut at t keeps of sixteen |τ| (among `lanes`): those above t, and of those equal
 * to t the first *ties in lane order (the budget reduced by what they take). Branch-free but
 * for the step where the budget runs out: with BF16 task vectors most steps hold a tie.
 */
static inline __attribute__((always_inline)) AVX512 __mmask16 cut_keep(__m512 a, __m512 tv, __mmask16 lanes, uint32_t *ties) {
  const uint32_t eq = _mm512_mask_cmp_ps_mask(lanes, a, tv, _CMP_EQ_OQ);
  const uint32_t c = (uint32_t)__builtin_popcount(eq), b = *ties;
  const uint32_t take = c <= b ? eq : first_bits(eq, b);
  *ties = c <= b ? b - c : 0;
  return (__mmask16)(_mm512_mask_cmp_ps_mask(lanes, a, tv, _CMP_GT_OQ) | take);
}

/** apply_cut_plain with the comparisons into mask registers (the tail as masked lanes). */
AVX512 static uint32_t apply_cut_avx512(float *x, size_t n, float t, uint32_t ties) {
  const __m512 tv = _mm512_set1_ps(t);
  for (size_t j = 0; j < n; j += 16) {
    const __mmask16 lanes = lanes_below(n, j);
    const __m512 v = _mm512_maskz_loadu_ps(lanes, x + j);
    _mm512_mask_storeu_ps(x + j, lanes, _mm512_maskz_mov_ps(cut_keep(_mm512_abs_ps(v), tv, lanes, &ties), v));
  }
  return ties;
}

/**
 * A BF16 expert's block made τ and cut in one loop (merge_range's decode, NaN/Inf count,
 * subtraction and apply_cut, fused): out[0, L) = cut(fround(θ − θ₀)) over the len stored
 * elements, zeros past them (base32 is zero-padded to L); returns #NaN/Inf among the θ (counted
 * again, element by element, only in a block that has one).
 */
AVX512 static uint32_t tau_cut_bf16_avx512(const uint16_t *p, const float *base32, size_t len, size_t L, float t, uint32_t *ties, float *out) {
  const __m512 tv = _mm512_set1_ps(t);
  const __m512i exp = _mm512_set1_epi32(0x7f800000);
  uint32_t budget = *ties; // a local: through the pointer it went to memory every step (it may alias out)
  __mmask16 bad = 0;
  for (size_t j = 0; j < L; j += 16) {
    const __mmask16 lanes = lanes_below(L, j), stored = lanes_below(len, j);
    if ((j & 31) == 0) PREFETCH_NEXT(p, j);
    const __m512i w = bf16_bits16(p, j, stored);
    bad |= _mm512_mask_cmpeq_epi32_mask(stored, _mm512_and_si512(w, exp), exp);
    const __m512 x = _mm512_sub_ps(_mm512_castsi512_ps(w), _mm512_maskz_loadu_ps(lanes, base32 + j));
    _mm512_mask_storeu_ps(out + j, lanes, _mm512_maskz_mov_ps(cut_keep(_mm512_abs_ps(x), tv, stored, &budget) | (lanes & ~stored), x));
  }
  *ties = budget;
  uint32_t n = 0;
  if (bad)
    for (size_t j = 0; j < len; j++) n += (p[j] & 0x7f80u) == 0x7f80u;
  return n;
}
#endif

static uint32_t apply_cut(float *x, size_t n, float t, uint32_t ties) {
#ifdef HAVE_AVX512_PATH
  if (has_avx512) return apply_cut_avx512(x, n, t, ties);
#endif
  return apply_cut_plain(x, n, t, ties);
}

/** One xoshiro128** step of eight streams side by side (random.ts; merge.ts dareMasks). */
typedef uint32_t u32x8 __attribute__((vector_size(32)));
// (vectors by pointer: by value, a 32-byte vector's ABI differs between AVX and plain code)
static inline __attribute__((always_inline)) void xoshiro8(u32x8 *a, u32x8 *b, u32x8 *c, u32x8 *d, u32x8 *r) {
  const u32x8 b5 = *b * 5u;
  *r = ((b5 << 7) | (b5 >> 25)) * 9u;
  const u32x8 t = *b << 9;
  *c ^= *a;
  *d ^= *b;
  *b ^= *c;
  *a ^= *d;
  *c ^= t;
  *d = (*d << 11) | (*d >> 21);
}

#ifdef HAVE_AVX512_PATH
/**
 * consensus_combine in one loop, eight elements a step in registers: the total in expert order,
 * then the masked sums, then the output (the float64 arrays and three passes over them, gone).
 * n rounded up to 8 stays inside the MB-element blocks; the lanes past n are not read back.
 */
AVX512 static void consensus_avx512(float *const *taus, const double *w, int N, size_t n, int normalize, double lambda, const float *base, float *out) {
  const size_t n8 = (n + 7) & ~(size_t)7;
  const __m512d zero = _mm512_setzero_pd(), one = _mm512_set1_pd(1.0), lam = _mm512_set1_pd(lambda);
  for (size_t j = 0; j < n8; j += 8) {
    __m512d tot = zero;
    for (int i = 0; i < N; i++) tot = _mm512_add_pd(tot, _mm512_mul_pd(_mm512_set1_pd(w[i]), _mm512_cvtps_pd(_mm256_loadu_ps(taus[i] + j))));
    const __mmask8 p = _mm512_cmp_pd_mask(tot, zero, _CMP_GE_OQ);
    __m512d nu = zero, de = zero;
    for (int i = 0; i < N; i++) {
      const __m512d wv = _mm512_set1_pd(w[i]);
      const __m512d v = _mm512_mul_pd(wv, _mm512_cvtps_pd(_mm256_loadu_ps(taus[i] + j)));
      const __mmask8 m = (p & _mm512_cmp_pd_mask(v, zero, _CMP_GT_OQ)) | (~p & _mm512_cmp_pd_mask(v, zero, _CMP_LT_OQ));
      nu = _mm512_add_pd(nu, _mm512_maskz_mov_pd(m, v));
      de = _mm512_add_pd(de, _mm512_maskz_mov_pd(m, wv));
    }
    // div = normalize && den ≠ 0 ? den : 1 (≠ as C's: true for NaN)
    const __m512d div = normalize ? _mm512_mask_mov_pd(one, _mm512_cmp_pd_mask(de, zero, _CMP_NEQ_UQ), de) : one;
    const __m512d q = _mm512_div_pd(_mm512_mul_pd(lam, nu), div);
    _mm256_storeu_ps(out + j, _mm512_cvtpd_ps(base ? _mm512_add_pd(_mm512_cvtps_pd(_mm256_loadu_ps(base + j)), q) : q));
  }
}

/** dare_masks' draws with the comparison into a mask register: one byte of eight keep bits per element. */
AVX512 static void dare_bits_avx512(u32x8 *a, u32x8 *b, u32x8 *c, u32x8 *d, const u32x8 *lim, uint8_t always, size_t len,
                                                                                             uint8_t *bits) {
  __m256i L;
  memcpy(&L, lim, 32);
  u32x8 A = *a, B = *b, C = *c, D = *d; // in registers (through the pointers, every step went to memory and back)
  for (size_t j = 0; j < len; j++) {
    u32x8 r;
    xoshiro8(&A, &B, &C, &D, &r);
    __m256i R;
    memcpy(&R, &r, 32);
    bits[j] = (uint8_t)(_mm256_cmp_epu32_mask(R, L, _MM_CMPINT_LT) | always);
  }
  *a = A, *b = B, *c = C, *d = D;
}
#endif

/**
 * DARE keep masks of one block for experts [g, g + 8) (merge.ts dareMasks): their xoshiro128**
 * streams side by side in eight lanes, one draw per element; element j of expert g + l is kept
 * iff its draw < ⌈thr⌉ (always, for thr ≥ 2³²): bit l of bits[j]. Experts without a drop
 * (thr < 0) or past N draw nothing (their bits are set). States advanced and stored back.
 */
static void dare_masks(uint8_t *mem, uint32_t statesp, int g, int N, size_t len, uint8_t *bits) {
  u32x8 a = {0}, b = {0}, c = {0}, d = {0}, lim = {0};
  uint8_t always = 0;
  for (int l = 0; l < 8; l++) {
    const uint32_t *sp = (const uint32_t *)(mem + statesp + 32 * (size_t)(g + l));
    const double thr = g + l < N ? *(const double *)(sp + 4) : -1;
    if (thr < 0) {
      always |= (uint8_t)(1u << l);
      continue;
    }
    a[l] = sp[0], b[l] = sp[1], c[l] = sp[2], d[l] = sp[3];
    const double T = __builtin_ceil(thr);
    if (T >= 4294967296.0) always |= (uint8_t)(1u << l);
    else lim[l] = (uint32_t)T;
  }
  if (always == 0xff) return;
#ifdef HAVE_AVX512_PATH
  if (has_avx512) dare_bits_avx512(&a, &b, &c, &d, &lim, always, len, bits);
  else
#endif
    for (size_t j = 0; j < len; j++) {
      u32x8 r;
      xoshiro8(&a, &b, &c, &d, &r);
      const u32x8 k = r < lim;
      uint8_t m = always;
      for (int l = 0; l < 8; l++) m |= (uint8_t)((k[l] & 1u) << l);
      bits[j] = m;
    }
  for (int l = 0; l < 8 && g + l < N; l++) {
    uint32_t *sp = (uint32_t *)(mem + statesp + 32 * (size_t)(g + l));
    if (*(const double *)(sp + 4) < 0) continue;
    sp[0] = a[l], sp[1] = b[l], sp[2] = c[l], sp[3] = d[l];
  }
}

/** x[j] = bit l of bits[j] ? fround(x[j]·scale) (in float64) : +0, for j < len (merge.ts applyDrop). */
CLONES static void apply_drop(float *restrict x, size_t len, const uint8_t *restrict bits, int l, double scale) {
  if (scale != 1.0) for (size_t j = 0; j < len; j++) x[j] = (bits[j] >> l) & 1 ? (float)((double)x[j] * scale) : 0.0f;
  else for (size_t j = 0; j < len; j++) x[j] = (bits[j] >> l) & 1 ? x[j] : 0.0f;
}

/**
 * Sign-consensus combine (gta.ts gtaCombine with consensus): per element, s = [Σ wᵢτᵢ ≥ 0];
 * num = Σ of the wᵢτᵢ of sign s (strictly), den = Σ of their wᵢ, in expert order;
 * out = fround(base + λ·num / (normalize and den ≠ 0 ? den : 1)). A term left out adds +0, as
 * the WebAssembly kernel's and-mask does.
 */
static void consensus_combine(float *const *taus, const double *w, int N, size_t n, int normalize, double lambda, const float *base, double *restrict total,
                              double *restrict num, double *restrict den, float *restrict out) {
#ifdef HAVE_AVX512_PATH
  if (has_avx512) {
    consensus_avx512(taus, w, N, n, normalize, lambda, base, out);
    return;
  }
#endif
  for (size_t j = 0; j < n; j++) total[j] = 0.0;
  for (int i = 0; i < N; i++) acc_f32(total, taus[i], n, w[i]);
  {
    for (size_t j = 0; j < n; j++) num[j] = 0.0, den[j] = 0.0;
    for (int i = 0; i < N; i++) {
      const float *t = taus[i];
      const double wi = w[i];
      for (size_t j = 0; j < n; j++) {
        const double v = wi * (double)t[j];
        if (total[j] >= 0.0 ? v > 0.0 : v < 0.0) num[j] += v, den[j] += wi;
        else num[j] += 0.0, den[j] += 0.0;
      }
    }
  }
  for (size_t j = 0; j < n; j++) {
    const double div = normalize && den[j] != 0.0 ? den[j] : 1.0;
    const double q = (lambda * num[j]) / div;
    out[j] = (float)(base ? (double)base[j] + q : q);
  }
}

/**
 * mergeRange (merge.ts): elements [e0, e0 + count) of one tensor, pointers being byte offsets
 * into mem; `scratch` as mergeScratch(N) lays it out (block i + 1 holds expert i's values).
 * The rules that keep every input's value (no cut, drop or consensus) count inputs' NaN/Inf
 * only in blocks whose output has one, as the WebAssembly kernel does.
 */
static void merge_range(uint8_t *mem, uint32_t src, int N, size_t e0, size_t count, uint32_t kind, uint32_t flags, uint32_t wp,
                        double lambda, double wdiv, double s0, double s1, uint32_t cutsp, uint32_t statesp, uint32_t outp, uint32_t outCode,
                        uint32_t countsp, uint32_t scratchp) {
  // on the stack (24 KB): a _Thread_local buffer in a shared object costs a __tls_get_addr call per access the compiler does not hoist
  double acc[MB] __attribute__((aligned(64))), num[MB] __attribute__((aligned(64))), den[MB] __attribute__((aligned(64)));
  float *const base32 = (float *)(mem + scratchp), *const out32 = base32 + MB;
  float *taus[256];
  uint8_t *const keep = (uint8_t *)(out32 + (size_t)(N + 1) * MB); // the mask blocks of mergeScratch (N·MB·4 bytes; DARE's keep bits use ⌈N/8⌉·MB)
  float *x = out32 + MB; // expert 0's block: the lazy rules decode one expert at a time into it
  float *y = x + MB;     // SLERP's second operand (N ≥ 2: expert 1's block; N = 1: the mask region, unused by SLERP)
  const uint32_t *desc = (const uint32_t *)(mem + src);
  const double *w = (const double *)(mem + wp);
  uint32_t *counts = (uint32_t *)(mem + countsp);
  const size_t outSize = outCode == CODE_F32 ? 4 : 2;
  const int needBase = kind == KIND_GTA || (flags & (FLAG_SLERP_BASE | FLAG_READ_BASE)) != 0;
  const int lazy = (flags & (FLAG_CUT | FLAG_DROP | FLAG_CONSENSUS)) == 0;
  for (int i = 0; i < N; i++) taus[i] = out32 + (size_t)(i + 1) * MB;
  for (size_t b0 = 0; b0 < count; b0 += MB) {
    const size_t len = count - b0 < MB ? count - b0 : MB;
    const size_t L = (len + 3) & ~(size_t)3;
    const size_t e = e0 + b0;
    if (needBase) {
      decode_padded(mem, desc[0], desc[1], e, len, L, base32);
      counts[0] += non_finite(base32, len);
    }
    // SLERP of two BF16 experts into BF16: merged and encoded in one loop (the same bytes)
    int64_t fusedBad = -1;
    if (kind == KIND_SLERP && !(flags & FLAG_SLERP_BASE) && desc[3] == CODE_BF16 && desc[2 * N + 1] == CODE_BF16 && outCode == CODE_BF16) {
      fusedBad = slerp_bf16((const uint16_t *)(mem + desc[2]) + e, (const uint16_t *)(mem + desc[2 * N]) + e, len, s0, s1, (uint16_t *)(mem + outp + b0 * outSize));
    } else if (kind == KIND_SLERP) {
      const float *a = base32;
      if (!(flags & FLAG_SLERP_BASE)) {
        decode_expert(mem, src, 0, e, len, L, base32, x);
        a = x;
      }
      decode_expert(mem, src, N - 1, e, len, L, base32, y);
      slerp_block(a, y, len, s0, s1, out32);
    } else if (lazy) {
      const int gta = kind == KIND_GTA;
      for (size_t j = 0; j < len; j++) acc[j] = 0.0;
      for (int i = 0; i < N; i++) {
        const uint32_t *d = desc + 2 * (i + 1);
        const double wi = w[i];
        if (d[1] == CODE_BF16) {
          const uint16_t *p = (const uint16_t *)(mem + d[0]) + e;
          if (gta) acc_bf16_tau(acc, p, base32, len, wi);
          else acc_bf16(acc, p, len, wi);
        } else {
          decode_expert(mem, src, i, e, len, L, base32, x);
          if (gta) sub_in_place(x, base32, len);
          acc_f32(acc, x, len, wi);
        }
      }
      finish(acc, gta ? base32 : NULL, len, gta ? lambda : 1.0, wdiv, out32);
    } else {
      // GTA with a TIES cut or DARE drop (and sign consensus): every expert's τ block, then the combine
      if (flags & FLAG_DROP) for (int g = 0; g < N; g += 8) dare_masks(mem, statesp, g, N, len, keep + (size_t)(g / 8) * MB);
      for (int i = 0; i < N; i++) {
        float *t = taus[i];
        float *cut = (float *)(mem + cutsp) + 2 * i;
        uint32_t *ties = (uint32_t *)(mem + cutsp) + 2 * i + 1;
#ifdef HAVE_AVX512_PATH
        if (has_avx512 && (flags & FLAG_CUT) && *cut >= 0 && desc[2 * (i + 1) + 1] == CODE_BF16) {
          counts[1 + i] += tau_cut_bf16_avx512((const uint16_t *)(mem + desc[2 * (i + 1)]) + e, base32, len, L, *cut, ties, t);
          continue;
        }
#endif
        decode_expert(mem, src, i, e, len, L, base32, t);
        counts[1 + i] += non_finite(t, len);
        sub_in_place(t, base32, L);
        if (flags & FLAG_CUT) {
          if (*cut >= 0) *ties = apply_cut(t, len, *cut, *ties);
        } else if (flags & FLAG_DROP) {
          const double *dp = (const double *)(mem + statesp + 32 * (size_t)i + 16);
          if (dp[0] >= 0) apply_drop(t, len, keep + (size_t)(i / 8) * MB, i % 8, dp[1]);
        }
      }
      if (flags & FLAG_CONSENSUS) consensus_combine(taus, w, N, len, (flags & FLAG_NORMALIZE) != 0, lambda, base32, acc, num, den, out32);
      else {
        for (size_t j = 0; j < len; j++) acc[j] = 0.0;
        for (int i = 0; i < N; i++) acc_f32(acc, taus[i], len, w[i]);
        finish(acc, base32, len, lambda, wdiv, out32);
      }
    }
    const uint32_t badOut = fusedBad >= 0 ? (uint32_t)fusedBad : non_finite(out32, len);
    counts[N + 1] += badOut;
    if (lazy && badOut) {
      for (int i = 0; i < N; i++) {
        decode_expert(mem, src, i, e, len, L, base32, x);
        counts[1 + i] += non_finite(x, len);
      }
    }
    if (fusedBad >= 0) continue; // encoded already
    if (outCode == CODE_F16) counts[N + 2] += over_f16(out32, len);
    encode_block(out32, len, outCode, mem + outp + b0 * outSize);
  }
}

/** merge.ts tiesEqual: per expert with a cut, #{|τᵢ| = its threshold} over [e0, e0 + count), into u32 at out + 4i. */
static void ties_equal(uint8_t *mem, uint32_t src, int N, size_t e0, size_t count, uint32_t cutsp, uint32_t *out, uint32_t scratchp) {
  float *const base32 = (float *)(mem + scratchp), *const x = base32 + MB;
  const uint32_t *desc = (const uint32_t *)(mem + src);
  const float *cuts = (const float *)(mem + cutsp);
  for (int i = 0; i < N; i++) out[i] = 0;
  for (size_t b0 = 0; b0 < count; b0 += MB) {
    const size_t len = count - b0 < MB ? count - b0 : MB;
    const size_t L = (len + 3) & ~(size_t)3;
    decode_padded(mem, desc[0], desc[1], e0 + b0, len, L, base32);
    for (int i = 0; i < N; i++) {
      const float t = cuts[2 * i];
      if (t < 0) continue;
      decode_padded(mem, desc[2 * (i + 1)], desc[2 * (i + 1) + 1], e0 + b0, len, L, x);
      uint32_t c = 0;
      for (size_t j = 0; j < len; j++) c += __builtin_fabsf(x[j] - base32[j]) == t;
      out[i] += c;
    }
  }
}

/** merge.ts mergePart: a part of a range split between threads (the TIES ties budget first reduced by what [tiesFrom, e0) consumes), then mergeRange. */
static void merge_part(uint8_t *mem, uint32_t src, int N, size_t e0, size_t count, uint32_t kind, uint32_t flags, uint32_t wp, double lambda, double wdiv,
                       double s0, double s1, uint32_t cutsp, uint32_t statesp, uint32_t outp, uint32_t outCode, uint32_t countsp, uint32_t scratchp, size_t tiesFrom) {
  if ((flags & FLAG_CUT) && tiesFrom < e0) {
    uint32_t eq[256];
    ties_equal(mem, src, N, tiesFrom, e0 - tiesFrom, cutsp, eq, scratchp);
    for (int i = 0; i < N; i++) {
      float *cut = (float *)(mem + cutsp) + 2 * i;
      uint32_t *ties = (uint32_t *)(mem + cutsp) + 2 * i + 1;
      if (*cut < 0) continue;
      *ties = *ties > eq[i] ? *ties - eq[i] : 0;
    }
  }
  merge_range(mem, src, N, e0, count, kind, flags, wp, lambda, wdiv, s0, s1, cutsp, statesp, outp, outCode, countsp, scratchp);
}

// ── Node-API: mergePart(memory view, …mergePart's arguments) → 0, or −1 when not taken here

napi_value merge_part_js(napi_env env, napi_callback_info info) {
  TwinCall c;
  if (!twin_args(env, info, "mergePart", 18, &c)) return NULL;
  const double *a = c.a;
  const uint32_t src = (uint32_t)a[0], kind = (uint32_t)a[4], flags = (uint32_t)a[5], outCode = (uint32_t)a[14];
  const int N = (int)a[1];
  const size_t e0 = (size_t)a[2], count = (size_t)a[3];
  const size_t tiesFrom = (size_t)a[17];
  if (!((kind == KIND_LINEAR || kind == KIND_GTA || kind == KIND_SLERP) && (outCode == CODE_F32 || outCode == CODE_F16 || outCode == CODE_BF16) && N >= 1 && N <= 256)) return twin_result(env, NOT_TAKEN);
  // every region the kernel touches lies in the memory; scratch: mergeScratch(N) bytes (N + 2 float32 blocks, N mask blocks, a table and lanes)
  const size_t scratchBytes = (size_t)(2 * N + 2) * MB * 4;
  const size_t outEnd = (size_t)a[13] + count * (outCode == CODE_F32 ? 4 : 2);
  const size_t L = c.length;
  if (outEnd > L || !sources_in_memory(c.mem, L, src, N, e0 + count) || (size_t)a[6] + 8 * (size_t)N > L || (size_t)a[15] + 4 * ((size_t)N + 3) > L ||
      (size_t)a[16] + scratchBytes > L || ((flags & FLAG_CUT) && (size_t)a[11] + 8 * (size_t)N > L) || ((flags & FLAG_DROP) && (size_t)a[12] + 32 * (size_t)N > L))
    return twin_out_of_memory(env, "mergePart");
  merge_part(c.mem, src, N, e0, count, kind, flags, (uint32_t)a[6], a[7], a[8], a[9], a[10], (uint32_t)a[11], (uint32_t)a[12], (uint32_t)a[13], outCode,
             (uint32_t)a[15], (uint32_t)a[16], tiesFrom);
  return twin_result(env, 0);
}
