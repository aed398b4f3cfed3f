/**
 * Every ```bash block of README.md runs, as written, so the examples cannot rot.
 *
 * Each block runs with `bash -e -o pipefail` in its own scratch folder that looks like a clone
 * after `npm ci && npm run study`: `fixtures/` and `scripts/` link to the repository's (commands
 * only read them — mergelens never modifies an input), `mergelens-out/study/` holds a copy of the
 * committed study outputs (reports/: what the study writes), and `mergelens` on PATH runs this
 * checkout's CLI from source. Outputs land in the scratch folder, which is deleted afterwards.
 *
 * A block that cannot run here says so in its first line, with the reason:
 *     # not run by the README test: <reason>
 * Only a handful may (MAX_SKIPPED); a marker without a reason fails the test.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';

export interface ShellBlock {
  /** 1-based line of the opening fence. */
  line: number;
  code: string;
  /** Set when the block is marked as not run: the reason given. */
  skipReason?: string;
}

const SKIP_MARK = /^#\s*not run by the README test:(.*)$/;
const MAX_SKIPPED = 3;

/** The ```bash (or ```sh) blocks of a markdown text, in order. */
export function shellBlocks(markdown: string): ShellBlock[] {
  const lines = markdown.split('\n');
  const out: ShellBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(bash|sh|shell)\s*$/.test(lines[i])) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]); i++) body.push(lines[i]);
    const mark = body[0]?.match(SKIP_MARK);
    out.push({ line: start + 1, code: body.join('\n'), ...(mark ? { skipReason: mark[1].trim() } : {}) });
  }
  return out;
}

const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
/**
 * The README's first block is the install-and-test pair (`npm ci && npm run study`, `npm test`):
 * running it here would reinstall and run this very suite. It is checked against what CI runs
 * instead (below), and counts as a skipped block.
 */
const INSTALL_REASON = 'the install-and-test commands: CI runs them on a clean clone (.ci/run)';
const blocks = shellBlocks(readme).map((b, k) => (k === 0 ? { ...b, skipReason: INSTALL_REASON } : b));
const scratchRoot = mkdtempSync(path.join(tmpdir(), 'mergelens-readme-'));
afterAll(() => rmSync(scratchRoot, { recursive: true, force: true }));

/** A scratch folder laid out like a clone after the README's two commands, and a PATH with `mergelens`. */
function scratch(name: string): { cwd: string; env: NodeJS.ProcessEnv } {
  const cwd = path.join(scratchRoot, name);
  mkdirSync(cwd, { recursive: true });
  for (const d of ['fixtures', 'scripts']) symlinkSync(path.join(ROOT, d), path.join(cwd, d));
  mkdirSync(path.join(cwd, 'mergelens-out'));
  cpSync(path.join(ROOT, 'reports'), path.join(cwd, 'mergelens-out', 'study'), { recursive: true, filter: (src) => !src.includes(`${path.sep}bench`) });
  const bin = path.join(cwd, '.bin');
  mkdirSync(bin);
  const tsx = fileURLToPath(import.meta.resolve('tsx'));
  const shim = path.join(bin, 'mergelens');
  writeFileSync(shim, `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} --import ${JSON.stringify(tsx)} ${JSON.stringify(path.join(ROOT, 'src/cli/main.ts'))} "$@"\n`);
  chmodSync(shim, 0o755);
  return { cwd, env: { ...process.env, PATH: `${bin}${path.delimiter}${process.env.PATH}`, FORCE_COLOR: '0', NO_COLOR: '1' } };
}

describe('README.md shell blocks', () => {
  it('has blocks, and few marked as not run — each with a reason', () => {
    expect(blocks.length).toBeGreaterThan(5);
    const skipped = blocks.filter((b) => b.skipReason !== undefined);
    for (const b of skipped) expect(b.skipReason, `README.md:${b.line}: a "not run" marker needs a reason`).not.toBe('');
    expect(skipped.length, skipped.map((b) => `README.md:${b.line}: ${b.skipReason}`).join('\n')).toBeLessThanOrEqual(MAX_SKIPPED);
  });

  it('opens with the two commands, and CI runs the same install and test commands', () => {
    expect(blocks[0].line).toBe(3);
    const cmds = blocks[0].code.split('\n').map((l) => l.replace(/#.*$/, '').trim());
    expect(cmds).toEqual(['npm ci && npm run study', 'npm test']);
    const ci = readFileSync(path.join(ROOT, '.ci/run'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    expect(ci.filter((l) => l.startsWith('npm'))).toEqual(['npm ci --no-audit --no-fund', 'npm test']);
    // `npm run study` and `npm test` are the scripts the README means
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.study).toMatch(/dist\/cli\/main\.js study\b/);
    expect(pkg.scripts.test).toBe('vitest run');
  });

  const runnable = blocks.filter((b) => b.skipReason === undefined);
  it.each(runnable.map((b) => [`README.md:${b.line}`, b] as const))('%s runs and exits 0', (label, block) => {
    const { cwd, env } = scratch(label.replace(/\W/g, '_'));
    const r = spawnSync('bash', ['-e', '-o', 'pipefail', '-c', block.code], { cwd, env, encoding: 'utf8', timeout: 180_000, input: '' });
    expect(r.status, `${label} failed (exit ${r.status ?? r.signal}):\n$ ${block.code}\n--- stdout\n${r.stdout.slice(-2000)}\n--- stderr\n${r.stderr.slice(-3000)}`).toBe(0);
  }, 200_000);
});

describe('README.md links', () => {
  it('every relative link points at a file of the repository, and the README stays short', () => {
    const links = [...readme.matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)].map((m) => m[1]).filter((l) => !/^[a-z]+:/.test(l));
    expect(links.length).toBeGreaterThan(10);
    for (const l of links) expect(existsSync(path.join(ROOT, l)), l).toBe(true);
    // Reference material lives in docs/; the README holds the tour and the studies' headline tables.
    expect(readme.split('\n').length).toBeLessThanOrEqual(360);
  });
});

describe('shellBlocks', () => {
  it('finds bash/sh blocks with their line and skip reason, and ignores other languages', () => {
    const md = ['# t', '```bash', 'echo a', '```', '```json', '{}', '```', '```sh', '# not run by the README test: needs a GPU', 'x', '```'].join('\n');
    expect(shellBlocks(md)).toEqual([
      { line: 2, code: 'echo a' },
      { line: 8, code: '# not run by the README test: needs a GPU\nx', skipReason: 'needs a GPU' },
    ]);
  });
});
