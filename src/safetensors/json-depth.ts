/**
 * JSON nesting depth, measured before JSON.parse: a value nested thousands deep (`[[[[…`)
 * overflows the stack in the parser or in anything that walks the result, so every JSON
 * input (safetensors headers, config.json, adapter_config.json, shard indexes) is refused
 * above MAX_JSON_DEPTH with a named error instead of crashing.
 */
import { MergelensError, type ErrorCode } from '../errors.js';

/** Real model files nest < 10 deep (tokenizer.json ~6); 64 leaves room and stays far from the stack. */
export const MAX_JSON_DEPTH = 64;

/** Deepest nesting of objects/arrays in JSON text, strings skipped (O(N), no recursion). */
export function jsonDepth(text: string, stopAbove = Infinity): number {
  let depth = 0;
  let max = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c /* \ */) i++;
        else if (d === 0x22) break;
      }
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) {
        max = depth;
        if (max > stopAbove) return max;
      }
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return max;
}

/** Throw `code` naming the file when the JSON text nests deeper than `limit`. */
export function assertJsonDepth(text: string, code: ErrorCode, file: string, what: string, limit = MAX_JSON_DEPTH): void {
  if (jsonDepth(text, limit) > limit) {
    throw new MergelensError(code, `${what} nests JSON deeper than ${limit} levels; refused (not a real model file, or corrupt)`, { file });
  }
}
