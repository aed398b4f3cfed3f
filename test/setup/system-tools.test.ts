/**
 * The test setup that obtains Chromium and tmux (test/setup/system-tools.ts). Chromium is
 * installed on the machines we test on, so the missing-browser path is exercised by pointing
 * MERGELENS_CHROMIUM at a file that does not exist, in dry-run mode (nothing is installed).
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';
import { planInstall, type SystemTool } from './system-tools.js';

const tool = (name: string, present: boolean): SystemTool => ({ name, present: () => present, aptPackage: name.toLowerCase(), neededBy: `test/${name}.test.ts` });

describe('planInstall', () => {
  it('does nothing when every tool is present', () => {
    expect(planInstall([tool('Chromium', true), tool('tmux', true)], { isRoot: true, hasAptGet: true })).toEqual({ missing: [], commands: [] });
  });

  it('as root with apt-get: update, then install exactly the missing packages', () => {
    const plan = planInstall([tool('Chromium', false), tool('tmux', true)], { isRoot: true, hasAptGet: true });
    expect(plan.missing.map((t) => t.name)).toEqual(['Chromium']);
    expect(plan.cannot).toBeUndefined();
    expect(plan.commands).toHaveLength(2);
    expect(plan.commands[0]).toContain('update');
    expect(plan.commands[1].slice(-2)).toEqual(['--no-install-recommends', 'chromium']);
  });

  it('not root: installs nothing and says the exact command to run, naming the test that needs it', () => {
    const plan = planInstall([tool('Chromium', false), tool('tmux', false)], { isRoot: false, hasAptGet: true });
    expect(plan.commands).toEqual([]);
    expect(plan.cannot).toContain('apt-get install -y --no-install-recommends chromium tmux');
    expect(plan.cannot).toContain('test/Chromium.test.ts');
  });

  it('no apt-get: installs nothing and names the override variables', () => {
    const plan = planInstall([tool('tmux', false)], { isRoot: true, hasAptGet: false });
    expect(plan.commands).toEqual([]);
    expect(plan.cannot).toContain('MERGELENS_TMUX');
  });
});

describe('global setup with a missing browser (dry run)', () => {
  it('prints the apt-get commands it would run for chromium, and runs none', () => {
    const missing = path.join(ROOT, 'test-output', 'no-such-dir', 'chromium');
    const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', "import('./test/setup/system-tools.ts').then((m) => m.default())"], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, MERGELENS_CHROMIUM: missing, MERGELENS_SETUP_DRY_RUN: '1' },
    });
    if (process.getuid?.() === 0) {
      expect(r.status).toBe(0);
      expect(r.stderr).toContain('missing: Chromium (needed by test/report/browser.test.ts)');
      expect(r.stderr).toMatch(/would run: apt-get .*update/);
      expect(r.stderr).toMatch(/would run: apt-get .*install .*--no-install-recommends chromium\n/);
      expect(r.stderr).not.toMatch(/^\[test setup\] running:/m);
    } else {
      expect(r.status).not.toBe(0);
      expect(r.stderr).toContain('not running as root');
    }
  });
});
