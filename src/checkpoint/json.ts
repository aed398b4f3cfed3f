import { promises as fsp } from 'node:fs';
import { MergelensError, type ErrorCode } from '../errors.js';
import { isLfsPointer, lfsPointerError } from '../safetensors/header.js';

/**
 * Read and parse a JSON file with named errors: NOT_FOUND when it cannot be read, `code` when it
 * is not JSON (or is a Git LFS pointer left by a partial clone).
 */
export async function readJsonFile(file: string, code: ErrorCode, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (e) {
    const c = (e as NodeJS.ErrnoException).code;
    throw new MergelensError('NOT_FOUND', c === 'ENOENT' ? `${what} not found` : `cannot read ${what} (${c})`, { file });
  }
  if (isLfsPointer(Buffer.from(text.slice(0, 64)))) throw lfsPointerError(file);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new MergelensError(code, `${what} is not valid JSON (${(e as Error).message})`, { file });
  }
}

/** Read a JSON object file (config.json, index, adapter_config.json) with named errors. */
export async function readJsonObject(file: string, code: ErrorCode, what: string): Promise<Record<string, unknown>> {
  const json = await readJsonFile(file, code, what);
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new MergelensError(code, `${what} is not a JSON object`, { file });
  return json as Record<string, unknown>;
}

export async function exists(p: string): Promise<boolean> {
  return fsp.stat(p).then(
    () => true,
    () => false,
  );
}
