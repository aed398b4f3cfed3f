/**
 * Inputs must not change under a run: a checkpoint overwritten in place during `metrics` used to
 * go unnoticed, mixing old and new values. After the pass, and before any output is committed,
 * every input file is re-checked against what it was when opened (inode, size, mtime).
 */
import type { Checkpoint } from '../types.js';
import { MergelensError } from '../errors.js';
import { checkpointFiles } from './fingerprint.js';

/** Throw INPUT_CHANGED naming the first input file that changed since it was opened. */
export async function assertInputsUnchanged(inputs: readonly (Checkpoint | null | undefined)[]): Promise<void> {
  for (const c of inputs) {
    if (!c) continue;
    for (const f of checkpointFiles(c)) {
      const change = await f.changedSinceOpen();
      if (change) {
        throw new MergelensError('INPUT_CHANGED', `input changed while mergelens was reading it: ${change}; results would mix old and new values, so nothing was written`, {
          file: f.path,
          hint: 'let the writer finish (or copy the file), then run again',
        });
      }
    }
  }
}
