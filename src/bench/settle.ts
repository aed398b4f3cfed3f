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
  syncDisk();
}

/**
 * Flush every dirty page before a timing: freshly generated checkpoints leave gigabytes of them
 * (the write-back limit is 20 % of memory), and their write-back at the disk's ~0.17 GB/s made
 * the first merge after generating the 1.1B set take 113 s instead of ~5.
 */
export function syncDisk(): void {
  spawnSync('sync', { stdio: 'ignore' });
}
