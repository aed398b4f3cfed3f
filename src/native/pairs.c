// Native twin of the metrics pass's pair kernel (src/wasm/assembly/pairs.ts accumulate): per
// block of 512 positions, each expert's τ (decoded, minus the base), its masks and Στ², then every
// pair's float64 sums and sign counts. The same sums to the bit: every float64 sum keeps the
// WebAssembly kernel's two lanes (even and odd positions, each added in position order, the two
// added at the block's end), only more pairs run at once. Why: WebAssembly SIMD is two float64
// lanes, one pair's sums a register; here a register holds four pairs' two lanes (AVX-512) or
// two (AVX2). The τ are stored position-pair-major (row q: every expert's τ[2q], τ[2q + 1]), and
// the pairs go in groups along the cycle — (i, i + δ mod N) for consecutive i — so both sides of
// a group are one load each and every group but a δ's last is full (8 experts, AVX-512: 7 groups
// for 28 pairs, where four pairs of one i at a time take 10). Two experts (one pair, whose
// sums would fill a quarter of a register, one add-latency chain each) run four blocks side by
// side instead. CPUs without AVX2 leave the call to WebAssembly.
#include "common.h"

/** Positions per block and the metrics' pair fields (pairs.ts BLOCK, PAIR_FIELDS). */
#define BLOCK 512
#define WORDS (BLOCK / 64)
#define PAIR_FIELDS 7

/** Bytes of scratch a caller gives (pairs.ts accumulateScratch); this kernel uses its start and allocates the τ rows itself (they hold copies). */
static size_t scratch_bytes(int N) { return 4 * BLOCK + (size_t)N * BLOCK * 12 + (size_t)N * WORDS * 24 + 16 * (size_t)N; }

/** The kernels' memory is byte-addressed; its float64 fields need not be 8-aligned in C's sense. */
static inline double ld64(const uint8_t *p) { double x; memcpy(&x, p, 8); return x; }
static inline void add64(uint8_t *p, double v) { const double x = ld64(p) + v; memcpy(p, &x, 8); }

static inline int pair_index(int N, int i, int j) { return i * N - ((i * (i + 1)) >> 1) + (j - i - 1); }

/** Where one block's per-expert results live. */
typedef struct {
  float *base32, *tau32;  // in the scratch
  double *t64;  // row q (q = position / 2): R columns of (τ[2q], τ[2q + 1]), experts 0…N − 1 from column col0, then 0…copies − 1 again (a group's wrap-around read in one load)
  size_t R, col0, copies;
  uint64_t *nz, *sg, *kp;  // N × WORDS each: τ ≠ 0, sign bit, |τ| ≥ threshold
  double *diag, *kept;  // N each: the block's Στ² and trimmed support
} Block;

#ifdef HAVE_AVX512_PATH
/** The AVX2 functions' target (popcnt for the sign counts: AVX2 does not imply it). */
#define AVX2 __attribute__((target("avx2,popcnt")))

/** Pairs (i + l, i + l + δ mod N), l < lanes, that one register set sums: four a group on AVX-512 (a quad), two on AVX2; lanes 2l and 2l + 1 hold pair l's even and odd positions. */
typedef struct {
  int i, delta, lanes;
} Group;

/** The groups of `width` pairs covering every pair once: δ = 1…⌊N/2⌋, N pairs each (N/2 for δ = N/2, N even), `width` consecutive i a group. Returns their number. */
static int groups_of(int N, int width, Group *out) {
  int n = 0;
  for (int delta = 1; 2 * delta <= N; delta++) {
    const int pairs = 2 * delta == N ? N / 2 : N;
    for (int i = 0; i < pairs; i += width) out[n++] = (Group){.i = i, .delta = delta, .lanes = pairs - i < width ? pairs - i : width};
  }
  return n;
}

