/** `mergelens inspect PATH`: tensors, dtypes, shapes, parameter count, size (and LoRA modules). */
import type { Command } from 'commander';
import { openCheckpoint } from '../../checkpoint/open.js';
import { formatInspect, inspectCheckpoint } from '../../check/inspect.js';

export function register(program: Command): void {
  program
    .command('inspect')
    .description('list tensors, dtypes, shapes, parameter count and size of a checkpoint (LoRA: modules, ranks, scales)')
    .argument('<path>', '.safetensors file, HF folder (single or sharded) or PEFT LoRA folder')
    .option('--json', 'print the report as JSON on stdout')
    .action(async (p: string, o: { json?: boolean }) => {
      const c = await openCheckpoint(p);
      try {
        const r = inspectCheckpoint(c);
        process.stdout.write(o.json ? JSON.stringify(r, null, 2) + '\n' : formatInspect(r));
      } finally {
        await c.close();
      }
    });
}
