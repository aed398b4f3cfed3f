import type { Command } from 'commander';

/**
 * Every sub-command: its name, its argument signature and a one-line summary for the top-level
 * help, and a loader for its module (commands/<name>.ts exporting `register`). Modules are
 * imported only when their command runs, so `mergelens --help`/`--version` load no command at all
 * and `inspect` never loads ink, React, plotly or the study. test/cli/lazy.test.ts checks that the
 * signatures here match what each module registers.
 */
export interface CommandEntry {
  name: string;
  /** Arguments as commander spells them, e.g. '<base> <experts...>'. */
  args: string;
  summary: string;
  load: () => Promise<{ register: (program: Command) => void }>;
}

export const commands: CommandEntry[] = [
  { name: 'clean', args: '[dir]', summary: 'remove temp files and stale locks left by interrupted runs', load: () => import('./clean.js') },
  { name: 'completion', args: '[shell]', summary: 'shell completion script: source <(mergelens completion bash)', load: () => import('./completion.js') },
  { name: 'check', args: '<base> <experts...>', summary: 'pre-flight check: do the experts fit the base and each other?', load: () => import('./check.js') },
  { name: 'inspect', args: '<path>', summary: 'tensors, dtypes, shapes and size of a checkpoint or LoRA adapter', load: () => import('./inspect.js') },
  { name: 'dashboard', args: '[metrics]', summary: 'interactive terminal view of pair metrics and predictions', load: () => import('./dashboard.js') },
  { name: 'fit', args: '<study>', summary: 'fit per-method merge-outcome predictors from a study', load: () => import('./fit.js') },
  { name: 'merge', args: '[experts...]', summary: 'merge experts into a new safetensors checkpoint', load: () => import('./merge.js') },
  { name: 'methods', args: '', summary: 'list merge methods with formulas, parameters and defaults', load: () => import('./methods.js') },
  { name: 'metrics', args: '<base> [experts...]', summary: 'pairwise mergeability metrics of experts against their base', load: () => import('./metrics.js') },
  { name: 'predict', args: '<predictor> <metrics>', summary: 'predict post-merge outcomes per pair and method from metrics', load: () => import('./predict.js') },
  { name: 'report', args: '[metrics]', summary: 'self-contained HTML compatibility report', load: () => import('./report.js') },
  { name: 'screen', args: '<base> <experts...>', summary: 'metrics + predictions in one go: rank the pairs worth merging', load: () => import('./screen.js') },
  { name: 'study', args: '', summary: 'the built-in MNIST study: merges, outcomes, predictors, report', load: () => import('./study.js') },
  { name: 'sweep', args: '<base> <experts...>', summary: 'merge pairs × methods, score each with your own eval command, fit on the outcomes', load: () => import('./sweep.js') },
  { name: 'search', args: '<base> <experts...>', summary: 'search merge weights over a pool of experts (CMA-ES), scoring every candidate merge', load: () => import('./search.js') },
  { name: 'sweep-curve', args: '<study>', summary: 'learning curve of budgeted sweeps on a complete study (selected vs random)', load: () => import('./sweep-curve.js') },
  { name: 'eval-mnist', args: '<model>', summary: 'score a model of the built-in MNIST zoo (the study’s evaluation as a command)', load: () => import('./eval-mnist.js') },
];

/**
 * The sub-command `argv` (process.argv form) asks for: the first word that names one (`help X`
 * names X). Scanning for a name rather than taking the first non-option word keeps this right
 * if a global option with a value is ever added.
 */
export function requestedCommand(argv: string[]): CommandEntry | undefined {
  for (const word of argv.slice(2)) {
    const hit = commands.find((c) => c.name === word);
    if (hit) return hit;
  }
  return undefined;
}

/**
 * Register every command on `program`: the requested one for real (its module loaded), the
 * others as placeholders that carry only what the top-level help lists.
 */
export async function registerCommands(program: Command, argv: string[]): Promise<void> {
  const wanted = requestedCommand(argv);
  // Every command has options, so "[options]" in the command list says nothing: leave it out,
  // which also makes placeholders and real commands list identically.
  program.configureHelp({ subcommandTerm: (cmd) => [cmd.name(), ...cmd.registeredArguments.map(argTerm)].join(' ') });
  for (const entry of commands) {
    if (entry === wanted) {
      (await entry.load()).register(program);
      program.commands.find((c) => c.name() === entry.name)?.summary(entry.summary);
    } else {
      program
        .command(entry.args ? `${entry.name} ${entry.args}` : entry.name)
        .summary(entry.summary)
        .action(() => {
          throw new Error(`command "${entry.name}" ran without its module loaded (argv: ${argv.slice(2).join(' ')})`);
        });
    }
  }
}

/** How commander's help spells an argument: <name>, [name], with "..." when variadic. */
function argTerm(arg: { name(): string; required: boolean; variadic: boolean }): string {
  const n = arg.name() + (arg.variadic ? '...' : '');
  return arg.required ? `<${n}>` : `[${n}]`;
}