/** A group's pairs into the sums from its lanes (g, w, c: Σ min-magnitude over conflicts, d): each sum its two lanes added (pairs.ts flushPair), at the pair's (smaller, larger) index. */
static void group_flush(const Group *k, const double *g, const double *w, const double *c, const double *d, int N, uint8_t *gram, uint8_t *pairs) {
  for (int l = 0; l < k->lanes; l++) {
    const int a = k->i + l, b = (a + k->delta) % N, i = a < b ? a : b, j = a < b ? b : a;
    const double gl = g[2 * l] + g[2 * l + 1], wall = w[2 * l] + w[2 * l + 1], wdis = c[2 * l] + c[2 * l + 1], d2 = d[2 * l] + d[2 * l + 1];
    add64(gram + 8 * ((size_t)i * N + j), gl);
    uint8_t *o = pairs + 8 * (size_t)(pair_index(N, i, j) * PAIR_FIELDS);
    add64(o + 16, wall - wdis);
    add64(o + 24, wdis);
    add64(o + 48, d2);
  }
}

/** pairs.ts signCounts: every pair's agree / disagree counts, untrimmed and trimmed, from the masks (inlined into each target's function: popcnt). */
static inline __attribute__((always_inline)) void sign_counts(const Block *b, int N, size_t W, uint8_t *pairs) {
  for (int i = 0; i < N; i++) {
    const uint64_t *nzi = b->nz + (size_t)i * WORDS, *sgi = b->sg + (size_t)i * WORDS, *kpi = b->kp + (size_t)i * WORDS;
    for (int j = i + 1; j < N; j++) {
      const uint64_t *nzj = b->nz + (size_t)j * WORDS, *sgj = b->sg + (size_t)j * WORDS, *kpj = b->kp + (size_t)j * WORDS;
      uint64_t ag = 0, nz = 0, tag = 0, tall = 0;
      for (size_t w = 0; w < W; w++) {
        const uint64_t both = nzi[w] & nzj[w], pos = both & ~(sgi[w] ^ sgj[w]), kb = kpi[w] & kpj[w];
        nz += (uint64_t)__builtin_popcountll(both);
        ag += (uint64_t)__builtin_popcountll(pos);
        tall += (uint64_t)__builtin_popcountll(kb);
        tag += (uint64_t)__builtin_popcountll(kb & pos);
      }
      uint8_t *p = pairs + 8 * (size_t)(pair_index(N, i, j) * PAIR_FIELDS);
      add64(p, (double)ag);
      add64(p + 8, (double)(nz - ag));
      add64(p + 32, (double)tag);
      add64(p + 40, (double)(tall - tag));
    }
  }
}

/**
 * floatSums' loop, the same for each instruction set (Acc its accumulators, step one position
 * pair of a group, flush its lanes into the sums): the groups two at a time (eight
 * accumulators and their temporaries fill the registers), each sum from zero.
 */
#define FLOAT_SUMS(Acc, step, flush, zero)                                   \
  const size_t S = 2 * b->R;                                                 \
  for (int k = 0; k < ng; k += 2) {                                          \
    const Group x = groups[k];                                               \
    Acc ax = {zero, zero, zero, zero};                                       \
    if (k + 1 < ng) {                                                        \
      const Group y = groups[k + 1];                                         \
      Acc ay = ax;                                                           \
      for (size_t q = 0; q < Q; q++) {                                       \
        step(&ax, &x, b->t64 + q * S);                                       \
        step(&ay, &y, b->t64 + q * S);                                       \
      }                                                                      \
      flush(&y, ay, N, gram, pairs);                                         \
    } else {                                                                 \
      for (size_t q = 0; q < Q; q++) step(&ax, &x, b->t64 + q * S);          \
    }                                                                        \
    flush(&x, ax, N, gram, pairs);                                           \
  }

/** A group's accumulators stored (store: the instruction set's, lanes doubles each) and flushed. */
#define FLUSH(store, lanes)                   \
  double g[lanes], w[lanes], c[lanes], d[lanes]; \
  store(g, s.g);                              \
  store(w, s.w);                              \
  store(c, s.n);                              \
  store(d, s.d);                              \
  group_flush(k, g, w, c, d, N, gram, pairs);

