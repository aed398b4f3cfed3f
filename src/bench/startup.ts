/**
 * CLI start-up time: wall time of `node dist/cli/main.js …` for the commands that should start
 * at once (--help, --version, inspect and check on the tiny fixtures), against a bare
 * `node -e 0` in the same run — start-up is mostly Node's own, so the figure that says
 * something about mergelens is the difference. Each command runs `runs` times; the minimum is
 * reported (the least disturbed by other processes on a shared machine), with the median.
 *
 *   node dist/bench/startup.js [runs]     # standalone: prints the markdown table
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isEntryPoint } from '../util/entry.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface StartupCase {
  label: string;
  /** Arguments after `node`. */
  args: string[];
}

export interface StartupFigure extends StartupCase {
  minSeconds: number;
  medianSeconds: number;
}

export interface StartupFigures {
  runs: number;
  /** `node -e 0`: Node's own start-up on this machine, now. */
  node: StartupFigure;
  commands: StartupFigure[];
  /** The budget each command's minimum is held to, over bare Node. */
  budgetSeconds: number;
}

/** Well under half a second (issues 16 and 19), counted above what Node itself takes. */
export const STARTUP_BUDGET_SECONDS = 0.3;

export function startupCases(cli = path.join(root, 'dist', 'cli', 'main.js')): StartupCase[] {
  const tiny = (p: string) => path.join(root, 'fixtures', 'tiny', p);
  return [
    { label: 'mergelens --help', args: [cli, '--help'] },
    { label: 'mergelens --version', args: [cli, '--version'] },
    { label: 'mergelens inspect (tiny expert)', args: [cli, 'inspect', tiny('expert-a.safetensors')] },
    { label: 'mergelens check (tiny base + 3 experts)', args: [cli, 'check', tiny('base'), tiny('expert-a.safetensors'), tiny('expert-b.safetensors'), tiny('expert-c.safetensors')] },
  ];
}

function time(c: StartupCase, runs: number): StartupFigure {
  const s: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, c.args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
    s.push((performance.now() - t0) / 1000);
    if (r.status !== 0) throw new Error(`${c.label} exited with ${r.status}: ${r.stderr.slice(-500)}`);
  }
  s.sort((a, b) => a - b);
  return { ...c, minSeconds: s[0], medianSeconds: s[Math.floor(s.length / 2)] };
}

export function measureStartup(runs = 7): StartupFigures {
  const cases = startupCases();
  if (!existsSync(cases[0].args[0])) throw new Error(`${cases[0].args[0]} is missing: build first (npm run build)`);
  // Interleave: the reference and the commands see the same machine load.
  const node = time({ label: 'node -e 0', args: ['-e', '0'] }, runs);
  const commands = cases.map((c) => time(c, runs));
  const again = time({ label: 'node -e 0', args: ['-e', '0'] }, runs);
  return { runs, node: again.minSeconds < node.minSeconds ? again : node, commands, budgetSeconds: STARTUP_BUDGET_SECONDS };
}

const ms = (s: number) => `${(s * 1000).toFixed(0)} ms`;

/** A markdown section: each command's time, its excess over bare Node, and the budget verdict. */
export function renderStartup(f: StartupFigures): string[] {
  const rows = f.commands.map((c) => {
    const over = c.minSeconds - f.node.minSeconds;
    return `| ${c.label} | ${ms(c.minSeconds)} | ${ms(c.medianSeconds)} | ${ms(over)} | ${over <= f.budgetSeconds ? 'yes' : '**no**'} |`;
  });
  return [
    '',
    `Wall time, min / median of ${f.runs} runs; bare \`node -e 0\` in the same run: ${ms(f.node.minSeconds)} / ${ms(f.node.medianSeconds)}. Budget: ${ms(f.budgetSeconds)} over bare node.`,
    '',
    `| command | min | median | over bare node (min) | within ${ms(f.budgetSeconds)} over node |`,
    '|:--|--:|--:|--:|:--:|',
    ...rows,
    '',
  ];
}

if (isEntryPoint(import.meta.url)) {
  const runs = Number(process.argv[2] ?? 7);
  process.stdout.write(['## CLI start-up', ...renderStartup(measureStartup(runs))].join('\n') + '\n');
}
