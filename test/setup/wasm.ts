/**
 * vitest globalSetup: (re)build dist/wasm/kernels.wasm when it is missing or older than its
 * AssemblyScript sources, so `npx vitest` never runs against stale kernels.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export default function setup(): void {
  const wasm = path.join(root, 'dist', 'wasm', 'kernels.wasm');
  const srcDir = path.join(root, 'src', 'wasm', 'assembly');
  const newest = Math.max(...readdirSync(srcDir).map((f) => statSync(path.join(srcDir, f)).mtimeMs));
  if (existsSync(wasm) && statSync(wasm).mtimeMs >= newest) return;
  execFileSync('npm', ['run', '--silent', 'build:wasm'], { cwd: root, stdio: 'inherit' });
}
