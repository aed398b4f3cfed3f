/*
 * Native reference of the metrics pass's fused pair update, for `npm run bench`: the same
 * arithmetic as src/wasm/assembly/pairs.ts on the same kind of data, compiled by the bench with
 * `gcc -O3 -march=native` (strict IEEE order) and again with -ffast-math (sums reassociated and
 * vectorised freely). Per block of 512 coordinates: decode BF16 base + N experts, τ = θ − θ₀ in
 * float32, then for every pair i < j, in float64: Σ τᵢτⱼ, Σ (τᵢ−τⱼ)², Σ min(|τᵢ|,|τⱼ|) split by
 * the sign of τᵢτⱼ, and the counts of τᵢτⱼ > 0 and < 0 (plain and after a magnitude trim).
 * The same sums as the WebAssembly kernel; the counts are formed per pair and element here
 * (the kernel packs signs into bit masks once per expert and pops counts per pair), so this
 * does at least the kernel's work. Data as the bench's kernel phase: BF16 base in ±0.05, each
 * expert the base plus ±5e-4 (2% of positions left equal: exact zeros of τ), trim at 2e-4.
 *
 * Time: this thread's CPU time (the machine is shared; wall time would count other processes'
 * slices), best of REPS passes of the ELEMENTS — as the bench's WebAssembly kernel phase.
 *
 * Usage: pair_kernel N ELEMENTS [REPS [dump]] → prints {"experts":N,"elements":…,"nsPerPairElement":…,"check":…};
 * with "dump" also "pairs": per pair i < j [Σ τᵢτⱼ, Σ (τᵢ−τⱼ)², wAgree, wDisagree, agree, disagree,
 * tAgree, tDisagree] and "bf16": the inputs (base, then the experts) as hex, for
 * test/metrics/native-reference.test.ts to run the WebAssembly kernel on the same data.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BLOCK 512

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static float bf16(uint16_t h) {
  uint32_t u = (uint32_t)h << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

int main(int argc, char **argv) {
  int N = argc > 1 ? atoi(argv[1]) : 8;
  long n = argc > 2 ? atol(argv[2]) : (1L << 20);
  int reps = argc > 3 ? atoi(argv[3]) : 25;
  n -= n % BLOCK;
  uint16_t *src = malloc(sizeof(uint16_t) * (size_t)(N + 1) * n);
  uint64_t s = 88172645463325252ull;
  for (long k = 0; k < (long)(N + 1) * n; k++) {
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    // the base's value at position k mod n (regenerated from k so that experts share it)
    uint64_t b = 0x9e3779b97f4a7c15ull * (uint64_t)(k % n + 1);
    b ^= b >> 29;
    float base = ((int)(b & 0xffff) - 32768) / 32768.0f * 0.05f;
    float v = k < n || (s >> 40) % 50 == 0 ? base : base + ((int)((s >> 16) & 0xffff) - 32768) / 32768.0f * 5e-4f;
    uint32_t u;
    memcpy(&u, &v, 4);
    src[k] = (uint16_t)((u + 0x7fff + ((u >> 16) & 1)) >> 16);
  }
  int P = N * (N - 1) / 2;
  double *sums = calloc((size_t)P * 4, sizeof(double));
  long *counts = calloc((size_t)P * 4, sizeof(long));
  float *tau = malloc(sizeof(float) * N * BLOCK);
  float thr = 2e-4f;
  double best = 1e30;
  for (int rep = 0; rep < reps; rep++) {
    memset(sums, 0, sizeof(double) * P * 4);
    memset(counts, 0, sizeof(long) * P * 4);
    double t0 = now();
    for (long b0 = 0; b0 < n; b0 += BLOCK) {
      for (int i = 0; i < N; i++)
        for (int e = 0; e < BLOCK; e++) tau[i * BLOCK + e] = bf16(src[(long)(i + 1) * n + b0 + e]) - bf16(src[b0 + e]);
      int p = 0;
      for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++, p++) {
          const float *a = tau + i * BLOCK, *b = tau + j * BLOCK;
          double dot = 0, d2 = 0, wa = 0, wd = 0;
          long ag = 0, dis = 0, tag = 0, tdis = 0;
          for (int e = 0; e < BLOCK; e++) {
            double x = a[e], y = b[e];
            double prod = x * y, d = x - y, m = fmin(fabs(x), fabs(y));
            dot += prod;
            d2 += d * d;
            wa += prod > 0 ? m : 0;
            wd += prod < 0 ? m : 0;
            ag += prod > 0;
            dis += prod < 0;
            int kept = fabsf(a[e]) >= thr && fabsf(b[e]) >= thr;
            tag += kept && prod > 0;
            tdis += kept && prod < 0;
          }
          sums[p * 4] += dot, sums[p * 4 + 1] += d2, sums[p * 4 + 2] += wa, sums[p * 4 + 3] += wd;
          counts[p * 4] += ag, counts[p * 4 + 1] += dis, counts[p * 4 + 2] += tag, counts[p * 4 + 3] += tdis;
        }
    }
    double t = now() - t0;
    if (t < best) best = t;
  }
  double check = 0;
  for (int k = 0; k < P * 4; k++) check += sums[k] + (double)counts[k];
  printf("{\"experts\":%d,\"elements\":%ld,\"nsPerPairElement\":%.4f,\"check\":%.17g", N, n, best * 1e9 / ((double)n * P), check);
  if (argc > 4 && strcmp(argv[4], "dump") == 0) {
    printf(",\"pairs\":[");
    for (int p = 0; p < P; p++) {
      printf("%s[", p ? "," : "");
      for (int f = 0; f < 4; f++) printf("%.17g,", sums[p * 4 + f]);
      for (int f = 0; f < 4; f++) printf("%ld%s", counts[p * 4 + f], f < 3 ? "," : "]");
    }
    printf("],\"bf16\":\"");
    for (long k = 0; k < (long)(N + 1) * n; k++) printf("%04x", src[k]);
    printf("\"");
  }
  printf("}\n");
  return 0;
}
