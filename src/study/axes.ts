/**
 * The study's scale and base axes (Yadav et al., arXiv 2410.03617): the same experts trained on
 * encoders of several widths and from two bases — the default base and a stronger one pretrained
 * longer on more tasks (the analogue of an instruction-tuned base) — each variant run through the
 * built-in study (pairs and groups, held-in and held-out outcomes), then summarized per method
 * against group size k, width and base, with a plain verdict on each of the paper's findings.
 *
 * Variant zoos are trained into `<outDir>/zoos/<variant>` (reused when their manifest's config is
 * the same), each study goes to `<outDir>/studies/<variant>`, the summary to axes.json + axes.md.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { ProgressSink, StudyDataset } from '../types.js';
import { MergelensError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import type { SplitSizes } from './data.js';
import { groupTrend, meanSe, type Slope } from './group-trend.js';
import type { GroupSample } from './groups.js';
import { runStudy } from './run.js';
import { DEFAULT_ZOO_CONFIG, readZooManifest, trainZoo, type ZooConfig } from './zoo.js';

/** How a base is pretrained: the default zoo's recipe, or a stronger one (more tasks, more epochs). */
export interface BaseRecipe {
  pretrainTasks: string[];
  epochs: number;
}

export const BASES: Record<string, BaseRecipe> = {
  default: { pretrainTasks: [...DEFAULT_ZOO_CONFIG.pretrainTasks], epochs: DEFAULT_ZOO_CONFIG.pretrain.epochs },
  // More label problems and two input transforms the experts below do not use, trained longer:
  // broader, better features — yet still no expert's own input transformation.
  strong: { pretrainTasks: ['digits', 'parity', 'ge5', 'mod3', 'digits0to4', 'shifted', 'noisy'], epochs: 4 },
};

export interface AxesOptions {
  outDir: string;
  /** First hidden width of the encoder 784→w→w/2 (the committed zoo is w = 256). */
  widths: number[];
  /** Base recipes by name (keys of `BASES` unless given in `recipes`). */
  bases: string[];
  recipes?: Record<string, BaseRecipe>;
  /** Expert tasks of every variant (groups of k = 3…min(8, tasks)). */
  tasks: string[];
  methods: string[];
  groups: GroupSample;
  split: SplitSizes;
  seed: number;
  /** Extra seeds for one variant (the first width × the first base) to show the spread between seeds. */
  repeatSeeds?: number[];
  /** Train and merge threads. */
  workers?: number;
  onProgress?: ProgressSink;
  log?: (line: string) => void;
}

export const DEFAULT_AXES: Omit<AxesOptions, 'outDir'> = {
  widths: [64, 128, 256],
  bases: ['default', 'strong'],
  tasks: ['digits', 'rot90', 'invert', 'permuted', 'parity', 'mod3'],
  methods: ['weight_avg', 'task_arithmetic', 'ties'],
  groups: 1,
  split: { train: 800, test: 300 },
  seed: 1,
  repeatSeeds: [2],
};

export interface AxisVariant {
  id: string;
  width: number;
  base: string;
  seed: number;
}

/** One summary cell: mean outcome of one method on one variant at one group size. */
export interface AxesCell {
  variant: string;
  width: number;
  base: string;
  seed: number;
  method: string;
  k: number;
  n: number;
  heldIn: number;
  heldInSe: number;
  heldOut?: number;
  heldOutSe?: number;
}

/** Per method and variant: the k-equal-weight mean over k, the held-in slope against k, held-out means. */
export interface AxesVariantMethod {
  variant: string;
  width: number;
  base: string;
  seed: number;
  method: string;
  /** Mean over group sizes of the per-k held-in means (each k weighs the same, so the many pairs do not dominate). */
  heldIn: number;
  heldInSlope?: Slope;
  heldOut?: number;
  /** Held-out ratio of the merge and of the group's best unmerged expert (mean over groups). */
  heldOutVsBest?: { merged: number; bestExpert: number; beatsBest: number; n: number };
}

export type Verdict = 'reproduced' | 'not reproduced' | 'inconclusive';

export interface Finding {
  id: 'more-experts' | 'larger-models' | 'stronger-base' | 'held-out';
  claim: string;
  verdict: Verdict;
  /** The numbers behind the verdict, in words. */
  evidence: string;
  /** Per method: the effect estimate and its standard error (units: normalized accuracy; NaN — null in JSON — when it rests on one comparison). */
  byMethod: Record<string, { effect: number; se: number }>;
}

