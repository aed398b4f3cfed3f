import { promises as fsp } from 'node:fs';
import { MergelensError, type ErrorCode } from '../errors.js';
import { isLfsPointer, lfsPointerError } from '../safetensors/header.js';
import { assertJsonDepth } from '../safetensors/json-depth.js';
import { readRegularFile } from './safe-path.js';

/** JSON side files (config, index, adapter config) are small; 256 MiB covers any real tokenizer/index. */
const MAX_JSON_BYTES = 256 * 2 ** 20;

/**
 * The text of a JSON file: a regular file (FIFOs/devices refused before reading), not a Git LFS
 * pointer. NOT_FOUND when it cannot be read.
 */
export async function readJsonText(file: string, code: ErrorCode, what: string): Promise<string> {
  const text = (await readRegularFile(file, what, MAX_JSON_BYTES)).toString('utf8');
  if (isLfsPointer(Buffer.from(text.slice(0, 64)))) throw lfsPointerError(file);
  return text;
}

/** Parse JSON text with named errors: `code` when it is not JSON or nests too deep. */
export function parseJsonText(text: string, file: string, code: ErrorCode, what: string): unknown {
  assertJsonDepth(text, code, file, what);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new MergelensError(code, `${what} is not valid JSON (${(e as Error).message})`, { file });
  }
}

/**
 * Read and parse a JSON file with named errors: NOT_FOUND when it cannot be read, `code` when it
 * is not JSON, nests too deep (or is a Git LFS pointer left by a partial clone).
 */
export async function readJsonFile(file: string, code: ErrorCode, what: string, text?: string): Promise<unknown> {
  return parseJsonText(text ?? (await readJsonText(file, code, what)), file, code, what);
}

/** Read a JSON object file (config.json, index, adapter_config.json) with named errors. */
export async function readJsonObject(file: string, code: ErrorCode, what: string, text?: string): Promise<Record<string, unknown>> {
  const json = await readJsonFile(file, code, what, text);
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new MergelensError(code, `${what} is not a JSON object`, { file });
  return json as Record<string, unknown>;
}

export async function exists(p: string): Promise<boolean> {
  return fsp.stat(p).then(
    () => true,
    () => false,
  );
}
