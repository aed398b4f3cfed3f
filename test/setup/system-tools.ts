/**
 * vitest globalSetup: make sure the two system programs the end-to-end tests drive are present —
 * Chromium (test/report/browser.test.ts) and tmux (test/dashboard/tmux-e2e.test.ts) — so that
 * `npm test` passes on a fresh machine with only Node installed.
 *
 * Why Debian's packages rather than a browser downloaded by an npm package: a downloaded
 * Chromium (playwright's `install chromium`, puppeteer's Chrome for Testing) still needs ~40
 * system libraries (libnss3, libgbm1, …) that a Node-only image lacks — Playwright's own answer is
 * `install-deps`, i.e. apt-get — and tmux has no npm build at all. One `apt-get install chromium tmux`
 * brings both programs with their libraries (≈ 300 MB installed, about a minute on this kind of
 * machine), the same way CI did before.
 *
 * When something is missing and we run as root with apt-get, we install it, printing each command.
 * Otherwise we stop with a message saying what to install; tests are never skipped for lack of it.
 *
 * Overrides (also used by test/setup/system-tools.test.ts to exercise the missing-tool path):
 *   MERGELENS_CHROMIUM=/path/to/chromium   browser executable (default /usr/bin/chromium)
 *   MERGELENS_TMUX=/path/to/tmux           tmux executable (default `tmux` on PATH)
 *   MERGELENS_SETUP_DRY_RUN=1              print what would be installed, run nothing
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';

/** The browser executable the report tests launch. */
export const chromiumPath = (): string => process.env.MERGELENS_CHROMIUM || '/usr/bin/chromium';
/** The tmux executable the dashboard end-to-end test drives. */
export const tmuxPath = (): string => process.env.MERGELENS_TMUX || 'tmux';

export interface SystemTool {
  /** What the tests call it, for messages. */
  name: string;
  /** Whether it is usable now. */
  present: () => boolean;
  /** Debian package that provides it. */
  aptPackage: string;
  /** Which test needs it. */
  neededBy: string;
}

const isExecutable = (file: string): boolean => {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/** `prog -V` style probe: true when the program starts and exits 0. */
const runs = (prog: string, ...args: string[]): boolean => spawnSync(prog, args, { stdio: 'ignore' }).status === 0;

export const TOOLS: SystemTool[] = [
  { name: 'Chromium', present: () => isExecutable(chromiumPath()), aptPackage: 'chromium', neededBy: 'test/report/browser.test.ts' },
  { name: 'tmux', present: () => runs(tmuxPath(), '-V'), aptPackage: 'tmux', neededBy: 'test/dashboard/tmux-e2e.test.ts' },
];

export interface InstallPlan {
  /** Tools that are missing. */
  missing: SystemTool[];
  /** Commands to run, in order (empty when nothing is missing). */
  commands: string[][];
  /** Set when the missing tools cannot be installed from here: what the user must do instead. */
  cannot?: string;
}

/** What to do about `tools`, given who we are and what package manager this machine has. */
export function planInstall(tools: SystemTool[], env: { isRoot: boolean; hasAptGet: boolean }): InstallPlan {
  const missing = tools.filter((t) => !t.present());
  if (missing.length === 0) return { missing, commands: [] };
  const pkgs = missing.map((t) => t.aptPackage);
  const manual = `apt-get update && apt-get install -y --no-install-recommends ${pkgs.join(' ')}`;
  const what = missing.map((t) => `${t.name} (for ${t.neededBy})`).join(', ');
  if (!env.hasAptGet) {
    return { missing, commands: [], cannot: `missing ${what} and this machine has no apt-get: install them with your package manager, or point MERGELENS_CHROMIUM / MERGELENS_TMUX at existing executables` };
  }
  if (!env.isRoot) {
    return { missing, commands: [], cannot: `missing ${what}; not running as root, so not installing them: run  sudo sh -c '${manual}'  (or point MERGELENS_CHROMIUM / MERGELENS_TMUX at existing executables)` };
  }
  // DPkg::Lock::Timeout: wait for another apt run (e.g. unattended upgrades) instead of failing.
  const apt = ['apt-get', '-o', 'DPkg::Lock::Timeout=300'];
  return {
    missing,
    commands: [
      [...apt, 'update', '-qq'],
      [...apt, 'install', '-y', '-qq', '--no-install-recommends', ...pkgs],
    ],
  };
}

const say = (line: string) => process.stderr.write(`[test setup] ${line}\n`);

/** Install what is missing (or, with MERGELENS_SETUP_DRY_RUN=1, only say what would be installed). */
export function ensureSystemTools(tools: SystemTool[] = TOOLS): void {
  const dryRun = process.env.MERGELENS_SETUP_DRY_RUN === '1';
  const missing = tools.filter((t) => !t.present());
  if (missing.length === 0) return; // the usual case: no apt-get probe, nothing printed
  const plan = planInstall(missing, { isRoot: process.getuid?.() === 0, hasAptGet: runs('apt-get', '--version') });
  if (plan.cannot) throw new Error(`[test setup] ${plan.cannot}`);
  say(`missing: ${plan.missing.map((t) => `${t.name} (needed by ${t.neededBy})`).join(', ')}; installing Debian package(s) ${plan.missing.map((t) => t.aptPackage).join(' ')} with apt-get`);
  for (const cmd of plan.commands) {
    say(`${dryRun ? 'would run' : 'running'}: ${cmd.join(' ')}`);
    if (dryRun) continue;
    const r = spawnSync(cmd[0], cmd.slice(1), { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (r.status !== 0) throw new Error(`[test setup] ${cmd.join(' ')} failed (exit ${r.status ?? r.signal}); install ${plan.missing.map((t) => t.aptPackage).join(' ')} by hand`);
  }
  if (dryRun) return;
  const still = plan.missing.filter((t) => !t.present());
  if (still.length) throw new Error(`[test setup] installed, yet still missing: ${still.map((t) => t.name).join(', ')} (Chromium is expected at ${chromiumPath()}; set MERGELENS_CHROMIUM if it lives elsewhere)`);
  say('done');
}

export default function setup(): void {
  ensureSystemTools();
}
