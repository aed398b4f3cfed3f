// The addon's entry: which CPU paths to use, and the Node-API glue its kernels share. Every
// export f(memory view, …numbers) but symmetricEigen is the twin of the WebAssembly export
// f(…numbers) and returns its result, or −1 when it does not take the call (src/wasm/kernels.ts
// then calls WebAssembly); symmetricEigen stands in for symmetric-eigen.ts's JavaScript solver.
#include "common.h"
#include <stdio.h>

int has_avx512 = 0;
int has_avx2 = 0;

int twin_args(napi_env env, napi_callback_info info, const char *name, size_t n, TwinCall *call) {
  char msg[160];
  size_t argc = 25;
  napi_value argv[25];
  if (n > 24 || napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < n + 1) {
    snprintf(msg, sizeof msg, "mergelens native %s: expected %zu arguments", name, n + 1);
    napi_throw_error(env, NULL, msg);
    return 0;
  }
  void *data;
  size_t offset;
  napi_typedarray_type type;
  napi_value ab;
  if (napi_get_typedarray_info(env, argv[0], &type, &call->length, &data, &ab, &offset) != napi_ok || type != napi_uint8_array) {
    snprintf(msg, sizeof msg, "mergelens native %s: argument 0 must be a Uint8Array over the kernels' memory", name);
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  call->mem = data;
  for (size_t k = 0; k < n; k++) {
    if (napi_get_value_double(env, argv[k + 1], &call->a[k]) != napi_ok) {
      snprintf(msg, sizeof msg, "mergelens native %s: arguments 1-%zu must be numbers", name, n);
      napi_throw_type_error(env, NULL, msg);
      return 0;
    }
  }
  return 1;
}

napi_value twin_result(napi_env env, double r) {
  napi_value result;
  napi_create_double(env, r, &result);
  return result;
}

napi_value twin_out_of_memory(napi_env env, const char *name) {
  char msg[160];
  snprintf(msg, sizeof msg, "mergelens native %s: a region lies outside the kernels' memory", name);
  napi_throw_range_error(env, NULL, msg);
  return NULL;
}

NAPI_MODULE_INIT() {
#ifdef HAVE_AVX512_PATH
  __builtin_cpu_init();
  // MERGELENS_NATIVE_AVX512=0: the plain loops and the pair kernel's AVX2 path (how CPUs without AVX-512 run; test/merge/native-generic.test.ts)
  const char *off = getenv("MERGELENS_NATIVE_AVX512");
  has_avx512 = !(off && off[0] == '0') && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw");
  has_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt");
#endif
  const struct { const char *name; napi_callback fn; } functions[] = {{"mergePart", merge_part_js}, {"bracketSweep", bracket_sweep_js}, {"accumulate", accumulate_js}, {"slerpSums", slerp_sums_js}, {"symmetricEigen", symmetric_eigen_js}, {"adviseHugePages", advise_huge_pages_js}};
#ifdef HAVE_AVX512_PATH
  const char *set = has_avx512 ? "AVX-512" : has_avx2 ? "AVX2" : "baseline x86-64";
#else
  const char *set = "portable C";
#endif
  napi_value name;
  napi_create_string_utf8(env, set, NAPI_AUTO_LENGTH, &name);
  napi_set_named_property(env, exports, "instructionSet", name);
  for (size_t k = 0; k < sizeof functions / sizeof functions[0]; k++) {
    napi_value fn;
    napi_create_function(env, functions[k].name, NAPI_AUTO_LENGTH, functions[k].fn, NULL, &fn);
    napi_set_named_property(env, exports, functions[k].name, fn);
  }
  return exports;
}