export interface AxesSummary {
  format: 'mergelens.study-axes';
  version: 1;
  createdAt: string;
  config: Omit<AxesOptions, 'outDir' | 'onProgress' | 'log' | 'workers'> & { recipes: Record<string, BaseRecipe> };
  variants: (AxisVariant & { zoo: string; study: string; expertAccuracy: Record<string, number>; trainSeconds: number; studySeconds: number })[];
  cells: AxesCell[];
  perVariant: AxesVariantMethod[];
  /** Difference between the seed repeats of one variant (held-in, per method): the noise floor. */
  seedSpread?: { variant: string; seeds: number[]; byMethod: Record<string, number> };
  findings: Finding[];
}

export const variantId = (v: Omit<AxisVariant, 'id'>) => `w${v.width}-${v.base}-s${v.seed}`;

export function variantsOf(o: Pick<AxesOptions, 'widths' | 'bases' | 'seed' | 'repeatSeeds'>): AxisVariant[] {
  const out: AxisVariant[] = [];
  for (const base of o.bases) for (const width of o.widths) out.push({ id: variantId({ width, base, seed: o.seed }), width, base, seed: o.seed });
  for (const seed of o.repeatSeeds ?? []) {
    if (seed === o.seed) continue;
    const v = { width: o.widths[0], base: o.bases[0], seed };
    out.push({ id: variantId(v), ...v });
  }
  return out;
}

export function zooConfigOf(v: AxisVariant, o: Pick<AxesOptions, 'tasks' | 'split'>, recipe: BaseRecipe): ZooConfig {
  if (!Number.isInteger(v.width) || v.width < 2 || v.width % 2) throw new MergelensError('BAD_PARAM', `width must be an even integer ≥ 2, got ${v.width}`);
  return {
    ...DEFAULT_ZOO_CONFIG,
    seed: v.seed,
    tasks: [...o.tasks],
    pretrainTasks: [...recipe.pretrainTasks],
    split: { ...o.split },
    encoderDims: [784, v.width, v.width / 2],
    pretrain: { ...DEFAULT_ZOO_CONFIG.pretrain, epochs: recipe.epochs },
  };
}

const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;

/** Per-k cells and per-variant figures of one variant's study dataset (pure; groupTrend does the per-k means). */
export function summarizeVariant(v: AxisVariant, ds: StudyDataset): { cells: AxesCell[]; perVariant: AxesVariantMethod[] } {
  const trend = groupTrend(ds);
  const cells: AxesCell[] = [];
  const perVariant: AxesVariantMethod[] = [];
  const tag = { variant: v.id, width: v.width, base: v.base, seed: v.seed };
  for (const m of trend.methods) {
    const ks = Object.keys(m.byK).map(Number).sort((a, b) => a - b);
    for (const k of ks) {
      const c = m.byK[k];
      cells.push({ ...tag, method: m.method, k, n: c.n, heldIn: c.heldIn, heldInSe: c.heldInSe, ...(c.heldOut !== undefined ? { heldOut: c.heldOut, heldOutSe: c.heldOutSe } : {}) });
    }
    const outs = ks.map((k) => m.byK[k].heldOut).filter((x): x is number => x !== undefined);
    perVariant.push({
      ...tag,
      method: m.method,
      heldIn: mean(ks.map((k) => m.byK[k].heldIn)),
      ...(m.heldInSlope ? { heldInSlope: m.heldInSlope } : {}),
      ...(outs.length ? { heldOut: mean(outs) } : {}),
      ...(m.vsExperts ? { heldOutVsBest: { merged: m.vsExperts.merged, bestExpert: m.vsExperts.bestExpert, beatsBest: m.vsExperts.beatsBest, n: m.vsExperts.n } } : {}),
    });
  }
  return { cells, perVariant };
}

/** An effect is called when it is more than twice its standard error (and, for a seed spread s, larger than s). */
function call(effects: { effect: number; se: number }[], noise: number, sign: 1 | -1): { verdict: Verdict; tally: string } {
  if (!effects.length) return { verdict: 'inconclusive', tally: 'nothing to compare' };
  const clear = effects.filter((e) => Math.abs(e.effect) > Math.max(Number.isFinite(e.se) ? 2 * e.se : 0, noise));
  const agree = clear.filter((e) => Math.sign(e.effect) === sign).length;
  const against = clear.length - agree;
  const tally = `clear in the paper's direction for ${agree}/${effects.length} methods, clear against it for ${against}/${effects.length}`;
  if (agree > effects.length / 2) return { verdict: 'reproduced', tally };
  if (against > effects.length / 2 || (agree === 0 && clear.length === 0)) return { verdict: 'not reproduced', tally };
  return { verdict: 'inconclusive', tally };
}

