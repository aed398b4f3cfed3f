/**
 * `mergelens eval-mnist MODEL [--tasks a,b] --out FILE [--zoo DIR]`: the built-in study's
 * evaluation of one model, written in the evaluation contract {"scores": {"<task>": accuracy}} —
 * an external evaluation command for `mergelens sweep` on the built-in zoo.
 */
import type { Command } from 'commander';
import { MergelensError } from '../../errors.js';
import { evaluateMnistModel } from '../../eval/mnist.js';
import { withOutputs } from '../../util/output-policy.js';
import { defaultZooDir } from '../../study/zoo.js';

export function register(program: Command): void {
  program
    .command('eval-mnist')
    .description('score a model of the built-in MNIST zoo (base, expert or merge) on its tasks; writes {"scores": {task: accuracy}}')
    .argument('<model>', 'encoder checkpoint: safetensors file or HF folder')
    .option('--tasks <ids>', 'comma-separated tasks (default: every task of the zoo)')
    .option('--zoo <dir>', 'zoo folder with the task heads (default: the package’s fixtures/study)')
    .option('-o, --out <file>', 'results file to write (the sweep passes {out})')
    .option('-f, --force', 'replace a previous results file at --out (never an input or an unrelated file)')
    .action(async (model: string, o: { tasks?: string; zoo?: string; out?: string; force?: boolean }) => {
      if (!o.out) throw new MergelensError('USAGE', 'no output file', { hint: 'pass --out FILE' });
      const tasks = o.tasks?.split(',').map((t) => t.trim()).filter(Boolean);
      // Output policy (docs/cli.md): checked and locked before the evaluation.
      const scores = await withOutputs([{ path: o.out, kind: 'eval-scores', flag: '--out' }], { inputs: [model, o.zoo ?? defaultZooDir()], force: o.force }, async ([out]) => {
        const s = await evaluateMnistModel(model, { zooDir: o.zoo, tasks });
        await out.write(JSON.stringify({ scores: s }, null, 2) + '\n');
        return s;
      });
      process.stdout.write(Object.entries(scores).map(([t, v]) => `${t} ${v}`).join('\n') + '\n');
    });
}
