/**
 * The evaluation runner shared by every driver that needs models scored (the sweep over pairs ×
 * methods, the merge-recipe search): give it candidates — an id, how to materialise the model,
 * metadata — and an evaluator; it returns one outcome per candidate.
 *
 *  - journal: every finished attempt is one fsync'ed line in DIR/journal.jsonl; a re-run skips
 *    candidates already scored (or out of retries) and counts earlier failed attempts;
 *  - concurrency: `jobs` evaluations at once; models are materialised one at a time (merging is
 *    memory- and disk-bound) and at most jobs + 1 exist at any moment — each evaluating slot holds
 *    one, plus the next one being prepared; a materialised model is deleted once scored;
 *  - faults: a failing, timed-out or garbage-writing evaluation is recorded with its reason and
 *    retried up to `retries` times, and never stops the others; a materialise error is recorded
 *    the same way (an error in the inputs fails that candidate, not the run);
 *  - interruption: on `signal` abort no new work starts, running commands are killed, nothing is
 *    recorded for them, scratch models are deleted — the journal only ever holds whole records.
 */
import { mkdirSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import type { ProgressSink } from '../types.js';
import { MergelensError } from '../errors.js';
import { openJournal, summarise, type AttemptRecord } from './journal.js';
import { readResults, GarbageResult, type MetricChoice } from './contract.js';
import { runCommand, type CommandResult } from './command.js';
import { resourcePool } from '../util/resource-pool.js';

export interface Candidate {
  /** Stable key in the journal: the same candidate must get the same id in every run. */
  id: string;
  /** File-name-safe name: evaluation folder, `{name}`. */
  name: string;
  /** Tasks the evaluator should score (`{tasks}`); every one must come back. */
  tasks: string[];
  /** An existing model (evaluated as is, never deleted) … */
  model?: string;
  /** … or how to build it under `dir` (returns the model path; deleted after evaluation). */
  materialise?: (dir: string) => Promise<string>;
  /** Recorded with each attempt (method, pair, weights …). */
  meta?: Record<string, unknown>;
}

export interface EvalContext {
  candidate: Candidate;
  model: string;
  /** Concurrent slot 0 … jobs−1. */
  slot: number;
  attempt: number;
  /** This candidate's evaluation folder (logs, results). */
  dir: string;
  signal: AbortSignal;
}

export interface EvalScores {
  scores: Record<string, number>;
  contract?: string;
}

export type Evaluator = (ctx: EvalContext) => Promise<EvalScores>;

/** An attempt that failed for a reason worth recording and retrying. */
export class EvalFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EvalFailure';
  }
}

class Aborted extends Error {}

export interface Outcome {
  id: string;
  status: 'ok' | 'failed' | 'pending';
  scores?: Record<string, number>;
  /** Last failure reason (failed), or why it was not run (pending). */
  reason?: string;
  /** Attempts made over all runs. */
  attempts: number;
  /** Seconds of the successful attempt. */
  seconds?: { materialise: number; evaluate: number };
  /** True when the outcome was read from the journal of an earlier run. */
  resumed?: boolean;
}

export interface RunnerTiming {
  wallSeconds: number;
  /** Σ materialise / evaluate seconds of this run's attempts. */
  materialiseSeconds: number;
  evaluateSeconds: number;
  /** Wall seconds during which at least one materialise or evaluate was in progress. */
  busySeconds: number;
  /** Most materialised models that existed at once (≤ jobs + 1). */
  peakMaterialised: number;
}

export interface RunEvaluationsOptions {
  /** Folder for journal.jsonl, evals/<name>/ (logs, results) and scratch/ (materialised models). */
  dir: string;
  /** What decides the outcomes (models, command, seed): a journal of another identity is refused. */
  identity: unknown;
  candidates: readonly Candidate[];
  evaluator: Evaluator;
  jobs?: number;
  retries?: number;
  signal?: AbortSignal;
  onProgress?: ProgressSink;
  /** Progress phase name (default "evaluate"); use a new one per call so rate and ETA restart. */
  phase?: string;
  /** Called once per candidate finished in this run (and not for resumed ones). */
  onOutcome?: (o: Outcome) => void;
}