const fmt = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(3)}`;

/**
 * The paper's findings from the per-variant figures of the main seed. Effects per method:
 * (1) the held-in slope per added expert, averaged over variants (SE: of that mean);
 * (2) widest − narrowest width of the k-averaged held-in outcome, averaged over bases (SE: from the
 *     spread between bases, or the seed spread when only one base);
 * (3) strong − default base, averaged over widths (SE: spread over widths);
 * (held-out) merged held-out ratio − the best unmerged expert's, over every group of every variant.
 */
export function findingsOf(per: AxesVariantMethod[], seed: number, noiseByMethod: Record<string, number> = {}): Finding[] {
  const main = per.filter((p) => p.seed === seed);
  const methods = [...new Set(main.map((p) => p.method))];
  const widths = [...new Set(main.map((p) => p.width))].sort((a, b) => a - b);
  const bases = [...new Set(main.map((p) => p.base))];
  const at = (m: string, w: number, b: string) => main.find((p) => p.method === m && p.width === w && p.base === b);
  const effects = (f: (m: string) => number[]): Record<string, { effect: number; se: number }> => {
    const out: Record<string, { effect: number; se: number }> = {};
    for (const m of methods) {
      const v = f(m);
      if (v.length) {
        // One comparison has no spread to estimate an error from: NaN, and only the seed spread guards it.
        const s = meanSe(v);
        out[m] = { effect: s.mean, se: v.length > 1 ? s.se : NaN };
      }
    }
    return out;
  };
  const noise = (m: string) => noiseByMethod[m] ?? 0;
  const called = (by: Record<string, { effect: number; se: number }>, sign: 1 | -1) => call(Object.values(by), Math.max(0, ...Object.keys(by).map(noise)), sign);
  const verdictOf = (by: Record<string, { effect: number; se: number }>, sign: 1 | -1) => called(by, sign).verdict;
  const words = (by: Record<string, { effect: number; se: number }>, sign: 1 | -1) =>
    `${called(by, sign).tally}: ` +
    Object.entries(by).map(([m, e]) => `${m} ${fmt(e.effect)} ${Number.isFinite(e.se) ? `±${e.se.toFixed(3)}` : '(one comparison, no error estimate)'}`).join('; ');

  const findings: Finding[] = [];
  const slopes = effects((m) => main.filter((p) => p.method === m && p.heldInSlope).map((p) => p.heldInSlope!.slope));
  findings.push({
    id: 'more-experts',
    claim: 'merging gets harder as more experts are merged (held-in outcome falls with k)',
    verdict: verdictOf(slopes, -1),
    evidence: `held-in change per added expert, mean over variants: ${words(slopes, -1)}`,
    byMethod: slopes,
  });
  const lo = widths[0];
  const hi = widths[widths.length - 1];
  const widthFx = effects((m) =>
    widths.length < 2 ? [] : bases.flatMap((b) => {
      const a = at(m, lo, b);
      const z = at(m, hi, b);
      return a && z ? [z.heldIn - a.heldIn] : [];
    }),
  );
  findings.push({
    id: 'larger-models',
    claim: 'merging gets easier as the model grows (held-in outcome rises with width)',
    verdict: widths.length < 2 ? 'inconclusive' : verdictOf(widthFx, 1),
    evidence: `held-in (mean over k) at width ${hi} − width ${lo}, mean over bases: ${words(widthFx, 1)}`,
    byMethod: widthFx,
  });
  const [b0, b1] = bases;
  const baseFx = effects((m) =>
    b1 === undefined ? [] : widths.flatMap((w) => {
      const a = at(m, w, b0);
      const z = at(m, w, b1);
      return a && z ? [z.heldIn - a.heldIn] : [];
    }),
  );
  findings.push({
    id: 'stronger-base',
    claim: `a stronger base merges better (held-in outcome of base "${b1 ?? '—'}" above base "${b0}")`,
    verdict: b1 === undefined ? 'inconclusive' : verdictOf(baseFx, 1),
    evidence: `held-in (mean over k), ${b1 ?? '—'} − ${b0}, mean over widths: ${words(baseFx, 1)}`,
    byMethod: baseFx,
  });
  const heldOutFx = effects((m) => main.filter((p) => p.method === m && p.heldOutVsBest).map((p) => p.heldOutVsBest!.merged - p.heldOutVsBest!.bestExpert));
  findings.push({
    id: 'held-out',
    claim: "merged models generalize to held-out tasks better than the group's best single expert (linear-probe ratio to the base)",
    verdict: verdictOf(heldOutFx, 1),
    evidence:
      `held-out probe ratio, merged − best expert of the group, mean over variants: ${words(heldOutFx, 1)}; ` +
      `the merged encoder's held-out probe ratio to the base itself (1 = as good as the base): ${methods.map((m) => `${m} ${mean(main.filter((p) => p.method === m && p.heldOut !== undefined).map((p) => p.heldOut!)).toFixed(3)}`).join('; ')}`,
    byMethod: heldOutFx,
  });
  return findings;
}

