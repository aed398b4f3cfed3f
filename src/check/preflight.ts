/**
 * Pre-flight check: before any heavy work, compare each expert against the base using only
 * headers plus a cheap strided sample of values (a few blocks per tensor), and report every
 * problem by expert and tensor with a severity:
 *   error   — a merge would fail or be meaningless (missing tensors, shape mismatch, NaN/Inf,
 *             quantised dtypes, an expert that does not descend from the base);
 *   warning — works with care (vocabulary rows differ, tied/untied lm_head, extra tensors, config differences);
 *   info    — worth knowing (dtype differences: everything is compared in float32).
 *
 * "Does not descend from this base": per tensor r = ‖θ−θ₀‖/‖θ₀‖ on the sample; the median over
 * the 2-D (matrix) tensors is compared with a threshold (default 0.5). A fine-tune typically moves
 * weights by well under 10 %; two independently initialised models of the same shape give r ≈ √2.
 */
import type { Checkpoint, CheckpointKind, LoraCheckpoint, ProgressSink } from '../types.js';
import { MergelensError, isMergelensError, type ErrorCode } from '../errors.js';
import { isFloatDType } from '../safetensors/dtype.js';
import { numelOf } from '../safetensors/header.js';
import { isLora, loraFrobeniusNorm } from '../checkpoint/lowrank.js';
import { openCheckpoint } from '../checkpoint/open.js';
import { compareSamples, countNonFinite, median, readSample, sampleRanges, type SampleRange } from './sample.js';

export type Severity = 'error' | 'warning' | 'info';

export type PreflightCode =
  | 'OPEN_FAILED'
  | 'OPEN_WARNING'
  | 'MISSING_TENSOR'
  | 'EXTRA_TENSOR'
  | 'SHAPE_MISMATCH'
  | 'DTYPE_MISMATCH'
  | 'UNSUPPORTED_DTYPE'
  | 'VOCAB_MISMATCH'
  | 'TIED_LM_HEAD'
  | 'CONFIG_MISMATCH'
  | 'NON_FINITE'
  | 'DIFFERENT_BASE'
  | 'IDENTICAL_TO_BASE';

export interface PreflightIssue {
  severity: Severity;
  code: PreflightCode;
  /** Expert name; absent for issues of the base itself. */
  expert?: string;
  tensor?: string;
  message: string;
}

export interface TensorRelDelta {
  tensor: string;
  /** ‖θ−θ₀‖/‖θ₀‖ on the sample (LoRA: exact ‖ΔW‖ over the sampled ‖θ₀‖ estimate). */
  relDelta: number;
  /** Elements compared. */
  sampled: number;
}

export interface ExpertPreflight {
  name: string;
  path: string;
  kind: CheckpointKind | 'unopened';
  tensors: number;
  parameters: number;
  missing: string[];
  extra: string[];
  shapeMismatches: { tensor: string; base: number[]; expert: number[] }[];
  dtypeMismatches: { tensor: string; base: string; expert: string }[];
  vocab: { tensor: string; baseRows: number; expertRows: number; commonRows: number }[];
  relDelta: TensorRelDelta[];
  /** Median relDelta over 2-D tensors (all tensors if none are 2-D); null if nothing compared. */
  medianRelDelta: number | null;
  /** false when medianRelDelta > threshold; null when nothing could be compared. */
  descendsFromBase: boolean | null;
  nonFinite: { tensor: string; count: number; sampled: number }[];
  lora?: { modules: number; checked: number };
}

/** A per-expert report with nothing found yet; checks fill it in. */
function emptyExpertReport(name: string, path: string, kind: ExpertPreflight['kind'], tensors: number, parameters: number): ExpertPreflight {
  return {
    name, path, kind, tensors, parameters,
    missing: [], extra: [], shapeMismatches: [], dtypeMismatches: [], vocab: [], relDelta: [],
    medianRelDelta: null, descendsFromBase: null, nonFinite: [],
  };
}

export interface PreflightOptions {
  /** Blocks sampled per tensor (default 8). */
  sampleBlocks?: number;
  /** Elements per block (default 256). */
  blockSize?: number;
  /** Median relative delta above which an expert "does not descend from the base" (default 0.5). */
  differentBaseThreshold?: number;
  /**
   * Read value samples of at most this many tensors, evenly spaced over the matrices (all float
   * tensors when there are none): the base's for its NaN/Inf check, and for each expert those
   * it shares with the base (an adapter: those it changes); names, shapes and dtypes are still
   * checked everywhere. Default: every tensor. A merge's "same base?" check passes 32: the median over
   * 32 matrices decides as well as over all of them, for a tenth of the small reads.
   */
  sampledTensors?: number;
  onProgress?: ProgressSink;
}

