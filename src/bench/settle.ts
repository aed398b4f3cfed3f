/**
 * Remove a phase's outputs and wait until the filesystem has let them go. On a filesystem mounted
 * with online discard (this VM's ext4), freeing a 2.2 GB output trims its blocks at the next
 * journal commit, which then slows whatever runs: a merge timed after another's output was
 * deleted measured 1.3 s slower (2.1 → 3.5 s, SLERP at 1.1B, in-process, every time). `sync`
 * commits the deletion here, outside any timed region.
 */
import { spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';

export async function removeSettled(...paths: string[]): Promise<void> {
  for (const p of paths) await fsp.rm(p, { recursive: true, force: true });
  spawnSync('sync', { stdio: 'ignore' });
}
