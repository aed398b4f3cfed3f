#!/usr/bin/env node
/**
 * The `mergelens` command. A thin shell: each sub-command lives in ./commands/<name>.ts,
 * parses its options and calls the library API; this file only wires them up and turns
 * errors into a clear message and a non-zero exit code.
 */
import { Command } from 'commander';
import { isMergelensError } from '../errors.js';
import { commands } from './commands/index.js';
import { isEntryPoint } from '../util/entry.js';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('mergelens')
    .description('Predict which fine-tuned experts merge well, with which method, and why — before you merge.')
    .version('0.1.0')
    .showHelpAfterError();
  for (const register of commands) register(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (isMergelensError(e)) {
      process.stderr.write(`mergelens: error [${e.code}]: ${e.message}\n`);
      return 1;
    }
    const err = e as { code?: string; message?: string };
    if (typeof err.code === 'string' && err.code.startsWith('commander.')) return 1;
    process.stderr.write(`mergelens: unexpected error: ${(e as Error)?.stack ?? String(e)}\n`);
    return 70;
  }
}

if (isEntryPoint(import.meta.url)) {
  main(process.argv).then((code) => {
    process.exitCode = code;
  });
}
