// Native twin of the trim-threshold sweep (src/wasm/assembly/select.ts bracketSweep): TIES's
// prescan and the metrics' trim thresholds count, per expert, the |τ| above a bracket [lo, hi]
// and collect those inside it, in flat order. Same blocks, same counts, same collected values
// in the same order, the same expert named on a NaN/Inf (test/merge/native-suite.ts). Why: the
// WebAssembly sweep is four lanes with a branch per group; here AVX-512 compares sixteen lanes
// into mask registers and collects with one compress-store.
#include "common.h"

/** Elements per block (select.ts uses pairs.ts BLOCK): a NaN/Inf stops the sweep at the same block. */
#define BLOCK 512
/** Bytes of one expert's spec entry (select.ts BRACKET_SPEC). */
#define SPEC 48

/** One block's counts of one expert; the values strictly inside the bracket go to a staging area first (kept only when the block has no NaN/Inf). */
typedef struct {
  uint32_t above, eq_hi, eq_lo, inside;
} Counts;

/** Counts of L τ values (float32 bit patterns) against [lo, hi], the patterns strictly inside staged in order. */
CLONES static void count_plain(const uint32_t *tau, size_t L, int32_t hi, int32_t lo, uint32_t *stage, Counts *c) {
  uint32_t above = 0, eq_hi = 0, eq_lo = 0, inside = 0;
  for (size_t j = 0; j < L; j++) {
    const int32_t x = (int32_t)(tau[j] & 0x7fffffffu);
    above += x > hi;
    eq_hi += x == hi;
    eq_lo += x == lo;
    inside |= x > lo && x < hi;
  }
  uint32_t n = 0;
  if (inside) {
    for (size_t j = 0; j < L; j++) {
      const int32_t x = (int32_t)(tau[j] & 0x7fffffffu);
      if (x > lo && x < hi) stage[n++] = (uint32_t)x;
    }
  }
  *c = (Counts){above, eq_hi, eq_lo, n};
}

#ifdef HAVE_AVX512_PATH
/**
 * count_plain sixteen lanes a step, the comparisons into mask registers; the inside values are
 * compressed in a register and stored whole (the next step overwrites the unused lanes): a
 * compress straight to memory is microcoded on AMD Zen 4, and a branch on "any inside"
 * mispredicts. `bf16`: tau holds an expert's len BF16 values, made τ here (minus base32,
 * zero-padded as it) in the same loop, its next block prefetched; returns whether a τ is NaN/Inf.
 */
AVX512 static int count_avx512(const void *tau, const float *base32, int bf16, size_t len, size_t L, int32_t hi, int32_t lo, uint32_t *stage, Counts *c) {
  const __m512i H = _mm512_set1_epi32(hi), Lo = _mm512_set1_epi32(lo), abs = _mm512_set1_epi32(0x7fffffff);
  // NaN/Inf from the largest |τ| bit pattern, and the counts by popcount on the scalar side: the
  // loop is bound by its vector compares (sixteen lanes of |τ| against hi and lo), so each lane
  // is compared four times, not six (measured: 16 % faster from cache, 8 % from memory)
  __m512i top = _mm512_setzero_si512();
  uint32_t ge_hi = 0, eq_hi = 0, eq_lo = 0, n = 0;
  for (size_t j = 0; j < L; j += 16) {
    const __mmask16 valid = lanes_below(L, j);
    __m512i t;
    if (bf16) {
      // lanes from len on are padding: zeros, as the base's (nothing past the source is read)
      if ((j & 31) == 0) PREFETCH_NEXT((const uint16_t *)tau, j);
      const __m512i w = bf16_bits16((const uint16_t *)tau, j, lanes_below(len, j));
      t = _mm512_castps_si512(_mm512_sub_ps(_mm512_castsi512_ps(w), _mm512_maskz_loadu_ps(valid, base32 + j)));
    } else {
      t = _mm512_maskz_loadu_epi32(valid, (const uint32_t *)tau + j);
    }
    const __m512i x = _mm512_and_si512(t, abs);
    top = _mm512_max_epi32(top, x);
    const __mmask16 ge = _mm512_mask_cmpge_epi32_mask(valid, x, H);
    const __mmask16 in = _kandn_mask16(ge, _mm512_mask_cmpgt_epi32_mask(valid, x, Lo));  // lo < |τ| < hi
    ge_hi += (uint32_t)__builtin_popcount(ge);
    eq_hi += (uint32_t)__builtin_popcount(_mm512_mask_cmpeq_epi32_mask(valid, x, H));
    eq_lo += (uint32_t)__builtin_popcount(_mm512_mask_cmpeq_epi32_mask(valid, x, Lo));
    _mm512_storeu_si512(stage + n, _mm512_maskz_compress_epi32(in, x));
    n += (uint32_t)__builtin_popcount(in);
  }
  *c = (Counts){ge_hi - eq_hi, eq_hi, eq_lo, n};
  // |τ| as bits: NaN/Inf are the patterns from the exponent's all-ones on (padding lanes are 0)
  return bf16 && _mm512_reduce_max_epi32(top) >= 0x7f800000;
}
#endif

