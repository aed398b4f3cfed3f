import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadStudy } from '../../src/predict/load.js';
import { runMergeJobs, type EvalSpec } from '../../src/study/evaluate.js';
import { normalizedAccuracy } from '../../src/study/outcome.js';
import { readZooManifest } from '../../src/study/zoo.js';
import { parseJournal } from '../../src/eval/journal.js';
import type { StudyDataset } from '../../src/types.js';
import { ROOT, runCli } from '../helpers/cli.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'mergelens-sweep-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const ZOO = path.join(ROOT, 'fixtures/study');
const expert = (t: string) => path.join(ZOO, 'experts', `${t}.safetensors`);
const BASE = path.join(ZOO, 'base.safetensors');
const FAKE = `node ${path.join(ROOT, 'test/sweep/fake-eval.mjs')} {model} {out} {tasks}`;
/** Running (not gone, not a zombie nobody reaped: containers often have no init reaping orphans). */
function alive(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}
const readJson = <T>(f: string) => JSON.parse(readFileSync(f, 'utf8')) as T;
/** The dataset without its timestamp, rows in a canonical order. */
const canonical = (ds: StudyDataset) => ({ ...ds, createdAt: '', rows: [...ds.rows].sort((u, v) => `${u.method}${u.a}${u.b}`.localeCompare(`${v.method}${v.a}${v.b}`)) });

describe('mergelens sweep through `mergelens eval-mnist` (a real external process)', () => {
  it('reproduces the built-in study’s outcomes for the same pairs and methods', async () => {
    const tasks = ['digits', 'rot90', 'parity'];
    const methods = ['task_arithmetic', 'ties'];
    const out = path.join(tmp, 'mnist');
    const evalCmd = `${process.execPath} --import tsx ${path.join(ROOT, 'src/cli/main.ts')} eval-mnist {model} --tasks {tasks} --out {out}`;
    const r = runCli(['sweep', BASE, ...tasks.map(expert), '--eval', evalCmd, '-o', out, '--methods', methods.join(','), '--pairs', 'digits+rot90,rot90+parity', '--jobs', '2', '--no-progress']);
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.status).toBe(0);

    // The built-in study's own path, in process: merge in memory, evaluate with the expert heads.
    const manifest = await readZooManifest(ZOO);
    const spec: EvalSpec = {
      zooDir: ZOO,
      base: manifest.base,
      tasks: tasks.map((id) => manifest.tasks.find((t) => t.id === id)!).map((e) => ({ id: e.id, expert: e.expert, head: e.head })),
      dataSeed: manifest.config.seed,
      split: manifest.config.split,
      layers: manifest.config.encoderDims.length - 1,
    };
    const jobs = [[0, 1], [1, 2]].flatMap(([i, j]) => methods.map((method) => ({ i, j, method, seed: 0 })));
    const reference = await runMergeJobs(spec, jobs, 1);
    const expertAcc = Object.fromEntries(manifest.tasks.map((t) => [t.id, t.expertAccuracy]));

    const ds = await loadStudy(path.join(out, 'study.json')); // what `mergelens fit` reads
    expect(ds.rows).toHaveLength(reference.length);
    for (const ref of reference) {
      const [a, b] = [tasks[ref.i], tasks[ref.j]];
      const row = ds.rows.find((x) => x.a === a && x.b === b && x.method === ref.method)!;
      expect(row.extra![`score_${a}`]).toBe(ref.accA);
      expect(row.extra![`score_${b}`]).toBe(ref.accB);
      expect(row.outcome).toBe(normalizedAccuracy([ref.accA, ref.accB], [expertAcc[a], expertAcc[b]]).mean);
      expect(row.extra!.evaluated).toBe(1);
    }
    const summary = readJson<{ scores: { experts: Record<string, Record<string, number>> }; timing: { peakMaterialised: number } }>(path.join(out, 'sweep.json'));
    for (const t of tasks) expect(summary.scores.experts[t][t]).toBe(expertAcc[t]);
    expect(summary.timing.peakMaterialised).toBeLessThanOrEqual(3);
    expect(existsSync(path.join(out, 'scratch'))).toBe(false); // merged checkpoints deleted
  }, 300_000);
});

