import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { MergelensError, fsError } from '../errors.js';
import { tempName, writeDurable } from './output-policy.js';

/**
 * A sibling temp path: same directory, so the final rename is atomic on one filesystem. Named
 * `.mergelens-tmp-<pid>-<hex>-<name>` so that `mergelens clean` and later runs recognise (and
 * remove) what an interrupted run left.
 */
export function tempPathFor(target: string): string {
  return tempName(target);
}

/**
 * Write a whole file atomically (temp file, fsync, rename, fsync of the folder). Filesystem
 * failures become MergelensErrors naming the path (NO_SPACE, READ_ONLY_FS, …). The checks of
 * the output policy (inputs, --force, locks) are claimOutputs' job: see src/util/output-policy.ts.
 */
export async function writeFileAtomic(target: string, data: string | Uint8Array): Promise<void> {
  const tmp = tempPathFor(target);
  try {
    await fsp.mkdir(path.dirname(path.resolve(target)), { recursive: true });
    await writeDurable(tmp, data);
    await fsp.rename(tmp, target);
  } catch (e) {
    await fsp.rm(tmp, { force: true }).catch(() => {});
    throw fsError(e, target) ?? e;
  }
  const dir = await fsp.open(path.dirname(path.resolve(target)), 'r').catch(() => null);
  if (dir) {
    await dir.sync().catch(() => {});
    await dir.close();
  }
}

/**
 * Refuse to clobber an existing output unless asked to. Prefer claimOutputs (output-policy.ts),
 * which also checks inputs, the kind of what is there and locks.
 */
export async function assertWritable(target: string, force: boolean): Promise<void> {
  const exists = await fsp.stat(target).then(() => true, () => false);
  if (exists && !force) {
    throw new MergelensError('OUTPUT_EXISTS', 'output already exists', { file: target, hint: 'pass --force to overwrite' });
  }
}
