// Transparent huge pages for the kernels' memory. Why: every first touch of a 4 KiB page of the
// heap faults, and on this kind of VM a fault costs microseconds (a hypervisor round trip);
// 2 MiB pages fault 512× less often. Linux only; elsewhere (or where THP is off) a no-op.
#include "common.h"
#include <errno.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

/** adviseHugePages(view of the memory, bytes reserved from its start) → 0, or errno (nothing changes). */
napi_value advise_huge_pages_js(napi_env env, napi_callback_info info) {
  TwinCall c;
  if (!twin_args(env, info, "adviseHugePages", 1, &c)) return NULL;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  const uintptr_t huge = (uintptr_t)2 << 20, start = (uintptr_t)c.mem, end = start + (uintptr_t)c.a[0];
  const uintptr_t a = (start + huge - 1) & ~(huge - 1), b = end & ~(huge - 1);
  if (b <= a) return twin_result(env, 0);
  return twin_result(env, madvise((void *)a, b - a, MADV_HUGEPAGE) == 0 ? 0 : errno);
#else
  return twin_result(env, 0);
#endif
}
