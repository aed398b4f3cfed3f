/**
 * A synthetic group study with a known rule: pair metrics are iid N(0, 1) per pair; a pair's
 * outcome is 0.8 + 0.05·tv_cosine + 0.03·sign_agreement + noise, and a group's outcome is
 *   0.8 + 0.05·mean(tv_cosine) + 0.06·min(sign_agreement) − 0.02·(k − 3) + noise,
 * so the mean of pair predictions misses the min and the k effects, which the group features hold.
 * act_l2 is pure noise.
 */
import { tensorRandom } from '../../src/merge/random.js';
import type { GroupRow, StudyDataset, StudyRow } from '../../src/types.js';
import { pairKey, pairsOfGroup } from '../../src/predict/group-features.js';
import { gaussian } from './synthetic.js';

export const GROUP_NOISE = 0.005;

/** The rule's group outcome without noise. */
export function groupTruth(experts: string[], pairMetrics: (a: string, b: string) => Record<string, number>): number {
  const ps = pairsOfGroup(experts).map(([a, b]) => pairMetrics(a, b));
  const meanTv = ps.reduce((s, m) => s + m.tv_cosine, 0) / ps.length;
  const minSign = Math.min(...ps.map((m) => m.sign_agreement));
  return 0.8 + 0.05 * meanTv + 0.06 * minSign - 0.02 * (experts.length - 3);
}

/** Seeded random subset of size k of `experts`, in experts order. */
export function randomGroup(experts: string[], k: number, rnd: () => number): string[] {
  const idx = experts.map((_, i) => i);
  for (let i = idx.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  return idx.slice(0, k).sort((a, b) => a - b).map((i) => experts[i]);
}

export function syntheticGroupStudy(opts: { experts?: number; perK?: number; ks?: number[]; seed?: number; methods?: string[] } = {}): StudyDataset {
  const seed = opts.seed ?? 1;
  const g = gaussian(tensorRandom(seed, 'group-study'));
  const rnd = tensorRandom(seed, 'group-sample');
  const experts = Array.from({ length: opts.experts ?? 10 }, (_, i) => `t${i}`);
  const methods = opts.methods ?? ['ties'];
  const metrics = new Map<string, Record<string, number>>();
  const rows: StudyRow[] = [];
  for (const [a, b] of pairsOfGroup(experts)) {
    const m = { tv_cosine: g(), sign_agreement: g(), act_l2: g() };
    metrics.set(pairKey(a, b), m);
    for (const method of methods) rows.push({ a, b, method, outcome: 0.8 + 0.05 * m.tv_cosine + 0.03 * m.sign_agreement + GROUP_NOISE * g(), metrics: m });
  }
  const pm = (a: string, b: string) => metrics.get(pairKey(a, b))!;
  const groups: GroupRow[] = [];
  for (const k of opts.ks ?? [3, 4, 5, 6, 7, 8]) {
    for (let s = 0; s < (opts.perK ?? 15); s++) {
      const e = randomGroup(experts, k, rnd);
      const truth = groupTruth(e, pm);
      for (const method of methods) groups.push({ experts: e, method, outcome: truth + GROUP_NOISE * g(), heldOut: 0.5 + 0.5 * (truth - 0.8) + GROUP_NOISE * g() });
    }
  }
  return {
    format: 'mergelens.study',
    version: 1,
    createdAt: '',
    description: 'synthetic groups',
    outcome: 'normalized accuracy',
    experts,
    methods,
    metricIds: ['tv_cosine', 'sign_agreement', 'act_l2'],
    rows,
    groups,
    groupOutcome: 'normalized accuracy over the group\'s tasks',
    heldOutDescription: 'probe accuracy on tasks outside the group',
  };
}
