/**
 * Predictor guidance for the pool, before the search starts (`--method auto`, `--drop
 * predictor`): from the predicted outcome of every pair of experts under every method
 * (predict.ts, the same predictions `screen` ranks), choose
 *
 *  - the **method**: among the candidate methods (those the search can run and mergekit can
 *    reproduce, that have every parameter the user set or searches, and that the predictor does
 *    not withhold for failing to beat the mean out of fold — verdict.ts's rule), the one with the
 *    highest mean predicted outcome over all pairs of the pool; whether it is *separated* from
 *    the runner-up (its mean's interval above the other's) is recorded, not required;
 *  - the **experts to drop**, for that method: an expert's affinity is the mean predicted outcome
 *    of its pairs, its half-width the mean 95% half-width of those predictions; it is dropped
 *    when the mean affinity of the other experts exceeds its own by more than its half-width
 *    (its pairs are predicted harmful beyond the predictor's own uncertainty). At least two
 *    experts are always kept (the two with the highest affinity).
 *
 * Pure (no I/O): predictions in, decisions with their numbers out.
 */
import type { Prediction, PredictorFile } from '../types.js';
import { MergelensError } from '../errors.js';
import { predictorQuality } from '../predict/verdict.js';

/** Methods `--method auto` chooses from: per-expert weights, and a mergekit equivalent (the recipe stays reproducible there). */
export const AUTO_METHODS = ['task_arithmetic', 'ties', 'dare', 'dare_ties', 'weight_avg'];

export interface MethodScore {
  method: string;
  /** Mean predicted outcome over the pool's pairs. */
  mean: number;
  /** Mean 95% half-width of those predictions. */
  halfWidth: number;
  /** Left out: not a candidate (why), or null. */
  excluded: string | null;
}

export interface ExpertAffinity {
  expert: string;
  /** Mean predicted outcome of this expert's pairs (chosen method). */
  affinity: number;
  /** Mean affinity of the other experts. */
  othersMean: number;
  /** Mean 95% half-width of this expert's pair predictions. */
  halfWidth: number;
  dropped: boolean;
}

export interface PoolGuidance {
  method: string;
  /** Every method considered, best candidate first. */
  methods: MethodScore[];
  /** Whether the chosen method's mean lies above the runner-up candidate's by more than both half-widths. */
  separated: boolean | null;
  experts: ExpertAffinity[];
  kept: string[];
  dropped: string[];
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const orLowest = (x: number) => (Number.isFinite(x) ? x : -Infinity);

/** Per-method mean prediction over the pool and the candidate rule (see the header). */
export function scoreMethods(predictions: Prediction[], predictor: PredictorFile | undefined, opts: { candidates: string[]; needs?: (method: string) => string | null }): MethodScore[] {
  const quality = predictorQuality(predictor);
  const methods = [...new Set(predictions.map((p) => p.method))];
  const scores = methods.map((m): MethodScore => {
    const ps = predictions.filter((p) => p.method === m && Number.isFinite(p.predicted));
    const excluded = !opts.candidates.includes(m)
      ? 'not searchable with a mergekit-reproducible recipe'
      : quality[m]?.beatsMean === false
        ? 'withheld: its predictor does not beat the mean out of fold'
        : (opts.needs?.(m) ?? (ps.length === 0 ? 'no finite prediction' : null));
    return { method: m, mean: ps.length ? mean(ps.map((p) => p.predicted)) : NaN, halfWidth: ps.length ? mean(ps.map((p) => (p.hi - p.lo) / 2)) : NaN, excluded };
  });
  // When the predictor withholds every candidate, rank them anyway (as the verdict does) rather than choose nothing.
  if (!scores.some((s) => s.excluded === null)) for (const s of scores) if (s.excluded?.startsWith('withheld')) s.excluded = null;
  return scores.sort((a, b) => Number(a.excluded !== null) - Number(b.excluded !== null) || orLowest(b.mean) - orLowest(a.mean) || a.method.localeCompare(b.method));
}

/** Affinities and the drop rule for one method (names in pool order; predictions name experts the same way). */
export function dropRule(names: string[], predictions: Prediction[], method: string, drop: boolean): ExpertAffinity[] {
  const ps = predictions.filter((p) => p.method === method && Number.isFinite(p.predicted));
  const rows = names.map((e) => {
    const mine = ps.filter((p) => p.a === e || p.b === e);
    if (mine.length === 0) throw new MergelensError('BAD_INPUT', `the predictor gave no usable ${method} prediction for a pair with ${e}`, { hint: 'use --drop none' });
    return { expert: e, affinity: mean(mine.map((p) => p.predicted)), halfWidth: mean(mine.map((p) => (p.hi - p.lo) / 2)) };
  });
  const out = rows.map((r, i) => {
    const othersMean = mean(rows.filter((_, j) => j !== i).map((x) => x.affinity));
    return { ...r, othersMean, dropped: drop && othersMean - r.affinity > r.halfWidth };
  });
  // Keep at least two: un-drop the highest-affinity experts.
  const keptCount = out.filter((r) => !r.dropped).length;
  if (keptCount < 2) {
    const order = out.map((r, i) => i).sort((i, j) => out[j].affinity - out[i].affinity);
    for (const i of order.slice(0, 2)) out[i].dropped = false;
  }
  return out;
}

export function guidePool(
  names: string[],
  predictions: Prediction[],
  predictor: PredictorFile | undefined,
  opts: { method: string | 'auto'; drop: boolean; candidates?: string[]; needs?: (method: string) => string | null },
): PoolGuidance {
  const methods = scoreMethods(predictions, predictor, { candidates: opts.candidates ?? AUTO_METHODS, needs: opts.needs });
  let method = opts.method;
  let separated: boolean | null = null;
  if (method === 'auto') {
    const usable = methods.filter((m) => m.excluded === null);
    if (usable.length === 0) throw new MergelensError('BAD_PARAM', `--method auto: no candidate method (${methods.map((m) => `${m.method}: ${m.excluded}`).join('; ')})`, { hint: 'name the method with --method' });
    method = usable[0].method;
    if (usable.length > 1) separated = usable[0].mean - usable[0].halfWidth > usable[1].mean + usable[1].halfWidth;
  }
  const experts = dropRule(names, predictions, method, opts.drop);
  return { method, methods, separated, experts, kept: experts.filter((e) => !e.dropped).map((e) => e.expert), dropped: experts.filter((e) => e.dropped).map((e) => e.expert) };
}