// ── AVX-512: four pairs a register

/** Sixteen positions' τ as float64 (lo: 0–7, hi: 8–15) into one column of eight consecutive rows from r (S doubles a row). */
static inline __attribute__((always_inline)) AVX512 void store_rows(double *r, size_t S, __m512d lo, __m512d hi) {
  _mm_storeu_pd(r, _mm512_castpd512_pd128(lo));
  _mm_storeu_pd(r + S, _mm512_extractf64x2_pd(lo, 1));
  _mm_storeu_pd(r + 2 * S, _mm512_extractf64x2_pd(lo, 2));
  _mm_storeu_pd(r + 3 * S, _mm512_extractf64x2_pd(lo, 3));
  _mm_storeu_pd(r + 4 * S, _mm512_castpd512_pd128(hi));
  _mm_storeu_pd(r + 5 * S, _mm512_extractf64x2_pd(hi, 1));
  _mm_storeu_pd(r + 6 * S, _mm512_extractf64x2_pd(hi, 2));
  _mm_storeu_pd(r + 7 * S, _mm512_extractf64x2_pd(hi, 3));
}

/**
 * pairs.ts prepareExpert: expert i's τ over the block's L positions (from a BF16 source minus
 * base32, or from tau32) → its column(s) of t64, its masks, Στ² with the same additions in the
 * same order (two float64 pairs s0, s1 of lanes: s0 += x0's, s1 += x1's, s0 += x2's, s1 += x3's
 * per sixteen positions, each x's two lanes the squares of positions 0+2 and 1+3) and its
 * support. Returns whether Στ² is finite (the square of a finite float32 never overflows float64).
 */
AVX512 static int prepare_avx512(const uint16_t *bf, const Block *b, int i, int N, size_t L, int32_t thr) {
  const __m512i abs = _mm512_set1_epi32(0x7fffffff), T = _mm512_set1_epi32(thr);
  const size_t S = 2 * b->R;
  double *col = b->t64 + 2 * (b->col0 + (size_t)i), *copy = (size_t)i < b->copies ? col + 2 * (size_t)N : NULL;
  __m512d acc = _mm512_setzero_pd();  // lanes 0-1: s0, lanes 4-5: s1
  uint64_t k = 0;
  for (size_t w = 0; w < L / 64; w++) {
    uint64_t nz = 0, sg = 0, kp = 0;
    for (unsigned g = 0; g < 64; g += 16) {
      const size_t e = 64 * w + g;
      const __m512 x = bf ? _mm512_sub_ps(_mm512_castsi512_ps(bf16_bits16(bf, e, 0xffff)), _mm512_loadu_ps(b->base32 + e)) : _mm512_loadu_ps(b->tau32 + e);
      const __m512i xi = _mm512_castps_si512(x);
      sg |= (uint64_t)_mm512_movepi32_mask(xi) << g;
      nz |= (uint64_t)_mm512_test_epi32_mask(xi, abs) << g;
      kp |= (uint64_t)_mm512_cmpge_epi32_mask(_mm512_and_si512(xi, abs), T) << g;
      const __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(x));
      const __m512d hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1)));
      store_rows(col + (e / 2) * S, S, lo, hi);
      if (copy) store_rows(copy + (e / 2) * S, S, lo, hi);
      const __m512d sl = _mm512_mul_pd(lo, lo), sh = _mm512_mul_pd(hi, hi);
      // lanes 0-1 / 4-5: x0's / x1's squares of positions 0+2, 1+3 (from lo), then x2's / x3's (from hi)
      acc = _mm512_add_pd(acc, _mm512_add_pd(sl, _mm512_shuffle_f64x2(sl, sl, 0xb1)));
      acc = _mm512_add_pd(acc, _mm512_add_pd(sh, _mm512_shuffle_f64x2(sh, sh, 0xb1)));
    }
    b->nz[(size_t)i * WORDS + w] = nz;
    b->sg[(size_t)i * WORDS + w] = sg;
    b->kp[(size_t)i * WORDS + w] = kp;
    k += (uint64_t)__builtin_popcountll(kp);
  }
  double a[8];
  _mm512_storeu_pd(a, acc);
  const double d = (a[0] + a[4]) + (a[1] + a[5]);
  b->diag[i] = d;
  b->kept[i] = (double)k;
  return __builtin_isfinite(d);
}

