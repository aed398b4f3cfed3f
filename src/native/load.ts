/**
 * The optional native merge kernel (src/native/merge.c, built at install into
 * dist/native/merge.node by scripts/build.mjs when a C compiler is present): the fused merge
 * kernel's mergePart for every rule, with the WebAssembly kernel's exact arithmetic (the same
 * bytes), AVX2/AVX-512 wide; every machine without it runs the WebAssembly kernel.
 * MERGELENS_NATIVE=0 turns it off (the bench's A/B, a suspected bug).
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

/** The native kernel (loaded from NATIVE_PATH), or null (not built, turned off, or not loadable on this platform: the WebAssembly kernel runs). */
export function nativeMerge(): NativeMerge | null {
  if (loaded !== undefined) return loaded;
  try {
    loaded = process.env.MERGELENS_NATIVE !== '0' && existsSync(NATIVE_PATH) ? (createRequire(import.meta.url)(NATIVE_PATH) as NativeMerge) : null;
  } catch {
    loaded = null; // e.g. a dist/ copied to another platform
  }
  return loaded;
}
