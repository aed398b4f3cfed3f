/**
 * From a decision to a runnable merge: a mergekit YAML and the equivalent `mergelens merge`
 * command for one merge (method, base, experts, every parameter explicit so neither tool's
 * defaults matter), and the YAML an output folder records as `mergekit_config.yml`.
 *
 * The YAML is mergekit's schema; mergelens-only facts (the seed, the prediction that led to the
 * merge) go under a `mergelens:` key, which mergekit's config model ignores and mergelens's
 * config reader carries into the model card. Methods mergekit lacks (tsv, iso_c) are written
 * in the same shape with a comment saying only mergelens runs them.
 */
import YAML from 'yaml';
import type { ParamValue } from '../../types.js';
import { getMethod, resolveParams } from '../registry.js';
import { MERGEKIT_NAME } from '../config.js';

/** What led to a merge, when a prediction did (screen --emit). */
export interface PredictionNote {
  predictor: string;
  outcome: string;
  predicted: number;
  lo: number;
  hi: number;
  /** Top metric contributions, e.g. "tv_cosine +0.031". */
  drivers: string[];
}

export interface MergeSpec {
  method: string;
  base?: string | null;
  experts: string[];
  weights?: number[];
  params?: Record<string, ParamValue>;
  seed?: number;
  dtype?: 'F32' | 'F16' | 'BF16';
  prediction?: PredictionNote;
}

const DTYPE_NAME: Record<string, string> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' };
/** Parameters mergekit reads per model. */
const PER_MODEL = new Set(['density']);

/** Whether mergekit can run this method (by mergelens id or alias). */
export function inMergekit(method: string): boolean {
  return getMethod(method).id in MERGEKIT_NAME;
}

/** The mergekit-shaped document for one merge, every parameter of the method explicit. */
export function mergekitDocument(spec: MergeSpec): Record<string, unknown> {
  const method = getMethod(spec.method);
  const params = resolveParams(method, spec.params ?? {});
  const weights = method.usesWeights === false ? undefined : (spec.weights ?? spec.experts.map(() => 1));
  const doc: Record<string, unknown> = { merge_method: MERGEKIT_NAME[method.id] ?? method.id };
  // mergekit's linear averages every listed model, the base included: list only the experts.
  const base = method.id === 'weight_avg' ? undefined : (spec.base ?? undefined);
  if (base) doc.base_model = base;
  const perModel: Record<string, ParamValue> = {};
  const global: Record<string, ParamValue> = {};
  for (const [k, v] of Object.entries(params)) (PER_MODEL.has(k) ? perModel : global)[k] = k === 'rescale' && (v === 'l1' || v === 'none') ? v === 'l1' : v;
  doc.models = [
    ...(base && method.id === 'slerp' ? [{ model: base }] : []),
    ...spec.experts.map((m, i) => {
      const p: Record<string, ParamValue> = { ...(weights ? { weight: weights[i] } : {}), ...perModel };
      return Object.keys(p).length ? { model: m, parameters: p } : { model: m };
    }),
  ];
  if (Object.keys(global).length) doc.parameters = global;
  if (spec.dtype) doc.dtype = DTYPE_NAME[spec.dtype];
  const extra: Record<string, unknown> = {};
  if (spec.seed !== undefined && method.params.some((p) => p.name === 'rescale')) extra.seed = spec.seed;
  if (spec.prediction) extra.prediction = spec.prediction;
  if (Object.keys(extra).length) doc.mergelens = extra;
  return doc;
}

/** Why mergekit cannot run a document as mergelens does, if it cannot (one line each). */
export function mergekitCaveats(doc: Record<string, unknown>): string[] {
  const out: string[] = [];
  const m = String(doc.merge_method);
  if (!Object.values(MERGEKIT_NAME).includes(m)) out.push(`mergekit has no "${m}" method: run this config with mergelens`);
  const rescale = (doc.parameters as Record<string, unknown> | undefined)?.rescale;
  if (typeof rescale === 'string') out.push(`rescale: ${rescale} is mergelens's DARE rule; mergekit takes rescale: true (L1) or false`);
  const seed = (doc.mergelens as Record<string, unknown> | undefined)?.seed;
  if (seed !== undefined) out.push(`mergekit draws DARE masks from torch's RNG, so its result differs from mergelens's seeded one`);
  return out;
}

/** YAML text of a document, with `#` comment lines first. */
export function mergekitYaml(doc: Record<string, unknown>, comments: string[] = []): string {
  const head = [...comments, ...mergekitCaveats(doc).map((c) => `note: ${c}`)].map((c) => `# ${c}\n`).join('');
  return head + YAML.stringify(doc, { lineWidth: 0, flowCollectionPadding: false });
}

/** Quote one shell word when it needs it (POSIX sh single quotes). */
export function shellWord(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The `mergelens merge` command with explicit flags that makes the same checkpoint as `mergekitDocument(spec)`. */
export function mergeCommand(spec: MergeSpec, out: string): string {
  const method = getMethod(spec.method);
  const params = resolveParams(method, spec.params ?? {});
  const words = ['mergelens', 'merge', '--method', method.id];
  if (spec.base && method.id !== 'weight_avg') words.push('--base', spec.base); // as the YAML: linear lists no base
  words.push(...spec.experts);
  if (method.usesWeights !== false) words.push('--weights', (spec.weights ?? spec.experts.map(() => 1)).join(','));
  for (const [k, v] of Object.entries(params)) words.push('--param', `${k}=${v}`);
  if (spec.seed !== undefined && method.params.some((p) => p.name === 'rescale')) words.push('--seed', String(spec.seed));
  if (spec.dtype) words.push('--dtype', spec.dtype.toLowerCase());
  words.push('-o', out);
  return words.map(shellWord).join(' ');
}