export interface RunResult {
  outcomes: Map<string, Outcome>;
  interrupted: boolean;
  timing: RunnerTiming;
  journal: string;
}

export const JOURNAL_FILE = 'journal.jsonl';

/** Tracks the union of busy intervals (any work in progress), robust to overlap. */
function busyClock() {
  let active = 0;
  let since = 0;
  let total = 0;
  return {
    start() {
      if (active++ === 0) since = performance.now();
    },
    stop() {
      if (--active === 0) total += performance.now() - since;
    },
    seconds: () => (total + (active > 0 ? performance.now() - since : 0)) / 1000,
  };
}

function semaphore(n: number) {
  let free = n;
  const waiters: (() => void)[] = [];
  return {
    async acquire() {
      if (free > 0) {
        free--;
        return;
      }
      await new Promise<void>((r) => waiters.push(r));
    },
    release() {
      const w = waiters.shift();
      if (w) w();
      else free++;
    },
  };
}

/** Names must be usable as folder names and unique. */
function checkCandidates(cs: readonly Candidate[]): void {
  const ids = new Set<string>();
  const names = new Set<string>();
  for (const c of cs) {
    if (ids.has(c.id)) throw new MergelensError('BAD_INPUT', `two evaluations with the same id ${c.id}`, { hint: 'give every model a distinct name' });
    if (names.has(c.name) || !/^[A-Za-z0-9._+=-]+$/.test(c.name)) throw new MergelensError('BAD_INPUT', `evaluation name must be unique and file-name-safe: ${c.name}`, { hint: 'give every model a distinct name' });
    if (!c.model === !c.materialise) throw new Error(`candidate ${c.id}: give exactly one of model, materialise`);
    ids.add(c.id);
    names.add(c.name);
  }
}

