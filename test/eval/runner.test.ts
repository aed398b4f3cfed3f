import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, appendFileSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it, onTestFinished, vi } from 'vitest';
import { commandEvaluator, runEvaluations, type Candidate, type EvalContext } from '../../src/eval/runner.js';
import { expandTemplate, checkTemplate, shellQuote } from '../../src/eval/command.js';
import { parseJournal } from '../../src/eval/journal.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'mergelens-runner-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const fresh = () => path.join(tmp, `run${n++}`);

/** Running (not gone, not a zombie nobody reaped: containers often have no init reaping orphans). */
function alive(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}
const existing = (name: string, tasks = ['t']): Candidate => ({ id: `id:${name}`, name, tasks, model: `/models/${name}` });
/** A command writing {"scores": …} for every task: the score is the length of the model path. */
const WRITE_OK = `node -e "const m=process.argv[1];require('fs').writeFileSync(process.argv[2], JSON.stringify({scores:Object.fromEntries(process.argv[3].split(',').map(t=>[t,m.length]))}))" {model} {out} {tasks}`;

describe('command templates', () => {
  it('quotes substituted values for sh only when needed', () => {
    expect(shellQuote('/a/b-c.d')).toBe('/a/b-c.d');
    expect(shellQuote("it's here")).toBe(`'it'\\''s here'`);
    const v = { model: '/m x', out: '/o', name: 'n', tasks: 'a,b', slot: '0', device: '0', attempt: '1', dir: '/d' };
    expect(expandTemplate('lm_eval --model_args pretrained={model} --tasks {tasks} CUDA={device} {other}', v)).toBe(
      `lm_eval --model_args pretrained='/m x' --tasks a,b CUDA=0 {other}`,
    );
    expect(() => checkTemplate('run {model} {bogus}')).toThrow(/unknown placeholder.*\{bogus\}/);
    expect(() => checkTemplate('run something')).toThrow(/must contain \{model\}/);
  });
});

