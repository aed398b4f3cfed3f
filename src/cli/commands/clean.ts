/**
 * `mergelens clean [DIR]`: remove what interrupted runs left — `.mergelens-tmp-*` temp files and
 * folders and `.mergelens-lock-*` locks whose process is gone — in DIR (default: the current
 * folder), optionally its subfolders. Temps of runs still alive are never touched. (Every
 * command already removes, at start, the leftovers of interrupted runs it knows about; this is
 * for the rest, e.g. after a machine crash.)
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { MergelensError } from '../../errors.js';
import { cleanFolder, type Removed } from '../../util/output-policy.js';
import { formatBytes } from '../../util/progress.js';
import { escapeControl } from '../../util/terminal.js';

async function walk(dir: string, depth: number, visit: (d: string) => Promise<void>): Promise<void> {
  await visit(dir);
  if (depth <= 0) return;
  const entries = await fsp.readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    // Symlinks are not followed; our own temps are removed, not searched.
    if (e.isDirectory() && !e.name.startsWith('.mergelens-tmp-') && e.name !== 'node_modules' && e.name !== '.git') await walk(path.join(dir, e.name), depth - 1, visit);
  }
}

export function register(program: Command): void {
  program
    .command('clean')
    .description('remove temp files and stale locks that interrupted mergelens runs left (never those of a run still going)')
    .argument('[dir]', 'folder to clean', '.')
    .option('-r, --recursive', 'also clean subfolders (up to 8 levels; symlinks not followed)')
    .option('-n, --dry-run', 'only list what would be removed')
    .option('--json', 'print what was removed as JSON')
    .action(async (dir: string, o: { recursive?: boolean; dryRun?: boolean; json?: boolean }) => {
      const st = await fsp.stat(dir).catch(() => null);
      if (!st) throw new MergelensError('NOT_FOUND', 'no such folder', { file: dir });
      if (!st.isDirectory()) throw new MergelensError('NOT_A_DIRECTORY', 'not a folder', { file: dir, hint: 'give the folder that holds the output' });
      const removed: Removed[] = [];
      await walk(dir, o.recursive ? 8 : 0, async (d) => {
        removed.push(...(await cleanFolder(d, { dryRun: o.dryRun })));
      });
      if (o.json) {
        process.stdout.write(JSON.stringify({ dryRun: !!o.dryRun, removed }, null, 2) + '\n');
        return;
      }
      const verb = o.dryRun ? 'would remove' : 'removed';
      for (const r of removed) process.stdout.write(`${verb} ${r.what} ${escapeControl(r.path)}${r.bytes ? ` (${formatBytes(r.bytes)})` : ''}\n`);
      const bytes = removed.reduce((s, r) => s + r.bytes, 0);
      process.stdout.write(removed.length ? `${verb} ${removed.length} leftover(s), ${formatBytes(bytes)}\n` : 'nothing to clean\n');
    });
}
