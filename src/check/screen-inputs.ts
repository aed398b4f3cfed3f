/**
 * The pre-flight gate of `metrics` and `screen`, as `merge` has it (issue 20 item 7, issue 18
 * item 2): before the expensive pass,
 *   - an expert that does not descend from the base (preflight DIFFERENT_BASE) is refused —
 *     or, with allowDifferentBase, kept with a warning;
 *   - an expert identical to the base (no task vector: every pairwise metric would be undefined
 *     and every pair with it fail MISSING_METRICS downstream) is confirmed exactly, on every
 *     value, and excluded with a warning;
 *   - fewer than two experts left is an error naming what was dropped.
 * And the --grads/--acts files: every pair of files must share a tensor, otherwise that pair's
 * gradient/activation metrics are silently undefined.
 */
import type { Checkpoint, LoraCheckpoint } from '../types.js';
import { MergelensError } from '../errors.js';
import { isLora, loraFrobeniusNorm } from '../checkpoint/lowrank.js';
import { SafetensorsFile } from '../safetensors/reader.js';
import { numelOf } from '../safetensors/header.js';
import { isFloatDType } from '../safetensors/dtype.js';
import { preflight, type PreflightOptions } from './preflight.js';

export interface ScreenOptions extends Pick<PreflightOptions, 'onProgress' | 'differentBaseThreshold'> {
  allowDifferentBase?: boolean;
  onWarning?: (message: string) => void;
  /** Fewest experts the caller needs after exclusions (default 2: a pair). */
  minExperts?: number;
}

export interface ScreenedExperts {
  /** Indices (into the experts given) of the experts to use, in order. */
  keep: number[];
  excluded: { index: number; path: string; reason: string }[];
}

/** Elements compared per read when confirming an expert equals the base. */
const COMPARE_CHUNK = 1 << 20;

/** Whether every value of `expert` equals the base's (dense: every shared tensor; LoRA: every ΔW is 0). */
export async function identicalToBase(base: Checkpoint, expert: Checkpoint): Promise<boolean> {
  if (isLora(expert)) {
    const lora = expert as LoraCheckpoint;
    for (const n of lora.lowRankNames()) if (loraFrobeniusNorm(await lora.lowRank(n)) !== 0) return false;
  }
  for (const name of expert.tensorNames()) {
    const b = base.location(name);
    const e = expert.location(name);
    if (!b || !e || !isFloatDType(b.dtype) || !isFloatDType(e.dtype)) continue;
    if (b.shape.join() !== e.shape.join()) return false;
    const numel = numelOf(b.shape);
    for (let start = 0; start < numel; start += COMPARE_CHUNK) {
      const count = Math.min(COMPARE_CHUNK, numel - start);
      const [x, y] = await Promise.all([base.read(name, start, count), expert.read(name, start, count)]);
      for (let i = 0; i < count; i++) if (x[i] !== y[i] && !(Number.isNaN(x[i]) && Number.isNaN(y[i]))) return false;
    }
  }
  return true;
}

/** Run the pre-flight gate; throws on a different base (unless allowed) or too few experts left. */
export async function screenExperts(base: Checkpoint, experts: readonly Checkpoint[], opts: ScreenOptions = {}): Promise<ScreenedExperts> {
  const report = await preflight(base, experts, { onProgress: opts.onProgress, differentBaseThreshold: opts.differentBaseThreshold });
  // preflight labels experts by name, or by path when two share a name.
  const labelOf = (i: number) => (experts.filter((x) => x.name === experts[i].name).length > 1 ? experts[i].path : experts[i].name);
  const excluded: ScreenedExperts['excluded'] = [];
  const keep: number[] = [];
  for (let i = 0; i < experts.length; i++) {
    const mine = report.issues.filter((x) => x.expert === labelOf(i));
    const different = mine.find((x) => x.code === 'DIFFERENT_BASE');
    if (different) {
      if (!opts.allowDifferentBase) {
        throw new MergelensError('DIFFERENT_BASE', different.message, {
          file: experts[i].path,
          hint: 'pass only experts fine-tuned from this base (see `mergelens check`), or --allow-different-base to compute metrics anyway',
        });
      }
      opts.onWarning?.(`${experts[i].path}: ${different.message} (kept: --allow-different-base)`);
    }
    if (mine.some((x) => x.code === 'IDENTICAL_TO_BASE') && (await identicalToBase(base, experts[i]))) {
      const reason = 'identical to the base (no task vector): its pairwise metrics are undefined, so it is excluded';
      excluded.push({ index: i, path: experts[i].path, reason });
      opts.onWarning?.(`${experts[i].path}: ${reason}`);
      continue;
    }
    keep.push(i);
  }
  const min = opts.minExperts ?? 2;
  if (keep.length < min) {
    throw new MergelensError('BAD_INPUT', `only ${keep.length} usable expert(s) left, need at least ${min}${excluded.length ? ` (excluded: ${excluded.map((x) => `${x.path} — ${x.reason}`).join('; ')})` : ''}`);
  }
  return { keep, excluded };
}

/**
 * --grads / --acts files: every pair must share at least one tensor (else that pair's metrics
 * are undefined without a word). Returns a warning when the files' tensor sets differ partly.
 */
export async function checkSharedTensors(files: readonly string[], flag: string): Promise<string | undefined> {
  const names: Set<string>[] = [];
  for (const f of files) {
    const file = await SafetensorsFile.open(f);
    try {
      names.push(new Set(file.names()));
    } finally {
      await file.close();
    }
  }
  for (let a = 0; a < files.length; a++) {
    for (let b = a + 1; b < files.length; b++) {
      if (![...names[a]].some((n) => names[b].has(n))) {
        const sample = (s: Set<string>) => [...s].slice(0, 3).join(', ') + (s.size > 3 ? ', …' : '');
        throw new MergelensError('BAD_INPUT', `${flag} files ${files[a]} and ${files[b]} share no tensor (${sample(names[a]) || 'none'} vs ${sample(names[b]) || 'none'}): their metrics would be undefined`, {
          hint: `${flag} files must hold the same tensors, one file per expert, in expert order`,
        });
      }
    }
  }
  const all = new Set(names.flatMap((s) => [...s]));
  const partial = [...all].filter((n) => !names.every((s) => s.has(n)));
  if (partial.length) {
    const where = files.find((_, i) => !names[i].has(partial[0]));
    return `${flag}: ${partial.length} tensor(s) are not in every file (e.g. "${partial[0]}" is missing from ${where}); each pair is compared on the tensors both files have`;
  }
  return undefined;
}
