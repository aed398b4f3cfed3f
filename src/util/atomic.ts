import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { MergelensError } from '../errors.js';

/** A sibling temp path: same directory, so the final rename is atomic on one filesystem. */
export function tempPathFor(target: string): string {
  const dir = path.dirname(target);
  return path.join(dir, `.tmp-${path.basename(target)}-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/** Write a whole file atomically (temp file, fsync, rename). */
export async function writeFileAtomic(target: string, data: string | Uint8Array): Promise<void> {
  await fsp.mkdir(path.dirname(path.resolve(target)), { recursive: true });
  const tmp = tempPathFor(target);
  const fh = await fsp.open(tmp, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => {});
    await fsp.rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  await fsp.rename(tmp, target);
}

/** Refuse to clobber an existing output unless asked to. */
export async function assertWritable(target: string, force: boolean): Promise<void> {
  const exists = await fsp.stat(target).then(() => true, () => false);
  if (exists && !force) {
    throw new MergelensError('OUTPUT_EXISTS', 'output already exists', { file: target, hint: 'pass --force to overwrite' });
  }
}
