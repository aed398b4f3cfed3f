/**
 * Merge configs in mergekit's shape (YAML or JSON), read with mergekit's rules and defaults so
 * an existing mergekit recipe merges here as it does there:
 *
 *   merge_method: ties
 *   base_model: ./base
 *   models:                      # or slices: [{sources: [{model, layer_range: [0, 32]}, …]}, …]
 *     - model: ./expert-a
 *       parameters: { weight: 0.5, density: [1, 0.7, 0.1] }    # a gradient over the layers
 *     - model: ./expert-b
 *       parameters:
 *         weight: [{ filter: mlp, value: 0.5 }, { value: 0 }]  # per-tensor-name filters
 *   parameters: { lambda: 1.0, normalize: true }
 *   dtype: bfloat16          # output dtype (out_dtype wins when both are given)
 *   seed: 0                  # mergelens extension (DARE)
 *
 * Parameter values follow mergekit's `evaluate_setting` (mergekit/config.py): a number list is
 * a gradient linearly interpolated at t = (layer index in its slice)/(slice length − 1) (t = 0
 * for embeddings, final norm and head); a list of `{filter, value}` takes the first whose
 * filter is a substring of the tensor name (no filter or "*" matches all); a value is looked
 * up on the model's slice source, then the slice, then the top-level `parameters`. Defaults
 * are mergekit's, not mergelens's CLI defaults (see MERGEKIT_DEFAULTS; a warning says where
 * they differ). `slices` must keep every layer in place (identity layer ranges, contiguous,
 * same models in each): frankenmerges that move or repeat layers (passthrough) are refused.
 * Relative model paths resolve against the config file's folder when they exist there; other
 * names (Hugging Face ids `org/name[@rev]`, `base+lora`) are left for the checkpoint opener.
 */
import { existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import type { MergeMethod, ParamValue } from '../types.js';
import { MergelensError } from '../errors.js';
import { getMethod } from './registry.js';
import type { PerTensorParams, TensorOverride } from './plan.js';
import { compareLayers } from '../metrics/layer-order.js';

/** mergekit's ParameterSetting: a scalar, a gradient, or filter conditions. */
export type Setting = ParamValue | ParamValue[] | Conditional[];
export interface Conditional {
  filter?: string;
  value: Setting;
}
type Settings = Record<string, Setting>;

interface SourceDef {
  model: string;
  range?: [number, number];
  params: Settings;
}
interface SliceDef {
  sources: SourceDef[];
  params: Settings;
}

export interface MergeConfig {
  method: string;
  base?: string;
  experts: string[];
  /** Per-expert weights when they are the same for every tensor. */
  weights?: number[];
  /** Method parameters that are the same for every tensor (mergekit defaults filled in). */
  params: Record<string, ParamValue>;
  seed?: number;
  dtype?: 'F32' | 'F16' | 'BF16';
  /** Keys accepted but without effect here (e.g. int8_mask), and mergekit/mergelens default differences. */
  warnings: string[];
  /** Present when a parameter varies by layer or tensor (gradients, filters, slices). */
  perTensor?: PerTensorParams;
  /** The config as read, model paths resolved: what an output's mergekit_config.yml records. */
  document: Record<string, unknown>;
}

// `mergelens:` carries mergelens-only facts (seed, the prediction behind the merge); mergekit ignores unknown keys.
const TOP_KEYS = new Set(['merge_method', 'base_model', 'models', 'slices', 'parameters', 'dtype', 'out_dtype', 'seed', 'tokenizer_source', 'tokenizer', 'chat_template', 'name', 'mergelens']);
const IGNORED_PARAMS = new Set(['int8_mask']);

/**
 * mergekit's defaults per method (mergekit/merge_methods/registry.py and the method classes),
 * keyed by mergelens method id. A method absent here is not in mergekit (tsv, iso_c).
 */
export const MERGEKIT_DEFAULTS: Record<string, Record<string, ParamValue>> = {
  weight_avg: { normalize: true },
  task_arithmetic: { lambda: 1, normalize: false },
  ties: { density: 1, lambda: 1, normalize: true },
  dare: { density: 1, rescale: 'l1', lambda: 1, normalize: false },
  dare_ties: { density: 1, rescale: 'l1', lambda: 1, normalize: false },
  slerp: {},
};
/** mergelens method id → mergekit's merge_method name. */
export const MERGEKIT_NAME: Record<string, string> = { weight_avg: 'linear', task_arithmetic: 'task_arithmetic', ties: 'ties', dare: 'dare_linear', dare_ties: 'dare_ties', slerp: 'slerp' };
/** Parameters mergekit reads per model (tensor_parameters), besides `weight`. */
const PER_MODEL = new Set(['density']);
/** Parameters mergekit requires (no default). */
const REQUIRED: Record<string, string[]> = { slerp: ['t'] };

/** "bfloat16" / "bf16" / "BF16" … → the safetensors dtype. */
export function parseDType(v: string, file?: string): 'F32' | 'F16' | 'BF16' {
  const s = v.trim().toLowerCase();
  if (['float32', 'fp32', 'f32'].includes(s)) return 'F32';
  if (['float16', 'fp16', 'f16', 'half'].includes(s)) return 'F16';
  if (['bfloat16', 'bf16'].includes(s)) return 'BF16';
  throw new MergelensError('BAD_INPUT', `unknown output dtype "${v}" (use float32, float16 or bfloat16)`, { file });
}

const isScalar = (v: unknown): v is ParamValue => typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string';

/** Validate one ParameterSetting from the document. */
function setting(v: unknown, where: string, file: string): Setting {
  if (isScalar(v)) return v;
  if (Array.isArray(v) && v.length) {
    if (v.every(isScalar)) return v;
    return v.map((c, i) => {
      if (!c || typeof c !== 'object' || Array.isArray(c) || !('value' in c)) {
        throw new MergelensError('BAD_PARAM', `${where}[${i}]: expected a number list (gradient) or {filter, value} entries, got ${JSON.stringify(c)}`, { file });
      }
      const { filter, value } = c as { filter?: unknown; value: unknown };
      if (filter !== undefined && filter !== null && typeof filter !== 'string') throw new MergelensError('BAD_PARAM', `${where}[${i}].filter must be a string`, { file });
      return { filter: filter ?? undefined, value: setting(value, `${where}[${i}].value`, file) } as Conditional;
    });
  }
  throw new MergelensError('BAD_PARAM', `${where}: expected a value, a gradient list or {filter, value} entries, got ${JSON.stringify(v)}`, { file });
}

/** mergekit's evaluate_setting: the value for one tensor at gradient position t ∈ [0, 1]; undefined when no filter matches. */
export function evaluateSetting(tensorName: string, s: Setting, t: number): ParamValue | undefined {
  if (isScalar(s)) return s;
  if (s.every((e) => typeof e === 'number')) {
    const g = s as number[];
    const scaled = t * (g.length - 1);
    const i0 = Math.trunc(scaled);
    const i1 = Math.min(g.length - 1, i0 + 1);
    const frac = scaled - i0;
    return (1 - frac) * g[i0] + frac * g[i1];
  }
  if (s.every(isScalar)) return (s as ParamValue[])[Math.trunc(t * (s.length - 1))];
  for (const c of s as Conditional[]) {
    if (c.filter === undefined || c.filter === '*' || (tensorName && tensorName.includes(c.filter))) return evaluateSetting(tensorName, c.value, t);
  }
  return undefined;
}

const varies = (s: Setting) => !isScalar(s);

function settingsOf(v: unknown, where: string, file: string): Settings {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new MergelensError('BAD_INPUT', `${where} must be a mapping`, { file });
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, setting(x, `${where}.${k}`, file)]));
}

function modelRef(entry: unknown, file: string, where: string): string {
  const m = entry && typeof entry === 'object' ? (entry as Record<string, unknown>).model : undefined;
  if (typeof m === 'string' && m) return m;
  throw new MergelensError('BAD_INPUT', `${where} needs a "model" path`, { file });
}

