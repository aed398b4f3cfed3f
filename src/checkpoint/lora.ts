/**
 * PEFT LoRA adapters (`adapter_config.json` + `adapter_model.safetensors`) as a Checkpoint:
 * the low-rank deltas keyed by base tensor name, and `modules_to_save` (full weights)
 * as dense tensors under their base names.
 *
 * Keys (adapter name already stripped by PEFT on save):
 *   base_model.model.<module>.lora_A.weight [r, in], …lora_B.weight [out, r]  → <module>.weight
 *   base_model.model.<module>.lora_embedding_A [r, num], …lora_embedding_B [dim, r]
 *     → <module>.weight with ΔW = (B·A)ᵀ·scale
 * scale = lora_alpha / r (or / √r with use_rslora); per-module r and α from rank_pattern /
 * alpha_pattern, matched like PEFT: re.match(rf"(.*\.)?({key})$", module) (pattern-match.ts, linear time).
 * DoRA, lora_bias and trainable-token deltas change ΔW beyond B·A and are refused.
 */
import path from 'node:path';
import type { LoraCheckpoint, LowRankDelta, LowRankSpec, TensorLocation } from '../types.js';
import { MergelensError } from '../errors.js';
import { SafetensorsFile } from '../safetensors/reader.js';
import { displayName } from './files.js';
import { readJsonObject } from './json.js';
import { compilePatternKey, firstMatchingKey, type PatternKey } from './pattern-match.js';

export { isLora, denseDeltaRows, loraGramInner, loraFrobeniusNorm } from './lowrank.js';

export const ADAPTER_CONFIG = 'adapter_config.json';
export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';
const PREFIX = 'base_model.model.';

interface LowRankEntry extends LowRankSpec {
  aKey: string;
  bKey: string;
  alpha: number;
}

/**
 * The pattern key PEFT would pick for a module (first key whose pattern matches), or undefined.
 * Linear-time NFA matching, not RegExp: keys are untrusted and `(a|a)+b` backtracks exponentially.
 */
export function matchPatternKey(patterns: Record<string, unknown>, module: string, file: string): string | undefined {
  return firstMatchingKey(compilePatterns(patterns, file), module);
}

function compilePatterns(patterns: Record<string, unknown>, file: string): PatternKey[] {
  return Object.keys(patterns).map((k) => compilePatternKey(k, file));
}

