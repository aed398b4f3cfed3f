/**
 * A search folder is its own output kind ('search'): recognised by its search.json (or, killed
 * before that, by its journal's identity), so `--force` replaces a previous search but refuses a
 * sweep's folder — which holds the same journal.jsonl — and `sweep --force` refuses a search's.
 */
import { describe, expect, it } from 'vitest';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runSearch } from '../../src/search/run.js';
import { runSweep } from '../../src/sweep/run.js';
import type { Evaluator } from '../../src/eval/runner.js';
import { isOutputOfKind } from '../../src/util/output-policy.js';
import { ROOT, runCli } from '../helpers/cli.js';

const Z = path.join(ROOT, 'fixtures/study');
const base = path.join(Z, 'base.safetensors');
const experts = ['rot90', 'invert'].map((t) => path.join(Z, 'experts', `${t}.safetensors`));
const evaluator: Evaluator = async (ctx) => ({ scores: Object.fromEntries(ctx.candidate.tasks.map((t) => [t, 0.5])) });
const search = (outDir: string, seed: number, force = false) => runSearch({ base, experts, method: 'task_arithmetic', evaluator, outDir, budget: 4, popsize: 4, seed, writeBest: false, force });
const sweep = (outDir: string, seed: number, force = false) => runSweep({ base, experts, evaluator, outDir, methods: ['task_arithmetic'], seed, fit: false, force });
const journalSeed = (dir: string) => JSON.parse(readFileSync(path.join(dir, 'journal.jsonl'), 'utf8').split('\n')[0]).identity.seed;

describe("output kind 'search'", () => {
  it('tells a search folder from a sweep folder; --force replaces only its own kind', async () => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'mergelens-search-kind-'));
    const s = path.join(tmp, 'search');
    const w = path.join(tmp, 'sweep');
    await search(s, 1);
    await sweep(w, 1);
    expect(await isOutputOfKind('search', s)).toBe(true);
    expect(await isOutputOfKind('sweep', s)).toBe(false);
    expect(await isOutputOfKind('sweep', w)).toBe(true);
    expect(await isOutputOfKind('search', w)).toBe(false);
    // Killed before search.json: the journal's identity still says "search".
    const killed = path.join(tmp, 'killed');
    cpSync(s, killed, { recursive: true });
    rmSync(path.join(killed, 'search.json'));
    expect(await isOutputOfKind('search', killed)).toBe(true);
    expect(await isOutputOfKind('sweep', killed)).toBe(false);

    // --force over a previous search (other seed): replaced.
    await search(s, 2, true);
    expect(journalSeed(s)).toBe(2);
    // --force over a sweep's folder: refused, the sweep untouched.
    await expect(search(w, 2, true)).rejects.toMatchObject({ code: 'OUTPUT_NOT_OURS' });
    expect(journalSeed(w)).toBe(1);
    expect(existsSync(path.join(w, 'sweep.json'))).toBe(true);
    // And vice versa: sweep --force refuses the search's folder, replaces a previous sweep.
    await expect(sweep(s, 3, true)).rejects.toMatchObject({ code: 'OUTPUT_NOT_OURS' });
    expect(journalSeed(s)).toBe(2);
    expect(existsSync(path.join(s, 'search.json'))).toBe(true);
    await sweep(w, 3, true);
    expect(journalSeed(w)).toBe(3);

    // The real CLI: exit 1 with the reason, nothing removed.
    const r = runCli(['search', base, ...experts, '--study', '--budget', '4', '--popsize', '4', '--seed', '9', '--force', '--no-progress', '-o', w]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/is not a search folder.*--force replaces only a previous search/s);
    expect(journalSeed(w)).toBe(3);
  }, 120_000);
});
