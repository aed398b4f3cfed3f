/**
 * Running a user's evaluation command for one model: placeholders filled in (shell-quoted),
 * stdout/stderr to files, its own process group so a timeout or Ctrl-C kills everything it
 * started (an `srun`, a python with workers …), not just the shell.
 *
 * Placeholders (also exported as environment variables MERGELENS_<NAME>):
 *   {model}  the model to evaluate (merged folder in HF layout, or an input as given)
 *   {out}    the results file the command must write (lm_eval: pass it as --output_path)
 *   {name}   a file-name-safe name of the candidate, e.g. ties__math+code
 *   {tasks}  comma-separated tasks to evaluate
 *   {slot}   0 … jobs−1, the concurrent slot running this evaluation (alias {device}: pin a GPU
 *            with CUDA_VISIBLE_DEVICES={device})
 *   {attempt} 1 for the first try, 2 for the first retry …
 *   {dir}    this evaluation's folder (logs, results)
 */
import { spawn } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { MergelensError } from '../errors.js';

export const PLACEHOLDERS = ['model', 'out', 'name', 'tasks', 'slot', 'device', 'attempt', 'dir'] as const;
export type Placeholder = (typeof PLACEHOLDERS)[number];
export type PlaceholderValues = Record<Placeholder, string>;

/** Quote for POSIX sh only when needed, so `pretrained={model}` stays readable in logs. */
export function shellQuote(s: string): string {
  if (s !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Check a command template: known placeholders only, and it must mention {model}. */
export function checkTemplate(template: string): void {
  const unknown = [...template.matchAll(/\{([A-Za-z_]+)\}/g)].map((m) => m[1]).filter((n) => !(PLACEHOLDERS as readonly string[]).includes(n));
  if (unknown.length) {
    throw new MergelensError('BAD_INPUT', `--eval: unknown placeholder(s) ${[...new Set(unknown)].map((u) => `{${u}}`).join(', ')}`, {
      hint: `known: ${PLACEHOLDERS.map((p) => `{${p}}`).join(' ')}`,
    });
  }
  if (!template.includes('{model}') && !template.includes('MERGELENS_MODEL')) {
    throw new MergelensError('BAD_INPUT', '--eval must contain {model} (or read $MERGELENS_MODEL): the command has to know which model to evaluate');
  }
}

/** Fill placeholders; unknown `{…}` text is left alone (checkTemplate rejects it up front). */
export function expandTemplate(template: string, values: PlaceholderValues): string {
  return template.replace(/\{([A-Za-z_]+)\}/g, (whole, name: string) => (name in values ? shellQuote(values[name as Placeholder]) : whole));
}

export interface RunCommandOptions {
  command: string;
  values: PlaceholderValues;
  stdoutFile: string;
  stderrFile: string;
  cwd?: string;
  /** Seconds; 0 or undefined = no limit. */
  timeoutS?: number;
  /** Seconds between SIGTERM and SIGKILL when killing (default 5). */
  killGraceS?: number;
  signal?: AbortSignal;
}

export type CommandResult =
  | { kind: 'exit'; code: number; seconds: number }
  | { kind: 'signal'; signal: string; seconds: number }
  | { kind: 'timeout'; seconds: number }
  | { kind: 'aborted'; seconds: number }
  | { kind: 'spawn-error'; message: string; seconds: number };

/** Run one expanded command in its own process group; never throws for the command's own failure. */
export async function runCommand(o: RunCommandOptions): Promise<CommandResult> {
  const line = expandTemplate(o.command, o.values);
  const env = { ...process.env };
  for (const k of PLACEHOLDERS) env[`MERGELENS_${k.toUpperCase()}`] = o.values[k];
  const t0 = performance.now();
  const secs = () => (performance.now() - t0) / 1000;
  const outFd = openSync(o.stdoutFile, 'w');
  const errFd = openSync(o.stderrFile, 'w');
  return new Promise<CommandResult>((resolve) => {
    let settled = false;
    let why: 'timeout' | 'aborted' | null = null;
    const child = spawn('/bin/sh', ['-c', line], { cwd: o.cwd, env, detached: true, stdio: ['ignore', outFd, errFd] });
    const killGroup = (sig: NodeJS.Signals) => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, sig);
      } catch {
        /* already gone */
      }
    };
    let graceTimer: NodeJS.Timeout | undefined;
    const stop = (reason: 'timeout' | 'aborted') => {
      if (why) return;
      why = reason;
      killGroup('SIGTERM');
      graceTimer = setTimeout(() => killGroup('SIGKILL'), (o.killGraceS ?? 5) * 1000);
      graceTimer.unref();
    };
    const timer = o.timeoutS && o.timeoutS > 0 ? setTimeout(() => stop('timeout'), o.timeoutS * 1000) : undefined;
    const onAbort = () => stop('aborted');
    if (o.signal?.aborted) onAbort();
    else o.signal?.addEventListener('abort', onAbort, { once: true });
    const finish = (r: CommandResult) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      if (graceTimer) clearTimeout(graceTimer);
      o.signal?.removeEventListener('abort', onAbort);
      closeSync(outFd);
      closeSync(errFd);
      // Whatever the shell left running in its group goes too (a backgrounded server, a stuck worker).
      if (why) killGroup('SIGKILL');
      resolve(r);
    };
    child.on('error', (e) => finish({ kind: 'spawn-error', message: e.message, seconds: secs() }));
    child.on('exit', (code, signal) => {
      if (why === 'timeout') finish({ kind: 'timeout', seconds: secs() });
      else if (why === 'aborted') finish({ kind: 'aborted', seconds: secs() });
      else if (code !== null) finish({ kind: 'exit', code, seconds: secs() });
      else finish({ kind: 'signal', signal: signal ?? 'unknown', seconds: secs() });
    });
  });
}
