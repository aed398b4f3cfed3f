import type { Command } from 'commander';

/**
 * Every sub-command registers itself here: one import and one list entry per command,
 * each in its own module (commands/<name>.ts exporting `register`).
 */
export const commands: ((program: Command) => void)[] = [];
