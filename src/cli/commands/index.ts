import type { Command } from 'commander';
import { register as check } from './check.js';
import { register as inspect } from './inspect.js';
import { register as dashboard } from './dashboard.js';
import { register as fit } from './fit.js';
import { register as merge } from './merge.js';
import { register as methods } from './methods.js';
import { register as metrics } from './metrics.js';
import { register as predict } from './predict.js';
import { register as report } from './report.js';
import { register as screen } from './screen.js';
import { register as study } from './study.js';

/**
 * Every sub-command registers itself here: one import and one list entry per command,
 * each in its own module (commands/<name>.ts exporting `register`).
 */
export const commands: ((program: Command) => void)[] = [
  check,
  inspect,
  dashboard,
  fit,
  merge,
  methods,
  metrics,
  predict,
  report,
  screen,
  study,
];