function numberField(cfg: Record<string, unknown>, key: string, fallback: number, file: string): number {
  const v = cfg[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new MergelensError('BAD_ADAPTER', `"${key}" must be a number, got ${JSON.stringify(v)}`, { file });
  return v;
}

function patternField(cfg: Record<string, unknown>, key: string, file: string): Record<string, unknown> {
  const v = cfg[key];
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new MergelensError('BAD_ADAPTER', `"${key}" must be an object`, { file });
  return v as Record<string, unknown>;
}

/** Transpose a row-major [rows, cols] matrix. */
function transpose(x: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = x[i * cols + j];
  return out;
}

export class LoraAdapterCheckpoint implements LoraCheckpoint {
  readonly kind = 'lora' as const;
  readonly name: string;
  readonly metadata: Record<string, string>;
  readonly files: readonly SafetensorsFile[];
  readonly warnings: string[] = [];
  private readonly dense = new Map<string, string>(); // base name → adapter key
  private readonly lowRanks = new Map<string, LowRankEntry>();

  private constructor(
    readonly path: string,
    readonly adapterConfig: Record<string, unknown>,
    private readonly file: SafetensorsFile,
    readonly config?: Record<string, unknown>,
  ) {
    this.name = displayName(path);
    this.metadata = file.metadata;
    this.files = [file];
  }

  static async open(dir: string, config?: Record<string, unknown>): Promise<LoraAdapterCheckpoint> {
    const cfgPath = path.join(dir, ADAPTER_CONFIG);
    const cfg = await readJsonObject(cfgPath, 'BAD_ADAPTER', 'adapter config');
    const file = await SafetensorsFile.open(path.join(dir, ADAPTER_WEIGHTS));
    try {
      const c = new LoraAdapterCheckpoint(dir, cfg, file, config);
      c.index(cfgPath);
      return c;
    } catch (e) {
      await file.close();
      throw e;
    }
  }

  /** Classify every key of the adapter file and compute per-module rank/scale. */
  private index(cfgPath: string): void {
    const cfg = this.adapterConfig;
    const file = this.file.path;
    const peftType = cfg.peft_type;
    if (peftType !== undefined && peftType !== 'LORA') {
      throw new MergelensError('BAD_ADAPTER', `peft_type is ${JSON.stringify(peftType)}; only LoRA adapters are supported`, { file: cfgPath });
    }
    if (cfg.use_dora === true) {
      throw new MergelensError('BAD_ADAPTER', 'DoRA adapters (use_dora) are not supported: their ΔW is not scale·B·A', { file: cfgPath, hint: 'merge the adapter into the base and compare dense checkpoints' });
    }
    const r = numberField(cfg, 'r', 8, cfgPath);
    const alpha = numberField(cfg, 'lora_alpha', 8, cfgPath);
    const rsLora = cfg.use_rslora === true;
    const fanInFanOut = cfg.fan_in_fan_out === true;
    const rankPattern = patternField(cfg, 'rank_pattern', cfgPath);
    const alphaPattern = patternField(cfg, 'alpha_pattern', cfgPath);
    const rankKeys = compilePatterns(rankPattern, cfgPath);
    const alphaKeys = compilePatterns(alphaPattern, cfgPath);

    const pairs = new Map<string, { a?: string; b?: string; embedding: boolean }>();
    const pair = (module: string, embedding: boolean) => {
      let p = pairs.get(module);
      if (!p) pairs.set(module, (p = { embedding }));
      return p;
    };
    for (const key of this.file.names()) {
      const stripped = key.startsWith(PREFIX) ? key.slice(PREFIX.length) : key;
      let m: RegExpExecArray | null;
      if ((m = /^(.*)\.lora_([AB])\.weight$/.exec(stripped))) {
        const p = pair(m[1], false);
        if (m[2] === 'A') p.a = key;
        else p.b = key;
      } else if ((m = /^(.*)\.lora_embedding_([AB])(?:\.weight)?$/.exec(stripped))) {
        const p = pair(m[1], true);
        if (m[2] === 'A') p.a = key;
        else p.b = key;
      } else if (/\.lora_magnitude_vector(\.|$)/.test(stripped)) {
        throw new MergelensError('BAD_ADAPTER', 'DoRA magnitude vector found: DoRA adapters are not supported (ΔW is not scale·B·A)', { file, tensor: key });
      } else if (/\.lora_B\.bias$/.test(stripped)) {
        throw new MergelensError('BAD_ADAPTER', 'lora_bias adapters are not supported', { file, tensor: key });
      } else if (/trainable_tokens_delta|\.lora_[A-Za-z_]+\./.test(stripped) || /\.lora_[A-Za-z_]+$/.test(stripped)) {
        throw new MergelensError('BAD_ADAPTER', 'unrecognised LoRA tensor (only lora_A/lora_B and lora_embedding_A/B are supported)', { file, tensor: key });
      } else {
        // modules_to_save / bias="all": full weights under the base name.
        this.dense.set(stripped, key);
      }
    }

    // An adapter that changes nothing would pass every check silently: say so.
    if (pairs.size === 0) {
      if (this.dense.size === 0) {
        throw new MergelensError('BAD_ADAPTER', 'adapter has no LoRA modules (no lora_A/lora_B tensors) and no full weights: it changes nothing', {
          file,
          hint: 'was it saved before training, or with the wrong adapter name? check target_modules',
        });
      }
      this.warnings.push(`${file}: adapter has no LoRA modules (no lora_A/lora_B tensors), only ${this.dense.size} full weight(s) (modules_to_save)`);
    }
    for (const [module, p] of pairs) {
      if (!p.a || !p.b) {
        throw new MergelensError('BAD_ADAPTER', `LoRA module has lora_${p.a ? 'B' : 'A'} missing`, { file, tensor: p.a ?? p.b });
      }
      const a = this.file.entry(p.a)!;
      const b = this.file.entry(p.b)!;
      if (a.shape.length !== 2 || b.shape.length !== 2) {
        throw new MergelensError('BAD_ADAPTER', `LoRA factors must be 2-D, got A [${a.shape.join(', ')}] and B [${b.shape.join(', ')}]`, { file, tensor: p.a });
      }
      const rank = a.shape[0];
      if (b.shape[1] !== rank) {
        throw new MergelensError('BAD_ADAPTER', `rank mismatch: A [${a.shape.join(', ')}] has rank ${rank} but B [${b.shape.join(', ')}] has ${b.shape[1]}`, { file, tensor: p.b });
      }
      const rKey = firstMatchingKey(rankKeys, module);
      const aKey = firstMatchingKey(alphaKeys, module);
      const rCfg = rKey !== undefined ? Number(rankPattern[rKey]) : r;
      const alphaCfg = aKey !== undefined ? Number(alphaPattern[aKey]) : alpha;
      if (rCfg !== rank) {
        throw new MergelensError(
          'BAD_ADAPTER',
          `factor shapes give rank ${rank} but the config says r = ${rCfg}${rKey !== undefined ? ` (rank_pattern "${rKey}")` : ''}`,
          { file, tensor: p.a, hint: 'the adapter_config.json does not match the weights' },
        );
      }
      if (rank === 0 || !Number.isFinite(alphaCfg)) throw new MergelensError('BAD_ADAPTER', `invalid rank ${rank} / alpha ${alphaCfg}`, { file, tensor: p.a });
      const scale = rsLora ? alphaCfg / Math.sqrt(rank) : alphaCfg / rank;
      // PEFT: linear ΔW = B·A [out, in] (transposed for fan_in_fan_out); embedding ΔW = (B·A)ᵀ.
      const transposed = p.embedding || fanInFanOut;
      const shape: [number, number] = transposed ? [a.shape[1], b.shape[0]] : [b.shape[0], a.shape[1]];
      const base = `${module}.weight`;
      if (this.lowRanks.has(base) || this.dense.has(base)) {
        throw new MergelensError('BAD_ADAPTER', 'base tensor has both a LoRA delta and a full weight in the adapter', { file, tensor: base });
      }
      this.lowRanks.set(base, { shape, rank, scale, dtype: a.dtype, module, transposed, aKey: p.a, bKey: p.b, alpha: alphaCfg });
    }
  }

  tensorNames(): string[] {
    return [...this.dense.keys()].sort();
  }

  location(name: string): TensorLocation | undefined {
    const key = this.dense.get(name);
    const loc = key === undefined ? undefined : this.file.location(key);
    return loc && { ...loc, name };
  }

  read(name: string, start?: number, count?: number): Promise<Float32Array> {
    return this.file.read(this.denseKey(name), start, count);
  }

  readInto(name: string, start: number, count: number, dest: Uint8Array): Promise<void> {
    return this.file.readInto(this.denseKey(name), start, count, dest);
  }

  /** The file's key of a dense (`modules_to_save`) tensor, or MISSING_TENSOR. */
  private denseKey(name: string): string {
    const key = this.dense.get(name);
    if (key === undefined) {
      throw new MergelensError('MISSING_TENSOR', this.lowRanks.has(name) ? 'tensor has a low-rank delta, not a full weight (use lowRank)' : 'no such tensor in this adapter', {
        file: this.path,
        tensor: name,
      });
    }
    return key;
  }

  lowRankNames(): string[] {
    return [...this.lowRanks.keys()].sort();
  }

  lowRankSpec(name: string): LowRankSpec | undefined {
    const e = this.lowRanks.get(name);
    return e && { shape: [e.shape[0], e.shape[1]], rank: e.rank, scale: e.scale, dtype: e.dtype, module: e.module, transposed: e.transposed };
  }

  /** Per-module alpha as resolved from the config (for display). */
  lowRankAlpha(name: string): number | undefined {
    return this.lowRanks.get(name)?.alpha;
  }

  async lowRank(name: string): Promise<LowRankDelta> {
    const e = this.lowRanks.get(name);
    if (!e) throw new MergelensError('MISSING_TENSOR', 'no low-rank delta for this tensor in the adapter', { file: this.path, tensor: name });
    const [A, B] = await Promise.all([this.file.read(e.aKey), this.file.read(e.bKey)]);
    const r = e.rank;
    if (!e.transposed) return { shape: [e.shape[0], e.shape[1]], rank: r, scale: e.scale, A, B };
    // ΔW = (B_p·A_p)ᵀ = A_pᵀ·B_pᵀ: new B = A_pᵀ [rows, r], new A = B_pᵀ [r, cols].
    const [rows, cols] = e.shape;
    return { shape: [rows, cols], rank: r, scale: e.scale, A: transpose(B, cols, r), B: transpose(A, r, rows) };
  }

  async close(): Promise<void> {
    await this.file.close();
  }
}

export function openLoraAdapter(dir: string, config?: Record<string, unknown>): Promise<LoraAdapterCheckpoint> {
  return LoraAdapterCheckpoint.open(dir, config);
}