export async function runEvaluations(o: RunEvaluationsOptions): Promise<RunResult> {
  checkCandidates(o.candidates);
  const t0 = performance.now();
  const jobs = Math.max(1, o.jobs ?? 1);
  const retries = Math.max(0, o.retries ?? 0);
  const maxAttempts = retries + 1;
  const journal = await openJournal(path.join(o.dir, JOURNAL_FILE), o.identity);
  const scratch = path.join(o.dir, 'scratch');
  // A killed run may have left models behind: they are never reused (could be half-written).
  await fsp.rm(scratch, { recursive: true, force: true });

  const outcomes = new Map<string, Outcome>();
  const past = summarise(journal.records);
  const todo: { c: Candidate; attempts: number }[] = [];
  for (const c of o.candidates) {
    const p = past.get(c.id);
    const attempts = (p?.failures.length ?? 0) + (p?.ok ? 1 : 0);
    if (p?.ok) outcomes.set(c.id, { id: c.id, status: 'ok', scores: p.ok.scores, attempts, seconds: p.ok.seconds, resumed: true });
    else if (p && p.failures.length >= maxAttempts) outcomes.set(c.id, { id: c.id, status: 'failed', reason: p.failures.at(-1)!.reason, attempts, resumed: true });
    else todo.push({ c, attempts });
  }

  const controller = new AbortController();
  const onAbort = () => controller.abort();
  if (o.signal?.aborted) controller.abort();
  else o.signal?.addEventListener('abort', onAbort, { once: true });
  const signal = controller.signal;

  const disk = semaphore(jobs + 1);
  const mergeLock = semaphore(1);
  const slots = resourcePool(Array.from({ length: jobs }, (_, i) => i));
  const busy = busyClock();
  let materialiseSeconds = 0;
  let evaluateSeconds = 0;
  let live = 0;
  let peak = 0;
  let done = 0;
  let failed = 0;
  const total = todo.length;
  const phase = o.phase ?? 'evaluate';
  o.onProgress?.({ phase, done: 0, total, unit: 'items', detail: outcomes.size ? `${outcomes.size} already in the journal` : undefined });

  const finish = (out: Outcome, name: string) => {
    outcomes.set(out.id, out);
    done++;
    if (out.status === 'failed') failed++;
    o.onOutcome?.(out);
    o.onProgress?.({ phase, done, total, unit: 'items', detail: `${name} ${out.status}${failed ? ` (${failed} failed)` : ''}` });
  };

  const one = async ({ c, attempts: before }: { c: Candidate; attempts: number }) => {
    if (signal.aborted) return;
    const evalDir = path.join(o.dir, 'evals', c.name);
    let attempts = before;
    let model = c.model;
    let materialised: string | null = null;
    let matSeconds = 0;
    const needsDisk = !!c.materialise;
    if (needsDisk) await disk.acquire();
    try {
      if (c.materialise) {
        await mergeLock.acquire();
        if (signal.aborted) {
          mergeLock.release();
          return;
        }
        const tm = performance.now();
        busy.start();
        try {
          live++;
          peak = Math.max(peak, live);
          materialised = path.join(scratch, c.name);
          model = await c.materialise(materialised);
        } catch (e) {
          matSeconds = (performance.now() - tm) / 1000;
          materialiseSeconds += matSeconds;
          // The inputs cannot make this model: record it once; retrying would fail the same way.
          const reason = `materialise failed: ${(e as Error).message}`;
          attempts = Math.max(attempts, retries) + 1;
          await journal.append({ kind: 'attempt', id: c.id, attempt: attempts, status: 'failed', reason, seconds: { materialise: matSeconds, evaluate: 0 }, at: new Date().toISOString(), meta: c.meta });
          finish({ id: c.id, status: 'failed', reason, attempts }, c.name);
          return;
        } finally {
          busy.stop();
          mergeLock.release();
        }
        matSeconds = (performance.now() - tm) / 1000;
        materialiseSeconds += matSeconds;
      }
      // Nothing awaited between asking for a slot and calling the evaluator (bar the FIFO disk and
      // merge locks): evaluations start in candidate order. The folder is made synchronously for
      // that reason: two async mkdirs finish in whatever order the file system likes.
      const slot = await slots.take();
      try {
        mkdirSync(evalDir, { recursive: true });
        while (attempts < maxAttempts) {
          if (signal.aborted) return;
          attempts++;
          const te = performance.now();
          busy.start();
          let rec: AttemptRecord;
          try {
            const r = await o.evaluator({ candidate: c, model: model!, slot, attempt: attempts, dir: evalDir, signal });
            const missing = c.tasks.filter((t) => !(t in r.scores));
            if (missing.length) throw new EvalFailure(`garbage: no score for task(s) ${missing.join(', ')} (got ${Object.keys(r.scores).join(', ') || 'none'})`);
            const ev = (performance.now() - te) / 1000;
            rec = { kind: 'attempt', id: c.id, attempt: attempts, status: 'ok', scores: r.scores, contract: r.contract, seconds: { materialise: matSeconds, evaluate: ev }, at: new Date().toISOString(), meta: c.meta };
          } catch (e) {
            if (e instanceof Aborted || signal.aborted) return;
            const ev = (performance.now() - te) / 1000;
            const reason = e instanceof EvalFailure ? e.message : `evaluator error: ${(e as Error).message}`;
            rec = { kind: 'attempt', id: c.id, attempt: attempts, status: 'failed', reason, seconds: { materialise: matSeconds, evaluate: ev }, at: new Date().toISOString(), meta: c.meta };
          } finally {
            busy.stop();
            evaluateSeconds += (performance.now() - te) / 1000;
          }
          await journal.append(rec);
          if (rec.status === 'ok') {
            finish({ id: c.id, status: 'ok', scores: rec.scores, attempts, seconds: rec.seconds }, c.name);
            return;
          }
          if (attempts >= maxAttempts) finish({ id: c.id, status: 'failed', reason: rec.reason, attempts }, c.name);
        }
      } finally {
        slots.give(slot);
      }
    } finally {
      if (materialised) {
        await fsp.rm(materialised, { recursive: true, force: true });
        live--;
      }
      if (needsDisk) disk.release();
    }
  };

  // Start candidates in order; the disk semaphore bounds how many hold a model, so launching all
  // promises at once is safe (the waiting ones hold nothing).
  // An error of the runner itself (journal unwritable, disk full) stops everything, cleanly.
  let fatal: unknown = null;
  try {
    await Promise.all(
      todo.map((t) =>
        one(t).catch((e: unknown) => {
          fatal ??= e;
          controller.abort();
        }),
      ),
    );
    if (fatal) throw fatal;
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
    await journal.close();
    await fsp.rm(scratch, { recursive: true, force: true });
  }
  for (const { c } of todo) {
    if (!outcomes.has(c.id)) outcomes.set(c.id, { id: c.id, status: 'pending', reason: 'interrupted', attempts: summarise(journal.records).get(c.id)?.failures.length ?? 0 });
  }
  return {
    outcomes,
    interrupted: signal.aborted,
    journal: journal.file,
    timing: { wallSeconds: (performance.now() - t0) / 1000, materialiseSeconds, evaluateSeconds, busySeconds: busy.seconds(), peakMaterialised: peak },
  };
}