describe('mergelens sweep with a fast external command', () => {
  const four = ['digits', 'rot90', 'invert', 'parity'].map(expert);

  it('with --budget evaluates that many merges, covers every expert, fits and predicts the rest', () => {
    const out = path.join(tmp, 'budget');
    const five = [...four, expert('mod3')];
    const r = runCli(['sweep', BASE, ...five, '--eval', FAKE, '-o', out, '--methods', 'task_arithmetic,ties', '--budget', '14', '--no-progress']);
    expect(r.status).toBe(0);
    const ds = readJson<StudyDataset & { predicted: { a: string; b: string; method: string; predicted: number; lo: number; hi: number }[] }>(path.join(out, 'study.json'));
    expect(ds.rows).toHaveLength(14);
    expect(ds.predicted).toHaveLength(20 - 14);
    expect(new Set(ds.rows.flatMap((x) => [x.a, x.b]))).toEqual(new Set(['digits', 'rot90', 'invert', 'parity', 'mod3']));
    for (const m of ['task_arithmetic', 'ties']) expect(ds.rows.filter((x) => x.method === m)).toHaveLength(7);
    for (const p of ds.predicted) {
      expect(Number.isFinite(p.predicted)).toBe(true);
      expect(p.lo).toBeLessThanOrEqual(p.predicted);
    }
    const preds = readJson<{ predictions: { evaluated: boolean; measured?: number }[] }>(path.join(out, 'predictions.json')).predictions;
    expect(preds.filter((p) => p.evaluated)).toHaveLength(14);
    expect(existsSync(path.join(out, 'predictor.json'))).toBe(true);
    // the predictor plugs into `screen --predictor`
    const s = runCli(['screen', BASE, ...five, '--predictor', path.join(out, 'predictor.json'), '--methods', 'ties', '--top', '3']);
    expect(s.status).toBe(0);
    // … and the report shows which merges were measured and which only predicted
    const html = path.join(tmp, 'budget.html');
    const f = (n: string) => path.join(out, n);
    const rep = runCli(['report', f('metrics.json'), '--predictor', f('predictor.json'), '--study', f('study.json'), '--predictions', f('predictions.json'), '-o', html]);
    expect(rep.status).toBe(0);
    const page = readFileSync(html, 'utf8');
    expect(page).toContain('Sweep: 14 of 20 merges were evaluated (column Measured); the other 6 are predicted only.');
  }, 180_000);

  it('after kill -9 mid-sweep, a re-run does only the missing work and ends with the same dataset', async () => {
    const args = (out: string) => ['--import', 'tsx', path.join(ROOT, 'src/cli/main.ts'), 'sweep', BASE, ...four.slice(0, 3), '--eval', FAKE, '-o', out, '--methods', 'task_arithmetic,ties', '--no-fit', '--no-progress'];
    const clean = path.join(tmp, 'clean');
    expect(runCli(args(clean).slice(3)).status).toBe(0);

    const killed = path.join(tmp, 'killed');
    const child = spawn(process.execPath, args(killed), { cwd: ROOT, stdio: 'ignore', env: { ...process.env, FAKE_EVAL_SLEEP_MS: '400' } });
    const journal = path.join(killed, 'journal.jsonl');
    const records = () => (existsSync(journal) ? parseJournal(readFileSync(journal, 'utf8'), journal).records.length : 0);
    const t0 = Date.now();
    while (records() < 5 && Date.now() - t0 < 120_000) await new Promise((res) => setTimeout(res, 100));
    child.kill('SIGKILL');
    await new Promise((res) => child.once('exit', res));
    const before = parseJournal(readFileSync(journal, 'utf8'), journal).records;
    expect(before.length).toBeGreaterThanOrEqual(5);
    expect(before.length).toBeLessThan(4 + 6); // really mid-sweep
    expect(existsSync(path.join(killed, 'study.json'))).toBe(false);

    const again = runCli(args(killed).slice(3));
    expect(again.status).toBe(0);
    const after = parseJournal(readFileSync(journal, 'utf8'), journal).records;
    // nothing done twice: each candidate has exactly one successful attempt
    const ok = after.filter((x) => x.status === 'ok').map((x) => x.id);
    expect(new Set(ok).size).toBe(ok.length);
    expect(ok).toHaveLength(4 + 6);
    expect(after.slice(0, before.length)).toEqual(before);
    expect(canonical(await loadStudy(path.join(killed, 'study.json')))).toEqual(canonical(await loadStudy(path.join(clean, 'study.json'))));
  }, 240_000);

  it('records failing, timed-out and garbage evaluations with their reason and finishes the rest', () => {
    const out = path.join(tmp, 'faults');
    const cmd =
      `case {name} in ` +
      `ties__digits+rot90) echo 'CUDA out of memory' >&2; exit 1;; ` +
      `ties__digits+invert) sleep 60;; ` +
      `ties__rot90+invert) echo '{"scores": "oops"}' > {out};; ` +
      `*) ${FAKE};; esac`;
    const r = runCli(['sweep', BASE, ...four.slice(0, 3), '--eval', cmd, '-o', out, '--methods', 'task_arithmetic,ties', '--timeout', '2', '--retries', '1', '--no-fit', '--no-progress']);
    expect(r.status).toBe(1); // some evaluations failed …
    expect(r.stderr).toMatch(/3 evaluation\(s\) failed/);
    const summary = readJson<{ failures: { id: string; reason: string; attempts: number }[]; merges: { method: string; status: string }[] }>(path.join(out, 'sweep.json'));
    const reason = (id: string) => summary.failures.find((f) => f.id === id);
    expect(reason('merge:ties:digits+rot90')).toEqual({ id: 'merge:ties:digits+rot90', reason: 'exit code 1: CUDA out of memory', attempts: 2 });
    expect(reason('merge:ties:digits+invert')!.reason).toMatch(/^timeout after 2\.\ds$/);
    expect(reason('merge:ties:rot90+invert')!.reason).toMatch(/^garbage: .*scores/);
    // … and every other merge was evaluated
    expect(summary.merges.filter((m) => m.status === 'evaluated')).toHaveLength(3);
    expect(readJson<StudyDataset>(path.join(out, 'study.json')).rows.map((x) => x.method)).toEqual(['task_arithmetic', 'task_arithmetic', 'task_arithmetic']);
    expect(readFileSync(path.join(out, 'evals', 'ties__digits+rot90', 'attempt-2.stderr.log'), 'utf8')).toBe('CUDA out of memory\n');
  }, 180_000);

  it('on Ctrl-C kills the running evaluations, keeps the journal whole and exits 130; a re-run finishes', async () => {
    const out = path.join(tmp, 'ctrl-c');
    const cmd = `echo $$ > {dir}/pid; exec ${FAKE}`;
    const args = ['--import', 'tsx', path.join(ROOT, 'src/cli/main.ts'), 'sweep', BASE, ...four.slice(0, 2), '--eval', cmd, '-o', out, '--methods', 'ties', '--jobs', '2', '--no-fit', '--no-progress'];
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, FAKE_EVAL_SLEEP_MS: '60000' } });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const pidFile = path.join(out, 'evals', 'base', 'pid');
    // Under a loaded 2-core CI the sweep can take over a minute to reach its first evaluation (it
    // compiles the CLI through tsx and computes the metrics first): wait for it, and say so if it never starts.
    const t0 = Date.now();
    while (!existsSync(pidFile) && Date.now() - t0 < 150_000) await new Promise((res) => setTimeout(res, 100));
    expect(existsSync(pidFile), `no evaluation started within 150 s; sweep stderr:\n${stderr}`).toBe(true);
    await new Promise((res) => setTimeout(res, 300));
    child.kill('SIGINT');
    const code = await new Promise<number | null>((res) => child.once('exit', res));
    expect(stderr).toMatch(/SIGINT — stopping the running evaluations/);
    expect(code).toBe(130);
    const evalPid = Number(readFileSync(pidFile, 'utf8'));
    expect(alive(evalPid)).toBe(false);
    const journal = path.join(out, 'journal.jsonl');
    expect(parseJournal(readFileSync(journal, 'utf8'), journal).records).toEqual([]); // nothing finished, nothing half-recorded
    expect(existsSync(path.join(out, 'study.json'))).toBe(false);
    const again = runCli(args.slice(3));
    expect(again.status).toBe(0);
    expect(readJson<StudyDataset>(path.join(out, 'study.json')).rows).toHaveLength(1);
  }, 360_000);

  it('scores a LoRA expert as the full model it makes, in HF layout like every merge', () => {
    const T = path.join(ROOT, 'fixtures/tiny');
    const out = path.join(tmp, 'lora');
    // The command insists on a full HF folder: config.json next to the weights.
    const cmd = `test -f {model}/config.json && test ! -f {model}/adapter_config.json && ${FAKE}`;
    const r = runCli(['sweep', path.join(T, 'base'), path.join(T, 'expert-a-sharded'), path.join(T, 'lora-expert'), '--eval', cmd, '-o', out, '--methods', 'ties', '--no-progress']);
    expect(r.stderr).not.toMatch(/failed/);
    expect(r.status).toBe(0);
    const summary = readJson<{ scores: { experts: Record<string, Record<string, number> | null> }; merges: { status: string }[] }>(path.join(out, 'sweep.json'));
    expect(Object.values(summary.scores.experts).every((x) => x !== null)).toBe(true);
    expect(summary.merges.map((m) => m.status)).toEqual(['evaluated']);
  }, 120_000);

  it('refuses a non-empty folder that is not a sweep of the same inputs', () => {
    const out = path.join(tmp, 'occupied');
    mkdirSync(out);
    writeFileSync(path.join(out, 'notes.txt'), 'mine');
    const r = runCli(['sweep', BASE, ...four.slice(0, 2), '--eval', FAKE, '-o', out, '--no-progress']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/not empty and holds no sweep journal/);
    expect(readFileSync(path.join(out, 'notes.txt'), 'utf8')).toBe('mine');
  });
});
