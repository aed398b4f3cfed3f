/**
 * Which files inside a model folder we are willing to read, and how we read them.
 *
 * A file named by an index, or copied into a merge output (config, tokenizer), must be a
 * regular file whose real path is inside the model folder — or, for a Hugging Face hub cache
 * snapshot (`models--org--name/snapshots/REV/`), inside that same repository's `blobs/`,
 * where the hub stores the content its snapshot symlinks point to. Any other symlink is
 * refused (PATH_TRAVERSAL): `ln -s ~/.cache/huggingface/token base/tokenizer.json` must not
 * put the token into a merged model. Symlink loops get SYMLINK_LOOP; FIFOs, sockets and
 * devices get NOT_REGULAR_FILE — checked with fstat on a descriptor opened with O_NONBLOCK,
 * so a FIFO can neither block the open nor be swapped in between a stat and the read.
 */
import { constants, promises as fsp, type Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { MergelensError, fsError } from '../errors.js';

/** What a non-regular file is, for error messages. */
export function fileKind(s: Stats): string {
  if (s.isFIFO()) return 'a FIFO (named pipe)';
  if (s.isSocket()) return 'a socket';
  if (s.isCharacterDevice()) return 'a character device';
  if (s.isBlockDevice()) return 'a block device';
  if (s.isDirectory()) return 'a folder';
  if (s.isSymbolicLink()) return 'a symlink';
  return 'not a regular file';
}

export function notRegular(file: string, s: Stats, what = 'file'): MergelensError {
  return new MergelensError('NOT_REGULAR_FILE', `${what} is ${fileKind(s)}, not a regular file; refused`, {
    file,
    hint: 'point at the real file (mergelens never reads pipes or devices, which could block or never end)',
  });
}

/** A filesystem error as a named MergelensError (ELOOP → SYMLINK_LOOP, EACCES …), else NOT_FOUND. */
export function openError(e: unknown, file: string, what = 'file'): MergelensError {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT') return new MergelensError('NOT_FOUND', `${what} not found`, { file });
  return fsError(e, file) ?? new MergelensError('NOT_FOUND', `cannot open ${what} (${code ?? (e as Error)?.message})`, { file });
}

/**
 * Open a file for reading without ever blocking (O_NONBLOCK: a FIFO with no writer would
 * otherwise hang the open) and check with fstat that it is a regular file.
 */
export async function openRegularFile(file: string, what = 'file'): Promise<{ fh: FileHandle; stat: Stats }> {
  let fh: FileHandle;
  try {
    fh = await fsp.open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw openError(e, file, what);
  }
  try {
    const stat = await fh.stat();
    if (!stat.isFile()) throw notRegular(file, stat, what);
    return { fh, stat };
  } catch (e) {
    await fh.close().catch(() => {});
    throw e;
  }
}

/** Read a whole regular file (FIFOs/devices refused first), at most `maxBytes`. */
export async function readRegularFile(file: string, what = 'file', maxBytes = 256 * 2 ** 20): Promise<Buffer> {
  const { fh, stat } = await openRegularFile(file, what);
  try {
    if (stat.size > maxBytes) {
      throw new MergelensError('BAD_INPUT', `${what} is ${stat.size} bytes, over the ${maxBytes}-byte limit for this kind of file`, { file });
    }
    return await fh.readFile();
  } catch (e) {
    throw e instanceof MergelensError ? e : openError(e, file, what);
  } finally {
    await fh.close().catch(() => {});
  }
}

function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..' + path.sep) && rel !== '..' && !path.isAbsolute(rel));
}

/**
 * The `blobs/` folder of the HF hub cache repository that `realDir` is a snapshot of (or a
 * subfolder of a snapshot of): `…/models--org--name/snapshots/REV[/sub]` → `…/models--org--name/blobs`.
 */
export function hfCacheBlobsDir(realDir: string): string | undefined {
  for (let d = realDir; path.dirname(d) !== d; d = path.dirname(d)) {
    const snapshots = path.dirname(d);
    const repo = path.dirname(snapshots);
    if (path.basename(snapshots) === 'snapshots' && /^(models|datasets|spaces)--./.test(path.basename(repo))) return path.join(repo, 'blobs');
  }
  return undefined;
}

/** Whether a real path may be read for a folder whose real path is `realDir`. */
export function allowedRealPath(realDir: string, realFile: string): boolean {
  if (isInside(realFile, realDir)) return true;
  const blobs = hfCacheBlobsDir(realDir);
  return blobs !== undefined && isInside(realFile, blobs);
}

export interface ResolveOptions {
  /** File to name in errors (e.g. the index that listed the name); default the resolved path. */
  source?: string;
  tensor?: string;
  what?: string;
}

/**
 * Resolve `name` inside the model folder `dir`: refuse absolute paths, `..`, and symlinks whose
 * target leaves the folder (HF cache blobs excepted); a loop is SYMLINK_LOOP; a FIFO/device is
 * NOT_REGULAR_FILE. Returns the path to open, or undefined when nothing exists under that name.
 */
export async function resolveInModelFolder(dir: string, name: string, opts: ResolveOptions = {}): Promise<string | undefined> {
  const what = opts.what ?? 'file';
  const full = path.join(dir, name);
  const source = opts.source ?? full;
  const traversal = (where: string) =>
    new MergelensError('PATH_TRAVERSAL', `${what} "${name}" ${where}`, {
      file: source,
      tensor: opts.tensor,
      hint: 'files of a model must be inside its folder (symlinks allowed only into the same folder or, in the Hugging Face cache, into the repository\'s blobs/)',
    });
  if (path.isAbsolute(name) || path.win32.isAbsolute(name) || name.split(/[\\/]/).includes('..') || name.includes('\0')) throw traversal('points outside the model folder');
  let link: Stats;
  try {
    link = await fsp.lstat(full);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw openError(e, full, what);
  }
  let realDir: string;
  let realFile: string;
  try {
    realDir = await fsp.realpath(dir);
    realFile = await fsp.realpath(full);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw new MergelensError('SYMLINK_LOOP', `${what} "${name}" is a symlink loop (too many levels of symbolic links)`, { file: full, tensor: opts.tensor, hint: 'fix or remove the symlink' });
    if (code === 'ENOENT' && link.isSymbolicLink()) {
      throw new MergelensError('NOT_FOUND', `${what} "${name}" is a dangling symlink (its target does not exist)`, { file: full, tensor: opts.tensor, hint: 'an interrupted download? fetch the file again' });
    }
    throw openError(e, full, what);
  }
  if (!allowedRealPath(realDir, realFile)) throw traversal(`is a symlink to ${realFile}, outside the model folder`);
  const st = await fsp.stat(realFile).catch((e) => {
    throw openError(e, full, what);
  });
  if (!st.isFile()) throw notRegular(full, st, what);
  return full;
}