describe('runEvaluations', () => {
  it('starts evaluations in candidate order, however the file system orders their folders', async () => {
    // 2 slots, 40 candidates each holding its slot 5 ms: the order the evaluator sees is the order
    // slots were taken. (It once followed whichever evaluation folder's mkdir finished first: a
    // sweep's Ctrl-C test then saw both experts start before the base.)
    // The file system is made to finish the first folder last, as a busy 2-core CI machine did.
    const mkdir = fsp.mkdir.bind(fsp);
    const slow = vi.spyOn(fsp, 'mkdir').mockImplementation(async (p, opt) => {
      if (String(p).endsWith(`${path.sep}c00`)) await new Promise((res) => setTimeout(res, 30));
      return mkdir(p, opt);
    });
    onTestFinished(() => slow.mockRestore());
    const dir = fresh();
    const cands = Array.from({ length: 40 }, (_, i) => existing(`c${String(i).padStart(2, '0')}`));
    const started: string[] = [];
    const evaluator = async (x: EvalContext) => {
      started.push(x.candidate.name);
      await new Promise((res) => setTimeout(res, 5));
      return { scores: { t: 1 } };
    };
    const r = await runEvaluations({ dir, identity: 'order', candidates: cands, evaluator, jobs: 2 });
    expect(r.interrupted).toBe(false);
    expect(started).toEqual(cands.map((c) => c.name));
  });

  it('evaluates every candidate through a command and journals each attempt', async () => {
    const dir = fresh();
    const cands = [existing('a', ['x', 'y']), existing('bb', ['x'])];
    const r = await runEvaluations({ dir, identity: { v: 1 }, candidates: cands, evaluator: commandEvaluator({ command: WRITE_OK }), jobs: 2 });
    expect(r.interrupted).toBe(false);
    expect(r.outcomes.get('id:a')).toMatchObject({ status: 'ok', scores: { x: '/models/a'.length, y: '/models/a'.length }, attempts: 1 });
    expect(r.outcomes.get('id:bb')!.scores).toEqual({ x: '/models/bb'.length });
    const j = parseJournal(readFileSync(r.journal, 'utf8'), r.journal);
    expect(j.header!.identity).toEqual({ v: 1 });
    expect(j.records.map((x) => x.id).sort()).toEqual(['id:a', 'id:bb']);
    expect(existsSync(path.join(dir, 'evals', 'a', 'attempt-1.stdout.log'))).toBe(true);
  });

  it('records failing, timed-out and garbage evaluations with their reason, retries them, and finishes the others', async () => {
    const dir = fresh();
    const cmd =
      `case {name} in ` +
      `fail) echo boom >&2; exit 3;; ` +
      `slow) sleep 30 & echo $! > {dir}/child.pid; wait;; ` +
      `garbage) echo 'not json' > {out};; ` +
      `missing) echo '{"scores":{"other":1}}' > {out};; ` +
      `*) echo '{"scores":{"t":0.5}}' > {out};; esac`;
    const cands = ['fail', 'slow', 'garbage', 'missing', 'good'].map((x) => existing(x));
    const t0 = performance.now();
    const r = await runEvaluations({ dir, identity: 'x', candidates: cands, evaluator: commandEvaluator({ command: cmd, timeoutS: 0.5, killGraceS: 0.5 }), jobs: 3, retries: 1 });
    expect((performance.now() - t0) / 1000).toBeLessThan(20);
    const o = (id: string) => r.outcomes.get(`id:${id}`)!;
    expect(o('good')).toMatchObject({ status: 'ok', scores: { t: 0.5 }, attempts: 1 });
    expect(o('fail')).toMatchObject({ status: 'failed', attempts: 2 });
    expect(o('fail').reason).toBe('exit code 3: boom');
    expect(o('slow').reason).toMatch(/^timeout after 0\.\d+s$/);
    expect(o('garbage').reason).toMatch(/^garbage: .*not valid JSON/);
    expect(o('missing').reason).toMatch(/^garbage: no score for task\(s\) t \(got other\)/);
    // the whole process group went, not just the shell: the backgrounded sleep is dead
    const pid = Number(readFileSync(path.join(dir, 'evals', 'slow', 'child.pid'), 'utf8'));
    await new Promise((res) => setTimeout(res, 200));
    expect(alive(pid)).toBe(false);
    // each attempt is in the journal: 2 per failing candidate, 1 for the good one
    const j = parseJournal(readFileSync(r.journal, 'utf8'), r.journal);
    expect(j.records.length).toBe(4 * 2 + 1);
    expect(existsSync(path.join(dir, 'evals', 'fail', 'attempt-2.stderr.log'))).toBe(true);
  });

  it('a re-run does only the missing work, counts earlier attempts, and cuts a torn last line', async () => {
    const dir = fresh();
    const calls: string[] = [];
    const evaluator = async (ctx: EvalContext) => {
      calls.push(ctx.candidate.name);
      if (ctx.candidate.name === 'flaky' && ctx.attempt === 1) throw new Error('first try fails');
      return { scores: { t: ctx.candidate.name.length } };
    };
    const cands = ['a', 'flaky', 'c'].map((x) => existing(x));
    const first = await runEvaluations({ dir, identity: 'same', candidates: cands.slice(0, 2), evaluator, retries: 0 });
    expect(first.outcomes.get('id:flaky')).toMatchObject({ status: 'failed', attempts: 1, reason: 'evaluator error: first try fails' });
    appendFileSync(first.journal, '{"kind":"attempt","id":"id:c","att'); // died mid-write
    calls.length = 0;
    const second = await runEvaluations({ dir, identity: 'same', candidates: cands, evaluator, retries: 1 });
    expect(calls.sort()).toEqual(['c', 'flaky']);
    expect(second.outcomes.get('id:a')).toMatchObject({ status: 'ok', resumed: true });
    expect(second.outcomes.get('id:flaky')).toMatchObject({ status: 'ok', attempts: 2, scores: { t: 5 } });
    const text = readFileSync(second.journal, 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    expect(parseJournal(text, 'j').records.map((x) => `${x.id}#${x.attempt}:${x.status}`).sort()).toEqual(['id:a#1:ok', 'id:c#1:ok', 'id:flaky#1:failed', 'id:flaky#2:ok']);
    await expect(runEvaluations({ dir, identity: 'other', candidates: cands, evaluator })).rejects.toThrow(/different inputs/);
  });

  it('keeps at most jobs + 1 materialised models and deletes each after scoring', async () => {
    const dir = fresh();
    const jobs = 2;
    let maxSeen = 0;
    const scratch = path.join(dir, 'scratch');
    const cands: Candidate[] = Array.from({ length: 8 }, (_, i) => ({
      id: `m${i}`,
      name: `m${i}`,
      tasks: ['t'],
      materialise: async (out: string) => {
        mkdirSync(out, { recursive: true });
        writeFileSync(path.join(out, 'model.bin'), 'x');
        maxSeen = Math.max(maxSeen, readdirSync(scratch).length);
        return out;
      },
    }));
    const evaluator = async (ctx: EvalContext) => {
      maxSeen = Math.max(maxSeen, readdirSync(scratch).length);
      await new Promise((res) => setTimeout(res, 30));
      expect(existsSync(path.join(ctx.model, 'model.bin'))).toBe(true);
      return { scores: { t: 1 } };
    };
    const r = await runEvaluations({ dir, identity: 'd', candidates: cands, evaluator, jobs });
    expect([...r.outcomes.values()].every((o) => o.status === 'ok')).toBe(true);
    expect(maxSeen).toBeGreaterThan(1); // the bound is reached, so the check below means something
    expect(maxSeen).toBeLessThanOrEqual(jobs + 1);
    expect(r.timing.peakMaterialised).toBeLessThanOrEqual(jobs + 1);
    expect(existsSync(scratch)).toBe(false);
  });

  it('on abort starts nothing new, kills what runs, and records nothing for it', async () => {
    const dir = fresh();
    const ac = new AbortController();
    const cands = ['a', 'b', 'c', 'd'].map((x) => existing(x));
    const cmd = `sleep 30`;
    setTimeout(() => ac.abort(), 300);
    const t0 = performance.now();
    const r = await runEvaluations({ dir, identity: 'i', candidates: cands, evaluator: commandEvaluator({ command: `${cmd} # {model}`, killGraceS: 0.5 }), jobs: 2, signal: ac.signal });
    expect((performance.now() - t0) / 1000).toBeLessThan(10);
    expect(r.interrupted).toBe(true);
    expect([...r.outcomes.values()].map((o) => o.status)).toEqual(['pending', 'pending', 'pending', 'pending']);
    expect(parseJournal(readFileSync(r.journal, 'utf8'), 'j').records).toEqual([]);
  });
});