/** A quad's four sums (kept in registers: the loop never takes their address past the inlined step). */
typedef struct {
  __m512d g, w, n, d;
} Acc8;

/** One position pair of four pairs' lanes: the WebAssembly floatSums' four sums, the same operations per lane (a product and a difference are the same either way round). */
static inline __attribute__((always_inline)) AVX512 void quad_ops(Acc8 *s, __m512d xi, __m512d xj) {
  const __m512d p = _mm512_mul_pd(xi, xj);
  s->g = _mm512_add_pd(s->g, p);
  // pmin(|τᵢ|, |τⱼ|) = |τⱼ| < |τᵢ| ? |τⱼ| : |τᵢ| (min_pd(a, b) is a < b ? a : b)
  const __m512d v = _mm512_min_pd(_mm512_abs_pd(xj), _mm512_abs_pd(xi));
  s->w = _mm512_add_pd(s->w, v);
  // + v where the product is negative; elsewhere the WebAssembly kernel adds +0, which changes no sum that starts at +0
  s->n = _mm512_mask_add_pd(s->n, _mm512_cmp_pd_mask(p, _mm512_setzero_pd(), _CMP_LT_OQ), s->n, v);
  const __m512d d = _mm512_sub_pd(xi, xj);
  s->d = _mm512_add_pd(s->d, _mm512_mul_pd(d, d));
}

/** One position pair of a group's four pairs, both sides loaded from the row. */
static inline __attribute__((always_inline)) AVX512 void quad_step(Acc8 *s, const Group *k, const double *row) {
  const __mmask8 m = (__mmask8)((1u << (2 * k->lanes)) - 1);  // loop-invariant: hoisted
  quad_ops(s, _mm512_maskz_loadu_pd(m, row + 2 * k->i), _mm512_maskz_loadu_pd(m, row + 2 * (k->i + k->delta)));
}

AVX512 static void flush8(const Group *k, Acc8 s, int N, uint8_t *gram, uint8_t *pairs) { FLUSH(_mm512_storeu_pd, 8) }

/** pairs.ts floatSums over the block's Q position pairs, four pairs a group (a quad). */
AVX512 static void float_sums_avx512(const Block *b, int N, size_t Q, uint8_t *gram, uint8_t *pairs, const Group *groups, int ng) {
  const __m512d zero = _mm512_setzero_pd();
  FLOAT_SUMS(Acc8, quad_step, flush8, zero)
}

AVX512 static void sign_counts_avx512(const Block *b, int N, size_t W, uint8_t *pairs) { sign_counts(b, N, W, pairs); }

/**
 * Two experts, up to four blocks at once: one pair's sums are one chain per lane, bound by the
 * add's latency, and fill a quarter of a register; here lanes 2k, 2k + 1 are block k's (rows of
 * 16 doubles, block k's τ₀ and τ₁ pairs at columns 2k, 2k + 1), so four chains run side by side.
 * Each block's sums go in in block order, as the blocks one at a time would add them.
 */
