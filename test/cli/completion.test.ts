/**
 * `mergelens completion bash`: sourced into a real bash, it completes sub-command names from the
 * command list and options from the command's own --help.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { commands } from '../../src/cli/commands/index.js';
import { ROOT } from '../helpers/cli.js';

const bin = mkdtempSync(path.join(os.tmpdir(), 'mergelens-completion-'));
afterAll(() => rmSync(bin, { recursive: true, force: true }));
const loader = pathToFileURL(path.join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
writeFileSync(path.join(bin, 'mergelens'), `#!/bin/sh\nexec "${process.execPath}" --import ${loader} "${path.join(ROOT, 'src/cli/main.ts')}" "$@"\n`);
chmodSync(path.join(bin, 'mergelens'), 0o755);

function complete(...words: string[]): string[] {
  const script = `source <(mergelens completion bash) && COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}) && COMP_CWORD=${words.length - 1} && _mergelens && printf '%s\\n' "\${COMPREPLY[@]}"`;
  const r = spawnSync('bash', ['-c', script], { encoding: 'utf8', env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
  expect(r.stderr).toBe('');
  return r.stdout.split('\n').filter(Boolean);
}

describe('shell completion', () => {
  it('completes command names and each command’s options', () => {
    expect(complete('mergelens', 'me')).toEqual(['merge', 'methods', 'metrics']);
    expect(complete('mergelens', '')).toEqual([...commands.map((c) => c.name), 'help'].sort());
    expect(complete('mergelens', 'clean', '--d')).toEqual(['--dry-run']);
    expect(complete('mergelens', 'merge', '--for')).toEqual(['--force']);
  });

  it('an unknown shell is a usage error', () => {
    const r = spawnSync(path.join(bin, 'mergelens'), ['completion', 'fish'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('[USAGE]');
  });
});