export interface CommandEvaluatorOptions {
  /** The command template with placeholders (see command.ts). */
  command: string;
  metric?: MetricChoice;
  timeoutS?: number;
  killGraceS?: number;
  cwd?: string;
}

const RESULT_FILE = 'result.json';

function describe(r: CommandResult, stderrTail: string): string {
  const tail = stderrTail ? `: ${stderrTail}` : '';
  switch (r.kind) {
    case 'exit':
      return `exit code ${r.code}${tail}`;
    case 'signal':
      return `killed by ${r.signal}${tail}`;
    case 'timeout':
      return `timeout after ${r.seconds.toFixed(1)}s`;
    case 'spawn-error':
      return `could not start: ${r.message}`;
    default:
      return 'interrupted';
  }
}

async function lastLine(file: string): Promise<string> {
  const text = await fsp.readFile(file, 'utf8').catch(() => '');
  const lines = text.trimEnd().split('\n');
  return (lines.at(-1) ?? '').slice(0, 300);
}

/**
 * An evaluator that runs a shell command per model and reads the results it writes at `{out}`
 * (mergelens JSON or lm-evaluation-harness results, see contract.ts). Logs per attempt:
 * evals/<name>/attempt-<k>.stdout.log / .stderr.log.
 */
export function commandEvaluator(opts: CommandEvaluatorOptions): Evaluator {
  return async (ctx) => {
    const out = path.join(ctx.dir, RESULT_FILE);
    // Stale results of an earlier attempt must never count for this one (lm_eval writes beside {out}).
    await fsp.rm(out, { recursive: true, force: true });
    for (const n of await fsp.readdir(ctx.dir).catch(() => [] as string[])) {
      if (/^result_.*\.json$/.test(n)) await fsp.rm(path.join(ctx.dir, n), { force: true });
    }
    const stdoutFile = path.join(ctx.dir, `attempt-${ctx.attempt}.stdout.log`);
    const stderrFile = path.join(ctx.dir, `attempt-${ctx.attempt}.stderr.log`);
    const r = await runCommand({
      command: opts.command,
      values: {
        model: ctx.model,
        out,
        name: ctx.candidate.name,
        tasks: ctx.candidate.tasks.join(','),
        slot: String(ctx.slot),
        device: String(ctx.slot),
        attempt: String(ctx.attempt),
        dir: ctx.dir,
      },
      stdoutFile,
      stderrFile,
      cwd: opts.cwd,
      timeoutS: opts.timeoutS,
      killGraceS: opts.killGraceS,
      signal: ctx.signal,
    });
    if (r.kind === 'aborted') throw new Aborted();
    if (r.kind !== 'exit' || r.code !== 0) throw new EvalFailure(describe(r, await lastLine(stderrFile)));
    try {
      const parsed = await readResults(out, opts.metric);
      return { scores: parsed.scores, contract: parsed.contract };
    } catch (e) {
      if (e instanceof GarbageResult) throw new EvalFailure(`garbage: ${e.message}`);
      throw e;
    }
  };
}