async function sameZoo(dir: string, config: ZooConfig): Promise<boolean> {
  try {
    const m = await readZooManifest(dir);
    return JSON.stringify(m.config) === JSON.stringify(config);
  } catch {
    return false;
  }
}

/** Train (or reuse) every variant's zoo, run its study, summarize, write axes.json + axes.md. */
export async function runAxes(opts: AxesOptions): Promise<{ summary: AxesSummary; files: string[] }> {
  const recipes = { ...BASES, ...(opts.recipes ?? {}) };
  for (const b of opts.bases) if (!recipes[b]) throw new MergelensError('BAD_PARAM', `unknown base "${b}"`, { hint: `bases: ${Object.keys(recipes).join(', ')}` });
  if (!opts.widths.length || !opts.bases.length) throw new MergelensError('BAD_PARAM', 'the axes need at least one width and one base');
  const log = opts.log ?? (() => {});
  const variants = variantsOf(opts);
  const cells: AxesCell[] = [];
  const perVariant: AxesVariantMethod[] = [];
  const done: AxesSummary['variants'] = [];
  for (const [q, v] of variants.entries()) {
    const config = zooConfigOf(v, opts, recipes[v.base]);
    const zoo = path.join(opts.outDir, 'zoos', v.id);
    const study = path.join(opts.outDir, 'studies', v.id);
    let trainSeconds = 0;
    if (await sameZoo(zoo, config)) log(`[${q + 1}/${variants.length}] ${v.id}: reusing the zoo in ${zoo}`);
    else {
      log(`[${q + 1}/${variants.length}] ${v.id}: training ${config.encoderDims.join('→')} from base "${v.base}" (${config.tasks.length} experts)`);
      await fsp.rm(zoo, { recursive: true, force: true });
      trainSeconds = (await trainZoo(zoo, config, { onProgress: opts.onProgress, workers: opts.workers })).timing.totalSeconds;
    }
    log(`[${q + 1}/${variants.length}] ${v.id}: study (${opts.methods.join(', ')})`);
    const r = await runStudy({ zooDir: zoo, outDir: study, methods: opts.methods, tasks: opts.tasks, groups: opts.groups, seed: v.seed, fit: false, report: false, workers: opts.workers, onProgress: opts.onProgress });
    const s = summarizeVariant(v, r.dataset);
    cells.push(...s.cells);
    perVariant.push(...s.perVariant);
    done.push({ ...v, zoo, study: path.join(study, 'study.json'), expertAccuracy: r.expertAccuracy, trainSeconds, studySeconds: r.seconds.total });
  }
  const repeats = variants.filter((v) => v.seed !== opts.seed);
  let seedSpread: AxesSummary['seedSpread'];
  if (repeats.length) {
    const ref = variants.find((v) => v.width === repeats[0].width && v.base === repeats[0].base && v.seed === opts.seed)!;
    const group = [ref, ...repeats];
    const byMethod: Record<string, number> = {};
    for (const m of opts.methods) {
      const vals = group.map((v) => perVariant.find((p) => p.variant === v.id && p.method === m)?.heldIn).filter((x): x is number => x !== undefined);
      if (vals.length > 1) byMethod[m] = Math.max(...vals) - Math.min(...vals);
    }
    seedSpread = { variant: `w${ref.width}-${ref.base}`, seeds: group.map((v) => v.seed), byMethod };
  }
  const summary: AxesSummary = {
    format: 'mergelens.study-axes',
    version: 1,
    createdAt: new Date().toISOString(),
    config: { widths: opts.widths, bases: opts.bases, recipes: Object.fromEntries(opts.bases.map((b) => [b, recipes[b]])), tasks: opts.tasks, methods: opts.methods, groups: opts.groups, split: opts.split, seed: opts.seed, repeatSeeds: opts.repeatSeeds ?? [] },
    variants: done,
    cells,
    perVariant,
    ...(seedSpread ? { seedSpread } : {}),
    findings: findingsOf(perVariant, opts.seed, seedSpread?.byMethod),
  };
  const json = path.join(opts.outDir, 'axes.json');
  const md = path.join(opts.outDir, 'axes.md');
  await writeFileAtomic(json, JSON.stringify(summary, null, 2) + '\n');
  await writeFileAtomic(md, formatAxesMarkdown(summary));
  return { summary, files: [json, md] };
}

