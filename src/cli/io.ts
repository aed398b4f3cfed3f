/**
 * What every command shares for talking to the user: `--quiet` (no progress or info lines on
 * stderr; warnings and errors still show), progress sinks, and option parsers that fail as
 * usage errors (exit code 2) before any work starts.
 */
import { InvalidArgumentError, type Command } from 'commander';
import type { ProgressSink } from '../types.js';
import { stderrProgress } from '../util/progress.js';
import { escapeControlKeepNewlines } from '../util/terminal.js';

export const cli = { quiet: false };

/** Progress on stderr, or nothing with --quiet / --no-progress. */
export function progressSink(opts: { progress?: boolean } = {}): ProgressSink & { finish(): void } {
  if (cli.quiet || opts.progress === false) {
    const none = (() => {}) as unknown as ProgressSink & { finish(): void };
    none.finish = () => {};
    return none;
  }
  return stderrProgress();
}

/** An informational line on stderr (suppressed by --quiet). */
export function info(line: string): void {
  // Lines quote file, expert and tensor names: control characters shown escaped (util/terminal.ts).
  if (!cli.quiet) process.stderr.write(escapeControlKeepNewlines(line.endsWith('\n') ? line : line + '\n'));
}

/** A warning on stderr (always shown). */
export function warn(line: string): void {
  process.stderr.write(`mergelens: warning: ${escapeControlKeepNewlines(line)}\n`);
}

/** An option value parser: a number in [min, max] (integer when asked), else a usage error. */
export function numberOption(flag: string, o: { min?: number; max?: number; integer?: boolean; minExclusive?: boolean } = {}) {
  return (v: string): number => {
    const n = Number(v);
    const min = o.min ?? -Infinity;
    const max = o.max ?? Infinity;
    const ok = v.trim() !== '' && Number.isFinite(n) && (o.minExclusive ? n > min : n >= min) && n <= max && (!o.integer || Number.isInteger(n));
    if (!ok) {
      const range = Number.isFinite(min) || Number.isFinite(max) ? ` ${o.minExclusive ? '>' : '≥'} ${min}${Number.isFinite(max) ? ` and ≤ ${max}` : ''}` : '';
      throw new InvalidArgumentError(`${flag} must be ${o.integer ? 'an integer' : 'a number'}${range}, got "${v}"`);
    }
    return n;
  };
}

/** Commander collector for a repeatable option (`--x a --x b` → ['a', 'b']). */
export const repeatable = (v: string, prev: string[]): string[] => [...prev, v];

/** Add --quiet to a command (every command has it; see main.ts for the program-wide flag). */
export function quietOption(cmd: Command): Command {
  return cmd.option('-q, --quiet', 'no progress or info lines on stderr (warnings and errors still show)');
}
