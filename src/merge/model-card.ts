/**
 * The short model card (README.md) and mergekit_config.yml every merged folder gets: what
 * went in, how it was merged, with which parameters, and — when a prediction led to the merge
 * (`screen --emit`) — what was predicted, so the card can be checked against an evaluation.
 */
import { existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import type { MergeExtrasContext } from './to-disk.js';
import { mergekitDocument, mergekitYaml, type PredictionNote } from './mergekit/emit.js';

export const MERGEKIT_CONFIG_FILE = 'mergekit_config.yml';
export const MODEL_CARD_FILE = 'README.md';

/** Paths absolute, so the recorded config reads the same from inside the output folder (Hub ids and memory: names stay). */
const abs = (p: string) => (existsSync(p) ? path.resolve(p) : p);
const fmt = (v: unknown) => (typeof v === 'number' ? String(Number(v.toPrecision(6))) : String(v));

/** The prediction note a config document carries under `mergelens.prediction`, if any. */
export function predictionOf(doc: Record<string, unknown> | undefined): PredictionNote | undefined {
  const p = (doc?.mergelens as Record<string, unknown> | undefined)?.prediction as PredictionNote | undefined;
  return p && typeof p.predicted === 'number' ? p : undefined;
}

export function modelCard(ctx: Pick<MergeExtrasContext, 'record' | 'plan'>, opts: { config?: Record<string, unknown>; prediction?: PredictionNote } = {}): string {
  const r = ctx.record;
  const varies = ctx.plan.tensors.some((t) => t.params || t.weights || t.expertParams);
  const lines = [
    '---',
    'library_name: transformers',
    'tags: [merge, mergelens]',
    ...(r.base ? [`base_model: ${JSON.stringify(r.base.path)}`] : []),
    '---',
    '',
    `# Merged model (${r.method})`,
    '',
    `Made by mergelens \`merge\` on ${r.createdAt}.`,
    '',
    '## Inputs',
    '',
    ...(r.base ? [`- base: \`${r.base.path}\``] : ['- base: none']),
    ...r.experts.map((e, i) => `- expert ${i + 1}: \`${e.path}\`${r.weights[i] !== undefined ? ` (weight ${fmt(r.weights[i])})` : ''}`),
    '',
    '## Method',
    '',
    `\`${r.method}\` — ${ctx.plan.method.description}`,
    '',
    '| parameter | value |',
    '|:--|:--|',
    ...Object.entries(r.params).map(([k, v]) => `| ${k} | ${fmt(v)} |`),
    `| seed | ${r.seed} |`,
    `| output dtype | ${r.dtype} |`,
    '',
    ...(varies ? ['Some parameters vary by layer or tensor (mergekit gradients/filters): see `mergekit_config.yml`.', ''] : []),
    `${r.tensors} tensors → ${r.files.join(', ')}. The full record is \`mergelens_merge.json\`.`,
    '',
  ];
  const p = opts.prediction ?? predictionOf(opts.config);
  lines.push('## Prediction that led to this merge', '');
  if (p) {
    lines.push(
      `Predicted ${p.outcome}: **${fmt(p.predicted)}** [${fmt(p.lo)}, ${fmt(p.hi)}] (predictor \`${p.predictor}\`).`,
      ...(p.drivers.length ? ['', `Main drivers: ${p.drivers.join(', ')}.`] : []),
      '',
      'A prediction, not a measurement: evaluate the merged model on your tasks.',
    );
  } else lines.push('None recorded (merged without `mergelens screen --emit`).');
  if (r.warnings.length) lines.push('', '## Warnings', '', ...r.warnings.map((w) => `- ${w}`));
  return lines.join('\n') + '\n';
}

/**
 * Write mergekit_config.yml (the config as given, model paths resolved; else one built from
 * the merge's own settings) and README.md into a merged folder. Returns the names written.
 */
export async function writeMergeDocs(ctx: MergeExtrasContext, opts: { config?: Record<string, unknown>; prediction?: PredictionNote } = {}): Promise<string[]> {
  const r = ctx.record;
  const doc =
    opts.config ??
    mergekitDocument({
      method: r.method,
      base: r.base ? abs(r.base.path) : undefined,
      experts: r.experts.map((e) => abs(e.path)),
      weights: ctx.plan.method.usesWeights === false ? undefined : r.weights,
      params: r.params as Record<string, string | number | boolean>,
      seed: r.seed,
      dtype: r.dtype === 'base' ? undefined : (r.dtype as 'F32' | 'F16' | 'BF16'),
      prediction: opts.prediction,
    });
  await fsp.writeFile(path.join(ctx.dir, MERGEKIT_CONFIG_FILE), mergekitYaml(doc, [`written by mergelens merge on ${r.createdAt}`]));
  await fsp.writeFile(path.join(ctx.dir, MODEL_CARD_FILE), modelCard(ctx, opts));
  return [MERGEKIT_CONFIG_FILE, MODEL_CARD_FILE];
}