const f3 = (x: number | undefined) => (x === undefined ? '—' : x.toFixed(3));

/** The summary as markdown: per method × variant, held-in by k (held-out in brackets), then the verdicts. */
export function formatAxesMarkdown(s: AxesSummary): string {
  const ks = [...new Set(s.cells.map((c) => c.k))].sort((a, b) => a - b);
  const lines: string[] = [];
  lines.push('# mergelens scale and base axes');
  lines.push('');
  lines.push(`Experts: ${s.config.tasks.join(', ')}; methods: ${s.config.methods.join(', ')}; ${s.config.groups} group(s) per size; split ${s.config.split.train}/${s.config.split.test}; seed ${s.config.seed}.`);
  lines.push(`Bases: ${Object.entries(s.config.recipes).map(([b, r]) => `${b} = pretrained ${r.epochs} epochs on ${r.pretrainTasks.join(', ')}`).join('; ')}. Encoder 784→w→w/2.`);
  lines.push('');
  lines.push('Held-in normalized accuracy by group size k (k = 2: every pair; k ≥ 3: sampled groups), [held-out probe ratio to the base]; "mean" weighs every k the same.');
  lines.push('');
  lines.push(`| method | base | width | seed | ${ks.map((k) => `k=${k}`).join(' | ')} | mean | slope/k | held-out | best expert held-out |`);
  lines.push(`|---|---|---|---|${ks.map(() => '---|').join('')}---|---|---|---|`);
  for (const m of s.config.methods) {
    for (const p of s.perVariant.filter((x) => x.method === m)) {
      const byK = ks.map((k) => {
        const c = s.cells.find((x) => x.variant === p.variant && x.method === m && x.k === k);
        return c ? `${f3(c.heldIn)}${c.heldOut !== undefined ? ` [${f3(c.heldOut)}]` : ''}` : '—';
      });
      const slope = p.heldInSlope ? `${fmt(p.heldInSlope.slope)} ±${p.heldInSlope.se.toFixed(3)}` : '—';
      lines.push(`| ${m} | ${p.base} | ${p.width} | ${p.seed} | ${byK.join(' | ')} | ${f3(p.heldIn)} | ${slope} | ${f3(p.heldOut)} | ${f3(p.heldOutVsBest?.bestExpert)} |`);
    }
  }
  lines.push('');
  lines.push('Expert test accuracy (mean over tasks) per variant: ' + s.variants.map((v) => `${v.id} ${(mean(Object.values(v.expertAccuracy)) * 100).toFixed(1)}%`).join(', ') + '.');
  if (s.seedSpread) {
    lines.push('');
    lines.push(`Seed spread (${s.seedSpread.variant}, seeds ${s.seedSpread.seeds.join(', ')}; max − min of the k-averaged held-in mean): ` + Object.entries(s.seedSpread.byMethod).map(([m, d]) => `${m} ${d.toFixed(3)}`).join(', ') + '.');
  }
  lines.push('');
  lines.push('## Findings of Yadav et al. (arXiv 2410.03617) on this zoo');
  lines.push('');
  for (const f of s.findings) lines.push(`- **${f.claim}**: ${f.verdict}. ${f.evidence}.`);
  lines.push('');
  lines.push('Verdict rule: per method, an effect counts when it exceeds twice its standard error and the seed spread; "reproduced" when most methods show it in the paper\'s direction, "not reproduced" when most show the opposite or none is clear, else "inconclusive".');
  return lines.join('\n') + '\n';
}
