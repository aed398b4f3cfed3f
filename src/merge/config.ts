/**
 * Merge configs in mergekit's shape (YAML or JSON), so an existing mergekit recipe runs as is:
 *
 *   merge_method: ties
 *   base_model: ./base
 *   models:
 *     - model: ./expert-a
 *       parameters: { weight: 0.5, density: 0.2 }
 *     - model: ./expert-b
 *       parameters: { weight: 0.5, density: 0.2 }
 *   parameters: { lambda: 1.0, normalize: true }
 *   dtype: bfloat16          # output dtype (out_dtype wins when both are given)
 *   seed: 0                  # mergelens extension (DARE)
 *
 * Relative model paths resolve against the config file's folder. A `models` entry naming
 * the base model is skipped (mergekit lists it there for TIES/DARE recipes). mergelens takes
 * one value per parameter, so per-model parameters other than `weight` must agree across
 * models; per-layer gradients (lists / filters) are refused.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import type { ParamValue } from '../types.js';
import { MergelensError } from '../errors.js';

export interface MergeConfig {
  method: string;
  base?: string;
  experts: string[];
  weights?: number[];
  params: Record<string, ParamValue>;
  seed?: number;
  dtype?: 'F32' | 'F16' | 'BF16';
  /** Keys accepted but without effect here (e.g. int8_mask). */
  warnings: string[];
}

const TOP_KEYS = new Set(['merge_method', 'base_model', 'models', 'parameters', 'dtype', 'out_dtype', 'seed', 'tokenizer_source', 'tokenizer', 'chat_template', 'name']);
const IGNORED_PARAMS = new Set(['int8_mask']);

/** "bfloat16" / "bf16" / "BF16" … → the safetensors dtype. */
export function parseDType(v: string, file?: string): 'F32' | 'F16' | 'BF16' {
  const s = v.trim().toLowerCase();
  if (['float32', 'fp32', 'f32'].includes(s)) return 'F32';
  if (['float16', 'fp16', 'f16', 'half'].includes(s)) return 'F16';
  if (['bfloat16', 'bf16'].includes(s)) return 'BF16';
  throw new MergelensError('BAD_INPUT', `unknown output dtype "${v}" (use float32, float16 or bfloat16)`, { file });
}

function scalar(v: unknown, where: string, file: string): ParamValue {
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string') return v;
  throw new MergelensError('BAD_PARAM', `${where}: only single values are supported (per-layer lists and filters are not), got ${JSON.stringify(v)}`, { file });
}

function modelPath(entry: unknown, file: string, i: number): string {
  const m = entry && typeof entry === 'object' ? (entry as Record<string, unknown>).model : undefined;
  if (typeof m === 'string' && m) return m;
  throw new MergelensError('BAD_INPUT', `models[${i}] needs a "model" path`, { file });
}

export function parseMergeConfig(text: string, file: string): MergeConfig {
  let doc: unknown;
  try {
    doc = YAML.parse(text); // YAML is a superset of JSON
  } catch (e) {
    throw new MergelensError('BAD_INPUT', `not valid YAML/JSON: ${(e as Error).message}`, { file });
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new MergelensError('BAD_INPUT', 'a merge config must be a mapping', { file });
  const cfg = doc as Record<string, unknown>;
  const warnings: string[] = [];
  for (const k of Object.keys(cfg)) {
    if (k === 'slices') throw new MergelensError('BAD_INPUT', '"slices" (layer-range frankenmerges) are not supported; use "models"', { file });
    if (!TOP_KEYS.has(k)) throw new MergelensError('BAD_INPUT', `unknown key "${k}" (supported: ${[...TOP_KEYS].join(', ')})`, { file });
  }
  for (const k of ['tokenizer_source', 'tokenizer', 'chat_template']) if (k in cfg) warnings.push(`${k} is ignored: mergelens copies the base model's tokenizer files`);
  const method = cfg.merge_method;
  if (typeof method !== 'string' || !method) throw new MergelensError('BAD_INPUT', 'missing "merge_method"', { file });
  const dir = path.dirname(path.resolve(file));
  const resolve = (p: string) => (path.isAbsolute(p) ? p : path.join(dir, p));
  const bm = cfg.base_model;
  const bmModel = bm && typeof bm === 'object' ? (bm as Record<string, unknown>).model : undefined;
  const base = typeof bm === 'string' ? bm : typeof bmModel === 'string' ? bmModel : undefined;
  if (bm !== undefined && bm !== null && base === undefined) throw new MergelensError('BAD_INPUT', '"base_model" must be a path', { file });

  if (!Array.isArray(cfg.models) || cfg.models.length === 0) throw new MergelensError('BAD_INPUT', '"models" must list at least one model', { file });
  const entries = (cfg.models as unknown[]).map((m, i) => ({ path: modelPath(m, file, i), parameters: ((m as Record<string, unknown>).parameters ?? {}) as Record<string, unknown> }));
  const experts = entries.filter((e) => !base || resolve(e.path) !== resolve(base));

  const params: Record<string, ParamValue> = {};
  const globals = (cfg.parameters ?? {}) as Record<string, unknown>;
  if (typeof globals !== 'object' || Array.isArray(globals)) throw new MergelensError('BAD_INPUT', '"parameters" must be a mapping', { file });
  for (const [k, v] of Object.entries(globals)) {
    if (IGNORED_PARAMS.has(k)) warnings.push(`parameter ${k} is ignored (mergekit memory option)`);
    else params[k] = scalar(v, `parameters.${k}`, file);
  }

  const hasWeight = experts.map((e) => 'weight' in e.parameters);
  if (hasWeight.some((h) => h) && !hasWeight.every((h) => h)) {
    throw new MergelensError('BAD_PARAM', 'either every model or none gives a "weight"', { file });
  }
  const weights = hasWeight.every((h) => h) && experts.length ? experts.map((e, i) => {
    const w = scalar(e.parameters.weight, `models[${i}].parameters.weight`, file);
    if (typeof w !== 'number') throw new MergelensError('BAD_PARAM', `models[${i}].parameters.weight must be a number`, { file });
    return w;
  }) : undefined;
  const perModel = new Set(experts.flatMap((e) => Object.keys(e.parameters)).filter((k) => k !== 'weight'));
  for (const k of perModel) {
    const values = experts.map((e, i) => (k in e.parameters ? scalar(e.parameters[k], `models[${i}].parameters.${k}`, file) : undefined));
    const distinct = new Set(values.map((v) => JSON.stringify(v)));
    if (distinct.size > 1) {
      throw new MergelensError('BAD_PARAM', `per-model "${k}" differs between models (${[...distinct].join(' vs ')}); mergelens uses one ${k} per merge`, { file });
    }
    if (values[0] !== undefined) params[k] = values[0];
  }

  let seed: number | undefined;
  if (cfg.seed !== undefined) {
    if (typeof cfg.seed !== 'number' || !Number.isSafeInteger(cfg.seed) || cfg.seed < 0) throw new MergelensError('BAD_PARAM', `"seed" must be a non-negative integer`, { file });
    seed = cfg.seed;
  }
  const dt = cfg.out_dtype ?? cfg.dtype;
  const dtype = typeof dt === 'string' ? parseDType(dt, file) : undefined;
  return { method, base: base && resolve(base), experts: experts.map((e) => resolve(e.path)), weights, params, seed, dtype, warnings };
}

export async function loadMergeConfig(file: string): Promise<MergeConfig> {
  const text = await fsp.readFile(file, 'utf8').catch(() => {
    throw new MergelensError('NOT_FOUND', 'cannot read merge config', { file });
  });
  return parseMergeConfig(text, file);
}
