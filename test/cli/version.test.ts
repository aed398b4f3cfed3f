/**
 * `mergelens --version` names the kernels the process runs: the native addon and the
 * instruction set it picked for this CPU (checked against /proc/cpuinfo's flags), or WebAssembly
 * and why (turned off, not built).
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { nativeKernels } from '../../src/native/load.js';
import { cpuHas } from '../helpers/cpu-flags.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function version(env: Record<string, string>): string {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', '--version'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...env } });
  expect(r.status).toBe(0);
  return r.stdout.trim();
}

describe('mergelens --version', () => {
  it('says when the native kernels are turned off', () => {
    expect(version({ MERGELENS_NATIVE: '0' })).toBe('0.1.0 (kernels: WebAssembly (native kernels turned off: MERGELENS_NATIVE=0))');
  });

  it.skipIf(!!nativeKernels())('says when the native kernels are not built', () => {
    expect(version({})).toMatch(/^0\.1\.0 \(kernels: WebAssembly \(native kernels (not built|did not load)/);
  });

  it.skipIf(!nativeKernels() || process.arch !== 'x64' || process.platform !== 'linux')('names the instruction set the native kernels picked for this CPU', () => {
    const avx512 = cpuHas(['avx512f', 'avx512vl', 'avx512dq', 'avx512bw']);
    const avx2 = cpuHas(['avx2', 'popcnt']);
    const expected = avx512 ? 'AVX-512' : avx2 ? 'AVX2' : 'baseline x86-64';
    expect(version({})).toBe(`0.1.0 (kernels: native (${expected}; WebAssembly for what they do not cover))`);
    // with the AVX-512 paths turned off, the next one down
    expect(version({ MERGELENS_NATIVE_AVX512: '0' })).toContain(`kernels: native (${avx2 ? 'AVX2' : 'baseline x86-64'};`);
  });
});
