/**
 * The real CLI on the built-in zoo: a search killed with SIGKILL mid-way and re-run ends exactly
 * where an uninterrupted run with the same seed ends; its recipe.yml, merged again through
 * `mergelens merge --config`, gives a bit-identical checkpoint.
 */
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openCheckpoint } from '../../src/checkpoint/open.js';
import { ROOT, runCli } from '../helpers/cli.js';

const Z = path.join(ROOT, 'fixtures/study');
const args = (out: string) => ['search', path.join(Z, 'base.safetensors'), path.join(Z, 'experts/rot90.safetensors'), path.join(Z, 'experts/invert.safetensors'), '--study', '--method', 'ties', '--param', 'density', '--budget', '8', '--popsize', '4', '--seed', '3', '--bounds', '0,1.5', '--objective', 'min', '--no-progress', '-o', out];
const journalLines = (dir: string) => (existsSync(path.join(dir, 'journal.jsonl')) ? readFileSync(path.join(dir, 'journal.jsonl'), 'utf8').trim().split('\n').length : 0);

async function tensors(file: string): Promise<Map<string, Buffer>> {
  const ck = await openCheckpoint(file);
  try {
    const m = new Map<string, Buffer>();
    for (const n of ck.tensorNames()) m.set(n, Buffer.from((await ck.read(n)).buffer));
    return m;
  } finally {
    await ck.close();
  }
}

describe('mergelens search: kill -9 and resume', () => {
  it('a killed and re-run search gives the uninterrupted result; recipe.yml round-trips bit-identically', async () => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'mergelens-search-cli-'));
    const whole = path.join(tmp, 'whole');
    const r1 = runCli(args(whole));
    expect(r1.status, r1.stderr).toBe(0);
    const ref = JSON.parse(readFileSync(path.join(whole, 'search.json'), 'utf8'));
    expect(ref.evaluations).toBe(9);

    // Kill with SIGKILL once at least 4 candidates are journalled (header + 4 lines).
    const killed = path.join(tmp, 'killed');
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/main.ts'), ...args(killed)], { cwd: ROOT, stdio: 'ignore' });
    const exited = new Promise<NodeJS.Signals | null>((res) => child.on('exit', (_c, sig) => res(sig)));
    while (journalLines(killed) < 5) {
      if (child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    const before = journalLines(killed) - 1;
    expect(before).toBeGreaterThanOrEqual(4);
    expect(before).toBeLessThan(9);
    expect(existsSync(path.join(killed, 'search.json'))).toBe(false);

    const r2 = runCli(args(killed));
    expect(r2.status, r2.stderr).toBe(0);
    const res = JSON.parse(readFileSync(path.join(killed, 'search.json'), 'utf8'));
    // Same candidates (weights, density, per-task scores), same best, same front.
    const strip = (c: Record<string, unknown>) => ({ id: c.id, weights: c.weights, params: c.params, scores: c.scores, objective: c.objective });
    expect(res.candidates.map(strip)).toEqual(ref.candidates.map(strip));
    expect(res.best.id).toBe(ref.best.id);
    expect(res.pareto).toEqual(ref.pareto);
    // The re-run evaluated only what the journal lacked: every candidate exactly once overall.
    const ids = readFileSync(path.join(killed, 'journal.jsonl'), 'utf8').trim().split('\n').slice(1).map((l) => JSON.parse(l).id);
    expect(ids.length).toBe(9);
    expect(new Set(ids).size).toBe(9);
    // min objective = worst normalised task of the best candidate.
    expect(res.best.objective).toBe(Math.min(...Object.values(res.best.normalized as Record<string, number>)));
    expect(readFileSync(path.join(killed, 'recipe.yml'), 'utf8')).toBe(readFileSync(path.join(whole, 'recipe.yml'), 'utf8'));

    // recipe.yml → mergelens merge --config → the same tensors as best/.
    const again = path.join(tmp, 'again');
    const r3 = runCli(['merge', '--config', path.join(killed, 'recipe.yml'), '-o', again]);
    expect(r3.status, r3.stderr).toBe(0);
    const a = await tensors(path.join(killed, 'best'));
    const b = await tensors(again);
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
    for (const [n, buf] of a) expect(buf.equals(b.get(n)!), n).toBe(true);
    // The search actually moved density (a searched parameter) and stayed in its box.
    expect(res.best.params.density).toBeGreaterThanOrEqual(0.05);
    expect(res.best.params.density).toBeLessThanOrEqual(1);
  }, 600_000);
});