/** The block index of a tensor name (`model.layers.12.mlp…` → 12), or undefined outside the blocks. */
export function layerIndex(name: string): number | undefined {
  const m = /(?:^|\.)(?:layers|h|blocks|block|layer)\.(\d+)\./.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** Slices with their layer ranges, checked to keep every layer in place. */
function readSlices(raw: unknown, file: string, resolve: (p: string) => string): SliceDef[] {
  if (!Array.isArray(raw) || raw.length === 0) throw new MergelensError('BAD_INPUT', '"slices" must list at least one slice', { file });
  let next = 0;
  const slices = raw.map((sl, k): SliceDef => {
    const where = `slices[${k}]`;
    if (!sl || typeof sl !== 'object' || !Array.isArray((sl as Record<string, unknown>).sources)) throw new MergelensError('BAD_INPUT', `${where} needs "sources"`, { file });
    const o = sl as Record<string, unknown>;
    for (const key of Object.keys(o)) {
      if (key === 'base_model' || key === 'residual_weight') throw new MergelensError('BAD_INPUT', `${where}.${key} is not supported (one base_model for the whole merge)`, { file });
      if (!['sources', 'parameters'].includes(key)) throw new MergelensError('BAD_INPUT', `${where}: unknown key "${key}"`, { file });
    }
    const sources = (o.sources as unknown[]).map((src, i): SourceDef => {
      const w = `${where}.sources[${i}]`;
      const r = (src as Record<string, unknown>)?.layer_range;
      if (!Array.isArray(r) || r.length !== 2 || !r.every((x) => Number.isSafeInteger(x)) || r[0] < 0 || r[1] <= r[0]) {
        throw new MergelensError('BAD_INPUT', `${w}.layer_range must be [start, end) with 0 ≤ start < end`, { file });
      }
      return { model: resolve(modelRef(src, file, w)), range: [r[0], r[1]], params: settingsOf((src as Record<string, unknown>).parameters, `${w}.parameters`, file) };
    });
    const [a, b] = sources[0].range!;
    if (sources.some((s) => s.range![0] !== a || s.range![1] !== b) || a !== next) {
      throw new MergelensError('BAD_INPUT', `${where}: layer ranges that move, repeat or drop layers (frankenmerges, passthrough) are not supported; every slice must take the same layers [start, end) from each source, in order from layer 0`, {
        file,
        hint: 'use slices whose ranges tile the model, e.g. [0, 16] then [16, 32], or use "models"',
      });
    }
    next = b;
    return { sources, params: settingsOf(o.parameters, `${where}.parameters`, file) };
  });
  const models = (s: SliceDef) => s.sources.map((x) => x.model).sort().join('\n');
  if (slices.some((s) => models(s) !== models(slices[0]))) throw new MergelensError('BAD_INPUT', 'every slice must merge the same models', { file });
  return slices;
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
    if (!TOP_KEYS.has(k)) throw new MergelensError('BAD_INPUT', `unknown key "${k}" (supported: ${[...TOP_KEYS].join(', ')})`, { file });
  }
  for (const k of ['tokenizer_source', 'tokenizer', 'chat_template']) if (k in cfg) warnings.push(`${k} is ignored: mergelens copies the base model's tokenizer files`);
  const methodName = cfg.merge_method;
  if (typeof methodName !== 'string' || !methodName) throw new MergelensError('BAD_INPUT', 'missing "merge_method"', { file });
  if (methodName === 'passthrough') {
    throw new MergelensError('BAD_INPUT', 'merge_method passthrough (layer-stacking frankenmerges) is not supported: mergelens merges weights of the same shape, layer by layer', { file });
  }
  const method = getMethod(methodName);
  const dir = path.dirname(path.resolve(file));
  // A relative path is the config folder's when it is there (or explicitly relative); anything else may be a Hub id.
  const resolveOne = (p: string) => (path.isAbsolute(p) ? p : /^\.\.?[\\/]/.test(p) || existsSync(path.join(dir, p)) ? path.join(dir, p) : p);
  // mergekit's `base+lora`: each side resolved on its own (unless the whole name is a path here).
  const resolve = (p: string) => (p.includes('+') && !existsSync(path.join(dir, p)) ? p.split('+').map(resolveOne).join('+') : resolveOne(p));
  const bm = cfg.base_model;
  const bmModel = bm && typeof bm === 'object' ? (bm as Record<string, unknown>).model : undefined;
  const baseRaw = typeof bm === 'string' ? bm : typeof bmModel === 'string' ? bmModel : undefined;
  if (bm !== undefined && bm !== null && baseRaw === undefined) throw new MergelensError('BAD_INPUT', '"base_model" must be a path', { file });
  const base = baseRaw === undefined ? undefined : resolve(baseRaw);

  if (('models' in cfg) === ('slices' in cfg)) throw new MergelensError('BAD_INPUT', 'give exactly one of "models" or "slices"', { file });
  let slices: SliceDef[];
  if ('models' in cfg) {
    if (!Array.isArray(cfg.models) || cfg.models.length === 0) throw new MergelensError('BAD_INPUT', '"models" must list at least one model', { file });
    slices = [{ params: {}, sources: (cfg.models as unknown[]).map((m, i) => ({ model: resolve(modelRef(m, file, `models[${i}]`)), params: settingsOf((m as Record<string, unknown>).parameters, `models[${i}].parameters`, file) })) }];
  } else slices = readSlices(cfg.slices, file, resolve);

  const globals = settingsOf(cfg.parameters, 'parameters', file);
  for (const k of Object.keys(globals)) {
    if (IGNORED_PARAMS.has(k)) {
      warnings.push(`parameter ${k} is ignored (mergekit memory option)`);
      delete globals[k];
    }
  }
  for (const s of slices) for (const src of [s, ...s.sources]) for (const k of IGNORED_PARAMS) delete src.params[k];

  const expertModels = slices[0].sources.map((s) => s.model).filter((m) => m !== base);
  if (expertModels.length === 0) throw new MergelensError('BAD_INPUT', 'no models to merge besides the base', { file });
  const methodParams = new Set(method.params.map((p) => p.name));
  const perModel = (k: string) => k === 'weight' || (PER_MODEL.has(k) && methodParams.has(k));
  // Names given anywhere, and whether any varies by tensor.
  const named = new Set<string>();
  let anyVaries = 'slices' in cfg; // layer ranges are checked against the model when the plan binds them
  for (const s of [{ params: globals }, ...slices, ...slices.flatMap((x) => x.sources)]) {
    for (const [k, v] of Object.entries(s.params)) {
      named.add(k);
      if (varies(v)) anyVaries = true;
    }
  }
  for (const k of named) {
    if (k !== 'weight' && !methodParams.has(k)) {
      throw new MergelensError('BAD_PARAM', `${method.id}: parameter "${k}" is not a parameter of ${method.id}; its parameters: ${[...methodParams].join(', ') || '(none)'}`, { file });
    }
  }
  if (named.has('weight')) {
    for (const sl of slices) {
      const missing = sl.sources.find((x) => x.model !== base && !('weight' in x.params) && !('weight' in sl.params) && !('weight' in globals));
      if (missing) throw new MergelensError('BAD_PARAM', `either every model or none gives a "weight" (${missing.model} has none; mergekit requires one per model)`, { file });
    }
  }
  for (const sl of slices) {
    for (const x of sl.sources) {
      for (const k of Object.keys(x.params)) {
        if (!perModel(k)) warnings.push(`${x.model}: per-model "${k}" is ignored (mergekit reads ${k} per merge or slice, not per model); set it under parameters`);
      }
    }
  }
  if (method.usesWeights === false && named.has('weight')) throw new MergelensError('BAD_PARAM', `${method.id}: "weight" is not used by ${method.id}`, { file });

  // mergekit's defaults where the config is silent, with a note where mergelens's CLI differs.
  const mk = MERGEKIT_DEFAULTS[method.id];
  const defaults: Record<string, ParamValue> = {};
  if (!mk) warnings.push(`${method.id} is not a mergekit method: mergelens defaults apply and mergekit cannot run this config`);
  for (const spec of method.params) {
    const d = mk?.[spec.name];
    if (d === undefined) continue;
    defaults[spec.name] = d;
    if (!named.has(spec.name) && d !== spec.default) {
      warnings.push(`${method.id}: ${spec.name} not set; using mergekit's default ${d} (mergelens's CLI default is ${spec.default})`);
    }
  }
  for (const r of REQUIRED[method.id] ?? []) if (!named.has(r)) throw new MergelensError('BAD_PARAM', `${method.id}: parameter "${r}" is required in a mergekit config (mergekit has no default)`, { file });
  if (method.usesWeights !== false && mk && !named.has('weight') && expertModels.length > 1) {
    warnings.push(`${method.id}: no "weight" given (mergekit requires one per model); using weight 1 for every model`);
  }

  const schedule = new Schedule(method, slices, globals, expertModels, defaults, file);
  let params: Record<string, ParamValue> = {};
  let weights: number[] | undefined;
  let perTensor: PerTensorParams | undefined;
  const flat = anyVaries ? undefined : schedule.at('', 0, 0);
  if (anyVaries || flat?.expertParams) {
    perTensor = { bind: (names) => schedule.bind(names) };
    // What does not vary goes in params too (for records and messages).
    for (const k of methodParams) {
      if (perModel(k) && named.has(k)) continue;
      const v = schedule.scalar(k);
      if (v !== undefined) params[k] = v;
    }
  } else {
    params = flat!.params;
    weights = named.has('weight') ? flat!.weights : undefined;
  }

  let seed: number | undefined;
  const ext = cfg.mergelens && typeof cfg.mergelens === 'object' ? (cfg.mergelens as Record<string, unknown>) : {};
  const seedValue = cfg.seed ?? ext.seed;
  if (seedValue !== undefined) {
    if (typeof seedValue !== 'number' || !Number.isSafeInteger(seedValue) || seedValue < 0) throw new MergelensError('BAD_PARAM', `"seed" must be a non-negative integer`, { file });
    seed = seedValue;
  }
  const dt = cfg.out_dtype ?? cfg.dtype;
  const dtype = typeof dt === 'string' ? parseDType(dt, file) : undefined;
  const document = resolvedDocument(cfg, resolve);
  return { method: methodName, base, experts: expertModels, weights, params, seed, dtype, warnings, perTensor, document };
}

