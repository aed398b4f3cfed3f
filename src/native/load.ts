/**
 * The optional native kernels (src/native/*.c, built at install into dist/native/kernels.node by
 * scripts/build.mjs when a C compiler is present): twins of WebAssembly exports — the fused
 * merge kernel's mergePart for every rule, bracketSweep (TIES's and the metrics' trim-threshold
 * sweep), accumulate (the metrics pass's pair kernel; AVX-512 or AVX2) and slerpSums (SLERP's
 * prescan) — with
 * the same arithmetic on the same memory (the same bytes), AVX2/AVX-512 wide; besides them, the
 * symmetric eigensolver of the SVD merges and subspace metrics (the same bytes) and the
 * transparent-huge-page advice for the kernels' memory. Every machine without them runs the
 * WebAssembly kernels. MERGELENS_NATIVE=0 turns them off (the bench's
 * A/B, a suspected bug).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** Returned by a twin that leaves the call to the WebAssembly kernel. */
export const NOT_TAKEN = -1;

/** A native twin: f(view of the kernels' memory, …the WebAssembly export's arguments) → its result, or NOT_TAKEN. */
export type NativeTwin = (memory: Uint8Array, ...args: number[]) => number;

/** What kernels.node exports: twins by the name of the WebAssembly export each stands in for, the eigensolver and the huge-page advice. */
export interface NativeKernels {
  mergePart: NativeTwin;
  bracketSweep: NativeTwin;
  accumulate: NativeTwin;
  slerpSums: NativeTwin;
  /**
   * symmetric-eigen.ts's tred2 + tql2 in place on (T, d, e), n = d.length, the same bytes
   * (src/native/eigen.c): 0, or 1 when an eigenvalue did not converge. Not a WebAssembly twin.
   */
  symmetricEigen: (T: Float64Array, d: Float64Array, e: Float64Array) => number;
  /**
   * madvise(MADV_HUGEPAGE) over the 2 MiB-aligned part of `bytes` reserved from the view's start
   * (src/native/memory.c): 0, or the errno (nothing changed). Not a WebAssembly twin.
   */
  adviseHugePages: (memory: Uint8Array, bytes: number) => number;
  /** The loops the addon picked for this CPU at load: 'AVX-512', 'AVX2', 'baseline x86-64' or 'portable C'. */
  instructionSet: string;
}

/** Where the build puts the addon (absolute path). */
export const NATIVE_PATH = fileURLToPath(new URL('../../dist/native/kernels.node', import.meta.url));

let loaded: NativeKernels | null | undefined;

/** The native kernels (loaded from NATIVE_PATH), or null (not built, turned off, or not loadable on this platform: the WebAssembly kernels run). */
export function nativeKernels(): NativeKernels | null {
  if (loaded !== undefined) return loaded;
  try {
    loaded = process.env.MERGELENS_NATIVE !== '0' && existsSync(NATIVE_PATH) ? (createRequire(import.meta.url)(NATIVE_PATH) as NativeKernels) : null;
  } catch {
    loaded = null; // e.g. a dist/ copied to another platform
  }
  return loaded;
}

/** Which kernels this process runs, in words (`mergelens --version`): the native ones and their instruction set, or WebAssembly and why. */
export function kernelsDescription(): string {
  if (process.env.MERGELENS_NATIVE === '0') return 'WebAssembly (native kernels turned off: MERGELENS_NATIVE=0)';
  const native = nativeKernels();
  if (native) return `native (${native.instructionSet}; WebAssembly for what they do not cover)`;
  return existsSync(NATIVE_PATH) ? 'WebAssembly (the native kernels did not load on this platform)' : 'WebAssembly (native kernels not built: no C compiler at install)';
}
