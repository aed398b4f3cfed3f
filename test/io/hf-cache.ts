/**
 * A fake Hugging Face hub cache, laid out as huggingface_hub writes it:
 *   models--org--name/blobs/<sha>                      file contents
 *   models--org--name/snapshots/<commit>/<file>        symlinks to ../../blobs/<sha>
 *   models--org--name/refs/<branch>                    the commit hash
 * Files are written into a scratch folder first, then moved into blobs and linked.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';

export const commitOf = (label: string) => createHash('sha1').update(label).digest('hex');

/**
 * Put the files of `srcDir` (a model folder already written) into the cache as `repo` at a
 * commit made from `label`, pointing each ref in `refs` at it. Returns the snapshot folder.
 */
export async function addToCache(cache: string, repo: string, srcDir: string, label: string, refs: string[] = ['main']): Promise<string> {
  const root = path.join(cache, `models--${repo.replace('/', '--')}`);
  const commit = commitOf(label);
  const snap = path.join(root, 'snapshots', commit);
  await fsp.mkdir(path.join(root, 'blobs'), { recursive: true });
  await fsp.mkdir(snap, { recursive: true });
  await fsp.mkdir(path.join(root, 'refs'), { recursive: true });
  for (const f of await fsp.readdir(srcDir)) {
    const bytes = await fsp.readFile(path.join(srcDir, f));
    const sha = createHash('sha256').update(bytes).digest('hex');
    await fsp.writeFile(path.join(root, 'blobs', sha), bytes);
    await fsp.symlink(path.join('..', '..', 'blobs', sha), path.join(snap, f));
  }
  for (const r of refs) await fsp.writeFile(path.join(root, 'refs', r), commit);
  return snap;
}