AVX512 static void pair_sums4(const double *t64, size_t Q, int blocks, uint8_t *gram, uint8_t *pairs) {
  const __m512i ii = _mm512_setr_epi64(0, 1, 4, 5, 8, 9, 12, 13), jj = _mm512_setr_epi64(2, 3, 6, 7, 10, 11, 14, 15);
  const __m512d zero = _mm512_setzero_pd();
  Acc8 a = {zero, zero, zero, zero};
  for (size_t q = 0; q < Q; q++) {
    const __m512d r0 = _mm512_loadu_pd(t64 + 16 * q), r1 = _mm512_loadu_pd(t64 + 16 * q + 8);
    quad_ops(&a, _mm512_permutex2var_pd(r0, ii, r1), _mm512_permutex2var_pd(r0, jj, r1));
  }
  double g[8], w[8], c[8], d[8];
  _mm512_storeu_pd(g, a.g);
  _mm512_storeu_pd(w, a.w);
  _mm512_storeu_pd(c, a.n);
  _mm512_storeu_pd(d, a.d);
  const Group one = {.i = 0, .delta = 1, .lanes = 1};
  for (int k = 0; k < blocks; k++) group_flush(&one, g + 2 * k, w + 2 * k, c + 2 * k, d + 2 * k, 2, gram, pairs);
}

// ── AVX2: two pairs a register, the same lanes and operations

/** Eight positions' τ as float64 (lo: 0–3, hi: 4–7) into one column of four consecutive rows from r. */
static inline __attribute__((always_inline)) AVX2 void store_rows4(double *r, size_t S, __m256d lo, __m256d hi) {
  _mm_storeu_pd(r, _mm256_castpd256_pd128(lo));
  _mm_storeu_pd(r + S, _mm256_extractf128_pd(lo, 1));
  _mm_storeu_pd(r + 2 * S, _mm256_castpd256_pd128(hi));
  _mm_storeu_pd(r + 3 * S, _mm256_extractf128_pd(hi, 1));
}

/** Four float32 τ as float64 (d: positions 0–3) → their squares' lanes as pairs.ts widen sums them: (0² + 2², 1² + 3²). */
static inline __attribute__((always_inline)) AVX2 __m128d widen4(__m256d d) {
  const __m256d sq = _mm256_mul_pd(d, d);
  return _mm_add_pd(_mm256_castpd256_pd128(sq), _mm256_extractf128_pd(sq, 1));
}

/** prepare_avx512 eight positions a step: the same rows, masks, Στ² (s0, s1 as pairs.ts keeps them) and support. */
AVX2 static int prepare_avx2(const uint16_t *bf, const Block *b, int i, int N, size_t L, int32_t thr) {
  const __m256i abs = _mm256_set1_epi32(0x7fffffff), zero = _mm256_setzero_si256();
  const __m256i T1 = _mm256_set1_epi32(thr - 1);  // |τ| ≥ t as |τ| > t − 1 (t ≥ 1)
  const size_t S = 2 * b->R;
  double *col = b->t64 + 2 * (b->col0 + (size_t)i), *copy = (size_t)i < b->copies ? col + 2 * (size_t)N : NULL;
  __m128d s0 = _mm_setzero_pd(), s1 = s0;
  uint64_t k = 0;
  for (size_t w = 0; w < L / 64; w++) {
    uint64_t nz = 0, sg = 0, kp = 0;
    for (unsigned g = 0; g < 64; g += 8) {
      const size_t e = 64 * w + g;
      const __m256 x = bf ? _mm256_sub_ps(_mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(bf + e))), 16)), _mm256_loadu_ps(b->base32 + e))
                          : _mm256_loadu_ps(b->tau32 + e);
      const __m256i a = _mm256_and_si256(_mm256_castps_si256(x), abs);
      sg |= (uint64_t)(uint32_t)_mm256_movemask_ps(x) << g;
      nz |= (uint64_t)(~(uint32_t)_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(a, zero))) & 0xffu) << g;
      kp |= (uint64_t)(uint32_t)_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(a, T1))) << g;
      const __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(x)), hi = _mm256_cvtps_pd(_mm256_extractf128_ps(x, 1));
      store_rows4(col + (e / 2) * S, S, lo, hi);
      if (copy) store_rows4(copy + (e / 2) * S, S, lo, hi);
      // sixteen positions are x0…x3 of four each, two steps here: s0 takes x0 then x2, s1 takes x1 then x3
      s0 = _mm_add_pd(s0, widen4(lo));
      s1 = _mm_add_pd(s1, widen4(hi));
    }
    b->nz[(size_t)i * WORDS + w] = nz;
    b->sg[(size_t)i * WORDS + w] = sg;
    b->kp[(size_t)i * WORDS + w] = kp;
    k += (uint64_t)__builtin_popcountll(kp);
  }
  const __m128d t = _mm_add_pd(s0, s1);
  const double d = _mm_cvtsd_f64(t) + _mm_cvtsd_f64(_mm_unpackhi_pd(t, t));
  b->diag[i] = d;
  b->kept[i] = (double)k;
  return __builtin_isfinite(d);
}

