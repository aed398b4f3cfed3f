/**
 * `screen --emit DIR`: per recommended pair, a mergekit YAML (with the prediction under
 * `mergelens:`) and the equivalent `mergelens merge` command, so a decision becomes a merge in
 * one step — with mergelens (`mergelens merge --config FILE -o OUT`, bit-identical to the
 * command line) or with mergekit (`mergekit-yaml FILE OUT`, where the method exists there).
 * Parameters are the method defaults the shipped predictors were fitted with (the study merges
 * every pair with method defaults, merge seed 1), written out explicitly.
 */
import { existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Prediction } from '../../types.js';
import { getMethod } from '../registry.js';
import { mergeCommand, mergekitDocument, mergekitYaml, shellWord, type MergeSpec } from './emit.js';

/** The merge seed of the built-in study (DARE masks). */
export const STUDY_SEED = 1;

export interface HandoffPair {
  a: string;
  b: string;
  best: Prediction;
  /** Other methods the verdict could not separate from `best` (no clear best method). */
  tied?: string[];
}

export interface HandoffInput {
  basePath: string;
  /** Expert display name → path or Hub id as the user gave it. */
  expertPaths: Record<string, string>;
  pairs: HandoffPair[];
  predictor: string;
  outcome: string;
}

export interface HandoffFile {
  name: string;
  text: string;
}

/** A path as given, absolute when it exists here (so the YAML works from any folder); Hub ids stay ids. */
const portable = (p: string) => (existsSync(p) ? path.resolve(p) : p);
const slug = (s: string) => s.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 60);

/** The merge a recommendation stands for: slerp between the two experts (the first as mergekit's base_model), else base + both experts. */
export function pairSpec(inp: HandoffInput, p: HandoffPair): MergeSpec {
  const method = getMethod(p.best.method);
  const a = portable(inp.expertPaths[p.a]);
  const b = portable(inp.expertPaths[p.b]);
  const outcome = inp.outcome.split(/[:;(]/)[0].trim();
  const prediction = {
    predictor: inp.predictor,
    outcome,
    predicted: p.best.predicted,
    lo: p.best.lo,
    hi: p.best.hi,
    drivers: p.best.drivers.slice(0, 3).map((d) => `${d.metric} ${d.contribution >= 0 ? '+' : ''}${d.contribution.toPrecision(3)}`),
  };
  const common = { method: method.id, seed: STUDY_SEED, prediction };
  if (method.id === 'slerp') return { ...common, base: a, experts: [b] };
  return { ...common, base: method.id === 'weight_avg' ? undefined : portable(inp.basePath), experts: [a, b] };
}

/** The files of an --emit folder: one YAML per pair and merge.sh with every command. */
export function handoffFiles(inp: HandoffInput): HandoffFile[] {
  const files: HandoffFile[] = [];
  const script = ['#!/bin/sh', '# Written by `mergelens screen --emit`: one merge per recommended pair, best first.', '# Each line is equivalent to `mergelens merge --config <pair>.yml -o <out>` (bit-identical output).', 'set -e', ''];
  inp.pairs.forEach((p, k) => {
    const id = `${String(k + 1).padStart(2, '0')}-${slug(p.a)}__${slug(p.b)}`;
    const spec = pairSpec(inp, p);
    const out = path.join('merged', id);
    const yml = `${id}.yml`;
    const pr = spec.prediction!;
    const cmd = mergeCommand(spec, out);
    const comments = [
      `${p.a} × ${p.b}: ${spec.method}, predicted ${pr.outcome} ${pr.predicted.toFixed(3)} [${pr.lo.toFixed(3)}, ${pr.hi.toFixed(3)}] (${inp.predictor})`,
      `mergelens: mergelens merge --config ${shellWord(yml)} -o ${shellWord(out)}`,
      `same as:   ${cmd}`,
      `mergekit:  mergekit-yaml ${shellWord(yml)} ${shellWord(out)}`,
      ...(p.tied && p.tied.length > 1 ? [`no clear best method: ${p.tied.join(', ')} are within each other's intervals; this is the highest prediction`] : []),
    ];
    files.push({ name: yml, text: mergekitYaml(mergekitDocument(spec), comments) });
    script.push(`# ${comments[0]}`, cmd, '');
  });
  files.push({ name: 'merge.sh', text: script.join('\n') });
  return files;
}

/** Write the files into a folder (the caller's temp folder under the output policy). */
export async function writeHandoff(dir: string, files: HandoffFile[]): Promise<void> {
  await fsp.mkdir(dir, { recursive: true });
  for (const f of files) await fsp.writeFile(path.join(dir, f.name), f.text, { mode: f.name.endsWith('.sh') ? 0o755 : 0o644 });
}