export interface PreflightReport {
  format: 'mergelens.check';
  version: 1;
  base: { name: string; path: string; kind: CheckpointKind; tensors: number; parameters: number; nonFinite: { tensor: string; count: number; sampled: number }[] };
  experts: ExpertPreflight[];
  issues: PreflightIssue[];
  counts: Record<Severity, number>;
  /** True when there is no error. */
  ok: boolean;
  settings: { sampleBlocks: number; blockSize: number; differentBaseThreshold: number };
}

export const DEFAULT_DIFFERENT_BASE_THRESHOLD = 0.5;

/** Embedding-like tensors whose row count is the vocabulary size. */
export const VOCAB_TENSOR = /(^|\.)(embed_tokens|wte|word_embeddings|embed_in|tok_embeddings|embed_out|lm_head)\.weight$/;
const LM_HEAD = /(^|\.)lm_head\.weight$/;
const CONFIG_KEYS = ['model_type', 'hidden_size', 'num_hidden_layers', 'num_attention_heads', 'intermediate_size', 'vocab_size'];

function parameters(c: Checkpoint): number {
  let n = 0;
  for (const t of c.tensorNames()) n += numelOf(c.location(t)!.shape);
  if (isLora(c)) for (const t of c.lowRankNames()) {
    const s = c.lowRankSpec(t)!;
    n += s.rank * (s.shape[0] + s.shape[1]);
  }
  return n;
}

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

class Collector {
  readonly issues: PreflightIssue[] = [];
  add(severity: Severity, code: PreflightCode, message: string, expert?: string, tensor?: string) {
    this.issues.push({ severity, code, message, ...(expert !== undefined ? { expert } : {}), ...(tensor !== undefined ? { tensor } : {}) });
  }
}

/** The base's sample for a tensor and range set, read once and shared by all experts. */
class BaseSamples {
  private cache = new Map<string, Promise<Float32Array>>();
  constructor(private readonly base: Checkpoint) {}
  get(name: string, ranges: SampleRange[]): Promise<Float32Array> {
    const key = `${name}\u0000${ranges.map((r) => `${r.start}+${r.count}`).join(',')}`;
    let p = this.cache.get(key);
    if (!p) this.cache.set(key, (p = readSample(this.base, name, ranges)));
    return p;
  }
}

export async function preflight(base: Checkpoint, experts: readonly Checkpoint[], opts: PreflightOptions = {}): Promise<PreflightReport> {
  const settings = {
    sampleBlocks: opts.sampleBlocks ?? 8,
    blockSize: opts.blockSize ?? 256,
    differentBaseThreshold: opts.differentBaseThreshold ?? DEFAULT_DIFFERENT_BASE_THRESHOLD,
  };
  if (isLora(base)) {
    throw new MergelensError('BAD_INPUT', 'the base must be a full model, not a LoRA adapter', { file: base.path, hint: 'pass the model the adapter was trained on as BASE' });
  }
  const col = new Collector();
  const samples = new BaseSamples(base);
  const baseNames = base.tensorNames();
  const baseSet = new Set(baseNames);
  const limit = opts.sampledTensors;
  const sampled = sampledNames(baseNames.filter((n) => isFloatDType(base.location(n)!.dtype)), (n) => base.location(n)!.shape, limit);
  for (const w of base.warnings ?? []) col.add('warning', 'OPEN_WARNING', w);
  if (base.config?.tie_word_embeddings === false && !baseNames.some((n) => LM_HEAD.test(n)) && baseNames.some((n) => VOCAB_TENSOR.test(n))) {
    col.add('warning', 'TIED_LM_HEAD', 'base config says tie_word_embeddings: false, but the base has no lm_head.weight', undefined, 'lm_head.weight');
  }

  // Base NaN/Inf on the sample (tensors the experts are compared on anyway).
  const baseNonFinite: PreflightReport['base']['nonFinite'] = [];
  for (const name of baseNames) {
    const loc = base.location(name)!;
    if (!isFloatDType(loc.dtype) || !sampled(name)) continue;
    const s = await samples.get(name, sampleRanges(numelOf(loc.shape), settings.sampleBlocks, settings.blockSize));
    const bad = countNonFinite(s);
    if (bad) {
      baseNonFinite.push({ tensor: name, count: bad, sampled: s.length });
      col.add('error', 'NON_FINITE', `base has ${bad} NaN/Inf value(s) among ${s.length} sampled`, undefined, name);
    }
  }

  const total = experts.length * Math.max(1, baseNames.length);
  let done = 0;
  const reports: ExpertPreflight[] = [];
  // Two experts with the same display name (a/expert.safetensors, b/expert.safetensors) are labelled by path.
  const nameCount = new Map<string, number>();
  for (const e of experts) nameCount.set(e.name, (nameCount.get(e.name) ?? 0) + 1);
  for (const expert of experts) {
    const label = nameCount.get(expert.name)! > 1 ? expert.path : expert.name;
    reports.push(await checkExpert(base, baseNames, baseSet, expert, label, samples, limit, settings, col, () => opts.onProgress?.({ phase: 'check', done: ++done, total, unit: 'tensors', detail: label })));
  }
  opts.onProgress?.({ phase: 'check', done: total, total, unit: 'tensors' });
  return assemble(base, baseNames, baseNonFinite, reports, col, settings);
}