typedef struct {
  __m256d g, w, n, d;
} Acc4;

/** Two pairs' lanes of a group from a row: both lanes pairs, or the first only (the rest zero, never flushed). */
static inline __attribute__((always_inline)) AVX2 __m256d load_duo(const double *p, int lanes) {
  return lanes == 2 ? _mm256_loadu_pd(p) : _mm256_insertf128_pd(_mm256_setzero_pd(), _mm_loadu_pd(p), 0);
}

/** quad_step for two pairs; the conflict sum adds v where the product is negative and +0 elsewhere, as the WebAssembly kernel does. */
static inline __attribute__((always_inline)) AVX2 void duo_step(Acc4 *s, const Group *k, const double *row) {
  const __m256d sign = _mm256_set1_pd(-0.0), zero = _mm256_setzero_pd();
  const __m256d xi = load_duo(row + 2 * k->i, k->lanes), xj = load_duo(row + 2 * (k->i + k->delta), k->lanes);
  const __m256d p = _mm256_mul_pd(xi, xj);
  s->g = _mm256_add_pd(s->g, p);
  const __m256d v = _mm256_min_pd(_mm256_andnot_pd(sign, xj), _mm256_andnot_pd(sign, xi));
  s->w = _mm256_add_pd(s->w, v);
  s->n = _mm256_add_pd(s->n, _mm256_and_pd(v, _mm256_cmp_pd(p, zero, _CMP_LT_OQ)));
  const __m256d d = _mm256_sub_pd(xi, xj);
  s->d = _mm256_add_pd(s->d, _mm256_mul_pd(d, d));
}

AVX2 static void flush4(const Group *k, Acc4 s, int N, uint8_t *gram, uint8_t *pairs) { FLUSH(_mm256_storeu_pd, 4) }

/** pairs.ts floatSums, two pairs a group (sixteen registers: eight accumulators and the step's temporaries). */
AVX2 static void float_sums_avx2(const Block *b, int N, size_t Q, uint8_t *gram, uint8_t *pairs, const Group *groups, int ng) {
  const __m256d zero = _mm256_setzero_pd();
  FLOAT_SUMS(Acc4, duo_step, flush4, zero)
}

AVX2 static void sign_counts_avx2(const Block *b, int N, size_t W, uint8_t *pairs) { sign_counts(b, N, W, pairs); }

/** One instruction set's kernels; `width` pairs a register. */
typedef struct {
  int width;
  int (*prepare)(const uint16_t *bf, const Block *b, int i, int N, size_t L, int32_t thr);
  void (*float_sums)(const Block *b, int N, size_t Q, uint8_t *gram, uint8_t *pairs, const Group *groups, int ng);
  void (*sign_counts)(const Block *b, int N, size_t W, uint8_t *pairs);
} Path;

static const Path PATH_AVX512 = {4, prepare_avx512, float_sums_avx512, sign_counts_avx512};
static const Path PATH_AVX2 = {2, prepare_avx2, float_sums_avx2, sign_counts_avx2};

/**
 * One block's experts: the base decoded, each expert's τ into its column(s) of b's rows, masks,
 * Στ² and support. 0, or i + 1 at the first expert whose τ has a NaN/Inf (as pairs.ts blocks).
 */
