/**
 * The optional native merge kernel (src/native/merge.c, built at install into
 * dist/native/merge.node by scripts/build.mjs when a C compiler is present). It handles the
 * streaming rules (weight_avg, task_arithmetic, slerp) with the WebAssembly kernel's exact
 * arithmetic, eight float64 lanes wide; every other call, and every machine without it, runs
 * the WebAssembly kernel. MERGELENS_NATIVE=0 turns it off (the bench's A/B, a suspected bug).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** What merge.node exports: mergePart(view of the kernels' memory, …the WebAssembly mergePart's arguments) → handled. */
export interface NativeMerge {
  mergePart(memory: Uint8Array, ...args: number[]): boolean;
}

/** Where the build puts the addon (absolute path). */
export const NATIVE_PATH = fileURLToPath(new URL('../../dist/native/merge.node', import.meta.url));

let loaded: NativeMerge | null | undefined;

/** Whether the native kernel may be used in this process (built, loadable, not turned off). */
export function nativeMergePath(): string | null {
  return process.env.MERGELENS_NATIVE === '0' || !existsSync(NATIVE_PATH) ? null : NATIVE_PATH;
}

/** The native kernel, or null (not built, turned off, or not loadable on this platform: the WebAssembly kernel runs). */
export function nativeMerge(): NativeMerge | null {
  if (loaded !== undefined) return loaded;
  const at = nativeMergePath();
  try {
    loaded = at ? (createRequire(import.meta.url)(at) as NativeMerge) : null;
  } catch {
    loaded = null; // e.g. a dist/ copied to another platform
  }
  return loaded;
}
