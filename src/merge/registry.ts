/**
 * The merge-method registry: look a method up by id or alias, list them, and turn raw
 * user parameters (CLI strings, YAML values) into validated, defaulted values.
 */
import type { MergeMethod, ParamSpec, ParamValue } from '../types.js';
import { MergelensError } from '../errors.js';
import { weightAvg } from './methods/weight-avg.js';
import { taskArithmetic } from './methods/task-arithmetic.js';
import { ties } from './methods/ties.js';
import { dare, dareTies } from './methods/dare.js';
import { slerp } from './methods/slerp.js';
import { tsv } from './methods/tsv.js';
import { isoC } from './methods/iso-c.js';

const METHODS: MergeMethod[] = [weightAvg, taskArithmetic, ties, dare, dareTies, slerp, tsv, isoC];

const BY_NAME = new Map<string, MergeMethod>();
for (const m of METHODS) for (const name of [m.id, ...m.aliases]) BY_NAME.set(name, m);

export function listMethods(): MergeMethod[] {
  return METHODS.slice();
}

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length];
}

/** Closest known name within a small edit distance (case, '-' vs '_' ignored first). */
export function suggest(input: string, names: string[]): string | undefined {
  const canon = (s: string) => s.toLowerCase().replace(/[-\s]/g, '_');
  const exact = names.find((n) => canon(n) === canon(input));
  if (exact) return exact;
  const prefix = names.find((n) => input.length >= 3 && (canon(n).startsWith(canon(input)) || canon(input).startsWith(canon(n))));
  if (prefix) return prefix;
  let best: string | undefined;
  let bestD = Infinity;
  for (const n of names) {
    const d = editDistance(canon(input), canon(n));
    if (d < bestD) {
      bestD = d;
      best = n;
    }
  }
  return bestD <= Math.max(2, Math.floor(input.length / 3)) ? best : undefined;
}

export function getMethod(id: string): MergeMethod {
  const m = BY_NAME.get(id);
  if (m) return m;
  const names = [...BY_NAME.keys()];
  const guess = suggest(id, names);
  const valid = METHODS.map((x) => (x.aliases.length ? `${x.id} (${x.aliases.join(', ')})` : x.id)).join(', ');
  throw new MergelensError('UNKNOWN_METHOD', `unknown merge method "${id}"${guess ? ` — did you mean "${guess}"?` : ''}; valid methods: ${valid}`, {
    hint: 'run `mergelens methods` for formulas and parameters',
  });
}

function badParam(method: MergeMethod, name: string, problem: string, hint?: string): MergelensError {
  return new MergelensError('BAD_PARAM', `${method.id}: parameter "${name}" ${problem}`, { hint });
}

function parseValue(method: MergeMethod, spec: ParamSpec, raw: ParamValue): ParamValue {
  const name = spec.name;
  if (spec.type === 'number') {
    const v = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
    if (!Number.isFinite(v)) throw badParam(method, name, `must be a finite number, got ${JSON.stringify(raw)}`);
    if (spec.min !== undefined && (spec.minExclusive ? v <= spec.min : v < spec.min)) {
      throw badParam(method, name, `must be ${spec.minExclusive ? '>' : '≥'} ${spec.min}, got ${v}`);
    }
    if (spec.max !== undefined && v > spec.max) throw badParam(method, name, `must be ≤ ${spec.max}, got ${v}`);
    return v;
  }
  if (spec.type === 'boolean') {
    if (typeof raw === 'boolean') return raw;
    const s = String(raw).trim().toLowerCase();
    if (['true', '1', 'yes', 'on'].includes(s)) return true;
    if (['false', '0', 'no', 'off'].includes(s)) return false;
    throw badParam(method, name, `must be true or false, got ${JSON.stringify(raw)}`);
  }
  let s: string;
  if (typeof raw === 'boolean' || (spec.fromBoolean && (raw === 'true' || raw === 'false'))) {
    if (!spec.fromBoolean) throw badParam(method, name, `must be a string, got ${raw}`);
    s = spec.fromBoolean[String(raw) as 'true' | 'false'];
  } else s = String(raw);
  if (spec.choices && !spec.choices.includes(s)) {
    throw badParam(method, name, `must be one of ${spec.choices.join(', ')}, got ${JSON.stringify(raw)}`);
  }
  return s;
}

/**
 * Validate raw parameters against a method's specs and fill in defaults. Unknown names,
 * wrong types and out-of-range values are BAD_PARAM errors naming method and parameter.
 */
export function resolveParams(method: MergeMethod, raw: Record<string, ParamValue> = {}): Record<string, ParamValue> {
  const out: Record<string, ParamValue> = {};
  const specs = new Map(method.params.map((p) => [p.name, p]));
  for (const [name, value] of Object.entries(raw)) {
    const spec = specs.get(name);
    if (!spec) {
      const known = method.params.map((p) => p.name);
      const guess = suggest(name, known);
      const hint = name === 'weight' || name === 'weights' ? 'per-expert weights go in --weights (or models[].parameters.weight in a config)' : undefined;
      throw badParam(
        method,
        name,
        `is not a parameter of ${method.id}${guess ? ` — did you mean "${guess}"?` : ''}; its parameters: ${known.join(', ') || '(none)'}`,
        hint,
      );
    }
    out[name] = parseValue(method, spec, value);
  }
  for (const spec of method.params) if (!(spec.name in out)) out[spec.name] = spec.default;
  return out;
}
