// Native twin of SLERP's prescan (src/wasm/assembly/merge.ts slerpSums): the three float64 sums
// ‖a‖², ‖b‖², ⟨a, b⟩ of a tensor in eight lanes, element e going to lane e mod 8 in element order,
// as the WebAssembly kernel adds them — so the same bits (test/merge/native-suite.ts). Why: it
// ran in WebAssembly, 20 % of a 1.1B SLERP merge's CPU; here the lanes are one 8-wide vector.
#include "common.h"

typedef double v8d __attribute__((vector_size(64)));

/** Element j of a float32 (bf16 = 0) or BF16 (bf16 = 1) run, as float32 (BF16 exactly). */
static inline __attribute__((always_inline)) float elem(const void *p, int bf16, size_t j) {
  return bf16 ? bits_f32((uint32_t)((const uint16_t *)p)[j] << 16) : ((const float *)p)[j];
}

/** Lanes l of the sums (aa at 0, bb at 8, ab at 16) += one element pair's terms. */
static inline void lane_add(double *sums, size_t l, float x, float y) {
  const double a = x, b = y;
  sums[l] += a * a;
  sums[8 + l] += b * b;
  sums[16 + l] += a * b;
}

/** Elements [0, n) of a and b at global positions first, first + 1, …: eight-aligned runs as one vector per sum. */
static inline __attribute__((always_inline)) void run_sums(const void *restrict a, const void *restrict b, int bf16, size_t n, size_t first, double *restrict sums) {
  size_t j = 0;
  for (; j < n && ((first + j) & 7) != 0; j++) lane_add(sums, (first + j) & 7, elem(a, bf16, j), elem(b, bf16, j));
  v8d aa, bb, ab;
  memcpy(&aa, sums, 64);
  memcpy(&bb, sums + 8, 64);
  memcpy(&ab, sums + 16, 64);
  for (; j + 8 <= n; j += 8) {
    v8d x, y;
    for (int k = 0; k < 8; k++) {
      x[k] = elem(a, bf16, j + k);
      y[k] = elem(b, bf16, j + k);
    }
    // a product then a sum, never fused (-ffp-contract=off): WebAssembly has no FMA here
    aa += x * x;
    bb += y * y;
    ab += x * y;
  }
  memcpy(sums, &aa, 64);
  memcpy(sums + 8, &bb, 64);
  memcpy(sums + 16, &ab, 64);
  for (; j < n; j++) lane_add(sums, (first + j) & 7, elem(a, bf16, j), elem(b, bf16, j));
}

CLONES static void block_sums(const float *restrict a, const float *restrict b, size_t n, size_t first, double *restrict sums) { run_sums(a, b, 0, n, first, sums); }

/** The same straight from two BF16 sources: no decoded blocks (the decode was half of the sweep's time). */
CLONES static void bf16_sums(const uint16_t *restrict a, const uint16_t *restrict b, size_t n, size_t first, double *restrict sums) { run_sums(a, b, 1, n, first, sums); }

/** merge.ts slerpSums over elements [e0, e0 + count): a = the base (useBase) or expert 1, b = expert N; sums[24] counts the elements seen. */
static void slerp_sums(uint8_t *mem, uint32_t src, int N, size_t e0, size_t count, int useBase, double *sums, float *a32, float *b32) {
  const uint32_t *d = (const uint32_t *)(mem + src);
  const uint32_t *ad = useBase ? d : d + 2, *bd = d + 2 * (size_t)N;
  const size_t seen = (size_t)sums[24];
  if (ad[1] == CODE_BF16 && bd[1] == CODE_BF16) {
    bf16_sums((const uint16_t *)(mem + ad[0]) + e0, (const uint16_t *)(mem + bd[0]) + e0, count, seen, sums);
    sums[24] = (double)(seen + count);
    return;
  }
  for (size_t b0 = 0; b0 < count; b0 += MB) {
    const size_t len = count - b0 < MB ? count - b0 : MB;
    decode_padded(mem, ad[0], ad[1], e0 + b0, len, len, a32);
    decode_padded(mem, bd[0], bd[1], e0 + b0, len, len, b32);
    block_sums(a32, b32, len, seen + b0, sums);
  }
  sums[24] = (double)(seen + count);
}

// ── Node-API: slerpSums(memory view, src, N, e0, count, useBase, sums, scratch) → 0

napi_value slerp_sums_js(napi_env env, napi_callback_info info) {
  TwinCall c;
  if (!twin_args(env, info, "slerpSums", 7, &c)) return NULL;
  const uint32_t src = (uint32_t)c.a[0], sums = (uint32_t)c.a[5], scratch = (uint32_t)c.a[6];
  const int N = (int)c.a[1];
  const size_t e0 = (size_t)c.a[2], count = (size_t)c.a[3];
  if (N < 1 || N > 256) return twin_result(env, NOT_TAKEN);
  // sums: 3 × 8 lanes and the count, float64, 8-byte aligned as the WebAssembly kernel keeps them; scratch: two blocks of float32
  if (sums % 8 != 0 || scratch % 4 != 0) return twin_result(env, NOT_TAKEN);
  if (!sources_in_memory(c.mem, c.length, src, N, e0 + count) || (size_t)sums + 25 * 8 > c.length || (size_t)scratch + 2 * MB * 4 > c.length)
    return twin_out_of_memory(env, "slerpSums");
  float *a32 = (float *)(c.mem + scratch);
  slerp_sums(c.mem, src, N, e0, count, c.a[4] != 0, (double *)(c.mem + sums), a32, a32 + MB);
  return twin_result(env, 0);
}