/**
 * select.ts bracketSweep over elements [e0, e0 + count): per block, the base decoded, then each
 * expert with a bracket (hi ≥ 0) in order: τ block (zero-padded to a multiple of 4, as there),
 * a NaN/Inf returns i + 1, else its counts. The spec is brought up to date on return, so a
 * sweep stopped by a NaN/Inf leaves it as the WebAssembly sweep does.
 */
static int bracket_sweep(uint8_t *mem, uint32_t src, int N, size_t e0, size_t count, uint32_t spec) {
  // on the stack: a _Thread_local buffer in a shared object costs a __tls_get_addr call per access
  float base32[BLOCK] __attribute__((aligned(64))), tau32[BLOCK] __attribute__((aligned(64)));
  uint32_t stage[BLOCK + 16] __attribute__((aligned(64)));
  const uint32_t *desc = (const uint32_t *)(mem + src);
  for (size_t b0 = 0; b0 < count; b0 += BLOCK) {
    const size_t len = count - b0 < BLOCK ? count - b0 : BLOCK;
    const size_t L = (len + 3) & ~(size_t)3;
    decode_padded(mem, desc[0], desc[1], e0 + b0, len, L, base32);
    for (int i = 0; i < N; i++) {
      uint32_t *sp = (uint32_t *)(mem + spec + SPEC * (size_t)i);
      const int32_t hi = (int32_t)sp[0], lo = (int32_t)sp[1];
      if (hi < 0) continue;
      const uint32_t code = desc[2 * (i + 1) + 1];
      Counts c;
#ifdef HAVE_AVX512_PATH
      if (has_avx512 && code == CODE_BF16) {
        // BF16 experts: decoded, τ formed and counted in one loop
        if (count_avx512((const uint16_t *)(mem + desc[2 * (i + 1)]) + e0 + b0, base32, 1, len, L, hi, lo, stage, &c)) return i + 1;
      } else
#endif
      {
        decode_padded(mem, desc[2 * (i + 1)], code, e0 + b0, len, L, tau32);
        if (code <= CODE_F64) sub_in_place(tau32, base32, L);
        if (non_finite(tau32, L)) return i + 1;
#ifdef HAVE_AVX512_PATH
        if (has_avx512) count_avx512(tau32, NULL, 0, L, L, hi, lo, stage, &c);
        else
#endif
          count_plain((const uint32_t *)tau32, L, hi, lo, stage, &c);
      }
      // collected: as far as the capacity goes, all counted; the padding lanes are |τ| = 0,
      // counted at an end of the bracket that is 0 and taken back (as select.ts)
      const uint32_t n = sp[4], cap = sp[3], room = n < cap ? cap - n : 0;
      memcpy(mem + sp[2] + 4 * (size_t)n, stage, 4 * (size_t)(c.inside < room ? c.inside : room));
      const uint32_t pad = (uint32_t)(L - len);
      sp[4] = n + c.inside;
      sp[5] += c.eq_hi - (hi == 0 ? pad : 0);
      sp[6] += c.eq_lo - (lo == 0 ? pad : 0);
      *(double *)(sp + 8) += c.above;
    }
  }
  return 0;
}

// ── Node-API: bracketSweep(memory view, src, N, e0, count, spec, scratch) → 0, i + 1 (NaN/Inf in τᵢ), or −1 when not taken here

napi_value bracket_sweep_js(napi_env env, napi_callback_info info) {
  TwinCall c;
  if (!twin_args(env, info, "bracketSweep", 6, &c)) return NULL;
  const uint32_t src = (uint32_t)c.a[0], spec = (uint32_t)c.a[4];
  const int N = (int)c.a[1];
  const size_t e0 = (size_t)c.a[2], count = (size_t)c.a[3];
  if (N < 0 || N > 256) return twin_result(env, NOT_TAKEN);
  int ok = sources_in_memory(c.mem, c.length, src, N, e0 + count) && (size_t)spec + SPEC * (size_t)N <= c.length;
  for (int i = 0; ok && i < N; i++) {
    const uint32_t *sp = (const uint32_t *)(c.mem + spec + SPEC * (size_t)i);
    ok = (int32_t)sp[0] < 0 || (size_t)sp[2] + 4 * (size_t)sp[3] <= c.length;
  }
  if (!ok) return twin_out_of_memory(env, "bracketSweep");
  return twin_result(env, bracket_sweep(c.mem, src, N, e0, count, spec));
}