static int prepare_block(const Path *path, uint8_t *mem, const uint32_t *desc, int N, size_t e, size_t len, size_t L, Block *b, const int32_t *t) {
  decode_padded(mem, desc[0], desc[1], e, len, L, b->base32);
  for (int i = 0; i < N; i++) {
    const uint32_t ptr = desc[2 * (i + 1)], code = desc[2 * (i + 1) + 1];
    if (code == CODE_BF16 && len == BLOCK) {
      // whole BF16 blocks (nearly all work): τ formed inside the one per-expert pass
      if (!path->prepare((const uint16_t *)(mem + ptr) + e, b, i, N, L, t[i])) return i + 1;
    } else {
      decode_padded(mem, ptr, code, e, len, L, b->tau32);
      if (code <= CODE_F64) sub_in_place(b->tau32, b->base32, L);
      if (non_finite(b->tau32, L)) return i + 1;
      path->prepare(NULL, b, i, N, L, t[i]);
    }
  }
  return 0;
}

/** A prepared block's Στ² and supports into the sums (the Gram diagonal, kept). */
static void add_diagonal(const Block *b, int N, uint8_t *gram, uint8_t *kept) {
  for (int i = 0; i < N; i++) {
    add64(gram + 8 * ((size_t)i * N + i), b->diag[i]);
    add64(kept + 8 * (size_t)i, b->kept[i]);
  }
}

/** Block b's masks, Στ² and supports at the scratch's m (N × WORDS × 3 words, then 2N doubles). */
static void masks_at(Block *b, uint8_t *m, int N) {
  b->nz = (uint64_t *)m;
  b->sg = b->nz + (size_t)N * WORDS;
  b->kp = b->sg + (size_t)N * WORDS;
  b->diag = (double *)(b->kp + (size_t)N * WORDS);
  b->kept = b->diag + N;
}

/**
 * Two experts on AVX-512 (pair_sums4): blocks in batches of four whole ones (else one), each
 * prepared into its two columns; a NaN/Inf in a batch's block k sums blocks 0…k − 1 first.
 */
AVX512 static int accumulate_pair(uint8_t *mem, const uint32_t *desc, size_t e0, size_t count, const int32_t *t, float *base32, float *tau32, uint8_t *gram, uint8_t *pairs, uint8_t *kept) {
  double *t64 = aligned_alloc(64, 16 * (BLOCK / 2) * 8);
  if (!t64) return -1;
  memset(t64, 0, 16 * (BLOCK / 2) * 8);  // the columns of blocks a batch lacks are read, never summed
  uint8_t masks[4][2 * WORDS * 24 + 32] __attribute__((aligned(64)));
  Block blk[4];
  for (int k = 0; k < 4; k++) {
    blk[k] = (Block){.base32 = base32, .tau32 = tau32, .t64 = t64, .R = 8, .col0 = 2 * (size_t)k, .copies = 0};
    masks_at(&blk[k], masks[k], 2);
  }
  int result = 0;
  for (size_t b0 = 0; b0 < count && !result;) {
    const size_t left = count - b0, len = left < BLOCK ? left : BLOCK, L = (len + 63) & ~(size_t)63;
    const int batch = left >= 4 * BLOCK ? 4 : left >= BLOCK ? (int)(left / BLOCK) : 1;
    int ready = 0;
    for (; ready < batch && !result; ready++) {
      result = prepare_block(&PATH_AVX512, mem, desc, 2, e0 + b0 + (size_t)ready * BLOCK, len, L, &blk[ready], t);
      if (result) break;
    }
    for (int k = 0; k < ready; k++) add_diagonal(&blk[k], 2, gram, kept);
    if (ready) pair_sums4(t64, L / 2, ready, gram, pairs);
    for (int k = 0; k < ready; k++) sign_counts_avx512(&blk[k], 2, L / 64, pairs);
    b0 += (size_t)batch * len;
  }
  free(t64);
  return result;
}

/**
 * pairs.ts accumulate over elements [e0, e0 + count), block by block: 0, or i + 1 when expert
 * i's τ has a NaN/Inf (that block adds nothing; the blocks before it are in the sums). The rows
 * and the groups are allocated per call (a call is up to 1M positions, ~2000 blocks); −1 when that fails.
 */
