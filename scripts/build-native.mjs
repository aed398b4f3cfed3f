/**
 * The optional native kernels: src/native/*.c (the merge kernel, the trim sweep and the metrics'
 * pair kernel, twins of WebAssembly exports; the symmetric eigensolver, twin of a JavaScript
 * function) → dist/native/kernels.node with the
 * system's C compiler (cc, gcc or clang; $CC first) and Node-API headers (Node's own
 * include/node, else the node-api-headers package). No compiler or no headers: say so in one
 * line and build nothing — merges then run on the WebAssembly kernels, with the same bytes.
 * Plain JavaScript, no dependencies (runs before anything is built). Why not node-gyp: it
 * downloads Node's headers from the network at install; one compiler call needs none of it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

export const NATIVE_OUTPUT = 'dist/native/kernels.node';
/**
 * Exact float arithmetic (no FMA contraction, no fast-math): the bytes must equal the WebAssembly
 * kernel's. -fno-trapping-math only lets comparisons be vectorised (no one reads the FP flags).
 */
export const NATIVE_FLAGS = ['-O3', '-std=gnu11', '-fPIC', '-shared', '-fvisibility=hidden', '-ffp-contract=off', '-fno-math-errno', '-fno-trapping-math'];

/** Node-API headers: Node's own, or the node-api-headers package's. */
function includeDir(root) {
  const own = path.join(path.dirname(process.execPath), '..', 'include', 'node');
  if (existsSync(path.join(own, 'node_api.h'))) return own;
  try {
    return createRequire(path.join(root, 'package.json'))('node-api-headers').include_dir;
  } catch {
    return null;
  }
}

/** Build the addon; false (having said why) when it cannot be built here. */
export function buildNative(root, say) {
  const out = path.join(root, NATIVE_OUTPUT);
  rmSync(out, { force: true }); // never leave a binary of older sources behind
  const skip = (why) => {
    say(`native kernels not built (${why}); merges and metrics run on the WebAssembly kernels, with the same results`);
    return false;
  };
  const include = includeDir(root);
  const dir = path.join(root, 'src', 'native');
  const sources = readdirSync(dir).filter((f) => f.endsWith('.c')).sort().map((f) => path.join(dir, f));
  if (!include) return skip('no Node-API headers found');
  // $CC when set; else the first of cc, gcc, clang that is installed
  const compilers = process.env.CC ? [process.env.CC] : ['cc', 'gcc', 'clang'];
  mkdirSync(path.dirname(out), { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  for (const cc of compilers) {
    const r = spawnSync(cc, [...NATIVE_FLAGS, '-I', include, ...sources, '-o', tmp], { cwd: root, encoding: 'utf8' });
    if (r.error) continue; // not installed
    if (r.status === 0) {
      renameSync(tmp, out);
      return true;
    }
    rmSync(tmp, { force: true });
    const lines = (r.stderr || '').trim().split('\n');
    return skip(`${cc} failed: ${lines.filter((l) => /error/i.test(l)).slice(0, 3).join(' / ') || lines.slice(0, 3).join(' / ')}`);
  }
  return skip(`no C compiler found (${compilers.join(', ')})`);
}
