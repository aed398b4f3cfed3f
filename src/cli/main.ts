#!/usr/bin/env node
/**
 * The `mergelens` command. A thin shell: each sub-command lives in ./commands/<name>.ts,
 * parses its options and calls the library API; this file only wires them up and turns
 * errors into a clear message and a non-zero exit code.
 */
import { Command, InvalidArgumentError } from 'commander';
import { EXIT, exitCodeOf, fsError } from '../errors.js';
import { registerCommands } from './commands/index.js';
import { cli } from './io.js';
import { removeOwnTemps, sweepInterrupted } from '../util/output-policy.js';
import { isEntryPoint } from '../util/entry.js';
import { escapeControl, escapeControlKeepNewlines } from '../util/terminal.js';
import { kernelsDescription } from '../native/load.js';

/** The program for `argv`: only the sub-command it asks for is loaded (see commands/index.ts). */
export async function buildProgram(argv: string[] = process.argv): Promise<Command> {
  const program = new Command();
  program
    .name('mergelens')
    .description('Predict which fine-tuned experts merge well, with which method, and why — before you merge.')
    // with the kernels in use (the native addon is loaded only for this)
    .version(/^-(V|-version)$/.test(argv[2] ?? '') ? `0.1.0 (kernels: ${kernelsDescription()})` : '0.1.0')
    .showHelpAfterError()
    // Commander errors become exceptions (exit code 2 in main), not a process.exit(1) of their own;
    // sub-commands inherit this.
    .exitOverride();
  await registerCommands(program, argv);
  // --quiet on every command: no progress/info on stderr (src/cli/io.ts).
  for (const c of program.commands) {
    if (!c.options.some((o) => o.attributeName() === 'quiet')) c.option('-q, --quiet', 'no progress or info lines on stderr (warnings and errors still show)');
  }
  program.hook('preAction', (_program, action) => {
    cli.quiet = !!action.opts().quiet;
  });
  return program;
}

/** `cmd … | head`: a closed stdout ends the run quietly instead of an EPIPE stack trace. */
function quietOnClosedPipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw e;
    });
  }
}

/** Ctrl-C / SIGTERM: remove this run's temps and locks, then exit as the signal would. */
function cleanUpOnSignals(): void {
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const) {
    process.once(signal, () => {
      removeOwnTemps();
      process.stderr.write(`\nmergelens: interrupted (${signal}); temporary files removed\n`);
      process.exit(code);
    });
  }
}

export async function main(argv: string[]): Promise<number> {
  try {
    // What runs killed with -9 left (temps, locks) goes first, whatever this command is.
    if (!/^-(h|-help|V|-version)$/.test(argv[2] ?? '')) await sweepInterrupted();
    await (await buildProgram(argv)).parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.OK;
  } catch (e) {
    const known = fsError(e);
    if (known) {
      process.stderr.write(`mergelens: error [${known.code}]: ${escapeControl(known.message)}\n`);
      return exitCodeOf(known);
    }
    const err = e as { code?: string; message?: string; exitCode?: number };
    if (e instanceof InvalidArgumentError) {
      // Thrown by an action (commander prints only the errors it raises while parsing).
      process.stderr.write(`mergelens: error [USAGE]: ${escapeControl(e.message)}\n`);
      return EXIT.USAGE;
    }
    if (typeof err.code === 'string' && err.code.startsWith('commander.')) {
      // Commander has printed its message (or the help/version) already.
      // (`mergelens` alone shows the help as an error: code commander.help, exit code 1 → usage.)
      const ok = err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || (err.code === 'commander.help' && err.exitCode === 0);
      return ok ? EXIT.OK : EXIT.USAGE;
    }
    process.stderr.write(`mergelens: unexpected error: ${escapeControlKeepNewlines((e as Error)?.stack ?? String(e))}\n`);
    return EXIT.INTERNAL;
  }
}

if (isEntryPoint(import.meta.url)) {
  quietOnClosedPipe();
  cleanUpOnSignals();
  main(process.argv).then((code) => {
    process.exitCode = code;
  });
}