/** The document with every model reference resolved as the merge resolved it. */
function resolvedDocument(cfg: Record<string, unknown>, resolve: (p: string) => string): Record<string, unknown> {
  const fix = (v: unknown, key?: string): unknown => {
    if ((key === 'model' || key === 'base_model') && typeof v === 'string') return resolve(v);
    if (Array.isArray(v)) return v.map((x) => fix(x));
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fix(x, k)]));
    return v;
  };
  return fix(cfg) as Record<string, unknown>;
}

/** Per-tensor parameter lookup with mergekit's precedence: slice source → slice → top level → default. */
class Schedule {
  constructor(
    private readonly method: MergeMethod,
    private readonly slices: SliceDef[],
    private readonly globals: Settings,
    private readonly experts: string[],
    private readonly defaults: Record<string, ParamValue>,
    private readonly file: string,
  ) {}

  private lookup(name: string, key: string, t: number, slice: SliceDef, model?: string): ParamValue | undefined {
    const src = model === undefined ? undefined : slice.sources.find((s) => s.model === model);
    for (const s of [src?.params, slice.params, this.globals]) {
      const v = s && key in s ? evaluateSetting(name, s[key], t) : undefined;
      if (v !== undefined) return v;
    }
    return undefined;
  }

  /** A top-level/slice value that is the same for every tensor, if it is a plain scalar everywhere. */
  scalar(key: string): ParamValue | undefined {
    const values = new Set<string>();
    for (const s of [this.globals, ...this.slices.map((x) => x.params)]) if (key in s) values.add(JSON.stringify(s[key]));
    if (values.size !== 1) return values.size === 0 ? this.defaults[key] : undefined;
    const v = JSON.parse([...values][0]);
    return isScalar(v) ? v : undefined;
  }

