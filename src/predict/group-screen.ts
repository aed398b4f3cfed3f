/**
 * Choosing groups of k ≥ 3 experts to merge, and the method, with a predictor's group models
 * (`screen --group-size k` / `--max-group k`). Pure: pair metrics in, ranked groups out.
 *
 * Search: every k-subset of the candidates when there are at most `exactLimit` of them (exact);
 * beyond that a beam search per method — start from every triple (or pair, when triples alone
 * exceed the limit), repeatedly add the expert that scores best, keeping the `beamWidth` best
 * subsets, partial subsets scored by the model at the target k — and every method is then
 * evaluated on the union of the final beams. Which search ran is part of the result.
 *
 * The choice follows the pair verdict's rules (verdict.ts): a group's best method is named when
 * its interval lies above every other usable method's, methods whose group model does not beat
 * the training mean out of fold are withheld, and each group carries its domain.
 */
import type { GroupMethodPredictor, GroupPredictorSection, MetricsReport, PairMetrics, PredictorFile } from '../types.js';
import { pairMetricsFromReport } from './predict.js';
import { isMergelensError, MergelensError } from '../errors.js';
import { groupFeatureVector, pairIndex, parseGroupFeature } from './group-features.js';
import { groupPoint, groupQuality, predictGroupWith, prepareGroupModel, type GroupPrediction, type PreparedGroupModel } from './group-predict.js';
import { separated } from './verdict.js';
import { choose as binomial, combinations } from '../study/groups.js';

export const DEFAULT_EXACT_LIMIT = 5000;
export const DEFAULT_BEAM_WIDTH = 64;

export interface GroupScreenOptions {
  /** Group sizes to search (each ≥ 3). */
  sizes: number[];
  methods?: string[];
  /** Groups listed per size (default 5). */
  top?: number;
  /** Enumerate every subset up to this many (default 5000); beam search beyond. */
  exactLimit?: number;
  beamWidth?: number;
  /** File named in errors (the predictor). */
  file?: string;
}

export interface GroupDecision {
  experts: string[];
  rank: number;
  /** Every method's held-in prediction: usable methods first, each by prediction, highest first. */
  methods: GroupPrediction[];
  best: GroupPrediction;
  /** Named only when separated from every other usable method; else null. */
  bestMethod: string | null;
  tiedMethods: string[];
  /** Held-out predictions (tasks outside the group), per method, when the predictor has held-out models. */
  heldOut: GroupPrediction[];
  /** The best prediction's interval overlaps the top group's (no clear winner between them). */
  tiedWithTop: boolean;
}

export interface GroupSizeResult {
  k: number;
  search: 'exact' | 'beam';
  /** C(N, k). */
  subsets: number;
  /** Subsets whose every method was predicted. */
  evaluated: number;
  beamWidth?: number;
  groups: GroupDecision[];
}

export interface GroupModelQuality {
  method: string;
  r: number;
  rmse: number;
  meanOfPairsR: number | null;
  meanOfPairsRmse: number | null;
  meanRmse: number;
  beatsMean: boolean | null;
  beatsMeanOfPairs: boolean | null;
}

export interface GroupScreen {
  experts: string[];
  outcome: string;
  heldOutDescription?: string;
  scheme: string;
  quality: GroupModelQuality[];
  withheld: string[];
  sizes: GroupSizeResult[];
  notes: string[];
}

/** n choose k and the k-subsets of 0..n−1 (lexicographic): the group study's own (src/study/groups.ts). */
export { choose as binomial, combinations } from '../study/groups.js';

export function groupModelQuality(m: GroupMethodPredictor): GroupModelQuality {
  const v = m.validation;
  return { method: m.method, r: v.model.r, rmse: v.model.rmse, meanOfPairsR: v.meanOfPairs?.r ?? null, meanOfPairsRmse: v.meanOfPairs?.rmse ?? null, meanRmse: v.mean.rmse, ...groupQuality(m) };
}

const byPrediction = (u: GroupPrediction, v: GroupPrediction) => v.predicted - u.predicted || u.method.localeCompare(v.method);

