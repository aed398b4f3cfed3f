/**
 * Reading the group parts of a study file (StudyDataset.groups) and of a predictor file
 * (PredictorFile.groups), with errors that name the file and the entry. Both are optional:
 * studies and predictors written before groups existed load unchanged.
 */
import type { GroupPredictorSection, GroupRow } from '../types.js';
import { MergelensError } from '../errors.js';
import { groupFeatureNames } from './group-features.js';
import { domainProblem } from './domain-guard.js';

const bad = (file: string, problem: string, hint?: string) => new MergelensError('BAD_INPUT', problem, { file, hint });
const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Validate `groups` of a study JSON; undefined when absent. */
export function parseGroupRows(raw: unknown, file: string): GroupRow[] | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!Array.isArray(raw)) throw bad(file, '"groups" must be an array of {experts, method, outcome, heldOut?}');
  return raw.map((g, i) => {
    const where = `groups[${i}]`;
    if (!g || typeof g !== 'object') throw bad(file, `${where} is not an object`);
    const r = g as Partial<GroupRow>;
    if (!Array.isArray(r.experts) || r.experts.length < 3 || !r.experts.every((e) => typeof e === 'string' && e !== '')) {
      throw bad(file, `${where}.experts must list at least 3 expert ids`, 'merges of two experts are study rows (a, b), not groups');
    }
    if (new Set(r.experts).size !== r.experts.length) throw bad(file, `${where}.experts names an expert twice`);
    if (typeof r.method !== 'string' || r.method === '') throw bad(file, `${where}.method must be a non-empty string`);
    if (!finite(r.outcome)) throw bad(file, `${where}.outcome must be a finite number, got ${JSON.stringify(r.outcome)}`);
    // JSON has no NaN: a held-out outcome written as null means "not measured".
    if (r.heldOut !== undefined && r.heldOut !== null && !finite(r.heldOut)) throw bad(file, `${where}.heldOut must be a finite number or absent, got ${JSON.stringify(r.heldOut)}`);
    const row: GroupRow = { experts: r.experts, method: r.method, outcome: r.outcome };
    if (finite(r.heldOut)) row.heldOut = r.heldOut;
    if (r.extra && typeof r.extra === 'object') row.extra = r.extra;
    return row;
  });
}

/** Check a predictor file's group section (shapes only); throws naming the file and model. */
export function checkGroupSection(section: unknown, file: string): GroupPredictorSection | undefined {
  if (section === undefined || section === null) return undefined;
  const s = section as Partial<GroupPredictorSection>;
  if (typeof s !== 'object' || !Array.isArray(s.metrics) || !s.methods || typeof s.methods !== 'object') {
    throw bad(file, 'groups: must hold metrics (pair metric ids) and methods (group models)', 'refit with: mergelens fit STUDY.json -o predictor.json');
  }
  const names = new Set(groupFeatureNames(s.metrics));
  for (const [kind, models] of [['methods', s.methods], ['heldOut', s.heldOut ?? {}]] as const) {
    for (const [name, m] of Object.entries(models)) {
      const where = `groups.${kind}.${name}`;
      const n = m?.features?.length;
      const c = m?.calibrated;
      if (!Array.isArray(m?.features) || c?.coef?.length !== n || c.mean?.length !== n || c.std?.length !== n) throw bad(file, `${where}: features and coefficient arrays are missing or of different lengths`);
      const unknown = m.features.filter((f) => !names.has(f));
      if (unknown.length) throw bad(file, `${where}: feature(s) not derived from groups.metrics: ${unknown.join(', ')}`);
      if (!Array.isArray(m.ks) || !m.validation?.model) throw bad(file, `${where}: ks (group sizes) or validation missing`);
      if (c.residualStd === null) c.residualStd = NaN;
      for (const v of [m.validation.model, m.validation.meanOfPairs, m.validation.mean]) {
        if (v) for (const [k, x] of Object.entries(v)) if (x === null) (v as Record<string, number>)[k] = NaN;
      }
      const problem = domainProblem(m);
      if (problem) throw bad(file, `${where}: ${problem}`);
    }
  }
  return s as GroupPredictorSection;
}