function assemble(
  base: Checkpoint,
  baseNames: string[],
  baseNonFinite: PreflightReport['base']['nonFinite'],
  experts: ExpertPreflight[],
  col: Collector,
  settings: PreflightReport['settings'],
): PreflightReport {
  const counts = { error: 0, warning: 0, info: 0 };
  for (const i of col.issues) counts[i.severity]++;
  return {
    format: 'mergelens.check',
    version: 1,
    base: { name: base.name, path: base.path, kind: base.kind, tensors: baseNames.length, parameters: parameters(base), nonFinite: baseNonFinite },
    experts,
    issues: col.issues,
    counts,
    ok: counts.error === 0,
    settings,
  };
}

async function checkExpert(
  base: Checkpoint,
  baseNames: string[],
  baseSet: Set<string>,
  expert: Checkpoint,
  ex: string,
  samples: BaseSamples,
  limit: number | undefined,
  settings: PreflightReport['settings'],
  col: Collector,
  tick: () => void,
): Promise<ExpertPreflight> {
  const names = expert.tensorNames();
  const nameSet = new Set(names);
  const lora = isLora(expert) ? (expert as LoraCheckpoint) : undefined;
  const rep = emptyExpertReport(ex, expert.path, expert.kind, names.length + (lora ? lora.lowRankNames().length : 0), parameters(expert));
  for (const w of expert.warnings ?? []) col.add('warning', 'OPEN_WARNING', w, ex);
  compareConfigs(base, expert, ex, col);

  // Names: a LoRA adapter only touches some tensors, so "missing" does not apply to it.
  const baseHasHead = baseNames.some((n) => LM_HEAD.test(n));
  const tied = base.config?.tie_word_embeddings === true;
  if (!lora) {
    for (const n of baseNames) {
      if (nameSet.has(n)) continue;
      rep.missing.push(n);
      if (LM_HEAD.test(n)) {
        col.add('warning', 'TIED_LM_HEAD', `expert has no ${n} but the base does (expert ties lm_head to the embeddings?); it cannot be merged for this expert`, ex, n);
      } else col.add('error', 'MISSING_TENSOR', 'tensor is in the base but missing from the expert', ex, n);
    }
  }
  for (const n of [...names, ...(lora ? lora.lowRankNames() : [])]) {
    if (baseSet.has(n)) continue;
    rep.extra.push(n);
    if (LM_HEAD.test(n) && !baseHasHead) {
      col.add('warning', 'TIED_LM_HEAD', `expert has ${n} but the base has none${tied ? ' (base config: tie_word_embeddings: true)' : ''}; untie the base or drop it from the expert`, ex, n);
    } else if (lora) col.add('error', 'MISSING_TENSOR', 'the adapter targets a tensor the base does not have', ex, n);
    else col.add('warning', 'EXTRA_TENSOR', 'tensor is in the expert but not in the base (ignored by merges)', ex, n);
  }

  // value samples on every tensor, or on `limit` of the ones this expert changes
  const floatBoth = (n: string) => baseSet.has(n) && isFloatDType(base.location(n)!.dtype) && (!!lora?.lowRankSpec(n) || isFloatDType(expert.location(n)?.dtype ?? ''));
  const sampled = sampledNames([...names, ...(lora ? lora.lowRankNames() : [])].filter(floatBoth), (n) => base.location(n)!.shape, limit);
  const twoD: number[] = [];
  const all: number[] = [];
  const record = (tensor: string, rel: number | null, sampled: number, shape: readonly number[]) => {
    if (rel === null) return;
    rep.relDelta.push({ tensor, relDelta: rel, sampled });
    all.push(rel);
    if (shape.length === 2) twoD.push(rel);
  };

  // Dense tensors present in both.
  for (const n of names) {
    if (!baseSet.has(n)) continue;
    tick();
    const b = base.location(n)!;
    const e = expert.location(n)!;
    const bFloat = isFloatDType(b.dtype);
    const eFloat = isFloatDType(e.dtype);
    if (!eFloat || !bFloat) {
      if (b.dtype === e.dtype && !/^F/.test(b.dtype) && sameShape(b.shape, e.shape)) {
        col.add('info', 'UNSUPPORTED_DTYPE', `non-float tensor (${b.dtype}) in base and expert: not compared or merged`, ex, n);
      } else {
        const which = !eFloat ? `expert stores it as ${e.dtype}` : `base stores it as ${b.dtype}`;
        col.add('error', 'UNSUPPORTED_DTYPE', `quantised or unsupported dtype: ${which}; mergelens needs F32/F16/BF16/F64 weights`, ex, n);
      }
      continue;
    }
    if (b.dtype !== e.dtype) rep.dtypeMismatches.push({ tensor: n, base: b.dtype, expert: e.dtype });
    let elements: number;
    if (sameShape(b.shape, e.shape)) {
      elements = numelOf(b.shape);
    } else if (VOCAB_TENSOR.test(n) && b.shape.length === 2 && e.shape.length === 2 && b.shape[1] === e.shape[1]) {
      const common = Math.min(b.shape[0], e.shape[0]);
      rep.vocab.push({ tensor: n, baseRows: b.shape[0], expertRows: e.shape[0], commonRows: common });
      col.add(
        'warning',
        'VOCAB_MISMATCH',
        `vocabulary rows differ: base ${b.shape[0]}, expert ${e.shape[0]} (added tokens?); only the ${common} common rows are comparable`,
        ex,
        n,
      );
      elements = common * b.shape[1]; // row-major: the common rows are the leading elements
    } else {
      rep.shapeMismatches.push({ tensor: n, base: b.shape.slice(), expert: e.shape.slice() });
      col.add('error', 'SHAPE_MISMATCH', `shape [${e.shape.join(', ')}] differs from the base's [${b.shape.join(', ')}]`, ex, n);
      continue;
    }
    if (!sampled(n)) continue;
    const ranges = sampleRanges(elements, settings.sampleBlocks, settings.blockSize);
    const [bs, es] = await Promise.all([samples.get(n, ranges), readSample(expert, n, ranges)]);
    const cmp = compareSamples(bs, es);
    if (cmp.expertNonFinite) {
      rep.nonFinite.push({ tensor: n, count: cmp.expertNonFinite, sampled: es.length });
      col.add('error', 'NON_FINITE', `${cmp.expertNonFinite} NaN/Inf value(s) among ${es.length} sampled`, ex, n);
    }
    record(n, cmp.relDelta, cmp.compared, b.shape);
  }
  if (rep.dtypeMismatches.length) {
    const d = rep.dtypeMismatches[0];
    col.add(
      'info',
      'DTYPE_MISMATCH',
      `${rep.dtypeMismatches.length} tensor(s) stored in a different dtype than the base (e.g. ${d.tensor}: ${d.expert} vs ${d.base}); values are compared in float32`,
      ex,
    );
  }

  // LoRA deltas: shapes against the base, exact ‖ΔW‖ from the factors.
  if (lora) {
    let checked = 0;
    for (const n of lora.lowRankNames()) {
      if (!baseSet.has(n)) continue;
      tick();
      const spec = lora.lowRankSpec(n)!;
      const b = base.location(n)!;
      if (!sameShape(spec.shape, b.shape)) {
        rep.shapeMismatches.push({ tensor: n, base: b.shape.slice(), expert: spec.shape.slice() });
        col.add('error', 'SHAPE_MISMATCH', `LoRA ΔW shape [${spec.shape.join(', ')}] (module ${spec.module}, rank ${spec.rank}) does not fit the base's [${b.shape.join(', ')}]`, ex, n);
        continue;
      }
      checked++;
      if (!sampled(n)) continue;
      const delta = await lora.lowRank(n);
      const bad = countNonFinite(delta.A) + countNonFinite(delta.B);
      if (bad) {
        rep.nonFinite.push({ tensor: n, count: bad, sampled: delta.A.length + delta.B.length });
        col.add('error', 'NON_FINITE', `${bad} NaN/Inf value(s) in the LoRA factors`, ex, n);
        continue;
      }
      if (!isFloatDType(b.dtype)) continue;
      const bs = await samples.get(n, sampleRanges(numelOf(b.shape), settings.sampleBlocks, settings.blockSize));
      const cmp = compareSamples(bs, bs);
      if (cmp.baseSumSq > 0 && cmp.compared > 0) {
        const baseNorm = Math.sqrt((cmp.baseSumSq * numelOf(b.shape)) / cmp.compared);
        record(n, loraFrobeniusNorm(delta) / baseNorm, cmp.compared, b.shape);
      }
    }
    rep.lora = { modules: lora.lowRankNames().length, checked };
  }

  rep.medianRelDelta = median(twoD.length ? twoD : all);
  if (rep.medianRelDelta !== null) {
    rep.descendsFromBase = rep.medianRelDelta <= settings.differentBaseThreshold;
    const over = twoD.length ? `${twoD.length} matrices` : `${all.length} tensors`;
    if (!rep.descendsFromBase) {
      col.add(
        'error',
        'DIFFERENT_BASE',
        `does not descend from this base: median relative delta ‖θ−θ₀‖/‖θ₀‖ = ${rep.medianRelDelta.toFixed(3)} over ${over} (threshold ${settings.differentBaseThreshold}; fine-tunes are typically < 0.1, unrelated models ≈ 1.4)`,
        ex,
      );
    } else if (rep.medianRelDelta === 0 && rep.relDelta.every((r) => r.relDelta === 0)) {
      col.add('warning', 'IDENTICAL_TO_BASE', 'every sampled value equals the base: the expert looks unchanged (no task vector)', ex);
    }
  }
  return rep;
}