/** Rank groups of each requested size by their best usable method's predicted outcome. */
export function screenGroups(section: GroupPredictorSection | undefined, pairs: PairMetrics[], opts: GroupScreenOptions): GroupScreen {
  if (!section || Object.keys(section.methods).length === 0) {
    throw new MergelensError('BAD_INPUT', 'this predictor has no group models (it was fitted on pairs only), so it cannot screen groups', {
      file: opts.file,
      hint: 'fit one on a study with groups: `mergelens study` (the built-in zoo), `mergelens sweep --group-size K` then `mergelens fit STUDY.json -o predictor.json` (your own experts), and pass it with --predictor',
    });
  }
  const experts = [...new Set(pairs.flatMap((p) => [p.a, p.b]))];
  // Methods without a group model (e.g. slerp merges two experts only) are left out and named in the notes.
  const unknown = (opts.methods ?? []).filter((m) => !section.methods[m]);
  if (opts.methods && unknown.length === opts.methods.length) throw new MergelensError('UNKNOWN_METHOD', `the predictor has no group model for: ${unknown.join(', ')} (it has ${Object.keys(section.methods).join(', ')})`, { file: opts.file });
  for (const k of opts.sizes) {
    if (!Number.isInteger(k) || k < 3) throw new MergelensError('USAGE', `a group has at least 3 experts, got ${k} (pairs are what plain \`screen\` ranks)`);
    if (k > experts.length) throw new MergelensError('USAGE', `cannot form a group of ${k} from ${experts.length} expert(s)`);
  }
  const models = Object.values(section.methods).filter((m) => !opts.methods || opts.methods.includes(m.method));
  const needed = [...new Set(models.flatMap((m) => m.features.map((f) => parseGroupFeature(f)?.metric).filter((x): x is string => !!x)))];
  const missing = needed.filter((id) => pairs.some((p) => !Number.isFinite(p.values[id])));
  if (missing.length) {
    throw new MergelensError('MISSING_METRICS', `the group models need metric(s) the input lacks: ${missing.join(', ')}`, { file: opts.file, hint: 'pass --grads/--acts for gradient/activation metrics, or use a predictor fitted without them (fit --exclude gradient,activation)' });
  }
  const index = pairIndex(pairs);
  const prepared = models.map((m) => prepareGroupModel(m, section.metrics));
  const heldOutModels = Object.values(section.heldOut ?? {})
    .filter((m) => !opts.methods || opts.methods.includes(m.method))
    .map((m) => prepareGroupModel(m, section.metrics));
  const quality = models.map(groupModelQuality);
  const withheldAll = quality.filter((q) => q.beatsMean === false).map((q) => q.method).sort();
  // As the pair verdict: when no method beats the mean, rank with all of them, and say so.
  const allWithheld = withheldAll.length === models.length;
  const usable = prepared.filter((p) => allWithheld || !withheldAll.includes(p.model.method));
  const top = opts.top ?? 5;
  const exactLimit = opts.exactLimit ?? DEFAULT_EXACT_LIMIT;
  const beamWidth = opts.beamWidth ?? DEFAULT_BEAM_WIDTH;
  const vector = (idx: number[], k = idx.length) => {
    const x = groupFeatureVector(idx.map((i) => experts[i]), section.metrics, index);
    x[0] = k; // partial subsets of a beam are scored as groups of the target size
    return x;
  };
  const bestPoint = (x: Float64Array, ps: PreparedGroupModel[]) => Math.max(...ps.map((p) => groupPoint(p, x)));

  const sizes: GroupSizeResult[] = opts.sizes.map((k) => {
    const subsets = binomial(experts.length, k);
    let candidates: number[][];
    let search: GroupSizeResult['search'];
    if (subsets <= exactLimit) {
      search = 'exact';
      candidates = combinations(experts.length, k);
    } else {
      search = 'beam';
      const seen = new Map<string, number[]>();
      for (const p of usable) for (const s of beam(experts.length, k, beamWidth, exactLimit, (idx) => groupPoint(p, vector(idx, k)))) seen.set(s.join(','), s);
      candidates = [...seen.values()];
    }
    // Rank every candidate by its best usable method, then predict the leaders in full.
    const scored = candidates.map((idx) => ({ idx, score: bestPoint(vector(idx), usable) }));
    scored.sort((u, v) => v.score - u.score || u.idx.join(',').localeCompare(v.idx.join(',')));
    const groups = scored.slice(0, top).map(({ idx }, r): GroupDecision => {
      const names = idx.map((i) => experts[i]);
      const x = vector(idx);
      const preds = prepared.map((p) => predictGroupWith(p, names, x));
      const ok = preds.filter((p) => usable.some((u) => u.model.method === p.method)).sort(byPrediction);
      const rest = preds.filter((p) => !ok.includes(p)).sort(byPrediction);
      const best = ok[0];
      const tied = ok.filter((p) => !separated(best, p));
      return {
        experts: names,
        rank: r + 1,
        methods: [...ok, ...rest],
        best,
        bestMethod: tied.length === 1 ? best.method : null,
        tiedMethods: tied.map((p) => p.method),
        heldOut: heldOutModels.map((p) => predictGroupWith(p, names, x)).sort(byPrediction),
        tiedWithTop: false,
      };
    });
    for (const g of groups) g.tiedWithTop = !separated(groups[0].best, g.best);
    return { k, search, subsets, evaluated: candidates.length, ...(search === 'beam' ? { beamWidth } : {}), groups };
  });

  const notes: string[] = [];
  if (unknown.length) notes.push(`No group model for: ${unknown.join(', ')} (left out of the group choice).`);
  if (allWithheld) notes.push('No group model beats predicting the mean out of fold (leave one expert out): the ranking below is not informative.');
  else if (withheldAll.length) notes.push(`Withheld from the best-method choice (group model no better than the mean out of fold): ${withheldAll.join(', ')}.`);
  const worse = quality.filter((q) => q.beatsMeanOfPairs === false).map((q) => q.method);
  if (worse.length) notes.push(`For ${worse.join(', ')} the group model does not beat the mean of pair predictions out of fold.`);
  const leaders = sizes.flatMap((s) => s.groups.slice(0, 1));
  const ood = leaders.filter((g) => g.best.domain && !g.best.domain.inDomain);
  if (ood.length) notes.push(`${ood.length} of ${leaders.length} recommended group(s) lie outside the group model's training data (marked OOD): their predictions are extrapolations.`);
  const trainedK = [...new Set(models.flatMap((m) => m.ks))].sort((a, b) => a - b);
  const unseen = opts.sizes.filter((k) => !trainedK.includes(k));
  if (unseen.length) notes.push(`Group size(s) ${unseen.join(', ')} were never in training (k ∈ {${trainedK.join(', ')}}): extrapolation.`);
  return { experts, outcome: section.outcome, heldOutDescription: section.heldOutDescription, scheme: section.scheme, quality, withheld: allWithheld ? [] : withheldAll, sizes, notes };
}

