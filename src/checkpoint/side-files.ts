/**
 * The non-weight files of a model folder (config.json, tokenizer files …) that a merge output
 * carries over from the base. They are read — all of them, before any merge work — as regular
 * files inside the folder (safe-path.ts: a symlink to ~/.cache/huggingface/token is refused, a
 * FIFO does not hang), and a config.json that must be rewritten (new torch_dtype) is parsed
 * then, so a malformed one fails before the merge instead of after it.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { MergelensError } from '../errors.js';
import { parseJsonText } from './json.js';
import { readRegularFile, resolveInModelFolder } from './safe-path.js';

export interface SideFile {
  name: string;
  data: Uint8Array;
}

/** Tokenizer files reach tens of MB; more than this is not a side file. */
const MAX_SIDE_FILE_BYTES = 512 * 2 ** 20;

/**
 * Read the listed files that exist in `dir`. With `torchDtype`, config.json's `torch_dtype`
 * (and `dtype`, newer transformers) is set to it; the file must then be a JSON object.
 */
export async function readSideFiles(dir: string, names: readonly string[], torchDtype?: string): Promise<SideFile[]> {
  const out: SideFile[] = [];
  for (const name of names) {
    const file = await resolveInModelFolder(dir, name, { what: name });
    if (file === undefined) continue;
    let data: Uint8Array = await readRegularFile(file, name, MAX_SIDE_FILE_BYTES);
    if (name === 'config.json' && torchDtype) {
      const cfg = parseJsonText(Buffer.from(data).toString('utf8'), file, 'BAD_INPUT', 'config.json');
      if (cfg === null || typeof cfg !== 'object' || Array.isArray(cfg)) {
        throw new MergelensError('BAD_INPUT', 'config.json is not a JSON object, so its torch_dtype cannot be set for --dtype', { file, hint: 'fix the base config.json, or merge without --dtype' });
      }
      const c = cfg as Record<string, unknown>;
      if ('torch_dtype' in c || !('dtype' in c)) c.torch_dtype = torchDtype;
      if ('dtype' in c) c.dtype = torchDtype;
      data = Buffer.from(JSON.stringify(c, null, 2) + '\n');
    }
    out.push({ name, data });
  }
  return out;
}

/** Write side files read by readSideFiles into a (temp) output folder; returns their names. */
export async function writeSideFiles(dir: string, files: readonly SideFile[]): Promise<string[]> {
  for (const f of files) await fsp.writeFile(path.join(dir, f.name), f.data, { flag: 'wx' });
  return files.map((f) => f.name);
}
