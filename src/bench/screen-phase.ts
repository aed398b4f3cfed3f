/**
 * Bench phase "screen" (`npm run bench -- --small --experts 6 --only screen`): how long
 * `mergelens screen` takes against a plain `mergelens metrics` pass on the same files, each
 * run as a user would (the CLI in a child process, wall time, inputs already in the page cache):
 *
 *   metrics --no-subspace            vs  screen with a predictor that needs no subspace metric
 *                                        (fitted here on the shipped study: --exclude subspace,gradient,activation)
 *   metrics (subspace on)            vs  screen with the shipped weights-only predictor (uses the subspace family)
 *
 * The issue-18 target: the first ratio within 2×. `--screen-subspace false` skips the second
 * pair (the subspace family dominates both and takes minutes at 50M parameters on 2 cores).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ScreenRun {
  label: string;
  args: string[];
  seconds: number;
  ok: boolean;
  error?: string;
}

export interface ScreenFigures {
  experts: number;
  runs: ScreenRun[];
  /** screen / metrics wall-time ratios: no-subspace pair, and subspace pair when run. */
  ratioNoSubspace?: number;
  ratioSubspace?: number;
}

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
/** The CLI next to this file: dist/cli/main.js, or src/cli/main.ts under tsx. */
const cli = existsSync(path.join(here, '..', 'cli', 'main.js')) ? path.join(here, '..', 'cli', 'main.js') : path.join(here, '..', 'cli', 'main.ts');

function run(label: string, args: string[]): ScreenRun {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [...process.execArgv, cli, ...args], { encoding: 'utf8', maxBuffer: 256 << 20 });
  const seconds = (performance.now() - t0) / 1000;
  return { label, args, seconds, ok: r.status === 0, ...(r.status === 0 ? {} : { error: (r.stderr || `exit ${r.status}`).slice(-1000) }) };
}

export function screenPhase(o: { base: string; experts: string[]; threads?: number; subspace?: boolean; log?: (s: string) => void }): ScreenFigures {
  const log = o.log ?? (() => {});
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'mergelens-bench-screen-'));
  const inputs = [o.base, ...o.experts];
  const threads = o.threads ? ['--threads', String(o.threads)] : [];
  const runs: ScreenRun[] = [];
  try {
    const predictor = path.join(tmp, 'no-subspace-predictor.json');
    const study = path.join(root, 'reports', 'study.json');
    if (!existsSync(study)) throw new Error(`screen phase needs the shipped study ${study}`);
    log('screen: fitting a predictor without the subspace family on the shipped study');
    const fit = run('fit --exclude subspace,gradient,activation', ['fit', study, '--exclude', 'subspace,gradient,activation', '-o', predictor]);
    if (!fit.ok) throw new Error(`fit failed: ${fit.error}`);
    log('screen: metrics --no-subspace');
    runs.push(run('metrics --no-subspace', ['metrics', ...inputs, '--no-subspace', ...threads, '-o', path.join(tmp, 'm.json'), '--no-progress']));
    log('screen: screen, predictor without subspace metrics');
    runs.push(run('screen (predictor without subspace)', ['screen', ...inputs, '--predictor', predictor, ...threads, '--no-progress']));
    if (o.subspace !== false) {
      log('screen: metrics (subspace on)');
      runs.push(run('metrics (subspace)', ['metrics', ...inputs, ...threads, '-o', path.join(tmp, 'm2.json'), '--force', '--no-progress']));
      log('screen: screen, shipped weights-only predictor');
      runs.push(run('screen (shipped weights-only predictor)', ['screen', ...inputs, ...threads, '--no-progress']));
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const ratio = (a: number, b: number) => (runs[a]?.ok && runs[b]?.ok ? runs[b].seconds / runs[a].seconds : undefined);
  return { experts: o.experts.length, runs, ratioNoSubspace: ratio(0, 1), ratioSubspace: ratio(2, 3) };
}

/** Markdown lines for the figures. */
export function renderScreen(f: ScreenFigures): string {
  const rows = f.runs.map((r) => `| ${r.label.padEnd(40)} | ${r.ok ? r.seconds.toFixed(1).padStart(7) : 'failed'.padStart(7)} |`);
  const ratios = [
    f.ratioNoSubspace !== undefined ? `screen / metrics --no-subspace = ${f.ratioNoSubspace.toFixed(2)}× (target ≤ 2×)` : undefined,
    f.ratioSubspace !== undefined ? `screen / metrics with subspace = ${f.ratioSubspace.toFixed(2)}×` : undefined,
  ].filter(Boolean);
  return [`Screen vs metrics (${f.experts} experts, CLI wall time, page cache warm):`, '', '| run | seconds |', '|:--|--:|', ...rows, '', ...ratios].join('\n');
}