/**
 * Beam search for the k-subsets of 0..n−1 with the highest `score`: start from every triple (or
 * every pair when triples exceed `startLimit`), grow by one expert per step, keep `width` best.
 */
export function beam(n: number, k: number, width: number, startLimit: number, score: (idx: number[]) => number): number[][] {
  const start = binomial(n, 3) <= startLimit && k >= 3 ? 3 : 2;
  let level = combinations(n, Math.min(start, k)).map((idx) => ({ idx, s: score(idx) }));
  const keepBest = (xs: { idx: number[]; s: number }[]) => xs.sort((u, v) => v.s - u.s || u.idx.join(',').localeCompare(v.idx.join(','))).slice(0, width);
  level = keepBest(level);
  for (let size = level[0]?.idx.length ?? k; size < k; size++) {
    const next = new Map<string, { idx: number[]; s: number }>();
    for (const { idx } of level) {
      for (let e = 0; e < n; e++) {
        if (idx.includes(e)) continue;
        const grown = [...idx, e].sort((a, b) => a - b);
        const key = grown.join(',');
        if (!next.has(key)) next.set(key, { idx: grown, s: score(grown) });
      }
    }
    level = keepBest([...next.values()]);
  }
  return level.map((x) => x.idx);
}

/**
 * The recommended groups for a report or dashboard: every group size the models were trained on
 * (up to the number of experts), `top` groups each; null when the predictor has no group models,
 * the experts are too few, or the report lacks a metric the models need.
 */
export function recommendGroups(metrics: MetricsReport, predictor: PredictorFile | undefined, top = 3): GroupScreen | null {
  const g = predictor?.groups;
  if (!g || Object.keys(g.methods).length === 0) return null;
  const sizes = [...new Set(Object.values(g.methods).flatMap((m) => m.ks))].filter((k) => k <= metrics.experts.length).sort((a, b) => a - b);
  if (!sizes.length) return null;
  try {
    return screenGroups(g, pairMetricsFromReport(metrics), { sizes, top });
  } catch (e) {
    if (isMergelensError(e)) return null; // e.g. MISSING_METRICS: the report lacks what the models need
    throw e;
  }
}