  /** Parameters, weights and per-expert values for one tensor in slice k at position t. */
  at(name: string, k: number, t: number): TensorOverride & { params: Record<string, ParamValue>; weights?: number[] } {
    const slice = this.slices[k];
    const params: Record<string, ParamValue> = {};
    let expertParams: Record<string, number[]> | undefined;
    for (const spec of this.method.params) {
      if (PER_MODEL.has(spec.name)) {
        const vals = this.experts.map((m) => this.lookup(name, spec.name, t, slice, m) ?? this.defaults[spec.name]);
        if (vals.every((v) => v === undefined)) continue;
        const nums = vals.map((v, i) => {
          const x = typeof v === 'string' ? Number(v) : v;
          if (typeof x !== 'number' || !Number.isFinite(x)) throw new MergelensError('BAD_PARAM', `${spec.name} of ${this.experts[i]} must be a number${name ? ` (tensor ${name})` : ''}`, { file: this.file });
          return x;
        });
        params[spec.name] = nums[0];
        if (nums.some((x) => x !== nums[0])) (expertParams ??= {})[spec.name] = nums;
        continue;
      }
      const v = this.lookup(name, spec.name, t, slice) ?? this.defaults[spec.name];
      if (v !== undefined) params[spec.name] = v;
      else if (REQUIRED[this.method.id]?.includes(spec.name)) {
        throw new MergelensError('BAD_PARAM', `${this.method.id}: no value of "${spec.name}" applies to this tensor (mergekit requires one; add a fallback entry without a filter)`, { file: this.file, tensor: name || undefined });
      }
    }
    if (this.method.usesWeights === false) return { params, expertParams };
    const weights = this.experts.map((m, i) => {
      const v = this.lookup(name, 'weight', t, slice, m) ?? 1;
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new MergelensError('BAD_PARAM', `weight of models[${i}] must be a number${name ? ` (tensor ${name})` : ''}`, { file: this.file });
      return v;
    });
    return { params, weights, expertParams };
  }

