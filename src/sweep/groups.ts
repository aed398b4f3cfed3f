/**
 * `sweep --group-size k`: merges of groups of k ≥ 3 of the user's experts, evaluated like the
 * sweep's pairs (same runner: journal, resume, retries) and written as StudyDataset.groups — the
 * format the built-in group study writes, so `fit` builds group models from either.
 *
 * Which groups: a seeded sample (src/study/groups.ts's sampleGroups: a smaller sample is a
 * prefix of a larger one, so raising --groups later reuses every evaluation already journaled).
 * Outcome: the pairs' normalised score generalised to k experts — per expert, the mean over its
 * own tasks of merged ÷ its own score; the mean over the k experts (1 = nothing lost).
 */
import type { Checkpoint, GroupRow } from '../types.js';
import { MergelensError } from '../errors.js';
import { mergeToDisk } from '../merge/to-disk.js';
import { sampleGroups, type GroupSample } from '../study/groups.js';
import type { Candidate, Outcome } from '../eval/runner.js';
import { settleMerge, type ExpertTasks, type SweepFailure } from './outcome.js';

/** Groups per sweep when --groups is not given. */
export const DEFAULT_SWEEP_GROUPS = 10;

export const GROUP_OUTCOME_TEXT = {
  normalized: 'normalized score over the group: for each expert of the group, mean over its own tasks of merged score ÷ the expert’s own score; mean over the k experts',
  raw: 'raw score: mean over the group’s own tasks of the merged model’s score',
} as const;

export const groupMergeId = (method: string, experts: readonly string[]) => `group:${method}:${experts.join('+')}`;

/** The sampled groups of size k (expert names, in sweep order). */
export function sweepGroups(names: readonly string[], k: number, count: GroupSample, seed: number): string[][] {
  if (!Number.isInteger(k) || k < 3) throw new MergelensError('BAD_PARAM', `--group-size must be an integer ≥ 3, got ${k} (pairs are what the sweep merges anyway)`);
  if (k > names.length) throw new MergelensError('BAD_PARAM', `--group-size ${k} needs at least ${k} experts, got ${names.length}`);
  return sampleGroups(names.length, k, count, seed).map((idx) => idx.map((i) => names[i]));
}

export interface GroupMerge {
  experts: string[];
  method: string;
  status: 'evaluated' | 'failed' | 'skipped';
  measured?: number;
  reason?: string;
}

/** One runner candidate per group × method: merge the group into the scratch folder, score its tasks. */
export function groupCandidates(
  groups: readonly string[][],
  methods: readonly string[],
  ctx: { names: readonly string[]; base: Checkpoint; experts: Checkpoint[]; seed: number; expertTasks: ExpertTasks; scores: Record<string, Record<string, number> | undefined>; safeName: (s: string) => string },
): { candidates: Candidate[]; merges: GroupMerge[] } {
  const candidates: Candidate[] = [];
  const merges: GroupMerge[] = [];
  for (const g of groups) {
    for (const method of methods) {
      const unscored = g.filter((e) => !ctx.expertTasks[e] || !ctx.scores[e]);
      if (unscored.length) {
        merges.push({ experts: g, method, status: 'skipped', reason: `no score for expert(s) ${unscored.join(', ')} alone` });
        continue;
      }
      merges.push({ experts: g, method, status: 'failed' }); // until evaluated
      const members = g.map((e) => ctx.experts[ctx.names.indexOf(e)]);
      candidates.push({
        id: groupMergeId(method, g),
        name: `${ctx.safeName(method)}__${g.map(ctx.safeName).join('+')}`.slice(0, 160),
        tasks: [...new Set(g.flatMap((e) => ctx.expertTasks[e]))],
        materialise: async (dir) => {
          await mergeToDisk(ctx.base, members, { method, seed: ctx.seed, out: dir, force: true });
          return dir;
        },
        meta: { group: g.join('+'), method },
      });
    }
  }
  return { candidates, merges };
}

/** Evaluated group merges → GroupRows (updating each merge's status; failures listed). */
export function groupRows(
  merges: GroupMerge[],
  outcomes: ReadonlyMap<string, Outcome>,
  ctx: Parameters<typeof settleMerge>[3],
  failures: SweepFailure[],
): GroupRow[] {
  const rows: GroupRow[] = [];
  for (const m of merges) {
    if (m.status !== 'failed') continue;
    const r = settleMerge(m, outcomes.get(groupMergeId(m.method, m.experts)), m.experts, ctx, failures);
    if (!r) continue;
    const extra: Record<string, number> = { raw_mean: r.raw };
    r.norm?.parts.forEach((v, k) => (extra[`norm_${k}`] = v));
    for (const [t, v] of Object.entries(r.scores)) extra[`score_${t}`] = v;
    rows.push({ experts: m.experts, method: m.method, outcome: r.outcome, extra });
  }
  return rows;
}
