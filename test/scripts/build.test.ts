/**
 * scripts/build.mjs (`prepare`, `npm run build`): builds only the parts whose sources changed
 * by content, says what it does, and does nothing when dist/ is current — run on a scratch
 * project whose "compilers" are stubs that log each call (the C compiler through $CC).
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';

const dir = mkdtempSync(path.join(tmpdir(), 'mergelens-build-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const p = (...s: string[]) => path.join(dir, ...s);
const log = p('calls.log');

function put(file: string, text: string): void {
  mkdirSync(path.dirname(p(file)), { recursive: true });
  writeFileSync(p(file), text);
}

function setup(): void {
  mkdirSync(p('scripts'));
  copyFileSync(path.join(ROOT, 'scripts', 'build.mjs'), p('scripts', 'build.mjs'));
  copyFileSync(path.join(ROOT, 'scripts', 'build-native.mjs'), p('scripts', 'build-native.mjs'));
  // C compilers: one that writes its -o output, one that fails (both log their call)
  for (const [file, ok] of [['cc-ok', true], ['cc-fail', false]] as const) {
    put(file, `#!${process.execPath}\nconst fs = require('fs'); fs.appendFileSync(${JSON.stringify(log)}, 'cc ' + process.argv.filter((a) => a.endsWith('.c')).map((a) => require('path').basename(a)).join(',') + '\\n');\n${ok ? "fs.writeFileSync(process.argv[process.argv.indexOf('-o') + 1], 'built');" : "console.error('merge.c:1:1: error: stub'); process.exit(1);"}\n`);
    chmodSync(p(file), 0o755);
  }
  put('src/native/merge.c', 'int f(void) { return 1; }');
  put('src/native/select.c', 'int g(void) { return 2; }');
  put('src/native/common.h', 'int f(void);');
  const stub = (name: string, out: string) =>
    `require('fs').appendFileSync(${JSON.stringify(log)}, '${name}\\n'); require('fs').mkdirSync(require('path').dirname(${JSON.stringify(p(out))}), { recursive: true }); require('fs').writeFileSync(${JSON.stringify(p(out))}, 'built');`;
  put('wasm-stub.cjs', stub('wasm', 'dist/wasm/kernels.wasm'));
  put('node_modules/typescript/bin/tsc', stub('tsc', 'dist/cli/main.js'));
  put('package.json', JSON.stringify({ name: 'scratch', scripts: { 'build:wasm': 'node wasm-stub.cjs' } }));
  put('tsconfig.json', '{}');
  put('tsconfig.build.json', '{}');
  put('src/wasm/assembly/index.ts', 'export function f(): i32 { return 1; }');
  put('src/cli/main.ts', 'console.log(1);');
}

let cc = 'cc-ok';
/** The C compiler's call: every C source of src/native, in one. */
const CC = 'cc merge.c,select.c';
const build = (...args: string[]) => {
  const r = spawnSync(process.execPath, [p('scripts', 'build.mjs'), ...args], { cwd: dir, encoding: 'utf8', env: { ...process.env, CC: p(cc) } });
  const calls = existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').filter(Boolean) : [];
  rmSync(log, { force: true });
  return { status: r.status, stderr: r.stderr, calls };
};

describe('scripts/build.mjs', () => {
  it('builds what is stale, by content, and says so; nothing when current', () => {
    setup();
    let r = build();
    expect(r.status).toBe(0);
    expect(r.calls).toEqual(['wasm', 'tsc', CC]);
    expect(r.stderr).toContain('building WebAssembly kernels (no previous build)');
    expect(r.stderr).toContain('building TypeScript (no previous build)');
    expect(r.stderr).toContain('building native kernels (no previous build)');
    expect(existsSync(p('dist/native/kernels.node'))).toBe(true);

    r = build();
    expect(r.calls).toEqual([]);
    expect(r.stderr).toContain('dist/ is current');

    // a new mtime with the same content (a fresh checkout) is not a change
    const t = new Date(Date.now() + 60_000);
    utimesSync(p('src/cli/main.ts'), t, t);
    expect(build().calls).toEqual([]);

    appendFileSync(p('src/cli/main.ts'), '\nconsole.log(2);');
    r = build();
    expect(r.calls).toEqual(['tsc']);
    expect(r.stderr).toContain('building TypeScript (sources changed)');

    appendFileSync(p('src/wasm/assembly/index.ts'), '\n// changed');
    expect(build().calls).toEqual(['wasm']);

    appendFileSync(p('src/native/merge.c'), '\n// changed');
    expect(build().calls).toEqual([CC]); // the C sources are the native part's alone
    appendFileSync(p('src/native/common.h'), '\n// changed');
    expect(build().calls).toEqual([CC]); // and its header

    rmSync(p('dist/cli/main.js'));
    expect(build().calls).toEqual(['tsc']); // an output removed by hand is rebuilt

    expect(build('--always').calls).toEqual(['wasm', 'tsc', CC]);
  });

  it('the native kernel is optional: a failed compile says so, exits 0, and is retried only when its source changes', () => {
    cc = 'cc-fail';
    appendFileSync(p('src/native/merge.c'), '\n// changed again');
    let r = build();
    expect(r.status).toBe(0);
    expect(r.calls).toEqual([CC]);
    expect(r.stderr).toMatch(/native kernels not built \(.*cc-fail failed: merge\.c:1:1: error: stub\); merges and metrics run on the WebAssembly kernels/);
    expect(existsSync(p('dist/native/kernels.node'))).toBe(false); // no binary of older sources left behind
    r = build();
    expect(r.calls).toEqual([]);
    expect(r.stderr).toContain('dist/ is current');
    cc = 'cc-ok';
    appendFileSync(p('src/native/merge.c'), '\n// fixed');
    expect(build().calls).toEqual([CC]);
    expect(existsSync(p('dist/native/kernels.node'))).toBe(true);
  });

  it('a failed build leaves the part stale (no stamp), so the next run builds it again', () => {
    put('node_modules/typescript/bin/tsc', `require('fs').appendFileSync(${JSON.stringify(log)}, 'tsc\\n'); process.exit(2);`);
    appendFileSync(p('src/cli/main.ts'), '\nconsole.log(3);');
    let r = build();
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('failed (exit 2)');
    r = build();
    expect(r.calls).toEqual(['tsc']);
  });
});