/** Which of `names` get value samples: all, or `limit` evenly spaced over the matrices among them (over all of them when none is 2-D). */
function sampledNames(names: readonly string[], shapeOf: (n: string) => readonly number[], limit: number | undefined): (name: string) => boolean {
  if (limit === undefined) return () => true;
  const matrices = names.filter((n) => shapeOf(n).length === 2);
  const pool = matrices.length ? matrices : names;
  const pick = new Set(pool.length <= limit ? pool : Array.from({ length: limit }, (_, k) => pool[Math.floor(((k + 0.5) * pool.length) / limit)]));
  return (name) => pick.has(name);
}

function compareConfigs(base: Checkpoint, expert: Checkpoint, ex: string, col: Collector) {
  if (!base.config || !expert.config) return;
  for (const k of CONFIG_KEYS) {
    const a = base.config[k];
    const b = expert.config[k];
    if (a !== undefined && b !== undefined && JSON.stringify(a) !== JSON.stringify(b)) {
      col.add('warning', 'CONFIG_MISMATCH', `config.json ${k} is ${JSON.stringify(b)} but the base has ${JSON.stringify(a)}`, ex);
    }
  }
}

/**
 * Open base and experts by path and run the check. An expert that fails to open becomes an
 * OPEN_FAILED error in the report (so one bad file does not hide the others); a base that fails
 * to open throws.
 */
export async function preflightPaths(basePath: string, expertPaths: readonly string[], opts: PreflightOptions = {}): Promise<PreflightReport> {
  const base = await openCheckpoint(basePath);
  const opened: Checkpoint[] = [];
  const failed: { path: string; code: ErrorCode | 'UNKNOWN'; message: string }[] = [];
  try {
    for (const p of expertPaths) {
      try {
        opened.push(await openCheckpoint(p));
      } catch (e) {
        if (!isMergelensError(e)) throw e;
        failed.push({ path: p, code: e.code, message: e.message });
      }
    }
    const report = await preflight(base, opened, opts);
    for (const f of failed) {
      report.experts.push(emptyExpertReport(f.path, f.path, 'unopened', 0, 0));
      report.issues.push({ severity: 'error', code: 'OPEN_FAILED', expert: f.path, message: `cannot open [${f.code}]: ${f.message}` });
      report.counts.error++;
      report.ok = false;
    }
    return report;
  } finally {
    await Promise.all([base, ...opened].map((c) => c.close()));
  }
}
