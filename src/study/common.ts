/** Small pieces both built-in studies (MNIST, src/study/run.ts; transformer, src/study/transformer/study.ts) use. */
import path from 'node:path';
import { getMethod, listMethods } from '../merge/registry.js';

/**
 * A checkpoint path as the metrics report records it: relative to the working directory when
 * it lies below it (so a committed report holds no machine's absolute paths), else absolute.
 */
export function underCwd(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}

/** Every pair (i < j) of n items, in row order. */
export const pairsOf = (n: number): [number, number][] => {
  const out: [number, number][] = [];
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) out.push([i, j]);
  return out;
};

/** Method ids or aliases to canonical ids, unknown ones refused by the registry; none = every method. */
export function resolveMethods(ids: string[] | undefined): string[] {
  if (!ids || ids.length === 0) return listMethods().map((m) => m.id);
  return [...new Set(ids.map((id) => getMethod(id).id))];
}
