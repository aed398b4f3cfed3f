/**
 * Bench phase "sweep" (`npm run bench -- --small --only sweep`): the overhead of `mergelens sweep`
 * beyond merging and evaluating, on the built-in MNIST zoo (fixtures/study), run as a user would
 * (the CLI in a child process, evaluation through `mergelens eval-mnist`, --jobs 2):
 *
 *   mergelens sweep BASE 4 experts --methods task_arithmetic,ties --jobs 2 --eval "mergelens eval-mnist …"
 *
 * The figure is sweep.json's `timing` (src/sweep/run.ts): overheadSeconds is the wall time during
 * which no merge, evaluation, metrics pass or fit was running. Issue 13's target: < 5 % of wall
 * time. Also recorded: the CLI's wall time seen from here (adds process start-up and module loading).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SweepTiming } from '../sweep/run.js';

export interface SweepFigures {
  experts: string[];
  methods: string[];
  jobs: number;
  /** Evaluations run: base + experts + merges. */
  evaluations: number;
  /** sweep.json → timing, as the sweep measured it. */
  timing: SweepTiming;
  /** overheadSeconds / wallSeconds. */
  overheadShare: number;
  /** The `mergelens sweep` process's wall time measured by the bench (start-up included). */
  cliSeconds: number;
  command: string;
}

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
/** The CLI next to this file: dist/cli/main.js, or src/cli/main.ts under tsx. */
const cli = existsSync(path.join(here, '..', 'cli', 'main.js')) ? path.join(here, '..', 'cli', 'main.js') : path.join(here, '..', 'cli', 'main.ts');

const EXPERTS = ['digits', 'rot90', 'invert', 'parity'];
const METHODS = ['task_arithmetic', 'ties'];

export function sweepPhase(o: { jobs?: number; log?: (s: string) => void } = {}): SweepFigures {
  const log = o.log ?? (() => {});
  const jobs = o.jobs ?? 2;
  const zoo = path.join(root, 'fixtures', 'study');
  const base = path.join(zoo, 'base.safetensors');
  if (!existsSync(base)) throw new Error(`sweep phase needs the built-in zoo in ${zoo}`);
  const node = [process.execPath, ...process.execArgv, cli];
  // The template is split on spaces by the sweep (src/eval/command.ts): paths here have none.
  const evalCmd = [...node, 'eval-mnist', '{model}', '--tasks', '{tasks}', '--out', '{out}'].join(' ');
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'mergelens-bench-sweep-'));
  try {
    const out = path.join(tmp, 'sweep');
    const args = ['sweep', base, ...EXPERTS.map((t) => path.join(zoo, 'experts', `${t}.safetensors`)), '--methods', METHODS.join(','), '--jobs', String(jobs), '--eval', evalCmd, '-o', out, '--no-progress'];
    log(`sweep: ${EXPERTS.length} experts × ${METHODS.length} methods on the built-in zoo, --jobs ${jobs}, eval-mnist as the command`);
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [...process.execArgv, cli, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
    const cliSeconds = (performance.now() - t0) / 1000;
    if (r.status !== 0) throw new Error(`mergelens sweep exited with ${r.status}: ${(r.stderr || '').slice(-1500)}`);
    const summary = JSON.parse(readFileSync(path.join(out, 'sweep.json'), 'utf8')) as { timing: SweepTiming; merges: unknown[]; failures: unknown[] };
    if (summary.failures.length) throw new Error(`sweep had ${summary.failures.length} failed evaluations: ${JSON.stringify(summary.failures).slice(0, 500)}`);
    const t = summary.timing;
    return {
      experts: EXPERTS,
      methods: METHODS,
      jobs,
      evaluations: 1 + EXPERTS.length + summary.merges.length,
      timing: t,
      overheadShare: t.overheadSeconds / t.wallSeconds,
      cliSeconds,
      command: `mergelens ${args.map((a) => (a === evalCmd ? '"mergelens eval-mnist {model} --tasks {tasks} --out {out}"' : a.startsWith(root) ? path.relative(root, a) : a.startsWith(tmp) ? path.relative(tmp, a) : a)).join(' ')}`,
    };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Markdown lines for the figures. */
export function renderSweep(f: SweepFigures): string[] {
  const t = f.timing;
  const s = (x: number) => `${x.toFixed(1)} s`;
  return [
    `\`${f.command}\` (${f.evaluations} evaluations: base, ${f.experts.length} experts, ${f.evaluations - 1 - f.experts.length} merges):`,
    '',
    '| part | seconds |',
    '|:--|--:|',
    `| sweep wall time (sweep.json) | ${t.wallSeconds.toFixed(1)} |`,
    `| metrics pass | ${t.metricsSeconds.toFixed(1)} |`,
    `| merging (Σ over merges) | ${t.mergeSeconds.toFixed(1)} |`,
    `| evaluating (Σ over ${f.jobs} slots) | ${t.evaluateSeconds.toFixed(1)} |`,
    `| fit | ${t.fitSeconds.toFixed(1)} |`,
    `| **sweep overhead** (nothing else running) | **${t.overheadSeconds.toFixed(2)}** |`,
    `| CLI process wall time (start-up included) | ${f.cliSeconds.toFixed(1)} |`,
    '',
    `Sweep overhead = ${(f.overheadShare * 100).toFixed(2)} % of wall time (target < 5 %); ${s(f.cliSeconds - t.wallSeconds)} of process start-up and loading outside the sweep's own clock.`,
  ];
}
