/**
 * What an evaluation command leaves behind, read back as per-task scores. Two contracts:
 *
 *  1. mergelens's own JSON:  {"scores": {"<task>": <number>, ...}}   (any other keys are ignored)
 *  2. lm-evaluation-harness's results file as that tool writes it: {"results": {"<task>":
 *     {"acc,none": 0.61, "acc_stderr,none": 0.01, ...}, ...}}, metric chosen per task by the user
 *     (`acc,none` by default; pre-0.4 files say plain `acc`).
 *
 * lm_eval never writes exactly the path it is given: `--output_path X.json` becomes
 * `X_<timestamp>.json` next to it, and `--output_path DIR` becomes
 * `DIR/<model_name_sanitized>/results_<timestamp>.json`. `readResults(out)` therefore accepts
 * the file itself, a folder holding results files (newest wins), or siblings `<stem>_*.json`.
 * Pure parsing apart from locating the file; every failure is a `GarbageResult` naming the problem.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';

/** Which lm-eval metric key to read per task: a default and per-task overrides. */
export interface MetricChoice {
  default?: string;
  perTask?: Record<string, string>;
}

export interface ParsedResults {
  /** Task → score. Finite numbers only. */
  scores: Record<string, number>;
  contract: 'mergelens' | 'lm-eval';
  /** The file that was read. */
  file: string;
}

/** The command ran but its output cannot be used (missing, not JSON, no numbers…). */
export class GarbageResult extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GarbageResult';
  }
}

const DEFAULT_LM_EVAL_METRICS = ['acc,none', 'acc'];

const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

/** Parse `--metric` values: "acc,none" (every task) or "task=acc_norm,none" (one task). */
export function parseMetricChoice(values: readonly string[]): MetricChoice {
  const out: MetricChoice = {};
  for (const v of values) {
    const eq = v.indexOf('=');
    if (eq > 0) (out.perTask ??= {})[v.slice(0, eq).trim()] = v.slice(eq + 1).trim();
    else out.default = v.trim();
  }
  return out;
}

/** Scores from already-parsed JSON, by contract. */
export function scoresFromJson(raw: unknown, metric: MetricChoice = {}, file = 'results'): Omit<ParsedResults, 'file'> {
  if (!isObject(raw)) throw new GarbageResult(`${file}: expected a JSON object with "scores" (mergelens) or "results" (lm-evaluation-harness)`);
  if (isObject(raw.scores)) {
    const scores: Record<string, number> = {};
    for (const [task, v] of Object.entries(raw.scores)) {
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new GarbageResult(`${file}: scores.${task} must be a finite number, got ${JSON.stringify(v)}`);
      scores[task] = v;
    }
    if (Object.keys(scores).length === 0) throw new GarbageResult(`${file}: "scores" is empty`);
    return { scores, contract: 'mergelens' };
  }
  if (isObject(raw.results)) {
    const scores: Record<string, number> = {};
    for (const [task, entry] of Object.entries(raw.results)) {
      if (!isObject(entry)) continue;
      const wanted = metric.perTask?.[task] ?? metric.default;
      const keys = wanted ? [wanted] : DEFAULT_LM_EVAL_METRICS;
      const key = keys.find((k) => k in entry);
      if (key === undefined) {
        // A task without the chosen metric is an error only when the user named the metric for it.
        if (metric.perTask?.[task]) {
          const have = Object.keys(entry).filter((k) => typeof entry[k] === 'number' && !k.includes('_stderr'));
          throw new GarbageResult(`${file}: task "${task}" has no metric "${metric.perTask[task]}" (it has ${have.join(', ') || 'none'})`);
        }
        continue;
      }
      const v = entry[key];
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new GarbageResult(`${file}: results.${task}["${key}"] must be a finite number, got ${JSON.stringify(v)}`);
      scores[task] = v;
    }
    if (Object.keys(scores).length === 0) {
      const example = Object.entries(raw.results).find(([, e]) => isObject(e)) as [string, Record<string, unknown>] | undefined;
      const have = example ? Object.keys(example[1]).filter((k) => typeof example[1][k] === 'number' && !k.includes('_stderr')) : [];
      throw new GarbageResult(
        `${file}: no task has the metric ${metric.default ? `"${metric.default}"` : DEFAULT_LM_EVAL_METRICS.map((m) => `"${m}"`).join(' or ')}` +
          (example ? ` (task "${example[0]}" has ${have.join(', ') || 'no numeric metric'}; choose one with --metric)` : ''),
      );
    }
    return { scores, contract: 'lm-eval' };
  }
  throw new GarbageResult(`${file}: no "scores" object (mergelens contract) and no "results" object (lm-evaluation-harness)`);
}

async function statOrNull(p: string) {
  return fsp.stat(p).catch(() => null);
}

/** Results files under a folder lm_eval wrote to (depth ≤ 2), newest name last. */
async function resultsFilesIn(dir: string, depth = 2): Promise<string[]> {
  const out: string[] = [];
  const entries = await fsp.readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isFile() && /^results.*\.json$/.test(e.name)) out.push(p);
    else if (e.isDirectory() && depth > 0) out.push(...(await resultsFilesIn(p, depth - 1)));
  }
  // lm_eval's timestamps are ISO-like, so names sort by time within a folder.
  return out.sort((a, b) => path.basename(a).localeCompare(path.basename(b)) || a.localeCompare(b));
}

/** Where the command's results are, given the `{out}` path it was handed; null when nothing is there. */
export async function locateResults(out: string): Promise<string | null> {
  const st = await statOrNull(out);
  if (st?.isFile()) return out;
  if (st?.isDirectory()) return (await resultsFilesIn(out)).pop() ?? null;
  // `--output_path X.json` → X_<timestamp>.json beside it.
  const dir = path.dirname(out);
  const stem = path.basename(out).replace(/\.json$/, '');
  const siblings = (await fsp.readdir(dir).catch(() => [] as string[])).filter((n) => n.startsWith(`${stem}_`) && n.endsWith('.json')).sort();
  return siblings.length ? path.join(dir, siblings[siblings.length - 1]) : null;
}

/** Read the scores the command left at (or near) `out`. Throws GarbageResult when unusable. */
export async function readResults(out: string, metric: MetricChoice = {}): Promise<ParsedResults> {
  const file = await locateResults(out);
  if (!file) throw new GarbageResult(`the command wrote no results at ${out} (nor an lm_eval results_*.json there)`);
  const text = await fsp.readFile(file, 'utf8');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new GarbageResult(`${file}: not valid JSON (${(e as Error).message})`);
  }
  return { ...scoresFromJson(raw, metric, file), file };
}
