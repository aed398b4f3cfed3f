#!/usr/bin/env node
/**
 * Build dist/ (WebAssembly kernels, TypeScript, the optional native kernels) only when its
 * sources changed, and say so.
 *
 *   node scripts/build.mjs           # `prepare`: build what is stale, otherwise one line and exit
 *   node scripts/build.mjs --always  # `npm run build`: build everything
 *
 * "Stale" is decided by content, not mtimes (a fresh clone or a checkout touches every file):
 * a SHA-256 of the inputs of each part is kept in dist/.build-stamp.json after a successful
 * build. The WebAssembly part hashes src/wasm/assembly and the build:wasm script; the TypeScript
 * part hashes the rest of src/, the tsconfig files and package.json; the optional native
 * kernels (scripts/build-native.mjs) hash src/native/*.c and *.h. A published package has no
 * src/: nothing to do. Plain JavaScript with no dependencies, so it runs before anything is built.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildNative, NATIVE_FLAGS, NATIVE_OUTPUT } from './build-native.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const stampFile = path.join(root, 'dist', '.build-stamp.json');
const say = (s) => process.stderr.write(`mergelens build: ${s}\n`);

/** Every file under `dir` (relative to root), sorted, skipping `except` folders; none when `dir` is absent. */
function files(dir, except = []) {
  const out = [];
  if (!existsSync(path.join(root, dir))) return out;
  const walk = (d) => {
    for (const e of readdirSync(path.join(root, d), { withFileTypes: true })) {
      const rel = path.join(d, e.name);
      if (except.includes(rel)) continue;
      if (e.isDirectory()) walk(rel);
      else out.push(rel);
    }
  };
  walk(dir);
  return out.sort();
}

function hash(paths, extra = '') {
  const h = createHash('sha256').update(extra);
  for (const p of paths) h.update(`\0${p}\0`).update(readFileSync(path.join(root, p)));
  return h.digest('hex');
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    say(`${[cmd, ...args].join(' ')} failed (exit ${r.status ?? r.signal})`);
    process.exit(r.status || 1);
  }
}

if (!existsSync(path.join(root, 'src'))) process.exit(0); // installed from a package: dist/ is what ships

const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const wasmDir = path.join('src', 'wasm', 'assembly');
const nativeDir = path.join('src', 'native');
const parts = {
  wasm: {
    label: 'WebAssembly kernels',
    hash: hash(files(wasmDir), pkg.scripts['build:wasm']),
    output: 'dist/wasm/kernels.wasm',
    build: () => run(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['run', '--silent', 'build:wasm']),
  },
  ts: {
    label: 'TypeScript',
    hash: hash([...files('src', [wasmDir]).filter((f) => !/\.[ch]$/.test(f)), 'tsconfig.json', 'tsconfig.build.json', 'package.json']),
    output: 'dist/cli/main.js',
    build: () => run(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json']),
  },
  // optional: without a C compiler (or Node-API headers) merges and metrics run on the WebAssembly kernels, with the same bytes
  native: {
    label: 'native kernels',
    hash: hash(files(nativeDir).filter((f) => /\.[ch]$/.test(f)), NATIVE_FLAGS.join(' ')),
    output: NATIVE_OUTPUT,
    optional: true,
    build: () => buildNative(root, say),
  },
};

const always = process.argv.includes('--always');
let stamp = {};
try {
  stamp = JSON.parse(readFileSync(stampFile, 'utf8'));
} catch {
  // no stamp: everything is stale
}
// an optional part whose last build of these sources failed is not retried until they change (or --always)
const missing = (name, p) => !existsSync(path.join(root, p.output)) && !(p.optional && stamp[name] === p.hash);
const stale = Object.entries(parts).filter(([name, p]) => always || stamp[name] !== p.hash || missing(name, p));
if (stale.length === 0) {
  say('dist/ is current (sources unchanged since the last build); nothing to do');
  process.exit(0);
}
if (!existsSync(path.join(root, 'node_modules', 'typescript'))) {
  say('dist/ is out of date but the build tools are not installed: run `npm ci` (or `npm install`) first');
  process.exit(1);
}
for (const [name, p] of stale) {
  const why = always ? 'requested' : stamp[name] === undefined || missing(name, p) ? 'no previous build' : 'sources changed';
  say(`building ${p.label} (${why})…`);
  const t0 = Date.now();
  const built = p.build() !== false; // an optional part says itself why it was not built
  stamp[name] = p.hash;
  mkdirSync(path.dirname(stampFile), { recursive: true });
  writeFileSync(stampFile, JSON.stringify(stamp, null, 1) + '\n');
  if (built) say(`${name} done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}
