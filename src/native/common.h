// What the native kernels share: source codes, the block size, the dtype decoders, the memory
// checks and the Node-API argument handling. Each kernel is the twin of a WebAssembly export of
// the same name (src/wasm/assembly), on the same memory, writing the same bytes.
#ifndef MERGELENS_NATIVE_COMMON_H
#define MERGELENS_NATIVE_COMMON_H
#include <node_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_AVX512_PATH 1
#define AVX512 __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw")))
#endif

/** Elements per block of the merge kernel (merge.ts MB). */
#define MB 1024
enum { CODE_F32 = 0, CODE_F16 = 1, CODE_BF16 = 2, CODE_F64 = 3, CODE_TAU = 4, CODE_ZERO = 5, CODE_DELTA = 6 };

// One binary for every x86-64: the loops are compiled for AVX-512, AVX2 and baseline, picked at load.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define CLONES __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#else
#define CLONES
#endif

// A block is a 2 KB run per BF16 source, too short for the hardware prefetcher to pick up: the
// loops over stored bytes prefetch the same source's next block one cache line per 32 elements
// (measured at 1.1B × 8 weight_avg: 6.4–7.4 CPU-s against 7.9–9.9; all 32 lines at the block's
// start measured 8.2–9.1). A prefetch past the source's end is harmless (it never faults).
#define PREFETCH_NEXT(p, j) __builtin_prefetch((p) + (j) + MB, 0, 0)

static inline uint32_t f32_bits(float x) { uint32_t u; memcpy(&u, &x, 4); return u; }
static inline float bits_f32(uint32_t u) { float x; memcpy(&x, &u, 4); return x; }

/** AVX-512 F/VL/DQ/BW on this CPU (set at load): the mask-heavy loops use intrinsics there; elsewhere plain loops (slower, same bytes). */
extern int has_avx512;

/** AVX2 and POPCNT on this CPU (set at load): the pair kernel's narrower path where AVX-512 is missing or turned off. */
extern int has_avx2;

/** out[0, len) = elements [e0, e0 + len) of a source as float32 (dtype.ts decodeBlock), zeros to L. */
void decode_padded(const uint8_t *mem, uint32_t src, uint32_t code, size_t e0, size_t len, size_t L, float *out);

/** #NaN/Inf among n float32 values. */
uint32_t non_finite(const float *x, size_t n);

/** x[j] = x[j] − b[j] in float32 (τ = θ − θ₀, correctly rounded). */
void sub_in_place(float *restrict x, const float *restrict b, size_t n);

#ifdef HAVE_AVX512_PATH
/** The first n − j of sixteen lanes from element j (all sixteen, or none past n). */
static inline __attribute__((always_inline)) __mmask16 lanes_below(size_t n, size_t j) {
  return n >= j + 16 ? (__mmask16)0xffff : n > j ? (__mmask16)((1u << (n - j)) - 1) : 0;
}

/** Sixteen BF16 values from p + j as float32 bit patterns (the lanes outside `lanes` zero: nothing past them is read). */
static inline __attribute__((always_inline)) AVX512 __m512i bf16_bits16(const uint16_t *p, size_t j, __mmask16 lanes) {
  return _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(lanes, p + j)), 16);
}
#endif

/**
 * Whether a source block's descriptor (base and N experts, 8 bytes each at src) and every
 * source's elements [0, end) lie inside `length` bytes of memory: what a WebAssembly trap
 * guarantees there, checked here before anything is read.
 */
int sources_in_memory(const uint8_t *mem, size_t length, uint32_t src, int N, size_t end);

/** A native twin's call: the kernels' memory and the WebAssembly export's numeric arguments. */
typedef struct {
  uint8_t *mem;
  size_t length;
  double a[24];
} TwinCall;

/** Read `n` numeric arguments after the memory view into call; false with a JavaScript exception pending when they are not that. */
int twin_args(napi_env env, napi_callback_info info, const char *name, size_t n, TwinCall *call);

/** The twin's result to JavaScript: the kernel's return value, or NOT_TAKEN (the WebAssembly kernel runs instead). */
#define NOT_TAKEN (-1.0)
napi_value twin_result(napi_env env, double r);

/** Throw a RangeError naming the twin: a region lies outside the kernels' memory. */
napi_value twin_out_of_memory(napi_env env, const char *name);

napi_value merge_part_js(napi_env env, napi_callback_info info);
napi_value bracket_sweep_js(napi_env env, napi_callback_info info);
napi_value accumulate_js(napi_env env, napi_callback_info info);
napi_value slerp_sums_js(napi_env env, napi_callback_info info);
/** Not a twin of a WebAssembly export: symmetric-eigen.ts's solver on its own Float64Arrays. */
napi_value symmetric_eigen_js(napi_env env, napi_callback_info info);
napi_value advise_huge_pages_js(napi_env env, napi_callback_info info);
#endif