static int accumulate(const Path *path, uint8_t *mem, uint32_t src, int N, size_t e0, size_t count, uint32_t thr, uint32_t sums, uint32_t scratch) {
  const uint32_t *desc = (const uint32_t *)(mem + src);
  uint8_t *s = mem + scratch, *gram = mem + sums, *pairs = gram + 8 * (size_t)N * N, *kept = pairs + 8 * (size_t)(N * (N - 1) / 2) * PAIR_FIELDS;
  int32_t t[256];
  memcpy(t, mem + thr, 4 * (size_t)N);
  float *base32 = (float *)s, *tau32 = base32 + BLOCK;
  if (N == 2 && path == &PATH_AVX512) return accumulate_pair(mem, desc, e0, count, t, base32, tau32, gram, pairs, kept);
  Block b = {.base32 = base32, .tau32 = tau32, .col0 = 0};
  masks_at(&b, (uint8_t *)(tau32 + BLOCK), N);
  // a group reads columns up to i + l + δ: N − 1 + (N − 1)/2 at most (δ = N/2 of an even N has only i < N/2; lanes past a group's pairs are not read)
  b.copies = (size_t)((N - 1) / 2);
  b.R = (size_t)N + b.copies;
  b.t64 = aligned_alloc(64, ((b.R * BLOCK * 8) + 63) & ~(size_t)63);
  Group *groups = malloc(sizeof(Group) * (size_t)(N * N / 2 + N + 1));
  if (!b.t64 || !groups) {
    free(b.t64);
    free(groups);
    return -1;
  }
  const int ng = groups_of(N, path->width, groups);
  int result = 0;
  for (size_t b0 = 0; b0 < count && !result; b0 += BLOCK) {
    const size_t len = count - b0 < BLOCK ? count - b0 : BLOCK, L = (len + 63) & ~(size_t)63;
    result = prepare_block(path, mem, desc, N, e0 + b0, len, L, &b, t);
    if (result) break;
    add_diagonal(&b, N, gram, kept);
    path->float_sums(&b, N, L / 2, gram, pairs, groups, ng);
    path->sign_counts(&b, N, L / 64, pairs);
  }
  free(b.t64);
  free(groups);
  return result;
}
#endif

// ── Node-API: accumulate(memory view, src, N, e0, count, thr, sums, scratch) → 0, i + 1 (NaN/Inf in τᵢ), or −1 when not taken here

napi_value accumulate_js(napi_env env, napi_callback_info info) {
  TwinCall c;
  if (!twin_args(env, info, "accumulate", 7, &c)) return NULL;
#ifdef HAVE_AVX512_PATH
  const uint32_t src = (uint32_t)c.a[0], thr = (uint32_t)c.a[4], sums = (uint32_t)c.a[5], scratch = (uint32_t)c.a[6];
  const int N = (int)c.a[1];
  const size_t e0 = (size_t)c.a[2], count = (size_t)c.a[3];
  if (N < 1 || N > 256) return twin_result(env, NOT_TAKEN);
  const size_t sumBytes = 8 * ((size_t)N * N + (size_t)(N * (N - 1) / 2) * PAIR_FIELDS + (size_t)N);
  const int ok = sources_in_memory(c.mem, c.length, src, N, e0 + count) && (size_t)thr + 4 * (size_t)N <= c.length && (size_t)sums + sumBytes <= c.length && (size_t)scratch + scratch_bytes(N) <= c.length;
  if (!ok) return twin_out_of_memory(env, "accumulate");
  const Path *path = has_avx512 ? &PATH_AVX512 : has_avx2 ? &PATH_AVX2 : NULL;
  if (!path) return twin_result(env, NOT_TAKEN);
  return twin_result(env, accumulate(path, c.mem, src, N, e0, count, thr, sums, scratch));
#else
  return twin_result(env, NOT_TAKEN);
#endif
}
