/**
 * `mergelens check BASE EXPERT...`: fast pre-flight check (headers + a sampled subset of values)
 * before any heavy work. Text by default, `--json` for scripts; exit code 1 when any error.
 */
import type { Command } from 'commander';
import { preflightPaths } from '../../check/preflight.js';
import { formatPreflight } from '../../check/format.js';
import { numberOption, progressSink } from '../io.js';

/** A usage error (exit 2) before any file is read, e.g. `--sample-blocks 0`. */
const positiveNumber = (flag: string, integer: boolean) => numberOption(flag, { min: 0, minExclusive: true, integer });

export function register(program: Command): void {
  program
    .command('check')
    .description('pre-flight check: tensor names, shapes, dtypes, vocabulary, tied lm_head, NaN/Inf and whether each expert descends from the base')
    .argument('<base>', 'base model checkpoint (.safetensors file, HF folder)')
    .argument('<experts...>', 'expert checkpoints (files, HF folders, PEFT LoRA folders)')
    .option('--json', 'print the report as JSON on stdout')
    .option('--threshold <r>', 'median ‖θ−θ₀‖/‖θ₀‖ above which an expert does not descend from the base', positiveNumber('--threshold', false), 0.5)
    .option('--sample-blocks <n>', 'blocks of values sampled per tensor', positiveNumber('--sample-blocks', true), 8)
    .option('--block-size <n>', 'values per sampled block', positiveNumber('--block-size', true), 256)
    .action(async (basePath: string, expertPaths: string[], o: { json?: boolean; threshold: number; sampleBlocks: number; blockSize: number }) => {
      const progress = progressSink();
      const report = await preflightPaths(basePath, expertPaths, {
        differentBaseThreshold: o.threshold,
        sampleBlocks: o.sampleBlocks,
        blockSize: o.blockSize,
        onProgress: progress,
      });
      progress.finish();
      process.stdout.write(o.json ? JSON.stringify(report, null, 2) + '\n' : formatPreflight(report));
      if (!report.ok) process.exitCode = 1;
    });
}
