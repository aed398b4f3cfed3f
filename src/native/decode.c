// Decoding stored dtypes to float32, task vectors and their NaN/Inf count, and the memory checks
// every native kernel makes first.
#include "common.h"

/** f16 bits → f32 bits, exactly (as dtype.ts f16Bits: the exponent/mantissa placed, then ×2¹¹²). */
static inline uint32_t f16_bits(uint32_t h) {
  uint32_t s = (h & 0x8000u) << 16, em = h & 0x7fffu;
  if (em >= 0x7c00u) return s | 0x7f800000u | ((em & 0x3ffu) << 13);
  return s | f32_bits(bits_f32(em << 13) * 5.192296858534828e33f);
}

CLONES void decode_padded(const uint8_t *mem, uint32_t src, uint32_t code, size_t e0, size_t len, size_t L, float *out) {
  size_t j = 0;
  if (code == CODE_F32 || code == CODE_TAU) {
    memcpy(out, mem + src + 4 * e0, 4 * len);
    j = len;
  } else if (code == CODE_BF16) {
    const uint16_t *p = (const uint16_t *)(mem + src) + e0;
    uint32_t *o = (uint32_t *)out;
    for (; j + 32 <= len; j += 32) {
      PREFETCH_NEXT(p, j);
      for (size_t k = j; k < j + 32; k++) o[k] = (uint32_t)p[k] << 16;
    }
    for (; j < len; j++) o[j] = (uint32_t)p[j] << 16;
  } else if (code == CODE_F16) {
    const uint16_t *p = (const uint16_t *)(mem + src) + e0;
    uint32_t *o = (uint32_t *)out;
    for (; j < len; j++) o[j] = f16_bits(p[j]);
  } else if (code == CODE_F64) {
    const double *p = (const double *)(mem + src) + e0;
    for (; j < len; j++) out[j] = (float)p[j];
  }
  for (; j < L; j++) out[j] = 0;
}

CLONES uint32_t non_finite(const float *x, size_t n) {
  const uint32_t *u = (const uint32_t *)x;
  uint32_t c = 0;
  for (size_t j = 0; j < n; j++) c += (u[j] & 0x7f800000u) == 0x7f800000u;
  return c;
}

CLONES void sub_in_place(float *restrict x, const float *restrict b, size_t n) {
  for (size_t j = 0; j < n; j++) x[j] = x[j] - b[j];
}

/** Bytes per element of a source code (the decoders read nothing of ZERO, and DELTA is float32 ΔW). */
static size_t code_bytes(uint32_t code) {
  switch (code) {
    case CODE_F32: case CODE_TAU: case CODE_DELTA: return 4;
    case CODE_F16: case CODE_BF16: return 2;
    case CODE_F64: return 8;
    default: return 0;
  }
}

int sources_in_memory(const uint8_t *mem, size_t length, uint32_t src, int N, size_t end) {
  if ((size_t)src + 8 * ((size_t)N + 1) > length) return 0;
  const uint32_t *desc = (const uint32_t *)(mem + src);
  for (int i = 0; i <= N; i++) {
    if ((size_t)desc[2 * i] + end * code_bytes(desc[2 * i + 1]) > length) return 0;
  }
  return 1;
}