  /** Per-tensor values over a checkpoint's tensor names (which fix the layer count). */
  bind(names: readonly string[]): (name: string) => TensorOverride {
    const layers = names.reduce((n, x) => Math.max(n, (layerIndex(x) ?? -1) + 1), 0);
    const ends = this.slices.map((s) => s.sources[0].range?.[1]);
    const last = ends[ends.length - 1];
    if (last !== undefined && last !== layers) {
      throw new MergelensError('BAD_INPUT', `slices cover layers [0, ${last}) but the model has ${layers} layer(s); slices must cover every layer`, { file: this.file });
    }
    const bounds = this.slices.map((s, k) => s.sources[0].range ?? [0, layers]).map(([a, b], k) => ({ k, a, b }));
    return (name) => {
      const l = layerIndex(name);
      if (l === undefined) {
        // Embeddings take the first slice's settings, the final norm and head the last's; t = 0 (mergekit's plan_module).
        const k = compareLayers(name, 'model.layers.0.x') < 0 ? 0 : this.slices.length - 1;
        return this.at(name, k, 0);
      }
      const s = bounds.find((x) => l >= x.a && l < x.b) ?? bounds[bounds.length - 1];
      const len = s.b - s.a;
      return this.at(name, s.k, len > 1 ? (l - s.a) / (len - 1) : 1);
    };
  }
}

export async function loadMergeConfig(file: string): Promise<MergeConfig> {
  const text = await fsp.readFile(file, 'utf8').catch(() => {
    throw new MergelensError('NOT_FOUND', 'cannot read merge config', { file });
  });
  return parseMergeConfig(text, file);
}
